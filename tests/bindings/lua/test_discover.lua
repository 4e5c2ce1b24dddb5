-- espota.discover / espota.resolve_local against espota-sim --mdns in the
-- test-only unicast mode (no multicast leaves the host).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local H = require "helpers"
local espota = require "espota"
local test, eq, ok = H.test, H.eq, H.ok

test("discover: every instance with its TXT, in order", function()
  local dev = H.sim({ "--count", "3", "--password", "pw", "--mdns", "--mdns-port", "0",
                      "--hostname", "lua", "--platform", "esp32" })
  local uni = "127.0.0.1:" .. dev.mdns_port
  local list = assert(espota.discover { timeout = 0.5, unicast = uni })
  eq(#list, 3)
  table.sort(list, function(a, b) return a.name < b.name end)
  for i, d in ipairs(list) do
    eq(d.name, "lua-" .. (i - 1))
    eq(d.hostname, "lua-" .. (i - 1) .. ".local")
    eq(d.address, "127.0.0.1")
    eq(d.port, dev.ports[i])
    eq(d.password, true)
    eq(d.board, "esp32")
    eq(d.platform, "esp32")
    eq(d.addresses[1].interface, "lo")
    local keys = {}
    for _, kv in ipairs(d.txt_items) do keys[#keys + 1] = kv[1] end
    eq(table.concat(keys, ","), "auth_upload,ssh_upload,tcp_check,board")
    eq(d.txt.auth_upload, "yes")
  end
  eq(espota.resolve_local("lua-2", { timeout = 0.5, unicast = uni }), "127.0.0.1")
  local a, msg, code = espota.resolve_local("nobody", { timeout = 0.2, unicast = uni })
  eq(a, nil); eq(code, espota.ERESOLVE); ok(msg:find("nobody.local", 1, true))
end)

test("discover: nothing answers, bad options", function()
  local list = assert(espota.discover { timeout = 0.2, unicast = "127.0.0.1:9" })
  eq(#list, 0)
  local l2, msg, code = espota.discover { timeout = 0.2, unicast = "nonsense" }
  eq(l2, nil); eq(code, espota.EINVAL); ok(msg:find("ADDR:PORT", 1, true))
  ok(not pcall(espota.discover, { timeout = -1 }))
end)

H.run()
