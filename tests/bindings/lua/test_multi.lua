-- The step API (espota.multi) driven by a luv loop: the example's driver
-- (examples/lua/multi_luv.lua) uploads to 20 simulated devices byte-exact,
-- while a timer on the same loop keeps ticking; callback errors, a failing
-- device and remove(); an mDNS browse and resolve as transfers of the same
-- handle (espota-sim --mdns in the loopback test mode: no multicast).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local H = require("helpers")
local espota = require("espota")
local uv = require("luv")
local example = dofile(here .. "../../../examples/lua/multi_luv.lua")
local test, eq, ok = H.test, H.eq, H.ok

local fw = H.arduino_esp8266(120000)

test("step API on luv: 20 devices byte-exact, the loop stays free", function()
  local dev = H.sim({ "--count", "20" })
  local m <close> = espota.multi()
  local ids, results, ticks = {}, {}, 0
  for i, p in ipairs(dev.ports) do
    ids[m:upload({ data = fw }, { host = "127.0.0.1", port = p })] = i
  end
  eq(m:running(), 20, "running")
  local ticker = uv.new_timer()
  ticker:start(1, 1, function() ticks = ticks + 1 end)
  example.drive(m, function(id, r)
    results[ids[id]] = r
    if next(ids) and #results == 20 then ticker:stop() end
  end)
  if not ticker:is_closing() then ticker:stop(); ticker:close() end
  uv.run("nowait")
  for i = 1, 20 do
    local r = results[i]
    ok(r and r.ok, "device " .. i .. ": " .. tostring(r and r.message))
    eq(r.stats.acked, #fw, "acked")
    ok(dev.app_image(i - 1) == fw, "image " .. i .. " differs")
  end
  eq(m:running(), 0, "running after")
  ok(ticks > 0, "the loop ran other work meanwhile")
end)

test("step API: a failing device, a callback error, remove", function()
  local dev = H.sim({ "--count", "3", "--password", "pw" })
  local m <close> = espota.multi()
  local boom = setmetatable({}, { __tostring = function() return "boom" end })
  local bad = m:upload({ data = fw }, { host = "127.0.0.1", port = dev.ports[1] })  -- no password
  local raises = m:upload({ data = fw }, { host = "127.0.0.1", port = dev.ports[2], password = "pw",
    progress = function(p) if p.phase == "transfer" then error(boom) end end })
  local gone = m:upload({ data = fw }, { host = "127.0.0.1", port = dev.ports[3], password = "pw" })
  ok(m:remove(gone), "remove")
  ok(not m:remove(gone), "removed once")
  local got = {}
  example.drive(m, function(id, r) got[id] = r end)
  eq(got[bad].ok, false, "no password")
  eq(got[bad].name, "ESPOTA_EAUTH", "EAUTH")
  eq(got[raises].ok, false, "callback raised")
  ok(got[raises].callback_error == boom, "the original error object, got " .. tostring(got[raises].callback_error)
    .. " / " .. tostring(got[raises].name) .. ": " .. tostring(got[raises].message))
  eq(got[gone], nil, "a removed upload never finishes")
  ok(not pcall(m.upload, m, { data = fw }, {}), "host required")
end)

test("step API on luv: a browse, a resolve and an upload on one handle", function()
  local dev = H.sim({ "--count", "3", "--mdns", "--mdns-port", "0", "--hostname", "luastep" })
  local uni = "127.0.0.1:" .. dev.mdns_port
  local m <close> = espota.multi()
  local browse = m:discover({ timeout = 1.0, unicast = uni })
  local up = m:upload({ data = fw }, { host = "127.0.0.1", port = dev.ports[2] })
  local nobody = m:resolve("nobody", { timeout = 0.3, unicast = uni })
  eq(m:running(), 3, "running")
  local got = {}
  example.drive(m, function(id, r) got[id] = r end)
  local b = got[browse]
  ok(b and b.ok and b.kind == "browse", "browse: " .. tostring(b and b.message))
  eq(#b.devices, 3, "devices found")
  local ports = {}
  for _, d in ipairs(b.devices) do
    ports[d.port] = true
    eq(d.address, "127.0.0.1", "address")
    ok(d.name:match("^luastep%-"), "instance name " .. tostring(d.name))
  end
  for _, p in ipairs(dev.ports) do ok(ports[p], "port " .. p .. " found") end
  ok(b.sent >= 1, "queries sent")
  ok(got[up] and got[up].ok, "upload on the same handle")
  ok(dev.app_image(1) == fw, "image differs")
  local n = got[nobody]
  eq(n.ok, false, "nobody answers")
  eq(n.name, "ESPOTA_ERESOLVE", "ERESOLVE")
  ok(n.message:find("nobody.local", 1, true), "message names it: " .. tostring(n.message))
  -- resolve what the browse found
  local r = m:resolve(b.devices[1].hostname, { unicast = uni })
  got = {}
  example.drive(m, function(id, res) got[id] = res end)
  ok(got[r].ok and got[r].kind == "resolve", "resolve: " .. tostring(got[r].message))
  eq(got[r].address, "127.0.0.1", "resolved address")
  -- remove() stops a browse at once
  local long = m:discover({ timeout = 30, unicast = uni })
  ok(m:remove(long), "remove a browse")
  eq(m:running(), 0, "nothing runs")
  ok(not pcall(m.resolve, m, 42), "name must be a string")
end)

H.run()
