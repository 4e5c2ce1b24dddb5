/*
 * The acknowledgement rule (acks.c): the totals a device's merged decimal
 * counts can mean. A property test drives 10,000 randomized streams from
 * honest and lying devices of every platform through it.
 */
#include "test.h"
#include "acks.h"

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
	espota__acks a;

	/* "1000OK" after 60,000 bytes (ESP32 and unknown platform) */
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 60000);
	feed(&a, "1000", 60000);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 60000));
	ASSERT_EQ(espota__acks_best(&a), 1000);
	espota__acks_init(&a, ESPOTA_PLATFORM_UNKNOWN, 60000);
	feed(&a, "1000", 60000);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 60000));

	/* "1" then OK */
	espota__acks_init(&a, ESPOTA_PLATFORM_UNKNOWN, 60000);
	feed(&a, "1", 60000);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 60000));

	/* more than was sent: 61,000 of 60,000 dies on the digit that passes it */
	espota__acks_init(&a, ESPOTA_PLATFORM_UNKNOWN, 60000);
	feed(&a, "60000", 60000);
	ASSERT(!espota__acks_dead(&a));
	feed(&a, "1000", 60000);
	ASSERT(espota__acks_dead(&a));
	ASSERT(!espota__acks_can_total(&a, 60000));

	/* cumulative counts (1460, 2920, 4380) for a 4380-byte image */
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 4380);
	feed(&a, "1460", 1460);
	feed(&a, "2920", 2920);
	ASSERT(espota__acks_dead(&a) || !espota__acks_can_total(&a, 4380));

	/* honest merged ESP32 counts and a repeated last count */
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 4096);
	feed(&a, "10241024", 2048);
	feed(&a, "1024", 2048); /* re-sent while waiting */
	feed(&a, "10241024", 4096);
	espota__acks_close(&a);
	ASSERT(espota__acks_can_total(&a, 4096));

	/* ESP8266 never repeats: the same count again can only be read as
	 * small counts, never as the whole image */
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP8266, 4096);
	feed(&a, "2048", 2048);
	feed(&a, "2048", 2048);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 4096));
	ASSERT(espota__acks_best(&a) <= 2048);

	/* ESP8266 counts can exceed 1460 (Update.write(client) reads all that
	 * is available) */
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP8266, 8192);
	feed(&a, "4096", 4096);
	feed(&a, "4096", 8192);
	espota__acks_close(&a);
	ASSERT(espota__acks_can_total(&a, 8192));
	espota__acks_init(&a, ESPOTA_PLATFORM_ESP32, 8192);
	feed(&a, "4096", 4096); /* no ESP32 read is that big: 4|096? never 0-led */
	feed(&a, "4096", 8192);
	espota__acks_close(&a);
	ASSERT(!espota__acks_can_total(&a, 8192));
}

/* One simulated upload. lie: 0 honest; 1 stops reading early and says OK;
 * 2 cumulative counts; 3 acknowledges one byte more than it read.
 * Returns 1 when the rule accepts the image length. */
static int run_stream(espota_platform plat, int lie, uint64_t len, uint64_t window,
	uint64_t maxread, uint64_t seg, int *dropped)
{
	espota__acks a;
	char pipe[65536];
	size_t np = 0;
	uint64_t sent = 0, read = 0, stop = len, reported = 0;
	int repeats = 0;
	unsigned guard = 0;

	espota__acks_init(&a, plat, len);
	if (lie == 1)
		stop = 1 + rnd(len - 1);
	while (read < stop && guard++ < 1000000) {
		uint64_t r;
		int n;

		/* the host keeps up to a window ahead of the device */
		if (sent < len && sent < read + window)
			sent = read + window < len ? read + window : len;
		/* the device reads what it has, in its own pieces */
		r = sent - read;
		if (r > maxread)
			r = maxread;
		/* segments arrive whole, a few at a time; now and then a read is cut */
		if (r > seg && rnd(2) == 0)
			r = seg * (1 + rnd(r / seg));
		if (r > 1 && rnd(10) == 0)
			r = 1 + rnd(r);
		if (read + r > stop)
			r = stop - read;
		if (r > 0) {
			read += r;
			reported = lie == 2 ? read : (lie == 3 && read == stop ? r + 1 : r);
			n = snprintf(pipe + np, sizeof(pipe) - np, "%" PRIu64, reported);
			np += (size_t)n;
			repeats = 0;
		}
		/* an ESP32 caught up and waiting re-prints its last count */
		if (plat != ESPOTA_PLATFORM_ESP8266 && reported && repeats < 3 && rnd(50) == 0) {
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
				espota__acks_digit(&a, pipe[i], sent);
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
			espota__acks_digit(&a, pipe[i], sent);
	}
	espota__acks_close(&a);
	*dropped = a.dropped;
	/* the engine's verdict (engine.c finish_ok) */
	if (espota__acks_can_total(&a, len))
		return 1;
	return a.dropped ? 2 : 0;
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
	unsigned i, false_fail = 0, refused = 0, honest = 0, liars = 0, by_ok = 0, capped = 0;
	unsigned count = getenv("ESPOTA_TEST_UNDER_VALGRIND") ? 200 : 5000;

	if (getenv("ACKS_N"))
		count = (unsigned)atoi(getenv("ACKS_N"));
	for (i = 0; i < count; i++) {
		espota_platform plat = plats[rnd(3)];
		uint64_t m = mss[rnd(2)];
		uint64_t window = m * (1 + rnd(8));
		uint64_t len = 1 + rnd(i % 20 == 0 ? 300000 : 40000);
		uint64_t maxread = plat == ESPOTA_PLATFORM_ESP32 ? 1460 : (rnd(2) ? m : 4 * m);
		int lie = (int)rnd(4), dropped = 0, v;

		if (lie == 1 && len < 2)
			lie = 0;
		if (plat == ESPOTA_PLATFORM_UNKNOWN && rnd(2))
			maxread = 1460;
		v = run_stream(plat, lie, len, window, maxread, m, &dropped);
		capped += dropped != 0;
		if (lie == 0) {
			honest++;
			false_fail += v == 0;
		} else {
			liars++;
			refused += v == 0;
			by_ok += v == 2;
		}
	}
	printf("acknowledgement rule: %u honest streams, %u false failures; %u lying streams: "
		"%u refused, %u read as adding up, %u accepted on the device's OK (more readings "
		"than kept); %u streams hit the reading cap\n", honest, false_fail, liars, refused,
		liars - refused - by_ok, by_ok, capped);
	fflush(stdout);
	ASSERT_EQ(false_fail, 0);
	/* most lies are caught: guards against a rule that accepts anything */
	ASSERT(refused * 10 >= liars);
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_issue14_cases)
	TEST_ENTRY(test_property_streams)
TEST_LIST_END
