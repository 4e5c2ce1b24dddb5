/*
 * libespota SWIG interface, common to Python and Lua (libsolv layout: one
 * file, per-language sections under SWIGPYTHON / SWIGLUA).
 *
 * What SWIG wraps directly: the pure functions (image inspection, flash-fit,
 * layouts, boards, partition tables, error names), the read-only result
 * structs, the session handle (constructor/destructor, cancel, last error,
 * device error, stats) and the constants. The upload itself is a
 * hand-written entry point per language (espota_python.i / espota_lua.i),
 * because it needs call-scoped callback trampolines. The natural API on top
 * (espota.Session, espota.check, exceptions; espota.session() in Lua) is
 * written in the target language: bindings/python/espota/__init__.py and
 * bindings/lua/espota.lua.
 *
 * SPDX-License-Identifier: MIT
 */

#if defined(SWIGPYTHON)
%module(package="espota", threads="1") _espota
/* Only the upload releases the GIL (espota_python.i turns it back on for
 * that one function); every other call is short and pure (Python.html
 * 35.13: thread wrappers cost ~60% per call). */
%nothread;
#elif defined(SWIGLUA)
%module espota
#else
#error "bindings/espota.i: only Python and Lua are supported"
#endif

%{
#include <stdlib.h>
#include <string.h>
#include "espota.h"
%}

%include <stdint.i>

/* ESPOTA_EXTERN & co. first, so SWIG understands the declarations (Hamlib
 * includes rig_dll.h the same way). SWIG defines no __GNUC__, so the
 * attribute macros expand to nothing. */
%include "espota/common.h"

/* ---- what is not wrapped ------------------------------------------------ */
/* Raw upload entry points and their options: replaced by the per-language
 * upload with call-scoped callbacks (style.md section 9). */
%ignore espota_upload;
%ignore espota_upload_file;
%ignore espota_upload_options;
%ignore espota_upload_options_init;
%ignore espota_progress;
%ignore espota_auth_request;
%ignore espota_auth_request_set_password;
%ignore espota_progress_cb;
%ignore espota_auth_cb;
/* Session options only carry the log callback, which the bindings do not
 * expose yet; sessions are created with defaults. */
%ignore espota_session_options;
%ignore espota_session_options_init;
%ignore espota_session_new;
%ignore espota_session_free;
/* Size macros: their function twins are wrapped. */
%ignore ESPOTA_UPLOAD_OPTIONS_INIT;
%ignore ESPOTA_SESSION_OPTIONS_INIT;
%ignore ESPOTA_FIT_DEVICE_INIT;
/* Array members are reached through the %extend accessors below. */
%ignore espota_image_info::segments;
%ignore espota_partition_table::entries;
/* Buffer-filling C entry points, replaced by the helpers below. */
%ignore espota_partitions_parse_csv;
%ignore espota_partitions_parse_bin;
%ignore espota_partitions_builtin;
%ignore espota_fit_report_format;
/* The file reader is wrapped per language (file_read / _file_read), which
 * returns the data or the message. */
%ignore espota_file_read;
%ignore espota_file_free;
/* Wrapped as espota_swig_hint (a string); the flag names are read as SWIG constants. */
%ignore espota_hint;
%ignore espota_hint_input;
%ignore espota_hint_input_init;
%ignore espota_fit_flag_name;
%ignore espota_fit_flag_text;

/* Results are read-only in the target language. */
%immutable espota_device_error::platform;
%immutable espota_device_error::code;
%immutable espota_device_error::name;
%immutable espota_device_error::text;
%immutable espota_device_error::explanation;
%immutable espota_device_error::raw;
%immutable espota_layout::name;
%immutable espota_layout::ld_script;
%immutable espota_board::name;
%immutable espota_board::description;
%immutable espota_board::layout;
%immutable espota_fit_report::device_error_text;
%immutable espota_fit_report::summary;
%immutable espota_fit_report::advice;
%immutable espota_image_info::detail;
%immutable espota_partition::label;
%immutable espota_partition_table::name;

/* ---- buffers in ---------------------------------------------------------- */
#if defined(SWIGPYTHON)
/* Any contiguous buffer (bytes, bytearray, memoryview, mmap, array). The
 * view is held for the whole call and released in freearg. */
%typemap(in) (const unsigned char *buf, size_t len) (Py_buffer view, int have_view = 0) {
	if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
		SWIG_fail;
	have_view = 1;
	$1 = ($1_ltype)view.buf;
	$2 = (size_t)view.len;
}
%typemap(freearg) (const unsigned char *buf, size_t len) {
	if (have_view$argnum)
		PyBuffer_Release(&view$argnum);
}
%typemap(typecheck) (const unsigned char *buf, size_t len) {
	$1 = PyObject_CheckBuffer($input);
}
#elif defined(SWIGLUA)
%typemap(in, checkfn="lua_isstring") (const unsigned char *buf, size_t len) {
	size_t n = 0;
	$1 = ($1_ltype)lua_tolstring(L, $input, &n);
	$2 = n;
}
#endif
%apply (const unsigned char *buf, size_t len) { (const char *text, size_t len) };

%include "espota/version.h"
%include "espota/errors.h"
%include "espota/session.h"
%include "espota/upload.h"
%include "espota/image.h"
%include "espota/flashfit.h"
%include "espota/file.h"
%include "espota/hint.h"

/* ---- the session handle -------------------------------------------------- */
/* Opaque in C; an empty body lets SWIG wrap it as a class. */
struct espota_session {};
%extend espota_session {
	espota_session() {
		espota_session *s = NULL;
		if (espota_session_new(&s, NULL) != ESPOTA_OK)
			return NULL;
		return s;
	}
	~espota_session() {
		espota_session_free($self);
	}
}

/* ---- array accessors (copies, so no pointer outlives its parent) -------- */
%newobject espota_image_info::segment;
%newobject espota_partition_table::entry;
%extend espota_image_info {
	espota_image_segment *segment(unsigned int i) {
		espota_image_segment *seg;
		if (i >= $self->segment_count || i >= ESPOTA_IMAGE_MAX_SEGMENTS)
			return NULL;
		seg = (espota_image_segment *)malloc(sizeof(*seg));
		if (seg)
			*seg = $self->segments[i];
		return seg;
	}
}
%extend espota_partition_table {
	espota_partition *entry(unsigned int i) {
		espota_partition *p;
		if (i >= $self->count || i >= ESPOTA_PARTITIONS_MAX)
			return NULL;
		p = (espota_partition *)malloc(sizeof(*p));
		if (p)
			*p = $self->entries[i];
		return p;
	}
}

/* ---- helpers for the buffer-filling C functions ------------------------- */
%newobject espota_swig_partitions_load;
%newobject espota_swig_fit_format;
%newobject espota_swig_hint;
%inline %{
/* kind: 0 built-in scheme name, 1 CSV text, 2 binary table. Returns NULL on
 * success, else a malloc'd one-line error (freed by the wrapper). */
char *espota_swig_partitions_load(espota_partition_table *out, int kind, const unsigned char *buf, size_t len)
{
	char err[256] = "";
	int rc;

	if (!out || !buf)
		return strdup("no partition table given");
	if (kind == 0) {
		char name[64];
		if (len >= sizeof(name))
			return strdup("partition scheme name too long");
		memcpy(name, buf, len);
		name[len] = '\0';
		rc = espota_partitions_builtin(out, name);
		if (rc != ESPOTA_OK)
			snprintf(err, sizeof(err), "unknown partition scheme '%s'", name);
	} else if (kind == 1) {
		rc = espota_partitions_parse_csv(out, (const char *)buf, len, err, sizeof(err));
	} else {
		rc = espota_partitions_parse_bin(out, buf, len, err, sizeof(err));
	}
	if (rc == ESPOTA_OK)
		return NULL;
	if (!err[0])
		snprintf(err, sizeof(err), "%s", espota_strerror(rc));
	return strdup(err);
}

/* espota_fit_report_format into a malloc'd string (NULL on error). */
char *espota_swig_fit_format(const espota_image_info *img, const espota_fit_device *dev,
	const espota_fit_report *report)
{
	char small[1];
	char *buf;
	int n;

	if (!img || !dev || !report)
		return NULL;
	n = espota_fit_report_format(small, sizeof(small), img, dev, report);
	if (n < 0)
		return NULL;
	buf = (char *)malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	if (espota_fit_report_format(buf, (size_t)n + 1, img, dev, report) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* espota_hint() for the last upload on `s` (NULL: only `code`), worded for
 * the library's options, into a malloc'd string of lines. */
char *espota_swig_hint(int code, const espota_session *s, int target, int password_given,
	const char *host, int port, int bind_given, unsigned long long since_success_ms)
{
	espota_hint_input in;
	espota_upload_stats st;
	char *buf;
	int n;

	espota_hint_input_init(&in, ESPOTA_HINT_INPUT_VERSION);
	in.code = code;
	if (s != NULL) {
		memset(&st, 0, sizeof(st));
		espota_session_stats(s, &st);
		in.stats = &st;
		in.device_error = espota_session_device_error(s);
		in.report = espota_session_fit_report(s);
	}
	in.target = target == ESPOTA_TARGET_FS ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	in.password_given = password_given;
	in.host = host;
	in.port = (uint16_t)(port > 0 && port < 65536 ? port : 0);
	in.bind_given = bind_given;
	in.since_success_ms = (uint64_t)since_success_ms;
	n = espota_hint(NULL, 0, &in);
	if (n < 0 || (buf = (char *)malloc((size_t)n + 1)) == NULL)
		return NULL;
	espota_hint(buf, (size_t)n + 1, &in);
	return buf;
}

/* The fit device's pointers, settable by name (language-neutral). Layout
 * lookup: ESPOTA_OK or ESPOTA_EINVAL for an unknown name; NULL clears. */
int espota_swig_fit_set_layout(espota_fit_device *dev, const char *name)
{
	const espota_layout *l = NULL;
	if (!dev)
		return ESPOTA_EINVAL;
	if (name) {
		l = espota_layout_find(name);
		if (!l)
			return ESPOTA_EINVAL;
	}
	dev->layout = l;
	return ESPOTA_OK;
}
%}

/* ---- per-language upload ------------------------------------------------- */
#if defined(SWIGPYTHON)
%include "python/espota_python.i"
%include "python/discover_python.i"
#elif defined(SWIGLUA)
%include "lua/espota_lua.i"
%include "lua/discover_lua.i"
#endif
