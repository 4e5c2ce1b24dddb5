/*
 * The single event loop: ppoll() over every socket of every instance, and
 * a min-heap of device wake-up times (lazy deletion by generation number).
 * No threads; every socket is non-blocking.
 */
#define _GNU_SOURCE /* ppoll */
#include "sim.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

usec_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void heap_swap(struct timer_ent *a, struct timer_ent *b)
{
	struct timer_ent t = *a;
	*a = *b;
	*b = t;
}

static void heap_push(struct sim *s, struct timer_ent e)
{
	if (s->nheap == s->heap_cap) {
		size_t n = s->heap_cap ? s->heap_cap * 2 : 256;
		struct timer_ent *h = realloc(s->heap, n * sizeof *h);
		if (!h)
			return; /* the device is re-scheduled on its next socket event */
		s->heap = h;
		s->heap_cap = n;
	}
	size_t i = s->nheap++;
	s->heap[i] = e;
	while (i > 0 && s->heap[(i - 1) / 2].t > s->heap[i].t) {
		heap_swap(&s->heap[(i - 1) / 2], &s->heap[i]);
		i = (i - 1) / 2;
	}
}

static struct timer_ent heap_pop(struct sim *s)
{
	struct timer_ent top = s->heap[0];
	s->heap[0] = s->heap[--s->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheap && s->heap[l].t < s->heap[m].t)
			m = l;
		if (r < s->nheap && s->heap[r].t < s->heap[m].t)
			m = r;
		if (m == i)
			break;
		heap_swap(&s->heap[i], &s->heap[m]);
		i = m;
	}
	return top;
}

/* drop stale entries when they pile up (many re-schedules of one device) */
static void heap_compact(struct sim *s)
{
	s->nheap = 0;
	for (int i = 0; i < s->ndev; i++)
		if (s->devs[i].sched_t != SIM_NEVER)
			heap_push(s, (struct timer_ent){s->devs[i].sched_t, s->devs[i].sched_gen, i});
}

void sim_schedule(struct sim *s, struct device *d, usec_t t)
{
	if (t == d->sched_t)
		return;
	d->sched_gen++;
	d->sched_t = t;
	if (t != SIM_NEVER)
		heap_push(s, (struct timer_ent){t, d->sched_gen, d->index});
	if (s->nheap > (size_t)s->ndev * 8 + 1024)
		heap_compact(s);
}

static void run_device(struct sim *s, struct device *d, usec_t now)
{
	device_run(d, now);
	sim_schedule(s, d, device_next_wake(d, now));
}

static int all_quiet(const struct sim *s)
{
	for (int i = 0; i < s->ndev; i++)
		if (!device_idle(&s->devs[i]))
			return 0;
	return 1;
}

int sim_run(struct sim *s)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	size_t cap = (size_t)s->ndev * 3 + 3; /* + the mDNS responder's two */
	struct pollfd *pfd = calloc(cap, sizeof *pfd);
	/* owner of each pollfd: device index and which socket (0 udp, 1 c, 2 closing) */
	int *own = calloc(cap, sizeof *own);
	if (!pfd || !own) {
		free(pfd);
		free(own);
		fprintf(stderr, "espota-sim: out of memory\n");
		return 1;
	}
	usec_t end = s->cfg.lifetime > 0 ? s->t0 + (usec_t)(s->cfg.lifetime * 1e6) : SIM_NEVER;
	usec_t quiesce_deadline = SIM_NEVER;

	for (int i = 0; i < s->ndev; i++)
		sim_schedule(s, &s->devs[i], SIM_NEVER);

	int rc = 0;
	while (!got_signal) {
		usec_t now = now_us();
		if (now >= end) {
			break;
		}
		if (s->cfg.max_uploads > 0 && s->uploads_done >= s->cfg.max_uploads) {
			/* let the final texts and closes go out, bounded */
			if (quiesce_deadline == SIM_NEVER)
				quiesce_deadline = now + 3000000;
			if (all_quiet(s) || now >= quiesce_deadline)
				break;
		}
		/* due timers; a device that re-schedules itself at once runs in
		 * the next pass (bounded work per pass, fresh `now`) */
		for (size_t budget = s->nheap; budget > 0 && s->nheap && s->heap[0].t <= now; budget--) {
			struct timer_ent e = heap_pop(s);
			struct device *d = &s->devs[e.dev];
			if (e.gen != d->sched_gen)
				continue;
			d->sched_t = SIM_NEVER;
			run_device(s, d, now);
		}
		/* poll set */
		size_t n = 0;
		for (int i = 0; i < s->ndev; i++) {
			struct device *d = &s->devs[i];
			pfd[n] = (struct pollfd){d->udp_fd, POLLIN, 0};
			own[n++] = i * 3;
			/* a socket with nothing to wait for is left out (fd -1), so
			 * a peer's HUP cannot make the loop spin */
			if (d->c) {
				short ev = device_tcp_events(d, d->c);
				pfd[n] = (struct pollfd){ev ? d->c->fd : -1, ev, 0};
				own[n++] = i * 3 + 1;
			}
			if (d->closing) {
				short ev = device_tcp_events(d, d->closing);
				pfd[n] = (struct pollfd){ev ? d->closing->fd : -1, ev, 0};
				own[n++] = i * 3 + 2;
			}
		}
		int mfd[2], nm = mdns_fds(mfd);
		for (int k = 0; k < nm; k++) {
			pfd[n] = (struct pollfd){mfd[k], POLLIN, 0};
			own[n++] = -1;
		}
		usec_t next = s->nheap ? s->heap[0].t : SIM_NEVER;
		if (end < next)
			next = end;
		if (quiesce_deadline != SIM_NEVER && next > now + 10000)
			next = now + 10000; /* re-check quiescence */
		struct timespec ts, *tsp = NULL;
		if (next != SIM_NEVER) {
			usec_t wait = next - now_us();
			if (wait < 0)
				wait = 0;
			ts.tv_sec = (time_t)(wait / 1000000);
			ts.tv_nsec = (long)(wait % 1000000) * 1000;
			tsp = &ts;
		}
		int r = ppoll(pfd, (nfds_t)n, tsp, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("espota-sim: ppoll");
			rc = 1;
			break;
		}
		if (r == 0)
			continue;
		now = now_us();
		for (size_t k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (own[k] < 0) {
				mdns_on_readable(s, pfd[k].fd);
				continue;
			}
			struct device *d = &s->devs[own[k] / 3];
			int which = own[k] % 3;
			if (which == 0) {
				device_on_udp_readable(d, now);
			} else {
				struct conn *c = which == 1 ? d->c : d->closing;
				if (!c || c->fd != pfd[k].fd || pfd[k].fd < 0)
					continue; /* replaced while handling an earlier event */
				device_on_tcp_event(d, c, pfd[k].revents, now);
			}
			run_device(s, d, now);
		}
	}
	free(pfd);
	free(own);
	return rc;
}
