/*
 * The blocking upload: a thin poll() driver over the sans-I/O engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "espota/flashfit.h"
#include "session_internal.h"

struct espota_auth_request {
	char password[ESPOTA__PASSWORD_MAX];
	int set;
};

int espota_auth_request_set_password(espota_auth_request *req, const char *password)
{
	size_t n;

	if (req == NULL || password == NULL)
		return ESPOTA_EINVAL;
	n = strlen(password);
	if (n == 0 || n >= sizeof(req->password))
		return ESPOTA_EINVAL;
	memcpy(req->password, password, n + 1);
	req->set = 1;
	return ESPOTA_OK;
}

const char *espota_phase_name(espota_phase phase)
{
	switch (phase) {
	case ESPOTA_PHASE_NONE: return "none";
	case ESPOTA_PHASE_PREFLIGHT: return "preflight";
	case ESPOTA_PHASE_RESOLVE: return "resolve";
	case ESPOTA_PHASE_INVITE: return "invitation";
	case ESPOTA_PHASE_AUTH: return "authentication";
	case ESPOTA_PHASE_CONNECT: return "connect-back";
	case ESPOTA_PHASE_TRANSFER: return "transfer";
	case ESPOTA_PHASE_RESULT: return "result";
	case ESPOTA_PHASE_DONE: return "done";
	default: return "unknown";
	}
}

int espota_upload_options_init(espota_upload_options *opts, unsigned int version)
{
	static const espota_upload_options init = ESPOTA_UPLOAD_OPTIONS_INIT;

	if (opts == NULL || version == 0 || version > ESPOTA_UPLOAD_OPTIONS_VERSION)
		return ESPOTA_EINVAL;
	*opts = init;
	return ESPOTA_OK;
}

int espota__check_upload_options(espota_session *s, const espota_upload_options *opts)
{
	if (opts->version == 0 || opts->version > ESPOTA_UPLOAD_OPTIONS_VERSION) {
		espota__session_error(s, "invalid version %u on espota_upload_options", opts->version);
		return ESPOTA_EINVAL;
	}
	if (opts->host == NULL || opts->host[0] == '\0') {
		espota__session_error(s, "no device address given");
		return ESPOTA_EINVAL;
	}
	if (opts->target != ESPOTA_TARGET_APP && opts->target != ESPOTA_TARGET_FS) {
		espota__session_error(s, "invalid target %d", (int)opts->target);
		return ESPOTA_EINVAL;
	}
	if (opts->password != NULL && strlen(opts->password) >= ESPOTA__PASSWORD_MAX) {
		espota__session_error(s, "password too long");
		return ESPOTA_EINVAL;
	}
	if (opts->chunk_size > 65536 || (opts->window != 0 && opts->window < 64)) {
		espota__session_error(s, "chunk_size must be at most 65536 and window at least 64");
		return ESPOTA_EINVAL;
	}
	return ESPOTA_OK;
}

/* Per-upload driver state. */
typedef struct {
	espota_session *s;
	const espota_upload_options *opts;
	espota__engine e;
	struct sockaddr_storage dev;
	socklen_t devlen;
	int udp, lsn, tcp;
	uint64_t start;
} driver;

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

static int open_sockets(driver *d, char *err, size_t errlen)
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
	d->s->stats.local_port = ntohs(family == AF_INET6 ?
		((struct sockaddr_in6 *)&local)->sin6_port : ((struct sockaddr_in *)&local)->sin_port);

	/* One UDP socket for invitation and auth: ESP8266 answers the auth
	 * datagram at the invitation's source port (protocol.md 1). */
	d->udp = socket(family, SOCK_DGRAM, 0);
	if (d->udp < 0 || set_nonblock(d->udp) < 0)
		goto sockerr;
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

static int call_progress(driver *d, const espota_progress *p)
{
	espota_progress copy = *p;
	int rc;

	if (d->opts->progress == NULL)
		return 0;
	copy.elapsed_ms = espota__now_ms() - d->start;
	d->s->in_callback++;
	rc = d->opts->progress(&copy, d->opts->payload);
	d->s->in_callback--;
	return rc;
}

static void need_password(driver *d, espota_auth_scheme scheme)
{
	espota_auth_request req;
	uint64_t now;
	int rc;

	if (d->opts->auth == NULL) {
		espota__engine_abort(&d->e, espota__now_ms(), ESPOTA_EAUTH,
			"the device requires a password and none was given");
		return;
	}
	memset(&req, 0, sizeof(req));
	d->s->in_callback++;
	rc = d->opts->auth(&req, d->opts->host, scheme, d->opts->payload);
	d->s->in_callback--;
	now = espota__now_ms();
	if (rc < 0)
		espota__engine_abort(&d->e, now, rc, "auth callback returned %d", rc);
	else if (rc > 0 || !req.set)
		espota__engine_abort(&d->e, now, ESPOTA_EAUTH,
			"the device requires a password and the auth callback gave none");
	else
		espota__engine_set_password(&d->e, now, req.password);
	sodium_memzero(&req, sizeof(req));
}

/* Act on the engine's queued events. */
static void drain_events(driver *d)
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
			espota__session_log(d->s, ev.level, "%s", ev.msg);
			break;
		default:
			break;
		}
	}
}

static void on_accept(driver *d, uint64_t now)
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
	d->tcp = fd;
	/* No second connection is wanted: later ones now get a reset. */
	close_fd(&d->lsn);
}

static void pump_tx(driver *d)
{
	const unsigned char *p;
	size_t n;

	while (d->tcp >= 0 && (n = espota__engine_tx(&d->e, &p)) > 0) {
		ssize_t w = send(d->tcp, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			espota__engine_on_tcp_closed(&d->e, espota__now_ms(), errno);
			close_fd(&d->tcp);
			return;
		}
		espota__engine_tx_done(&d->e, espota__now_ms(), (size_t)w);
		if ((size_t)w < n)
			return;
	}
}

static void read_udp(driver *d, uint64_t now)
{
	unsigned char buf[512];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;
	int i;

	for (i = 0; i < 16; i++) {
		flen = sizeof(from);
		n = recvfrom(d->udp, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		if (!espota__same_ip((struct sockaddr *)&from, (struct sockaddr *)&d->dev)) {
			char addr[64];
			espota__addr_str(addr, sizeof(addr), (struct sockaddr *)&from);
			espota__session_log(d->s, ESPOTA_LOG_WARN, "ignored a datagram from %s", addr);
			continue;
		}
		espota__engine_on_udp(&d->e, now, buf, (size_t)n);
	}
}

static void read_tcp(driver *d, uint64_t now)
{
	unsigned char buf[8192];
	int i;

	for (i = 0; i < 16 && d->tcp >= 0; i++) {
		ssize_t n = recv(d->tcp, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
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

static int run(driver *d)
{
	struct pollfd pfd[4];

	for (;;) {
		uint64_t now, deadline;
		int timeout, np = 0, iw = -1, iu = -1, il = -1, it = -1;

		drain_events(d);
		if (d->e.finished)
			break;
		pump_tx(d);
		drain_events(d);
		if (d->e.finished)
			break;

		pfd[np].fd = d->s->wake[0]; pfd[np].events = POLLIN; iw = np++;
		pfd[np].fd = d->udp; pfd[np].events = POLLIN; iu = np++;
		if (d->lsn >= 0) { pfd[np].fd = d->lsn; pfd[np].events = POLLIN; il = np++; }
		if (d->tcp >= 0) {
			const unsigned char *p;
			pfd[np].fd = d->tcp;
			pfd[np].events = POLLIN;
			if (espota__engine_tx(&d->e, &p) > 0)
				pfd[np].events |= POLLOUT;
			it = np++;
		}
		now = espota__now_ms();
		deadline = espota__engine_deadline(&d->e);
		timeout = deadline <= now ? 0 : (deadline - now > 1000 ? 1000 : (int)(deadline - now));
		if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			espota__engine_abort(&d->e, now, ESPOTA_EIO, "poll failed: %s", strerror(errno));
			continue;
		}
		now = espota__now_ms();
		if (atomic_load(&d->s->cancelled)) {
			espota__engine_abort(&d->e, now, ESPOTA_ECANCELLED, "cancelled");
			continue;
		}
		(void)iw;
		if (pfd[iu].revents)
			read_udp(d, now);
		if (il >= 0 && pfd[il].revents && !d->e.finished)
			on_accept(d, now);
		if (it >= 0 && pfd[it].revents & (POLLIN | POLLHUP | POLLERR) && !d->e.finished)
			read_tcp(d, now);
		espota__engine_tick(&d->e, espota__now_ms());
	}
	return d->e.result;
}

static int preflight(espota_session *s, const espota_upload_options *o,
	const unsigned char *data, size_t len)
{
	espota_image_info *info;
	espota_fit_report *rep;
	int rc = ESPOTA_OK;

	/* Both structs are a few KiB: keep them off small thread stacks. */
	info = malloc(sizeof(*info));
	rep = malloc(sizeof(*rep));
	if (info == NULL || rep == NULL) {
		rc = ESPOTA_ENOMEM;
		goto out;
	}
	rc = espota_image_parse(info, data, len);
	if (rc < 0) {
		espota__session_error(s, "invalid image: %s", info->detail);
		rc = ESPOTA_EIMAGE;
		goto out;
	}
	{
		espota_fit_device dev = *o->fit;
		dev.target = o->target;
		rc = espota_fit_check(rep, info, &dev);
	}
	if (rc < 0) {
		espota__session_error(s, "fit check failed: %s", espota_strerror(rc));
		goto out;
	}
	espota__session_log(s, rep->verdict == ESPOTA_FIT_OK ? ESPOTA_LOG_INFO : ESPOTA_LOG_WARN,
		"preflight: %s", rep->summary);
	if (rep->verdict == ESPOTA_FIT_FAIL) {
		if (o->force) {
			espota__session_log(s, ESPOTA_LOG_WARN, "preflight refused the image; sending anyway (force)");
		} else {
			espota__session_error(s, "%s", rep->summary);
			rc = ESPOTA_ENOFIT;
		}
	}
out:
	free(info);
	free(rep);
	return rc;
}

int espota_upload(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *o)
{
	driver d;
	espota__engine_config cfg;
	unsigned char *packed = NULL;
	const unsigned char *data = image;
	size_t dlen = len;
	char err[ESPOTA__MSG_SIZE];
	int rc;

	if (s == NULL || o == NULL)
		return ESPOTA_EINVAL;
	if (s->in_callback || s->running) {
		/* Keep the running upload's error intact. */
		return ESPOTA_EINVAL;
	}
	s->error[0] = '\0';
	s->device_error_set = 0;
	memset(&s->stats, 0, sizeof(s->stats));
	if ((rc = espota__check_upload_options(s, o)) < 0)
		return rc;
	if (image == NULL || len == 0) {
		espota__session_error(s, "empty image");
		return ESPOTA_EINVAL;
	}
	espota__session_reset_cancel(s);
	s->running = 1;

	memset(&d, 0, sizeof(d));
	d.s = s;
	d.opts = o;
	d.udp = d.lsn = d.tcp = -1;
	d.start = espota__now_ms();
	s->stats.original_size = len;

	if (o->compress) {
		if (len >= 2 && image[0] == 0x1f && image[1] == 0x8b) {
			espota__session_log(s, ESPOTA_LOG_INFO, "image is already gzip-compressed");
		} else if ((rc = espota__gzip(&packed, &dlen, image, len)) < 0) {
			espota__session_error(s, "compression failed");
			goto out;
		} else {
			data = packed;
			espota__session_log(s, ESPOTA_LOG_INFO, "compressed %zu bytes to %zu", len, dlen);
		}
	}
	s->stats.total = dlen;
	s->stats.phase = ESPOTA_PHASE_PREFLIGHT;
	if (o->fit != NULL && (rc = preflight(s, o, data, dlen)) < 0)
		goto out;

	s->stats.phase = ESPOTA_PHASE_RESOLVE;
	rc = espota__resolve(&d.dev, &d.devlen, o->host, o->port ? o->port : ESPOTA_PORT_ESP8266,
		err, sizeof(err));
	if (rc < 0) {
		espota__session_error(s, "%s", err);
		goto out;
	}
	if ((rc = open_sockets(&d, err, sizeof(err))) < 0) {
		espota__session_error(s, "%s", err);
		goto out;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.image = data;
	cfg.len = dlen;
	cfg.target = o->target;
	cfg.host = o->host;
	cfg.filename = o->filename;
	cfg.auth_mode = o->auth_mode;
	cfg.platform = o->platform;
	cfg.device_port = o->port ? o->port : ESPOTA_PORT_ESP8266;
	cfg.local_port = s->stats.local_port;
	cfg.timeouts = o->timeouts;
	cfg.transfer = o->transfer;
	cfg.chunk = o->chunk_size;
	cfg.window = o->window;
	cfg.password = (o->password && o->password[0]) ? o->password : NULL;
	if ((rc = espota__engine_init(&d.e, &cfg)) < 0) {
		espota__session_error(s, "invalid upload options");
		goto out;
	}
	espota__engine_start(&d.e, espota__now_ms());
	rc = run(&d);
	if (rc < 0)
		espota__session_error(s, "%s", d.e.error);
	if (d.e.device_error_set) {
		s->device_error = d.e.device_error;
		s->device_error_set = 1;
	}
	s->stats.phase = d.e.phase;
	s->stats.scheme = d.e.scheme;
	s->stats.platform = d.e.platform;
	s->stats.sent = d.e.sent;
	s->stats.acked = d.e.acked;
	s->stats.invitations = d.e.invitations;
	s->stats.acks = d.e.acks;
	s->stats.transfer_ms = d.e.transfer_ms;
	espota__engine_clear(&d.e);
out:
	close_fd(&d.tcp);
	close_fd(&d.lsn);
	close_fd(&d.udp);
	free(packed);
	s->stats.elapsed_ms = espota__now_ms() - d.start;
	s->running = 0;
	return rc;
}

int espota_upload_file(espota_session *s, const char *path, const espota_upload_options *o)
{
	espota_upload_options copy;
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	FILE *f;
	int rc;

	if (s == NULL || path == NULL || o == NULL)
		return ESPOTA_EINVAL;
	if (s->in_callback || s->running)
		return ESPOTA_EINVAL;
	f = fopen(path, "rb");
	if (f == NULL) {
		espota__session_error(s, "cannot open %s: %s", path, strerror(errno));
		return ESPOTA_EIO;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
		(uint64_t)st.st_size > (uint64_t)64 * 1024 * 1024) {
		espota__session_error(s, "%s: not a regular, non-empty file of at most 64 MiB", path);
		fclose(f);
		return ESPOTA_EIMAGE;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		fclose(f);
		return ESPOTA_ENOMEM;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (got != (size_t)st.st_size) {
		espota__session_error(s, "short read on %s", path);
		free(buf);
		return ESPOTA_EIO;
	}
	copy = *o;
	if (copy.filename == NULL)
		copy.filename = path;
	rc = espota_upload(s, buf, got, &copy);
	free(buf);
	return rc;
}
