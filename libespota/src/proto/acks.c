/*
 * The acknowledgement rule: the set of totals a device's digits can mean.
 *
 * ESP8266 (ArduinoOTA.cpp) prints Update.write(client) for each read: a
 * count of at least 1 with no upper bound but the image. ESP32 prints at
 * most 1460 per read, and when no data comes for a second it re-prints
 * its last count, at most three times in a row (a read resets that).
 * A device of unknown platform may be either. Counts never start with 0.
 */
#include "proto/acks.h"

#include <stdlib.h>
#include <string.h>

#define ESP32_MAX_COUNT 1460
#define ESP32_MAX_REPEATS 3
#define LOG_MIN_DIGITS 4096

/* One core's limits on a set: maxcount and repeats. */
static void set_init(espota__acks_set *t, espota_platform core, uint64_t len)
{
	memset(t, 0, sizeof(*t));
	t->maxcount = core == ESPOTA_PLATFORM_ESP32 ? ESP32_MAX_COUNT : (len ? len : 1);
	if (t->maxcount > UINT32_MAX)
		t->maxcount = UINT32_MAX;
	t->maxreps = core == ESPOTA_PLATFORM_ESP32 ? ESP32_MAX_REPEATS : 0;
	t->n = 1; /* the empty reading */
}

void espota__acks_init(espota__acks *a, espota_platform platform, uint64_t len)
{
	memset(a, 0, sizeof(*a));
	/* A device of unknown platform is one of the two cores: one set of
	 * readings for each, never a mix of their limits. */
	if (platform == ESPOTA_PLATFORM_UNKNOWN) {
		set_init(&a->set[0], ESPOTA_PLATFORM_ESP8266, len);
		set_init(&a->set[1], ESPOTA_PLATFORM_ESP32, len);
		a->nsets = 2;
	} else {
		set_init(&a->set[0], platform, len);
		a->nsets = 1;
	}
	a->platform = platform;
	/* An honest device prints at most a few digits per read, and reads
	 * are rarely under 48 bytes: len/16 leaves room for reads of 16. */
	a->log_max = (size_t)(len / 16) + LOG_MIN_DIGITS;
}

void espota__acks_free(espota__acks *a)
{
	free(a->log_d);
	free(a->log_sent);
	a->log_d = NULL;
	a->log_sent = NULL;
	a->log_n = a->log_cap = 0;
}

static void log_digit(espota__acks *a, unsigned dv, uint64_t sent)
{
	if (a->log_full)
		return;
	if (a->log_n == a->log_cap) {
		size_t cap = a->log_cap ? 2 * a->log_cap : 256;
		unsigned char *d;
		uint64_t *s;

		if (cap > a->log_max)
			cap = a->log_max;
		if (a->log_n == cap) {
			a->log_full = 1;
			return;
		}
		d = realloc(a->log_d, cap);
		if (d)
			a->log_d = d;
		s = d ? realloc(a->log_sent, cap * sizeof(*s)) : NULL;
		if (!s) {
			a->log_full = 1;
			return;
		}
		a->log_sent = s;
		a->log_cap = cap;
	}
	a->log_d[a->log_n] = (unsigned char)dv;
	a->log_sent[a->log_n++] = sent;
}

static uint64_t total_of(const espota__acks_state *s)
{
	return s->sum + s->open;
}

/* A reading's implausibility: each count printed, and each count read
 * across two reads, costs one. */
static uint64_t cost(const espota__acks_state *s)
{
	return (uint64_t)s->prints + s->pen;
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
	/* the most plausible first (by_rank) */
	if (cost(a) != cost(b))
		return cost(a) < cost(b) ? -1 : 1;
	if (a->nrep != b->nrep)
		return a->nrep < b->nrep ? -1 : 1;
	if (a->pen != b->pen)
		return a->pen < b->pen ? -1 : 1;
	return 0;
}

/* Plausibility: the fewest counts printed or read across reads, the fewest
 * repeats, then the highest total (a real device reads close behind the
 * sender). See espota__acks_running for why. */
static int by_rank(const void *x, const void *y)
{
	const espota__acks_state *a = x, *b = y;
	uint64_t ta = total_of(a), tb = total_of(b);

	if (cost(a) != cost(b))
		return cost(a) < cost(b) ? -1 : 1;
	if (a->nrep != b->nrep)
		return a->nrep < b->nrep ? -1 : 1;
	if (ta != tb)
		return ta < tb ? 1 : -1;
	return by_key(x, y);
}

static int same(const espota__acks_state *a, const espota__acks_state *b)
{
	return a->sum == b->sum && a->open == b->open && a->last == b->last && a->reps == b->reps;
}

static void put(espota__acks_set *a, size_t *m, const espota__acks_state *s)
{
	a->next[(*m)++] = *s;
}

/* Closes the open count of s into c: plainly, or as a repeat of the last. */
static size_t close_into(const espota__acks_set *a, uint64_t sent, const espota__acks_state *s,
	espota__acks_state c[2])
{
	size_t k = 0;

	if (s->open == 0) {
		c[k++] = *s;
		return k;
	}
	/* plainly, if it fitted in what was sent when its last digit came */
	if (s->sum + s->open <= sent) {
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
		c[k].nrep++;
		k++;
	}
	return k;
}

/* 1 when the open count v may still become a repeat of the last count
 * (its digits so far start the last count's), which adds nothing. */
static int may_repeat(const espota__acks_set *a, const espota__acks_state *s, uint64_t v)
{
	uint64_t l = s->last;

	if (!a->maxreps || s->reps >= a->maxreps || l == 0 || v > l)
		return 0;
	while (l > v)
		l /= 10;
	return l == v;
}

/* Whether a reading with open count v is possible after sent bytes. */
static int fits(const espota__acks_set *a, const espota__acks_state *s, uint64_t v, uint64_t sent)
{
	return s->sum + v <= sent || may_repeat(a, s, v);
}

static void finish_step(espota__acks_set *a, uint64_t digits, uint64_t sent, size_t m)
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
			a->dead_at = digits;
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
		uint64_t t = total_of(&out[i]) <= sent ? total_of(&out[i]) : out[i].sum;
		if (t > a->best)
			a->best = t;
	}
}

static void set_digit(espota__acks_set *a, unsigned dv, uint64_t digits, uint64_t sent,
	int at_boundary)
{
	const espota__acks_state *in = a->st;
	size_t i, m = 0;

	if (a->dead_at)
		return;
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
				t.pen += (uint32_t)at_boundary;
				put(a, &m, &t);
			}
		}
		/* or starts a new one (never with 0) */
		if (dv == 0)
			continue;
		nc = close_into(a, sent, s, c);
		for (k = 0; k < nc; k++) {
			if (!fits(a, &c[k], dv, sent))
				continue;
			c[k].open = dv;
			c[k].prints++;
			put(a, &m, &c[k]);
		}
	}
	finish_step(a, digits, sent, m);
}

void espota__acks_digit(espota__acks *a, char d, uint64_t sent)
{
	unsigned dv = (unsigned)(d - '0'), k;

	if (dv > 9)
		return;
	log_digit(a, dv, sent);
	a->digits++;
	a->sent = sent;
	for (k = 0; k < a->nsets; k++)
		set_digit(&a->set[k], dv, a->digits, sent, a->at_boundary);
	a->at_boundary = 0;
	a->dropped = a->set[0].dropped || (a->nsets > 1 && a->set[1].dropped);
}

void espota__acks_boundary(espota__acks *a)
{
	a->at_boundary = 1;
}

static void set_close(espota__acks_set *a, uint64_t digits, uint64_t sent)
{
	const espota__acks_state *in = a->st;
	size_t i, m = 0;

	if (a->dead_at)
		return;
	for (i = 0; i < a->n; i++) {
		espota__acks_state c[2];
		size_t k, nc = close_into(a, sent, &in[i], c);
		for (k = 0; k < nc; k++)
			put(a, &m, &c[k]);
	}
	finish_step(a, digits, sent, m);
}

void espota__acks_close(espota__acks *a)
{
	unsigned k;

	for (k = 0; k < a->nsets; k++)
		set_close(&a->set[k], a->digits, a->sent);
	a->dropped = a->set[0].dropped || (a->nsets > 1 && a->set[1].dropped);
}

static int set_can_total(const espota__acks_set *a, uint64_t total)
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

int espota__acks_can_total(const espota__acks *a, uint64_t total)
{
	unsigned k;

	for (k = 0; k < a->nsets; k++)
		if (set_can_total(&a->set[k], total))
			return 1;
	return 0;
}

int espota__acks_dead(const espota__acks *a)
{
	unsigned k;

	for (k = 0; k < a->nsets; k++)
		if (!a->set[k].dead_at)
			return 0;
	return 1;
}

int espota__acks_surely_dead(const espota__acks *a)
{
	unsigned k;

	for (k = 0; k < a->nsets; k++)
		if (!a->set[k].dead_at || a->set[k].dropped)
			return 0;
	return 1;
}

uint64_t espota__acks_best(const espota__acks *a)
{
	uint64_t b = a->set[0].best;

	if (a->nsets > 1 && a->set[1].best > b)
		b = a->set[1].best;
	return b;
}

/*
 * The exact decision. A parse of the logged digits is a run of groups;
 * a group is one count v (1..maxc, no leading 0) printed `copies` times
 * at most in a row (the ESP32's re-prints), and adds v once. Each digit
 * of a group's first copy must fit what had been sent when it came:
 * sum + (the count so far) <= sent. R[j], the sums a parse of the first j
 * digits can reach, is a bitset; R[j] is the union over the groups ending
 * at j of R[start] shifted by v. Only the last G+1 sets are kept (G: the
 * longest group), and sums that the rest of the digits cannot lift to
 * the total (at most maxadd[j] more, from a backward pass) are skipped.
 */
typedef struct exact_pass {
	const unsigned char *d;
	const uint64_t *sent;
	uint64_t base;  /* counted before d[0] (sent[] is less that) */
	size_t n;
	uint64_t maxc;
	unsigned tmax, copies;
} exact_pass;

/* v of digits d[i..i+t), or 0 when it is no count (0-led or too big). */
static uint64_t count_at(const exact_pass *p, size_t i, unsigned t)
{
	uint64_t v = 0;
	unsigned k;

	if (p->d[i] == 0)
		return 0;
	for (k = 0; k < t; k++) {
		v = v * 10 + p->d[i + k];
		if (v > p->maxc)
			return 0;
	}
	return v;
}

/* 1 when d[i..i+t) is printed k times in a row from i. */
static int copies_match(const exact_pass *p, size_t i, unsigned t, unsigned k)
{
	unsigned c;

	for (c = 1; c < k; c++)
		if (memcmp(p->d + i, p->d + i + (size_t)c * t, t) != 0)
			return 0;
	return 1;
}

/* The largest sum before the group at i for which its first copy fits
 * what was sent digit by digit; -1 when none does. */
static int64_t group_room(const exact_pass *p, size_t i, unsigned t)
{
	uint64_t v = 0;
	int64_t room = INT64_MAX;
	unsigned k;

	for (k = 0; k < t; k++) {
		v = v * 10 + p->d[i + k];
		if (p->sent[i + k] < p->base + v)
			return -1;
		if ((int64_t)(p->sent[i + k] - p->base - v) < room)
			room = (int64_t)(p->sent[i + k] - p->base - v);
	}
	return room;
}

/* dst |= (src restricted to bits lo..hi) << v */
static void shift_or(uint64_t *dst, const uint64_t *src, size_t words, uint64_t lo, uint64_t hi,
	uint64_t v)
{
	size_t w, wlo = (size_t)(lo / 64), whi = (size_t)(hi / 64);
	size_t q = (size_t)(v / 64);
	unsigned r = (unsigned)(v % 64);

	for (w = wlo; w <= whi && w + q < words; w++) {
		uint64_t x = src[w];
		if (!x)
			continue;
		if (w == wlo)
			x &= ~0ull << (lo % 64);
		if (w == whi && hi % 64 != 63)
			x &= (2ull << (hi % 64)) - 1;
		dst[w + q] |= x << r;
		if (r && w + q + 1 < words)
			dst[w + q + 1] |= x >> (64 - r);
	}
}

/* 1/0/-1 as espota__acks_exact; with best, no sum is skipped and *best
 * gets the highest total up to `total` that a full parse reaches. */
static int exact_one(const exact_pass *p, uint64_t total, uint64_t *best)
{
	size_t n = p->n, words = (size_t)(total / 64) + 1, slots, i, j;
	unsigned g = p->tmax * p->copies, t, k;
	int64_t *maxadd;
	uint64_t *ring;
	unsigned char *live;
	int ok = 0;

	maxadd = malloc((n + 1) * sizeof(*maxadd));
	if (!maxadd)
		return -1;
	/* what a parse of d[i..n) can add at most, ignoring what was sent */
	maxadd[n] = 0;
	for (i = n; i-- > 0;) {
		int64_t most = -1;
		for (t = 1; t <= p->tmax && i + t <= n; t++) {
			uint64_t v = count_at(p, i, t);
			if (!v)
				continue;
			for (k = 1; k <= p->copies && i + (size_t)t * k <= n; k++) {
				size_t end = i + (size_t)t * k;
				if (!copies_match(p, i, t, k))
					break;
				if (maxadd[end] >= 0 && (int64_t)v + maxadd[end] > most)
					most = (int64_t)v + maxadd[end];
			}
		}
		maxadd[i] = most;
	}
	if (maxadd[0] < (int64_t)total && !best) {
		free(maxadd);
		return 0;
	}
	slots = (size_t)g + 1;
	ring = calloc(slots * words, sizeof(*ring));
	live = calloc(slots, 1);
	if (!ring || !live) {
		free(ring);
		free(live);
		free(maxadd);
		return -1;
	}
	ring[0] = 1; /* R[0] = {0} */
	live[0] = 1;
	for (j = 1; j <= n; j++) {
		uint64_t *dst = ring + (j % slots) * words;
		uint64_t need;

		memset(dst, 0, words * sizeof(*dst));
		live[j % slots] = 0;
		if (maxadd[j] < 0)
			continue;
		/* sums below this cannot reach the total with what is left */
		need = best || (uint64_t)maxadd[j] >= total ? 0 : total - (uint64_t)maxadd[j];
		for (t = 1; t <= p->tmax; t++) {
			for (k = 1; k <= p->copies && (size_t)t * k <= j; k++) {
				size_t s = j - (size_t)t * k;
				uint64_t v = count_at(p, s, t), lo;
				int64_t room;

				if (!v || !live[s % slots] || !copies_match(p, s, t, k))
					continue;
				room = group_room(p, s, t);
				if (room < 0 || v > total)
					continue;
				if ((uint64_t)room > total - v)
					room = (int64_t)(total - v);
				lo = need > v ? need - v : 0;
				if (lo > (uint64_t)room)
					continue;
				shift_or(dst, ring + (s % slots) * words, words, lo, (uint64_t)room, v);
				live[j % slots] = 1;
			}
		}
	}
	ok = live[n % slots] && (ring[(n % slots) * words + total / 64] >> (total % 64) & 1);
	if (best && live[n % slots]) {
		const uint64_t *r = ring + (n % slots) * words;
		size_t w = words;
		while (w-- > 0) {
			if (r[w]) {
				unsigned b = 63;
				while (!(r[w] >> b & 1))
					b--;
				if ((uint64_t)w * 64 + b > *best)
					*best = (uint64_t)w * 64 + b;
				break;
			}
		}
	}
	free(ring);
	free(live);
	free(maxadd);
	return ok;
}

static unsigned decimal_digits(uint64_t v)
{
	unsigned k = 1;

	while (v >= 10) {
		v /= 10;
		k++;
	}
	return k;
}

/* Over the logged digits from `from` on, which add up to `total` on top of
 * `base` counted before them. */
static int exact_run(const espota__acks *a, size_t from, uint64_t base, uint64_t total,
	uint64_t *best)
{
	exact_pass p;
	int r8266 = 0, r32 = 0;

	if (a->log_full || from > a->log_n)
		return -1;
	if (from == a->log_n) /* no digits (the log may be unallocated) */
		return total == 0;
	p.d = a->log_d + from;
	p.sent = a->log_sent + from;
	p.base = base;
	p.n = a->log_n - from;
	if (a->platform != ESPOTA_PLATFORM_ESP32) {
		p.maxc = total ? total : 1;
		p.tmax = decimal_digits(p.maxc);
		p.copies = 1;
		r8266 = exact_one(&p, total, best);
		if ((r8266 == 1 && !best) || a->platform == ESPOTA_PLATFORM_ESP8266)
			return r8266;
	}
	p.maxc = ESP32_MAX_COUNT;
	p.tmax = decimal_digits(p.maxc);
	p.copies = 1 + ESP32_MAX_REPEATS;
	r32 = exact_one(&p, total, best);
	if (r8266 == 1 || r32 == 1)
		return 1;
	return r32 < 0 || r8266 < 0 ? -1 : 0;
}

int espota__acks_exact(const espota__acks *a, uint64_t total)
{
	return exact_run(a, 0, 0, total, NULL);
}

int espota__acks_exact_best(const espota__acks *a, uint64_t total, uint64_t *best)
{
	*best = 0;
	return exact_run(a, 0, 0, total, best);
}

/*
 * The running figure. Every kept reading fits what was sent, so any of
 * them could be the device's; the figure takes the one a device most
 * likely printed. A device prints one count per read of its own, so a
 * reading with fewer counts splits fewer of them (a count split into
 * pieces is always a reading too, and always a smaller one); a count cut
 * across two host reads is as unlikely as one count more (a count is one
 * write, one segment); an ESP32 re-prints only after a second without
 * data, so repeats rank after real counts. Where readings still tie
 * (merged ESP8266 counts: "58405840" is 5840+5840 or 58405+840), the
 * smallest total: an overestimate is sticky (the figure never goes back)
 * and lets the window and the block pacing run ahead of the device, while
 * an underestimate ends at the next anchor, when the device has caught
 * up and some reading adds up to everything sent. The figure decides
 * nothing: success is the rule's at the end.
 */
typedef struct running_pick {
	int have;
	uint64_t cost;
	uint32_t nrep;
	uint64_t total;
	uint32_t counts;
} running_pick;

/* What a kept reading says was acknowledged: an open count past what was
 * sent can only be a repeat, which adds nothing. */
static uint64_t reading_total(const espota__acks_state *s, uint64_t sent)
{
	return total_of(s) <= sent ? total_of(s) : s->sum;
}

static void consider(running_pick *p, const espota__acks_state *s, uint64_t total)
{
	if (p->have) {
		if (cost(s) != p->cost) {
			if (cost(s) > p->cost)
				return;
		} else if (s->nrep != p->nrep) {
			if (s->nrep > p->nrep)
				return;
		} else if (total >= p->total) {
			return;
		}
	}
	p->have = 1;
	p->cost = cost(s);
	p->nrep = s->nrep;
	p->total = total;
	p->counts = s->prints - s->nrep;
}

/* The most plausible kept reading; with `only` set, of those that add up
 * to exactly `sent`. */
static void pick_reading(const espota__acks *a, uint64_t sent, int only, running_pick *p)
{
	unsigned k;
	size_t i;

	memset(p, 0, sizeof(*p));
	for (k = 0; k < a->nsets; k++) {
		const espota__acks_set *t = &a->set[k];
		if (t->dead_at)
			continue;
		for (i = 0; i < t->n; i++) {
			const espota__acks_state *s = &t->st[i];
			uint64_t v = reading_total(s, sent);
			/* an open count may yet close as a repeat (adds nothing) */
			if (only && v != sent && !(s->open && s->open == s->last &&
				s->reps < t->maxreps && s->sum == sent))
				continue;
			consider(p, s, only ? sent : v);
		}
	}
}

static uint64_t running_raise(espota__acks *a, uint64_t v, uint32_t counts, uint64_t sent)
{
	if (v > sent)
		v = sent;
	if (v >= a->running) {
		a->running = v;
		a->running_counts = counts;
	}
	return a->running;
}

uint64_t espota__acks_running(espota__acks *a, uint64_t sent)
{
	running_pick p;

	if (espota__acks_dead(a))
		return running_raise(a, sent, a->running_counts, sent);
	pick_reading(a, sent, 1, &p);
	if (p.have) {
		if (sent > a->anchor_total) {
			a->anchor_total = sent;
			a->anchor_digit = a->log_n;
		}
		return running_raise(a, sent, p.counts, sent);
	}
	pick_reading(a, sent, 0, &p);
	return running_raise(a, p.have ? p.total : 0, p.counts, sent);
}

int espota__acks_caught_up(espota__acks *a, uint64_t sent)
{
	if (sent < a->anchor_total)
		return 0;
	if (a->running >= sent)
		return 1;
	if (espota__acks_running(a, sent) >= sent)
		return 1;
	if (exact_run(a, a->anchor_digit, a->anchor_total, sent - a->anchor_total, NULL) != 1)
		return 0;
	a->anchor_total = sent;
	a->anchor_digit = a->log_n;
	a->running = sent;
	return 1;
}
