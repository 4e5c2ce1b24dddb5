/*
 * Lua section for discovery (included from bindings/espota.i):
 *   espota._discover(opts) -> list, found, sent   or   nil, message, code
 * opts: timeout_ms, interface, family, unicast, max_devices. The browse
 * blocks this Lua state only (a Lua state is single-threaded); devices are
 * collected into a table by the C callback, which raises no Lua error
 * (a longjmp would skip the driver's socket cleanup).
 *
 * On the step API (espota_lua.i's multi handle), no blocking:
 *   m:add_browse(opts) -> id, m:add_resolve(opts, name) -> id, and
 *   m:info_read() -> id, {kind = "browse"|"resolve", code, message,
 *                         devices = {...}, address, sent}
 */
%{
typedef struct espota_lua_disc {
	lua_State *L;
	int list;   /* stack index of the result table */
	lua_Integer n;
} espota_lua_disc;

static void espota_lua_setstr(lua_State *L, const char *k, const char *v)
{
	if (v == NULL)
		return;
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

/* Push one device as the table espota.discover() lists. */
static void espota_lua_push_device(lua_State *L, const espota_device_info *d)
{
	static const char *const plat[] = { "unknown", "esp8266", "esp32" };

	lua_createtable(L, 0, 12);
	espota_lua_setstr(L, "name", d->instance);
	espota_lua_setstr(L, "hostname", d->hostname);
	espota_lua_setstr(L, "address", d->naddrs ? d->addrs[0].address : NULL);
	lua_pushinteger(L, d->port);
	lua_setfield(L, -2, "port");
	espota_lua_setstr(L, "board", d->board);
	if (d->auth_upload >= 0) {
		lua_pushboolean(L, d->auth_upload);
		lua_setfield(L, -2, "password");
	}
	espota_lua_setstr(L, "platform", plat[d->platform <= 2 ? d->platform : 0]);
	lua_pushnumber(L, (lua_Number)d->elapsed_ms / 1000.0);
	lua_setfield(L, -2, "elapsed");
	lua_createtable(L, (int)d->naddrs, 0);
	for (size_t i = 0; i < d->naddrs; i++) {
		lua_createtable(L, 0, 2);
		espota_lua_setstr(L, "address", d->addrs[i].address);
		espota_lua_setstr(L, "interface", d->addrs[i].interface);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "addresses");
	/* txt: key -> value (first occurrence), txt_items: {key, value} in order */
	lua_createtable(L, 0, (int)d->ntxt);
	lua_createtable(L, (int)d->ntxt, 0);
	for (size_t i = 0; i < d->ntxt; i++) {
		lua_getfield(L, -2, d->txt[i].key);
		if (lua_isnil(L, -1)) {
			lua_pushstring(L, d->txt[i].value);
			lua_setfield(L, -4, d->txt[i].key);
		}
		lua_pop(L, 1);
		lua_createtable(L, 2, 0);
		lua_pushstring(L, d->txt[i].key);
		lua_rawseti(L, -2, 1);
		lua_pushstring(L, d->txt[i].value);
		lua_rawseti(L, -2, 2);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -3, "txt_items");
	lua_setfield(L, -2, "txt");
}

static int espota_lua_disc_cb(const espota_device_info *d, void *payload)
{
	espota_lua_disc *c = payload;
	lua_State *L = c->L;

	if (!lua_checkstack(L, 8))
		return 1;
	espota_lua_push_device(L, d);
	lua_rawseti(L, c->list, ++c->n);
	return 0;
}

/* The options table at `idx`; the strings go to iface/uni. */
static void espota_lua_disc_opts(lua_State *L, int idx, espota_discover_options *o, char *iface, size_t ilen,
	char *uni, size_t ulen)
{
	lua_Integer v;

	luaL_checktype(L, idx, LUA_TTABLE);
	espota_discover_options_init(o, ESPOTA_DISCOVER_OPTIONS_VERSION);
	if (espota_lua_opt_int(L, idx, "timeout_ms", 3600000, &v)) o->timeout_ms = (unsigned int)v;
	if (espota_lua_opt_int(L, idx, "family", 6, &v)) o->family = (int)v;
	if (espota_lua_opt_int(L, idx, "max_devices", 100000, &v)) o->max_devices = (unsigned int)v;
	espota_lua_opt_str(L, idx, "interface", iface, ilen, &o->interface);
	espota_lua_opt_str(L, idx, "unicast", uni, ulen, &o->unicast);
}

static int espota_lua_discover(lua_State *L)
{
	espota_discover_options o;
	espota_discover *d = NULL;
	espota_lua_disc c;
	char iface[64], uni[400];
	int rc;

	espota_lua_disc_opts(L, 1, &o, iface, sizeof(iface), uni, sizeof(uni));
	if ((rc = espota_discover_new(&d, &o)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, espota_strerror(rc));
		lua_pushinteger(L, rc);
		return 3;
	}
	lua_newtable(L);
	c.L = L;
	c.list = lua_gettop(L);
	c.n = 0;
	rc = espota_discover_browse(d, espota_lua_disc_cb, &c);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushstring(L, espota_discover_last_error(d));
		lua_pushinteger(L, rc);
		espota_discover_free(d);
		return 3;
	}
	lua_pushinteger(L, (lua_Integer)espota_discover_found(d));
	lua_pushinteger(L, (lua_Integer)espota_discover_packets_sent(d));
	espota_discover_free(d);
	return 3;
}

static int espota_lua_resolve_local(lua_State *L)
{
	espota_discover_options o;
	espota_discover *d = NULL;
	const char *name;
	char uni[400], addr[80];
	lua_Integer v;
	int rc;

	luaL_checktype(L, 1, LUA_TTABLE);
	name = luaL_checkstring(L, 2);
	espota_discover_options_init(&o, ESPOTA_DISCOVER_OPTIONS_VERSION);
	if (espota_lua_opt_int(L, 1, "timeout_ms", 3600000, &v)) o.timeout_ms = (unsigned int)v;
	espota_lua_opt_str(L, 1, "unicast", uni, sizeof(uni), &o.unicast);
	if ((rc = espota_discover_new(&d, &o)) == 0)
		rc = espota_discover_resolve(d, name, addr, sizeof(addr));
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushstring(L, d ? espota_discover_last_error(d) : espota_strerror(rc));
		lua_pushinteger(L, rc);
		espota_discover_free(d);
		return 3;
	}
	espota_discover_free(d);
	lua_pushstring(L, addr);
	return 1;
}
%}

%{
/* ---- on the step API's multi handle ---------------------------------------- */

/* m:add_browse(opts) / m:add_resolve(opts, name) -> id */
static int espota_lua_multi_add_mdns(lua_State *L, const char *name)
{
	espota_lua_multi *mm = espota_lua_checkmulti(L);
	espota_discover_options o;
	espota_lua_async *a;
	char iface[64], uni[400];
	int rc;

	espota_lua_disc_opts(L, 2, &o, iface, sizeof(iface), uni, sizeof(uni)); /* may raise: nothing made yet */
	a = (espota_lua_async *)calloc(1, sizeof(*a));
	if (a == NULL)
		return luaL_error(L, "out of memory");
	a->call.progress_ref = a->call.auth_ref = a->call.err_ref = a->call.tb_ref = LUA_NOREF;
	a->image_ref = a->call_ref = LUA_NOREF;
	if ((rc = espota_discover_new(&a->disc, &o)) < 0) {
		free(a);
		return luaL_error(L, "espota_discover_new: %s", espota_strerror(rc));
	}
	rc = name != NULL ? espota_multi_add_resolve(mm->m, &a->t, a->disc, name) :
		espota_multi_add_browse(mm->m, &a->t, a->disc, NULL, NULL);
	if (rc != ESPOTA_OK || a->t == NULL) {
		espota_lua_async_free(L, a);
		return luaL_error(L, "espota_multi_add_%s: %s", name ? "resolve" : "browse", espota_strerror(rc));
	}
	a->id = ++mm->next_id;
	a->next = mm->list;
	mm->list = a;
	espota_transfer_set_user(a->t, a);
	lua_pushinteger(L, a->id);
	return 1;
}

static int espota_lua_multi_add_browse(lua_State *L)
{
	return espota_lua_multi_add_mdns(L, NULL);
}

static int espota_lua_multi_add_resolve(lua_State *L)
{
	return espota_lua_multi_add_mdns(L, luaL_checkstring(L, 3));
}

static void espota_lua_push_discover_result(lua_State *L, espota_transfer *t)
{
	size_t n = espota_transfer_device_count(t);

	luaL_checkstack(L, 8, "discover result");
	lua_createtable(L, 0, 6);
	lua_pushstring(L, espota_transfer_kind(t) == ESPOTA_KIND_RESOLVE ? "resolve" : "browse");
	lua_setfield(L, -2, "kind");
	lua_pushinteger(L, espota_transfer_result(t));
	lua_setfield(L, -2, "code");
	lua_pushstring(L, espota_transfer_error(t));
	lua_setfield(L, -2, "message");
	lua_pushstring(L, espota_transfer_address(t));
	lua_setfield(L, -2, "address");
	lua_pushinteger(L, (lua_Integer)espota_transfer_packets_sent(t));
	lua_setfield(L, -2, "sent");
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		espota_lua_push_device(L, espota_transfer_device_at(t, i));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "devices");
}
%}

%native(_discover) int espota_lua_discover(lua_State *L);
%native(_resolve_local) int espota_lua_resolve_local(lua_State *L);

%insert("luacode") "lua/discover.lua"
