/*
 * espota-sim --mdns: an mDNS responder for every instance, answering the
 * way LEAmDNS (ESP8266) and ESP-IDF mdns (ESP32) do for ArduinoOTA's
 * _arduino._tcp service. Written from the RFCs and the upstream sources'
 * behaviour, independent of libespota's querier (docs/discovery.md):
 *
 *  - instance name = host name (ArduinoOTA adds the service with no
 *    instance name; both responders then use the host name);
 *  - TXT items in the order the responders put them on the wire. Both keep
 *    TXT items in a list that each addition prepends to, so the order is
 *    the reverse of the enableArduino() calls:
 *      ESP8266 (LEAmDNS, adds tcp_check, ssh_upload, board, auth_upload):
 *        auth_upload, board, ssh_upload, tcp_check
 *      ESP32 (ESP-IDF _mdns_allocate_txt of board, tcp_check, ssh_upload,
 *        auth_upload; auth "yes" replaces the value in place):
 *        auth_upload, ssh_upload, tcp_check, board
 *  - one reply datagram per device with PTR, then SRV, TXT and A (ESP32:
 *    also AAAA when it has an IPv6 address) as additional records;
 *  - a query from a port other than 5353 gets a unicast reply to its
 *    source with its ID and question echoed and TTLs capped at 10 s
 *    (RFC 6762 6.7); a device named in the known answers stays quiet (7.1).
 *
 * Loopback by default: the socket binds --mdns-listen (127.0.0.1) on
 * --mdns-port and joins no group. --mdns-multicast IF joins 224.0.0.251 on
 * IF (for tests inside a network namespace only).
 */
#define _GNU_SOURCE
#include "sim.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MDNS_TTL_HOST 120
#define MDNS_TTL_OTHER 4500
#define MAX_Q 16
#define MAX_KA 64

struct mdns_resp {
	int fd;
	int fd6;                      /* multicast mode: ff02::fb on the interface, or -1 */
	struct in_addr if_addr;       /* multicast mode: the interface's IPv4 address */
	struct in6_addr if_addr6;     /* ... and its IPv6 link-local address (ESP32 answers AAAA) */
	int have_if6;
	char (*host)[64];             /* per instance */
	long queries, replies;
};

static struct mdns_resp R = { .fd = -1, .fd6 = -1 };

int mdns_fds(int out[2])
{
	out[0] = R.fd;
	out[1] = R.fd6;
	return R.fd < 0 ? 0 : R.fd6 < 0 ? 1 : 2;
}

/* Multicast mode, IPv6: join ff02::fb on the interface (best effort: an
 * interface without IPv6 leaves the IPv4 responder alone). */
static void open_v6_multicast(const struct config *c, unsigned idx)
{
	struct sockaddr_in6 b;
	struct ipv6_mreq mr;
	int one = 1, hops = 255;
	if (!R.have_if6)
		return;
	R.fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (R.fd6 < 0)
		return;
	setsockopt(R.fd6, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(R.fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	memset(&b, 0, sizeof b);
	b.sin6_family = AF_INET6;
	b.sin6_port = htons((uint16_t)c->mdns_port);
	memset(&mr, 0, sizeof mr);
	inet_pton(AF_INET6, "ff02::fb", &mr.ipv6mr_multiaddr);
	mr.ipv6mr_interface = idx;
	if (bind(R.fd6, (struct sockaddr *)&b, sizeof b) < 0 ||
	    setsockopt(R.fd6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) < 0) {
		close(R.fd6);
		R.fd6 = -1;
		return;
	}
	setsockopt(R.fd6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
	setsockopt(R.fd6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
}

static void default_host(const struct sim *s, int i, char *out, size_t cap)
{
	const struct config *c = &s->cfg;
	if (c->mdns_hostname[0])
		snprintf(out, cap, s->ndev == 1 ? "%s" : "%s-%d", c->mdns_hostname, i);
	else if (IS_ESP32(c->platform)) /* "esp32-" + the station MAC */
		snprintf(out, cap, "esp32-24a16%07x", 0x0a0000 + i);
	else                            /* "esp8266-" + the chip id */
		snprintf(out, cap, "esp8266-%06x", 0x1a2b00 + i);
}

int mdns_open(struct sim *s)
{
	const struct config *c = &s->cfg;
	struct sockaddr_in a;
	int one = 1;

	if (!c->mdns)
		return 0;
	R.host = calloc((size_t)s->ndev, sizeof *R.host);
	if (!R.host)
		return -1;
	for (int i = 0; i < s->ndev; i++)
		default_host(s, i, R.host[i], sizeof R.host[i]);
	struct in6_addr a6;
	int v6 = !c->mdns_multicast[0] && inet_pton(AF_INET6, c->mdns_listen, &a6) == 1;
	R.fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (R.fd < 0)
		return -1;
	setsockopt(R.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)c->mdns_port);
	if (c->mdns_multicast[0]) {
		struct ifaddrs *ifa = NULL, *i;
		struct ip_mreqn mr;
		unsigned char ttl = 255;
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		if (getifaddrs(&ifa) == 0) {
			for (i = ifa; i; i = i->ifa_next) {
				if (!i->ifa_addr || strcmp(i->ifa_name, c->mdns_multicast) != 0)
					continue;
				if (i->ifa_addr->sa_family == AF_INET && !R.if_addr.s_addr)
					R.if_addr = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
				if (i->ifa_addr->sa_family == AF_INET6 && !R.have_if6 &&
				    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr)) {
					R.if_addr6 = ((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
					R.have_if6 = 1;
				}
			}
			freeifaddrs(ifa);
		}
		memset(&mr, 0, sizeof mr);
		mr.imr_multiaddr.s_addr = htonl(0xe00000fbu);
		mr.imr_ifindex = (int)if_nametoindex(c->mdns_multicast);
		if (mr.imr_ifindex == 0 || bind(R.fd, (struct sockaddr *)&a, sizeof a) < 0 ||
		    setsockopt(R.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
			return -1;
		setsockopt(R.fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
		setsockopt(R.fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr);
		open_v6_multicast(c, (unsigned)mr.imr_ifindex);
	} else if (v6) {
		struct sockaddr_in6 b;
		memset(&b, 0, sizeof b);
		b.sin6_family = AF_INET6;
		b.sin6_port = htons((uint16_t)c->mdns_port);
		b.sin6_addr = a6;
		setsockopt(R.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bind(R.fd, (struct sockaddr *)&b, sizeof b) < 0)
			return -1;
	} else {
		if (inet_pton(AF_INET, c->mdns_listen, &a.sin_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		if (bind(R.fd, (struct sockaddr *)&a, sizeof a) < 0)
			return -1;
	}
	struct sockaddr_storage bound;
	socklen_t len = sizeof bound;
	memset(&bound, 0, sizeof bound);
	if (getsockname(R.fd, (struct sockaddr *)&bound, &len) < 0)
		return -1;
	s->mdns_bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
		: ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

void mdns_close(void)
{
	if (R.fd >= 0)
		close(R.fd);
	if (R.fd6 >= 0)
		close(R.fd6);
	R.fd = R.fd6 = -1;
	free(R.host);
	R.host = NULL;
}

/* ---- reading ------------------------------------------------------------ */

/* Read a (possibly compressed) name at *pos into lower-case dotted text.
 * Pointers must point backwards and at most 32 are followed. */
static int read_name(const unsigned char *p, size_t n, size_t *pos, char *out, size_t cap)
{
	size_t i = *pos, k = 0;
	int jumped = 0, hops = 0;
	for (;;) {
		if (i >= n)
			return -1;
		unsigned l = p[i];
		if ((l & 0xc0) == 0xc0) {
			if (i + 1 >= n || ++hops > 32)
				return -1;
			size_t t = (size_t)(l & 0x3f) << 8 | p[i + 1];
			if (t >= i)
				return -1;
			if (!jumped)
				*pos = i + 2;
			jumped = 1;
			i = t;
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (l == 0) {
			if (!jumped)
				*pos = i + 1;
			if (k == 0 && cap > 0)
				out[0] = '\0';
			return 0;
		}
		if (i + 1 + l > n || k + l + 2 > cap)
			return -1;
		if (k)
			out[k++] = '.';
		for (unsigned j = 0; j < l; j++)
			out[k++] = (char)tolower(p[i + 1 + j]);
		out[k] = '\0';
		i += 1 + l;
	}
}

/* ---- writing ------------------------------------------------------------ */

struct wbuf {
	unsigned char b[1500];
	size_t n;
	int bad;
	size_t svc_off;      /* where "_arduino._tcp.local" was written (compression) */
	size_t host_off;     /* where "<host>.local" was written */
};

static void put8(struct wbuf *w, unsigned v)
{
	if (w->n + 1 > sizeof w->b) { w->bad = 1; return; }
	w->b[w->n++] = (unsigned char)v;
}

static void put16(struct wbuf *w, unsigned v) { put8(w, v >> 8); put8(w, v & 0xff); }
static void put32(struct wbuf *w, uint32_t v) { put16(w, v >> 16); put16(w, v & 0xffff); }

static void put_label(struct wbuf *w, const char *s, size_t l)
{
	put8(w, (unsigned)l);
	for (size_t i = 0; i < l; i++)
		put8(w, (unsigned char)s[i]);
}

static void put_ptr(struct wbuf *w, size_t off) { put16(w, 0xc000u | (unsigned)off); }

/* The service name, compressed after its first use (LEAmDNS compresses
 * one level: the same full name). */
static void put_service(struct wbuf *w)
{
	if (w->svc_off) {
		put_ptr(w, w->svc_off);
		return;
	}
	w->svc_off = w->n;
	put_label(w, "_arduino", 8);
	put_label(w, "_tcp", 4);
	put_label(w, "local", 5);
	put8(w, 0);
}

static void put_instance(struct wbuf *w, const char *host)
{
	put_label(w, host, strlen(host));
	put_service(w);
}

static void put_host(struct wbuf *w, const char *host)
{
	if (w->host_off) {
		put_ptr(w, w->host_off);
		return;
	}
	w->host_off = w->n;
	put_label(w, host, strlen(host));
	put_label(w, "local", 5);
	put8(w, 0);
}

static void rr_head(struct wbuf *w, unsigned type, int flush, uint32_t ttl)
{
	put16(w, type);
	put16(w, 1u | (flush ? 0x8000u : 0));
	put32(w, ttl);
}

/* rdlength placeholder; returns its offset */
static size_t rd_begin(struct wbuf *w) { size_t o = w->n; put16(w, 0); return o; }
static void rd_end(struct wbuf *w, size_t o)
{
	if (w->bad)
		return;
	size_t l = w->n - o - 2;
	w->b[o] = (unsigned char)(l >> 8);
	w->b[o + 1] = (unsigned char)(l & 0xff);
}

static void put_txt_item(struct wbuf *w, const char *k, const char *v)
{
	char item[256];
	int l = snprintf(item, sizeof item, "%s=%s", k, v);
	put_label(w, item, (size_t)l);
}

enum { W_PTR = 1, W_SRV = 2, W_TXT = 4, W_A = 8 };

static uint32_t ttl_of(uint32_t ttl, int legacy) { return legacy && ttl > 10 ? 10 : ttl; }

static int write_rrs(struct wbuf *w, const struct device *d, const char *host, int what, int legacy)
{
	int n = 1;
	const struct config *c = &d->sim->cfg;
	const char *auth = c->stored_pw[0] ? "yes" : "no";
	const char *board = c->mdns_board[0] ? c->mdns_board : IS_ESP32(c->platform) ? "esp32" : "generic";
	size_t o;

	if (what & W_PTR) {
		put_service(w);
		rr_head(w, 12, 0, ttl_of(MDNS_TTL_OTHER, legacy));
		o = rd_begin(w);
		put_instance(w, host);
		rd_end(w, o);
	}
	if (what & W_SRV) {
		put_instance(w, host);
		rr_head(w, 33, 1, ttl_of(MDNS_TTL_HOST, legacy));
		o = rd_begin(w);
		put16(w, 0);
		put16(w, 0);
		put16(w, (unsigned)d->port);
		put_host(w, host);
		rd_end(w, o);
	}
	if (what & W_TXT) {
		put_instance(w, host);
		rr_head(w, 16, 1, ttl_of(MDNS_TTL_OTHER, legacy));
		o = rd_begin(w);
		put_txt_item(w, "auth_upload", auth);
		if (IS_ESP32(c->platform)) {
			put_txt_item(w, "ssh_upload", "no");
			put_txt_item(w, "tcp_check", "no");
			put_txt_item(w, "board", board);
		} else {
			put_txt_item(w, "board", board);
			put_txt_item(w, "ssh_upload", "no");
			put_txt_item(w, "tcp_check", "no");
		}
		rd_end(w, o);
	}
	if (what & W_A) {
		struct in_addr ip4;
		struct in6_addr ip6;
		if (d->local.ss_family == AF_INET) {
			ip4 = ((const struct sockaddr_in *)&d->local)->sin_addr;
			if (ip4.s_addr == htonl(INADDR_ANY))
				ip4 = R.if_addr.s_addr ? R.if_addr : (struct in_addr){ htonl(INADDR_LOOPBACK) };
			put_host(w, host);
			rr_head(w, 1, 1, ttl_of(MDNS_TTL_HOST, legacy));
			o = rd_begin(w);
			put32(w, ntohl(ip4.s_addr));
			rd_end(w, o);
			if (IS_ESP32(c->platform) && R.have_if6) {  /* ESP-IDF also answers AAAA */
				put_host(w, host);
				rr_head(w, 28, 1, ttl_of(MDNS_TTL_HOST, legacy));
				o = rd_begin(w);
				for (int i = 0; i < 16; i++)
					put8(w, R.if_addr6.s6_addr[i]);
				rd_end(w, o);
				n++;
			}
		} else {
			/* an IPv6 listener is reachable only by AAAA */
			ip6 = ((const struct sockaddr_in6 *)&d->local)->sin6_addr;
			put_host(w, host);
			rr_head(w, 28, 1, ttl_of(MDNS_TTL_HOST, legacy));
			o = rd_begin(w);
			for (int i = 0; i < 16; i++)
				put8(w, ip6.s6_addr[i]);
			rd_end(w, o);
		}
	}
	return n;
}

static void send_reply(struct device *d, const char *host, int ans, int add, int legacy,
	const unsigned char *q, size_t qlen, unsigned id, const struct sockaddr_storage *to, socklen_t tolen)
{
	struct wbuf w;
	int nans = 0, nadd = 0;

	memset(&w, 0, sizeof w);
	put16(&w, legacy ? id : 0);
	put16(&w, 0x8400);  /* QR, AA */
	put16(&w, legacy && q ? 1 : 0);
	put16(&w, 0);
	put16(&w, 0);
	put16(&w, 0);
	if (legacy && q) {  /* echo the question (RFC 6762 6.7) */
		for (size_t i = 0; i < qlen; i++)
			put8(&w, q[i]);
	}
	for (int bit = 1; bit <= W_A; bit <<= 1)
		if (ans & bit) {
			nans += write_rrs(&w, d, host, bit, legacy);
		}
	for (int bit = 1; bit <= W_A; bit <<= 1)
		if ((add & bit) && !(ans & bit)) {
			nadd += write_rrs(&w, d, host, bit, legacy);
		}
	if (w.bad)
		return;
	w.b[6] = (unsigned char)(nans >> 8); w.b[7] = (unsigned char)nans;
	w.b[10] = (unsigned char)(nadd >> 8); w.b[11] = (unsigned char)nadd;
	struct sockaddr_storage dst = *to;
	if (!legacy && R.if_addr.s_addr && dst.ss_family == AF_INET) {
		/* a 5353 querier in multicast mode: to the group */
		struct sockaddr_in *g = (struct sockaddr_in *)&dst;
		g->sin_addr.s_addr = htonl(0xe00000fbu);
		g->sin_port = htons((uint16_t)d->sim->cfg.mdns_port);
	}
	int fd = (to->ss_family == AF_INET6 && R.fd6 >= 0) ? R.fd6 : R.fd;
	if (sendto(fd, w.b, w.n, 0, (struct sockaddr *)&dst, tolen) == (ssize_t)w.n)
		R.replies++;
	jlog(d, "mdns_reply", (struct jlog_field[]){JS("host", host), JI("answers", nans),
		JI("additional", nadd), JB("unicast", legacy), JEND});
}

static void on_query(struct sim *s, const unsigned char *p, size_t n, const struct sockaddr_storage *from,
	socklen_t fromlen)
{
	char qname[MAX_Q][256], ka[MAX_KA][256];
	unsigned qtype[MAX_Q];
	size_t qstart[MAX_Q], qend[MAX_Q];
	int nq = 0, nka = 0;
	size_t pos = 12;

	if (n < 12 || (p[2] & 0x80) || (p[2] & 0x78))  /* responses and other opcodes */
		return;
	unsigned id = (unsigned)p[0] << 8 | p[1];
	unsigned qd = (unsigned)p[4] << 8 | p[5], an = (unsigned)p[6] << 8 | p[7];
	uint16_t sport = ntohs(from->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)from)->sin6_port
		: ((const struct sockaddr_in *)from)->sin_port);
	int legacy = sport != 5353 || !s->cfg.mdns_multicast[0];
	for (unsigned i = 0; i < qd && nq < MAX_Q; i++) {
		qstart[nq] = pos;
		if (read_name(p, n, &pos, qname[nq], sizeof qname[nq]) || pos + 4 > n)
			return;
		qtype[nq] = (unsigned)p[pos] << 8 | p[pos + 1];
		pos += 4;
		qend[nq] = pos;
		nq++;
	}
	/* known answers: PTR records naming an instance */
	for (unsigned i = 0; i < an && nka < MAX_KA; i++) {
		char owner[256];
		if (read_name(p, n, &pos, owner, sizeof owner) || pos + 10 > n)
			break;
		unsigned type = (unsigned)p[pos] << 8 | p[pos + 1];
		size_t rdlen = (size_t)p[pos + 8] << 8 | p[pos + 9];
		size_t rd = pos + 10;
		pos = rd + rdlen;
		if (pos > n)
			break;
		size_t rp = rd;
		if (type == 12 && !read_name(p, n, &rp, ka[nka], sizeof ka[nka]))
			nka++;
	}
	R.queries++;
	for (int di = 0; di < s->ndev; di++) {
		struct device *d = &s->devs[di];
		const char *host = R.host[di];
		char inst[256], hostl[256];
		int ans = 0, add = 0, known = 0, qi = -1;
		snprintf(inst, sizeof inst, "%s._arduino._tcp.local", host);
		snprintf(hostl, sizeof hostl, "%s.local", host);
		for (char *c = inst; *c; c++) *c = (char)tolower((unsigned char)*c);
		for (char *c = hostl; *c; c++) *c = (char)tolower((unsigned char)*c);
		for (int k = 0; k < nka; k++)
			known |= !strcmp(ka[k], inst);
		for (int k = 0; k < nq; k++) {
			int any = qtype[k] == 255, got = 0;
			if (!strcmp(qname[k], "_arduino._tcp.local") && (qtype[k] == 12 || any) && !known) {
				ans |= W_PTR; add |= W_SRV | W_TXT | W_A; got = 1;
			} else if (!strcmp(qname[k], inst)) {
				if (qtype[k] == 33 || any) { ans |= W_SRV; add |= W_A; got = 1; }
				if (qtype[k] == 16 || any) { ans |= W_TXT; got = 1; }
			} else if (!strcmp(qname[k], hostl)) {
				int v6 = d->local.ss_family == AF_INET6;
				if ((qtype[k] == 1 && !v6) || (qtype[k] == 28 && v6) || any) { ans |= W_A; got = 1; }
			}
			if (got && qi < 0)
				qi = k;
		}
		if (ans)
			send_reply(d, host, ans, add, legacy, qi >= 0 ? p + qstart[qi] : NULL,
				qi >= 0 ? qend[qi] - qstart[qi] : 0, id, from, fromlen);
	}
}

void mdns_on_readable(struct sim *s, int fd)
{
	for (int budget = 0; budget < 256; budget++) {
		unsigned char buf[9000];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		memset(&from, 0, sizeof from);
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (from.ss_family == AF_INET || from.ss_family == AF_INET6)
			on_query(s, buf, (size_t)n, &from, fl);
	}
}
