/*
 * Fleet concurrency policy (proto/fleet_policy.c) against a model medium in
 * simulated time: no sockets, no clock. Every slot below the policy's limit
 * runs an upload whose acknowledged count grows at its share of the air:
 * min(its device's own rate, airtime / uploads running). Past `knee`
 * uploads (0: none) the medium loses 30 % to contention.
 */
#include "test.h"
#include "proto/fleet_policy.h"

#define SLOTS 200
#define STEP_MS 10
#define STEPS 3000 /* 30 s of simulated time, a bound */

typedef struct {
	unsigned int final_limit, peak;
	uint64_t settled_at; /* ms; 0 = never */
} policy_run;

/* per_dev and air in bytes per second; air 0 = every device its own air */
static void run_policy_knee(policy_run *r, unsigned int max_concurrent, size_t nslots,
	double per_dev, double air, unsigned int knee)
{
	espota__fleet_policy p;
	static double acked[SLOTS];
	unsigned int limit, i;
	int t;

	memset(r, 0, sizeof(*r));
	memset(acked, 0, sizeof(acked));
	ASSERT(nslots <= SLOTS);
	ASSERT_EQ(espota__fleet_policy_init(&p, max_concurrent, nslots, 0), 0);
	limit = espota__fleet_policy_limit(&p, 0);
	for (t = 1; t <= STEPS; t++) {
		uint64_t now = (uint64_t)t * STEP_MS;
		double share = per_dev, medium = knee && limit > knee ? air * 0.7 : air;
		if (medium > 0 && medium / limit < share)
			share = medium / limit;
		for (i = 0; i < limit; i++) {
			acked[i] += share * STEP_MS / 1000.0;
			espota__fleet_policy_observe(&p, i, (uint64_t)acked[i]);
		}
		limit = espota__fleet_policy_limit(&p, now);
		ASSERT(limit >= 1 && limit <= nslots);
		if (limit > r->peak)
			r->peak = limit;
		if (p.settled && r->settled_at == 0)
			r->settled_at = now;
	}
	r->final_limit = limit;
	/* a slot that moves on to its next device starts from 0: no wrap */
	espota__fleet_policy_observe(&p, 0, 0);
	espota__fleet_policy_free(&p);
}

static void run_policy(policy_run *r, unsigned int max_concurrent, size_t nslots, double per_dev,
	double air)
{
	run_policy_knee(r, max_concurrent, nslots, per_dev, air, 0);
}

/* A caller's max_concurrent (fleet.c makes that many slots), or a fleet no
 * larger than the start, runs as is. */
static void test_fixed(void)
{
	policy_run r;

	run_policy(&r, 7, 7, 40000, 1000000);
	ASSERT_EQ(r.final_limit, 7);
	ASSERT_EQ(r.peak, 7);
	run_policy(&r, 0, 20, 40000, 1000000);
	ASSERT_EQ(r.final_limit, 20);
	ASSERT_EQ(r.peak, 20);
}

/* Devices with their own air: every doubling adds its devices' rate, so the
 * policy grows to the whole fleet (32, 64, 128, 200) and settles there. */
static void test_own_air_grows_to_all(void)
{
	policy_run r;

	run_policy(&r, 0, 200, 40000, 0);
	ASSERT_EQ(r.final_limit, 200);
	ASSERT(r.settled_at > 0);
}

/* One access point full from 25 devices (25 x 40 kB/s = 1 MB/s): doubling
 * adds no rate but holds it, so the policy goes on (fewer waves, fewer
 * idle handshakes and tails) while each upload keeps 5,840 bytes/s: 32, 64,
 * 128, and not 200 (5,000 each). */
static void test_full_air_grows_to_the_share_floor(void)
{
	policy_run r;

	run_policy(&r, 0, 200, 40000, 1000000);
	ASSERT_EQ(r.final_limit, 128);
	ASSERT_EQ(r.peak, 128);
	ASSERT(r.settled_at > 0 && r.settled_at <= 8000);
}

/* A medium that loses 30 % past 64 uploads: 128 falls below the best, so
 * the policy goes back to 64 and keeps it. */
static void test_contention_goes_back(void)
{
	policy_run r;

	run_policy_knee(&r, 0, 200, 40000, 2400000, 64);
	ASSERT_EQ(r.final_limit, 64);
	ASSERT_EQ(r.peak, 128);
}

/* 100 kB/s for 32 uploads is 3,125 bytes/s each, too thin for an ESP32's
 * 1 s timeout: the policy keeps 17 (100,000 / 5,840). */
static void test_slow_medium_keeps_fewer(void)
{
	policy_run r;

	run_policy(&r, 0, 200, 40000, 100000);
	ASSERT_EQ(r.final_limit, 17);
	ASSERT_EQ(r.peak, 32);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_fixed)
TEST_ENTRY(test_own_air_grows_to_all)
TEST_ENTRY(test_full_air_grows_to_the_share_floor)
TEST_ENTRY(test_contention_goes_back)
TEST_ENTRY(test_slow_medium_keeps_fewer)
TEST_LIST_END
