/*
 * Python section of bindings/espota.i: the upload with call-scoped callback
 * trampolines (style.md section 9, "Python: a callable as a C callback").
 *
 * _espota.session_upload(session, call) where `call` is a dict built by
 * espota/__init__.py:
 *   image          any contiguous buffer (held for the call)
 *   host, bind_address, password, filename     str (password: str or bytes) or None
 *   port, bind_port, target, auth_mode, transfer, chunk_size, window,
 *   compress, force, platform, invite_ms, invite_attempts, auth_ms,
 *   connect_ms, stall_ms, result_ms                int
 *   fit            an espota_fit_device proxy or None
 *   progress       callable or None; called with progress_type(phase, sent,
 *                  acked, total, elapsed_s, attempt)
 *   progress_type  callable building the object passed to progress
 *   auth           callable(host, scheme) -> str | bytes | None, or None
 *
 * The typemap fills a stack struct with borrowed references (the dict, which
 * the argument tuple keeps alive, owns them), SWIG releases the GIL around
 * the call (threads="1", enabled for this one function), the trampolines
 * re-acquire it, and an exception raised by a callback (or by
 * PyErr_CheckSignals: KeyboardInterrupt) is stored, aborts the upload with
 * ESPOTA_EUSER, and is restored unchanged once the GIL is back.
 * The return value is the libespota code; the Python layer maps it to an
 * exception class.
 */

%{
typedef struct espota_py_call {
	espota_upload_options opts;
	espota_fit_device fit;
	Py_buffer view;
	int have_view;
	PyObject *progress;      /* borrowed */
	PyObject *progress_type; /* borrowed */
	PyObject *auth;          /* borrowed */
	/* fleet uploads only (session_upload_many) */
	espota_session *session;
	PyObject *done;          /* borrowed: callable(index, raw result tuple) */
	PyObject *results;       /* borrowed: list, results[index] = raw result tuple */
	espota_fleet_device *devices; /* owned array; strings borrowed from the dict */
	size_t ndevices;
	espota_fleet_options fleet;
#if PY_VERSION_HEX >= 0x030C0000
	PyObject *exc;           /* owned: the stored exception */
#else
	PyObject *exc_type, *exc, *exc_tb; /* owned */
#endif
} espota_py_call;

static void espota_py_store_exception(espota_py_call *c)
{
	if (c->exc) {
		/* already have one; keep the first */
		PyErr_Clear();
		return;
	}
#if PY_VERSION_HEX >= 0x030C0000
	c->exc = PyErr_GetRaisedException();
#else
	PyErr_Fetch(&c->exc_type, &c->exc, &c->exc_tb);
	PyErr_NormalizeException(&c->exc_type, &c->exc, &c->exc_tb);
	if (c->exc && c->exc_tb)
		PyException_SetTraceback(c->exc, c->exc_tb);
#endif
}

static void espota_py_restore_exception(espota_py_call *c)
{
#if PY_VERSION_HEX >= 0x030C0000
	PyErr_SetRaisedException(c->exc);
	c->exc = NULL;
#else
	PyErr_Restore(c->exc_type, c->exc, c->exc_tb);
	c->exc_type = c->exc = c->exc_tb = NULL;
#endif
}

static void espota_py_call_clear(espota_py_call *c)
{
	free(c->devices);
	c->devices = NULL;
	if (c->have_view) {
		PyBuffer_Release(&c->view);
		c->have_view = 0;
	}
#if PY_VERSION_HEX >= 0x030C0000
	Py_CLEAR(c->exc);
#else
	Py_CLEAR(c->exc_type);
	Py_CLEAR(c->exc);
	Py_CLEAR(c->exc_tb);
#endif
}

static const char *espota_py_scheme_name(espota_auth_scheme s)
{
	switch (s) {
	case ESPOTA_AUTH_MD5: return "md5";
	case ESPOTA_AUTH_PBKDF2_SHA256: return "pbkdf2-sha256";
	case ESPOTA_AUTH_PBKDF2_MD5: return "pbkdf2-md5";
	default: return "none";
	}
}

/* A callback raised during a fleet upload: stop every device, so the
 * exception propagates promptly (the fleet keeps calling the trampolines,
 * which then do nothing). */
static void espota_py_fleet_abort(espota_py_call *c)
{
	if (c->session)
		espota_session_cancel(c->session);
}

/* Progress of one upload; `index` is the device index of a fleet, or -1. */
static int espota_py_progress_common(espota_py_call *c, Py_ssize_t index, const espota_progress *p)
{
	int rc = 0;
	SWIG_PYTHON_THREAD_BEGIN_BLOCK;
	if (c->exc) {
		rc = ESPOTA_EUSER;
	} else if (PyErr_CheckSignals() < 0) {
		/* Ctrl-C (or any signal handler that raised) while in C */
		espota_py_store_exception(c);
		espota_py_fleet_abort(c);
		rc = ESPOTA_EUSER;
	} else if (c->progress) {
		PyObject *arg, *r;
		if (c->progress_type)
			arg = PyObject_CallFunction(c->progress_type, "sKKKdI", espota_phase_name(p->phase),
				(unsigned long long)p->sent, (unsigned long long)p->acked,
				(unsigned long long)p->total, (double)p->elapsed_ms / 1000.0, p->attempt);
		else
			arg = Py_BuildValue("(KK)", (unsigned long long)p->acked, (unsigned long long)p->total);
		if (!arg)
			r = NULL;
		else if (index >= 0)
			r = PyObject_CallFunction(c->progress, "nO", index, arg);
		else
			r = PyObject_CallFunctionObjArgs(c->progress, arg, NULL);
		Py_XDECREF(arg);
		if (!r) {
			espota_py_store_exception(c);
			espota_py_fleet_abort(c);
			rc = ESPOTA_EUSER;
		} else {
			if (r == Py_False)
				rc = ESPOTA_ECANCELLED; /* this upload (this device) only */
			Py_DECREF(r);
		}
	}
	SWIG_PYTHON_THREAD_END_BLOCK;
	return rc;
}

static int espota_py_progress(const espota_progress *p, void *payload)
{
	return espota_py_progress_common((espota_py_call *)payload, -1, p);
}

static int espota_py_fleet_progress(size_t index, const espota_progress *p, void *payload)
{
	return espota_py_progress_common((espota_py_call *)payload, (Py_ssize_t)index, p);
}

/* A fleet result (GIL held) as (code, attempts, error, device_error, stats):
 * device_error and stats are copies wrapped as the SWIG structs
 * (espota_device_error or None, espota_upload_stats), so the Python layer
 * reads named fields, the same way as for a session's stats. */
static PyObject *espota_py_fleet_result(const espota_transfer *t)
{
	const espota_device_error *d = espota_transfer_device_error(t);
	espota_upload_stats *st;
	PyObject *de, *sto;

	if (d != NULL) {
		espota_device_error *copy = (espota_device_error *)malloc(sizeof(*copy));
		if (!copy)
			return PyErr_NoMemory();
		*copy = *d;
		de = SWIG_NewPointerObj(copy, SWIGTYPE_p_espota_device_error, SWIG_POINTER_OWN);
	} else {
		de = Py_None;
		Py_INCREF(de);
	}
	if (!de)
		return NULL;
	st = (espota_upload_stats *)calloc(1, sizeof(*st));
	if (!st) {
		Py_DECREF(de);
		return PyErr_NoMemory();
	}
	st->struct_size = sizeof(*st);
	espota_transfer_stats(t, st);
	sto = SWIG_NewPointerObj(st, SWIGTYPE_p_espota_upload_stats, SWIG_POINTER_OWN);
	if (!sto) {
		Py_DECREF(de);
		return NULL;
	}
	return Py_BuildValue("(iIsNN)", espota_transfer_result(t), espota_transfer_attempts(t),
		espota_transfer_error(t), de, sto);
}

static void espota_py_fleet_done(size_t index, const espota_transfer *r, void *payload)
{
	espota_py_call *c = (espota_py_call *)payload;
	SWIG_PYTHON_THREAD_BEGIN_BLOCK;
	if (!c->exc) {
		PyObject *raw = espota_py_fleet_result(r), *res = NULL;
		if (raw && c->results && (Py_ssize_t)index < PyList_GET_SIZE(c->results)) {
			Py_INCREF(raw);
			PyList_SetItem(c->results, (Py_ssize_t)index, raw); /* steals the new reference */
		}
		if (raw && c->done)
			res = PyObject_CallFunction(c->done, "nO", (Py_ssize_t)index, raw);
		else if (raw)
			res = Py_None, Py_INCREF(res);
		Py_XDECREF(raw);
		if (!res) {
			espota_py_store_exception(c);
			espota_py_fleet_abort(c);
		}
		Py_XDECREF(res);
	}
	SWIG_PYTHON_THREAD_END_BLOCK;
}

static int espota_py_auth(espota_auth_request *req, const char *host, espota_auth_scheme scheme, void *payload)
{
	espota_py_call *c = (espota_py_call *)payload;
	int rc = 1;
	SWIG_PYTHON_THREAD_BEGIN_BLOCK;
	if (c->exc) {
		rc = ESPOTA_EUSER;
	} else if (c->auth) {
		PyObject *r = PyObject_CallFunction(c->auth, "ss", host ? host : "", espota_py_scheme_name(scheme));
		if (!r) {
			espota_py_store_exception(c);
			rc = ESPOTA_EUSER;
		} else {
			const char *pw = NULL;
			Py_ssize_t n = 0;
			if (r == Py_None) {
				rc = 1; /* no credential: ESPOTA_EAUTH */
			} else if (PyUnicode_Check(r)) {
				pw = PyUnicode_AsUTF8AndSize(r, &n);
			} else if (PyBytes_Check(r)) {
				if (PyBytes_AsStringAndSize(r, (char **)&pw, &n) < 0)
					pw = NULL;
			} else {
				PyErr_Format(PyExc_TypeError, "auth callback must return str, bytes or None, not %.100s",
					Py_TYPE(r)->tp_name);
			}
			if (pw && (Py_ssize_t)strlen(pw) != n) {
				PyErr_SetString(PyExc_ValueError, "password returned by the auth callback contains a NUL byte");
				pw = NULL;
			}
			if (pw) {
				rc = espota_auth_request_set_password(req, pw);
				if (rc != ESPOTA_OK)
					PyErr_Format(PyExc_ValueError, "password rejected: %s", espota_strerror(rc));
			}
			if (PyErr_Occurred()) {
				espota_py_store_exception(c);
				rc = ESPOTA_EUSER;
			}
			Py_DECREF(r);
		}
	}
	SWIG_PYTHON_THREAD_END_BLOCK;
	return rc;
}

/* dict helpers: a missing key or None leaves the default. */
static int espota_py_get_str(PyObject *d, const char *key, int allow_bytes, const char **out)
{
	PyObject *v = PyDict_GetItemString(d, key); /* borrowed */
	Py_ssize_t n;
	if (!v || v == Py_None)
		return 0;
	if (PyUnicode_Check(v)) {
		*out = PyUnicode_AsUTF8AndSize(v, &n);
		if (!*out)
			return -1;
	} else if (allow_bytes && PyBytes_Check(v)) {
		*out = PyBytes_AS_STRING(v);
		n = PyBytes_GET_SIZE(v);
	} else {
		PyErr_Format(PyExc_TypeError, "%s: expected str, not %.100s", key, Py_TYPE(v)->tp_name);
		return -1;
	}
	if ((Py_ssize_t)strlen(*out) != n) {
		PyErr_Format(PyExc_ValueError, "%s: embedded NUL byte", key);
		return -1;
	}
	return 0;
}

static int espota_py_get_uint(PyObject *d, const char *key, unsigned long max, unsigned long *out)
{
	PyObject *v = PyDict_GetItemString(d, key);
	unsigned long x;
	if (!v || v == Py_None)
		return 0;
	if (!PyLong_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s: expected int, not %.100s", key, Py_TYPE(v)->tp_name);
		return -1;
	}
	x = PyLong_AsUnsignedLong(v);
	if (PyErr_Occurred() || x > max) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s: out of range (0..%lu)", key, max);
		return -1;
	}
	*out = x;
	return 0;
}

static PyObject *espota_py_get_callable(PyObject *d, const char *key)
{
	PyObject *v = PyDict_GetItemString(d, key);
	if (!v || v == Py_None)
		return NULL;
	if (!PyCallable_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be callable or None", key);
		return NULL;
	}
	return v;
}

static int espota_py_call_init(espota_py_call *c, PyObject *d)
{
	unsigned long v;
	PyObject *o;
	espota_upload_options *opts = &c->opts;

	memset(c, 0, sizeof(*c));
	if (!PyDict_Check(d)) {
		PyErr_SetString(PyExc_TypeError, "session_upload: expected a dict");
		return -1;
	}
	espota_upload_options_init(opts, ESPOTA_UPLOAD_OPTIONS_VERSION);
	o = PyDict_GetItemString(d, "image");
	if (!o) {
		PyErr_SetString(PyExc_TypeError, "image is required");
		return -1;
	}
	if (PyObject_GetBuffer(o, &c->view, PyBUF_SIMPLE) < 0)
		return -1;
	c->have_view = 1;

#define GET_STR(key, field, bytes) if (espota_py_get_str(d, key, bytes, &opts->field) < 0) goto fail
#define GET_UINT(key, field, max, type) do { v = 0; o = PyDict_GetItemString(d, key); \
		if (espota_py_get_uint(d, key, max, &v) < 0) goto fail; \
		if (o && o != Py_None) opts->field = (type)v; } while (0)
	GET_STR("host", host, 0);
	GET_STR("bind_address", bind_address, 0);
	GET_STR("password", password, 1);
	GET_STR("filename", filename, 0);
	GET_UINT("port", port, 65535, uint16_t);
	GET_UINT("bind_port", bind_port, 65535, uint16_t);
	GET_UINT("target", target, 1000, espota_target);
	GET_UINT("auth_mode", auth_mode, 2, espota_auth_mode);
	GET_UINT("transfer", transfer, ESPOTA_TRANSFER_STREAM, espota_transfer_mode);
	GET_UINT("chunk_size", chunk_size, 0xFFFFFFFFul, uint32_t);
	GET_UINT("window", window, 0xFFFFFFFFul, uint32_t);
	GET_UINT("min_rate", min_rate, 0xFFFFFFFFul, uint32_t);
	GET_UINT("compress", compress, 1, int);
	GET_UINT("force", force, 1, int);
	GET_UINT("platform", platform, 2, espota_platform);
	GET_UINT("invite_ms", timeouts.invite_ms, 0xFFFFFFFFul, unsigned int);
	GET_UINT("invite_attempts", timeouts.invite_attempts, 0xFFFFFFFFul, unsigned int);
	GET_UINT("auth_ms", timeouts.auth_ms, 0xFFFFFFFFul, unsigned int);
	GET_UINT("connect_ms", timeouts.connect_ms, 0xFFFFFFFFul, unsigned int);
	GET_UINT("stall_ms", timeouts.stall_ms, 0xFFFFFFFFul, unsigned int);
	GET_UINT("result_ms", timeouts.result_ms, 0xFFFFFFFFul, unsigned int);
#undef GET_STR
#undef GET_UINT

	o = PyDict_GetItemString(d, "fit");
	if (o && o != Py_None) {
		espota_fit_device *dev = NULL;
		if (!SWIG_IsOK(SWIG_ConvertPtr(o, (void **)&dev, SWIGTYPE_p_espota_fit_device, 0)) || !dev) {
			PyErr_SetString(PyExc_TypeError, "fit: expected an espota_fit_device");
			goto fail;
		}
		c->fit = *dev; /* its pointers refer to static tables or to objects the dict keeps alive */
		opts->fit = &c->fit;
	}

	c->progress = espota_py_get_callable(d, "progress");
	if (PyErr_Occurred())
		goto fail;
	c->progress_type = espota_py_get_callable(d, "progress_type");
	if (PyErr_Occurred())
		goto fail;
	c->auth = espota_py_get_callable(d, "auth");
	if (PyErr_Occurred())
		goto fail;

	/* The progress trampoline always runs, even without a callable: it is
	 * where Ctrl-C is noticed (libespota calls it at least once a second). */
	opts->progress = espota_py_progress;
	if (c->auth)
		opts->auth = espota_py_auth;
	opts->payload = c;
	return 0;
fail:
	espota_py_call_clear(c);
	return -1;
}
%}

%typemap(in) espota_py_call *call (espota_py_call tmp) {
	if (espota_py_call_init(&tmp, $input) < 0)
		SWIG_fail;
	$1 = &tmp;
}
%typemap(argout) espota_py_call *call {
	if ($1 && $1->exc) {
		/* a callback raised: re-raise that very exception */
		Py_XDECREF($result);
		$result = NULL;
		espota_py_restore_exception($1);
		SWIG_fail;
	}
}
%typemap(freearg) espota_py_call *call {
	if ($1)
		espota_py_call_clear($1);
}

/* The one function that releases the GIL. */
%feature("nothread", "0") session_upload;
%feature("nothreadblock", "0") session_upload;
%feature("nothreadallow", "0") session_upload;
%inline %{
int session_upload(espota_session *session, espota_py_call *call)
{
	return espota_upload(session, (const unsigned char *)call->view.buf, (size_t)call->view.len, &call->opts);
}
%}

%{
/* The fleet part of the call dict:
 *   devices           list of (host: str, port: int, password: str | bytes | None)
 *   max_concurrent, retries, device_deadline_ms   int
 *   done              callable(index, raw result tuple) or None
 * Strings are borrowed from the dict, which the argument tuple keeps alive. */
static int espota_py_fleet_init(espota_py_call *c, espota_session *session, PyObject *d)
{
	PyObject *list = PyDict_GetItemString(d, "devices");
	unsigned long v;
	Py_ssize_t i, n;

	c->session = session;
	espota_fleet_options_init(&c->fleet, ESPOTA_FLEET_OPTIONS_VERSION);
	if (!list || !PyList_Check(list) || PyList_GET_SIZE(list) == 0) {
		PyErr_SetString(PyExc_ValueError, "devices: expected a non-empty list");
		return -1;
	}
	n = PyList_GET_SIZE(list);
	c->devices = (espota_fleet_device *)calloc((size_t)n, sizeof(*c->devices));
	if (!c->devices) {
		PyErr_NoMemory();
		return -1;
	}
	c->ndevices = (size_t)n;
	for (i = 0; i < n; i++) {
		PyObject *t = PyList_GET_ITEM(list, i), *pw;
		espota_fleet_device *dv = &c->devices[i];
		unsigned long port;
		Py_ssize_t len;

		if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3 || !PyUnicode_Check(PyTuple_GET_ITEM(t, 0))) {
			PyErr_Format(PyExc_TypeError, "devices[%zd]: expected (host, port, password)", i);
			return -1;
		}
		dv->host = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(t, 0), &len);
		if (!dv->host)
			return -1;
		if (len == 0 || (Py_ssize_t)strlen(dv->host) != len) {
			PyErr_Format(PyExc_ValueError, "devices[%zd]: empty host or embedded NUL", i);
			return -1;
		}
		port = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(t, 1));
		if (PyErr_Occurred() || port > 65535) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "devices[%zd]: port out of range (0..65535)", i);
			return -1;
		}
		dv->port = (uint16_t)port;
		pw = PyTuple_GET_ITEM(t, 2);
		if (pw != Py_None) {
			if (PyUnicode_Check(pw)) {
				dv->password = PyUnicode_AsUTF8AndSize(pw, &len);
				if (!dv->password)
					return -1;
			} else if (PyBytes_Check(pw)) {
				dv->password = PyBytes_AS_STRING(pw);
				len = PyBytes_GET_SIZE(pw);
			} else {
				PyErr_Format(PyExc_TypeError, "devices[%zd]: password must be str, bytes or None", i);
				return -1;
			}
			if ((Py_ssize_t)strlen(dv->password) != len) {
				PyErr_Format(PyExc_ValueError, "devices[%zd]: password contains a NUL byte", i);
				return -1;
			}
		}
	}
#define GET_FLEET(key, field) do { v = 0; if (espota_py_get_uint(d, key, 0xFFFFFFFFul, &v) < 0) return -1; \
		c->fleet.field = (unsigned int)v; } while (0)
	GET_FLEET("max_concurrent", max_concurrent);
	GET_FLEET("retries", retries);
	GET_FLEET("device_deadline_ms", device_deadline_ms);
#undef GET_FLEET
	c->done = espota_py_get_callable(d, "done");
	if (PyErr_Occurred())
		return -1;
	c->fleet.progress = espota_py_fleet_progress;
	c->fleet.done = espota_py_fleet_done;
	c->fleet.payload = c;
	c->opts.progress = NULL; /* per-device progress comes through the fleet options */
	return 0;
}
%}

%typemap(in) espota_py_fleet_call *call (espota_py_call tmp) {
	void *sp = NULL;
	if (!SWIG_IsOK(SWIG_ConvertPtr(swig_obj[0], &sp, SWIGTYPE_p_espota_session, 0)) || !sp) {
		PyErr_SetString(PyExc_TypeError, "session_upload_many: expected a session");
		SWIG_fail;
	}
	if (espota_py_call_init(&tmp, $input) < 0)
		SWIG_fail;
	if (espota_py_fleet_init(&tmp, (espota_session *)sp, $input) < 0) {
		espota_py_call_clear(&tmp);
		SWIG_fail;
	}
	$1 = (espota_py_fleet_call *)&tmp;
}
%typemap(argout) espota_py_fleet_call *call {
	espota_py_call *c_ = (espota_py_call *)$1;
	if (c_ && c_->exc) {
		Py_XDECREF($result);
		$result = NULL;
		espota_py_restore_exception(c_);
		SWIG_fail;
	}
}
%typemap(freearg) espota_py_fleet_call *call {
	if ($1)
		espota_py_call_clear((espota_py_call *)$1);
}

%{
typedef struct espota_py_fleet_call espota_py_fleet_call; /* an espota_py_call with fleet fields set */

/* Run the fleet with the GIL released. `out` is a list with one slot per
 * device; the done callback stores each device's raw result in its slot
 * (GIL held). Returns the libespota code. */
static int espota_py_upload_many(espota_session *session, espota_py_fleet_call *fc, PyObject *out)
{
	espota_py_call *c = (espota_py_call *)fc;
	int rc;

	c->results = out;
	Py_BEGIN_ALLOW_THREADS
	rc = espota_fleet_upload(session, (const unsigned char *)c->view.buf, (size_t)c->view.len, &c->opts,
		c->devices, c->ndevices, &c->fleet);
	Py_END_ALLOW_THREADS
	c->results = NULL;
	return rc;
}
%}

/* The GIL is released inside (Py_BEGIN_ALLOW_THREADS) around the fleet only:
 * the results are converted with the GIL held. */
%inline %{
int session_upload_many(espota_session *session, espota_py_fleet_call *call, PyObject *out)
{
	if (!PyList_Check(out))
		return ESPOTA_EINVAL; /* the Python layer always passes a list of len(devices) */
	return espota_py_upload_many(session, call, out);
}
%}

/* ---- the multi interface, for espota.aio ---------------------------------
 * Transfers run on the caller's event loop: no GIL release, no thread. Each
 * transfer owns a heap copy of its call (options, buffer view, callbacks)
 * and a reference to the call dict whose strings the options borrow; both
 * live until py_multi_remove(). */
%{
typedef struct espota_py_async {
	espota_py_call call;
	PyObject *dict; /* owned */
} espota_py_async;

static void espota_py_async_free(espota_py_async *a)
{
	if (!a)
		return;
	espota_py_call_clear(&a->call);
	Py_XDECREF(a->dict);
	free(a);
}
%}

%inline %{
espota_multi *py_multi_new(espota_session *session)
{
	espota_multi *m = NULL;
	int rc = espota_multi_new(&m, session);
	if (rc != ESPOTA_OK) {
		PyErr_Format(PyExc_MemoryError, "espota_multi_new: %s", espota_strerror(rc));
		return NULL;
	}
	return m;
}

/* Only after every transfer was removed (espota.aio does). */
void py_multi_free(espota_multi *m)
{
	espota_multi_free(m);
}

/* Add an upload described by a call dict (as session_upload takes). */
PyObject *py_multi_add(espota_multi *m, PyObject *dict)
{
	espota_py_async *a = (espota_py_async *)calloc(1, sizeof(*a));
	espota_transfer *t = NULL;
	int rc;

	if (!a)
		return PyErr_NoMemory();
	if (espota_py_call_init(&a->call, dict) < 0) {
		free(a);
		return NULL;
	}
	a->dict = dict;
	Py_INCREF(dict);
	rc = espota_multi_add_upload(m, &t, (const unsigned char *)a->call.view.buf, (size_t)a->call.view.len,
		&a->call.opts);
	if (rc != ESPOTA_OK || !t) {
		espota_py_async_free(a);
		PyErr_Format(PyExc_RuntimeError, "espota_multi_add_upload: %s", espota_strerror(rc));
		return NULL;
	}
	espota_transfer_set_user(t, a);
	return SWIG_NewPointerObj(t, SWIGTYPE_p_espota_transfer, 0);
}

/* [(fd, events, serial)] to watch now (ESPOTA_WAIT_* bits; a new serial
 * for a known fd: a new socket, register it again). */
PyObject *py_multi_fds(espota_multi *m)
{
	espota_waitfd small[64], *w = small;
	size_t n = 0, cap = 64, i;
	PyObject *list;

	if (espota_multi_fds(m, w, cap, &n) != ESPOTA_OK)
		return PyErr_Format(PyExc_RuntimeError, "espota_multi_fds failed");
	if (n > cap) {
		cap = n;
		w = (espota_waitfd *)calloc(cap, sizeof(*w));
		if (!w)
			return PyErr_NoMemory();
		if (espota_multi_fds(m, w, cap, &n) != ESPOTA_OK || n > cap) {
			free(w);
			return PyErr_Format(PyExc_RuntimeError, "espota_multi_fds failed");
		}
	}
	list = PyList_New((Py_ssize_t)n);
	for (i = 0; list && i < n; i++) {
		PyObject *t = Py_BuildValue("(iiI)", w[i].fd, (int)w[i].events, w[i].serial);
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	if (w != small)
		free(w);
	return list;
}

long py_multi_timeout(espota_multi *m)
{
	long ms = -1;
	espota_multi_timeout(m, &ms);
	return ms;
}

size_t py_multi_running(espota_multi *m)
{
	return espota_multi_running(m);
}

int py_multi_action(espota_multi *m, int fd, int events)
{
	return espota_multi_socket_action(m, fd, events);
}

/* The next finished transfer, or None. */
PyObject *py_multi_info_read(espota_multi *m)
{
	espota_transfer *t = espota_multi_info_read(m);
	if (!t)
		Py_RETURN_NONE;
	return SWIG_NewPointerObj(t, SWIGTYPE_p_espota_transfer, 0);
}

/* (code, attempts, error, device_error, stats) of a finished transfer; an
 * exception a callback raised is re-raised here instead. */
PyObject *py_transfer_result(espota_transfer *t)
{
	espota_py_async *a = (espota_py_async *)espota_transfer_user(t);
	if (a && a->call.exc) {
		espota_py_restore_exception(&a->call);
		return NULL;
	}
	return espota_py_fleet_result(t);
}

int py_multi_remove(espota_multi *m, espota_transfer *t)
{
	void *user = espota_transfer_user(t);
	int upload = espota_transfer_kind(t) == ESPOTA_KIND_UPLOAD;
	int rc = espota_multi_remove(m, t);
	/* an upload owns its call; a browse or resolve its discover handle */
	if (rc == ESPOTA_OK && upload)
		espota_py_async_free((espota_py_async *)user);
	else if (rc == ESPOTA_OK)
		espota_discover_free((espota_discover *)user);
	return rc;
}
%}

/* espota_file_read() for the Python layer: (0, bytes) or (code, message).
 * `path` is str, bytes or os.PathLike (PyUnicode_FSConverter); the read
 * runs with the GIL released. */
%inline %{
PyObject *file_read(PyObject *path)
{
	PyObject *fs = NULL, *r;
	espota_file *f = NULL;
	const unsigned char *buf;
	size_t len = 0;
	int rc;

	if (!PyUnicode_FSConverter(path, &fs))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = espota_file_read(&f, PyBytes_AS_STRING(fs), ESPOTA_FILE_MAX);
	Py_END_ALLOW_THREADS
	Py_DECREF(fs);
	if (rc < 0) {
		r = Py_BuildValue("(is)", rc, f != NULL ? espota_file_error(f) : espota_strerror(rc));
		espota_file_free(f);
		return r;
	}
	buf = espota_file_data(f, &len);
	r = Py_BuildValue("(iy#)", 0, (const char *)buf, (Py_ssize_t)len);
	espota_file_free(f);
	return r;
}
%}
