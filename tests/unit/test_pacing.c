/*
 * Adaptive pacing (engine.c, "Adaptive pacing") against a fake ESP8266 in
 * simulated time: no sockets, no clock, no timing thresholds. The device is
 * the Updater's drain loop behind a TCP receive window: it sees a byte once
 * it was sent one one-way delay ago and the window reopened for it (one
 * round trip after the byte a window earlier was consumed), takes what it
 * sees up to the 4 KiB buffer, flushes a full buffer lazily (on the next
 * byte) for FLUSH_MS during which it reads nothing, and prints one count per
 * drain. Its counts reach the engine one one-way delay later.
 */
#include "test.h"
#include "proto/engine.h"

#define BLOCK 4096u
#define LEN (48u * BLOCK)       /* 192 KiB: 48 flash blocks */
#define STEPS 60000             /* 1 ms each: a bound, never reached */
#define OWD (r->owd < 0 ? 0 : r->owd ? r->owd : 5) /* one-way delay, ms */
#define FLUSH_MS 56
#define PACE_LEARN_TEST_BLOCKS 3 /* engine.c PACE_LEARN_BLOCKS */

static unsigned char image[LEN];
static uint64_t sent_at[STEPS + 1];     /* engine's sent offset after step t */
static uint64_t consumed_at[STEPS + 1]; /* device's consumed offset after step t */

typedef struct {
	uint32_t window;     /* the device's receive window */
	int owd;             /* one-way delay in ms; 0 = 5, -1 = none */
	int block_acks;      /* 1: reads a whole block, flashes it, then prints 4096 */
	int seg_ms;          /* >0: segments arrive one per seg_ms ms (a slow medium) */
	/* worst case seen, checked by the tests */
	uint64_t max_out_all;        /* sent - provisional */
	uint64_t max_out;            /* the same, once decided */
	uint64_t max_past_block;     /* sent - next block boundary past provisional, once decided */
	uint64_t max_past_acked_block; /* block stop-and-wait: sent - provisional */
	uint64_t max_learn_past_block; /* while learning: sent - next block boundary */
	uint64_t max_learn_out;        /* while learning: sent - provisional */
	uint64_t decided_at;           /* provisional when the learning ended (0: never) */
	int result, done;
	int state;
	uint32_t learnt;
} pace_run;

static void drain_events(espota__engine *e, pace_run *r)
{
	espota__event ev;
	while (espota__engine_next_event(e, &ev))
		if (ev.type == ESPOTA__EV_DONE) {
			r->done = 1;
			r->result = ev.result;
		}
}

struct msg { int at; char text[24]; };

static void simulate(pace_run *r, uint32_t mss, uint32_t peer_window)
{
	espota__engine e;
	espota__engine_config c;
	struct msg q[256];
	size_t qh = 0, qn = 0, i;
	uint64_t consumed = 0, drain = 0, arrived = 0;
	uint32_t buf = 0;
	int t, busy_until = 0, ok_at = -1, close_at = -1;

	for (i = 0; i < LEN; i++)
		image[i] = (unsigned char)(i * 7 + 1);
	image[0] = 0xE9;
	memset(&c, 0, sizeof(c));
	c.image = image;
	c.len = LEN;
	c.host = "192.168.1.50";
	c.local_port = 48266;
	c.transfer = ESPOTA_TRANSFER_PIPELINED;
	c.platform = ESPOTA_PLATFORM_ESP8266;
	c.seeded_cnonce = 1;
	ASSERT_OK(espota__engine_init(&e, &c));
	espota__engine_start(&e, 0);
	drain_events(&e, r);
	espota__engine_on_udp(&e, 1, "OK", 2);
	drain_events(&e, r);
	ASSERT_OK(espota__engine_on_connect(&e, 2));
	espota__engine_set_device_mss(&e, mss);
	espota__engine_set_peer_window(&e, peer_window);
	drain_events(&e, r);
	memset(sent_at, 0, sizeof(sent_at));
	memset(consumed_at, 0, sizeof(consumed_at));

	for (t = 3; t < STEPS && !r->done; t++) {
		const unsigned char *p;
		size_t n;
		uint64_t vis, next;

		/* the device's counts and its result reach the host */
		while (qn > 0 && q[qh].at <= t) {
			espota__engine_on_tcp_data(&e, (uint64_t)t, q[qh].text, strlen(q[qh].text));
			qh = (qh + 1) % 256;
			qn--;
			drain_events(&e, r);
		}
		if (close_at >= 0 && t >= close_at) {
			espota__engine_on_tcp_closed(&e, (uint64_t)t, 0);
			drain_events(&e, r);
			break;
		}
		espota__engine_tick(&e, (uint64_t)t);
		drain_events(&e, r);
		while ((n = espota__engine_tx(&e, &p)) > 0) {
			ASSERT(p == image + e.sent);
			espota__engine_tx_done(&e, (uint64_t)t, n);
			/* what a write in each state leaves beyond what the device
			 * acknowledged (data written while learning is not re-judged) */
			if (e.sent - e.provisional > r->max_out_all)
				r->max_out_all = e.sent - e.provisional;
			if (e.pace_state != ESPOTA__PACE_LEARN && e.sent - e.provisional > r->max_out)
				r->max_out = e.sent - e.provisional;
			next = (e.provisional / BLOCK + 1) * BLOCK;
			if (e.pace_state == ESPOTA__PACE_LEARN) {
				if (e.sent > next && e.sent - next > r->max_learn_past_block)
					r->max_learn_past_block = e.sent - next;
				if (e.sent - e.provisional > r->max_learn_out)
					r->max_learn_out = e.sent - e.provisional;
			} else if (r->decided_at == 0) {
				r->decided_at = e.provisional;
			}
			if (e.pace_state == ESPOTA__PACE_BLOCKS && e.sent > next &&
				e.sent - next > r->max_past_block)
				r->max_past_block = e.sent - next;
			if (e.pace_state == ESPOTA__PACE_BLOCK_SAW &&
				e.sent - e.provisional > r->max_past_acked_block)
				r->max_past_acked_block = e.sent - e.provisional;
		}
		drain_events(&e, r);
		sent_at[t] = e.sent;

		/* the device */
		consumed_at[t] = consumed;
		vis = t >= OWD ? sent_at[t - OWD] : 0;
		if (t >= 2 * OWD && consumed_at[t - 2 * OWD] + r->window < vis)
			vis = consumed_at[t - 2 * OWD] + r->window;
		if (t < 2 * OWD && r->window < vis)
			vis = r->window;
		if (r->seg_ms > 0) {
			/* serialised: one more segment every seg_ms, flushing or not */
			if (t % r->seg_ms == 0 && arrived < vis)
				arrived = arrived + mss < vis ? arrived + mss : vis;
			vis = arrived;
		}
		if (ok_at >= 0 || t < busy_until)
			continue;
		if (r->block_acks && consumed < LEN) {
			/* a firmware that reads whole blocks and then acknowledges */
			uint64_t want = consumed + BLOCK <= LEN ? BLOCK : LEN - consumed;
			if (vis - consumed < want)
				continue;
			consumed += want;
			consumed_at[t] = consumed;
			busy_until = t + FLUSH_MS;
			snprintf(q[(qh + qn) % 256].text, sizeof(q[0].text), "%" PRIu64, want);
			q[(qh + qn) % 256].at = busy_until + OWD;
			qn++;
			continue;
		} else if (vis > consumed) {
			uint64_t take = vis - consumed;
			if (buf + take > BLOCK) {
				take = BLOCK - buf;
				buf = BLOCK;
			} else {
				buf += (uint32_t)take;
			}
			consumed += take;
			drain += take;
			consumed_at[t] = consumed;
			/* full and the next byte seen, or the exact end: flush */
			if ((buf == BLOCK && vis > consumed) || consumed == LEN) {
				buf = 0;
				busy_until = t + FLUSH_MS;
			}
			continue; /* delay(1), then the next pass */
		} else if (drain > 0) {
			snprintf(q[(qh + qn) % 256].text, sizeof(q[0].text), "%" PRIu64, drain);
			q[(qh + qn) % 256].at = t + OWD;
			qn++;
			drain = 0;
		}
		if (consumed == LEN && drain == 0) {
			/* delay(1000), OK, delay(1000), close */
			ok_at = t + 1000;
			snprintf(q[(qh + qn) % 256].text, sizeof(q[0].text), "OK");
			q[(qh + qn) % 256].at = ok_at + OWD;
			qn++;
			close_at = ok_at + 1000 + OWD;
		}
		ASSERT(qn < 250);
	}
	ASSERT(t < STEPS);
	r->state = e.pace_state;
	r->learnt = e.pace_window;
	espota__engine_clear(&e);
}

/* One upload to a device with this window (no TCP_INFO), which succeeds. */
static void run_window(pace_run *r, uint32_t mss, uint32_t window)
{
	memset(r, 0, sizeof(*r));
	r->window = window;
	simulate(r, mss, 0);
	ASSERT_EQ(r->done, 1);
	ASSERT_EQ(r->result, ESPOTA_OK);
}

/* Learns the window and, where pacing pays, holds at most one device window
 * past the flash block the device is on. */
static void test_learns_window(void)
{
	static const struct { uint32_t mss, window; int paced; } cases[] = {
		{ 536, 536, 1 }, { 536, 1072, 1 }, { 536, 1608, 0 }, { 536, 2144, 1 },
		{ 536, 2680, 0 }, { 536, 3216, 0 }, { 1460, 1460, 1 }, { 1460, 2920, 0 },
		{ 1460, 4380, 0 }, { 1460, 5840, 0 },
	};
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		pace_run r;
		run_window(&r, cases[k].mss, cases[k].window);
		fprintf(stderr, "   mss %u window %u: state %d learnt %u, max %" PRIu64 " past the block, "
			"%" PRIu64 " outstanding\n", cases[k].mss, cases[k].window, r.state, r.learnt,
			r.max_past_block, r.max_out_all);
		ASSERT_EQ(r.state, cases[k].paced ? ESPOTA__PACE_BLOCKS : ESPOTA__PACE_STREAM);
		if (cases[k].window < BLOCK) /* from a block up only a lower bound */
			ASSERT_EQ(r.learnt, cases[k].window);
		if (cases[k].paced) {
			/* never more than one window beyond the block being acknowledged */
			ASSERT(r.max_past_block <= cases[k].window);
			ASSERT(r.max_out <= BLOCK + cases[k].window);
		}
		ASSERT(r.max_out_all <= 65536);
	}
}

/* While learning, the lead depends on the MSS: with MSS 536 (lwIP's default
 * window 4 x 536 paces) that window past the next boundary, as if the device
 * had it;
 * with MSS 1460 (4 x 1460 is over a block: the common device streams) no
 * lead but the engine's window, so a device whose drain runs on is never
 * starved for a round trip. And once the learnt lower bound is past every
 * window that can pay, the engine streams at once instead of waiting for
 * the learning blocks; a window that may still pay waits for them. */
static void test_learning_lead_and_early_decision(void)
{
	/* early: 1 before the learning blocks, 0 after them, 2 see below */
	static const struct { uint32_t mss, window; int early; } cases[] = {
		{ 536, 2680, 1 }, { 536, 3216, 1 }, { 536, 2144, 0 },
		/* two equal steps before the first flush: the window itself */
		{ 536, 1072, 1 }, { 536, 536, 1 }, { 536, 1608, 1 },
		{ 1460, 2920, 1 }, { 1460, 1460, 0 },
		/* its drain runs on until the engine's window is through, as when
		 * streaming: decided by the first count, a drain of many blocks */
		{ 1460, 5840, 2 },
	};
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		pace_run r;
		run_window(&r, cases[k].mss, cases[k].window);
		fprintf(stderr, "   mss %u window %u: decided at %" PRIu64 ", learning lead %" PRIu64
			" past the block, %" PRIu64 " outstanding\n", cases[k].mss, cases[k].window,
			r.decided_at, r.max_learn_past_block, r.max_learn_out);
		ASSERT(r.decided_at > 0);
		if (cases[k].early == 1)
			ASSERT(r.decided_at < PACE_LEARN_TEST_BLOCKS * BLOCK);
		else if (cases[k].early == 2)
			ASSERT_EQ(r.decided_at, 65536);
		else
			ASSERT(r.decided_at >= PACE_LEARN_TEST_BLOCKS * BLOCK);
		if (cases[k].mss == 536) /* learning paces as lwIP's default window */
			ASSERT(r.max_learn_past_block <= 4 * 536);
		else
			ASSERT_EQ(r.max_learn_out, 65536); /* the engine's default window */
	}
}

/* On a slow medium the segments of one window arrive apart and the device
 * prints a count for each: equal steps of one segment, but not a round trip
 * apart. They are not the window (a 2 x 1460 device read as 1 x 1460 would
 * be paced, which loses to streaming). */
static void test_segment_steps_are_not_the_window(void)
{
	pace_run r;

	memset(&r, 0, sizeof(r));
	r.window = 2920;
	r.owd = 50;
	r.seg_ms = 2;
	simulate(&r, 1460, 0);
	ASSERT_EQ(r.done, 1);
	ASSERT_EQ(r.result, ESPOTA_OK);
	fprintf(stderr, "   mss 1460 window 2920, a segment per 2 ms: state %d learnt %u\n",
		r.state, r.learnt);
	ASSERT_EQ(r.state, ESPOTA__PACE_STREAM);
	ASSERT(r.learnt >= 2920);
}

/* A window from TCP_INFO in the pacing range decides at once; a large one
 * (a host kernel's) is not trusted and the acknowledgements decide. */
static void test_peer_window(void)
{
	pace_run r;

	memset(&r, 0, sizeof(r));
	r.window = 1072;
	simulate(&r, 536, 1072);
	ASSERT_EQ(r.state, ESPOTA__PACE_BLOCKS);
	ASSERT_EQ(r.learnt, 1072);
	ASSERT(r.max_past_block <= 1072);
	ASSERT(r.max_out <= BLOCK + 1072);

	memset(&r, 0, sizeof(r));
	r.window = 1072;
	simulate(&r, 536, 64240);
	ASSERT_EQ(r.state, ESPOTA__PACE_BLOCKS);
	ASSERT_EQ(r.learnt, 1072);
}

/* On a link with a round trip shorter than the device's drain loop, data
 * keeps coming within a drain and a misplaced segment costs less than
 * pacing's waits: the engine streams although the window is in range. */
static void test_short_round_trip_streams(void)
{
	pace_run r;

	memset(&r, 0, sizeof(r));
	r.window = 2144;
	r.owd = -1;
	simulate(&r, 536, 0);
	ASSERT_EQ(r.done, 1);
	ASSERT_EQ(r.result, ESPOTA_OK);
	ASSERT_EQ(r.state, ESPOTA__PACE_STREAM);
}

/* A device that acknowledges only after each whole block shows no window:
 * the engine falls back to one block at a time. */
static void test_block_acks_stop_and_wait(void)
{
	static const uint32_t mss[] = { 536, 1460 }; /* learning with a lead, and streaming */
	size_t k;

	for (k = 0; k < sizeof(mss) / sizeof(mss[0]); k++) {
		pace_run r;
		memset(&r, 0, sizeof(r));
		r.window = 65536;
		r.block_acks = 1;
		simulate(&r, mss[k], 0);
		ASSERT_EQ(r.done, 1);
		ASSERT_EQ(r.result, ESPOTA_OK);
		ASSERT_EQ(r.state, ESPOTA__PACE_BLOCK_SAW);
		ASSERT(r.max_past_acked_block <= BLOCK);
	}
}

TEST_LIST_BEGIN
TEST_ENTRY(test_learns_window)
TEST_ENTRY(test_learning_lead_and_early_decision)
TEST_ENTRY(test_segment_steps_are_not_the_window)
TEST_ENTRY(test_peer_window)
TEST_ENTRY(test_short_round_trip_streams)
TEST_ENTRY(test_block_acks_stop_and_wait)
TEST_LIST_END
