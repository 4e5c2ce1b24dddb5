/*
 * The mDNS socket driver: sockets, interfaces, poll and the clock around
 * the sans-I/O querier (mdns.c); and the public espota_discover_* API.
 */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include "proto/mdns.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "posix/mdns_fallback.h"
#include "posix/session_internal.h"

_Static_assert(AF_INET == 2 && AF_INET6 == 10, "mdns.c hard-codes the Linux address family numbers");

#define MAX_IFS 32
#define MAX_SOCKS 2
#define MAX_UNICAST 16

struct espota_discover {
	espota_discover_options opts;
	char interface[IF_NAMESIZE];
	char unicast[400];
	int wake[2];
	atomic_int cancelled;
	int running;
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

static void set_error(espota_discover *d, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
static void set_error(espota_discover *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
}

static void dlog(const espota_discover *d, espota_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
static void dlog(const espota_discover *d, espota_log_level level, const char *fmt, ...)
{
	char msg[ESPOTA__MSG_SIZE];
	va_list ap;
	if (d->opts.log == NULL || level > d->opts.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->opts.log(level, msg, d->opts.log_payload);
}

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
	espota_discover *d;

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
	if (pipe(d->wake) != 0) {
		free(d);
		return ESPOTA_EIO;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(d->wake[i], F_SETFL, fcntl(d->wake[i], F_GETFL) | O_NONBLOCK);
		fcntl(d->wake[i], F_SETFD, FD_CLOEXEC);
	}
	*out = d;
	return ESPOTA_OK;
}

void espota_discover_free(espota_discover *d)
{
	if (d == NULL)
		return;
	close(d->wake[0]);
	close(d->wake[1]);
	free(d);
}

int espota_discover_cancel(espota_discover *d)
{
	if (d == NULL)
		return ESPOTA_EINVAL;
	atomic_store(&d->cancelled, 1);
	/* a full pipe already wakes the loop */
	if (write(d->wake[1], "x", 1) < 0 && errno != EAGAIN)
		return ESPOTA_EIO;
	return ESPOTA_OK;
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
static int io_open(espota_discover *d, mdns_io *io)
{
	const char *uni = d->opts.unicast ? d->opts.unicast : getenv("ESPOTA_MDNS_UNICAST");
	const char *envport = getenv("ESPOTA_MDNS_PORT");
	uint16_t port = ESPOTA__MDNS_PORT;
	struct ifaddrs *ifa = NULL;

	memset(io, 0, sizeof(*io));
	if (envport && *envport)
		port = (uint16_t)strtoul(envport, NULL, 10);
	if (uni && *uni) {
		/* "ADDR:PORT[,ADDR:PORT...]", one family */
		char list[sizeof(d->unicast)], *save = NULL;
		int fd;
		snprintf(list, sizeof(list), "%s", uni);
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (io->ndst == MAX_UNICAST ||
			    parse_hostport(t, &io->dst[io->ndst], &io->dstlen[io->ndst]) != 0 ||
			    io->dst[io->ndst].ss_family != io->dst[0].ss_family) {
				set_error(d, "test unicast target is not ADDR:PORT[,ADDR:PORT...]: \"%.60s\"", uni);
				return ESPOTA_EINVAL;
			}
			io->ndst++;
		}
		if (io->ndst == 0) {
			set_error(d, "empty test unicast target");
			return ESPOTA_EINVAL;
		}
		if ((fd = open_sock(io->dst[0].ss_family)) < 0) {
			set_error(d, "cannot open a UDP socket: %s", strerror(errno));
			return ESPOTA_EIO;
		}
		io->fd[0] = fd;
		io->family[0] = io->dst[0].ss_family;
		io->nfd = 1;
		io->unicast = 1;
		dlog(d, ESPOTA_LOG_DEBUG, "mDNS test mode: queries go unicast to %s", uni);
		return ESPOTA_OK;
	}
	io->src_port = port;
	if (getifaddrs(&ifa) != 0) {
		set_error(d, "cannot list the network interfaces: %s", strerror(errno));
		return ESPOTA_EIO;
	}
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		unsigned int idx;
		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_MULTICAST))
			continue;
		if (d->opts.interface ? strcmp(i->ifa_name, d->opts.interface) != 0
		                      : (i->ifa_flags & IFF_LOOPBACK) != 0)
			continue;
		idx = if_nametoindex(i->ifa_name);
		if (i->ifa_addr->sa_family == AF_INET && d->opts.family != 6 && io->n4 < MAX_IFS) {
			int dup = 0;
			for (int k = 0; k < io->n4; k++)
				dup |= io->ifidx4[k] == idx;
			if (!dup) {
				io->ifaddr4[io->n4] = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
				io->ifidx4[io->n4++] = idx;
			}
		} else if (i->ifa_addr->sa_family == AF_INET6 && d->opts.family != 4 && io->n6 < MAX_IFS) {
			int dup = 0;
			for (int k = 0; k < io->n6; k++)
				dup |= io->ifidx6[k] == idx;
			if (!dup)
				io->ifidx6[io->n6++] = idx;
		}
	}
	freeifaddrs(ifa);
	if (io->n4 + io->n6 == 0) {
		set_error(d, d->opts.interface ? "interface \"%s\" is not up or cannot multicast"
			: "no interface is up and multicast-capable%s", d->opts.interface ? d->opts.interface : "");
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
		set_error(d, "cannot open a UDP socket: %s", strerror(errno));
		return ESPOTA_EIO;
	}
	return ESPOTA_OK;
}

static void io_send(espota_discover *d, mdns_io *io, const unsigned char *pkt, size_t len)
{
	if (io->unicast) {
		for (int i = 0; i < io->ndst; i++)
			if (sendto(io->fd[0], pkt, len, 0, (struct sockaddr *)&io->dst[i], io->dstlen[i]) == (ssize_t)len)
				d->sent++;
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
					d->sent++;
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
					d->sent++;
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

static int drain_wake(espota_discover *d)
{
	char b[16];
	while (read(d->wake[0], b, sizeof(b)) > 0)
		;
	return atomic_load(&d->cancelled);
}

/* The loop shared by browse and resolve. */
static int run(espota_discover *d, espota__mdns *m, espota_discover_cb cb, void *payload)
{
	mdns_io io;
	unsigned char pkt[ESPOTA__MDNS_QUERY_MAX];
	int rc;

	if ((rc = io_open(d, &io)) < 0)
		return rc;
	for (;;) {
		uint64_t now = espota__now_ms(), next, wait;
		struct pollfd pfd[MAX_SOCKS + 1];
		espota_device_info info;
		int n;

		if (drain_wake(d)) {
			set_error(d, "cancelled");
			rc = ESPOTA_ECANCELLED;
			break;
		}
		while ((n = espota__mdns_build_query(m, now, pkt, sizeof(pkt))) > 0)
			io_send(d, &io, pkt, (size_t)n);
		if (n < 0) {
			set_error(d, "cannot build an mDNS query");
			rc = n;
			break;
		}
		while (espota__mdns_take_ready(m, &info, now) != NULL) {
			int r = 0;
			d->found++;
			dlog(d, ESPOTA_LOG_DEBUG, "mDNS: %s at %s:%u (%s)", info.instance,
				info.naddrs ? info.addrs[0].address : "?", info.port, info.hostname);
			if (cb != NULL)
				r = cb(&info, payload);
			if (r != 0) {
				rc = r > 0 ? ESPOTA_OK : ESPOTA_EUSER;
				if (r < 0)
					set_error(d, "the discover callback returned %d", r);
				goto out;
			}
		}
		if (espota__mdns_resolved(m)) {
			rc = ESPOTA_OK;
			break;
		}
		if (now >= m->deadline) {
			rc = ESPOTA_OK;
			break;
		}
		next = espota__mdns_next_send(m);
		if (next > m->deadline)
			next = m->deadline;
		wait = next > now ? next - now : 0;
		for (int i = 0; i < io.nfd; i++)
			pfd[i] = (struct pollfd){ io.fd[i], POLLIN, 0 };
		pfd[io.nfd] = (struct pollfd){ d->wake[0], POLLIN, 0 };
		n = poll(pfd, (nfds_t)io.nfd + 1, (int)(wait > 60000 ? 60000 : wait));
		if (n < 0 && errno != EINTR) {
			set_error(d, "poll: %s", strerror(errno));
			rc = ESPOTA_EIO;
			break;
		}
		now = espota__now_ms();
		for (int i = 0; n > 0 && i < io.nfd; i++)
			if (pfd[i].revents & POLLIN)
				io_recv(m, &io, i, now);
	}
out:
	dlog(d, ESPOTA_LOG_DEBUG, "mDNS: %zu packets in (%zu ignored), %zu sent",
		m->packets_in, m->packets_bad, d->sent);
	io_close(&io);
	return rc;
}

static int begin(espota_discover *d)
{
	if (d->running)
		return ESPOTA_EINVAL;
	drain_wake(d);
	atomic_store(&d->cancelled, 0);
	d->found = d->sent = 0;
	d->error[0] = '\0';
	return ESPOTA_OK;
}

int espota_discover_browse(espota_discover *d, espota_discover_cb cb, void *payload)
{
	espota__mdns m;
	int rc;

	if (d == NULL || begin(d) < 0)
		return ESPOTA_EINVAL;
	rc = espota__mdns_init(&m, ESPOTA__MDNS_BROWSE, "_arduino._tcp.local", d->opts.family,
		d->opts.max_devices, espota__now_ms(), d->opts.timeout_ms);
	if (rc < 0)
		return rc;
	d->running = 1;
	rc = run(d, &m, cb, payload);
	d->running = 0;
	espota__mdns_free(&m);
	return rc;
}

int espota_discover_resolve(espota_discover *d, const char *name, char *out, size_t outlen)
{
	char full[260];
	size_t n;
	espota__mdns m;
	int rc;

	if (d == NULL || name == NULL || out == NULL || outlen == 0 || begin(d) < 0)
		return ESPOTA_EINVAL;
	out[0] = '\0';
	n = strlen(name);
	while (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 250) {
		set_error(d, "not a host name");
		return ESPOTA_EINVAL;
	}
	/* "dev" and "dev.local" both mean dev.local */
	if (n > 6 && strncasecmp(name + n - 6, ".local", 6) == 0)
		snprintf(full, sizeof(full), "%.*s", (int)n, name);
	else
		snprintf(full, sizeof(full), "%.*s.local", (int)n, name);
	rc = espota__mdns_init(&m, ESPOTA__MDNS_RESOLVE, full, d->opts.family, 1,
		espota__now_ms(), d->opts.timeout_ms);
	if (rc < 0) {
		set_error(d, "not a host name");
		return rc;
	}
	d->running = 1;
	rc = run(d, &m, NULL, NULL);
	d->running = 0;
	if (rc == ESPOTA_OK && !m.resolved) {
		set_error(d, "no mDNS answer for %.200s within %u ms", full,
			d->opts.timeout_ms ? d->opts.timeout_ms : 2000);
		rc = ESPOTA_ERESOLVE;
	} else if (rc == ESPOTA_OK) {
		snprintf(out, outlen, "%s", m.result.address);
		if (m.result.family == AF_INET6 && m.result.ifindex &&
		    strncmp(m.result.address, "fe80", 4) == 0 && m.result.interface[0])
			snprintf(out, outlen, "%s%%%s", m.result.address, m.result.interface);
	}
	espota__mdns_free(&m);
	return rc;
}

int espota__mdns_fallback(const char *host, char *out, size_t outlen, char *err, size_t errlen)
{
	espota_discover *d = NULL;
	size_t n = strlen(host);
	int rc;

	while (n > 0 && host[n - 1] == '.')
		n--;
	if (n <= 6 || strncasecmp(host + n - 6, ".local", 6) != 0)
		return ESPOTA_ERESOLVE;
	if ((rc = espota_discover_new(&d, NULL)) < 0)
		return rc;
	rc = espota_discover_resolve(d, host, out, outlen);
	if (rc < 0)
		snprintf(err, errlen, "%s", espota_discover_last_error(d));
	espota_discover_free(d);
	return rc;
}
