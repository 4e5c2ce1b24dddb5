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
#include <stdatomic.h>
#include <unistd.h>

#include <sodium.h>

#include "espota/file.h"
#include "espota/flashfit.h"
#include "espota/device.h"
#include "conn.h"

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

static int preflight(espota_session *s, const espota_upload_options *o,
	const unsigned char *data, size_t len)
{
	espota_image_info *info;
	espota_preflight *pre;
	int rc = ESPOTA_OK;

	/* Both structs are a few KiB: keep them off small thread stacks. */
	info = malloc(sizeof(*info));
	pre = malloc(sizeof(*pre));
	if (info == NULL || pre == NULL) {
		rc = ESPOTA_ENOMEM;
		goto out;
	}
	rc = espota_image_parse(info, data, len);
	if (rc < 0) {
		if (o->force) {
			espota__session_log(s, ESPOTA_LOG_WARN, "the image looks malformed (%s); "
				"sending anyway (force)", info->detail);
			rc = ESPOTA_OK;
			goto out;
		}
		espota__session_error(s, "invalid image: %s", info->detail);
		rc = ESPOTA_EIMAGE;
		goto out;
	}
	{
		espota_fit_device dev = *o->fit;
		dev.target = o->target;
		rc = espota_preflight_run(pre, info, &dev);
	}
	if (rc < 0) {
		espota__session_error(s, "fit check failed: %s", espota_strerror(rc));
		goto out;
	}
	s->fit_report = pre->report;
	s->fit_report_set = 1;
	espota__session_log(s, ESPOTA_LOG_INFO, "preflight: %s", pre->report.summary);
	if (pre->warnings[0] != '\0')
		espota__session_log(s, ESPOTA_LOG_WARN, "preflight: %s", pre->warnings);
	/* Refuse only on facts (or on assumptions in strict mode): device.h. */
	if (pre->decision == ESPOTA_PREFLIGHT_REFUSE) {
		if (o->force) {
			espota__session_log(s, ESPOTA_LOG_WARN, "preflight refused the image; sending anyway (force)");
		} else {
			espota__session_error(s, "%s", pre->on_facts ? pre->report.summary :
				"strict: the preflight rests on assumptions");
			rc = ESPOTA_ENOFIT;
		}
	}
out:
	free(info);
	free(pre);
	return rc;
}

static int single_progress(espota__conn *c, const espota_progress *p)
{
	return c->opts->progress ? c->opts->progress(p, c->opts->payload) : 0;
}

/* Called only when opts->auth is set (conn.c, need_password). */
static int single_auth(espota__conn *c, espota_auth_request *req, espota_auth_scheme scheme)
{
	return c->opts->auth(req, c->opts->host, scheme, c->opts->payload);
}

/* The blocking loop: one connection plus the session's wake-up pipe. */
static int run_single(espota__conn *c)
{
	struct pollfd pfd[4];

	for (;;) {
		uint64_t now, deadline;
		int timeout, np;

		espota__conn_service(c);
		if (c->e.finished)
			break;
		pfd[0].fd = c->s->wake[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		np = 1 + espota__conn_pollfds(c, pfd, 1);
		now = espota__now_ms();
		deadline = espota__conn_deadline(c);
		timeout = deadline <= now ? 0 : (deadline - now > 1000 ? 1000 : (int)(deadline - now));
		if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			espota__engine_abort(&c->e, now, ESPOTA_EIO, "poll failed: %s", strerror(errno));
			continue;
		}
		now = espota__now_ms();
		if (atomic_load(&c->s->cancelled)) {
			espota__engine_abort(&c->e, now, ESPOTA_ECANCELLED, "cancelled");
			continue;
		}
		espota__conn_handle(c, pfd, now);
		espota__conn_tick(c, espota__now_ms());
	}
	return c->e.result;
}

/* Copy what a finished connection learned into the session. */
void espota__session_collect(espota_session *s, const espota__conn *c)
{
	if (c->e.result < 0 && c->e.error[0] != '\0')
		espota__session_error(s, "%s", c->e.error);
	if (c->e.device_error_set) {
		s->device_error = c->e.device_error;
		s->device_error_set = 1;
	}
	espota__conn_stats(c, &s->stats);
}

/* Compression and preflight, shared by the single and fleet uploads.
 * On success *data and *dlen are what to send (*packed owns it if compressed). */
int espota__prepare(espota_session *s, const espota_upload_options *o, const unsigned char *image,
	size_t len, const unsigned char **data, size_t *dlen, unsigned char **packed)
{
	int rc;

	*data = image;
	*dlen = len;
	*packed = NULL;
	if (o->compress) {
		if (len >= 2 && image[0] == 0x1f && image[1] == 0x8b) {
			espota__session_log(s, ESPOTA_LOG_INFO, "image is already gzip-compressed");
		} else if ((rc = espota__gzip(packed, dlen, image, len)) < 0) {
			espota__session_error(s, "compression failed");
			return rc;
		} else {
			*data = *packed;
			espota__session_log(s, ESPOTA_LOG_INFO, "compressed %zu bytes to %zu", len, *dlen);
		}
	}
	if (o->fit != NULL && (rc = preflight(s, o, *data, *dlen)) < 0) {
		free(*packed);
		*packed = NULL;
		return rc;
	}
	return ESPOTA_OK;
}

/* Common entry checks; clears the session's previous results. */
int espota__begin(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *o)
{
	int rc;

	if (s == NULL || o == NULL)
		return ESPOTA_EINVAL;
	/* From a callback, or while running: keep the running upload intact. */
	if (s->in_callback || s->running)
		return ESPOTA_EINVAL;
	s->error[0] = '\0';
	s->device_error_set = 0;
	s->fit_report_set = 0;
	memset(&s->stats, 0, sizeof(s->stats));
	if ((rc = espota__check_upload_options(s, o)) < 0)
		return rc;
	if (image == NULL || len == 0) {
		espota__session_error(s, "empty image");
		return ESPOTA_EINVAL;
	}
	/* The device parses the size with atoi() into an int. */
	if (len > (size_t)INT32_MAX) {
		espota__session_error(s, "image of %zu bytes is larger than any device accepts", len);
		return ESPOTA_EINVAL;
	}
	espota__session_reset_cancel(s);
	return ESPOTA_OK;
}

int espota_upload(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *o)
{
	espota__conn c;
	unsigned char *packed = NULL;
	const unsigned char *data;
	size_t dlen;
	char err[ESPOTA__MSG_SIZE];
	uint64_t start = espota__now_ms();
	int rc;

	if ((rc = espota__begin(s, image, len, o)) < 0)
		return rc;
	s->running = 1;
	s->stats.original_size = len;
	s->stats.phase = ESPOTA_PHASE_PREFLIGHT;
	if ((rc = espota__prepare(s, o, image, len, &data, &dlen, &packed)) < 0)
		goto out;
	s->stats.total = dlen;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.opts = o;
	c.on_progress = single_progress;
	c.on_auth = single_auth;
	s->stats.phase = ESPOTA_PHASE_RESOLVE;
	rc = espota__conn_start(&c, data, dlen, err, sizeof(err));
	if (rc < 0) {
		espota__session_error(s, "%s", err);
		goto out;
	}
	rc = run_single(&c);
	espota__session_collect(s, &c);
	espota__conn_close(&c);
out:
	free(packed);
	s->stats.elapsed_ms = espota__now_ms() - start;
	s->running = 0;
	return rc;
}

int espota_upload_file(espota_session *s, const char *path, const espota_upload_options *o)
{
	espota_upload_options copy;
	unsigned char *buf = NULL;
	char err[ESPOTA__MSG_SIZE];
	size_t got = 0;
	int rc;

	if (s == NULL || path == NULL || o == NULL)
		return ESPOTA_EINVAL;
	if (s->in_callback || s->running)
		return ESPOTA_EINVAL;
	rc = espota_file_read(&buf, &got, path, ESPOTA_FILE_MAX, err, sizeof(err));
	if (rc < 0) {
		espota__session_error(s, "%s", err);
		return rc;
	}
	copy = *o;
	if (copy.filename == NULL)
		copy.filename = path;
	rc = espota_upload(s, buf, got, &copy);
	espota_file_free(buf);
	return rc;
}
