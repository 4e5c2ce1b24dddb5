/*
 * Python section for discovery (included from bindings/espota.i):
 *
 *   _espota.discover_browse(opts, on_device) -> (rc, found, sent, error)
 *
 * `opts` is a dict (timeout_ms, interface, family, unicast, max_devices);
 * `on_device(raw)` is called once per device with a tuple
 *   (instance, hostname, port, ((address, interface), ...),
 *    ((key, value, has_value), ...), board, auth_upload, platform, elapsed_ms)
 * and returns a true value to stop the browse. The GIL is released while
 * the browse waits; the trampoline takes it back for each callback. An
 * exception raised by the callback stops the browse and is re-raised.
 *
 *   _espota.discover_resolve(opts, name) -> (rc, address, error)
 *
 * On a multi handle (espota.aio.discover_async / resolve_async), no thread:
 *
 *   _espota.py_multi_add_browse(multi, opts) -> transfer
 *   _espota.py_multi_add_resolve(multi, opts, name) -> transfer
 *   _espota.py_discover_result(transfer) -> (rc, error, [raw, ...], address)
 *
 * The transfer owns its discover handle (freed by py_multi_remove()).
 */
%{
typedef struct espota_py_disc {
	PyObject *cb;   /* borrowed */
	PyObject *exc_type, *exc, *exc_tb; /* owned, the first exception */
} espota_py_disc;

static PyObject *espota_py_str(const char *s)
{
	if (s == NULL)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/* A device as the tuple DiscoveredDevice() takes; NULL with an exception set. */
static PyObject *espota_py_device_raw(const espota_device_info *d)
{
	PyObject *addrs = PyTuple_New((Py_ssize_t)d->naddrs);
	PyObject *txt = PyTuple_New((Py_ssize_t)d->ntxt);

	if (addrs == NULL || txt == NULL) {
		Py_XDECREF(addrs);
		Py_XDECREF(txt);
		return NULL;
	}
	for (size_t i = 0; i < d->naddrs; i++)
		PyTuple_SET_ITEM(addrs, (Py_ssize_t)i, Py_BuildValue("(NN)", espota_py_str(d->addrs[i].address),
			espota_py_str(d->addrs[i].interface)));
	for (size_t i = 0; i < d->ntxt; i++)
		PyTuple_SET_ITEM(txt, (Py_ssize_t)i, Py_BuildValue("(NNO)", espota_py_str(d->txt[i].key),
			espota_py_str(d->txt[i].value), d->txt[i].has_value ? Py_True : Py_False));
	return Py_BuildValue("(NNiNNNiiK)", espota_py_str(d->instance), espota_py_str(d->hostname),
		(int)d->port, addrs, txt, espota_py_str(d->board), d->auth_upload, (int)d->platform,
		(unsigned long long)d->elapsed_ms);
}

static int espota_py_disc_cb(const espota_device_info *d, void *payload)
{
	espota_py_disc *c = payload;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *raw = espota_py_device_raw(d), *r = NULL;
	int stop = -1;

	if (raw == NULL)
		goto out;
	r = PyObject_CallFunctionObjArgs(c->cb, raw, NULL);
	if (r == NULL)
		goto out;
	stop = PyObject_IsTrue(r) ? 1 : 0;
out:
	if (stop < 0 && c->exc_type == NULL)
		PyErr_Fetch(&c->exc_type, &c->exc, &c->exc_tb);
	else if (stop < 0)
		PyErr_Clear();
	Py_XDECREF(r);
	Py_XDECREF(raw);
	PyGILState_Release(g);
	return stop;
}

/* opts dict -> options; the strings stay owned by the dict */
static int espota_py_disc_opts(PyObject *d, espota_discover_options *o)
{
	unsigned long v;
	espota_discover_options_init(o, ESPOTA_DISCOVER_OPTIONS_VERSION);
	if (!PyDict_Check(d)) {
		PyErr_SetString(PyExc_TypeError, "discover options must be a dict");
		return -1;
	}
	/* a missing key leaves v (the default) alone */
	v = o->timeout_ms;
	if (espota_py_get_uint(d, "timeout_ms", 3600000, &v) < 0) return -1;
	o->timeout_ms = (unsigned int)v;
	v = (unsigned long)o->family;
	if (espota_py_get_uint(d, "family", 6, &v) < 0) return -1;
	o->family = (int)v;
	v = o->max_devices;
	if (espota_py_get_uint(d, "max_devices", 100000, &v) < 0) return -1;
	o->max_devices = (unsigned int)v;
	if (espota_py_get_str(d, "interface", 0, &o->interface) < 0) return -1;
	if (espota_py_get_str(d, "unicast", 0, &o->unicast) < 0) return -1;
	return 0;
}
%}

%inline %{
static PyObject *discover_browse(PyObject *opts, PyObject *on_device)
{
	espota_discover_options o;
	espota_discover *d = NULL;
	espota_py_disc c = { on_device, NULL, NULL, NULL };
	PyObject *res;
	int rc;

	if (espota_py_disc_opts(opts, &o) < 0)
		return NULL;
	if (!PyCallable_Check(on_device)) {
		PyErr_SetString(PyExc_TypeError, "on_device must be callable");
		return NULL;
	}
	if ((rc = espota_discover_new(&d, &o)) < 0)
		return Py_BuildValue("(iKKs)", rc, 0ULL, 0ULL, espota_strerror(rc));
	Py_BEGIN_ALLOW_THREADS
	rc = espota_discover_browse(d, espota_py_disc_cb, &c);
	Py_END_ALLOW_THREADS
	if (c.exc_type != NULL) {
		espota_discover_free(d);
		PyErr_Restore(c.exc_type, c.exc, c.exc_tb);
		return NULL;
	}
	res = Py_BuildValue("(iKKN)", rc, (unsigned long long)espota_discover_found(d),
		(unsigned long long)espota_discover_packets_sent(d), espota_py_str(espota_discover_last_error(d)));
	espota_discover_free(d);
	return res;
}

static PyObject *discover_resolve(PyObject *opts, const char *name)
{
	espota_discover_options o;
	espota_discover *d = NULL;
	char addr[80];
	PyObject *res;
	int rc;

	if (espota_py_disc_opts(opts, &o) < 0)
		return NULL;
	if ((rc = espota_discover_new(&d, &o)) < 0)
		return Py_BuildValue("(iss)", rc, "", espota_strerror(rc));
	Py_BEGIN_ALLOW_THREADS
	rc = espota_discover_resolve(d, name, addr, sizeof(addr));
	Py_END_ALLOW_THREADS
	res = Py_BuildValue("(isN)", rc, rc == 0 ? addr : "", espota_py_str(espota_discover_last_error(d)));
	espota_discover_free(d);
	return res;
}
%}

%inline %{
/* A browse (name NULL) or resolve as a transfer of `m`; it owns its handle. */
static PyObject *espota_py_multi_add_mdns(espota_multi *m, PyObject *opts, const char *name)
{
	espota_discover_options o;
	espota_discover *d = NULL;
	espota_transfer *t = NULL;
	int rc;

	if (espota_py_disc_opts(opts, &o) < 0)
		return NULL;
	if ((rc = espota_discover_new(&d, &o)) < 0)
		return PyErr_Format(PyExc_RuntimeError, "espota_discover_new: %s", espota_strerror(rc));
	rc = name != NULL ? espota_multi_add_resolve(m, &t, d, name) : espota_multi_add_browse(m, &t, d, NULL, NULL);
	if (rc < 0 || t == NULL) {
		espota_discover_free(d);
		return PyErr_Format(PyExc_RuntimeError, "espota_multi_add_%s: %s", name ? "resolve" : "browse",
			espota_strerror(rc));
	}
	espota_transfer_set_user(t, d);
	return SWIG_NewPointerObj(t, SWIGTYPE_p_espota_transfer, 0);
}

PyObject *py_multi_add_browse(espota_multi *m, PyObject *opts)
{
	return espota_py_multi_add_mdns(m, opts, NULL);
}

PyObject *py_multi_add_resolve(espota_multi *m, PyObject *opts, const char *name)
{
	return espota_py_multi_add_mdns(m, opts, name);
}

/* (code, error, [device raw, ...] from index `first`, address) of a browse or resolve. */
PyObject *py_discover_result(espota_transfer *t, size_t first)
{
	size_t n = espota_transfer_device_count(t);
	PyObject *list = PyList_New(0);

	if (list == NULL)
		return NULL;
	for (size_t i = first; i < n; i++) {
		PyObject *raw = espota_py_device_raw(espota_transfer_device_at(t, i));
		if (raw == NULL || PyList_Append(list, raw) < 0) {
			Py_XDECREF(raw);
			Py_DECREF(list);
			return NULL;
		}
		Py_DECREF(raw);
	}
	return Py_BuildValue("(iNNN)", espota_transfer_result(t), espota_py_str(espota_transfer_error(t)), list,
		espota_py_str(espota_transfer_address(t)));
}
%}
