/*
 * The fleet driver: many devices as transfers of one multi handle (multi.c
 * polls; this file only decides what to start, retry and report).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/auth.h"
#include "espota/fleet.h"
#include "proto/fleet_policy.h"
#include "posix/multi_internal.h"

/* One device's state across its attempts. */
typedef struct {
	espota_upload_options opts;  /* base with this device's host/port/password */
	espota_transfer *t;          /* the running attempt, or NULL */
	size_t slot;                 /* the concurrency slot it runs in (fleet_policy.c) */
	uint64_t first_start;
	unsigned int attempts;
	int done;
	int never_started;           /* cancelled before it had a slot */
} device;

typedef struct {
	espota_session *s;
	espota_multi *m;
	const espota_upload_options *base;
	const espota_fleet_device *devices;
	const espota_fleet_options *fo;
	device *dv;
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

static int fleet_progress(espota_transfer *t, const espota_progress *p, void *payload)
{
	const fleet *f = payload;
	size_t index = (size_t)(uintptr_t)espota_transfer_user(t);
	return f->fo->progress ? f->fo->progress(index, p, f->fo->payload) : 0;
}

static int start(fleet *f, size_t index, uint64_t now)
{
	device *d = &f->dv[index];
	char prefix[80];
	espota__transfer_hooks h;

	d->attempts++;
	if (d->attempts == 1)
		d->first_start = now;
	snprintf(prefix, sizeof(prefix), "[%zu %s:%u] ", index, d->opts.host,
		(unsigned)espota__default_port(&d->opts));
	/* The data is compressed and preflighted once for every device. */
	h = (espota__transfer_hooks){ .progress = fleet_progress, .payload = f, .prefix = prefix,
		.md5 = f->md5, .attempts = d->attempts, .origin_ms = d->first_start,
		.original_size = f->original_len, .prepared = 1, .user = (void *)(uintptr_t)index };
	return espota__multi_add(f->m, &d->t, f->data, f->dlen, &d->opts, &h);
}

static void report(fleet *f, size_t index, const espota_transfer *t)
{
	if (f->fo->done) {
		f->s->in_callback++;
		f->fo->done(index, t, f->fo->payload);
		f->s->in_callback--;
	}
}

int espota_fleet_upload(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *base, const espota_fleet_device *devices, size_t ndevices,
	const espota_fleet_options *fo)
{
	espota_fleet_options defaults;
	espota_upload_options probe;
	espota_transfer *t;
	unsigned char *packed = NULL;
	size_t i, next = 0, nslots, active = 0, done = 0, failed = 0;
	unsigned char *slot_busy = NULL;
	espota__fleet_policy pol = { 0 };
	char err[ESPOTA__MSG_SIZE];
	fleet f;
	int rc, rep_set = 0;

	if (devices == NULL || ndevices == 0 || base == NULL)
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
		if (devices[i].host == NULL || devices[i].host[0] == '\0') {
			espota__session_error(s, "device %zu has no address", i);
			return ESPOTA_EINVAL;
		}
	}
	memset(&f, 0, sizeof(f));
	s->running = 1;
	s->stats.original_size = len;
	err[0] = '\0';
	rc = espota__prepare(s, base, image, len, &f.data, &f.dlen, &packed, err, sizeof(err),
		&s->fit_report, &rep_set);
	s->fit_report_set = rep_set;
	if (rc < 0) {
		espota__session_error(s, "%s", err);
		goto out;
	}
	f.s = s;
	f.original_len = len;
	f.base = base;
	f.devices = devices;
	f.fo = fo;
	s->stats.total = f.dlen;
	if (espota__md5_hex(f.md5, f.data, f.dlen) < 0) {
		espota__session_error(s, "cannot compute the image's MD5");
		rc = ESPOTA_ERROR;
		goto out;
	}
	f.dv = calloc(ndevices, sizeof(*f.dv));
	f.m = espota__multi_new(s);
	if (f.dv == NULL || f.m == NULL) {
		espota__session_error(s, "out of memory");
		rc = ESPOTA_ENOMEM;
		goto out;
	}
	for (i = 0; i < ndevices; i++) {
		device *d = &f.dv[i];
		d->opts = *base;
		d->opts.host = devices[i].host;
		if (devices[i].port)
			d->opts.port = devices[i].port;
		if (devices[i].password)
			d->opts.password = devices[i].password;
		/* Progress comes through the fleet's callback; nothing to redo. */
		d->opts.progress = NULL;
		d->opts.compress = 0;
		d->opts.fit = NULL;
	}

	/* 0 = the policy chooses, up to 256: a transfer costs descriptors, not threads. */
	nslots = fo->max_concurrent ? fo->max_concurrent : 256;
	if (nslots > ndevices)
		nslots = ndevices;
	if ((slot_busy = calloc(nslots, 1)) == NULL)
		goto nomem;
	(void)espota__fleet_policy_init(&pol, fo->max_concurrent, nslots, espota__now_ms());

	while (done < ndevices) {
		uint64_t now = espota__now_ms(), wake = UINT64_MAX;
		long max_ms;

		/* Fill free slots below the policy's limit (lowest first, as the
		 * policy counts them); devices never started are cancelled on a cancel. */
		for (i = 0; i < nslots && next < ndevices && !atomic_load(&s->cancelled); i++) {
			if (slot_busy[i])
				continue;
			if (i >= espota__fleet_policy_limit(&pol, now))
				break;
			f.dv[next].slot = i;
			slot_busy[i] = 1;
			if ((rc = start(&f, next, now)) < 0)
				goto nomem;
			next++;
			active++;
		}
		for (i = 0; i < ndevices; i++)
			if (f.dv[i].t != NULL)
				espota__fleet_policy_observe(&pol, f.dv[i].slot, espota__transfer_acked(f.dv[i].t));
		if (next < ndevices && atomic_load(&s->cancelled)) {
			/* Devices never started are cancelled too, and reported as such. */
			for (; next < ndevices; next++) {
				t = espota__multi_add_failed(f.m, &f.dv[next].opts, ESPOTA_ECANCELLED, "cancelled");
				if (t == NULL)
					goto nomem;
				f.dv[next].never_started = 1;
				espota_transfer_set_user(t, (void *)(uintptr_t)next);
				active++;
			}
		}
		/* Collect what finished: retry it, or report it. */
		while ((t = espota_multi_info_read(f.m)) != NULL) {
			size_t index = (size_t)(uintptr_t)espota_transfer_user(t);
			device *d = &f.dv[index];
			int code = espota_transfer_result(t);

			now = espota__now_ms();
			d->t = NULL;
			if (code < 0 && espota_error_retryable(code) && d->attempts <= fo->retries &&
				!atomic_load(&s->cancelled) &&
				(fo->device_deadline_ms == 0 || now - d->first_start < fo->device_deadline_ms)) {
				espota__session_log(s, ESPOTA_LOG_WARN, "[%s] attempt %u failed (%s); retrying",
					d->opts.host, d->attempts, espota_transfer_error(t));
				espota_multi_remove(f.m, t);
				if ((rc = start(&f, index, now)) < 0)
					goto nomem;
				continue;
			}
			report(&f, index, t);
			espota_multi_remove(f.m, t);
			d->done = 1;
			if (!d->never_started)
				slot_busy[d->slot] = 0;
			done++;
			active--;
			if (code < 0)
				failed++;
		}
		if (done >= ndevices)
			break;
		/* A slot came free below the limit: fill it before waiting. */
		if (next < ndevices && !atomic_load(&s->cancelled) && active < nslots) {
			size_t low = 0;
			while (low < nslots && slot_busy[low])
				low++;
			if (low < nslots && low < espota__fleet_policy_limit(&pol, espota__now_ms()))
				continue;
		}
		/* The per-device deadlines are the fleet's own timers. */
		if (fo->device_deadline_ms) {
			now = espota__now_ms();
			for (i = 0; i < ndevices; i++) {
				device *d = &f.dv[i];
				uint64_t dl = d->first_start + fo->device_deadline_ms;
				if (d->t == NULL || d->done)
					continue;
				if (now >= dl) {
					char msg[96];
					snprintf(msg, sizeof(msg), "the device's deadline of %u ms passed",
						fo->device_deadline_ms);
					espota__transfer_abort(d->t, ESPOTA_ETIMEOUT, msg);
				} else if (dl < wake) {
					wake = dl;
				}
			}
		}
		if (f.m->done_head != NULL)
			continue;
		max_ms = -1;
		if (wake != UINT64_MAX) {
			now = espota__now_ms();
			max_ms = wake > now ? (long)(wake - now) : 0;
		}
		if ((rc = espota__multi_poll(f.m, max_ms)) < 0)
			goto nomem;
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
	goto out;
nomem:
	espota__session_error(s, "out of memory");
	rc = ESPOTA_ENOMEM;
out:
	espota_multi_free(f.m);
	espota__fleet_policy_free(&pol);
	free(slot_busy);
	free(f.dv);
	free(packed);
	s->running = 0;
	return rc;
}
