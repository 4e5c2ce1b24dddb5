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
%ignore ESPOTA_UPLOAD_STATS_INIT;
/* Object-returning C entry points, replaced by the helpers below. */
%ignore espota_image_parse;
%ignore espota_partition_table_parse_csv;
%ignore espota_partition_table_parse_bin;
%ignore espota_partition_table_builtin;
%ignore espota_partition_table_free;
%ignore espota_image_free;
%ignore ESPOTA_IMAGE_INFO_INIT;
%ignore ESPOTA_FIT_REPORT_INIT;
%ignore espota_fit_report_format;
/* The file reader is wrapped per language (file_read / _file_read), which
 * returns the data or the message. */
%ignore espota_file_read;
%ignore espota_file_free;
%ignore espota_file_data;
%ignore espota_file_error;
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
%immutable espota_partition::label;

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
/* device.h: the spec holds borrowed pointers; the bindings fill it through
 * espota_swig_device_describe below. */
%ignore espota_device_spec;
%ignore espota_device_spec_init;
%ignore espota_device_describe;
%ignore ESPOTA_DEVICE_SPEC_INIT;
%ignore espota_size_parse;
%ignore espota_platform_parse;
%immutable espota_device::note;
%immutable espota_preflight::warnings;
%immutable espota_preflight::fits_with;
%include "espota/device.h"
/* A described device owns its partition table: free it with the object. */
%extend espota_device {
	~espota_device() {
		espota_device_clear($self);
		free($self);
	}
}
%include "espota/file.h"
/* The multi interface: its constants and transfer accessors here; the
 * descriptor arrays and the handle's life go through per-language helpers
 * (python/espota_python.i, lua/espota_lua.i). */
%ignore espota_multi_new;
%ignore espota_multi_free;
%ignore espota_multi_add_upload;
%ignore espota_multi_add_browse;
%ignore espota_multi_add_resolve;
%ignore espota_transfer_device_at;
%ignore espota_multi_fds;
%ignore espota_multi_perform;
%ignore espota_multi_socket_action;
%ignore espota_multi_info_read;
%ignore espota_multi_remove;
%ignore espota_multi_running;
%ignore espota_multi_timeout;
%ignore espota_transfer_set_user;
%ignore espota_transfer_user;
%ignore espota_transfer_stats;
%ignore espota_waitfd;
%include "espota/multi.h"
%include "espota/hint.h"

/* ---- the session handle -------------------------------------------------- */
/* Opaque in C; an empty body lets SWIG wrap it as a class. */
struct espota_session {};
/* The library fills a stats struct only up to the size it carries. */
%extend espota_upload_stats {
	espota_upload_stats() {
		espota_upload_stats *st = (espota_upload_stats *)calloc(1, sizeof(*st));
		if (st)
			st->struct_size = sizeof(*st);
		return st;
	}
}

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

/* Caller-owned result structs carry their size: the constructors set it. */
%extend espota_image_info {
	espota_image_info() {
		espota_image_info *i = (espota_image_info *)calloc(1, sizeof(*i));
		if (i)
			i->struct_size = sizeof(*i);
		return i;
	}
}
%extend espota_fit_report {
	espota_fit_report() {
		espota_fit_report *r = (espota_fit_report *)calloc(1, sizeof(*r));
		if (r)
			r->struct_size = sizeof(*r);
		return r;
	}
}

/* ---- library-owned objects, held by small binding-side structs ---------- */
%inline %{
/* A parsed image: the code, the facts (info) and the image object, whose
 * detail and segments are read with the methods below. */
typedef struct espota_swig_image {
	int rc;
	espota_image_info info;
	espota_image *img;
} espota_swig_image;

/* A partition table object (NULL until loaded). */
typedef struct espota_swig_partitions {
	espota_partition_table *table;
} espota_swig_partitions;
%}
%immutable espota_swig_image::rc;
%immutable espota_swig_image::img;
%immutable espota_swig_partitions::table;

%newobject espota_swig_image::segment;
%extend espota_swig_image {
	espota_swig_image(const unsigned char *buf, size_t len) {
		espota_swig_image *w = (espota_swig_image *)calloc(1, sizeof(*w));
		if (!w)
			return NULL;
		w->info.struct_size = sizeof(w->info);
		w->rc = espota_image_parse(&w->img, buf, len);
		if (w->img)
			espota_image_get_info(w->img, &w->info);
		return w;
	}
	~espota_swig_image() {
		espota_image_free($self->img);
		free($self);
	}
	const char *detail() {
		return $self->img ? espota_image_error($self->img) : espota_strerror($self->rc);
	}
	espota_image_segment *segment(unsigned int i) {
		const espota_image_segment *s = espota_image_segment_at($self->img, i);
		espota_image_segment *seg;
		if (!s)
			return NULL;
		seg = (espota_image_segment *)malloc(sizeof(*seg));
		if (seg)
			*seg = *s;
		return seg;
	}
}
%extend espota_swig_partitions {
	~espota_swig_partitions() {
		espota_partition_table_free($self->table);
		free($self);
	}
}

/* ---- helpers for the buffer-filling C functions ------------------------- */
%newobject espota_swig_partitions_load;
%newobject espota_swig_fit_format;
%newobject espota_swig_device_describe;
%newobject espota_swig_hint;
%inline %{
/* kind: 0 built-in scheme name, 1 CSV text, 2 binary table. Returns NULL on
 * success, else a malloc'd one-line error (freed by the wrapper): the table
 * object's own detail. */
char *espota_swig_partitions_load(espota_swig_partitions *out, int kind, const unsigned char *buf, size_t len)
{
	int rc;

	if (!out || !buf)
		return strdup("no partition table given");
	espota_partition_table_free(out->table);
	out->table = NULL;
	if (kind == 0) {
		char name[64];
		if (len >= sizeof(name))
			return strdup("partition scheme name too long");
		memcpy(name, buf, len);
		name[len] = '\0';
		rc = espota_partition_table_builtin(&out->table, name);
	} else if (kind == 1) {
		rc = espota_partition_table_parse_csv(&out->table, (const char *)buf, len);
	} else {
		rc = espota_partition_table_parse_bin(&out->table, buf, len);
	}
	if (rc == ESPOTA_OK)
		return NULL;
	{
		char *err = strdup(out->table ? espota_partition_table_error(out->table) : espota_strerror(rc));
		espota_partition_table_free(out->table);
		out->table = NULL;
		return err;
	}
}

/* Point a fit device at a loaded table (NULL clears). */
int espota_swig_fit_set_partitions(espota_fit_device *dev, const espota_swig_partitions *p)
{
	if (!dev)
		return ESPOTA_EINVAL;
	dev->partitions = p ? p->table : NULL;
	return ESPOTA_OK;
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

/* espota_device_describe for the bindings. `part` is a built-in scheme name,
 * CSV text or a binary table (told apart here, once for both languages);
 * sizes are strings parsed by the library ("1M", "0x100000") or NULL.
 * Returns NULL, or a malloc'd one-line error (freed by the wrapper). */
char *espota_swig_device_describe(espota_device *out, const char *board, const char *layout,
	const unsigned char *buf, size_t len, const char *platform, int target, const char *chip_size,
	const char *device_header_size, const char *running_size, int strict)
{
	espota_device_spec spec = ESPOTA_DEVICE_SPEC_INIT;
	char err[256] = "", scheme[64];
	const char *sizes[3] = { chip_size, device_header_size, running_size };
	uint64_t *dst[3] = { &spec.chip_size, &spec.device_header_size, &spec.running_size };
	static const char *const what[3] = { "chip_size", "device_header_size", "running_size" };
	int i;

	if (!out)
		return strdup("no device");
	for (i = 0; i < 3; i++)
		if (sizes[i] && espota_size_parse(sizes[i], dst[i]) != ESPOTA_OK) {
			snprintf(err, sizeof(err), "%s: expected bytes or a size like '1M', got '%.40s'", what[i], sizes[i]);
			return strdup(err);
		}
	if (platform && espota_platform_parse(platform, &spec.platform) != ESPOTA_OK) {
		snprintf(err, sizeof(err), "platform: expected esp8266 or esp32, got '%.40s'", platform);
		return strdup(err);
	}
	if (buf && len > 0 && buf[0] != 0xAA && !memchr(buf, '\n', len) && !memchr(buf, ',', len)) {
		if (len >= sizeof(scheme))
			return strdup("partition scheme name too long");
		memcpy(scheme, buf, len);
		scheme[len] = '\0';
		spec.scheme = scheme;
	} else if (buf && len > 0) {
		spec.partitions = buf;
		spec.partitions_len = len;
	}
	spec.board = board;
	spec.layout = layout;
	spec.target = (espota_target)target;
	spec.strict = strict;
	if (espota_device_describe(out, &spec, err, sizeof(err)) != ESPOTA_OK)
		return strdup(err[0] ? err : "invalid device description");
	/* An unknown board is not an error: out->note (ESPOTA_DEVICE_UNKNOWN_BOARD)
	 * is the warning each language gives; the check goes on with the image. */
	return NULL;
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
		st.struct_size = sizeof(st);
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
