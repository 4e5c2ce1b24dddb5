/*
 * The mDNS socket driver: sockets, interfaces and the clock around the
 * sans-I/O querier (mdns.c), run as a transfer of a multi handle (multi.c
 * polls); and the public espota_discover_* API, whose blocking calls are a
 * multi handle with one transfer, as espota_upload() is.
 */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include "proto/mdns.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "posix/mdns_fallback.h"
#include "posix/multi_internal.h"

_Static_assert(AF_INET == 2 && AF_INET6 == 10, "mdns.c hard-codes the Linux address family numbers");

#define MAX_IFS 32
#define MAX_SOCKS 2
#define MAX_UNICAST 16

struct espota_discover {
	espota_discover_options opts;
	char interface[IF_NAMESIZE];
	char unicast[400];
	espota_session *s;           /* its cancel channel and log (the options' callback) */
	int running;                 /* a browse or resolve of this handle is under way */
	size_t found, sent;
	char error[ESPOTA__MSG_SIZE];
};

typedef struct mdns_io {
	int fd[MAX_SOCKS];
	int family[MAX_SOCKS];
	int nfd;
	int unicast;                      /* test mode: listed destinations */
	struct sockaddr_storage dst[MAX_UNICAST];
	socklen_t dstlen[MAX_UNICAST];
	int ndst;
	uint16_t src_port;                /* answers must come from this port (multicast) */
	unsigned int ifidx4[MAX_IFS], ifidx6[MAX_IFS];
	struct in_addr ifaddr4[MAX_IFS];
	int n4, n6;
} mdns_io;

/* One browse or resolve on a multi handle (mdns_fallback.h). */
struct espota__mdns_run {
	espota_session *log;              /* logs through this session */
	char prefix[80];
	espota_discover *d;               /* the handle it runs for, until it ends; NULL: an upload's */
	espota_discover_options opts;     /* the handle's, or the defaults */
	espota_session *cancel;           /* a cancel channel to watch besides the multi's, or NULL */
	espota_discover_cb cb;
	void *payload;
	espota__mdns m;
	mdns_io io;
	int engine_ready, finished, code;
	char name[260];                   /* resolve: the full name; browse: "" */
	char address[80];                 /* resolve: the answer */
	char error[ESPOTA__MSG_SIZE];
	espota_device_info *devs;         /* every device reported (pointers into the engine's) */
	size_t ndevs, devs_cap;
	size_t sent;
};

#define RLOG(r, level, fmt, ...) espota__session_log((r)->log, level, "%s" fmt, (r)->prefix, __VA_ARGS__)
#define RERR(r, ...) snprintf((r)->error, sizeof((r)->error), __VA_ARGS__)

int espota_discover_options_init(espota_discover_options *opts, unsigned int version)
{
	espota_discover_options def = ESPOTA_DISCOVER_OPTIONS_INIT;
	/* docs/api.md: any version from 1 to ours */
	if (opts == NULL || version < 1 || version > ESPOTA_DISCOVER_OPTIONS_VERSION)
		return ESPOTA_EINVAL;
	*opts = def;
	opts->version = version;
	return ESPOTA_OK;
}

int espota_discover_new(espota_discover **out, const espota_discover_options *opts)
{
	espota_discover_options def = ESPOTA_DISCOVER_OPTIONS_INIT;
	espota_session_options so = ESPOTA_SESSION_OPTIONS_INIT;
	espota_discover *d;
	int rc;

	if (out == NULL)
		return ESPOTA_EINVAL;
	*out = NULL;
	if (opts == NULL)
		opts = &def;
	if (opts->version < 1 || opts->version > ESPOTA_DISCOVER_OPTIONS_VERSION ||
	    (opts->family != 0 && opts->family != 4 && opts->family != 6) ||
	    (opts->interface && strlen(opts->interface) >= IF_NAMESIZE) ||
	    (opts->unicast && strlen(opts->unicast) >= sizeof(((espota_discover *)0)->unicast)))
		return ESPOTA_EINVAL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ESPOTA_ENOMEM;
	d->opts = *opts;
	if (opts->interface) {
		snprintf(d->interface, sizeof(d->interface), "%s", opts->interface);
		d->opts.interface = d->interface;
	}
	if (opts->unicast) {
		snprintf(d->unicast, sizeof(d->unicast), "%s", opts->unicast);
		d->opts.unicast = d->unicast;
	}
	/* A session of its own: the one cancel pipe and log of the library,
	 * and what the blocking browse's multi handle runs on. */
	so.log_level = opts->log_level;
	so.log = opts->log;
	so.log_payload = opts->log_payload;
	if ((rc = espota_session_new(&d->s, &so)) < 0) {
		free(d);
		return rc;
	}
	*out = d;
	return ESPOTA_OK;
}

void espota_discover_free(espota_discover *d)
{
	if (d == NULL)
		return;
	espota_session_free(d->s);
	free(d);
}

int espota_discover_cancel(espota_discover *d)
{
	if (d == NULL)
		return ESPOTA_EINVAL;
	return espota_session_cancel(d->s);
}

espota_session *espota__discover_session(const espota_discover *d)
{
	return d->s;
}

size_t espota_discover_found(const espota_discover *d)
{
	return d ? d->found : 0;
}

size_t espota_discover_packets_sent(const espota_discover *d)
{
	return d ? d->sent : 0;
}

const char *espota_discover_last_error(const espota_discover *d)
{
	return d ? d->error : "";
}

/* "ADDR:PORT", "[V6]:PORT" */
static int parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon;
	char *end;
	unsigned long port;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static int open_sock(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rcv = 1 << 20;
	if (fd < 0)
		return -1;
	/* a burst of answers from a whole fleet lands at once */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (family == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	return fd;
}

static void io_close(mdns_io *io)
{
	for (int i = 0; i < io->nfd; i++)
		close(io->fd[i]);
	io->nfd = 0;
}

/* One-shot querier sockets (RFC 6762 5.1): ephemeral source port, so
 * answers come back unicast; one socket per family. */
static int io_open(espota__mdns_run *r, mdns_io *io)
{
	const char *uni = r->opts.unicast ? r->opts.unicast : getenv("ESPOTA_MDNS_UNICAST");
	const char *envport = getenv("ESPOTA_MDNS_PORT");
	uint16_t port = ESPOTA__MDNS_PORT;
	struct ifaddrs *ifa = NULL;

	memset(io, 0, sizeof(*io));
	if (envport && *envport)
		port = (uint16_t)strtoul(envport, NULL, 10);
	if (uni && *uni) {
		/* "ADDR:PORT[,ADDR:PORT...]", one family */
		char list[sizeof(((espota_discover *)0)->unicast)], *save = NULL;
		int fd;
		snprintf(list, sizeof(list), "%s", uni);
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (io->ndst == MAX_UNICAST ||
			    parse_hostport(t, &io->dst[io->ndst], &io->dstlen[io->ndst]) != 0 ||
			    io->dst[io->ndst].ss_family != io->dst[0].ss_family) {
				RERR(r, "test unicast target is not ADDR:PORT[,ADDR:PORT...]: \"%.60s\"", uni);
				return ESPOTA_EINVAL;
			}
			io->ndst++;
		}
		if (io->ndst == 0) {
			RERR(r, "empty test unicast target");
			return ESPOTA_EINVAL;
		}
		if ((fd = open_sock(io->dst[0].ss_family)) < 0) {
			RERR(r, "cannot open a UDP socket: %s", strerror(errno));
			return ESPOTA_EIO;
		}
		io->fd[0] = fd;
		io->family[0] = io->dst[0].ss_family;
		io->nfd = 1;
		io->unicast = 1;
		RLOG(r, ESPOTA_LOG_DEBUG, "mDNS test mode: queries go unicast to %s", uni);
		return ESPOTA_OK;
	}
	io->src_port = port;
	if (getifaddrs(&ifa) != 0) {
		RERR(r, "cannot list the network interfaces: %s", strerror(errno));
		return ESPOTA_EIO;
	}
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		unsigned int idx;
		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_MULTICAST))
			continue;
		if (r->opts.interface ? strcmp(i->ifa_name, r->opts.interface) != 0
		                      : (i->ifa_flags & IFF_LOOPBACK) != 0)
			continue;
		idx = if_nametoindex(i->ifa_name);
		if (i->ifa_addr->sa_family == AF_INET && r->opts.family != 6 && io->n4 < MAX_IFS) {
			int dup = 0;
			for (int k = 0; k < io->n4; k++)
				dup |= io->ifidx4[k] == idx;
			if (!dup) {
				io->ifaddr4[io->n4] = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
				io->ifidx4[io->n4++] = idx;
			}
		} else if (i->ifa_addr->sa_family == AF_INET6 && r->opts.family != 4 && io->n6 < MAX_IFS) {
			int dup = 0;
			for (int k = 0; k < io->n6; k++)
				dup |= io->ifidx6[k] == idx;
			if (!dup)
				io->ifidx6[io->n6++] = idx;
		}
	}
	freeifaddrs(ifa);
	if (io->n4 + io->n6 == 0) {
		RERR(r, r->opts.interface ? "interface \"%s\" is not up or cannot multicast"
			: "no interface is up and multicast-capable%s", r->opts.interface ? r->opts.interface : "");
		return ESPOTA_EIO;
	}
	if (io->n4) {
		int fd = open_sock(AF_INET);
		unsigned char ttl = 255, loop = 1;
		if (fd >= 0) {
			/* RFC 6762 11: link-local scope; TTL 255 lets a receiver check */
			setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
			setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
			io->fd[io->nfd] = fd;
			io->family[io->nfd++] = AF_INET;
		}
	}
	if (io->n6) {
		int fd = open_sock(AF_INET6);
		int hops = 255, loop = 1;
		if (fd >= 0) {
			setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
			setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof(loop));
			io->fd[io->nfd] = fd;
			io->family[io->nfd++] = AF_INET6;
		}
	}
	if (io->nfd == 0) {
		RERR(r, "cannot open a UDP socket: %s", strerror(errno));
		return ESPOTA_EIO;
	}
	return ESPOTA_OK;
}

static void io_send(espota__mdns_run *r, mdns_io *io, const unsigned char *pkt, size_t len)
{
	if (io->unicast) {
		for (int i = 0; i < io->ndst; i++)
			if (sendto(io->fd[0], pkt, len, 0, (struct sockaddr *)&io->dst[i], io->dstlen[i]) == (ssize_t)len)
				r->sent++;
		return;
	}
	for (int s = 0; s < io->nfd; s++) {
		if (io->family[s] == AF_INET) {
			for (int k = 0; k < io->n4; k++) {
				struct ip_mreqn mr;
				struct sockaddr_in to;
				memset(&mr, 0, sizeof(mr));
				mr.imr_ifindex = (int)io->ifidx4[k];
				mr.imr_address = io->ifaddr4[k];
				memset(&to, 0, sizeof(to));
				to.sin_family = AF_INET;
				to.sin_port = htons(io->src_port);
				to.sin_addr.s_addr = htonl(0xe00000fbu); /* 224.0.0.251 */
				if (setsockopt(io->fd[s], IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) == 0 &&
				    sendto(io->fd[s], pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
					r->sent++;
			}
		} else {
			for (int k = 0; k < io->n6; k++) {
				struct sockaddr_in6 to;
				unsigned int idx = io->ifidx6[k];
				memset(&to, 0, sizeof(to));
				to.sin6_family = AF_INET6;
				to.sin6_port = htons(io->src_port);
				inet_pton(AF_INET6, "ff02::fb", &to.sin6_addr);
				to.sin6_scope_id = idx;
				if (setsockopt(io->fd[s], IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)) == 0 &&
				    sendto(io->fd[s], pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
					r->sent++;
			}
		}
	}
}

/* Multicast: any host on the link, from the mDNS port; test mode: only
 * the listed responders. */
static int from_responder(const mdns_io *io, const struct sockaddr_storage *from, uint16_t sport)
{
	if (!io->unicast)
		return sport == io->src_port;
	for (int i = 0; i < io->ndst; i++) {
		if (from->ss_family != io->dst[i].ss_family)
			continue;
		if (from->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)from, *b = (const void *)&io->dst[i];
			if (a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr)
				return 1;
		} else {
			const struct sockaddr_in6 *a = (const void *)from, *b = (const void *)&io->dst[i];
			if (a->sin6_port == b->sin6_port && !memcmp(&a->sin6_addr, &b->sin6_addr, 16))
				return 1;
		}
	}
	return 0;
}

/* Read every queued datagram of one socket into the engine. */
static void io_recv(espota__mdns *m, mdns_io *io, int s, uint64_t now)
{
	/* bounded per wake-up: a flood cannot starve the deadline check */
	for (int budget = 0; budget < 512; budget++) {
		static const size_t cap = ESPOTA__MDNS_PKT_MAX + 1;
		unsigned char buf[ESPOTA__MDNS_PKT_MAX + 1];
		unsigned char ctl[256];
		struct sockaddr_storage from;
		struct iovec iov = { buf, cap };
		struct msghdr mh;
		unsigned int ifindex = 0;
		char ifname[IF_NAMESIZE] = "";
		uint16_t sport;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		n = recvmsg(io->fd[s], &mh, 0);
		if (n < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				ifindex = (unsigned int)pi.ipi_ifindex;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				ifindex = pi.ipi6_ifindex;
			}
		}
		/* RFC 6762 6 / 11: answers come from the mDNS port; anything
		 * else on our ephemeral port is not an answer */
		sport = ntohs(from.ss_family == AF_INET ? ((struct sockaddr_in *)&from)->sin_port
			: ((struct sockaddr_in6 *)&from)->sin6_port);
		if (!from_responder(io, &from, sport) || (mh.msg_flags & MSG_TRUNC))
			continue;
		if (ifindex == 0 || if_indextoname(ifindex, ifname) == NULL)
			ifname[0] = '\0';
		espota__mdns_on_packet(m, buf, (size_t)n, ifindex, ifname, now);
	}
}

/* ---- one browse or resolve, driven by a multi handle ------------------------- */

int espota__mdns_is_local(const char *host)
{
	size_t n = strlen(host);

	while (n > 0 && host[n - 1] == '.')
		n--;
	return n > 6 && strncasecmp(host + n - 6, ".local", 6) == 0;
}

/* The run is over: close its sockets and leave the outcome on its handle. */
static void run_end(espota__mdns_run *r, int code, const char *msg)
{
	espota_discover *d = r->d;

	if (r->finished)
		return;
	r->finished = 1;
	r->code = code;
	if (msg != NULL && msg != r->error)
		snprintf(r->error, sizeof(r->error), "%s", msg);
	if (code == ESPOTA_OK)
		r->error[0] = '\0';
	if (r->engine_ready)
		RLOG(r, ESPOTA_LOG_DEBUG, "mDNS: %zu packets in (%zu ignored), %zu sent",
			r->m.packets_in, r->m.packets_bad, r->sent);
	io_close(&r->io);
	if (d != NULL) {
		/* The handle may run again (or be freed) while this run's devices are still read. */
		d->found = r->ndevs;
		d->sent = r->sent;
		snprintf(d->error, sizeof(d->error), "%s", r->error);
		d->running = 0;
		r->d = NULL;
	}
}

int espota__mdns_run_new(espota__mdns_run **out, espota_session *log, const char *prefix,
	espota_discover *d, int watch_cancel, const char *resolve, espota_discover_cb cb, void *payload)
{
	espota_discover_options def = ESPOTA_DISCOVER_OPTIONS_INIT;
	espota__mdns_run *r;
	int rc;

	*out = NULL;
	if (d != NULL && d->running)
		return ESPOTA_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return ESPOTA_ENOMEM;
	r->log = d != NULL ? d->s : log;
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix != NULL ? prefix : "");
	r->opts = d != NULL ? d->opts : def;
	r->cb = cb;
	r->payload = payload;
	r->code = 1;
	r->io.nfd = 0;
	*out = r;
	if (d != NULL) {
		/* A cancel before the run existed was meant for earlier work. */
		espota__session_reset_cancel(d->s);
		d->found = d->sent = 0;
		d->error[0] = '\0';
		d->running = 1;
		r->d = d;
		r->cancel = watch_cancel ? d->s : NULL;
	}
	if (resolve != NULL) {
		size_t n = strlen(resolve);
		while (n > 0 && resolve[n - 1] == '.')
			n--;
		if (n == 0 || n > 250) {
			run_end(r, ESPOTA_EINVAL, "not a host name");
			return ESPOTA_OK;
		}
		/* "dev" and "dev.local" both mean dev.local */
		if (espota__mdns_is_local(resolve))
			snprintf(r->name, sizeof(r->name), "%.*s", (int)n, resolve);
		else
			snprintf(r->name, sizeof(r->name), "%.*s.local", (int)n, resolve);
		rc = espota__mdns_init(&r->m, ESPOTA__MDNS_RESOLVE, r->name, r->opts.family, 1,
			espota__now_ms(), r->opts.timeout_ms);
	} else {
		rc = espota__mdns_init(&r->m, ESPOTA__MDNS_BROWSE, "_arduino._tcp.local", r->opts.family,
			r->opts.max_devices, espota__now_ms(), r->opts.timeout_ms);
	}
	if (rc < 0) {
		run_end(r, rc, resolve != NULL ? "not a host name" : "cannot start the mDNS querier");
		return ESPOTA_OK;
	}
	r->engine_ready = 1;
	if ((rc = io_open(r, &r->io)) < 0)
		run_end(r, rc, r->error);
	return ESPOTA_OK;
}

void espota__mdns_run_free(espota__mdns_run *r)
{
	if (r == NULL)
		return;
	run_end(r, ESPOTA_ECANCELLED, "removed");
	if (r->engine_ready)
		espota__mdns_free(&r->m);
	free(r->devs);
	free(r);
}

void espota__mdns_run_stop(espota__mdns_run *r, int code, const char *msg)
{
	run_end(r, code, msg);
}

int espota__mdns_run_pollfds(espota__mdns_run *r, struct pollfd *p)
{
	int n = 0;

	if (r->finished)
		return 0;
	for (int i = 0; i < r->io.nfd; i++)
		p[n++] = (struct pollfd){ r->io.fd[i], POLLIN, 0 };
	if (r->cancel != NULL)
		p[n++] = (struct pollfd){ r->cancel->wake[0], POLLIN, 0 };
	return n;
}

int espota__mdns_run_cancelled(const espota__mdns_run *r)
{
	return !r->finished && r->cancel != NULL && atomic_load(&r->cancel->cancelled);
}

uint64_t espota__mdns_run_deadline(const espota__mdns_run *r)
{
	uint64_t next;

	if (r->finished || espota__mdns_run_cancelled(r))
		return 0;
	next = espota__mdns_next_send(&r->m);
	return next < r->m.deadline ? next : r->m.deadline;
}

int espota__mdns_run_ready(espota__mdns_run *r, int fd, short revents, uint64_t now)
{
	if (r->finished)
		return 0;
	for (int i = 0; i < r->io.nfd; i++) {
		if (r->io.fd[i] == fd) {
			if (revents & (POLLIN | POLLERR))
				io_recv(&r->m, &r->io, i, now);
			return 1;
		}
	}
	/* the cancel pipe: espota__mdns_run_cancelled() says it */
	return r->cancel != NULL && fd == r->cancel->wake[0];
}

/* Keep a reported device: its strings live in the engine until the run is freed. */
static const espota_device_info *keep(espota__mdns_run *r, const espota_device_info *info)
{
	if (r->ndevs == r->devs_cap) {
		size_t cap = r->devs_cap ? r->devs_cap * 2 : 16;
		espota_device_info *n = realloc(r->devs, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		r->devs = n;
		r->devs_cap = cap;
	}
	r->devs[r->ndevs] = *info;
	if (r->d != NULL)
		r->d->found = r->ndevs + 1;
	return &r->devs[r->ndevs++];
}

int espota__mdns_run_service(espota__mdns_run *r, uint64_t now)
{
	unsigned char pkt[ESPOTA__MDNS_QUERY_MAX];
	espota_device_info info;
	int n;

	if (r->finished)
		return r->code;
	while ((n = espota__mdns_build_query(&r->m, now, pkt, sizeof(pkt))) > 0)
		io_send(r, &r->io, pkt, (size_t)n);
	if (r->d != NULL)
		r->d->sent = r->sent;
	if (n < 0) {
		run_end(r, n, "cannot build an mDNS query");
		return r->code;
	}
	while (espota__mdns_take_ready(&r->m, &info, now) != NULL) {
		const espota_device_info *kept = keep(r, &info);
		int stop = 0;

		if (kept == NULL) {
			run_end(r, ESPOTA_ENOMEM, "out of memory");
			return r->code;
		}
		RLOG(r, ESPOTA_LOG_DEBUG, "mDNS: %s at %s:%u (%s)", info.instance,
			info.naddrs ? info.addrs[0].address : "?", info.port, info.hostname);
		if (r->cb != NULL)
			stop = r->cb(kept, r->payload);
		if (stop != 0) {
			char msg[64];
			snprintf(msg, sizeof(msg), "the discover callback returned %d", stop);
			run_end(r, stop > 0 ? ESPOTA_OK : ESPOTA_EUSER, msg);
			return r->code;
		}
	}
	if (espota__mdns_resolved(&r->m)) {
		const espota_discover_addr *a = &r->m.result;
		snprintf(r->address, sizeof(r->address), "%s", a->address);
		if (a->family == AF_INET6 && a->ifindex && strncmp(a->address, "fe80", 4) == 0 && a->interface[0])
			snprintf(r->address, sizeof(r->address), "%s%%%s", a->address, a->interface);
		run_end(r, ESPOTA_OK, NULL);
	} else if (now >= r->m.deadline) {
		if (r->name[0] != '\0') {
			RERR(r, "no mDNS answer for %.200s within %u ms", r->name,
				r->opts.timeout_ms ? r->opts.timeout_ms : 2000);
			run_end(r, ESPOTA_ERESOLVE, r->error);
		} else {
			run_end(r, ESPOTA_OK, NULL);
		}
	}
	return r->finished ? r->code : 1;
}

int espota__mdns_run_finished(const espota__mdns_run *r)
{
	return r->finished;
}

const char *espota__mdns_run_error(const espota__mdns_run *r)
{
	return r->error;
}

const char *espota__mdns_run_address(const espota__mdns_run *r)
{
	return r->address;
}

const char *espota__mdns_run_name(const espota__mdns_run *r)
{
	return r->name;
}

size_t espota__mdns_run_sent(const espota__mdns_run *r)
{
	return r->sent;
}

size_t espota__mdns_run_count(const espota__mdns_run *r)
{
	return r->ndevs;
}

const espota_device_info *espota__mdns_run_device(const espota__mdns_run *r, size_t i)
{
	return i < r->ndevs ? &r->devs[i] : NULL;
}

/* ---- the blocking calls: a multi handle with one transfer ------------------- */

static int run_blocking(espota_discover *d, const char *name, espota_discover_cb cb, void *payload,
	char *out, size_t outlen)
{
	espota_multi *m;
	espota_transfer *t = NULL;
	int rc;

	if (d->running)
		return ESPOTA_EINVAL;
	/* On the handle's own session: its cancel pipe is the multi's. */
	if ((m = espota__multi_new(d->s)) == NULL)
		return ESPOTA_ENOMEM;
	rc = name != NULL ? espota_multi_add_resolve(m, &t, d, name) : espota_multi_add_browse(m, &t, d, cb, payload);
	while (rc == ESPOTA_OK && espota_multi_running(m) > 0)
		rc = espota__multi_poll(m, -1);
	if (rc == ESPOTA_OK)
		rc = espota_transfer_result(t);
	if (rc == ESPOTA_OK && out != NULL)
		snprintf(out, outlen, "%s", espota_transfer_address(t));
	espota_multi_free(m);
	return rc;
}

int espota_discover_browse(espota_discover *d, espota_discover_cb cb, void *payload)
{
	if (d == NULL)
		return ESPOTA_EINVAL;
	return run_blocking(d, NULL, cb, payload, NULL, 0);
}

int espota_discover_resolve(espota_discover *d, const char *name, char *out, size_t outlen)
{
	if (d == NULL || name == NULL || out == NULL || outlen == 0)
		return ESPOTA_EINVAL;
	out[0] = '\0';
	return run_blocking(d, name, NULL, NULL, out, outlen);
}
