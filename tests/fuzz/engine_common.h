/*
 * Shared driver for the engine fuzzers: drains events after every input and
 * checks the invariants every driver relies on.
 */
#ifndef ESPOTA_FUZZ_ENGINE_COMMON_H
#define ESPOTA_FUZZ_ENGINE_COMMON_H

#include "fuzz.h"

#include "proto/engine.h"

/* Distinctive, so a leak into a log line or datagram is unmistakable. */
#define FUZZ_PASSWORD "Pw-s3cr3t-z9"

typedef struct fuzz_driver {
	espota__engine *e;
	uint64_t now;
	int dones;
	int result;
	int need_password;
	unsigned int udp_sent;
	int echo;               /* the input itself contains the password */
	uint64_t last_acked;    /* progress.acked never goes backwards */
} fuzz_driver;

static inline void fuzz_drain(fuzz_driver *d)
{
	espota__engine *e = d->e;
	espota__event ev;

	while (espota__engine_next_event(e, &ev)) {
		FUZZ_ASSERT(ev.type != ESPOTA__EV_NONE);
		/* Nothing but log lines after the result. */
		FUZZ_ASSERT(d->dones == 0 || ev.type == ESPOTA__EV_LOG);
		if (ev.msg != NULL) {
			FUZZ_ASSERT(memchr(ev.msg, '\0', ESPOTA__MSG_SIZE) != NULL);
			/* A device may echo anything, which is then quoted. */
			FUZZ_ASSERT(d->echo || strstr(ev.msg, FUZZ_PASSWORD) == NULL);
		}
		switch (ev.type) {
		case ESPOTA__EV_SEND_UDP:
			FUZZ_ASSERT(ev.data != NULL && ev.len > 0 && ev.len < 200);
			FUZZ_ASSERT(!fuzz_contains(ev.data, ev.len, FUZZ_PASSWORD));
			FUZZ_ASSERT(ev.data[ev.len - 1] == '\n');
			/* An invitation ("0 ..."/"100 ...") or an answer ("200 ..."). */
			FUZZ_ASSERT(ev.data[0] == '0' || ev.data[0] == '1' || ev.data[0] == '2');
			d->udp_sent++;
			break;
		case ESPOTA__EV_NEED_PASSWORD:
			FUZZ_ASSERT(ev.scheme != ESPOTA_AUTH_NONE);
			FUZZ_ASSERT(!e->have_password);
			d->need_password++;
			break;
		case ESPOTA__EV_PROGRESS:
			FUZZ_ASSERT(e->progress.acked <= e->progress.sent);
			FUZZ_ASSERT(e->progress.sent <= e->progress.total);
			FUZZ_ASSERT(e->progress.total == e->cfg.len);
			FUZZ_ASSERT(e->progress.acked >= d->last_acked);
			d->last_acked = e->progress.acked;
			break;
		case ESPOTA__EV_LOG:
			FUZZ_ASSERT((int)ev.level >= (int)ESPOTA_LOG_ERROR && (int)ev.level <= (int)ESPOTA_LOG_DEBUG);
			break;
		case ESPOTA__EV_DONE:
			FUZZ_ASSERT(e->finished);
			FUZZ_ASSERT(ev.result == e->result);
			FUZZ_ASSERT(ev.result <= 0);
			d->dones++;
			d->result = ev.result;
			break;
		default:
			FUZZ_ASSERT(0);
		}
	}
	/* The accounting never claims more than was written. */
	FUZZ_ASSERT(e->acked <= e->sent);
	FUZZ_ASSERT(e->provisional <= e->sent);
	FUZZ_ASSERT(e->acked <= e->provisional);
	FUZZ_ASSERT(e->sent <= e->cfg.len);
	FUZZ_ASSERT(e->provisional <= e->rule.running || e->finished);
	FUZZ_ASSERT(e->nstatus < sizeof(e->status));
	/* A finished engine has told the driver (a lost DONE hangs it). */
	FUZZ_ASSERT(e->finished == (d->dones == 1));
	/* A running engine always has somewhere to go: a future deadline, or
	 * it waits for the driver's password. */
	if (!e->finished)
		FUZZ_ASSERT(e->waiting_password || (espota__engine_deadline(e) > d->now &&
			espota__engine_deadline(e) != UINT64_MAX));
}

/* Advance time and fire the deadline if it passed. */
static inline void fuzz_tick(fuzz_driver *d, uint64_t step)
{
	d->now += step;
	espota__engine_tick(d->e, d->now);
	fuzz_drain(d);
}

/* Password wiped by clear(). */
static inline void fuzz_clear_check(espota__engine *e)
{
	size_t i;
	espota__engine_clear(e);
	for (i = 0; i < sizeof(e->password); i++)
		FUZZ_ASSERT(e->password[i] == 0);
	for (i = 0; i < sizeof(e->authdg); i++)
		FUZZ_ASSERT(e->authdg[i] == 0);
}

#endif
