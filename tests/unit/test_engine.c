/*
 * The protocol engine without sockets: feed it what a device would send
 * and check what it answers and decides.
 */
#include "test.h"
#include "proto/auth.h"
#include "proto/engine.h"

static unsigned char image[50000];

typedef struct {
	char udp[4][200];
	size_t nudp;
	int need_password;
	int done;
	int result;
	unsigned int progress_events;
} drained;

static void drain(espota__engine *e, drained *d)
{
	espota__event ev;
	while (espota__engine_next_event(e, &ev)) {
		switch (ev.type) {
		case ESPOTA__EV_SEND_UDP:
			ASSERT(ev.len < sizeof(d->udp[0]));
			memcpy(d->udp[d->nudp % 4], ev.data, ev.len);
			d->udp[d->nudp % 4][ev.len] = '\0';
			d->nudp++;
			break;
		case ESPOTA__EV_NEED_PASSWORD: d->need_password++; break;
		case ESPOTA__EV_PROGRESS: d->progress_events++; break;
		case ESPOTA__EV_DONE: d->done++; d->result = ev.result; break;
		default: break;
		}
	}
}

static void setup(espota__engine *e, size_t len, espota_transfer_mode mode, const char *password)
{
	espota__engine_config c;
	size_t i;

	for (i = 0; i < sizeof(image); i++)
		image[i] = (unsigned char)(i % 251);
	image[0] = 0xE9;
	memset(&c, 0, sizeof(c));
	c.image = image;
	c.len = len;
	c.host = "192.168.1.50";
	c.local_port = 48266;
	c.transfer = mode;
	c.password = password;
	c.seeded_cnonce = 1;
	espota__engine_clear(e); /* a test may set the same engine up again */
	ASSERT_OK(espota__engine_init(e, &c));
}

static void connect_ok(espota__engine *e, drained *d)
{
	espota__engine_start(e, 0);
	drain(e, d);
	espota__engine_on_udp(e, 10, "OK", 2);
	drain(e, d);
	ASSERT_EQ(e->phase, ESPOTA_PHASE_CONNECT);
	ASSERT_OK(espota__engine_on_connect(e, 20));
	drain(e, d);
	ASSERT_EQ(e->phase, ESPOTA_PHASE_TRANSFER);
}

static size_t send_all(espota__engine *e)
{
	const unsigned char *p;
	size_t n, total = 0;
	while ((n = espota__engine_tx(e, &p)) > 0) {
		espota__engine_tx_done(e, 30, n);
		total += n;
	}
	return total;
}

/* Feeds the device's bytes; a stream that ends in OK ends there, as the
 * cores close the connection after it. */
static void feed(espota__engine *e, drained *d, const char *s)
{
	espota__engine_on_tcp_data(e, 40, s, strlen(s));
	drain(e, d);
	if (e->ok_pending && !e->finished) {
		espota__engine_on_tcp_closed(e, 41, 0);
		drain(e, d);
	}
}

static void test_invitation_format(void)
{
	espota__engine e = {0};
	drained d = { 0 };
	char md5[33];

	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	espota__engine_start(&e, 0);
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 1);
	espota__md5_hex(md5, image, 3000);
	{
		char want[100];
		snprintf(want, sizeof(want), "0 48266 3000 %s\n", md5);
		ASSERT_STREQ(d.udp[0], want);
	}
	/* retries, then a timeout */
	espota__engine_tick(&e, 1999);
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 1);
	espota__engine_tick(&e, 2000);
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 2);
	espota__engine_tick(&e, 4000); espota__engine_tick(&e, 6000); espota__engine_tick(&e, 8000);
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 5);
	ASSERT_EQ(d.done, 0);
	espota__engine_tick(&e, 10000);
	drain(&e, &d);
	ASSERT_EQ(d.done, 1);
	ASSERT_EQ(d.result, ESPOTA_ETIMEOUT);
	ASSERT_CONTAINS(e.error, "no answer from the device to 5 invitations");
	espota__engine_clear(&e);
}

/* Far more events than the queue's first 16 slots, none drained until the
 * end: every one comes out, in order, DONE last (it used to drop them). */
static void test_event_queue_never_drops(void)
{
	espota__engine e = {0};
	espota__engine_config c;
	espota__event ev;
	unsigned int i, udp = 0, logs = 0, done = 0, after_done = 0;

	memset(&c, 0, sizeof(c));
	image[0] = 0xE9;
	c.image = image;
	c.len = 3000;
	c.host = "192.168.1.50";
	c.local_port = 48266;
	c.seeded_cnonce = 1;
	c.timeouts.invite_ms = 10;
	c.timeouts.invite_attempts = 60;
	ASSERT_OK(espota__engine_init(&e, &c));
	espota__engine_start(&e, 0);
	for (i = 1; i <= 60; i++)
		espota__engine_tick(&e, (uint64_t)i * 10);
	ASSERT(e.evcount > ESPOTA__EVQ);
	while (espota__engine_next_event(&e, &ev)) {
		ASSERT(ev.msg != NULL && memchr(ev.msg, '\0', ESPOTA__MSG_SIZE) != NULL);
		if (done)
			after_done++;
		if (ev.type == ESPOTA__EV_SEND_UDP) {
			ASSERT(ev.len > 0 && memcmp(ev.data, "0 48266 3000 ", 13) == 0);
			udp++;
		} else if (ev.type == ESPOTA__EV_LOG) {
			logs++;
		} else if (ev.type == ESPOTA__EV_DONE) {
			ASSERT_EQ(ev.result, ESPOTA_ETIMEOUT);
			done++;
		}
	}
	ASSERT_EQ(udp, 60);
	ASSERT_EQ(done, 1);
	ASSERT_EQ(after_done, 0);
	ASSERT(logs >= 60); /* one line per invitation at least */
	ASSERT_CONTAINS(e.error, "60 invitations");
	espota__engine_clear(&e);
	ASSERT(e.evq == NULL && e.evcap == 0);
}

static void test_stop_and_wait_split_acks(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	connect_ok(&e, &d);
	ASSERT_EQ(send_all(&e), 1460);
	/* one count split across reads */
	feed(&e, &d, "14");
	ASSERT_EQ(send_all(&e), 0);
	feed(&e, &d, "60");
	ASSERT_EQ(send_all(&e), 1460);
	/* MSS 536: 536 + 536 + 388 in separate reads */
	feed(&e, &d, "536");
	feed(&e, &d, "536");
	ASSERT_EQ(send_all(&e), 0);
	feed(&e, &d, "388");
	ASSERT_EQ(send_all(&e), 80);
	feed(&e, &d, "80");
	ASSERT_EQ(e.phase, ESPOTA_PHASE_RESULT);
	ASSERT_EQ(e.acked, 3000);
	feed(&e, &d, "O");
	ASSERT_EQ(d.done, 0);
	feed(&e, &d, "K");
	ASSERT_EQ(d.done, 1);
	ASSERT_EQ(d.result, ESPOTA_OK);
	ASSERT_EQ(e.phase, ESPOTA_PHASE_DONE);
	espota__engine_clear(&e);
}

static void test_coalesced_acks_and_ok(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 4096, ESPOTA_TRANSFER_PIPELINED, NULL);
	e.platform = ESPOTA_PLATFORM_ESP32;
	e.cfg.chunk = 1024;
	connect_ok(&e, &d);
	ASSERT_EQ(send_all(&e), 4096);
	feed(&e, &d, "10241024");
	ASSERT_EQ(e.provisional, 2048);
	feed(&e, &d, "1024");
	feed(&e, &d, "1024OK");
	ASSERT_EQ(d.done, 1);
	ASSERT_EQ(d.result, ESPOTA_OK);
	ASSERT_EQ(e.acks, 4);
	/* the last count came with the OK: the transfer time is still known
	 * (connected at 20, data fed at 40) */
	ASSERT_EQ(e.transfer_ms, 20);
	espota__engine_clear(&e);
}

/* The driver's SIOCOUTQ figure decides over counts that add up: an OK with
 * bytes still unacknowledged at the TCP level is a lie; at 0, or unknown
 * (a driver that cannot tell), the counts decide as before. */
static void test_ok_with_bytes_not_arrived(void)
{
	static const uint64_t unacked[] = { 1500, 0, UINT64_MAX };
	espota__engine e = {0};
	size_t i;

	for (i = 0; i < sizeof(unacked) / sizeof(unacked[0]); i++) {
		drained d = { 0 };
		setup(&e, 4096, ESPOTA_TRANSFER_PIPELINED, NULL);
		e.platform = ESPOTA_PLATFORM_ESP32;
		e.cfg.chunk = 1024;
		connect_ok(&e, &d);
		ASSERT_EQ(send_all(&e), 4096);
		feed(&e, &d, "102410241024");
		if (unacked[i] != UINT64_MAX)
			espota__engine_set_peer_unacked(&e, unacked[i]);
		feed(&e, &d, "1024OK");
		ASSERT_EQ(d.done, 1);
		if (unacked[i] == 1500) {
			ASSERT_EQ(d.result, ESPOTA_EPROTO);
			ASSERT(strstr(e.error, "1500 of the 4096 bytes sent had not "
				"reached the device") != NULL);
			ASSERT_EQ(e.acked, 4096 - 1500);
		} else {
			ASSERT_EQ(d.result, ESPOTA_OK);
		}
	}
	espota__engine_clear(&e);
}

static void test_esp8266_error_after_count(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 508, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "508ERROR[7]: MD5 verification failed: expected: 4a81, ");
	ASSERT_EQ(d.done, 0);
	feed(&e, &d, "calculated: 0000\n");
	ASSERT_EQ(d.done, 1);
	ASSERT_EQ(d.result, ESPOTA_EREFUSED);
	ASSERT(e.device_error_set);
	ASSERT_EQ(e.device_error.code, 7);
	ASSERT_CONTAINS(e.error, "device error 7 (MD5)");
	espota__engine_clear(&e);
}

static void test_esp32_magic_midstream(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 5000, ESPOTA_TRANSFER_PIPELINED, NULL);
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "14601460");
	feed(&e, &d, "1176Wrong Magic Byte\r\n");
	ASSERT_EQ(d.result, ESPOTA_EREFUSED);
	ASSERT_EQ(e.device_error.code, 8);
	ASSERT_EQ(e.device_error.platform, ESPOTA_PLATFORM_ESP32);
	espota__engine_clear(&e);
}

static void test_never_false_success(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	/* OK before everything was acknowledged: ESP8266 counts are exact */
	setup(&e, 3000, ESPOTA_TRANSFER_PIPELINED, NULL);
	e.platform = ESPOTA_PLATFORM_ESP8266;
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "1460OK");
	ASSERT_EQ(d.result, ESPOTA_EPROTO);

	/* OK before everything was even sent: never a success */
	memset(&d, 0, sizeof(d));
	setup(&e, 40000, ESPOTA_TRANSFER_PIPELINED, NULL);
	e.platform = ESPOTA_PLATFORM_ESP32;
	e.cfg.window = 16384;
	connect_ok(&e, &d);
	ASSERT(send_all(&e) < 40000);
	feed(&e, &d, "1460OK");
	ASSERT_EQ(d.result, ESPOTA_EPROTO);
	ASSERT_CONTAINS(e.error, "were sent");

	/* ESP32 counts that cannot add up to the image: its OK proves nothing
	 * (issue 14: "1000OK" after 60,000 bytes was a success) */
	memset(&d, 0, sizeof(d));
	setup(&e, 3000, ESPOTA_TRANSFER_PIPELINED, NULL);
	e.platform = ESPOTA_PLATFORM_ESP32;
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "146");
	feed(&e, &d, "OK");
	ASSERT_EQ(d.result, ESPOTA_EPROTO);
	ASSERT_EQ(e.acked, 146);
	ASSERT_CONTAINS(e.error, "at most 146 of them");

	/* closed after all data, no OK */
	memset(&d, 0, sizeof(d));
	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "1000");
	espota__engine_on_tcp_closed(&e, 50, 0);
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_ECLOSED);
	ASSERT_CONTAINS(e.error, "may or may not be applied");

	/* garbage instead of counts */
	memset(&d, 0, sizeof(d));
	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "x#1");
	ASSERT_EQ(d.result, ESPOTA_EPROTO);

	/* more acknowledged than sent */
	memset(&d, 0, sizeof(d));
	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	e.platform = ESPOTA_PLATFORM_ESP8266;
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "1460");
	send_all(&e);
	feed(&e, &d, "3000"); /* no reading of these digits fits in 1460 */
	ASSERT_EQ(d.result, ESPOTA_EPROTO);

	/* a stall times out with the position */
	memset(&d, 0, sizeof(d));
	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "1460");
	espota__engine_tick(&e, 40 + 10000);
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_ETIMEOUT);
	ASSERT_CONTAINS(e.error, "at 1460 of 3000");
	espota__engine_clear(&e);
}

/* Issue 14: a device that drips one digit every 9 s never stalls long
 * enough for the stall timeout, but the data phase is bounded. */
static void test_slow_drip_bounded(void)
{
	espota__engine e = {0};
	drained d = { 0 };
	uint64_t t = 20;
	unsigned i;

	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	e.platform = ESPOTA_PLATFORM_ESP8266;
	/* a stall timeout long enough never to fire: only the bound ends it */
	e.cfg.timeouts.stall_ms = 1000000000u;
	connect_ok(&e, &d);
	send_all(&e);
	for (i = 0; i < 1000 && !e.finished; i++) {
		uint64_t next = t + 9000, dl = espota__engine_deadline(&e);
		if (dl <= next) {
			t = dl;
			espota__engine_tick(&e, dl);
			drain(&e, &d);
			continue;
		}
		t = next;
		espota__engine_on_tcp_data(&e, t, "1", 1);
		drain(&e, &d);
	}
	ASSERT_EQ(d.result, ESPOTA_ETIMEOUT);
	ASSERT_CONTAINS(e.error, "under 1000 bytes/s");
	ASSERT(t <= 20 + 60000 + 3000 + 9000);
	espota__engine_clear(&e);
}

/* min_rate: a configured rate sets the bound; UINT32_MAX removes it and
 * only the stall timeout is left. */
static void test_data_bound_configurable(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	e.cfg.min_rate = 100; /* 60 s + 30 s for 3000 bytes */
	e.cfg.timeouts.stall_ms = 1000000000u;
	connect_ok(&e, &d);
	send_all(&e);
	ASSERT_EQ(espota__engine_deadline(&e), 20 + 60000 + 30000);
	espota__engine_tick(&e, espota__engine_deadline(&e));
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_ETIMEOUT);
	ASSERT_CONTAINS(e.error, "under 100 bytes/s");
	ASSERT_EQ(e.acked, e.provisional); /* the message's figure is the stats' (and the hint's) */

	memset(&d, 0, sizeof(d));
	setup(&e, 3000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	e.cfg.min_rate = UINT32_MAX;
	e.cfg.timeouts.stall_ms = 500000u;
	connect_ok(&e, &d);
	send_all(&e);
	ASSERT_EQ(espota__engine_deadline(&e), 20 + 500000);
	espota__engine_tick(&e, espota__engine_deadline(&e));
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_ETIMEOUT);
	ASSERT_CONTAINS(e.error, "stopped acknowledging for 500000 ms");
	espota__engine_clear(&e);
}

static void test_blocked_sender_coalesced_counts(void)
{
	/* Large ESP8266 drain counts coalesced into one read: one reading adds
	 * up to everything sent (the device has caught up), so the window
	 * reopens at once. */
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 40000, ESPOTA_TRANSFER_PIPELINED, NULL);
	e.platform = ESPOTA_PLATFORM_ESP8266;
	e.cfg.window = 16384;
	connect_ok(&e, &d);
	ASSERT_EQ(send_all(&e), 16384);
	feed(&e, &d, "40964096");
	/* 4096+4096 or 409+64096 (too much) or 40964+096 (0-led): 8192 */
	ASSERT_EQ(e.provisional, 8192);
	ASSERT_EQ(send_all(&e), 8192);
	feed(&e, &d, "4096409640964096");
	ASSERT_EQ(e.provisional, 24576);
	ASSERT_EQ(e.acks, 6);
	ASSERT(send_all(&e) > 0);
	ASSERT_EQ(d.done, 0);
	espota__engine_clear(&e);
}

/*
 * Progress, end to end through the engine: honest and lying devices (as
 * in test_acks.c) read what the engine sends, print their counts, and the
 * host reads them merged or cut; time runs to the engine's deadlines when
 * nothing else happens (its quiet check, its stall timer). Every progress
 * event's `acked` is at least the last one's and at most what was sent;
 * every honest upload succeeds (a running figure that lags would shut the
 * window for good and stall); most lying uploads fail.
 */
static uint64_t prog_rng = 0x2545F4914F6CDD1Dull;

static uint64_t prnd(uint64_t n)
{
	prog_rng ^= prog_rng << 13;
	prog_rng ^= prog_rng >> 7;
	prog_rng ^= prog_rng << 17;
	return n ? prog_rng % n : 0;
}

typedef struct {
	unsigned events, backwards, above_sent, quiet;
	uint64_t last;
} prog_check;

static void drain_progress(espota__engine *e, drained *d, prog_check *pc)
{
	espota__event ev;

	while (espota__engine_next_event(e, &ev)) {
		if (ev.type == ESPOTA__EV_PROGRESS) {
			pc->events++;
			pc->backwards += e->progress.acked < pc->last;
			pc->above_sent += e->progress.acked > e->progress.sent;
			pc->last = e->progress.acked;
		} else if (ev.type == ESPOTA__EV_DONE) {
			d->done++;
			d->result = ev.result;
		} else if (ev.type == ESPOTA__EV_LOG && strstr(ev.msg, "device quiet") != NULL) {
			pc->quiet++;
		}
	}
}

static int progress_stream(espota_platform plat, espota_platform real, int lie, size_t len,
	uint32_t window, uint64_t maxread, uint64_t seg, prog_check *pc)
{
	espota__engine e = {0};
	drained d = { 0 };
	static char pipe[65536];
	size_t np = 0;
	uint64_t read = 0, stop = len, reported = 0, now = 20;
	unsigned guard = 0;
	int said_ok = 0;

	setup(&e, len, ESPOTA_TRANSFER_PIPELINED, NULL);
	e.cfg.platform = plat;
	e.platform = plat;
	e.cfg.window = window;
	e.cfg.chunk = (uint32_t)seg;
	espota__engine_start(&e, 0);
	drain_progress(&e, &d, pc);
	espota__engine_on_udp(&e, 10, "OK", 2);
	drain_progress(&e, &d, pc);
	ASSERT_OK(espota__engine_on_connect(&e, now));
	if (lie == 1)
		stop = 1 + prnd(len - 1);
	while (!e.finished && guard++ < 200000) {
		const unsigned char *ptr;
		size_t n;
		uint64_t r;
		int acted = 0;

		while ((n = espota__engine_tx(&e, &ptr)) > 0)
			espota__engine_tx_done(&e, now, n);
		r = e.sent - read;
		if (r > maxread)
			r = maxread;
		if (r > seg && prnd(2) == 0)
			r = seg * (1 + prnd(r / seg));
		if (r > 1 && prnd(10) == 0)
			r = 1 + prnd(r);
		if (read + r > stop)
			r = stop - read;
		if (r > 0 && np < sizeof(pipe) - 64) {
			read += r;
			reported = lie == 2 ? read : (lie == 3 && read == stop ? r + 1 : r);
			np += (size_t)snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
			acted = 1;
		}
		if (real == ESPOTA_PLATFORM_ESP32 && reported && !said_ok && prnd(50) == 0 &&
			np < sizeof(pipe) - 64)
			np += (size_t)snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
		if (read >= stop && e.sent == len && !said_ok && np < sizeof(pipe) - 4) {
			memcpy(pipe + np, "OK", 2);
			np += 2;
			said_ok = 1;
		}
		if (np > 0 && (prnd(3) != 0 || !acted)) {
			size_t take = prnd(100) == 0 ? 1 + (size_t)prnd(np) : np;
			espota__engine_on_tcp_data(&e, now, pipe, take);
			memmove(pipe, pipe + take, np - take);
			np -= take;
			acted = 1;
			if (said_ok && np == 0)
				espota__engine_on_tcp_closed(&e, now, 0);
		}
		drain_progress(&e, &d, pc);
		if (acted) {
			now++;
		} else {
			/* nothing to read or say: the device waits for the engine */
			uint64_t dl = espota__engine_deadline(&e);
			ASSERT(dl != UINT64_MAX && dl >= now);
			now = dl;
			espota__engine_tick(&e, now);
			drain_progress(&e, &d, pc);
		}
	}
	ASSERT(e.finished);
	ASSERT_EQ(d.done, 1);
	if (d.result == ESPOTA_OK)
		ASSERT_EQ(e.acked, len);
	if (lie == 0 && d.result != ESPOTA_OK) {
		printf("   honest upload failed (platform %d/%d, %zu bytes, window %u, reads of %"
			PRIu64 "): %s\n", (int)plat, (int)real, len, window, maxread, e.error);
		fflush(stdout);
	}
	espota__engine_clear(&e);
	return d.result;
}

static void test_progress_streams(void)
{
	static const espota_platform plats[] = { ESPOTA_PLATFORM_ESP8266, ESPOTA_PLATFORM_ESP32,
		ESPOTA_PLATFORM_UNKNOWN };
	static const uint64_t mss[] = { 536, 1460 };
	unsigned i, honest = 0, honest_failed = 0, liars = 0, liars_ok = 0;
	unsigned count = getenv("ESPOTA_TEST_UNDER_VALGRIND") ? 20 : 300;
	prog_check pc = { 0 };

	for (i = 0; i < count; i++) {
		espota_platform plat, real;
		uint64_t m, maxread;
		uint32_t window;
		size_t len;
		int lie, r;

		/* each stream its own seed: a change in one does not move the rest */
		prog_rng = 0x2545F4914F6CDD1Dull ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull);
		plat = plats[prnd(3)];
		m = mss[prnd(2)];
		window = (uint32_t)(m * (1 + prnd(8)));
		len = 1 + (size_t)prnd(sizeof(image) - 1);
		real = plat != ESPOTA_PLATFORM_UNKNOWN ? plat :
			prnd(2) ? ESPOTA_PLATFORM_ESP32 : ESPOTA_PLATFORM_ESP8266;
		maxread = real == ESPOTA_PLATFORM_ESP32 ? 1460 : (prnd(2) ? m : 4 * m);
		lie = (int)prnd(4);
		if (lie == 1 && len < 2)
			lie = 0;
		pc.last = 0;
		r = progress_stream(plat, real, lie, len, window, maxread, m, &pc);
		if (lie == 0) {
			honest++;
			honest_failed += r != ESPOTA_OK;
		} else {
			liars++;
			liars_ok += r == ESPOTA_OK;
		}
	}
	printf("   %u honest uploads, %u failed; %u lying, %u accepted (a reading of their "
		"digits adds up); %u progress events, %u went back, %u above sent; the quiet check "
		"reopened the window %u times\n", honest, honest_failed, liars, liars_ok, pc.events,
		pc.backwards, pc.above_sent, pc.quiet);
	fflush(stdout);
	ASSERT_EQ(honest_failed, 0);
	ASSERT_EQ(pc.backwards, 0);
	ASSERT_EQ(pc.above_sent, 0);
	ASSERT(pc.events > count);
	ASSERT(liars_ok * 2 < liars);
}

/* What an engine sends before its first acknowledgement. */
static size_t first_burst(espota_transfer_mode mode, espota_platform platform, uint32_t mss)
{
	espota__engine e = {0};
	drained d = { 0 };
	size_t n;

	setup(&e, sizeof(image), mode, NULL);
	e.platform = platform;
	connect_ok(&e, &d);
	espota__engine_set_device_mss(&e, mss);
	n = send_all(&e);
	espota__engine_clear(&e);
	return n;
}

/* The fixed pacing mode (ESPOTA_TRANSFER_PACED), ESP8266 with a window
 * smaller than a flash block (4 x MSS 536): every write ends one window
 * past the next 4 KiB boundary (engine.c, paced_end). The adaptive default
 * is tested in test_pacing.c. */
static void test_block_pacing(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 40000, ESPOTA_TRANSFER_PACED, NULL);
	e.platform = ESPOTA_PLATFORM_ESP8266;
	connect_ok(&e, &d);
	espota__engine_set_device_mss(&e, 536);
	ASSERT_EQ(send_all(&e), 4096 + 2144);
	feed(&e, &d, "2144");          /* the window the device let in */
	ASSERT_EQ(send_all(&e), 0);    /* still inside the first block */
	feed(&e, &d, "1952");          /* block 0 complete */
	ASSERT_EQ(e.provisional, 4096);
	ASSERT_EQ(send_all(&e), 4096); /* up to 8192 + 2144 */
	ASSERT_EQ(e.sent, 8192 + 2144);
	feed(&e, &d, "4096");          /* a drain across the flush */
	ASSERT_EQ(send_all(&e), 4096);
	ASSERT_EQ(e.sent, 12288 + 2144);
	/* the user's window still caps it */
	e.cfg.window = 1460;
	feed(&e, &d, "1460");
	ASSERT_EQ(send_all(&e), 0);
	ASSERT_EQ(d.done, 0);
	espota__engine_clear(&e);

	/* a window of a block or more (MSS 1460: 5840) streams ahead (the
	 * whole image: the 65536 window is larger), nor is the stream mode
	 * paced, nor ESP32 */
	ASSERT_EQ(first_burst(ESPOTA_TRANSFER_PACED, ESPOTA_PLATFORM_ESP8266, 1460), sizeof(image));
	ASSERT_EQ(first_burst(ESPOTA_TRANSFER_STREAM, ESPOTA_PLATFORM_ESP8266, 536), sizeof(image));
	ASSERT_EQ(first_burst(ESPOTA_TRANSFER_PACED, ESPOTA_PLATFORM_ESP32, 536), sizeof(image));
	ASSERT_EQ(first_burst(ESPOTA_TRANSFER_PACED, ESPOTA_PLATFORM_UNKNOWN, 536), 4096 + 2144);
	/* the adaptive default learns while pacing as lwIP's default window
	 * (4 x 536 past the next boundary); never paced on ESP32 */
	ASSERT_EQ(first_burst(ESPOTA_TRANSFER_PIPELINED, ESPOTA_PLATFORM_ESP8266, 536), 4096 + 2144);
	ASSERT_EQ(first_burst(ESPOTA_TRANSFER_PIPELINED, ESPOTA_PLATFORM_ESP32, 536), sizeof(image));
	espota__engine_clear(&e);
}

static void test_esp32_stale_repeat(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 2048, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	e.platform = ESPOTA_PLATFORM_ESP32;
	e.cfg.chunk = 1024;
	connect_ok(&e, &d);
	send_all(&e);
	feed(&e, &d, "1024");
	feed(&e, &d, "1024"); /* re-sent while it waits: not a new count */
	ASSERT_EQ(d.done, 0);
	ASSERT_EQ(e.provisional, 1024);
	send_all(&e);
	feed(&e, &d, "1024OK");
	ASSERT_EQ(d.result, ESPOTA_OK);
	espota__engine_clear(&e);
}

static void test_auth_md5(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, "s3cret");
	espota__engine_start(&e, 0);
	drain(&e, &d);
	espota__engine_on_udp(&e, 5, "AUTH 25d55ad283aa400af464c76d713c07ad", 37);
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 2);
	ASSERT_EQ(e.scheme, ESPOTA_AUTH_MD5);
	ASSERT_EQ(strlen(d.udp[1]), 70);
	ASSERT(strncmp(d.udp[1], "200 ", 4) == 0);
	/* the device connects after accepting our answer even if its OK is lost */
	ASSERT_OK(espota__engine_on_connect(&e, 6));
	ASSERT_EQ(e.phase, ESPOTA_PHASE_TRANSFER);
	espota__engine_clear(&e);
}

static void test_auth_wrong_password_and_fallback(void)
{
	espota__engine e = {0};
	drained d = { 0 };
	const char *nonce = "AUTH ef797c8118f02dfb649607dd5d3f8c7623048c9c063d532cc95c5ed7a898a64f";

	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, "s3cret");
	espota__engine_start(&e, 0);
	drain(&e, &d);
	espota__engine_on_udp(&e, 5, nonce, strlen(nonce));
	drain(&e, &d);
	ASSERT_EQ(e.scheme, ESPOTA_AUTH_PBKDF2_SHA256);
	ASSERT_EQ(strlen(d.udp[1]), 134);
	espota__engine_on_udp(&e, 6, "Authentication Failed", 21);
	drain(&e, &d);
	/* falls back: a new invitation, then the MD5 password hash */
	ASSERT_EQ(d.done, 0);
	ASSERT_EQ(d.nudp, 3);
	ASSERT_EQ(e.phase, ESPOTA_PHASE_INVITE);
	espota__engine_on_udp(&e, 7, nonce, strlen(nonce));
	drain(&e, &d);
	ASSERT_EQ(e.scheme, ESPOTA_AUTH_PBKDF2_MD5);
	{
		char cnonce[65], want[160];
		ASSERT_EQ(strlen(d.udp[3]), 134);
		memcpy(cnonce, d.udp[3] + 4, 64);
		cnonce[64] = '\0';
		ASSERT(espota__auth_datagram(want, sizeof(want), ESPOTA_AUTH_PBKDF2_MD5, nonce + 5, cnonce,
			"s3cret") == 134);
		ASSERT_STREQ(d.udp[3], want);
	}
	espota__engine_on_udp(&e, 8, "Authentication Failed", 21);
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_EAUTH);
	espota__engine_clear(&e);
	ASSERT_EQ(e.password[0], 0);
	espota__engine_clear(&e);
}

static void test_auth_no_downgrade(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	/* SHA-256 required: an MD5 challenge (spoofed or old device) is refused */
	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, "s3cret");
	e.cfg.auth_mode = ESPOTA_AUTH_MODE_SHA256;
	espota__engine_start(&e, 0);
	drain(&e, &d);
	espota__engine_on_udp(&e, 5, "AUTH 25d55ad283aa400af464c76d713c07ad", 37);
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_EAUTH);
	ASSERT_EQ(d.nudp, 1); /* no answer was sent */
	ASSERT_CONTAINS(e.error, "only the MD5 challenge");
	espota__engine_clear(&e);
}

static void test_auth_needs_password(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	espota__engine_start(&e, 0);
	drain(&e, &d);
	espota__engine_on_udp(&e, 5, "AUTH 25d55ad283aa400af464c76d713c07ad", 37);
	drain(&e, &d);
	ASSERT_EQ(d.need_password, 1);
	/* with a password pending, nobody may connect */
	ASSERT_EQ(espota__engine_on_connect(&e, 6), -1);
	ASSERT_OK(espota__engine_set_password(&e, 6, "s3cret"));
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 2);
	espota__engine_on_udp(&e, 7, "OK", 2);
	drain(&e, &d);
	ASSERT_EQ(e.phase, ESPOTA_PHASE_CONNECT);
	espota__engine_clear(&e);

	/* No password: the challenge is still answered (with the empty
	 * password, as espota.py does) so the device stops waiting, then
	 * the upload fails. */
	memset(&d, 0, sizeof(d));
	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	espota__engine_start(&e, 0);
	drain(&e, &d);
	espota__engine_on_udp(&e, 5, "AUTH 25d55ad283aa400af464c76d713c07ad", 37);
	drain(&e, &d);
	ASSERT_EQ(espota__engine_set_password(&e, 6, ""), ESPOTA_EAUTH);
	drain(&e, &d);
	ASSERT_EQ(d.nudp, 2);
	ASSERT(strncmp(d.udp[1], "200 ", 4) == 0);
	ASSERT_EQ(d.done, 1);
	ASSERT_EQ(d.result, ESPOTA_EAUTH);
	ASSERT_CONTAINS(e.error, "none was given");
	espota__engine_clear(&e);
}

static void test_bad_replies(void)
{
	espota__engine e = {0};
	drained d = { 0 };

	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, "pw");
	espota__engine_start(&e, 0);
	drain(&e, &d);
	espota__engine_on_udp(&e, 5, "AUTH 1234", 9);
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_EPROTO);
	ASSERT_CONTAINS(e.error, "invalid nonce length: 4");

	memset(&d, 0, sizeof(d));
	setup(&e, 1000, ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
	espota__engine_start(&e, 0);
	drain(&e, &d);
	{
		const char err[] = "ERR: ERROR[4]: Not Enough Space\n";
		espota__engine_on_udp(&e, 5, err, sizeof(err) - 1);
	}
	drain(&e, &d);
	ASSERT_EQ(d.result, ESPOTA_EREFUSED);
	ASSERT_EQ(e.device_error.code, 4);
	ASSERT_EQ(e.platform, ESPOTA_PLATFORM_ESP8266);
	espota__engine_clear(&e);
}

static void test_fuzzish_random_streams(void)
{
	/* Random bytes never crash the engine nor yield success. */
	espota__engine e = {0};
	drained d;
	unsigned int seed = 12345, round, i;

	for (round = 0; round < 2000; round++) {
		char buf[64];
		memset(&d, 0, sizeof(d));
		setup(&e, 1 + round % 3000, round % 2 ? ESPOTA_TRANSFER_PIPELINED : ESPOTA_TRANSFER_STOP_AND_WAIT, NULL);
		connect_ok(&e, &d);
		for (i = 0; i < 8 && !d.done; i++) {
			size_t n = 0, k;
			send_all(&e);
			for (k = 0; k < sizeof(buf); k++) {
				seed = seed * 1103515245u + 12345u;
				buf[k] = (seed >> 16) % 3 ? (char)('0' + (seed >> 8) % 10) : (char)(seed >> 20);
				n++;
			}
			espota__engine_on_tcp_data(&e, 40, buf, n);
			drain(&e, &d);
		}
		ASSERT(d.result != ESPOTA_OK || !d.done || e.acked == e.cfg.len);
	}
	espota__engine_clear(&e);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_event_queue_never_drops)
TEST_ENTRY(test_invitation_format)
TEST_ENTRY(test_stop_and_wait_split_acks)
TEST_ENTRY(test_coalesced_acks_and_ok)
TEST_ENTRY(test_ok_with_bytes_not_arrived)
TEST_ENTRY(test_esp8266_error_after_count)
TEST_ENTRY(test_esp32_magic_midstream)
TEST_ENTRY(test_slow_drip_bounded)
TEST_ENTRY(test_data_bound_configurable)
TEST_ENTRY(test_never_false_success)
TEST_ENTRY(test_blocked_sender_coalesced_counts)
TEST_ENTRY(test_progress_streams)
TEST_ENTRY(test_block_pacing)
TEST_ENTRY(test_esp32_stale_repeat)
TEST_ENTRY(test_auth_md5)
TEST_ENTRY(test_auth_wrong_password_and_fallback)
TEST_ENTRY(test_auth_no_downgrade)
TEST_ENTRY(test_auth_needs_password)
TEST_ENTRY(test_bad_replies)
TEST_ENTRY(test_fuzzish_random_streams)
TEST_LIST_END
