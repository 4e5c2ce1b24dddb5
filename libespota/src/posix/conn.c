/*
 * One device connection over the engine: sockets, accept filtering,
 * acknowledgement reads and paced writes. Shared by the blocking upload and
 * the fleet driver.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/errqueue.h>

#include <sodium.h>

#include "posix/conn.h"
#include "posix/tcpinfo.h"

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int open_sockets(espota__conn *d, char *err, size_t errlen)
{
	const espota_upload_options *o = d->opts;
	struct sockaddr_storage local;
	socklen_t locallen;
	int family = d->dev.ss_family, one = 1;

	memset(&local, 0, sizeof(local));
	if (o->bind_address != NULL && o->bind_address[0] != '\0') {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = family;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
		if (getaddrinfo(o->bind_address, NULL, &hints, &res) != 0 || res == NULL) {
			snprintf(err, errlen, "invalid local address \"%s\" for a device of this address family",
				o->bind_address);
			return ESPOTA_EINVAL;
		}
		memcpy(&local, res->ai_addr, res->ai_addrlen);
		locallen = res->ai_addrlen;
		freeaddrinfo(res);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&local;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_any;
		locallen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&local;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		locallen = sizeof(*a);
	}

	/* Listen first: the device may connect as soon as it answers. */
	d->lsn = socket(family, SOCK_STREAM, 0);
	if (d->lsn < 0 || set_nonblock(d->lsn) < 0)
		goto sockerr;
	setsockopt(d->lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&local)->sin6_port = htons(o->bind_port);
	else
		((struct sockaddr_in *)&local)->sin_port = htons(o->bind_port);
	if (bind(d->lsn, (struct sockaddr *)&local, locallen) < 0) {
		snprintf(err, errlen, "cannot listen on TCP port %u: %s", (unsigned)o->bind_port,
			strerror(errno));
		return ESPOTA_EIO;
	}
	if (listen(d->lsn, 4) < 0)
		goto sockerr;
	locallen = sizeof(local);
	if (getsockname(d->lsn, (struct sockaddr *)&local, &locallen) < 0)
		goto sockerr;
	d->local_port = ntohs(family == AF_INET6 ?
		((struct sockaddr_in6 *)&local)->sin6_port : ((struct sockaddr_in *)&local)->sin_port);

	/* One UDP socket for invitation and auth: ESP8266 answers the auth
	 * datagram at the invitation's source port (protocol.md 1). */
	d->udp = socket(family, SOCK_DGRAM, 0);
	if (d->udp < 0 || set_nonblock(d->udp) < 0)
		goto sockerr;
	/* ICMP errors for an unconnected socket are only reported with
	 * IP_RECVERR; read_udp() takes them from the error queue. Best effort:
	 * without it, a closed port is a plain invitation timeout. */
	if (family == AF_INET6)
		setsockopt(d->udp, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	else
		setsockopt(d->udp, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	if (o->bind_address != NULL && o->bind_address[0] != '\0') {
		if (family == AF_INET6)
			((struct sockaddr_in6 *)&local)->sin6_port = 0;
		else
			((struct sockaddr_in *)&local)->sin_port = 0;
		if (bind(d->udp, (struct sockaddr *)&local, locallen) < 0)
			goto sockerr;
	}
	return ESPOTA_OK;
sockerr:
	snprintf(err, errlen, "socket setup failed: %s", strerror(errno));
	return ESPOTA_EIO;
}

static int call_progress(espota__conn *d, const espota_progress *p)
{
	espota_progress copy = *p;
	int rc;

	d->last_progress = espota__now_ms();
	if (d->on_progress == NULL)
		return 0;
	copy.elapsed_ms = d->last_progress - d->start;
	copy.local_port = d->local_port;
	d->s->in_callback++;
	rc = d->on_progress(d, &copy);
	d->s->in_callback--;
	return rc;
}

static void need_password(espota__conn *d, espota_auth_scheme scheme)
{
	espota_auth_request req;
	uint64_t now;
	int rc;

	/* No callback to ask: the hooks are only called when there is one. */
	if (d->on_auth == NULL || d->opts->auth == NULL) {
		espota__engine_decline_password(&d->e, espota__now_ms(), ESPOTA_EAUTH,
			"the device requires a password and none was given");
		return;
	}
	memset(&req, 0, sizeof(req));
	d->s->in_callback++;
	rc = d->on_auth(d, &req, scheme);
	d->s->in_callback--;
	now = espota__now_ms();
	if (rc == ESPOTA_ECANCELLED)
		espota__engine_decline_password(&d->e, now, rc, "cancelled while asking for the password");
	else if (rc < 0)
		espota__engine_decline_password(&d->e, now, rc, "the password could not be read (%s)",
			espota_strerror(rc));
	else if (rc > 0 || !req.set)
		/* The caller's words, not the hook's: "none was given" is what a
		 * CLI or binding user who gave no password can act on. */
		espota__engine_decline_password(&d->e, now, ESPOTA_EAUTH,
			"the device requires a password and none was given");
	else
		espota__engine_set_password(&d->e, now, req.password);
	sodium_memzero(&req, sizeof(req));
}

/* Act on the engine's queued events. */
static void drain_events(espota__conn *d)
{
	espota__event ev;

	while (espota__engine_next_event(&d->e, &ev)) {
		switch (ev.type) {
		case ESPOTA__EV_SEND_UDP:
			if (sendto(d->udp, ev.data, ev.len, MSG_NOSIGNAL, (struct sockaddr *)&d->dev,
				d->devlen) < 0)
				espota__session_log(d->s, ESPOTA_LOG_WARN, "sending to the device failed: %s",
					strerror(errno));
			break;
		case ESPOTA__EV_NEED_PASSWORD:
			need_password(d, ev.scheme);
			break;
		case ESPOTA__EV_PROGRESS: {
			int rc = call_progress(d, &d->e.progress);
			if (rc != 0)
				espota__engine_abort(&d->e, espota__now_ms(), rc < 0 ? rc : ESPOTA_EUSER,
					"progress callback returned %d", rc);
			break;
		}
		case ESPOTA__EV_LOG:
			espota__session_log(d->s, ev.level, "%s%s", d->prefix, ev.msg);
			break;
		default:
			break;
		}
	}
}

/*
 * The MSS the device announced in its SYN: the kernel's sending MSS plus
 * the timestamp option it deducts from every segment (lwIP sends none, so
 * on a real device the two are equal). 0 when the kernel does not say.
 */
static uint32_t peer_mss(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || ti.tcpi_snd_mss == 0)
		return 0;
	return ti.tcpi_snd_mss + ((ti.tcpi_options & TCPI_OPT_TIMESTAMPS) ? 12 : 0);
}

static void on_accept(espota__conn *d, uint64_t now)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char addr[64];
	int fd, one = 1;

	fd = accept(d->lsn, (struct sockaddr *)&peer, &plen);
	if (fd < 0)
		return;
	espota__addr_str(addr, sizeof(addr), (struct sockaddr *)&peer);
	/* The device dials from its own address; anyone else is refused so no
	 * other host can slip its bytes into the upload. */
	if (!espota__same_ip((struct sockaddr *)&peer, (struct sockaddr *)&d->dev)) {
		espota__session_log(d->s, ESPOTA_LOG_WARN,
			"refused a connection from %s: not the device", addr);
		close(fd);
		return;
	}
	if (d->tcp >= 0 || espota__engine_on_connect(&d->e, now) != 0) {
		espota__session_log(d->s, ESPOTA_LOG_WARN,
			"refused an unexpected connection from %s", addr);
		close(fd);
		return;
	}
	set_nonblock(fd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	espota__engine_set_device_mss(&d->e, peer_mss(fd));
	/* lwIP announces its whole TCP_WND in its SYN: the pacing input */
	espota__engine_set_peer_window(&d->e, espota__tcp_peer_window(fd));
	d->tcp = fd;
	/* No second connection is wanted: later ones now get a reset. */
	close_fd(&d->lsn);
}

static void read_tcp(espota__conn *d, uint64_t now)
{
	unsigned char buf[8192];
	int i;

	for (i = 0; i < 16 && d->tcp >= 0; i++) {
		ssize_t n = recv(d->tcp, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			uint64_t unacked;
			/* after the recv: the OK's own acknowledgement is in */
			if (espota__tcp_unacked(d->tcp, &unacked) == 0)
				espota__engine_set_peer_unacked(&d->e, unacked);
			espota__engine_on_tcp_data(&d->e, now, buf, (size_t)n);
			if (d->e.finished)
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		espota__engine_on_tcp_closed(&d->e, now, n == 0 ? 0 : errno);
		close_fd(&d->tcp);
	}
}

static void pump_tx(espota__conn *d)
{
	const unsigned char *p;
	size_t n;

	while (d->tcp >= 0 && (n = espota__engine_tx(&d->e, &p)) > 0) {
		ssize_t w = send(d->tcp, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			int err = errno;
			if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
				return;
			/* A device that refuses mid-stream closes with our data
			 * unread, so its stack resets the connection; its error
			 * text may already be here: read it before the reset. */
			read_tcp(d, espota__now_ms());
			if (d->tcp >= 0 && !d->e.finished)
				espota__engine_on_tcp_closed(&d->e, espota__now_ms(), err);
			close_fd(&d->tcp);
			return;
		}
		espota__engine_tx_done(&d->e, espota__now_ms(), (size_t)w);
		if ((size_t)w < n)
			return;
	}
}

static uint16_t sock_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/* A flood must not become a flood of log lines: the first datagram is
 * named, then one summary a second at most. */
#define IGNORED_SUMMARY_MS 1000

static void ignored_datagram(espota__conn *d, uint64_t now, const struct sockaddr *from)
{
	char addr[64];

	d->udp_ignored++;
	if (d->udp_ignored > 1 && now < d->udp_ignored_logged + IGNORED_SUMMARY_MS)
		return;
	espota__addr_str(addr, sizeof(addr), from);
	if (d->udp_ignored == 1)
		espota__session_log(d->s, ESPOTA_LOG_WARN, "ignored a datagram from %s (not the "
			"device's OTA address and port)", addr);
	else
		espota__session_log(d->s, ESPOTA_LOG_WARN, "ignored %" PRIu64 " datagrams so far "
			"that did not come from the device's OTA address and port (the last from %s)",
			d->udp_ignored, addr);
	d->udp_ignored_logged = now;
}

/*
 * Drain the UDP error queue (IP_RECVERR). A "port unreachable" sent by the
 * device's own address, for a datagram we sent to its OTA port, means its
 * host is up and nothing listens there: the engine fails at once instead of
 * waiting out every invitation. ICMP from anyone else (a router's "host
 * unreachable", a forged packet) is only logged at debug level.
 */
static void read_udp_errors(espota__conn *d, uint64_t now)
{
	int i;

	for (i = 0; i < 8; i++) {
		unsigned char buf[64];
		union {
			char buf[512];
			struct cmsghdr align;
		} ctl;
		struct sockaddr_storage dst;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg;
		struct cmsghdr *c;
		int refused = 0;

		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &dst;
		msg.msg_namelen = sizeof(dst);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		if (recvmsg(d->udp, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
			const struct sock_extended_err *ee;
			const struct sockaddr *off;

			if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
				(c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (const struct sock_extended_err *)(const void *)CMSG_DATA(c);
			off = SO_EE_OFFENDER(ee);
			if (ee->ee_errno == ECONNREFUSED &&
				(ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6) &&
				espota__same_ip(off, (struct sockaddr *)&d->dev) &&
				msg.msg_namelen > 0 &&
				espota__same_ip((struct sockaddr *)&dst, (struct sockaddr *)&d->dev) &&
				sock_port((struct sockaddr *)&dst) == sock_port((struct sockaddr *)&d->dev))
				refused = 1;
			else
				espota__session_log(d->s, ESPOTA_LOG_DEBUG, "ignored an ICMP error (%s)",
					strerror((int)ee->ee_errno));
		}
		if (refused) {
			espota__engine_on_udp_unreachable(&d->e, now);
			return;
		}
	}
}

static void read_udp(espota__conn *d, uint64_t now)
{
	unsigned char buf[512];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;
	int i;

	for (i = 0; i < 16; i++) {
		flen = sizeof(from);
		/* MSG_TRUNC: the real length, so an oversized reply is named as such */
		n = recvfrom(d->udp, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
			(struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				read_udp_errors(d, now);
			return;
		}
		/* Both cores answer from the socket bound to the OTA port
		 * (ArduinoOTA's _udp_ota): anything else is not the device. */
		if (!espota__same_ip((struct sockaddr *)&from, (struct sockaddr *)&d->dev) ||
			sock_port((struct sockaddr *)&from) != sock_port((struct sockaddr *)&d->dev)) {
			ignored_datagram(d, now, (struct sockaddr *)&from);
			continue;
		}
		espota__engine_on_udp_cut(&d->e, now, buf, (size_t)n < sizeof(buf) ? (size_t)n :
			sizeof(buf), (size_t)n);
	}
}

int espota__conn_start(espota__conn *d, const unsigned char *data, size_t len, const char *addr,
	char *err, size_t errlen)
{
	espota__engine_config cfg;
	const espota_upload_options *o = d->opts;
	int rc;

	d->udp = d->lsn = d->tcp = -1;
	d->open = 1;
	d->start = d->last_progress = espota__now_ms();
	rc = espota__resolve(&d->dev, &d->devlen, addr != NULL ? addr : o->host, espota__default_port(o),
		err, errlen);
	if (rc < 0)
		goto fail;
	if ((rc = open_sockets(d, err, errlen)) < 0)
		goto fail;
	memset(&cfg, 0, sizeof(cfg));
	cfg.image = data;
	cfg.len = len;
	cfg.target = o->target;
	cfg.host = o->host;
	cfg.filename = o->filename;
	cfg.auth_mode = o->auth_mode;
	cfg.platform = o->platform;
	cfg.device_port = espota__default_port(o);
	cfg.local_port = d->local_port;
	cfg.timeouts = o->timeouts;
	cfg.transfer = o->transfer;
	cfg.chunk = o->chunk_size;
	cfg.window = o->window;
	cfg.min_rate = o->version >= 2 ? o->min_rate : 0;
	cfg.md5 = d->md5;
	cfg.password = (o->password && o->password[0]) ? o->password : NULL;
	if ((rc = espota__engine_init(&d->e, &cfg)) < 0) {
		snprintf(err, errlen, "invalid upload options (transfer mode, password length or image)");
		goto fail;
	}
	espota__engine_start(&d->e, espota__now_ms());
	return ESPOTA_OK;
fail:
	espota__conn_close(d);
	return rc;
}

void espota__conn_service(espota__conn *d)
{
	drain_events(d);
	if (d->e.finished)
		return;
	pump_tx(d);
	drain_events(d);
}

int espota__conn_pollfds(espota__conn *d, struct pollfd *pfd, int first)
{
	int np = first;

	d->pfd_first = first;
	if (d->e.finished) {
		d->pfd_count = 0;
		return 0;
	}
	pfd[np].fd = d->udp; pfd[np].events = POLLIN; pfd[np].revents = 0; np++;
	pfd[np].fd = d->lsn; pfd[np].events = POLLIN; pfd[np].revents = 0; np++;
	pfd[np].fd = d->tcp; pfd[np].events = POLLIN; pfd[np].revents = 0;
	if (d->tcp >= 0) {
		const unsigned char *p;
		if (espota__engine_tx(&d->e, &p) > 0)
			pfd[np].events |= POLLOUT;
	}
	np++;
	d->pfd_count = np - first;
	return d->pfd_count;
}

void espota__conn_handle(espota__conn *d, const struct pollfd *pfd, uint64_t now)
{
	const struct pollfd *p = pfd + d->pfd_first;

	if (d->pfd_count == 0 || d->e.finished)
		return;
	/* poll() ignores negative descriptors, so the slots stay fixed. */
	if (p[0].fd >= 0 && (p[0].revents & POLLERR))
		read_udp_errors(d, now);
	if (p[0].fd >= 0 && p[0].revents && !d->e.finished)
		read_udp(d, now);
	if (p[1].fd >= 0 && p[1].revents && d->lsn >= 0 && !d->e.finished)
		on_accept(d, now);
	if (p[2].fd >= 0 && d->tcp >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		!d->e.finished)
		read_tcp(d, now);
}

int espota__conn_ready(espota__conn *d, int fd, short revents, uint64_t now)
{
	if (fd < 0 || d->e.finished)
		return 0;
	if (fd == d->udp) {
		if (revents)
			read_udp(d, now);
		return 1;
	}
	if (fd == d->lsn) {
		if (revents)
			on_accept(d, now);
		return 1;
	}
	if (fd == d->tcp) {
		if (revents & (POLLIN | POLLHUP | POLLERR))
			read_tcp(d, now);
		/* POLLOUT: the writes go in espota__conn_service(). */
		return 1;
	}
	return 0;
}

int espota__conn_finished(const espota__conn *d)
{
	return d->e.finished;
}

uint64_t espota__conn_acked(const espota__conn *d)
{
	return d->e.provisional;
}

int espota__conn_result(const espota__conn *d)
{
	return d->e.result;
}

const char *espota__conn_error(const espota__conn *d)
{
	return d->e.error;
}

const espota_device_error *espota__conn_device_error(const espota__conn *d)
{
	return d->e.device_error_set ? &d->e.device_error : NULL;
}

void espota__conn_abort(espota__conn *d, uint64_t now, int code, const char *msg)
{
	espota__engine_abort(&d->e, now, code, "%s", msg);
}

uint64_t espota__conn_deadline(const espota__conn *d)
{
	uint64_t dl = espota__engine_deadline(&d->e), idle = d->last_progress + 1000;
	return idle < dl ? idle : dl;
}

void espota__conn_tick(espota__conn *d, uint64_t now)
{
	if (d->e.finished)
		return;
	espota__engine_tick(&d->e, now);
	/* Like curl's progress callback: about once a second while idle, so
	 * callers can cancel and bindings can poll for signals. */
	if (!d->e.finished && now - d->last_progress >= 1000) {
		espota_progress p = d->e.progress;
		int rc;
		p.phase = d->e.phase;
		p.sent = d->e.sent;
		p.acked = d->e.provisional;
		p.total = d->e.cfg.len;
		p.attempt = d->e.attempt;
		rc = call_progress(d, &p);
		if (rc != 0)
			espota__engine_abort(&d->e, now, rc < 0 ? rc : ESPOTA_EUSER,
				"progress callback returned %d", rc);
	}
}

void espota__conn_stats(const espota__conn *d, espota_upload_stats *st)
{
	st->phase = d->e.phase;
	st->scheme = d->e.scheme;
	st->platform = d->e.platform;
	st->sent = d->e.sent;
	st->acked = d->e.acked;
	st->invitations = d->e.invitations;
	st->acks = d->e.acks;
	st->transfer_ms = d->e.transfer_ms;
	st->local_port = d->local_port;
	st->device_mss = d->e.device_mss;
	st->ack_rule = d->e.ack_decided == ESPOTA__ACKS_DECIDED_COUNTS ? ESPOTA_ACK_RULE_COUNTS :
		d->e.ack_decided == ESPOTA__ACKS_DECIDED_DEVICE_OK ? ESPOTA_ACK_RULE_DEVICE_OK : ESPOTA_ACK_RULE_NONE;
}

void espota__conn_close(espota__conn *d)
{
	if (!d->open)
		return;
	close_fd(&d->tcp);
	close_fd(&d->lsn);
	close_fd(&d->udp);
	espota__engine_clear(&d->e);
	d->open = 0;
}
