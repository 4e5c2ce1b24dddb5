/*
 * The blocking upload: a multi handle with one transfer (multi.c polls),
 * plus the entry checks the upload functions share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espota/file.h"
#include "espota/flashfit.h"
#include "posix/multi_internal.h"

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
	char err[ESPOTA__MSG_SIZE];
	int rc = espota__check_options(opts, err, sizeof(err));

	if (rc < 0)
		espota__session_error(s, "%s", err);
	return rc;
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
	s->stats.struct_size = sizeof(s->stats);
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

/* The blocking upload is a multi handle with one transfer, polled here. */
int espota_upload(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *o)
{
	espota_multi *m;
	espota_transfer *t = NULL;
	int rc;

	if ((rc = espota__begin(s, image, len, o)) < 0)
		return rc;
	/* The session keeps its handle: one upload after another reuses it. */
	if (s->multi == NULL && (s->multi = espota__multi_new(s)) == NULL) {
		espota__session_error(s, "out of memory");
		return ESPOTA_ENOMEM;
	}
	m = s->multi;
	s->running = 1;
	rc = espota__multi_add(m, &t, image, len, o, NULL);
	while (rc == ESPOTA_OK && espota_multi_running(m) > 0)
		rc = espota__multi_poll(m, -1);
	if (rc < 0 && t != NULL)
		espota__transfer_abort(t, rc, "out of memory");
	if (t != NULL) {
		rc = espota_transfer_result(t);
		if (rc < 0)
			espota__session_error(s, "%s", espota_transfer_error(t));
		if (t->device_error_set) {
			s->device_error = t->device_error;
			s->device_error_set = 1;
		}
		if (t->fit_report != NULL) {
			s->fit_report = *t->fit_report;
			s->fit_report_set = 1;
		}
		s->stats = t->stats;
	} else {
		espota__session_error(s, "out of memory");
	}
	if (t != NULL)
		espota_multi_remove(m, t);
	s->running = 0;
	return rc;
}

int espota_upload_file(espota_session *s, const char *path, const espota_upload_options *o)
{
	espota_upload_options copy;
	espota_file *f = NULL;
	const unsigned char *buf;
	size_t got = 0;
	int rc;

	if (s == NULL || path == NULL || o == NULL)
		return ESPOTA_EINVAL;
	if (s->in_callback || s->running)
		return ESPOTA_EINVAL;
	rc = espota_file_read(&f, path, ESPOTA_FILE_MAX);
	if (rc < 0) {
		/* The file object's detail becomes the session's. */
		espota__session_error(s, "%s", f != NULL ? espota_file_error(f) : espota_strerror(rc));
		espota_file_free(f);
		return rc;
	}
	buf = espota_file_data(f, &got);
	copy = *o;
	if (copy.filename == NULL)
		copy.filename = path;
	rc = espota_upload(s, buf, got, &copy);
	espota_file_free(f);
	return rc;
}
