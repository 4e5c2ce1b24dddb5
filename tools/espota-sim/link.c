/*
 * The link model: what the device's TCP/IP stack does between the kernel
 * socket and the firmware.
 *
 * The sim reads eagerly from the kernel socket (so the kernel buffer never
 * limits the host) and re-times every byte as if it had crossed a Wi-Fi
 * link into an lwIP stack with a receive window of W bytes:
 *
 *   - the stream is cut into segments of at most MSS bytes (each kernel read
 *     batch is cut from its own start, so a 1460-byte host write becomes
 *     536 + 536 + 388 with MSS 536);
 *   - a segment ending at stream offset e may leave the host only when the
 *     device has consumed offset e - W (its window update then needs one
 *     more one-way delay to reach the host):
 *         depart = max(read_time, consume_time(e - W) + owd)
 *   - segments are serialised on the air at `bandwidth` bytes/s;
 *   - and arrive one one-way delay (rtt/2) later.
 *
 * So byte k is visible to the firmware no earlier than
 * max(read_time(k) + owd, consume_time(k - W) + rtt) (+ serialisation).
 * With --fast every byte is visible as soon as it is read.
 */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

usec_t owd_us(const struct config *cfg)
{
	return cfg->fast ? 0 : (usec_t)(cfg->rtt_ms * 1000.0 / 2.0);
}

struct conn *conn_new(int fd, uint64_t read_limit)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fd = fd;
	c->read_limit = read_limit;
	c->connected_t = SIM_NEVER;
	return c;
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	out_free_all(&c->out_head, &c->out_tail);
	free(c->buf);
	free(c->segs);
	free(c->marks);
	free(c);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int push_seg(struct conn *c, uint64_t start, uint64_t end, usec_t t)
{
	/* compact the consumed prefix before growing */
	if (c->seg_head > 0 && c->nsegs == c->seg_cap) {
		memmove(c->segs, c->segs + c->seg_head, (c->nsegs - c->seg_head) * sizeof *c->segs);
		c->nsegs -= c->seg_head;
		c->seg_head = 0;
	}
	if (grow((void **)&c->segs, &c->seg_cap, c->nsegs + 1, sizeof *c->segs))
		return -1;
	c->segs[c->nsegs].start = start;
	c->segs[c->nsegs].end = end;
	c->segs[c->nsegs].read_t = t;
	c->segs[c->nsegs].avail_t = SIM_NEVER;
	c->nsegs++;
	return 0;
}

/* Read what the kernel has (up to read_limit). Returns -1 on allocation failure. */
int conn_read_kernel(struct conn *c, const struct config *cfg, usec_t now)
{
	while (!c->eof && c->read_off < c->read_limit) {
		uint64_t want = c->read_limit - c->read_off;
		if (want > 65536)
			want = 65536;
		if (grow((void **)&c->buf, &c->cap, (size_t)(c->read_off + want), 1))
			return -1;
		ssize_t n = recv(c->fd, c->buf + c->read_off, (size_t)want, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			c->eof = 1; /* reset: the device sees the connection drop */
			c->eof_t = now;
			break;
		}
		if (n == 0) {
			c->eof = 1;
			c->eof_t = now;
			break;
		}
		uint64_t start = c->read_off;
		c->read_off += (uint64_t)n;
		uint64_t mss = cfg->fast ? (uint64_t)n : (uint64_t)cfg->mss;
		for (uint64_t o = start; o < c->read_off;) {
			uint64_t e = o + mss < c->read_off ? o + mss : c->read_off;
			if (push_seg(c, o, e, now))
				return -1;
			o = e;
		}
	}
	return 0;
}

/* consume time of stream offset `off` (first time consumed >= off); SIM_NEVER if not yet */
static usec_t consume_time(struct conn *c, uint64_t off)
{
	for (size_t i = c->mark_head; i < c->nmarks; i++) {
		if (c->marks[i].off >= off) {
			c->mark_head = i; /* later segments need later offsets */
			return c->marks[i].t;
		}
	}
	return SIM_NEVER;
}

/* When the shared air (--airtime) is free next: one medium per process. */
static usec_t air_free;

double link_loss_for(const struct config *cfg, int dev)
{
	for (int i = 0; i < cfg->nloss_dev; i++)
		if (cfg->loss_dev[i].dev == dev)
			return cfg->loss_dev[i].p;
	return cfg->loss;
}

/* A fixed pseudo-random loss pattern per device and stream offset, so runs
 * repeat (splitmix64 of both). */
static int seg_lost(const struct conn *c, const struct segment *s)
{
	uint64_t x = (uint64_t)c->dev * 0x9E3779B97F4A7C15ull ^ (s->start + 1) * 0xBF58476D1CE4E5B9ull;
	x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27; x *= 0x94D049BB133111EBull;
	x ^= x >> 31;
	return (double)(x >> 11) / 9007199254740992.0 < c->loss;
}

/* Fill in avail_t for every segment whose window constraint is known. */
static void compute_avail(struct conn *c, const struct config *cfg)
{
	usec_t owd = owd_us(cfg);
	for (size_t i = c->seg_head; i < c->nsegs; i++) {
		struct segment *s = &c->segs[i];
		if (s->avail_t != SIM_NEVER)
			continue;
		if (cfg->fast) {
			s->avail_t = s->read_t;
			continue;
		}
		usec_t depart = s->read_t;
		if (s->end > (uint64_t)cfg->window) {
			usec_t ct = consume_time(c, s->end - (uint64_t)cfg->window);
			if (ct == SIM_NEVER)
				return; /* window closed: later segments wait too */
			if (ct + owd > depart)
				depart = ct + owd;
		}
		uint64_t len = s->end - s->start;
		usec_t start = depart > c->link_free ? depart : c->link_free;
		usec_t ser = cfg->bandwidth > 0 ? (usec_t)((double)len * 1e6 / cfg->bandwidth) : 0;
		if (cfg->airtime > 0) {
			/* one access point: every instance's segments take turns on
			 * the shared air, in the order the sim learns of them */
			usec_t air = (usec_t)((double)len * 1e6 / cfg->airtime);
			if (air_free > start)
				start = air_free;
			air_free = start + air;
			if (air > ser)
				ser = air;
		}
		c->link_free = start + ser;
		s->avail_t = c->link_free + owd;
		if (c->loss > 0 && seg_lost(c, s)) {
			/* the sender's fast retransmit: the copy goes out a round trip
			 * later and takes the air again; later segments wait behind it
			 * (the firmware reads in order) */
			usec_t again = s->avail_t + 2 * owd;
			if (cfg->airtime > 0) {
				usec_t air = (usec_t)((double)len * 1e6 / cfg->airtime);
				usec_t st = again - owd > air_free ? again - owd : air_free;
				air_free = st + air;
				again = st + air + owd;
			}
			s->avail_t = again;
			c->lost++;
		}
	}
}

/* Bytes the firmware could read at time t (not yet consumed). */
uint64_t conn_available(struct conn *c, const struct config *cfg, usec_t t)
{
	compute_avail(c, cfg);
	uint64_t end = c->consumed;
	for (size_t i = c->seg_head; i < c->nsegs; i++) {
		if (c->segs[i].avail_t > t)
			break;
		end = c->segs[i].end;
	}
	return end > c->consumed ? end - c->consumed : 0;
}

/* When the next not-yet-visible byte becomes visible (SIM_NEVER if unknown). */
usec_t conn_next_avail(struct conn *c, const struct config *cfg)
{
	compute_avail(c, cfg);
	for (size_t i = c->seg_head; i < c->nsegs; i++) {
		if (c->segs[i].end > c->consumed)
			return c->segs[i].avail_t;
	}
	return SIM_NEVER;
}

/* The firmware takes n bytes at time t. Returns a pointer to them. */
const unsigned char *conn_take(struct conn *c, size_t n, usec_t t)
{
	const unsigned char *p = c->buf + c->consumed;
	c->consumed += n;
	while (c->seg_head < c->nsegs && c->segs[c->seg_head].end <= c->consumed)
		c->seg_head++;
	/* keep a bounded history of consume marks for the window computation */
	if (c->mark_head > 0 && c->nmarks == c->mark_cap) {
		memmove(c->marks, c->marks + c->mark_head, (c->nmarks - c->mark_head) * sizeof *c->marks);
		c->nmarks -= c->mark_head;
		c->mark_head = 0;
	}
	if (grow((void **)&c->marks, &c->mark_cap, c->nmarks + 1, sizeof *c->marks) == 0) {
		c->marks[c->nmarks].off = c->consumed;
		c->marks[c->nmarks].t = t;
		c->nmarks++;
	}
	return p;
}

/* connected() as the firmware sees it: false once the peer closed and
 * everything it sent before the FIN has been consumed. */
int conn_peer_gone(const struct conn *c, const struct config *cfg, usec_t t)
{
	if (!c->eof)
		return 0;
	if (c->consumed < c->read_off)
		return 0;
	return t >= c->eof_t + owd_us(cfg);
}

void out_push(struct outmsg **head, struct outmsg **tail, usec_t when,
	      const void *data, size_t len, int close_after,
	      const struct sockaddr_storage *to, socklen_t tolen)
{
	struct outmsg *m = calloc(1, sizeof *m + len + 1);
	if (!m)
		return; /* out of memory: the message is lost, like a dropped packet */
	m->when = when;
	m->len = len;
	m->close_after = close_after;
	if (len)
		memcpy(m->data, data, len);
	if (to) {
		m->to = *to;
		m->tolen = tolen;
	}
	/* keep the queue ordered by time (insertion is almost always at the tail) */
	if (!*head || (*tail)->when <= when) {
		if (*tail)
			(*tail)->next = m;
		else
			*head = m;
		*tail = m;
		return;
	}
	struct outmsg **pp = head;
	while (*pp && (*pp)->when <= when)
		pp = &(*pp)->next;
	m->next = *pp;
	*pp = m;
}

void out_free_all(struct outmsg **head, struct outmsg **tail)
{
	struct outmsg *m = *head;
	while (m) {
		struct outmsg *n = m->next;
		free(m);
		m = n;
	}
	*head = *tail = NULL;
}

/* Write due messages. Returns 1 when the connection should now be closed. */
int conn_flush_out(struct conn *c, usec_t now)
{
	while (c->out_head && c->out_head->when <= now) {
		struct outmsg *m = c->out_head;
		while (m->sent < m->len) {
			ssize_t n = send(c->fd, m->data + m->sent, m->len - m->sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->blocked = 1;
					return 0;
				}
				m->sent = m->len; /* peer gone: the bytes are lost */
				break;
			}
			m->sent += (size_t)n;
		}
		int cl = m->close_after;
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(m);
		if (cl)
			return 1;
	}
	return 0;
}
