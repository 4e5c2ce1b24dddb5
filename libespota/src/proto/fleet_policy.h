/*
 * Internal: how many uploads a fleet runs at once (fleet_policy.c).
 *
 * The fleet calls espota__fleet_policy_observe() for every running slot with
 * its acknowledged byte count, and starts a new upload in slot i only while
 * i < espota__fleet_policy_limit().
 */
#ifndef ESPOTA_SRC_FLEET_POLICY_H
#define ESPOTA_SRC_FLEET_POLICY_H

#include <stddef.h>
#include <stdint.h>

typedef struct espota__fleet_policy {
	unsigned int max;        /* slots there are */
	unsigned int limit;      /* slots that may start uploads now */
	int fixed;               /* the caller chose max_concurrent: no search */
	int settled;
	uint64_t phase_start;    /* when `limit` last changed (ms) */
	uint64_t bytes;          /* acknowledged in the current measuring window */
	double best_rate;        /* bytes/s of the best concurrency so far */
	unsigned int best_limit;
	uint64_t *last;          /* per slot: acknowledged count last observed */
} espota__fleet_policy;

/* max_concurrent as the caller gave it (0: choose), nslots the slots the
 * fleet has (its upper bound). Returns 0, or -1 without memory (then the
 * policy runs every slot: max_concurrent's old meaning). */
int espota__fleet_policy_init(espota__fleet_policy *p, unsigned int max_concurrent,
	size_t nslots, uint64_t now);
void espota__fleet_policy_observe(espota__fleet_policy *p, size_t slot, uint64_t acked);
unsigned int espota__fleet_policy_limit(espota__fleet_policy *p, uint64_t now);
void espota__fleet_policy_free(espota__fleet_policy *p);

#endif
