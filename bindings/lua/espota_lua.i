/*
 * Lua section of bindings/espota.i: the upload with call-scoped callbacks
 * (style.md section 9, "Lua: the equivalent").
 *
 * espota._upload(session, image, call) is a plain lua_CFunction; the
 * natural API (espota.session(), s:upload(image, {...})) is bindings/lua/
 * espota.lua, compiled into the module as SWIG "luacode". `call` is a flat
 * table built by espota.lua: host, bind_address, password, filename
 * (strings), port, bind_port, target, auth_mode, transfer, chunk_size,
 * window, compress, force, platform, invite_ms, invite_attempts, auth_ms,
 * connect_ms, stall_ms, result_ms (integers), fit (espota_fit_device
 * userdata), progress, auth (functions).
 *
 * Callbacks are held by registry references for the duration of the call
 * and run with lua_pcall under a message handler that keeps the original
 * error object and records a traceback beside it. An error aborts the
 * upload (ESPOTA_EUSER: libespota unwinds and closes its sockets, no
 * longjmp crosses its frames) and is re-raised with lua_error once
 * espota_upload has returned: the very same object. The traceback is left
 * in call._traceback.
 */

%{
#include <lua.h>
#include <lauxlib.h>

typedef struct espota_lua_call {
	lua_State *L;
	espota_upload_options opts;
	espota_fit_device fit;
	int progress_ref, auth_ref, err_ref, tb_ref, done_ref;
	int has_err;
	espota_session *session;   /* fleet: cancelled when a callback raises */
	int results_idx;           /* fleet: stack index of the results table, 0: none */
	char host[256], bind_address[64], password[256], filename[256];
} espota_lua_call;

static const char espota_lua_wrap_key = 'e'; /* marks the message handler's wrapper table */

/* Message handler: { [key] = true, [1] = original error, [2] = traceback }. */
static int espota_lua_msgh(lua_State *L)
{
	const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
	lua_createtable(L, 2, 1);
	lua_pushvalue(L, 1);
	lua_rawseti(L, -2, 1);
	luaL_traceback(L, L, msg, 1);
	lua_rawseti(L, -2, 2);
	lua_pushboolean(L, 1);
	lua_rawsetp(L, -2, &espota_lua_wrap_key);
	return 1;
}

/* The pcall failed: the error (normally the handler's wrapper) is on top. */
static void espota_lua_store_error(espota_lua_call *c, lua_State *L)
{
	if (c->has_err) {
		lua_pop(L, 1);
		return;
	}
	c->has_err = 1;
	if (lua_type(L, -1) == LUA_TTABLE && lua_rawgetp(L, -1, &espota_lua_wrap_key) != LUA_TNIL) {
		lua_pop(L, 1);
		lua_rawgeti(L, -1, 2);
		c->tb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_rawgeti(L, -1, 1);
		c->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_pop(L, 1);
	} else {
		if (lua_type(L, -1) == LUA_TTABLE)
			lua_pop(L, 1); /* the nil from rawgetp */
		c->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
}

static const char *espota_lua_scheme_name(espota_auth_scheme s)
{
	switch (s) {
	case ESPOTA_AUTH_MD5: return "md5";
	case ESPOTA_AUTH_PBKDF2_SHA256: return "pbkdf2-sha256";
	case ESPOTA_AUTH_PBKDF2_MD5: return "pbkdf2-md5";
	default: return "none";
	}
}

/* A callback raised during a fleet upload: stop every device. */
static void espota_lua_fleet_abort(espota_lua_call *c)
{
	if (c->session)
		espota_session_cancel(c->session);
}

/* Progress of one upload; `index` is the 1-based device index of a fleet, or 0. */
static int espota_lua_progress_common(espota_lua_call *c, lua_Integer index, const espota_progress *p)
{
	lua_State *L = c->L;
	int top, rc = 0;

	if (c->has_err)
		return ESPOTA_EUSER;
	if (c->progress_ref == LUA_NOREF)
		return 0;
	if (!lua_checkstack(L, 8))
		return ESPOTA_ENOMEM;
	top = lua_gettop(L);
	lua_pushcfunction(L, espota_lua_msgh);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->progress_ref);
	if (index > 0)
		lua_pushinteger(L, index);
	lua_createtable(L, 0, 6);
	lua_pushstring(L, espota_phase_name(p->phase));
	lua_setfield(L, -2, "phase");
	lua_pushinteger(L, (lua_Integer)p->sent);
	lua_setfield(L, -2, "sent");
	lua_pushinteger(L, (lua_Integer)p->acked);
	lua_setfield(L, -2, "acked");
	lua_pushinteger(L, (lua_Integer)p->total);
	lua_setfield(L, -2, "total");
	lua_pushnumber(L, (lua_Number)p->elapsed_ms / 1000.0);
	lua_setfield(L, -2, "elapsed");
	lua_pushinteger(L, (lua_Integer)p->attempt);
	lua_setfield(L, -2, "attempt");
	if (lua_pcall(L, index > 0 ? 2 : 1, 1, top + 1) != LUA_OK) {
		espota_lua_store_error(c, L);
		espota_lua_fleet_abort(c);
		rc = ESPOTA_EUSER;
	} else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
		rc = ESPOTA_ECANCELLED; /* progress returned false: this upload (device) only */
	}
	lua_settop(L, top);
	return rc;
}

static int espota_lua_progress(const espota_progress *p, void *payload)
{
	return espota_lua_progress_common((espota_lua_call *)payload, 0, p);
}

static int espota_lua_fleet_progress(size_t index, const espota_progress *p, void *payload)
{
	return espota_lua_progress_common((espota_lua_call *)payload, (lua_Integer)index + 1, p);
}

/* Push a fleet result as a raw table: code, attempts, message,
 * device_error (a copy as the SWIG espota_device_error, or absent) and
 * stats (a copy as the SWIG espota_upload_stats: the Lua layer reads it with
 * the same function as a session's stats). */
static void espota_lua_push_result(lua_State *L, const espota_transfer *t)
{
	const espota_device_error *d = espota_transfer_device_error(t);
	espota_upload_stats *st;

	lua_createtable(L, 0, 5);
	lua_pushinteger(L, espota_transfer_result(t));
	lua_setfield(L, -2, "code");
	lua_pushinteger(L, (lua_Integer)espota_transfer_attempts(t));
	lua_setfield(L, -2, "attempts");
	lua_pushstring(L, espota_transfer_error(t));
	lua_setfield(L, -2, "message");
	if (d != NULL) {
		espota_device_error *copy = (espota_device_error *)malloc(sizeof(*copy));
		if (copy != NULL) {
			*copy = *d;
			SWIG_NewPointerObj(L, copy, SWIGTYPE_p_espota_device_error, 1);
			lua_setfield(L, -2, "device_error");
		}
	}
	st = (espota_upload_stats *)calloc(1, sizeof(*st));
	if (st != NULL) {
		st->struct_size = sizeof(*st);
		espota_transfer_stats(t, st);
		SWIG_NewPointerObj(L, st, SWIGTYPE_p_espota_upload_stats, 1);
		lua_setfield(L, -2, "stats");
	}
}

static void espota_lua_fleet_done(size_t index, const espota_transfer *r, void *payload)
{
	espota_lua_call *c = (espota_lua_call *)payload;
	lua_State *L = c->L;
	int top;

	if (c->has_err || !lua_checkstack(L, 8))
		return;
	if (c->results_idx) {
		espota_lua_push_result(L, r);
		lua_rawseti(L, c->results_idx, (lua_Integer)index + 1);
	}
	if (c->done_ref == LUA_NOREF)
		return;
	top = lua_gettop(L);
	lua_pushcfunction(L, espota_lua_msgh);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->done_ref);
	lua_pushinteger(L, (lua_Integer)index + 1);
	espota_lua_push_result(L, r);
	if (lua_pcall(L, 2, 0, top + 1) != LUA_OK) {
		espota_lua_store_error(c, L);
		espota_lua_fleet_abort(c);
	}
	lua_settop(L, top);
}

static int espota_lua_auth(espota_auth_request *req, const char *host, espota_auth_scheme scheme, void *payload)
{
	espota_lua_call *c = (espota_lua_call *)payload;
	lua_State *L = c->L;
	int top, rc = 1;

	if (c->has_err)
		return ESPOTA_EUSER;
	if (c->auth_ref == LUA_NOREF)
		return 1;
	if (!lua_checkstack(L, 8))
		return ESPOTA_ENOMEM;
	top = lua_gettop(L);
	lua_pushcfunction(L, espota_lua_msgh);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->auth_ref);
	lua_pushstring(L, host ? host : "");
	lua_pushstring(L, espota_lua_scheme_name(scheme));
	if (lua_pcall(L, 2, 1, top + 1) != LUA_OK) {
		espota_lua_store_error(c, L);
		rc = ESPOTA_EUSER;
	} else if (lua_isnil(L, -1)) {
		rc = 1; /* no credential: ESPOTA_EAUTH */
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		size_t n;
		const char *pw = lua_tolstring(L, -1, &n);
		if (strlen(pw) != n) {
			lua_pushliteral(L, "password returned by the auth callback contains a NUL byte");
			espota_lua_store_error(c, L);
			rc = ESPOTA_EUSER;
		} else {
			rc = espota_auth_request_set_password(req, pw);
		}
	} else {
		lua_pushfstring(L, "auth callback must return a string or nil, not %s", luaL_typename(L, -1));
		espota_lua_store_error(c, L);
		rc = ESPOTA_EUSER;
	}
	lua_settop(L, top);
	return rc;
}

/* Field readers for the flat call table at `idx`; raise on bad types
 * (before anything is allocated or referenced). */
static void espota_lua_opt_str(lua_State *L, int idx, const char *key, char *buf, size_t size, const char **out)
{
	size_t n;
	const char *s;
	lua_getfield(L, idx, key);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "%s: expected a string, got %s", key, luaL_typename(L, -1));
	s = lua_tolstring(L, -1, &n);
	if (n >= size || strlen(s) != n)
		luaL_error(L, "%s: too long or contains a NUL byte", key);
	memcpy(buf, s, n + 1);
	*out = buf;
	lua_pop(L, 1);
}

static int espota_lua_opt_int(lua_State *L, int idx, const char *key, lua_Integer max, lua_Integer *out)
{
	int isnum = 0;
	lua_Integer v;
	lua_getfield(L, idx, key);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	if (lua_type(L, -1) == LUA_TBOOLEAN) {
		v = lua_toboolean(L, -1);
		isnum = 1;
	} else {
		v = lua_tointegerx(L, -1, &isnum);
	}
	if (!isnum || v < 0 || v > max)
		luaL_error(L, "%s: expected an integer in 0..%I", key, max);
	lua_pop(L, 1);
	*out = v;
	return 1;
}

static int espota_lua_opt_fn(lua_State *L, int idx, const char *key)
{
	int t = lua_getfield(L, idx, key);
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	if (t != LUA_TFUNCTION && !luaL_getmetafield(L, -1, "__call"))
		luaL_error(L, "%s: expected a function, got %s", key, luaL_typename(L, -1));
	if (t != LUA_TFUNCTION)
		lua_pop(L, 1); /* the __call metafield */
	lua_pop(L, 1);
	return 1;
}

/* Read the shared options of the call table at index 3 into `c`; raises on
 * bad types before taking any reference. */
static void espota_lua_call_init(lua_State *L, espota_lua_call *c)
{
	lua_Integer v;

	memset(c, 0, sizeof(*c));
	c->L = L;
	c->progress_ref = c->auth_ref = c->err_ref = c->tb_ref = c->done_ref = LUA_NOREF;
	espota_upload_options_init(&c->opts, ESPOTA_UPLOAD_OPTIONS_VERSION);

	espota_lua_opt_str(L, 3, "host", c->host, sizeof(c->host), &c->opts.host);
	espota_lua_opt_str(L, 3, "bind_address", c->bind_address, sizeof(c->bind_address), &c->opts.bind_address);
	espota_lua_opt_str(L, 3, "password", c->password, sizeof(c->password), &c->opts.password);
	espota_lua_opt_str(L, 3, "filename", c->filename, sizeof(c->filename), &c->opts.filename);
#define OPT(key, field, max, type) if (espota_lua_opt_int(L, 3, key, max, &v)) c->opts.field = (type)v
	OPT("port", port, 65535, uint16_t);
	OPT("bind_port", bind_port, 65535, uint16_t);
	OPT("target", target, 1000, espota_target);
	OPT("auth_mode", auth_mode, 2, espota_auth_mode);
	OPT("transfer", transfer, ESPOTA_TRANSFER_STREAM, espota_transfer_mode);
	OPT("chunk_size", chunk_size, 0xFFFFFFFF, uint32_t);
	OPT("window", window, 0xFFFFFFFF, uint32_t);
	OPT("min_rate", min_rate, 0xFFFFFFFF, uint32_t);
	OPT("compress", compress, 1, int);
	OPT("force", force, 1, int);
	OPT("platform", platform, 2, espota_platform);
	OPT("invite_ms", timeouts.invite_ms, 0xFFFFFFFF, unsigned int);
	OPT("invite_attempts", timeouts.invite_attempts, 0xFFFFFFFF, unsigned int);
	OPT("auth_ms", timeouts.auth_ms, 0xFFFFFFFF, unsigned int);
	OPT("connect_ms", timeouts.connect_ms, 0xFFFFFFFF, unsigned int);
	OPT("stall_ms", timeouts.stall_ms, 0xFFFFFFFF, unsigned int);
	OPT("result_ms", timeouts.result_ms, 0xFFFFFFFF, unsigned int);
#undef OPT
	lua_getfield(L, 3, "fit");
	if (!lua_isnil(L, -1)) {
		espota_fit_device *dev = NULL;
		if (!SWIG_IsOK(SWIG_ConvertPtr(L, -1, (void **)&dev, SWIGTYPE_p_espota_fit_device, 0)) || !dev)
			luaL_error(L, "fit: expected an espota_fit_device");
		c->fit = *dev; /* its partitions table is kept alive by call.fit_owner */
		c->opts.fit = &c->fit;
	}
	lua_pop(L, 1);
	/* Validate both before taking any reference. */
	if (espota_lua_opt_fn(L, 3, "progress")) {
		lua_getfield(L, 3, "progress");
		c->progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	if (espota_lua_opt_fn(L, 3, "auth")) {
		lua_getfield(L, 3, "auth");
		c->auth_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}

	c->opts.progress = espota_lua_progress;
	c->opts.auth = espota_lua_auth;
	c->opts.payload = c;
}

/* Release every reference; if a callback failed, raise its original error
 * object (never returns then). */
static void espota_lua_call_finish(lua_State *L, espota_lua_call *c)
{
	luaL_unref(L, LUA_REGISTRYINDEX, c->progress_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->auth_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->done_ref);
	c->progress_ref = c->auth_ref = c->done_ref = LUA_NOREF;
	memset(c->password, 0, sizeof(c->password));
	if (c->has_err) {
		if (c->tb_ref != LUA_NOREF) {
			lua_rawgeti(L, LUA_REGISTRYINDEX, c->tb_ref);
			lua_setfield(L, 3, "_traceback");
			luaL_unref(L, LUA_REGISTRYINDEX, c->tb_ref);
		}
		lua_rawgeti(L, LUA_REGISTRYINDEX, c->err_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, c->err_ref);
		lua_error(L); /* the callback's original error object */
	}
}

static int espota_lua_upload(lua_State *L)
{
	espota_lua_call c;
	espota_session *session = NULL;
	const unsigned char *image;
	size_t len;
	int rc;

	if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&session, SWIGTYPE_p_espota_session, 0)) || !session)
		return luaL_argerror(L, 1, "expected an espota_session");
	image = (const unsigned char *)luaL_checklstring(L, 2, &len);
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	espota_lua_call_init(L, &c);
	rc = espota_upload(session, image, len, &c.opts);
	espota_lua_call_finish(L, &c);
	lua_pushinteger(L, rc);
	return 1;
}

/*
 * espota._upload_many(session, image, call) -> code, results
 * call: the shared options of _upload plus devices = { {host=, port=,
 * password=}, ... } (strings stay referenced by the call table), and
 * max_concurrent, retries, device_deadline_ms (integers), progress(index, p),
 * done(index, raw result). `results` is an array of raw result tables, or
 * nil when nothing could start.
 */
static int espota_lua_upload_many(lua_State *L)
{
	espota_lua_call c;
	espota_session *session = NULL;
	espota_fleet_options fo;
	espota_fleet_device *devs;
	const unsigned char *image;
	size_t len, n, i;
	lua_Integer v;
	int rc;

	if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&session, SWIGTYPE_p_espota_session, 0)) || !session)
		return luaL_argerror(L, 1, "expected an espota_session");
	image = (const unsigned char *)luaL_checklstring(L, 2, &len);
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);

	/* Devices first (may raise), in GC-managed memory: index 4 and 5. */
	if (lua_getfield(L, 3, "devices") != LUA_TTABLE)
		return luaL_error(L, "devices: expected a table");
	n = (size_t)lua_rawlen(L, 4);
	if (n == 0)
		return luaL_error(L, "devices: empty");
	devs = (espota_fleet_device *)lua_newuserdata(L, n * sizeof(*devs));
	lua_createtable(L, (int)n, 0); /* results, filled by the done callback */
	memset(devs, 0, n * sizeof(*devs));
	for (i = 0; i < n; i++) {
		size_t hl;
		if (lua_rawgeti(L, 4, (lua_Integer)i + 1) != LUA_TTABLE)
			return luaL_error(L, "devices[%d]: expected a table", (int)i + 1);
		if (lua_getfield(L, -1, "host") != LUA_TSTRING)
			return luaL_error(L, "devices[%d].host: expected a string", (int)i + 1);
		devs[i].host = lua_tolstring(L, -1, &hl); /* kept alive by the call table */
		if (hl == 0 || strlen(devs[i].host) != hl)
			return luaL_error(L, "devices[%d].host: empty or contains a NUL byte", (int)i + 1);
		lua_pop(L, 1);
		if (espota_lua_opt_int(L, -1, "port", 65535, &v))
			devs[i].port = (uint16_t)v;
		if (lua_getfield(L, -1, "password") == LUA_TSTRING) {
			size_t pl;
			devs[i].password = lua_tolstring(L, -1, &pl);
			if (strlen(devs[i].password) != pl)
				return luaL_error(L, "devices[%d].password: contains a NUL byte", (int)i + 1);
		} else if (!lua_isnil(L, -1)) {
			return luaL_error(L, "devices[%d].password: expected a string", (int)i + 1);
		}
		lua_pop(L, 2);
	}
	espota_fleet_options_init(&fo, ESPOTA_FLEET_OPTIONS_VERSION);
	if (espota_lua_opt_int(L, 3, "max_concurrent", 0xFFFFFFFF, &v))
		fo.max_concurrent = (unsigned int)v;
	if (espota_lua_opt_int(L, 3, "retries", 0xFFFFFFFF, &v))
		fo.retries = (unsigned int)v;
	if (espota_lua_opt_int(L, 3, "device_deadline_ms", 0xFFFFFFFF, &v))
		fo.device_deadline_ms = (unsigned int)v;
	lua_settop(L, 6); /* call, devices, devs, results */
	espota_lua_opt_fn(L, 3, "done"); /* check it before any reference is taken */
	espota_lua_call_init(L, &c);
	if (espota_lua_opt_fn(L, 3, "done")) {
		lua_getfield(L, 3, "done");
		c.done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	c.session = session;
	c.results_idx = 6;
	c.opts.progress = NULL;
	fo.progress = espota_lua_fleet_progress;
	fo.done = espota_lua_fleet_done;
	fo.payload = &c;
	rc = espota_fleet_upload(session, image, len, &c.opts, devs, n, &fo);
	espota_lua_call_finish(L, &c);
	lua_pushinteger(L, rc);
	if ((rc == ESPOTA_OK || rc == ESPOTA_ERROR || rc == ESPOTA_ECANCELLED) && lua_rawlen(L, 6) == n)
		lua_pushvalue(L, 6);
	else
		lua_pushnil(L);
	return 2;
}

/*
 * The multi interface as a step API, for any Lua event loop (luv, copas, a
 * select loop): espota._multi(session) -> handle with methods
 *   add(image, call) -> id          start an upload (call as for _upload)
 *   add_browse(opts) -> id          start an mDNS browse (opts as for _discover)
 *   add_resolve(opts, name) -> id   start an mDNS resolve of NAME.local
 *   fds() -> { {fd=, events=, serial=}, ... }   what to watch now
 *   timeout() -> ms                 call action(-1, 0) after at most this (-1: idle)
 *   action(fd, events)              fd became ready (events: ESPOTA_WAIT_* bits)
 *   info_read() -> id, raw | nil    a finished upload (raw as upload_many's), or a
 *                                   browse/resolve (raw.kind; discover_lua.i)
 *   running() -> n, remove(id), close()
 * Callbacks run inside add/action on the Lua state that made that call.
 */
typedef struct espota_lua_async {
	espota_lua_call call;
	espota_transfer *t;
	lua_Integer id;
	int image_ref, call_ref;
	espota_discover *disc;          /* a browse or resolve: its handle (else NULL) */
	struct espota_lua_async *next;
} espota_lua_async;

/* discover_lua.i: a browse or resolve on the multi, and its raw result. */
static int espota_lua_multi_add_browse(lua_State *L);
static int espota_lua_multi_add_resolve(lua_State *L);
static void espota_lua_push_discover_result(lua_State *L, espota_transfer *t);

typedef struct espota_lua_multi {
	espota_multi *m;
	int session_ref;
	lua_Integer next_id;
	espota_lua_async *list;
} espota_lua_multi;

static const char espota_lua_multi_mt[] = "espota.multi";

static espota_lua_multi *espota_lua_checkmulti(lua_State *L)
{
	espota_lua_multi *mm = (espota_lua_multi *)luaL_checkudata(L, 1, espota_lua_multi_mt);
	if (mm->m == NULL)
		luaL_error(L, "espota multi handle: closed");
	return mm;
}

/* Callbacks go to the state running now (a coroutine may have made the transfer). */
static void espota_lua_multi_bind(espota_lua_multi *mm, lua_State *L)
{
	espota_lua_async *a;
	for (a = mm->list; a != NULL; a = a->next)
		a->call.L = L;
}

static void espota_lua_async_free(lua_State *L, espota_lua_async *a)
{
	luaL_unref(L, LUA_REGISTRYINDEX, a->call.progress_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, a->call.auth_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, a->call.err_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, a->call.tb_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, a->image_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, a->call_ref);
	memset(a->call.password, 0, sizeof(a->call.password));
	espota_discover_free(a->disc); /* after its transfer was removed */
	free(a);
}

static espota_lua_async *espota_lua_multi_unlink(espota_lua_multi *mm, lua_Integer id)
{
	espota_lua_async **pp, *a;
	for (pp = &mm->list; (a = *pp) != NULL; pp = &a->next) {
		if (a->id == id) {
			*pp = a->next;
			return a;
		}
	}
	return NULL;
}

static int espota_lua_multi_close(lua_State *L)
{
	espota_lua_multi *mm = (espota_lua_multi *)luaL_checkudata(L, 1, espota_lua_multi_mt);
	while (mm->list != NULL) {
		espota_lua_async *a = mm->list;
		mm->list = a->next;
		espota_multi_remove(mm->m, a->t);
		espota_lua_async_free(L, a);
	}
	if (mm->m != NULL) {
		espota_multi_free(mm->m);
		mm->m = NULL;
	}
	luaL_unref(L, LUA_REGISTRYINDEX, mm->session_ref);
	mm->session_ref = LUA_NOREF;
	return 0;
}

static int espota_lua_multi_new(lua_State *L)
{
	espota_session *session = NULL;
	espota_lua_multi *mm;
	int rc;

	if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&session, SWIGTYPE_p_espota_session, 0)) || !session)
		return luaL_argerror(L, 1, "expected an espota_session");
	mm = (espota_lua_multi *)lua_newuserdata(L, sizeof(*mm));
	memset(mm, 0, sizeof(*mm));
	mm->session_ref = LUA_NOREF;
	luaL_setmetatable(L, espota_lua_multi_mt);
	rc = espota_multi_new(&mm->m, session);
	if (rc != ESPOTA_OK)
		return luaL_error(L, "espota_multi_new: %s", espota_strerror(rc));
	lua_pushvalue(L, 1);
	mm->session_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* the session outlives the handle */
	return 1;
}

static int espota_lua_multi_add(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	espota_lua_async *a;
	const unsigned char *image;
	size_t len;
	int rc;

	image = (const unsigned char *)luaL_checklstring(L, 2, &len);
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	{
		espota_lua_call tmp;
		espota_lua_call_init(L, &tmp); /* may raise: nothing allocated yet */
		a = (espota_lua_async *)calloc(1, sizeof(*a));
		if (a == NULL) {
			espota_lua_call_finish(L, &tmp);
			return luaL_error(L, "out of memory");
		}
		a->call = tmp;
		a->call.opts.payload = &a->call;
		if (tmp.opts.fit != NULL)
			a->call.opts.fit = &a->call.fit;
		/* The copied options point at the copy's strings. */
		if (tmp.opts.host == tmp.host)
			a->call.opts.host = a->call.host;
		if (tmp.opts.bind_address == tmp.bind_address)
			a->call.opts.bind_address = a->call.bind_address;
		if (tmp.opts.password == tmp.password)
			a->call.opts.password = a->call.password;
		if (tmp.opts.filename == tmp.filename)
			a->call.opts.filename = a->call.filename;
		memset(tmp.password, 0, sizeof(tmp.password));
	}
	lua_pushvalue(L, 2);
	a->image_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* the data the transfer borrows */
	lua_pushvalue(L, 3);
	a->call_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* and what the fit device points at */
	a->id = ++mm->next_id;
	a->next = mm->list;
	mm->list = a;
	espota_lua_multi_bind(mm, L);
	rc = espota_multi_add_upload(mm->m, &a->t, image, len, &a->call.opts);
	if (rc != ESPOTA_OK || a->t == NULL) {
		espota_lua_multi_unlink(mm, a->id);
		espota_lua_async_free(L, a);
		return luaL_error(L, "espota_multi_add_upload: %s", espota_strerror(rc));
	}
	espota_transfer_set_user(a->t, a);
	lua_pushinteger(L, a->id);
	return 1;
}

static int espota_lua_multi_fds(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	espota_waitfd small[64], *w = small;
	size_t n = 0, i;

	espota_multi_fds(mm->m, w, 64, &n);
	if (n > 64) {
		w = (espota_waitfd *)lua_newuserdata(L, n * sizeof(*w));
		espota_multi_fds(mm->m, w, n, &n);
	}
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lua_createtable(L, 0, 3);
		lua_pushinteger(L, w[i].fd);
		lua_setfield(L, -2, "fd");
		lua_pushinteger(L, w[i].events);
		lua_setfield(L, -2, "events");
		lua_pushinteger(L, (lua_Integer)w[i].serial);
		lua_setfield(L, -2, "serial");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int espota_lua_multi_timeout(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	long ms = -1;
	espota_multi_timeout(mm->m, &ms);
	lua_pushinteger(L, ms);
	return 1;
}

static int espota_lua_multi_running(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	lua_pushinteger(L, (lua_Integer)espota_multi_running(mm->m));
	return 1;
}

static int espota_lua_multi_action(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	lua_Integer fd = luaL_optinteger(L, 2, -1), ev = luaL_optinteger(L, 3, 0);
	int rc;

	espota_lua_multi_bind(mm, L);
	rc = espota_multi_socket_action(mm->m, (int)fd, (int)ev);
	if (rc != ESPOTA_OK)
		return luaL_error(L, "espota_multi_socket_action: %s (called from a callback?)", espota_strerror(rc));
	return 0;
}

/* id, raw result of the next finished upload (its error object, when a
 * callback raised, in raw.error), or nil. The upload is removed. */
static int espota_lua_multi_info_read(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	espota_transfer *t = espota_multi_info_read(mm->m);
	espota_lua_async *a;

	if (t == NULL) {
		lua_pushnil(L);
		return 1;
	}
	a = (espota_lua_async *)espota_transfer_user(t);
	lua_pushinteger(L, a->id);
	if (a->disc != NULL)
		espota_lua_push_discover_result(L, t);
	else
		espota_lua_push_result(L, t);
	if (a->call.has_err) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, a->call.err_ref);
		lua_setfield(L, -2, "error");
		if (a->call.tb_ref != LUA_NOREF) {
			lua_rawgeti(L, LUA_REGISTRYINDEX, a->call.tb_ref);
			lua_setfield(L, -2, "traceback");
		}
	}
	espota_lua_multi_unlink(mm, a->id);
	espota_multi_remove(mm->m, t);
	espota_lua_async_free(L, a);
	return 2;
}

static int espota_lua_multi_remove(lua_State *L)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	espota_lua_async *a = espota_lua_multi_unlink(mm, luaL_checkinteger(L, 2));
	if (a != NULL) {
		espota_multi_remove(mm->m, a->t);
		espota_lua_async_free(L, a);
	}
	lua_pushboolean(L, a != NULL);
	return 1;
}

static int espota_lua_multi_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "add", espota_lua_multi_add }, { "fds", espota_lua_multi_fds },
		{ "add_browse", espota_lua_multi_add_browse }, { "add_resolve", espota_lua_multi_add_resolve },
		{ "timeout", espota_lua_multi_timeout }, { "action", espota_lua_multi_action },
		{ "info_read", espota_lua_multi_info_read }, { "remove", espota_lua_multi_remove },
		{ "running", espota_lua_multi_running }, { "close", espota_lua_multi_close },
		{ NULL, NULL }
	};
	if (luaL_newmetatable(L, espota_lua_multi_mt)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, espota_lua_multi_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, espota_lua_multi_close);
		lua_setfield(L, -2, "__close");
	}
	lua_pop(L, 1);
	return espota_lua_multi_new(L);
}

/*
 * espota._file_read(path) -> data | nil, message, code: espota_file_read()
 * (regular files only, at most ESPOTA_FILE_MAX bytes).
 */
static int espota_lua_file_read(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	espota_file *f = NULL;
	const unsigned char *buf;
	size_t len = 0;
	int rc;

	rc = espota_file_read(&f, path, ESPOTA_FILE_MAX);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushstring(L, f != NULL ? espota_file_error(f) : espota_strerror(rc));
		lua_pushinteger(L, rc);
		espota_file_free(f);
		return 3;
	}
	buf = espota_file_data(f, &len);
	lua_pushlstring(L, (const char *)buf, len);
	espota_file_free(f);
	return 1;
}
%}

%native(_upload) int espota_lua_upload(lua_State *L);
%native(_file_read) int espota_lua_file_read(lua_State *L);
%native(_upload_many) int espota_lua_upload_many(lua_State *L);
%native(_multi) int espota_lua_multi_register(lua_State *L);

/* The natural Lua API, run when the module loads. */
%insert("luacode") "lua/espota.lua"
