/*
 * The acknowledgement rule: the set of totals a device's digits can mean.
 *
 * ESP8266 (ArduinoOTA.cpp) prints Update.write(client) for each read: a
 * count of at least 1 with no upper bound but the image. ESP32 prints at
 * most 1460 per read, and when no data comes for a second it re-prints
 * its last count, at most three times in a row (a read resets that).
 * A device of unknown platform may be either. Counts never start with 0.
 */
#include "acks.h"

#include <stdlib.h>
#include <string.h>

#define ESP32_MAX_COUNT 1460
#define ESP32_MAX_REPEATS 3

void espota__acks_init(espota__acks *a, espota_platform platform, uint64_t len)
{
	memset(a, 0, sizeof(*a));
	a->maxcount = platform == ESPOTA_PLATFORM_ESP32 ? ESP32_MAX_COUNT : (len ? len : 1);
	if (a->maxcount > UINT32_MAX)
		a->maxcount = UINT32_MAX;
	a->maxreps = platform == ESPOTA_PLATFORM_ESP8266 ? 0 : ESP32_MAX_REPEATS;
	a->n = 1; /* the empty reading */
}

static uint64_t total_of(const espota__acks_state *s)
{
	return s->sum + s->open;
}

/* Identity first (duplicates adjacent, the lowest penalty first). */
static int by_key(const void *x, const void *y)
{
	const espota__acks_state *a = x, *b = y;

	if (a->sum != b->sum)
		return a->sum < b->sum ? -1 : 1;
	if (a->open != b->open)
		return a->open < b->open ? -1 : 1;
	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	if (a->reps != b->reps)
		return (int)a->reps - (int)b->reps;
	if (a->pen != b->pen)
		return a->pen < b->pen ? -1 : 1;
	return 0;
}

/* Plausibility: fewest counts across reads, then the highest total. */
static int by_rank(const void *x, const void *y)
{
	const espota__acks_state *a = x, *b = y;
	uint64_t ta = total_of(a), tb = total_of(b);

	if (a->pen != b->pen)
		return a->pen < b->pen ? -1 : 1;
	if (ta != tb)
		return ta < tb ? 1 : -1;
	return by_key(x, y);
}

static int same(const espota__acks_state *a, const espota__acks_state *b)
{
	return a->sum == b->sum && a->open == b->open && a->last == b->last && a->reps == b->reps;
}

static void put(espota__acks *a, size_t *m, const espota__acks_state *s)
{
	a->next[(*m)++] = *s;
}

/* Closes the open count of s into c: plainly, or as a repeat of the last. */
static size_t close_into(const espota__acks *a, const espota__acks_state *s, espota__acks_state c[2])
{
	size_t k = 0;

	if (s->open == 0) {
		c[k++] = *s;
		return k;
	}
	/* plainly, if it fitted in what was sent when its last digit came */
	if (s->sum + s->open <= a->sent) {
		c[k] = *s;
		c[k].sum += s->open;
		c[k].last = a->maxreps ? s->open : 0; /* only repeats need it */
		c[k].reps = 0;
		c[k].open = 0;
		k++;
	}
	if (a->maxreps && s->open == s->last && s->reps < a->maxreps) {
		c[k] = *s;
		c[k].reps = (uint8_t)(s->reps + 1);
		c[k].open = 0;
		k++;
	}
	return k;
}

/* 1 when the open count v may still become a repeat of the last count
 * (its digits so far start the last count's), which adds nothing. */
static int may_repeat(const espota__acks *a, const espota__acks_state *s, uint64_t v)
{
	uint64_t l = s->last;

	if (!a->maxreps || s->reps >= a->maxreps || l == 0 || v > l)
		return 0;
	while (l > v)
		l /= 10;
	return l == v;
}

/* Whether a reading with open count v is possible after sent bytes. */
static int fits(const espota__acks *a, const espota__acks_state *s, uint64_t v, uint64_t sent)
{
	return s->sum + v <= sent || may_repeat(a, s, v);
}

static void finish_step(espota__acks *a, size_t m)
{
	espota__acks_state *out = a->next;
	size_t i, w = 0;

	qsort(out, m, sizeof(out[0]), by_key);
	for (i = 0; i < m; i++)
		if (w == 0 || !same(&out[w - 1], &out[i]))
			out[w++] = out[i];
	qsort(out, w, sizeof(out[0]), by_rank);
	if (w == 0) {
		if (a->dead_at == 0)
			a->dead_at = a->digits;
		/* keep the last live set for espota__acks_best() */
		return;
	}
	if (w > ESPOTA__ACKS_STATES) {
		w = ESPOTA__ACKS_STATES;
		a->dropped = 1;
	}
	memcpy(a->st, out, w * sizeof(out[0]));
	a->n = w;
	/* an open count past what was sent can only be a repeat: it adds 0 */
	a->best = 0;
	for (i = 0; i < w; i++) {
		uint64_t t = total_of(&out[i]) <= a->sent ? total_of(&out[i]) : out[i].sum;
		if (t > a->best)
			a->best = t;
	}
}

void espota__acks_digit(espota__acks *a, char d, uint64_t sent)
{
	const espota__acks_state *in = a->st;
	unsigned dv = (unsigned)(d - '0');
	size_t i, m = 0;

	if (a->dead_at || dv > 9)
		return;
	a->digits++;
	a->sent = sent;
	for (i = 0; i < a->n; i++) {
		const espota__acks_state *s = &in[i];
		espota__acks_state c[2];
		size_t k, nc;

		/* the digit continues the open count */
		if (s->open != 0) {
			uint64_t v = (uint64_t)s->open * 10 + dv;
			if (v <= a->maxcount && fits(a, s, v, sent)) {
				espota__acks_state t = *s;
				t.open = (uint32_t)v;
				t.pen += a->at_boundary;
				put(a, &m, &t);
			}
		}
		/* or starts a new one (never with 0) */
		if (dv == 0)
			continue;
		nc = close_into(a, s, c);
		for (k = 0; k < nc; k++) {
			if (!fits(a, &c[k], dv, sent))
				continue;
			c[k].open = dv;
			put(a, &m, &c[k]);
		}
	}
	a->at_boundary = 0;
	finish_step(a, m);
}

void espota__acks_boundary(espota__acks *a)
{
	a->at_boundary = 1;
}

void espota__acks_close(espota__acks *a)
{
	const espota__acks_state *in = a->st;
	size_t i, m = 0;

	if (a->dead_at)
		return;
	for (i = 0; i < a->n; i++) {
		espota__acks_state c[2];
		size_t k, nc = close_into(a, &in[i], c);
		for (k = 0; k < nc; k++)
			put(a, &m, &c[k]);
	}
	finish_step(a, m);
}

int espota__acks_can_total(const espota__acks *a, uint64_t total)
{
	const espota__acks_state *in = a->st;
	size_t i;

	if (a->dead_at)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (total_of(&in[i]) == total)
			return 1;
		/* an open count closed as a repeat adds nothing */
		if (in[i].open && in[i].open == in[i].last && in[i].reps < a->maxreps &&
			in[i].sum == total)
			return 1;
	}
	return 0;
}

int espota__acks_dead(const espota__acks *a)
{
	return a->dead_at != 0;
}

uint64_t espota__acks_best(const espota__acks *a)
{
	return a->best;
}
