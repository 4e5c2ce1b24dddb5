/*
 * Fleet concurrency: enough uploads at once to use the air, not so many that
 * they starve one another.
 *
 * One access point shares its airtime among its stations. While the air has
 * room, each extra concurrent upload adds its own device's rate; once it is
 * full, extra uploads only split it, and every device waits longer between
 * its segments. An ESP32 gives up after 1 s without data (_ota_timeout) and
 * an ESP8266 host-side stall bound is 10 s, so running every device at once
 * on a busy medium turns slowness into failures and retries
 * (bench/RESULTS.md, the fleet curve). So, unless the caller fixed
 * max_concurrent, the policy searches: it starts with POLICY_START uploads,
 * measures the fleet's acknowledged bytes per second over a window after a
 * settling time (new uploads first shake hands), and multiplies the
 * concurrency by POLICY_GROW while the rate holds (at least POLICY_HOLD of
 * the best seen) and each upload's share of it would stay above
 * POLICY_SHARE_MIN. More uploads on a full medium add no rate, but they are
 * not free to leave out either: a fleet run in waves pays every wave's
 * handshakes and tail, where the medium idles (256 KiB x 100 ESP8266s on
 * 1 MB/s of shared air: 33.1 s at 64, 31.0 s all at once). When the rate
 * falls (a medium that loses to contention), it goes back to the last
 * concurrency that held and keeps it; on a medium too slow for the uploads
 * already running, it keeps only as many as get that share. A fleet of up to POLICY_START runs at
 * once; beyond, devices with their own air lose 2.5 s per doubling to the
 * search.
 */
#include "proto/fleet_policy.h"

#include <stdlib.h>

#define POLICY_START 32
#define POLICY_GROW 2
#define POLICY_SETTLE_MS 1000 /* handshakes and the first windows of new uploads */
#define POLICY_MEASURE_MS 1500
/* A rate within measuring noise of the best still holds; below, the medium
 * is losing to contention. */
#define POLICY_HOLD 0.9
/* An ESP32 gives up after 1 s without data (_ota_timeout). One 1460-byte
 * segment per 250 ms leaves room for a lost segment's round trip and
 * retransmission within that second: 5,840 bytes/s per upload at least. */
#define POLICY_SHARE_MIN 5840.0

int espota__fleet_policy_init(espota__fleet_policy *p, unsigned int max_concurrent,
	size_t nslots, uint64_t now)
{
	p->max = (unsigned int)nslots;
	p->fixed = max_concurrent != 0 || nslots <= POLICY_START;
	p->limit = p->fixed ? p->max : POLICY_START;
	p->settled = p->fixed;
	p->phase_start = now;
	p->bytes = 0;
	p->best_rate = 0;
	p->best_limit = p->limit;
	p->last = p->fixed ? NULL : calloc(nslots, sizeof(*p->last));
	if (!p->fixed && p->last == NULL) {
		p->fixed = p->settled = 1;
		p->limit = p->max;
		return -1;
	}
	return 0;
}

void espota__fleet_policy_observe(espota__fleet_policy *p, size_t slot, uint64_t acked)
{
	if (p->settled || slot >= p->max)
		return;
	/* a slot that moved on to the next device starts from 0 again */
	if (acked > p->last[slot])
		p->bytes += acked - p->last[slot];
	p->last[slot] = acked;
}

unsigned int espota__fleet_policy_limit(espota__fleet_policy *p, uint64_t now)
{
	uint64_t t = now - p->phase_start;

	if (p->settled)
		return p->limit;
	if (t < POLICY_SETTLE_MS) {
		p->bytes = 0; /* count from the end of the settling time */
		return p->limit;
	}
	if (t < POLICY_SETTLE_MS + POLICY_MEASURE_MS)
		return p->limit;
	{
		double rate = (double)p->bytes * 1000.0 / (double)(t - POLICY_SETTLE_MS);
		unsigned int next = p->limit * POLICY_GROW < p->max ? p->limit * POLICY_GROW : p->max;

		if (rate < p->best_rate * POLICY_HOLD) {
			p->limit = p->best_limit; /* the last one that held */
			p->settled = 1;
		} else {
			if (rate > p->best_rate)
				p->best_rate = rate;
			p->best_limit = p->limit;
			if (p->limit < p->max && rate / (double)next >= POLICY_SHARE_MIN) {
				p->limit = next;
			} else {
				/* already too thin (a slow medium): fewer, each with its share */
				double fit = rate / POLICY_SHARE_MIN;
				if (fit < (double)p->limit)
					p->limit = p->best_limit = fit >= 1.0 ? (unsigned int)fit : 1;
				p->settled = 1;
			}
		}
	}
	p->phase_start = now;
	p->bytes = 0;
	return p->limit;
}

void espota__fleet_policy_free(espota__fleet_policy *p)
{
	free(p->last);
	p->last = NULL;
}
