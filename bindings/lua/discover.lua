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
end
