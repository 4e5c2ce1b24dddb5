-- Discovery (mDNS) for the natural Lua API; compiled in after espota.lua,
-- in the same chunk: `M` is espota.lua's module table and `C` its private
-- table of raw wrappers (the global `espota` is gone by now).
--   for _, d in ipairs(espota.discover{timeout = 2}) do print(d.name, d.address, d.board) end
-- Each device: name, hostname, address, addresses {{address, interface}},
-- port, txt {key = value}, txt_items {{key, value}}, board, password
-- (true/false/nil), platform, elapsed (s). Failures: nil, message, code.
-- Test only: unicast = "127.0.0.1:5353" sends the queries to one responder.
do
  local function opts(o)
    o = o or {}
    if type(o) ~= "table" then error("discover: expected a table of options", 3) end
    local t = o.timeout or 2
    if type(t) ~= "number" or not (t > 0 and t <= 3600) then
      error("timeout: expected seconds in (0, 3600]", 3)
    end
    return {timeout_ms = math.max(1, math.floor(t * 1000 + 0.5)), interface = o.interface,
            family = o.family, unicast = o.unicast, max_devices = o.max_devices}
  end
  function M.discover(o)
    local list, found_or_msg, sent_or_code = C._discover(opts(o))
    if list == nil then return nil, found_or_msg, sent_or_code end
    return list
  end
  function M.resolve_local(name, o)
    return C._resolve_local(opts(o), name)
  end
  -- The step API: a browse or resolve is a transfer of the multi handle,
  -- driven by the same fds()/timeout()/action() as the uploads.
  function Multi:discover(o)
    return self._h:add_browse(opts(o))
  end
  function Multi:resolve(name, o)
    if type(name) ~= "string" then error("name: expected a string", 2) end
    return self._h:add_resolve(opts(o), name)
  end
  function Multi._discover_result(raw)
    local code = math.tointeger(raw.code) or raw.code
    local r = { kind = raw.kind, ok = code == 0, code = code, sent = raw.sent }
    if raw.kind == "browse" then r.devices = raw.devices else r.address = raw.address ~= "" and raw.address or nil end
    if not r.ok then
      r.name = C.espota_error_name(code)
      r.message = raw.message ~= "" and raw.message or C.espota_strerror(code)
    end
    return r
  end
end
