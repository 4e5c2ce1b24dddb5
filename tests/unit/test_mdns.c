/*
 * The sans-I/O mDNS querier (libespota/src/proto/mdns.c): answers in any order
 * and section, compressed names, TXT edge cases, follow-up questions for
 * what an answer left out, known-answer suppression, resolve, and hostile
 * packets (compression loops, pointers out of range, truncation, long
 * label chains, floods) that must be ignored within bounds.
 */
#include <ldns/ldns.h>
#include <pthread.h>
#include <time.h>

#include "posix/session_internal.h"

#include "test.h"
#include "proto/mdns.h"

/* ---- a tiny DNS response writer (independent of ldns) ---- */
typedef struct pkt { unsigned char b[9000]; size_t n; } pkt;

static void p8(pkt *p, unsigned v) { ASSERT(p->n < sizeof(p->b)); p->b[p->n++] = (unsigned char)v; }
static void p16(pkt *p, unsigned v) { p8(p, v >> 8); p8(p, v & 0xff); }
static void p32(pkt *p, uint32_t v) { p16(p, v >> 16); p16(p, v & 0xffff); }
static void pname(pkt *p, const char *s)
{
	while (*s) {
		const char *d = strchr(s, '.');
		size_t l = d ? (size_t)(d - s) : strlen(s);
		p8(p, (unsigned)l);
		for (size_t i = 0; i < l; i++)
			p8(p, (unsigned char)s[i]);
		s += l + (d ? 1 : 0);
	}
	p8(p, 0);
}
static void phead(pkt *p, unsigned an, unsigned ar)
{
	p->n = 0;
	p16(p, 0); p16(p, 0x8400); p16(p, 0); p16(p, an); p16(p, 0); p16(p, ar);
}
static size_t rd_open(pkt *p, unsigned type, unsigned cls, uint32_t ttl)
{
	p16(p, type); p16(p, cls); p32(p, ttl);
	size_t o = p->n;
	p16(p, 0);
	return o;
}
static void rd_close(pkt *p, size_t o)
{
	size_t l = p->n - o - 2;
	p->b[o] = (unsigned char)(l >> 8);
	p->b[o + 1] = (unsigned char)l;
}

static void ptr_rr(pkt *p, const char *inst)
{
	size_t o;
	pname(p, "_arduino._tcp.local");
	o = rd_open(p, 12, 1, 4500);
	pname(p, inst);
	rd_close(p, o);
}
static void srv_rr(pkt *p, const char *inst, const char *host, unsigned port)
{
	size_t o;
	pname(p, inst);
	o = rd_open(p, 33, 0x8001, 120); /* cache-flush bit set */
	p16(p, 0); p16(p, 0); p16(p, port);
	pname(p, host);
	rd_close(p, o);
}
static void txt_rr(pkt *p, const char *inst, const char *const *items)
{
	size_t o;
	pname(p, inst);
	o = rd_open(p, 16, 0x8001, 4500);
	for (; *items; items++) {
		p8(p, (unsigned)strlen(*items));
		for (const char *c = *items; *c; c++)
			p8(p, (unsigned char)*c);
	}
	rd_close(p, o);
}
static void a_rr(pkt *p, const char *host, unsigned a, unsigned b, unsigned c, unsigned d)
{
	size_t o;
	pname(p, host);
	o = rd_open(p, 1, 0x8001, 120);
	p8(p, a); p8(p, b); p8(p, c); p8(p, d);
	rd_close(p, o);
}

static const char *const txt8266[] = { "auth_upload=yes", "board=generic", "ssh_upload=no", "tcp_check=no", NULL };

static void browse(espota__mdns *m, size_t max)
{
	ASSERT_OK(espota__mdns_init(m, ESPOTA__MDNS_BROWSE, "_arduino._tcp.local", 0, max, 0, 2000));
}

/* Questions of a query we built, via ldns. */
static size_t questions(const unsigned char *q, int n, ldns_rr_type *types, size_t cap, size_t *answers)
{
	ldns_pkt *p = NULL;
	size_t k = 0;
	ASSERT(n > 0);
	ASSERT_EQ(ldns_wire2pkt(&p, q, (size_t)n), LDNS_STATUS_OK);
	for (size_t i = 0; i < ldns_pkt_qdcount(p) && k < cap; i++)
		types[k++] = ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), i));
	*answers = ldns_pkt_ancount(p);
	ldns_pkt_free(p);
	return k;
}

static void test_full_answer_in_any_order(void)
{
	espota__mdns m;
	espota_device_info info;
	pkt p;

	browse(&m, 0);
	/* additional records first, the PTR last; the host name in capitals */
	phead(&p, 1, 3);
	p.b[7] = 1; p.b[11] = 3;
	p.n = 12;
	a_rr(&p, "ESP8266-1A2B3C.local", 192, 168, 1, 20);
	txt_rr(&p, "esp8266-1a2b3c._arduino._tcp.local", txt8266);
	srv_rr(&p, "esp8266-1a2b3c._arduino._tcp.local", "esp8266-1a2b3c.local", 8266);
	ptr_rr(&p, "esp8266-1a2b3c._arduino._tcp.local");
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 2, "eth0", 5), 1);
	ASSERT(espota__mdns_take_ready(&m, &info, 7) != NULL);
	ASSERT_STREQ(info.instance, "esp8266-1a2b3c");
	ASSERT_STREQ(info.hostname, "esp8266-1a2b3c.local");
	ASSERT_EQ(info.port, 8266);
	ASSERT_EQ(info.naddrs, 1);
	ASSERT_STREQ(info.addrs[0].address, "192.168.1.20");
	ASSERT_STREQ(info.addrs[0].interface, "eth0");
	ASSERT_EQ(info.ntxt, 4);
	ASSERT_STREQ(info.txt[0].key, "auth_upload");
	ASSERT_STREQ(info.txt[1].value, "generic");
	ASSERT_STREQ(info.board, "generic");
	ASSERT_EQ(info.auth_upload, 1);
	ASSERT_EQ(info.platform, ESPOTA_PLATFORM_ESP8266);
	ASSERT_EQ(info.elapsed_ms, 7);
	ASSERT(espota__mdns_take_ready(&m, &info, 8) == NULL); /* reported once */
	espota__mdns_free(&m);
}

static void test_compressed_names(void)
{
	espota__mdns m;
	espota_device_info info;
	pkt p;
	size_t svc, inst, o;

	browse(&m, 0);
	phead(&p, 1, 3);
	/* PTR: owner at 12, its target compressed onto the owner */
	svc = p.n;
	pname(&p, "_arduino._tcp.local");
	o = rd_open(&p, 12, 1, 4500);
	inst = p.n;
	p8(&p, 3); p8(&p, 'd'); p8(&p, 'e'); p8(&p, 'v');
	p16(&p, 0xc000 | (unsigned)svc);
	rd_close(&p, o);
	/* SRV: owner = pointer to the instance; target "dev" + pointer to "local" */
	p16(&p, 0xc000 | (unsigned)inst);
	o = rd_open(&p, 33, 0x8001, 120);
	p16(&p, 0); p16(&p, 0); p16(&p, 3232);
	p8(&p, 3); p8(&p, 'd'); p8(&p, 'e'); p8(&p, 'v');
	p16(&p, 0xc000 | (unsigned)(svc + 14)); /* "local" inside the service name */
	size_t host = o + 2 + 6;
	rd_close(&p, o);
	/* TXT with an empty string, a bare key, a key without a value, a repeated key */
	p16(&p, 0xc000 | (unsigned)inst);
	o = rd_open(&p, 16, 1, 4500);
	p8(&p, 0);
	p8(&p, 4); p8(&p, 'f'); p8(&p, 'l'); p8(&p, 'a'); p8(&p, 'g');
	p8(&p, 6); for (const char *c = "board="; *c; c++) p8(&p, (unsigned char)*c);
	p8(&p, 11); for (const char *c = "board=esp32"; *c; c++) p8(&p, (unsigned char)*c);
	p8(&p, 6); for (const char *c = "=nokey"; *c; c++) p8(&p, (unsigned char)*c);
	rd_close(&p, o);
	/* AAAA for the host: owner pointer to the SRV target */
	p16(&p, 0xc000 | (unsigned)host);
	o = rd_open(&p, 28, 0x8001, 120);
	p16(&p, 0xfe80); p16(&p, 0); p16(&p, 0); p16(&p, 0); p16(&p, 0x1); p16(&p, 0); p16(&p, 0); p16(&p, 0x2);
	rd_close(&p, o);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 1);
	ASSERT(espota__mdns_take_ready(&m, &info, 0) != NULL);
	ASSERT_STREQ(info.instance, "dev");
	ASSERT_STREQ(info.hostname, "dev.local");
	ASSERT_EQ(info.port, 3232);
	ASSERT_STREQ(info.addrs[0].address, "fe80::1:0:0:2");
	ASSERT_EQ(info.ntxt, 3);           /* "" and "=nokey" are dropped (RFC 6763 6.4) */
	ASSERT_STREQ(info.txt[0].key, "flag");
	ASSERT_EQ(info.txt[0].has_value, 0);
	ASSERT_STREQ(info.board, "");      /* the first "board" wins, empty value */
	ASSERT_EQ(info.auth_upload, -1);
	ASSERT_EQ(info.platform, ESPOTA_PLATFORM_ESP32); /* from the port */
	espota__mdns_free(&m);
}

static void test_followup_questions_and_known_answers(void)
{
	espota__mdns m;
	espota_device_info info;
	unsigned char q[ESPOTA__MDNS_QUERY_MAX];
	ldns_rr_type t[16];
	size_t an, nq;
	pkt p;
	int n;

	browse(&m, 0);
	n = espota__mdns_build_query(&m, 0, q, sizeof(q));
	nq = questions(q, n, t, 16, &an);
	ASSERT_EQ(nq, 1);
	ASSERT_EQ(t[0], LDNS_RR_TYPE_PTR);
	ASSERT_EQ(espota__mdns_build_query(&m, 1, q, sizeof(q)), 0); /* next at 250 ms */
	/* a PTR alone: the engine asks SRV and TXT 20 ms later */
	phead(&p, 1, 0);
	ptr_rr(&p, "x._arduino._tcp.local");
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 10), 1);
	ASSERT(espota__mdns_take_ready(&m, &info, 10) == NULL);
	ASSERT_EQ(espota__mdns_next_send(&m), 30);
	nq = questions(q, espota__mdns_build_query(&m, 30, q, sizeof(q)), t, 16, &an);
	ASSERT_EQ(nq, 2);
	ASSERT_EQ(t[0], LDNS_RR_TYPE_SRV);
	ASSERT_EQ(t[1], LDNS_RR_TYPE_TXT);
	/* SRV and TXT without an address: then A and AAAA for the host */
	phead(&p, 2, 0);
	srv_rr(&p, "x._arduino._tcp.local", "x.local", 8266);
	txt_rr(&p, "x._arduino._tcp.local", txt8266);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 40), 1);
	nq = questions(q, espota__mdns_build_query(&m, 60, q, sizeof(q)), t, 16, &an);
	ASSERT_EQ(nq, 2);
	ASSERT_EQ(t[0], LDNS_RR_TYPE_A);
	ASSERT_EQ(t[1], LDNS_RR_TYPE_AAAA);
	phead(&p, 1, 0);
	a_rr(&p, "x.local", 10, 0, 0, 7);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 70), 1);
	ASSERT(espota__mdns_take_ready(&m, &info, 70) != NULL);
	ASSERT_STREQ(info.addrs[0].address, "10.0.0.7");
	/* the 250 ms retransmission carries the device as a known answer */
	nq = questions(q, espota__mdns_build_query(&m, 250, q, sizeof(q)), t, 16, &an);
	ASSERT_EQ(nq, 1);
	ASSERT_EQ(an, 1);
	espota__mdns_free(&m);
}

static void test_resolve(void)
{
	espota__mdns m;
	unsigned char q[ESPOTA__MDNS_QUERY_MAX];
	ldns_rr_type t[4];
	size_t an;
	pkt p;

	ASSERT_OK(espota__mdns_init(&m, ESPOTA__MDNS_RESOLVE, "Dev.local", 4, 1, 0, 500));
	ASSERT_EQ(questions(q, espota__mdns_build_query(&m, 0, q, sizeof(q)), t, 4, &an), 1);
	ASSERT_EQ(t[0], LDNS_RR_TYPE_A);
	phead(&p, 1, 0);
	a_rr(&p, "other.local", 10, 0, 0, 1);
	espota__mdns_on_packet(&m, p.b, p.n, 0, "", 1);
	ASSERT(!espota__mdns_resolved(&m));
	phead(&p, 1, 0);
	a_rr(&p, "DEV.local", 10, 0, 0, 2);
	espota__mdns_on_packet(&m, p.b, p.n, 0, "", 1);
	ASSERT(espota__mdns_resolved(&m));
	ASSERT_STREQ(m.result.address, "10.0.0.2");
	ASSERT_EQ(espota__mdns_next_send(&m), UINT64_MAX);
	espota__mdns_free(&m);
	ASSERT_EQ(espota__mdns_init(&m, ESPOTA__MDNS_RESOLVE, "a..local", 0, 1, 0, 500), ESPOTA_EINVAL);
}

static void test_hostile_packets(void)
{
	espota__mdns m;
	espota_device_info info;
	pkt p;
	size_t o;

	browse(&m, 8);
	/* a name that points at itself */
	phead(&p, 1, 0);
	p16(&p, 0xc00c);
	o = rd_open(&p, 12, 1, 120);
	p16(&p, 0xc00c);
	rd_close(&p, o);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 0);
	/* a pointer past the end */
	phead(&p, 1, 0);
	p16(&p, 0xc3ff);
	o = rd_open(&p, 1, 1, 120);
	p32(&p, 0x7f000001);
	rd_close(&p, o);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 0);
	/* 130 one-letter labels: a name over 255 bytes */
	phead(&p, 1, 0);
	for (int i = 0; i < 130; i++) { p8(&p, 1); p8(&p, 'a'); }
	p8(&p, 0);
	o = rd_open(&p, 1, 1, 120);
	p32(&p, 0x7f000001);
	rd_close(&p, o);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 0);
	/* truncated: a good packet cut anywhere is ignored, never half-used */
	phead(&p, 1, 2);
	ptr_rr(&p, "t._arduino._tcp.local");
	srv_rr(&p, "t._arduino._tcp.local", "t.local", 1);
	txt_rr(&p, "t._arduino._tcp.local", txt8266);
	for (size_t cut = 0; cut < p.n; cut++)
		ASSERT_EQ(espota__mdns_on_packet(&m, p.b, cut, 0, "", 0), 0);
	/* a query (QR clear) is not an answer */
	p.b[2] = 0;
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 0);
	ASSERT_EQ(m.ndevs, 0);
	/* a flood of 300 instances: at most max_devices are kept */
	for (int k = 0; k < 300; k++) {
		char inst[64], host[64];
		snprintf(inst, sizeof(inst), "d%d._arduino._tcp.local", k);
		snprintf(host, sizeof(host), "d%d.local", k);
		phead(&p, 1, 3);
		ptr_rr(&p, inst);
		srv_rr(&p, inst, host, 8266);
		txt_rr(&p, inst, txt8266);
		a_rr(&p, host, 10, 0, (unsigned)k >> 8, (unsigned)k & 0xff);
		ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 1);
	}
	ASSERT_EQ(m.ndevs, 8);
	size_t got = 0;
	while (espota__mdns_take_ready(&m, &info, 0) != NULL)
		got++;
	ASSERT_EQ(got, 8);
	/* a goodbye (TTL 0) does not create a device */
	espota__mdns_free(&m);
	browse(&m, 8);
	phead(&p, 1, 0);
	pname(&p, "_arduino._tcp.local");
	o = rd_open(&p, 12, 1, 0);
	pname(&p, "gone._arduino._tcp.local");
	rd_close(&p, o);
	ASSERT_EQ(espota__mdns_on_packet(&m, p.b, p.n, 0, "", 0), 1);
	ASSERT_EQ(m.ndevs, 0);
	espota__mdns_free(&m);
}

static void test_guess_platform(void)
{
	ASSERT_EQ(espota_discover_guess_platform("d1_mini", 0), ESPOTA_PLATFORM_ESP8266);
	ASSERT_EQ(espota_discover_guess_platform("esp32s3", 0), ESPOTA_PLATFORM_ESP32);
	ASSERT_EQ(espota_discover_guess_platform("ESP8266_WEMOS_D1MINI", 0), ESPOTA_PLATFORM_ESP8266);
	ASSERT_EQ(espota_discover_guess_platform("weird", 3232), ESPOTA_PLATFORM_ESP32);
	ASSERT_EQ(espota_discover_guess_platform(NULL, 1234), ESPOTA_PLATFORM_UNKNOWN);
}

static void *cancel_later(void *arg)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	espota_discover_cancel(arg);
	return NULL;
}

/* The public handle: options checks, cancel from another thread, and
 * the test-only unicast target (port 9 on loopback: nobody answers). */
static void test_handle_cancel_and_options(void)
{
	espota_discover_options o;
	espota_discover *d = NULL;
	pthread_t t;
	uint64_t t0;
	char addr[64];

	ASSERT_OK(espota_discover_options_init(&o, ESPOTA_DISCOVER_OPTIONS_VERSION));
	ASSERT_EQ(espota_discover_options_init(&o, 99), ESPOTA_EINVAL);
	o.family = 5;
	ASSERT_EQ(espota_discover_new(&d, &o), ESPOTA_EINVAL);
	ASSERT(d == NULL);
	o.family = 0;
	o.interface = "an-interface-name-too-long";
	ASSERT_EQ(espota_discover_new(&d, &o), ESPOTA_EINVAL);
	o.interface = NULL;
	o.version = 0;
	ASSERT_EQ(espota_discover_new(&d, &o), ESPOTA_EINVAL);
	o.version = ESPOTA_DISCOVER_OPTIONS_VERSION;
	o.unicast = "127.0.0.1:9";
	o.timeout_ms = 5000;
	ASSERT_OK(espota_discover_new(&d, &o));
	ASSERT_OK(pthread_create(&t, NULL, cancel_later, d));
	t0 = espota__now_ms();
	ASSERT_EQ(espota_discover_browse(d, NULL, NULL), ESPOTA_ECANCELLED);
	ASSERT(espota__now_ms() - t0 < 2000);
	pthread_join(t, NULL);
	ASSERT_EQ(espota_discover_found(d), 0);
	ASSERT(espota_discover_packets_sent(d) >= 1);
	ASSERT_STREQ(espota_discover_last_error(d), "cancelled");
	/* a cancel is not sticky: the next call runs to its own timeout */
	ASSERT_EQ(espota_discover_resolve(d, "..", addr, sizeof(addr)), ESPOTA_EINVAL);
	espota_discover_free(d);
	o.timeout_ms = 150;
	o.unicast = "not-an-address";
	ASSERT_OK(espota_discover_new(&d, &o));
	ASSERT_EQ(espota_discover_browse(d, NULL, NULL), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_discover_last_error(d), "ADDR:PORT");
	espota_discover_free(d);
	o.unicast = "127.0.0.1:9";
	ASSERT_OK(espota_discover_new(&d, &o));
	t0 = espota__now_ms();
	ASSERT_EQ(espota_discover_resolve(d, "nobody", addr, sizeof(addr)), ESPOTA_ERESOLVE);
	ASSERT(espota__now_ms() - t0 >= 140 && espota__now_ms() - t0 < 1500);
	ASSERT_CONTAINS(espota_discover_last_error(d), "nobody.local");
	espota_discover_free(d);
	espota_discover_free(NULL);
}

int main(void)
{
	test_full_answer_in_any_order();
	test_compressed_names();
	test_followup_questions_and_known_answers();
	test_resolve();
	test_hostile_packets();
	test_guess_platform();
	test_handle_cancel_and_options();
	printf("test_mdns: ok\n");
	return 0;
}
