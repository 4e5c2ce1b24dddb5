/*
 * The physical limit: an exact discrete-event computation of the time a
 * perfect sender needs against espota-sim's documented device model
 * (docs/simulator.md, "What the model does, precisely"). It does not run
 * the sim; it re-states the model:
 *
 *   - handshake: invitation sent at t = 0, reaches the device at d = rtt/2;
 *     ESP8266 handles it at once and runs _runUpdate() one loop latency L
 *     later, sends OK, delay(100), SYN after d: the host accepts at
 *     t_c = 2d + L + 100 ms. ESP32 handles the datagram in the next
 *     handle() (d + L), runs _runUpdate() L later and connects (+d):
 *     t_c = 2d + 2L. The device sees the connection at t_c + d.
 *   - perfect sender: every byte is in the device's link at t_c, cut into
 *     full MSS segments; segment [s, e) departs at
 *     max(t_c, consume_time(e - W) + d), is serialised at `bandwidth` and
 *     visible to the firmware d after its serialisation ends. That is the
 *     receive window full at every instant.
 *   - firmware: the ESP8266 Update.write(client) drain loop (lazy 4 KiB
 *     flush costing erase + ceil(len/256) x program with nothing read,
 *     delay(1) after every pass) or the ESP32 loop (read <= 1460, write,
 *     64 KiB block erases, all-0xFF blocks not programmed).
 *   - finish: ESP8266 sends OK 1000 ms after the last byte is flushed, the
 *     host has it d later; ESP32 sends OK at once.
 *
 * Time is kept in integer nanoseconds (the sim uses microseconds).
 */
#include "limit.h"

#include <stdlib.h>
#include <string.h>

typedef uint64_t us_t; /* nanoseconds, despite the name */
#define NEVER UINT64_MAX

struct seg { uint64_t s, e; us_t avail; };
struct mark { uint64_t off; us_t t; };

struct st {
	const struct limit_model *m;
	us_t owd, t_c, link_free;
	struct seg *segs;
	size_t nsegs, next_seg; /* segments [0, next_seg) have avail computed */
	size_t vis;             /* segments [0, vis) are visible at the last query time */
	struct mark *marks;
	size_t nmarks, mark_cap, mark_head;
	uint64_t consumed;
};

static us_t consume_time(struct st *S, uint64_t off)
{
	for (size_t i = S->mark_head; i < S->nmarks; i++) {
		if (S->marks[i].off >= off) {
			S->mark_head = i;
			return S->marks[i].t;
		}
	}
	return NEVER;
}

static void compute_avail(struct st *S)
{
	const struct limit_model *m = S->m;
	while (S->next_seg < S->nsegs) {
		struct seg *g = &S->segs[S->next_seg];
		us_t depart = S->t_c;
		if (g->e > m->window) {
			us_t ct = consume_time(S, g->e - m->window);
			if (ct == NEVER)
				return;
			if (ct + S->owd > depart)
				depart = ct + S->owd;
		}
		us_t start = depart > S->link_free ? depart : S->link_free;
		us_t ser = m->bandwidth > 0 ? (us_t)((double)(g->e - g->s) * 1e9 / m->bandwidth + 0.5) : 0;
		S->link_free = start + ser;
		g->avail = S->link_free + S->owd;
		S->next_seg++;
	}
}

/* bytes visible (not yet consumed) at t */
static uint64_t available(struct st *S, us_t t)
{
	compute_avail(S); /* t never decreases between queries */
	while (S->vis < S->next_seg && S->segs[S->vis].avail <= t)
		S->vis++;
	uint64_t end = S->vis ? S->segs[S->vis - 1].e : 0;
	return end > S->consumed ? end - S->consumed : 0;
}

static us_t next_avail(struct st *S)
{
	compute_avail(S);
	for (size_t i = S->vis; i < S->next_seg; i++)
		if (S->segs[i].e > S->consumed)
			return S->segs[i].avail;
	return NEVER;
}

static int take(struct st *S, uint64_t n, us_t t)
{
	S->consumed += n;
	if (S->nmarks == S->mark_cap) {
		size_t nc = S->mark_cap ? S->mark_cap * 2 : 1024;
		void *p = realloc(S->marks, nc * sizeof *S->marks);
		if (!p)
			return -1;
		S->marks = p;
		S->mark_cap = nc;
	}
	S->marks[S->nmarks].off = S->consumed;
	S->marks[S->nmarks].t = t;
	S->nmarks++;
	return 0;
}

static us_t ms(double x) { return (us_t)(x * 1000.0) * 1000; } /* sim rounds to us; we keep ns */

static us_t program_cost(const struct limit_model *m, uint64_t len)
{
	return (us_t)(((len + 255u) / 256u) * m->program_us) * 1000;
}

static int all_ff(const unsigned char *p, uint64_t n)
{
	if (!p)
		return 0;
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != 0xFF)
			return 0;
	return 1;
}

static us_t esp32_flush_cost(const struct limit_model *m, uint64_t flushed, uint64_t buf_len,
	const unsigned char *blk)
{
	const uint64_t b64 = 65536, addr = m->partition_addr, size = m->size;
	uint64_t pos = addr + flushed;
	us_t c = 0;
	int block_erase = (size - flushed >= b64) && pos % b64 == 0;
	int head = addr % b64 && pos < (addr / b64 + 1) * b64;
	int tail = (addr + size) / b64 == pos / b64;
	if (block_erase)
		c += ms(m->block_erase_ms);
	else if (head || tail)
		c += ms(m->erase_ms);
	if (!all_ff(blk, buf_len))
		c += program_cost(m, buf_len);
	return c;
}

int limit_compute(const struct limit_model *m, struct limit_result *out)
{
	struct st S;
	memset(&S, 0, sizeof S);
	memset(out, 0, sizeof *out);
	S.m = m;
	S.owd = (us_t)(m->rtt_ms * 1000.0 / 2.0) * 1000;
	us_t L = ms(m->loop_ms);
	if (m->esp32)
		S.t_c = 2 * S.owd + 2 * L;
	else
		S.t_c = 2 * S.owd + L + ms(100);
	uint64_t N = m->size;
	uint64_t g = m->seg ? m->seg : 1; /* segment size the sender uses */
	if (g > m->mss)
		g = m->mss;
	S.nsegs = (size_t)((N + g - 1) / g);
	S.segs = calloc(S.nsegs ? S.nsegs : 1, sizeof *S.segs);
	if (!S.segs)
		return -1;
	for (size_t i = 0; i < S.nsegs; i++) {
		S.segs[i].s = (uint64_t)i * g;
		S.segs[i].e = S.segs[i].s + g < N ? S.segs[i].s + g : N;
	}
	us_t t = S.t_c + S.owd; /* connected_t */
	us_t flash = 0, firstbyte = NEVER;
	int rc = 0;

	if (!m->esp32) {
		uint64_t buf_len = 0, flushed = 0;
		for (;;) {
			/* D_TOP */
			if (flushed == N)
				break;
			/* D_WAIT */
			if (available(&S, t) == 0) {
				us_t na = next_avail(&S);
				if (na == NEVER) { rc = -1; break; }
				t = na;
				continue;
			}
			/* D_ITER passes until nothing is visible */
			for (;;) {
				uint64_t avail = available(&S, t);
				if (avail == 0)
					break; /* count printed; back to D_TOP */
				if (firstbyte == NEVER)
					firstbyte = t;
				uint64_t rem = N - flushed;
				if (buf_len + avail > rem)
					avail = rem - buf_len;
				us_t cost = 0;
				if (buf_len + avail > 4096) {
					uint64_t to = 4096 - buf_len;
					if (take(&S, to, t)) { rc = -1; break; }
					buf_len += to;
					cost = ms(m->erase_ms) + program_cost(m, buf_len);
					flushed += buf_len;
					buf_len = 0;
				} else {
					if (take(&S, avail, t)) { rc = -1; break; }
					buf_len += avail;
					if (buf_len == N - flushed) {
						cost = ms(m->erase_ms) + program_cost(m, buf_len);
						flushed += buf_len;
						buf_len = 0;
					}
				}
				t += cost;
				flash += cost;
				if (flushed == N)
					break; /* AFTER_ITER: remaining 0 -> count, D_TOP -> end */
				t += ms(1); /* delay(1) */
			}
			if (rc)
				break;
		}
		out->end_ns = t;
		out->total_ns = t + ms(1000) + S.owd; /* delay(1000); print("OK") */
	} else {
		uint64_t buf_len = 0, flushed = 0;
		for (;;) {
			if (flushed == N)
				break;
			uint64_t avail = available(&S, t);
			if (avail == 0) {
				us_t na = next_avail(&S);
				if (na == NEVER) { rc = -1; break; }
				t = na;
				continue;
			}
			if (firstbyte == NEVER)
				firstbyte = t;
			uint64_t r = avail > 1460 ? 1460 : avail;
			if (take(&S, r, t)) { rc = -1; break; }
			us_t cost = 0;
			uint64_t left = r;
			while (buf_len + left > 4096) {
				uint64_t to = 4096 - buf_len;
				buf_len += to;
				cost += esp32_flush_cost(m, flushed, buf_len,
					m->image ? m->image + flushed : NULL);
				flushed += buf_len;
				buf_len = 0;
				left -= to;
			}
			buf_len += left;
			if (buf_len == N - flushed) {
				cost += esp32_flush_cost(m, flushed, buf_len,
					m->image ? m->image + flushed : NULL);
				flushed += buf_len;
				buf_len = 0;
			}
			t += cost;
			flash += cost;
		}
		out->end_ns = t;
		out->total_ns = t + S.owd; /* OK at once */
	}
	out->connect_ns = S.t_c;
	out->flash_ns = flash;
	out->first_byte_ns = firstbyte;
	free(S.segs);
	free(S.marks);
	return rc;
}
