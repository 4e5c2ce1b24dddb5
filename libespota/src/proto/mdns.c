/*
 * The mDNS / DNS-SD querier, sans-I/O (see mdns.h). DNS wire format is
 * parsed and written by ldns (docs/discovery.md says why ldns and not
 * c-ares); this file only walks the records and keeps bounded state.
 */
#include "proto/mdns.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "espota/errors.h"
#include "espota/flashfit.h"

/* Query schedule (ms after the start): RFC 6762 5.2 spaces repeated
 * queries by at least a second and doubles the interval; the early extra
 * one at 250 ms covers a lost first datagram without waiting a second. */
static const unsigned int sched_ms[] = { 0, 250, 1000, 2000, 4000, 8000, 16000, 32000 };
#define NSCHED (sizeof(sched_ms) / sizeof(sched_ms[0]))
#define FOLLOWUP_DELAY_MS 20   /* let the rest of a burst arrive before asking */
#define FOLLOWUPS_MAX 3        /* per device */

#define AF4 2   /* AF_INET on Linux; the engine includes no socket header */
#define AF6 10  /* AF_INET6 */

/* ---- names ------------------------------------------------------------- */

/* Text "a.b.local" (no escapes, trailing dot optional) to lower-case wire
 * form. Returns the length, or 0 if the name is not valid. */
static size_t name_to_wire(unsigned char *out, size_t cap, const char *s)
{
	size_t n = 0;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > 63 || n + 1 + l + 1 > cap || n + 1 + l + 1 > 255)
			return 0;
		out[n++] = (unsigned char)l;
		for (size_t i = 0; i < l; i++)
			out[n++] = (unsigned char)tolower((unsigned char)s[i]);
		s += l;
		if (*s == '.')
			s++;
	}
	if (n == 0 || n + 1 > cap)
		return 0;
	out[n++] = 0;
	return n;
}

/* Copy an ldns dname rdf into lower-case wire form; 0 if unusable. */
static size_t rdf_name(unsigned char *out, const ldns_rdf *rdf)
{
	size_t len;
	const unsigned char *p;

	if (rdf == NULL || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return 0;
	len = ldns_rdf_size(rdf);
	p = ldns_rdf_data(rdf);
	if (len == 0 || len > 255)
		return 0;
	/* ldns hands out uncompressed names; check the label walk anyway */
	for (size_t i = 0; i < len;) {
		size_t l = p[i];
		if (l == 0) {
			out[i] = 0;
			return i + 1 == len ? len : 0;
		}
		if (l > 63 || i + 1 + l >= len)
			return 0;
		for (size_t k = 0; k < l; k++)
			out[i + 1 + k] = (unsigned char)tolower(p[i + 1 + k]);
		out[i] = (unsigned char)l;
		i += 1 + l;
	}
	return 0;
}

static int name_eq(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Does `name` end with `suffix` after exactly one label? */
static int one_label_under(const unsigned char *name, size_t len,
	const unsigned char *suffix, size_t slen)
{
	size_t l = name[0];
	return l > 0 && 1 + l + slen == len && memcmp(name + 1 + l, suffix, slen) == 0;
}

static void printable(char *out, size_t cap, const unsigned char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	out[k] = '\0';
}

/* Wire name to "a.b.local" (no trailing dot); dots inside labels and
 * unprintable bytes become '?'. */
static void wire_to_text(char *out, size_t cap, const unsigned char *w, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len && w[i] != 0 && k + 1 < cap;) {
		size_t l = w[i];
		if (k > 0)
			out[k++] = '.';
		for (size_t j = 0; j < l && k + 1 < cap; j++) {
			unsigned char c = w[i + 1 + j];
			out[k++] = (c > 0x20 && c < 0x7f && c != '.') ? (char)c : '?';
		}
		i += 1 + l;
	}
	out[k < cap ? k : cap - 1] = '\0';
}

/* ---- engine ------------------------------------------------------------ */

int espota__mdns_init(espota__mdns *m, int mode, const char *name, int family,
	size_t max_devices, uint64_t now, unsigned int timeout_ms)
{
	memset(m, 0, sizeof(*m));
	if (name == NULL || (mode != ESPOTA__MDNS_BROWSE && mode != ESPOTA__MDNS_RESOLVE))
		return ESPOTA_EINVAL;
	m->target_len = name_to_wire(m->target, sizeof(m->target), name);
	if (m->target_len == 0)
		return ESPOTA_EINVAL;
	m->mode = mode;
	m->family = family;
	m->max_devices = max_devices ? max_devices : 1024;
	m->start = now;
	m->deadline = now + (timeout_ms ? timeout_ms : 2000);
	m->next_send = now;
	m->followup_at = UINT64_MAX;
	return ESPOTA_OK;
}

void espota__mdns_free(espota__mdns *m)
{
	for (size_t i = 0; i < m->ndevs; i++)
		free(m->devs[i]);
	free(m->devs);
	m->devs = NULL;
	m->ndevs = m->devs_cap = 0;
}

uint64_t espota__mdns_next_send(const espota__mdns *m)
{
	uint64_t t = m->next_send < m->followup_at ? m->next_send : m->followup_at;
	if (m->mode == ESPOTA__MDNS_RESOLVE && m->resolved)
		return UINT64_MAX;
	return t < m->deadline ? t : UINT64_MAX;
}

static espota__mdns_dev *find_inst(espota__mdns *m, const unsigned char *n, size_t len)
{
	for (size_t i = 0; i < m->ndevs; i++)
		if (name_eq(m->devs[i]->inst, m->devs[i]->inst_len, n, len))
			return m->devs[i];
	return NULL;
}

static espota__mdns_dev *add_inst(espota__mdns *m, const unsigned char *n, size_t len)
{
	espota__mdns_dev *d = find_inst(m, n, len);
	if (d != NULL || m->ndevs >= m->max_devices)
		return d;
	if (m->ndevs == m->devs_cap) {
		size_t cap = m->devs_cap ? m->devs_cap * 2 : 16;
		espota__mdns_dev **nd = realloc(m->devs, cap * sizeof(espota__mdns_dev *));
		if (nd == NULL)
			return NULL;
		m->devs = nd;
		m->devs_cap = cap;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	memcpy(d->inst, n, len);
	d->inst_len = len;
	printable(d->inst_str, sizeof(d->inst_str), n + 1, n[0]);
	m->devs[m->ndevs++] = d;
	return d;
}

static uint16_t rdf_u16(const ldns_rdf *r)
{
	if (r == NULL || ldns_rdf_size(r) != 2)
		return 0;
	return (uint16_t)(ldns_rdf_data(r)[0] << 8 | ldns_rdf_data(r)[1]);
}

/* TXT rdata (one ldns STR rdf per character-string) into items. */
static void set_txt(espota__mdns_dev *d, const ldns_rr *rr)
{
	size_t used = 0, n = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr) && n < ESPOTA__MDNS_TXT_ITEMS; i++) {
		const ldns_rdf *r = ldns_rr_rdf(rr, i);
		const unsigned char *p, *eq;
		size_t len, klen, vlen;

		if (r == NULL || ldns_rdf_get_type(r) != LDNS_RDF_TYPE_STR || ldns_rdf_size(r) < 1)
			continue;
		p = ldns_rdf_data(r);
		len = p[0];
		if (len + 1 > ldns_rdf_size(r))
			continue;
		p++;
		eq = memchr(p, '=', len);
		klen = eq ? (size_t)(eq - p) : len;
		vlen = eq ? len - klen - 1 : 0;
		/* RFC 6763 6.4: an item without a key is ignored; the first of
		 * a repeated key wins (board/auth take the first below) */
		if (klen == 0 || used + klen + vlen + 2 > sizeof(d->txt_str))
			continue;
		d->txt[n].key = d->txt_str + used;
		printable(d->txt_str + used, klen + 1, p, klen);
		used += klen + 1;
		d->txt[n].value = d->txt_str + used;
		printable(d->txt_str + used, vlen + 1, eq ? eq + 1 : p, vlen);
		used += vlen + 1;
		d->txt[n].value_len = vlen;
		d->txt[n].has_value = eq != NULL;
		n++;
	}
	d->ntxt = n;
	d->have_txt = 1;
}

static void add_addr(espota__mdns_dev *d, int family, const unsigned char *bin,
	unsigned int ifindex, const char *ifname)
{
	size_t blen = family == AF4 ? 4 : 16;
	espota_discover_addr *a;

	for (size_t i = 0; i < d->naddrs; i++)
		if (d->addrs[i].family == family && memcmp(d->addr_bin[i], bin, blen) == 0)
			return;
	if (d->naddrs >= ESPOTA__MDNS_ADDRS)
		return;
	a = &d->addrs[d->naddrs];
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->ifindex = ifindex;
	if (ifname != NULL)
		snprintf(a->interface, sizeof(a->interface), "%s", ifname);
	memcpy(d->addr_bin[d->naddrs], bin, blen);
	if (family == AF4) {
		snprintf(a->address, sizeof(a->address), "%u.%u.%u.%u", bin[0], bin[1], bin[2], bin[3]);
	} else {
		/* RFC 5952 text without the socket API: longest zero run as "::" */
		size_t best = 8, bestlen = 0, k = 0;
		for (size_t i = 0; i < 8;) {
			size_t j = i;
			while (j < 8 && bin[2 * j] == 0 && bin[2 * j + 1] == 0)
				j++;
			if (j - i > bestlen && j - i > 1) {
				best = i;
				bestlen = j - i;
			}
			i = j > i ? j : i + 1;
		}
		for (size_t i = 0; i < 8; i++) {
			if (i == best) {
				k += (size_t)snprintf(a->address + k, sizeof(a->address) - k, "::");
				i += bestlen - 1;
				continue;
			}
			k += (size_t)snprintf(a->address + k, sizeof(a->address) - k, "%s%x",
				(k > 0 && a->address[k - 1] != ':') ? ":" : "",
				(unsigned)(bin[2 * i] << 8 | bin[2 * i + 1]));
		}
	}
	d->naddrs++;
}

static int family_ok(const espota__mdns *m, int family)
{
	return m->family == 0 || (m->family == 4 && family == AF4) || (m->family == 6 && family == AF6);
}

static int rr_addr(const ldns_rr *rr, int *family, const unsigned char **bin)
{
	const ldns_rdf *r = ldns_rr_rdf(rr, 0);
	if (r == NULL)
		return 0;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(r) == 4)
		*family = AF4;
	else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(r) == 16)
		*family = AF6;
	else
		return 0;
	*bin = ldns_rdf_data(r);
	return 1;
}

/* One record in one of three passes: 0 PTR, 1 SRV/TXT, 2 A/AAAA (an
 * answer may list them in any order). */
static void on_record(espota__mdns *m, const ldns_rr *rr, int pass, unsigned int ifindex,
	const char *ifname)
{
	unsigned char owner[ESPOTA__MDNS_NAME_MAX], tgt[ESPOTA__MDNS_NAME_MAX];
	size_t olen, tlen;
	ldns_rr_type t = ldns_rr_get_type(rr);
	espota__mdns_dev *d;

	/* the top bit of the class is the cache-flush flag (RFC 6762 10.2) */
	if (((unsigned)ldns_rr_get_class(rr) & 0x7fffu) != LDNS_RR_CLASS_IN)
		return;
	if ((olen = rdf_name(owner, ldns_rr_owner(rr))) == 0)
		return;
	if (m->mode == ESPOTA__MDNS_RESOLVE) {
		int fam;
		const unsigned char *bin;
		espota__mdns_dev tmp;
		if (pass != 2 || m->resolved || !rr_addr(rr, &fam, &bin) || !family_ok(m, fam) ||
		    ldns_rr_ttl(rr) == 0 || !name_eq(owner, olen, m->target, m->target_len))
			return;
		memset(&tmp, 0, sizeof(tmp));
		add_addr(&tmp, fam, bin, ifindex, ifname);
		m->result = tmp.addrs[0];
		m->resolved = 1;
		return;
	}
	if (ldns_rr_ttl(rr) == 0)
		return; /* a goodbye: the device is leaving, not arriving */
	if (pass == 0 && t == LDNS_RR_TYPE_PTR) {
		if (!name_eq(owner, olen, m->target, m->target_len))
			return;
		tlen = rdf_name(tgt, ldns_rr_rdf(rr, 0));
		if (tlen == 0 || !one_label_under(tgt, tlen, m->target, m->target_len))
			return;
		if ((d = add_inst(m, tgt, tlen)) != NULL)
			d->ptr_ttl = ldns_rr_ttl(rr);
	} else if (pass == 1 && (t == LDNS_RR_TYPE_SRV || t == LDNS_RR_TYPE_TXT)) {
		if (!one_label_under(owner, olen, m->target, m->target_len))
			return;
		if ((d = add_inst(m, owner, olen)) == NULL || d->reported)
			return;
		if (t == LDNS_RR_TYPE_TXT) {
			set_txt(d, rr);
			return;
		}
		if (ldns_rr_rd_count(rr) != 4 || (tlen = rdf_name(tgt, ldns_rr_rdf(rr, 3))) == 0)
			return;
		if (!name_eq(tgt, tlen, d->host, d->host_len))
			d->naddrs = 0; /* another host: its addresses are the ones to keep */
		memcpy(d->host, tgt, tlen);
		d->host_len = tlen;
		wire_to_text(d->host_str, sizeof(d->host_str), tgt, tlen);
		d->port = rdf_u16(ldns_rr_rdf(rr, 2));
		d->have_srv = 1;
	} else if (pass == 2) {
		int fam;
		const unsigned char *bin;
		if (!rr_addr(rr, &fam, &bin) || !family_ok(m, fam))
			return;
		for (size_t i = 0; i < m->ndevs; i++) {
			d = m->devs[i];
			if (d->have_srv && !d->reported && name_eq(owner, olen, d->host, d->host_len))
				add_addr(d, fam, bin, ifindex, ifname);
		}
	}
}

static int complete(const espota__mdns_dev *d)
{
	return d->have_srv && d->have_txt && d->naddrs > 0;
}

int espota__mdns_on_packet(espota__mdns *m, const unsigned char *data, size_t len,
	unsigned int ifindex, const char *ifname, uint64_t now)
{
	ldns_pkt *pkt = NULL;
	ldns_rr_list *secs[3];

	m->packets_in++;
	if (len < 12 || len > ESPOTA__MDNS_PKT_MAX ||
	    ldns_wire2pkt(&pkt, data, len) != LDNS_STATUS_OK || pkt == NULL) {
		m->packets_bad++;
		return 0;
	}
	/* a response (QR), standard query opcode; RFC 6762 18.3 says to
	 * ignore responses with a non-zero rcode */
	if (!ldns_pkt_qr(pkt) || ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY ||
	    ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
		ldns_pkt_free(pkt);
		m->packets_bad++;
		return 0;
	}
	secs[0] = ldns_pkt_answer(pkt);
	secs[1] = ldns_pkt_authority(pkt);
	secs[2] = ldns_pkt_additional(pkt);
	for (int pass = 0; pass < 3; pass++)
		for (int s = 0; s < 3; s++) {
			if (s == 1)
				continue; /* authority holds probe data, not answers */
			for (size_t i = 0; secs[s] && i < ldns_rr_list_rr_count(secs[s]); i++) {
				if (pass == 0)
					m->records_in++;
				on_record(m, ldns_rr_list_rr(secs[s], i), pass, ifindex, ifname);
			}
		}
	ldns_pkt_free(pkt);
	/* ask for what the answers left out, once the burst had time to land */
	if (m->mode == ESPOTA__MDNS_BROWSE && m->followup_at == UINT64_MAX)
		for (size_t i = 0; i < m->ndevs; i++)
			if (!m->devs[i]->reported && !complete(m->devs[i]) &&
			    m->devs[i]->followups < FOLLOWUPS_MAX) {
				m->followup_at = now + FOLLOWUP_DELAY_MS;
				break;
			}
	return 1;
}

/* ---- queries ----------------------------------------------------------- */

static ldns_rdf *wire_rdf(const unsigned char *w, size_t len)
{
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, w);
}

static int push_question(ldns_pkt *p, const unsigned char *name, size_t len, ldns_rr_type t)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = wire_rdf(name, len);
	if (rr == NULL || owner == NULL) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		return -1;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, t);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(rr, true);
	if (!ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

/* Known answer (RFC 6762 7.1): a device already heard need not answer. */
static int push_known(ldns_pkt *p, const espota__mdns *m, const espota__mdns_dev *d)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = wire_rdf(m->target, m->target_len);
	ldns_rdf *val = wire_rdf(d->inst, d->inst_len);
	if (rr == NULL || owner == NULL || val == NULL) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		ldns_rdf_deep_free(val);
		return -1;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_PTR);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, d->ptr_ttl ? d->ptr_ttl : 4500);
	ldns_rr_push_rdf(rr, val);
	if (!ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

int espota__mdns_build_query(espota__mdns *m, uint64_t now, unsigned char *buf, size_t cap)
{
	int scheduled = now >= m->next_send, followup = now >= m->followup_at;
	ldns_pkt *p;
	uint8_t *wire = NULL;
	size_t wlen = 0, est = 12;
	int rc = 0;

	if (espota__mdns_next_send(m) > now || (!scheduled && !followup))
		return 0;
	if ((p = ldns_pkt_new()) == NULL)
		return ESPOTA_ENOMEM;
	ldns_pkt_set_id(p, 0);   /* RFC 6762 18.1: zero in multicast queries */
	ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
	if (m->mode == ESPOTA__MDNS_RESOLVE) {
		if (m->family != 6)
			rc |= push_question(p, m->target, m->target_len, LDNS_RR_TYPE_A);
		if (m->family != 4)
			rc |= push_question(p, m->target, m->target_len, LDNS_RR_TYPE_AAAA);
	} else {
		if (scheduled) {
			rc |= push_question(p, m->target, m->target_len, LDNS_RR_TYPE_PTR);
			est += m->target_len + 4;
		}
		/* questions for what incomplete devices still lack */
		for (size_t i = 0; i < m->ndevs && rc == 0; i++) {
			espota__mdns_dev *d = m->devs[i];
			if (d->reported || complete(d) || d->followups >= FOLLOWUPS_MAX)
				continue;
			if (est + 2 * (d->inst_len + 4) + 2 * (d->host_len + 4) > ESPOTA__MDNS_QUERY_MAX - 64)
				break;
			d->followups++;
			if (!d->have_srv) {
				rc |= push_question(p, d->inst, d->inst_len, LDNS_RR_TYPE_SRV);
				est += d->inst_len + 4;
			}
			if (!d->have_txt) {
				rc |= push_question(p, d->inst, d->inst_len, LDNS_RR_TYPE_TXT);
				est += d->inst_len + 4;
			}
			if (d->have_srv && d->naddrs == 0) {
				if (m->family != 6)
					rc |= push_question(p, d->host, d->host_len, LDNS_RR_TYPE_A);
				if (m->family != 4)
					rc |= push_question(p, d->host, d->host_len, LDNS_RR_TYPE_AAAA);
				est += 2 * (d->host_len + 4);
			}
		}
		if (scheduled)
			for (size_t i = 0; i < m->ndevs && rc == 0; i++) {
				/* compressed: 2 (name ptr) + 10 + label + 2 (ptr) */
				if (!m->devs[i]->reported || est + 16 + m->devs[i]->inst[0] > ESPOTA__MDNS_QUERY_MAX)
					continue;
				rc |= push_known(p, m, m->devs[i]);
				est += 16u + m->devs[i]->inst[0];
			}
	}
	if (scheduled) {
		m->sends++;
		m->next_send = m->sends < NSCHED ? m->start + sched_ms[m->sends] : UINT64_MAX;
	}
	m->followup_at = UINT64_MAX;
	if (rc == 0 && ldns_pkt_qdcount(p) == 0) {
		ldns_pkt_free(p);
		return 0;
	}
	if (rc != 0 || ldns_pkt2wire(&wire, p, &wlen) != LDNS_STATUS_OK || wlen > cap) {
		ldns_pkt_free(p);
		free(wire);
		return ESPOTA_ENOMEM;
	}
	memcpy(buf, wire, wlen);
	free(wire);
	ldns_pkt_free(p);
	return (int)wlen;
}

/* ---- results ----------------------------------------------------------- */

espota_platform espota_discover_guess_platform(const char *board, uint16_t port)
{
	if (board != NULL && board[0] != '\0') {
		const espota_board *b = espota_board_find(board);
		char low[64];
		size_t i;
		if (b != NULL)
			return b->platform;
		for (i = 0; board[i] && i + 1 < sizeof(low); i++)
			low[i] = (char)tolower((unsigned char)board[i]);
		low[i] = '\0';
		/* ARDUINO_VARIANT names of arduino-esp32 start with the chip
		 * ("esp32", "esp32s3", "esp32c3"); old ESP8266 cores sent
		 * ARDUINO_BOARD such as "ESP8266_WEMOS_D1MINI" */
		if (strstr(low, "esp32") != NULL)
			return ESPOTA_PLATFORM_ESP32;
		if (strstr(low, "esp8266") != NULL || strstr(low, "esp8285") != NULL)
			return ESPOTA_PLATFORM_ESP8266;
	}
	if (port == ESPOTA_PORT_ESP8266)
		return ESPOTA_PLATFORM_ESP8266;
	if (port == ESPOTA_PORT_ESP32)
		return ESPOTA_PLATFORM_ESP32;
	return ESPOTA_PLATFORM_UNKNOWN;
}

const espota__mdns_dev *espota__mdns_take_ready(espota__mdns *m, espota_device_info *info,
	uint64_t now)
{
	for (; m->scan < m->ndevs; m->scan++) {
		espota__mdns_dev *d = m->devs[m->scan];
		if (d->reported)
			continue;
		if (!complete(d)) {
			/* a device found later than an incomplete one is not held up */
			for (size_t j = m->scan + 1; j < m->ndevs; j++) {
				espota__mdns_dev *e = m->devs[j];
				if (!e->reported && complete(e)) {
					d = e;
					goto report;
				}
			}
			return NULL;
		}
report:
		d->reported = 1;
		memset(info, 0, sizeof(*info));
		info->struct_size = sizeof(*info);
		info->instance = d->inst_str;
		info->hostname = d->host_str;
		info->port = d->port;
		info->naddrs = d->naddrs;
		info->addrs = d->addrs;
		info->ntxt = d->ntxt;
		info->txt = d->txt;
		info->auth_upload = -1;
		for (size_t i = d->ntxt; i-- > 0;) {  /* backwards: the first occurrence wins */
			if (strcmp(d->txt[i].key, "board") == 0)
				info->board = d->txt[i].value;
			else if (strcmp(d->txt[i].key, "auth_upload") == 0)
				info->auth_upload = strcmp(d->txt[i].value, "yes") == 0 ? 1 :
					strcmp(d->txt[i].value, "no") == 0 ? 0 : -1;
		}
		info->platform = espota_discover_guess_platform(info->board, info->port);
		info->elapsed_ms = now - m->start;
		return d;
	}
	return NULL;
}

int espota__mdns_resolved(const espota__mdns *m)
{
	return m->resolved;
}
