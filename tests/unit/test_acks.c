/*
 * The acknowledgement rule (acks.c): the totals a device's merged decimal
 * counts can mean. A property test drives 10,000 randomized streams from
 * honest and lying devices of every platform through it.
 */
#include "test.h"
#include "proto/acks.h"

/* The sanitizer builds run a fifth of the streams (they are 3x slower);
 * the plain build runs all 10,000. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? rng_state % n : 0;
}

static void feed(espota__acks *a, const char *s, uint64_t sent)
{
	for (; *s; s++)
		espota__acks_digit(a, *s, sent);
}

static void test_issue14_cases(void)
{
	static espota__acks a;

	/* "1000OK" after 60,000 bytes (ESP32 and unknown platform) */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 60000);
	feed(&a, "1000", 60000);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 60000));
	ASSERT_EQ(espota__acks_best(&a), 1000);
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_UNKNOWN, 60000);
	feed(&a, "1000", 60000);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 60000));

	/* "1" then OK */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_UNKNOWN, 60000);
	feed(&a, "1", 60000);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 60000));

	/* more than was sent: 61,000 of 60,000 dies on the digit that passes it */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_UNKNOWN, 60000);
	feed(&a, "60000", 60000);
	ASSERT(!espota__acks_dead(&a));
	feed(&a, "1000", 60000);
	ASSERT(espota__acks_dead(&a));
	ASSERT(!espota__acks_can_total(&a, 60000));

	/* cumulative counts (1460, 2920, 4380) for a 4380-byte image */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 4380);
	feed(&a, "1460", 1460);
	feed(&a, "2920", 2920);
	ASSERT(espota__acks_dead(&a) || !espota__acks_can_total(&a, 4380));

	/* honest merged ESP32 counts and a repeated last count */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 4096);
	feed(&a, "10241024", 2048);
	feed(&a, "1024", 2048); /* re-sent while waiting */
	feed(&a, "10241024", 4096);
	espota__acks_close(&a);
	ASSERT(espota__acks_can_total(&a, 4096));

	/* ESP8266 never repeats: the same count again can only be read as
	 * small counts, never as the whole image */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP8266, 4096);
	feed(&a, "2048", 2048);
	feed(&a, "2048", 2048);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 4096));
	ASSERT(espota__acks_best(&a) <= 2048);

	/* ESP8266 counts can exceed 1460 (Update.write(client) reads all that
	 * is available) */
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP8266, 8192);
	feed(&a, "4096", 4096);
	feed(&a, "4096", 8192);
	espota__acks_close(&a);
	ASSERT(espota__acks_can_total(&a, 8192));
	espota__acks_free(&a);
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 8192);
	feed(&a, "4096", 4096); /* no ESP32 read is that big: 4|096? never 0-led */
	feed(&a, "4096", 8192);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 8192));
	espota__acks_free(&a);
}

/* One simulated upload. lie: 0 honest; 1 stops reading early and says OK;
 * 2 cumulative counts; 3 acknowledges one byte more than it read.
 * Returns 1 when the rule accepts the image length. */
/* The digits a stream fed, with what was sent when each came: the input of
 * the witness search below, recorded here apart from the module's log. */
static unsigned char rec_d[1 << 20];
static uint64_t rec_sent[1 << 20];
static size_t rec_n;

static void digit(espota__acks *a, char c, uint64_t sent)
{
	if (rec_n < sizeof(rec_d)) {
		rec_d[rec_n] = (unsigned char)(c - '0');
		rec_sent[rec_n++] = sent;
	}
	espota__acks_digit(a, c, sent);
}

/*
 * An independent check of an acceptance: a depth-first search for one
 * parse of the recorded digits into counts (1..maxc, never 0-led, each
 * printed up to `copies` times in a row, adding once), every digit of a
 * count's first copy within what was sent when it came, adding up to len.
 * Largest counts first: real parses are found at once. Returns 1 with a
 * witness, 0 when none exists, -1 when the step budget ran out.
 */
typedef struct { size_t i; uint64_t sum; unsigned t, k; } frame;
static frame stack_[1 << 20];
static int64_t most[(1 << 20) + 1];

static int witness(uint64_t len, uint64_t maxc, unsigned copies, unsigned long budget)
{
	size_t sp = 0;
	unsigned tmax = 1;
	uint64_t m = maxc;
	unsigned char *seen;
	size_t cells;
	int found = 0;

	while (m >= 10) {
		m /= 10;
		tmax++;
	}
	cells = (rec_n + 1) * (size_t)(len + 1);
	seen = calloc(cells / 8 + 1, 1); /* (position, sum) pairs tried */
	if (!seen)
		return -1;
	/* most[i]: the most the digits from i can add (prunes hopeless sums) */
	most[rec_n] = 0;
	for (size_t i = rec_n; i-- > 0;) {
		int64_t best = -1;
		uint64_t c = 0;
		for (unsigned t = 1; t <= tmax && i + t <= rec_n && rec_d[i] != 0; t++) {
			c = c * 10 + rec_d[i + t - 1];
			if (c > maxc)
				break;
			for (unsigned k = 1; k <= copies && i + (size_t)t * k <= rec_n; k++) {
				if (k > 1 && memcmp(rec_d + i, rec_d + i + (size_t)(k - 1) * t, t) != 0)
					break;
				if (most[i + (size_t)t * k] >= 0 && (int64_t)c + most[i + (size_t)t * k] > best)
					best = (int64_t)c + most[i + (size_t)t * k];
			}
		}
		most[i] = best;
	}
	stack_[sp++] = (frame){ 0, 0, tmax + 1, 0 };
	while (sp > 0 && !found) {
		frame *f = &stack_[sp - 1];
		uint64_t v = 0;
		unsigned q;
		int ok = 1;

		if (budget-- == 0) {
			free(seen);
			return -1;
		}
		if (f->i == rec_n) {
			found = f->sum == len;
			sp--;
			continue;
		}
		/* next choice: fewer copies, then a shorter count */
		if (f->k == 0 || f->k == 1) {
			if (f->t <= 1) {
				sp--;
				continue;
			}
			f->t--;
			f->k = copies;
		} else {
			f->k--;
		}
		if (f->i + (size_t)f->t * f->k > rec_n || rec_d[f->i] == 0)
			continue;
		for (q = 0; q < f->t && ok; q++) {
			v = v * 10 + rec_d[f->i + q];
			ok = f->sum + v <= rec_sent[f->i + q];
		}
		if (!ok || v > maxc || f->sum + v > len)
			continue;
		{
			size_t ni = f->i + (size_t)f->t * f->k;
			if (most[ni] < 0 || f->sum + v + (uint64_t)most[ni] < len)
				continue;
		}
		for (q = 1; q < f->k && ok; q++)
			ok = memcmp(rec_d + f->i, rec_d + f->i + (size_t)q * f->t, f->t) == 0;
		if (!ok)
			continue;
		{
			size_t ni = f->i + (size_t)f->t * f->k, cell = ni * (size_t)(len + 1) + (size_t)(f->sum + v);
			if (seen[cell / 8] & (1u << (cell % 8)))
				continue;
			seen[cell / 8] |= (unsigned char)(1u << (cell % 8));
			if (sp < sizeof(stack_) / sizeof(stack_[0]))
				stack_[sp++] = (frame){ ni, f->sum + v, tmax + 1, 0 };
		}
	}
	free(seen);
	return found;
}

static int witness_for(espota_platform plat, uint64_t len)
{
	int r = 0;

	if (plat != ESPOTA_PLATFORM_ESP32)
		r = witness(len, len, 1, 20000000ul);
	if (r != 1 && plat != ESPOTA_PLATFORM_ESP8266) {
		int r32 = witness(len, 1460, 4, 20000000ul);
		r = r32 == 1 ? 1 : (r < 0 || r32 < 0 ? -1 : 0);
	}
	return r;
}

/* What the device reads next of what was sent: what it has, in its own
 * pieces; segments arrive whole, a few at a time; now and then a read is
 * cut. A liar (lie 1) stops reading at `stop`. */
static uint64_t device_read(uint64_t sent, uint64_t read, uint64_t stop, uint64_t maxread,
	uint64_t seg)
{
	uint64_t r = sent - read;

	if (r > maxread)
		r = maxread;
	if (r > seg && rnd(2) == 0)
		r = seg * (1 + rnd(r / seg));
	if (r > 1 && rnd(10) == 0)
		r = 1 + rnd(r);
	if (read + r > stop)
		r = stop - read;
	return r;
}

/* The count it prints for a read of r: honest, cumulative (lie 2), or one
 * too many at the end (lie 3). */
static uint64_t device_count(int lie, uint64_t read, uint64_t stop, uint64_t r)
{
	return lie == 2 ? read : (lie == 3 && read == stop ? r + 1 : r);
}

static int run_stream(espota_platform plat, espota_platform real, int lie, uint64_t len,
	uint64_t window, uint64_t maxread, uint64_t seg, int *dropped)
{
	espota__acks a;
	char pipe[65536];
	size_t np = 0;
	uint64_t sent = 0, read = 0, stop = len, reported = 0;
	int repeats = 0;
	unsigned guard = 0;

	rec_n = 0;
	espota__acks_init(&a, plat, len);
	if (lie == 1)
		stop = 1 + rnd(len - 1);
	while (read < stop && guard++ < 1000000) {
		uint64_t r;
		int n;

		/* the host keeps up to a window ahead of the device */
		if (sent < len && sent < read + window)
			sent = read + window < len ? read + window : len;
		r = device_read(sent, read, stop, maxread, seg);
		if (r > 0) {
			read += r;
			reported = device_count(lie, read, stop, r);
			n = snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
			np += (size_t)n;
			repeats = 0;
		}
		/* an ESP32 caught up and waiting re-prints its last count */
		if (real == ESPOTA_PLATFORM_ESP32 && reported && repeats < 3 && rnd(50) == 0) {
			n = snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
			np += (size_t)n;
			repeats++;
		}
		/* the host reads some of what came (merged, or split mid-count) */
		if (np > 0 && (rnd(3) != 0 || np > 60000)) {
			/* mostly whole counts (segments arrive whole); now and then
			 * a read ends inside one */
			size_t take = rnd(100) == 0 ? 1 + (size_t)rnd(np) : np, i;
			for (i = 0; i < take; i++)
				digit(&a, pipe[i], sent);
			espota__acks_boundary(&a);
			memmove(pipe, pipe + take, np - take);
			np -= take;
		}
		if (read >= stop && sent < len)
			sent = len; /* the liar leaves the rest unread; all was sent */
	}
	sent = len;
	{
		size_t i;
		for (i = 0; i < np; i++)
			digit(&a, pipe[i], sent);
	}
	espota__acks_close(&a);
	*dropped = a.dropped;
	/* the engine's verdict (engine.c finish_ok) */
	{
		int kept = espota__acks_can_total(&a, len), v;
		int x = kept ? 1 : espota__acks_exact(&a, len);
		if (x == 1 || (x < 0 && kept))
			v = 1;
		else
			v = x < 0 && a.dropped ? 2 : 0;
		espota__acks_free(&a);
		return v;
	}
}


/* The count a repeat re-prints: the last real one before it. */
static uint64_t reported_of(const uint64_t *counts, size_t i)
{
	while (i > 0 && counts[i] == 0)
		i--;
	return counts[i];
}

/*
 * The running figure (espota__acks_running) drives the engine's window:
 * here the host sends up to figure + window, as the engine does, so a
 * figure that lags shuts the window. Honest and lying devices: the figure
 * never goes back and never passes what was sent. Honest ones: the upload
 * never deadlocks (when the device has read all that was sent and the
 * window is shut, the quiet check espota__acks_caught_up must reopen it)
 * and the figure ends at the image. Over- and underestimates against what
 * the device has acknowledged are measured and printed.
 */
typedef struct running_stats {
	unsigned streams, honest, deadlocks, quiet_used, short_end, short_refused;
	unsigned long checks, over, under;
	uint64_t max_over;
} running_stats;

static int running_stream(espota_platform plat, espota_platform real, int lie, uint64_t len,
	uint64_t window, uint64_t maxread, uint64_t seg, running_stats *rs)
{
	espota__acks a;
	char pipe[65536];
	uint64_t counts[8192];
	size_t np = 0, nc = 0, cfed = 0, cdig = 0;
	uint64_t sent = 0, read = 0, stop = len, reported = 0, fig = 0, truth = 0;
	int repeats = 0, ok = 1;
	unsigned guard = 0;

	espota__acks_init(&a, plat, len);
	if (lie == 1)
		stop = 1 + rnd(len - 1);
	while (guard++ < 1000000) {
		uint64_t r;

		/* the engine's window, from the running figure */
		if (sent < len && sent < fig + window)
			sent = fig + window < len ? fig + window : len;
		r = device_read(sent, read, stop, maxread, seg);
		if (r > 0 && nc < sizeof(counts) / sizeof(counts[0])) {
			read += r;
			reported = device_count(lie, read, stop, r);
			np += (size_t)snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
			counts[nc++] = reported;
			repeats = 0;
		}
		if (real == ESPOTA_PLATFORM_ESP32 && reported && repeats < 3 && rnd(50) == 0 &&
			nc < sizeof(counts) / sizeof(counts[0])) {
			np += (size_t)snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
			counts[nc++] = 0; /* a repeat adds nothing */
			repeats++;
		}
		if (np > 0 && (rnd(3) != 0 || np > 60000 || r == 0)) {
			size_t take = rnd(100) == 0 ? 1 + (size_t)rnd(np) : np, i;
			for (i = 0; i < take; i++) {
				espota__acks_digit(&a, pipe[i], sent);
				/* what the device has acknowledged: its counts fed whole */
				if (++cdig == (size_t)snprintf(NULL, 0, "%" PRIu64,
					counts[cfed] ? counts[cfed] : reported_of(counts, cfed))) {
					truth += counts[cfed++];
					cdig = 0;
				}
			}
			espota__acks_boundary(&a);
			memmove(pipe, pipe + take, np - take);
			np -= take;
			{
				uint64_t f = espota__acks_running(&a, sent);
				if (f < fig || f > sent)
					ok = 0;
				fig = f;
			}
			if (lie == 0) {
				rs->checks++;
				if (fig > truth) {
					rs->over++;
					if (fig - truth > rs->max_over)
						rs->max_over = fig - truth;
				} else if (fig < truth) {
					rs->under++;
				}
			}
		}
		if (read >= stop) {
			if (np == 0)
				break;
			continue;
		}
		/* nothing left to read or print, and the window is shut: the
		 * engine's quiet check */
		if (np == 0 && read == sent && sent < len && sent >= fig + window) {
			if (espota__acks_caught_up(&a, sent)) {
				fig = espota__acks_running(&a, sent);
				rs->quiet_used += lie == 0;
			}
			if (sent >= fig + window) {
				rs->deadlocks += lie == 0;
				break;
			}
		}
	}
	espota__acks_close(&a);
	{
		uint64_t f = espota__acks_running(&a, len);
		if (f < fig || f > len)
			ok = 0;
		/* short of the image until the device's OK, which the exact
		 * decision then accepts (engine finish_ok) */
		if (lie == 0 && read == len && f != len) {
			rs->short_end++;
			if (espota__acks_exact(&a, len) != 1)
				rs->short_refused++;
		}
	}
	espota__acks_free(&a);
	return ok;
}

/* Honest devices are never refused. Lying devices are counted by verdict:
 * refused (their counts cannot add up to the image), accepted because some
 * reading of their merged digits does add up (indistinguishable from an
 * honest device), or accepted on the device's OK where the digits had more
 * readings than the rule keeps (docs/protocol.md). */
static void test_property_streams(void)
{
	static const espota_platform plats[] = { ESPOTA_PLATFORM_ESP8266, ESPOTA_PLATFORM_ESP32,
		ESPOTA_PLATFORM_UNKNOWN };
	static const uint64_t mss[] = { 536, 1460 };
	unsigned i, false_fail = 0, false_ok = 0, refused = 0, honest = 0, liars = 0, by_ok = 0,
		capped = 0, consistent = 0, unproven = 0;
	unsigned count = getenv("ESPOTA_TEST_UNDER_VALGRIND") ? 200 : SANITIZED ? 2000 : 10000;

	if (getenv("ACKS_N"))
		count = (unsigned)atoi(getenv("ACKS_N"));
	for (i = 0; i < count; i++) {
		espota_platform plat = plats[rnd(3)];
		uint64_t m = mss[rnd(2)];
		uint64_t window = m * (1 + rnd(8));
		uint64_t len = 1 + rnd(i % 20 == 0 ? 300000 : 40000);
		/* a device of unknown platform is still one of the two cores */
		espota_platform real = plat != ESPOTA_PLATFORM_UNKNOWN ? plat :
			rnd(2) ? ESPOTA_PLATFORM_ESP32 : ESPOTA_PLATFORM_ESP8266;
		uint64_t maxread = real == ESPOTA_PLATFORM_ESP32 ? 1460 : (rnd(2) ? m : 4 * m);
		int lie = (int)rnd(4), dropped = 0, v;

		if (lie == 1 && len < 2)
			lie = 0;
		v = run_stream(plat, real, lie, len, window, maxread, m, &dropped);
		capped += dropped != 0;
		if (lie == 0) {
			honest++;
			false_fail += v != 1;
			continue;
		}
		liars++;
		refused += v == 0;
		by_ok += v == 2;
		if (v == 1) {
			/* accepted: only right if some parse of its digits does add
			 * up (then no host can tell it from an honest device) */
			int w = witness_for(plat, len);
			consistent += w == 1;
			false_ok += w == 0;
			unproven += w < 0;
		}
	}
	printf("acknowledgement rule: %u honest streams, %u false failures; %u lying streams: "
		"%u refused, %u accepted with a parse that adds up (indistinguishable from honest), "
		"%u accepted with none (false successes), %u unproven, %u decided by the device's "
		"OK; %u streams had more readings than the online set keeps\n", honest, false_fail,
		liars, refused, consistent, false_ok, unproven, by_ok, capped);
	fflush(stdout);
	ASSERT_EQ(false_fail, 0);
	ASSERT_EQ(false_ok, 0);
	ASSERT_EQ(by_ok, 0);
	/* most lies are caught: guards against a rule that accepts anything */
	ASSERT(refused * 10 >= liars * 8);
}


static void test_running_figure(void)
{
	static const espota_platform plats[] = { ESPOTA_PLATFORM_ESP8266, ESPOTA_PLATFORM_ESP32,
		ESPOTA_PLATFORM_UNKNOWN };
	static const uint64_t mss[] = { 536, 1460 };
	running_stats rs = { 0 };
	unsigned i, bad = 0, honest = 0;
	unsigned count = getenv("ESPOTA_TEST_UNDER_VALGRIND") ? 50 : SANITIZED ? 300 : 1500;

	if (getenv("ACKS_RUNNING_N"))
		count = (unsigned)atoi(getenv("ACKS_RUNNING_N"));
	for (i = 0; i < count; i++) {
		espota_platform plat, real;
		uint64_t m, window, len, maxread;
		int lie;

		/* each stream its own seed: a change in one does not move the rest */
		rng_state = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull);
		plat = plats[rnd(3)];
		m = mss[rnd(2)];
		window = m * (1 + rnd(8));
		len = 1 + rnd(i % 20 == 0 ? 300000 : 40000);
		real = plat != ESPOTA_PLATFORM_UNKNOWN ? plat :
			rnd(2) ? ESPOTA_PLATFORM_ESP32 : ESPOTA_PLATFORM_ESP8266;
		maxread = real == ESPOTA_PLATFORM_ESP32 ? 1460 : (rnd(2) ? m : 4 * m);
		lie = (int)rnd(4);
		if (lie == 1 && len < 2)
			lie = 0;
		honest += lie == 0;
		bad += !running_stream(plat, real, lie, len, window, maxread, m, &rs);
	}
	printf("running figure: %u streams (%u honest): %u went back or passed what was sent; "
		"honest: %u deadlocks, %u reopened by the quiet check, %u ended short of the image "
		"before the OK (%u of them refused); "
		"%lu readings of the figure, %lu above what the device had acknowledged (at most %"
		PRIu64 " bytes), %lu below\n", count, honest, bad, rs.deadlocks, rs.quiet_used,
		rs.short_end, rs.short_refused, rs.checks, rs.over, rs.max_over, rs.under);
	fflush(stdout);
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(rs.deadlocks, 0);
	ASSERT_EQ(rs.short_refused, 0);
	ASSERT(honest > count / 8);
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_issue14_cases)
	TEST_ENTRY(test_property_streams)
	TEST_ENTRY(test_running_figure)
TEST_LIST_END
