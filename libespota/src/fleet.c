/*
 * The fleet driver: many device connections in one poll() loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "espota/fleet.h"
#include "conn.h"
#include "fleet_policy.h"

typedef struct {
	espota__conn c;
	espota_upload_options opts;  /* base with this device's host/port/password */
	size_t index;                /* device index, or SIZE_MAX when free */
	uint64_t first_start;
	unsigned int attempts;
	int active;
} slot;

typedef struct {
	espota_session *s;
	const espota_upload_options *base;
	const espota_fleet_device *devices;
	const espota_fleet_options *fo;
	espota_fleet_result *results;
	const unsigned char *data;
	size_t dlen;
	size_t original_len;         /* before compression */
	char md5[ESPOTA__MD5_HEX + 1]; /* of data, once for every device */
} fleet;

int espota_fleet_options_init(espota_fleet_options *opts, unsigned int version)
{
	static const espota_fleet_options init = ESPOTA_FLEET_OPTIONS_INIT;

	if (opts == NULL || version == 0 || version > ESPOTA_FLEET_OPTIONS_VERSION)
		return ESPOTA_EINVAL;
	*opts = init;
	return ESPOTA_OK;
}

static int fleet_progress(espota__conn *c, const espota_progress *p)
{
	const fleet *f = c->user;
	return f->fo->progress ? f->fo->progress(c->index, p, f->fo->payload) : 0;
}

/* Called only when the options carry an auth callback (conn.c, need_password). */
static int fleet_auth(espota__conn *c, espota_auth_request *req, espota_auth_scheme scheme)
{
	const fleet *f = c->user;
	return f->base->auth(req, c->opts->host, scheme, f->base->payload);
}

static int retryable(int code)
{
	return code == ESPOTA_ETIMEOUT || code == ESPOTA_ECLOSED || code == ESPOTA_EIO;
}

static void start_slot(fleet *f, slot *sl, uint64_t now)
{
	const espota_fleet_device *dv = &f->devices[sl->index];
	espota_fleet_result *r = &f->results[sl->index];
	char err[ESPOTA__MSG_SIZE];
	int rc;

	sl->attempts++;
	r->attempts = sl->attempts;
	memset(&sl->c, 0, sizeof(sl->c));
	sl->c.s = f->s;
	sl->c.opts = &sl->opts;
	sl->c.on_progress = fleet_progress;
	sl->c.on_auth = fleet_auth;
	sl->c.user = f;
	sl->c.index = sl->index;
	sl->c.md5 = f->md5;
	snprintf(sl->c.prefix, sizeof(sl->c.prefix), "[%zu %s:%u] ", sl->index, dv->host,
		(unsigned)espota__default_port(&sl->opts));
	(void)now;
	rc = espota__conn_start(&sl->c, f->data, f->dlen, err, sizeof(err));
	if (rc < 0) {
		/* Record the failure; the main loop finishes the slot. */
		sl->c.e.finished = 1;
		sl->c.e.result = rc;
		snprintf(sl->c.e.error, sizeof(sl->c.e.error), "%s", err);
	}
	sl->active = 1;
}

/* A slot's connection finished: retry it or record the result. */
static int finish_slot(fleet *f, slot *sl, uint64_t now)
{
	espota_fleet_result *r = &f->results[sl->index];
	const espota_fleet_options *fo = f->fo;
	int code = sl->c.e.result;

	r->code = code;
	snprintf(r->error, sizeof(r->error), "%s", code < 0 ? sl->c.e.error : "");
	r->device_error_set = sl->c.e.device_error_set;
	if (r->device_error_set)
		r->device_error = sl->c.e.device_error;
	memset(&r->stats, 0, sizeof(r->stats));
	espota__conn_stats(&sl->c, &r->stats);
	r->stats.total = f->dlen;
	r->stats.original_size = f->original_len;
	r->stats.elapsed_ms = now - sl->first_start;
	espota__conn_close(&sl->c);

	if (code < 0 && retryable(code) && sl->attempts <= fo->retries && !atomic_load(&f->s->cancelled) &&
		(fo->device_deadline_ms == 0 || now - sl->first_start < fo->device_deadline_ms)) {
		espota__session_log(f->s, ESPOTA_LOG_WARN, "[%s] attempt %u failed (%s); retrying",
			sl->opts.host, sl->attempts, r->error);
		start_slot(f, sl, now);
		return 0;
	}
	if (fo->done) {
		f->s->in_callback++;
		fo->done(sl->index, r, fo->payload);
		f->s->in_callback--;
	}
	sl->active = 0;
	return 1;
}

int espota_fleet_upload(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *base, const espota_fleet_device *devices, size_t ndevices,
	const espota_fleet_options *fo, espota_fleet_result *results)
{
	espota_fleet_options defaults;
	espota_upload_options probe;
	unsigned char *packed = NULL;
	struct pollfd *pfd = NULL;
	slot *slots = NULL;
	espota__fleet_policy pol = { 0 };
	size_t i, next = 0, nslots, done = 0, failed = 0;
	fleet f;
	int rc;

	if (devices == NULL || results == NULL || ndevices == 0 || base == NULL)
		return ESPOTA_EINVAL;
	if (fo == NULL) {
		espota_fleet_options_init(&defaults, ESPOTA_FLEET_OPTIONS_VERSION);
		fo = &defaults;
	} else if (fo->version == 0 || fo->version > ESPOTA_FLEET_OPTIONS_VERSION) {
		if (s != NULL && !s->in_callback && !s->running)
			espota__session_error(s, "invalid version %u on espota_fleet_options", fo->version);
		return ESPOTA_EINVAL;
	}
	/* Validate the shared options once, with a stand-in host. */
	probe = *base;
	probe.host = devices[0].host;
	if ((rc = espota__begin(s, image, len, &probe)) < 0)
		return rc;
	for (i = 0; i < ndevices; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		results[i].code = ESPOTA_ERROR;
		if (devices[i].host == NULL || devices[i].host[0] == '\0') {
			espota__session_error(s, "device %zu has no address", i);
			return ESPOTA_EINVAL;
		}
	}
	s->running = 1;
	s->stats.original_size = len;
	if ((rc = espota__prepare(s, base, image, len, &f.data, &f.dlen, &packed)) < 0)
		goto out;
	f.s = s;
	f.original_len = len;
	f.base = base;
	f.devices = devices;
	f.fo = fo;
	f.results = results;
	s->stats.total = f.dlen;
	if (espota__md5_hex(f.md5, f.data, f.dlen) < 0) {
		espota__session_error(s, "cannot compute the image's MD5");
		rc = ESPOTA_ERROR;
		goto out;
	}

	/* 0 = every device at once (up to 256): a slot costs descriptors, not threads. */
	nslots = fo->max_concurrent ? fo->max_concurrent : 256;
	if (nslots > ndevices)
		nslots = ndevices;
	slots = calloc(nslots, sizeof(*slots));
	pfd = calloc(1 + 3 * nslots, sizeof(*pfd));
	if (slots == NULL || pfd == NULL) {
		rc = ESPOTA_ENOMEM;
		goto out;
	}
	(void)espota__fleet_policy_init(&pol, fo->max_concurrent, nslots, espota__now_ms());

	while (done < ndevices) {
		uint64_t now = espota__now_ms(), deadline = UINT64_MAX;
		int np = 1, timeout;

		/* Fill free slots, then let every connection act. */
		for (i = 0; i < nslots; i++) {
			slot *sl = &slots[i];
			if (!sl->active && next < ndevices && !atomic_load(&s->cancelled) &&
				i < espota__fleet_policy_limit(&pol, now)) {
				const espota_fleet_device *dv = &devices[next];
				sl->index = next++;
				sl->attempts = 0;
				sl->first_start = now;
				sl->opts = *base;
				sl->opts.host = dv->host;
				if (dv->port)
					sl->opts.port = dv->port;
				if (dv->password)
					sl->opts.password = dv->password;
				start_slot(&f, sl, now);
			}
			if (!sl->active)
				continue;
			espota__conn_service(&sl->c);
			espota__fleet_policy_observe(&pol, i, sl->c.e.provisional);
			if (sl->c.e.finished && finish_slot(&f, sl, espota__now_ms())) {
				done++;
				if (results[sl->index].code < 0)
					failed++;
				i--; /* refill this slot at once */
				continue;
			}
		}
		if (done >= ndevices)
			break;
		if (next < ndevices && atomic_load(&s->cancelled)) {
			/* Devices never started are cancelled too. */
			for (; next < ndevices; next++) {
				results[next].code = ESPOTA_ECANCELLED;
				snprintf(results[next].error, sizeof(results[next].error), "cancelled");
				done++;
				failed++;
				if (fo->done) {
					s->in_callback++;
					fo->done(next, &results[next], fo->payload);
					s->in_callback--;
				}
			}
		}
		pfd[0].fd = s->wake[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		for (i = 0; i < nslots; i++) {
			slot *sl = &slots[i];
			uint64_t dl;
			if (!sl->active)
				continue;
			np += espota__conn_pollfds(&sl->c, pfd, np);
			dl = espota__conn_deadline(&sl->c);
			if (fo->device_deadline_ms && sl->first_start + fo->device_deadline_ms < dl)
				dl = sl->first_start + fo->device_deadline_ms;
			if (dl < deadline)
				deadline = dl;
		}
		now = espota__now_ms();
		timeout = deadline <= now ? 0 : (deadline - now > 1000 ? 1000 : (int)(deadline - now));
		if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			/* Each device then fails with EIO; the summary counts them. */
			for (i = 0; i < nslots; i++)
				if (slots[i].active)
					espota__engine_abort(&slots[i].c.e, now, ESPOTA_EIO, "poll failed");
			continue;
		}
		now = espota__now_ms();
		for (i = 0; i < nslots; i++) {
			slot *sl = &slots[i];
			if (!sl->active)
				continue;
			if (atomic_load(&s->cancelled))
				espota__engine_abort(&sl->c.e, now, ESPOTA_ECANCELLED, "cancelled");
			else if (fo->device_deadline_ms && now - sl->first_start >= fo->device_deadline_ms)
				espota__engine_abort(&sl->c.e, now, ESPOTA_ETIMEOUT,
					"the device's deadline of %u ms passed", fo->device_deadline_ms);
			espota__conn_handle(&sl->c, pfd, now);
			espota__conn_tick(&sl->c, espota__now_ms());
		}
	}
	if (atomic_load(&s->cancelled)) {
		rc = ESPOTA_ECANCELLED;
		espota__session_error(s, "cancelled; %zu of %zu devices failed", failed, ndevices);
	} else if (failed > 0) {
		rc = ESPOTA_ERROR;
		espota__session_error(s, "%zu of %zu devices failed", failed, ndevices);
	} else {
		rc = ESPOTA_OK;
	}
out:
	if (slots != NULL)
		for (i = 0; i < nslots; i++)
			espota__conn_close(&slots[i].c);
	espota__fleet_policy_free(&pol);
	free(slots);
	free(pfd);
	free(packed);
	s->running = 0;
	return rc;
}
