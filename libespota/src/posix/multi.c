/*
 * The multi interface: every upload's driver. Transfers are connections
 * over the sans-I/O engine (conn.c); the caller's loop says what became
 * ready, this file turns that into engine input and collects results. The
 * blocking upload (upload.c) and the fleet (fleet.c) are loops over it.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "espota/flashfit.h"
#include "espota/device.h"
#include "analysis/image_internal.h"
#include "posix/multi_internal.h"
#include "util/util.h"

/* ---- options and preparation ---------------------------------------------- */

int espota__check_options(const espota_upload_options *opts, char *err, size_t errlen)
{
	/* The one version rule of every options struct (docs/api.md): any
	 * version from 1 to the library's own. */
	if (opts->version == 0 || opts->version > ESPOTA_UPLOAD_OPTIONS_VERSION) {
		snprintf(err, errlen, "invalid version %u on espota_upload_options", opts->version);
		return ESPOTA_EINVAL;
	}
	if (opts->host == NULL || opts->host[0] == '\0') {
		snprintf(err, errlen, "no device address given");
		return ESPOTA_EINVAL;
	}
	if (opts->target != ESPOTA_TARGET_APP && opts->target != ESPOTA_TARGET_FS) {
		snprintf(err, errlen, "invalid target %d", (int)opts->target);
		return ESPOTA_EINVAL;
	}
	if (opts->password != NULL && strlen(opts->password) >= ESPOTA__PASSWORD_MAX) {
		snprintf(err, errlen, "password too long");
		return ESPOTA_EINVAL;
	}
	if (opts->chunk_size > 65536 || (opts->window != 0 && opts->window < 64)) {
		snprintf(err, errlen, "chunk_size must be at most 65536 and window at least 64");
		return ESPOTA_EINVAL;
	}
	return ESPOTA_OK;
}

static int preflight(espota_session *s, const espota_upload_options *o, const unsigned char *data,
	size_t len, char *err, size_t errlen, espota_fit_report *out, int *out_set)
{
	espota_image *img = NULL;
	espota_image_info info = ESPOTA_IMAGE_INFO_INIT;
	espota_fit_report *rep;
	espota_preflight *pre;
	int rc = ESPOTA_OK;

	/* The reports are a few KiB: keep them off small thread stacks. */
	rep = malloc(sizeof(*rep));
	pre = malloc(sizeof(*pre));
	if (rep == NULL || pre == NULL) {
		free(rep);
		free(pre);
		snprintf(err, errlen, "out of memory");
		return ESPOTA_ENOMEM;
	}
	rep->struct_size = sizeof(*rep);
	rc = espota_image_parse(&img, data, len);
	if (rc < 0) {
		const char *why = img != NULL ? espota_image_error(img) : espota_strerror(rc);
		if (o->force && rc == ESPOTA_EIMAGE) {
			espota__session_log(s, ESPOTA_LOG_WARN, "the image looks malformed (%s); "
				"sending anyway (force)", why);
			rc = ESPOTA_OK;
			goto out;
		}
		snprintf(err, errlen, "invalid image: %s", why);
		rc = rc == ESPOTA_ENOMEM ? rc : ESPOTA_EIMAGE;
		goto out;
	}
	espota_image_get_info(img, &info);
	{
		espota_fit_device dev;
		if (o->fit->version == 0 || o->fit->version > ESPOTA_FIT_DEVICE_VERSION) {
			snprintf(err, errlen, "fit device version %u not supported", o->fit->version);
			rc = ESPOTA_EINVAL;
			goto out;
		}
		espota__fit_device_copy(&dev, o->fit);
		dev.target = o->target;
		rc = espota_preflight_run(pre, &info, &dev);
	}
	if (rc < 0) {
		snprintf(err, errlen, "fit check failed: %s", espota_strerror(rc));
		goto out;
	}
	*rep = pre->report;
	if (out != NULL) {
		*out = *rep;
		*out_set = 1;
	}
	espota__session_log(s, ESPOTA_LOG_INFO, "preflight: %s", rep->summary);
	if (pre->warnings[0] != '\0')
		espota__session_log(s, ESPOTA_LOG_WARN, "preflight: %s", pre->warnings);
	/* Refuse only on facts (or on assumptions in strict mode): device.h. */
	if (pre->decision == ESPOTA_PREFLIGHT_REFUSE) {
		if (o->force) {
			espota__session_log(s, ESPOTA_LOG_WARN, "preflight refused the image; sending anyway (force)");
		} else {
			snprintf(err, errlen, "%s", pre->on_facts ? rep->summary :
				"strict: the preflight rests on assumptions");
			rc = ESPOTA_ENOFIT;
		}
	}
out:
	espota_image_free(img);
	free(rep);
	free(pre);
	return rc;
}

int espota__prepare(espota_session *s, const espota_upload_options *o, const unsigned char *image,
	size_t len, const unsigned char **data, size_t *dlen, unsigned char **packed,
	char *err, size_t errlen, espota_fit_report *rep, int *rep_set)
{
	int rc;

	*data = image;
	*dlen = len;
	*packed = NULL;
	if (o->compress) {
		if (len >= 2 && image[0] == 0x1f && image[1] == 0x8b) {
			espota__session_log(s, ESPOTA_LOG_INFO, "image is already gzip-compressed");
		} else if ((rc = espota__gzip(packed, dlen, image, len)) < 0) {
			snprintf(err, errlen, "compression failed");
			return rc;
		} else {
			*data = *packed;
			espota__session_log(s, ESPOTA_LOG_INFO, "compressed %zu bytes to %zu", len, *dlen);
		}
	}
	if (o->fit != NULL && (rc = preflight(s, o, *data, *dlen, err, errlen, rep, rep_set)) < 0) {
		free(*packed);
		*packed = NULL;
		return rc;
	}
	return ESPOTA_OK;
}

/* ---- the handle ------------------------------------------------------------ */

int espota_multi_new(espota_multi **out, espota_session *s)
{
	espota_multi *m;

	if (out == NULL)
		return ESPOTA_EINVAL;
	*out = NULL;
	if (s == NULL)
		return ESPOTA_EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return ESPOTA_ENOMEM;
	m->s = s;
	/* A cancel before the handle existed was meant for earlier work. */
	espota__session_reset_cancel(s);
	*out = m;
	return ESPOTA_OK;
}

/* A handle keeps one freed transfer (wiped) for the next: uploads one after
 * another on a session reuse their memory instead of churning the heap. */
static void transfer_free(espota_transfer *t)
{
	espota_multi *m = t->m;

	espota__conn_close(&t->c);
	espota__mdns_run_free(t->mdns);
	free(t->packed);
	free(t->fit_report);
	sodium_memzero(t, sizeof(*t));
	if (m != NULL && m->spare == NULL)
		m->spare = t;
	else
		free(t);
}

void espota_multi_free(espota_multi *m)
{
	espota_transfer *t, *next;

	if (m == NULL)
		return;
	for (t = m->head; t != NULL; t = next) {
		next = t->next;
		transfer_free(t);
	}
	free(m->spare);
	free(m->wbuf);
	free(m->pbuf);
	free(m);
}

static void fill_stats(espota_transfer *t, uint64_t now)
{
	uint64_t origin = t->hooks.origin_ms ? t->hooks.origin_ms : t->start;
	size_t total = t->stats.total;

	if (t->c.open)
		espota__conn_stats(&t->c, &t->stats);
	t->stats.struct_size = sizeof(t->stats);
	t->stats.total = total;
	t->stats.original_size = t->original_size;
	t->stats.elapsed_ms = now - origin;
}

/* The transfer is over: keep its outcome, close its sockets, queue it. */
static void finish(espota_transfer *t, int code, const char *error)
{
	espota_multi *m = t->m;
	const espota_device_error *de;

	if (!t->running && t->queued)
		return;
	if (t->c.open) {
		fill_stats(t, espota__now_ms());
		de = espota__conn_device_error(&t->c);
		if (de != NULL) {
			t->device_error = *de;
			t->device_error_set = 1;
		}
		espota__conn_close(&t->c);
	} else {
		fill_stats(t, espota__now_ms());
	}
	t->code = code;
	snprintf(t->error, sizeof(t->error), "%s", code < 0 && error != NULL ? error : "");
	if (t->running) {
		t->running = 0;
		m->running--;
	}
	t->queued = 1;
	t->done_next = NULL;
	if (m->done_tail != NULL)
		m->done_tail->done_next = t;
	else
		m->done_head = t;
	m->done_tail = t;
}

static int on_progress(espota__conn *c, const espota_progress *p)
{
	espota_transfer *t = c->user;
	espota_progress copy = *p;

	copy.tries = t->hooks.attempts ? t->hooks.attempts : 1;
	if (t->hooks.progress != NULL)
		return t->hooks.progress(t, &copy, t->hooks.payload);
	return t->opts.progress ? t->opts.progress(&copy, t->opts.payload) : 0;
}

/* Called only when the options carry an auth callback (conn.c, need_password). */
static int on_auth(espota__conn *c, espota_auth_request *req, espota_auth_scheme scheme)
{
	espota_transfer *t = c->user;
	return t->opts.auth(req, t->opts.host, scheme, t->opts.payload);
}

/* The slots' descriptors change wholesale (an upload's mDNS lookup ended):
 * every slot gets a new serial, even for a number the kernel hands out again. */
static void new_slots(espota_transfer *t)
{
	t->slot_fd[0] = t->slot_fd[1] = t->slot_fd[2] = -1;
}

/* An upload's NAME.local lookup ended by itself: connect to what it found,
 * or fail with the system resolver's word and mDNS's. */
static void lookup_done(espota_transfer *t, int rc)
{
	char err[ESPOTA__MSG_SIZE];

	if (rc == ESPOTA_OK) {
		snprintf(t->address, sizeof(t->address), "%s", espota__mdns_run_address(t->mdns));
		espota__session_log(t->m->s, ESPOTA_LOG_INFO, "%sthe system resolver does not know %s; "
			"mDNS resolved it to %s", t->c.prefix, t->opts.host, t->address);
	} else {
		snprintf(err, sizeof(err), "%.150s; %.100s", t->resolve_error, espota__mdns_run_error(t->mdns));
	}
	espota__mdns_run_free(t->mdns);
	t->mdns = NULL;
	new_slots(t);
	if (rc != ESPOTA_OK) {
		finish(t, ESPOTA_ERESOLVE, err);
		return;
	}
	if ((rc = espota__conn_start(&t->c, t->data, t->dlen, t->address, err, sizeof(err))) < 0)
		finish(t, rc, err);
}

/* Act on the engine's (or the mDNS querier's) output; finish the transfer
 * when it is over. */
static void service(espota_transfer *t)
{
	if (!t->running)
		return;
	if (t->mdns != NULL) {
		int rc = espota__mdns_run_service(t->mdns, espota__now_ms());
		if (rc == 1)
			return;
		if (t->kind != ESPOTA_KIND_UPLOAD) {
			finish(t, rc, espota__mdns_run_error(t->mdns));
			return;
		}
		lookup_done(t, rc);
		if (!t->running)
			return;
	}
	espota__conn_service(&t->c);
	if (espota__conn_finished(&t->c))
		finish(t, espota__conn_result(&t->c), espota__conn_error(&t->c));
}

/* A new running transfer, linked at the tail: one that cannot start is still one to read. */
static espota_transfer *transfer_new(espota_multi *m, const espota_upload_options *o)
{
	espota_transfer *t = m->spare; /* wiped to zero by transfer_free */

	if (t != NULL)
		m->spare = NULL;
	else if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->m = m;
	t->kind = ESPOTA_KIND_UPLOAD;
	new_slots(t);
	t->opts = *o;
	t->start = espota__now_ms();
	t->stats.struct_size = sizeof(t->stats);
	t->code = 1;
	t->running = 1;
	m->running++;
	t->prev = m->tail;
	if (m->tail != NULL)
		m->tail->next = t;
	else
		m->head = t;
	m->tail = t;
	return t;
}

int espota__multi_add(espota_multi *m, espota_transfer **out, const unsigned char *image, size_t len,
	const espota_upload_options *o, const espota__transfer_hooks *hooks)
{
	espota_transfer *t;
	const unsigned char *data = image;
	size_t dlen = len;
	char err[ESPOTA__MSG_SIZE];
	int rc, rep_set = 0;

	if (out != NULL)
		*out = NULL;
	if (m == NULL || image == NULL || o == NULL)
		return ESPOTA_EINVAL;
	if ((t = transfer_new(m, o)) == NULL)
		return ESPOTA_ENOMEM;
	if (hooks != NULL)
		t->hooks = *hooks;
	t->user = t->hooks.user;
	t->original_size = t->hooks.original_size ? t->hooks.original_size : len;
	t->stats.phase = ESPOTA_PHASE_PREFLIGHT;
	if (out != NULL)
		*out = t;

	err[0] = '\0';
	if ((rc = espota__check_options(o, err, sizeof(err))) < 0)
		goto fail;
	if (len == 0) {
		snprintf(err, sizeof(err), "empty image");
		rc = ESPOTA_EINVAL;
		goto fail;
	}
	/* The device parses the size with atoi() into an int. */
	if (len > (size_t)INT32_MAX) {
		snprintf(err, sizeof(err), "image of %zu bytes is larger than any device accepts", len);
		rc = ESPOTA_EINVAL;
		goto fail;
	}
	if (!t->hooks.prepared) {
		if (o->fit != NULL && (t->fit_report = malloc(sizeof(*t->fit_report))) == NULL) {
			snprintf(err, sizeof(err), "out of memory");
			rc = ESPOTA_ENOMEM;
			goto fail;
		}
		rc = espota__prepare(m->s, o, image, len, &data, &dlen, &t->packed, err, sizeof(err),
			t->fit_report, &rep_set);
		if (!rep_set) {
			free(t->fit_report);
			t->fit_report = NULL;
		}
		if (rc < 0)
			goto fail;
	}
	t->stats.total = dlen;
	t->stats.phase = ESPOTA_PHASE_RESOLVE;
	t->c.s = m->s;
	t->c.opts = &t->opts;
	t->c.on_progress = on_progress;
	t->c.on_auth = on_auth;
	t->c.user = t;
	t->c.md5 = t->hooks.md5;
	if (t->hooks.prefix != NULL)
		snprintf(t->c.prefix, sizeof(t->c.prefix), "%s", t->hooks.prefix);
	t->hooks.prefix = NULL;
	t->hooks.md5 = NULL;
	t->data = data;
	t->dlen = dlen;
	m->in_call++;
	rc = espota__conn_start(&t->c, data, dlen, NULL, err, sizeof(err));
	if (rc == ESPOTA_ERESOLVE && espota__mdns_is_local(o->host)) {
		/* No nss-mdns on this host: ask the NAME.local ourselves, as a
		 * part of this transfer (its sockets are the handle's to poll). */
		snprintf(t->resolve_error, sizeof(t->resolve_error), "%s", err);
		rc = espota__mdns_run_new(&t->mdns, m->s, t->c.prefix, NULL, 0, o->host, NULL, NULL);
		if (rc < 0)
			snprintf(err, sizeof(err), "out of memory");
	}
	if (rc == ESPOTA_OK)
		service(t);
	m->in_call--;
	if (rc < 0)
		goto fail;
	return ESPOTA_OK;
fail:
	finish(t, rc, err);
	return ESPOTA_OK;
}

espota_transfer *espota__multi_add_failed(espota_multi *m, const espota_upload_options *o, int code,
	const char *msg)
{
	espota_transfer *t = transfer_new(m, o);

	if (t == NULL)
		return NULL;
	t->never_started = 1;
	finish(t, code, msg);
	return t;
}

int espota_multi_add_upload(espota_multi *m, espota_transfer **out, const unsigned char *image, size_t len,
	const espota_upload_options *opts)
{
	if (out != NULL)
		*out = NULL;
	if (m == NULL || image == NULL || opts == NULL || m->in_call || m->s->in_callback)
		return ESPOTA_EINVAL;
	return espota__multi_add(m, out, image, len, opts, NULL);
}

/* A browse or resolve of `d` as a transfer. */
static int add_mdns(espota_multi *m, espota_transfer **out, espota_discover *d, const char *name,
	espota_discover_cb cb, void *payload)
{
	espota_upload_options none;
	espota_transfer *t;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (m == NULL || d == NULL || m->in_call || m->s->in_callback)
		return ESPOTA_EINVAL;
	memset(&none, 0, sizeof(none));
	if ((t = transfer_new(m, &none)) == NULL)
		return ESPOTA_ENOMEM;
	t->kind = name != NULL ? ESPOTA_KIND_RESOLVE : ESPOTA_KIND_BROWSE;
	/* d's own cancel pipe is watched too unless it is the handle's. */
	rc = espota__mdns_run_new(&t->mdns, m->s, NULL, d, espota__discover_session(d) != m->s, name, cb,
		payload);
	if (rc < 0) {
		espota_multi_remove(m, t);
		return rc;
	}
	t->opts.host = espota__mdns_run_name(t->mdns);
	if (out != NULL)
		*out = t;
	m->in_call++;
	service(t);
	m->in_call--;
	return ESPOTA_OK;
}

int espota_multi_add_browse(espota_multi *m, espota_transfer **out, espota_discover *d,
	espota_discover_cb cb, void *payload)
{
	return add_mdns(m, out, d, NULL, cb, payload);
}

int espota_multi_add_resolve(espota_multi *m, espota_transfer **out, espota_discover *d, const char *name)
{
	if (name == NULL) {
		if (out != NULL)
			*out = NULL;
		return ESPOTA_EINVAL;
	}
	return add_mdns(m, out, d, name, NULL, NULL);
}

/* ---- what a transfer waits for: its connection, or its mDNS run ------------ */

static int t_pollfds(espota_transfer *t, struct pollfd *p)
{
	return t->mdns != NULL ? espota__mdns_run_pollfds(t->mdns, p) : espota__conn_pollfds(&t->c, p, 0);
}

static uint64_t t_deadline(const espota_transfer *t)
{
	return t->mdns != NULL ? espota__mdns_run_deadline(t->mdns) : espota__conn_deadline(&t->c);
}

static int t_ready(espota_transfer *t, int fd, short revents, uint64_t now)
{
	return t->mdns != NULL ? espota__mdns_run_ready(t->mdns, fd, revents, now) :
		espota__conn_ready(&t->c, fd, revents, now);
}

static void t_abort(espota_transfer *t, int code, const char *msg)
{
	if (t->mdns == NULL) {
		espota__conn_abort(&t->c, espota__now_ms(), code, msg);
	} else {
		espota__mdns_run_stop(t->mdns, code, msg);
		finish(t, code, msg);
	}
	service(t);
}

size_t espota_multi_running(const espota_multi *m)
{
	return m != NULL ? m->running : 0;
}

static short to_wait(short ev)
{
	short w = 0;
	if (ev & POLLIN)
		w |= ESPOTA_WAIT_READ;
	if (ev & POLLOUT)
		w |= ESPOTA_WAIT_WRITE;
	if (ev & (POLLERR | POLLHUP | POLLNVAL))
		w |= ESPOTA_WAIT_ERROR;
	return w;
}

static short from_wait(short w)
{
	short ev = 0;
	if (w & ESPOTA_WAIT_READ)
		ev |= POLLIN;
	if (w & ESPOTA_WAIT_WRITE)
		ev |= POLLOUT;
	if (w & ESPOTA_WAIT_ERROR)
		ev |= POLLERR;
	return ev;
}

int espota_multi_fds(espota_multi *m, espota_waitfd *fds, size_t cap, size_t *count)
{
	espota_transfer *t;
	size_t n = 0;

	if (m == NULL || count == NULL || (fds == NULL && cap > 0))
		return ESPOTA_EINVAL;
	if (m->running > 0) {
		if (n < cap) {
			fds[n].fd = m->s->wake[0];
			fds[n].events = ESPOTA_WAIT_READ;
			fds[n].revents = 0;
			fds[n].serial = 0; /* the session's, open as long as the session */
		}
		n++;
	}
	for (t = m->head; t != NULL; t = t->next) {
		struct pollfd p[3];
		int i, k;

		t->wait_first = (int)n;
		t->wait_count = 0;
		if (!t->running)
			continue;
		k = t_pollfds(t, p);
		for (i = 0; i < k && i < 3; i++) {
			if (p[i].fd < 0)
				continue;
			/* A slot's descriptor changes only when a socket opens: a new serial. */
			if (p[i].fd != t->slot_fd[i]) {
				t->slot_fd[i] = p[i].fd;
				t->slot_serial[i] = ++m->serial ? m->serial : ++m->serial;
			}
			if (n < cap) {
				fds[n].fd = p[i].fd;
				fds[n].events = to_wait(p[i].events);
				fds[n].revents = 0;
				fds[n].serial = t->slot_serial[i];
			}
			n++;
			t->wait_count++;
		}
	}
	*count = n;
	return ESPOTA_OK;
}

int espota_multi_timeout(espota_multi *m, long *ms)
{
	espota_transfer *t;
	uint64_t now, deadline = UINT64_MAX;

	if (m == NULL || ms == NULL)
		return ESPOTA_EINVAL;
	if (m->running == 0) {
		*ms = -1;
		return ESPOTA_OK;
	}
	if (atomic_load(&m->s->cancelled)) {
		*ms = 0;
		return ESPOTA_OK;
	}
	for (t = m->head; t != NULL; t = t->next) {
		uint64_t dl;
		if (!t->running)
			continue;
		dl = t_deadline(t);
		if (dl < deadline)
			deadline = dl;
	}
	now = espota__now_ms();
	*ms = deadline <= now ? 0 : (deadline - now > 1000 ? 1000 : (long)(deadline - now));
	return ESPOTA_OK;
}

/* Timers, cancel and pending writes of every running transfer. */
static void run_due(espota_multi *m)
{
	espota_transfer *t, *next;
	int cancelled = atomic_load(&m->s->cancelled);

	for (t = m->head; t != NULL; t = next) {
		next = t->next;
		if (!t->running)
			continue;
		if (cancelled || (t->mdns != NULL && espota__mdns_run_cancelled(t->mdns)))
			t_abort(t, ESPOTA_ECANCELLED, "cancelled");
		else if (t->mdns == NULL)
			espota__conn_tick(&t->c, espota__now_ms());
		service(t);
	}
}

static void ready(espota_multi *m, int fd, short revents, uint64_t now)
{
	espota_transfer *t;

	if (fd < 0 || revents == 0)
		return;
	for (t = m->head; t != NULL; t = t->next)
		if (t->running && t_ready(t, fd, from_wait(revents), now))
			return;
}

int espota_multi_perform(espota_multi *m, const espota_waitfd *fds, size_t n)
{
	espota_transfer *t;
	size_t i;

	if (m == NULL || (fds == NULL && n > 0) || m->in_call || m->s->in_callback)
		return ESPOTA_EINVAL;
	m->in_call++;
	/* The slots of the last espota_multi_fds() answer name each owner, in
	 * order, without a search; a descriptor elsewhere is searched for. */
	t = m->head;
	for (i = 0; i < n; i++) {
		uint64_t now;
		if (fds[i].revents == 0 || fds[i].fd < 0 || fds[i].fd == m->s->wake[0])
			continue;
		while (t != NULL && (t->wait_count == 0 || i >= (size_t)(t->wait_first + t->wait_count)))
			t = t->next;
		now = espota__now_ms();
		if (t != NULL && i >= (size_t)t->wait_first && t->running &&
			t_ready(t, fds[i].fd, from_wait(fds[i].revents), now))
			continue;
		ready(m, fds[i].fd, fds[i].revents, now);
	}
	run_due(m);
	m->in_call--;
	return ESPOTA_OK;
}

int espota_multi_socket_action(espota_multi *m, int fd, int revents)
{
	if (m == NULL || m->in_call || m->s->in_callback)
		return ESPOTA_EINVAL;
	m->in_call++;
	if (fd != m->s->wake[0])
		ready(m, fd, (short)revents, espota__now_ms());
	run_due(m);
	m->in_call--;
	return ESPOTA_OK;
}

espota_transfer *espota_multi_info_read(espota_multi *m)
{
	espota_transfer *t;

	if (m == NULL || (t = m->done_head) == NULL)
		return NULL;
	m->done_head = t->done_next;
	if (m->done_head == NULL)
		m->done_tail = NULL;
	t->done_next = NULL;
	return t;
}

uint64_t espota__transfer_acked(const espota_transfer *t)
{
	return t->running && t->c.open && t->mdns == NULL ? espota__conn_acked(&t->c) : t->stats.acked;
}

void espota__transfer_abort(espota_transfer *t, int code, const char *msg)
{
	if (t->running)
		t_abort(t, code, msg);
}

int espota_multi_remove(espota_multi *m, espota_transfer *t)
{
	espota_transfer **pp;

	if (m == NULL || t == NULL || t->m != m || m->in_call)
		return ESPOTA_EINVAL;
	if (t->running) {
		t->running = 0;
		m->running--;
	}
	/* Off the finished list, if it is still there. */
	for (pp = &m->done_head; *pp != NULL; pp = &(*pp)->done_next) {
		if (*pp == t) {
			*pp = t->done_next;
			break;
		}
	}
	m->done_tail = NULL;
	for (pp = &m->done_head; *pp != NULL; pp = &(*pp)->done_next)
		m->done_tail = *pp;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		m->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		m->tail = t->prev;
	transfer_free(t);
	return ESPOTA_OK;
}

/* ---- transfer accessors ------------------------------------------------------ */

int espota_transfer_result(const espota_transfer *t)
{
	return t != NULL ? t->code : ESPOTA_EINVAL;
}

const char *espota_transfer_error(const espota_transfer *t)
{
	return t != NULL ? t->error : "invalid transfer";
}

const espota_device_error *espota_transfer_device_error(const espota_transfer *t)
{
	return (t != NULL && t->device_error_set) ? &t->device_error : NULL;
}

int espota_transfer_stats(const espota_transfer *t, espota_upload_stats *out)
{
	espota_upload_stats st;

	if (t == NULL || out == NULL)
		return ESPOTA_EINVAL;
	st = t->stats;
	if (t->running) {
		if (t->c.open)
			espota__conn_stats(&t->c, &st);
		st.elapsed_ms = espota__now_ms() - (t->hooks.origin_ms ? t->hooks.origin_ms : t->start);
	}
	return espota__copy_sized(out, out->struct_size, &st, sizeof(st));
}

espota_kind espota_transfer_kind(const espota_transfer *t)
{
	if (t == NULL)
		return (espota_kind)0;
	return t->kind ? t->kind : ESPOTA_KIND_UPLOAD;
}

size_t espota_transfer_device_count(const espota_transfer *t)
{
	return t != NULL && t->kind == ESPOTA_KIND_BROWSE ? espota__mdns_run_count(t->mdns) : 0;
}

const espota_device_info *espota_transfer_device_at(const espota_transfer *t, size_t i)
{
	return t != NULL && t->kind == ESPOTA_KIND_BROWSE ? espota__mdns_run_device(t->mdns, i) : NULL;
}

const char *espota_transfer_address(const espota_transfer *t)
{
	if (t == NULL)
		return "";
	return t->kind == ESPOTA_KIND_RESOLVE ? espota__mdns_run_address(t->mdns) : t->address;
}

size_t espota_transfer_packets_sent(const espota_transfer *t)
{
	return t != NULL && t->kind != ESPOTA_KIND_UPLOAD && t->mdns != NULL ? espota__mdns_run_sent(t->mdns) : 0;
}

unsigned int espota_transfer_attempts(const espota_transfer *t)
{
	if (t == NULL)
		return 0;
	if (t->never_started)
		return 0;
	return t->hooks.attempts ? t->hooks.attempts : 1;
}

const char *espota_transfer_host(const espota_transfer *t)
{
	return t != NULL && t->opts.host != NULL ? t->opts.host : "";
}

void espota_transfer_set_user(espota_transfer *t, void *user)
{
	if (t != NULL)
		t->user = user;
}

void *espota_transfer_user(const espota_transfer *t)
{
	return t != NULL ? t->user : NULL;
}

/* ---- the library's own loop ------------------------------------------------- */

int espota__multi_poll(espota_multi *m, long max_ms)
{
	size_t n = 0, i;
	long ms;
	int rc;

	for (;;) {
		if ((rc = espota_multi_fds(m, m->wbuf, m->cap, &n)) < 0)
			return rc;
		if (n <= m->cap)
			break;
		free(m->wbuf);
		free(m->pbuf);
		m->cap = n + 16;
		m->wbuf = calloc(m->cap, sizeof(*m->wbuf));
		m->pbuf = calloc(m->cap, sizeof(*m->pbuf));
		if (m->wbuf == NULL || m->pbuf == NULL) {
			free(m->wbuf);
			free(m->pbuf);
			m->wbuf = NULL;
			m->pbuf = NULL;
			m->cap = 0;
			return ESPOTA_ENOMEM;
		}
	}
	espota_multi_timeout(m, &ms);
	if (ms < 0 || (max_ms >= 0 && max_ms < ms))
		ms = max_ms < 0 ? 0 : max_ms;
	for (i = 0; i < n; i++) {
		m->pbuf[i].fd = m->wbuf[i].fd;
		m->pbuf[i].events = from_wait(m->wbuf[i].events);
		m->pbuf[i].revents = 0;
	}
	if (poll(m->pbuf, (nfds_t)n, (int)ms) < 0 && errno != EINTR) {
		char msg[ESPOTA__MSG_SIZE];
		espota_transfer *t, *next;

		/* Each transfer then fails with EIO. */
		snprintf(msg, sizeof(msg), "poll failed: %s", strerror(errno));
		for (t = m->head; t != NULL; t = next) {
			next = t->next;
			espota__transfer_abort(t, ESPOTA_EIO, msg);
		}
		return ESPOTA_OK;
	}
	for (i = 0; i < n; i++)
		m->wbuf[i].revents = to_wait(m->pbuf[i].revents);
	return espota_multi_perform(m, m->wbuf, n);
}

espota_multi *espota__multi_new(espota_session *s)
{
	espota_multi *m = calloc(1, sizeof(*m));
	if (m != NULL)
		m->s = s;
	return m;
}
