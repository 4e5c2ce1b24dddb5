-- Lua binding tests against espota-sim --fast (run by CTest with LUA_CPATH
-- and ESPOTA_SIM set).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local H = require "helpers"
local globals_before = {}
for k in pairs(_G) do globals_before[k] = true end
local espota = require "espota"
local test, eq, ok = H.test, H.eq, H.ok

local small = H.arduino_esp8266(16384)
local fw = H.arduino_esp8266(329008)

test("success, byte-exact", function()
  local dev = H.sim()
  local s <close> = espota.session()
  local seen = {}
  local res, msg, code = s:upload({ data = fw }, { host = "127.0.0.1", port = dev.port,
    progress = function(p) seen[#seen + 1] = p end })
  ok(res, msg)
  eq(res.phase, "done", "phase"); eq(res.acked, #fw, "acked"); eq(math.type(res.total), "integer", "integer sizes")
  ok(math.type(res.device_mss) == "integer" and res.device_mss > 0, "device_mss")
  ok(dev.app_image() == fw, "image differs")
  eq(seen[1].acked, 0, "first progress"); eq(seen[#seen].phase, "done", "last progress")
  eq(seen[#seen].acked, seen[#seen].total, "final acked")
end)

test("filesystem target, file handle, upload_file", function()
  local dev = H.sim()
  local s <close> = espota.session()
  local data = string.rep("littlefs", 1024)
  ok(s:upload({ data = data }, { host = "127.0.0.1", port = dev.port, target = "fs" }))
  ok(dev.fs_image() == data, "fs image differs")
  local path = os.tmpname()
  local f = io.open(path, "wb"); f:write(small); f:close()
  ok(s:upload_file(path, { host = "127.0.0.1", port = dev.port }))
  ok(dev.app_image() == small, "app image differs")
  f = io.open(path, "rb")
  ok(s:upload(f, { host = "127.0.0.1", port = dev.port }))
  f:close(); os.remove(path)
  local r, msg, code = s:upload_file("/nonexistent/fw.bin", { host = "127.0.0.1", port = dev.port })
  eq(r, nil); eq(code, espota.EIO, "code")
end)

test("transfer modes, and an unknown one raises", function()
  local dev = H.sim()
  local s <close> = espota.session()
  for _, mode in ipairs { "pipelined", "stop-and-wait", "stream" } do
    local res, msg = s:upload({ data = small }, { host = "127.0.0.1", port = dev.port, transfer = mode })
    ok(res, mode .. ": " .. tostring(msg))
    ok(dev.app_image() == small, mode .. ": image differs")
  end
  local okc, err = pcall(s.upload, s, { data = small }, { host = "127.0.0.1", port = dev.port, transfer = "fast" })
  ok(not okc and tostring(err):find("transfer"), "unknown transfer mode: " .. tostring(err))
end)

test("wrong password: nil, message, EAUTH", function()
  local dev = H.sim({ "--password", "right" })
  local s <close> = espota.session()
  local res, msg, code, err = s:upload({ data = small }, { host = "127.0.0.1", port = dev.port, password = "wrong" })
  eq(res, nil, "result"); eq(code, espota.EAUTH, "code"); ok(type(msg) == "string" and #msg > 0, "message")
  eq(err.name, "ESPOTA_EAUTH", "name"); ok(err.phase, "phase")
  eq(espota.error_retryable(code), false, "a wrong password is not worth retrying")
  eq(espota.error_retryable(espota.ETIMEOUT), true, "a time-out is")
  -- auth callback
  local asked
  res = s:upload({ data = small }, { host = "127.0.0.1", port = dev.port,
    auth = function(host, scheme) asked = host .. " " .. scheme; return "right" end })
  ok(res, "auth callback upload"); eq(asked, "127.0.0.1 md5", "auth args")
  res, msg, code = s:upload({ data = small }, { host = "127.0.0.1", port = dev.port, auth = function() return nil end })
  eq(code, espota.EAUTH, "no credential")
end)

test("callback error: the original error object is re-raised", function()
  local dev = H.sim({ "--password", "pw" })
  local s <close> = espota.session()
  local obj = setmetatable({ reason = "boom" }, { __tostring = function() return "boom" end })
  for _, where in ipairs { "progress", "auth" } do
    local o = { host = "127.0.0.1", port = dev.port, password = where == "progress" and "pw" or nil }
    o[where] = function(p) if where == "auth" or p.phase == "done" then error(obj) end end
    local okk, e = pcall(s.upload, s, { data = small }, o)
    eq(okk, false, where .. " pcall"); ok(rawequal(e, obj), where .. ": not the original object")
    ok(type(s.traceback) == "string" and s.traceback:find("traceback"), "traceback kept")
  end
  -- strings come back unchanged too (no position added)
  local okk, e = pcall(s.upload, s, { data = small }, { host = "127.0.0.1", port = dev.port, password = "pw",
    progress = function(p) if p.phase == "done" then error("plain", 0) end end })
  eq(okk, false); eq(e, "plain", "string error")
  -- wrong return type from auth
  okk, e = pcall(s.upload, s, { data = small }, { host = "127.0.0.1", port = dev.port, auth = function() return 42 end })
  eq(okk, false); ok(tostring(e):find("auth callback must return"), tostring(e))
end)

test("cancel: progress returns false; s:cancel() in a callback", function()
  local dev = H.sim()
  local s <close> = espota.session()
  local res, msg, code = s:upload({ data = fw }, { host = "127.0.0.1", port = dev.port,
    progress = function(p) return p.phase ~= "transfer" end })
  eq(res, nil); eq(code, espota.ECANCELLED, "code")
  local dev2 = H.sim({ "--fault", "no-connect" })
  local t0 = os.time()
  res, msg, code = s:upload({ data = small }, { host = "127.0.0.1", port = dev2.port, timeouts = { connect = 30 },
    progress = function(p) if p.phase == "connect-back" then s:cancel() end end })
  eq(code, espota.ECANCELLED, "cancel() code"); ok(os.time() - t0 < 10, "prompt")
end)

test("timeouts.min_rate: 0 removes the data-phase bound; a bad value is refused by name", function()
  local dev = H.sim({})
  local s = espota.session()
  local res, msg = s:upload({ data = small }, { host = "127.0.0.1", port = dev.port,
    timeouts = { min_rate = 0 } })
  ok(res, msg)
  ok(dev.app_image() == small, "image")
  local okc, err = pcall(s.upload, s, { data = small }, { host = "127.0.0.1", port = dev.port,
    timeouts = { min_rate = -1 } })
  eq(okc, false); ok(tostring(err):find("min_rate", 1, true), tostring(err))
end)

test("fit report: firmware sent as filesystem", function()
  local r = espota.check({ data = fw }, { layout = "1M256", target = "fs" })
  eq(r.verdict, "refused", "verdict"); eq(r.ok, false)
  eq(r.device_error, 4, "device error"); eq(r.when, "before-data", "when")
  ok(r.mistakes.FIRMWARE_AS_FS, "FIRMWARE_AS_FS"); eq(r.limit, 262144, "limit"); eq(r.shrink_by, 329008 - 262144)
  ok(tostring(r):find("Verdict:"), "tostring is the report")
  local good = espota.check({ data = fw }, { board = "esp01_1m", running_size = 329008 })
  ok(good.ok, good.summary)
  ok(not pcall(espota.check, fw, { layout = "nope" }), "unknown layout raises")
  local info = espota.inspect({ data = fw })
  eq(info.kind, "esp8266-arduino"); eq(#info.segments, 5); eq(info.checksum_ok, true)
  local none, m, c = espota.inspect({ data = string.rep("\xe9", 100) })
  eq(none, nil); eq(c, espota.EIMAGE, "broken image code")
  ok(#espota.layouts() > 0 and #espota.boards() > 0, "tables")
end)

test("preflight decision: the library's policy", function()
  local r0 = espota.check({ data = fw }, { board = "sonoff", running_size = "329008" })
  eq(r0.decision, "send", "facts given: send")
  local r1 = espota.check({ data = fw }, { layout = "1M256", target = "fs" })
  eq(r1.decision, "refuse", "firmware as filesystem: refused on facts")
  local warned = {}
  local saved = warn
  warn = function(...) warned[#warned + 1] = table.concat({ ... }) end
  local okc, r2 = pcall(espota.check, { data = fw }, { board = "d1_mini_pr" })
  warn = saved
  ok(okc and r2.decision == "warn", "unknown board: checked, a warning")
  ok(warned[1] and warned[1]:find("did you mean d1_mini_pro", 1, true), "near miss warned")
  ok(not pcall(espota.check, { data = fw }, { layout = "1M64", running_size = "12Q" }), "bad size raises")
  eq(type(r0.decision_notes), "table", "notes"); eq(r0.running_size_max, 0, "running_size_max")
end)

test("preflight: NoFit with the report", function()
  local dev = H.sim()
  local s <close> = espota.session()
  local res, msg, code, err = s:upload({ data = fw }, { host = "127.0.0.1", port = dev.port, target = "fs",
    fit = { layout = "1M256", target = "fs" } })
  eq(code, espota.ENOFIT, "code"); eq(err.report.device_error, 4, "report")
end)

-- An unknown board is a warning (Lua's warn channel), never an error: the upload
-- goes ahead with what the image and the device tell; strict = true refuses.
local function capture_warnings(f)
  local warned, saved = {}, warn
  warn = function(...) warned[#warned + 1] = table.concat({ ... }) end
  local r = table.pack(pcall(f))
  warn = saved
  if not r[1] then error(r[2], 0) end
  return warned, table.unpack(r, 2, r.n)
end

test("unknown board warns and uploads", function()
  local dev = H.sim({ "--layout", "1M64", "--chip-size", "1M" })
  local warned, res, msg = capture_warnings(function()
    return espota.upload({ data = fw }, { host = "127.0.0.1", port = dev.port, fit = { board = "no_such_board_xyz" } })
  end)
  ok(res, msg)
  ok(warned[1] and warned[1]:find("unknown board 'no_such_board_xyz'", 1, true), "warned")
  ok(dev.app_image() == fw, "byte-exact")
end)

test("unknown board with strict refuses", function()
  local dev = H.sim({ "--layout", "1M64", "--chip-size", "1M" })
  local warned, res, msg, code, err = capture_warnings(function()
    return espota.upload({ data = fw }, { host = "127.0.0.1", port = dev.port,
      fit = { board = "no_such_board_xyz", strict = true } })
  end)
  eq(res, nil); eq(code, espota.ENOFIT, "refused before any data")
  eq(err.report.decision, "refuse", "decision"); eq(#warned, 1, "warned once")
end)

test("device error decoded", function()
  local dev = H.sim({ "--chip-size", "1M", "--header-flash-size", "4M" })
  local res, msg, code, err = espota.upload({ data = fw }, { host = "127.0.0.1", port = dev.port })
  eq(res, nil); eq(code, espota.EREFUSED, "code")
  eq(err.device.code, 8, "device code"); ok(#err.device.explanation > 0, "explanation")
end)

test("argument errors raise", function()
  local s <close> = espota.session()
  ok(not pcall(s.upload, s, { data = small }, { port = 1 }), "host required")
  ok(not pcall(s.upload, s, { data = small }, { host = "x", target = "flash" }), "bad target")
  ok(not pcall(s.upload, s, { data = small }, { host = "x", bogus = 1 }), "unknown option")
  ok(not pcall(s.upload, s, 42, { host = "x" }), "bad image")
  ok(not pcall(s.upload, s, { data = small }, { host = "x", progress = 3 }), "bad callback")
  s:close()
  ok(not pcall(s.upload, s, { data = small }, { host = "x" }), "closed session")
end)

test("200 uploads: no registry or memory growth", function()
  local dev = H.sim({ "--password", "pw" })
  local s <close> = espota.session()
  local function progress(p) end
  local function auth() return "pw" end
  local boom = {}
  local function loop(n)
    for _ = 1, n do
      assert(s:upload({ data = small }, { host = "127.0.0.1", port = dev.port, progress = progress, auth = auth }))
      local okk, e = pcall(s.upload, s, { data = small }, { host = "127.0.0.1", port = dev.port, password = "pw",
        progress = function(p) if p.phase == "done" then error(boom) end end })
      assert(not okk and e == boom)
      assert(select(3, s:upload({ data = small }, { host = "127.0.0.1", port = dev.port, password = "bad" })) == espota.EAUTH)
    end
  end
  local function registry_size()
    local n = 0
    for _ in pairs(debug.getregistry()) do n = n + 1 end
    return n
  end
  loop(20)
  collectgarbage("collect"); collectgarbage("collect")
  local reg, mem = registry_size(), collectgarbage("count")
  loop(200)
  collectgarbage("collect"); collectgarbage("collect")
  eq(registry_size(), reg, "registry entries")
  ok(collectgarbage("count") - mem < 512, "Lua heap grew by " .. (collectgarbage("count") - mem) .. " KiB")
end)

-- ---- fleets: s:upload_many ------------------------------------------------

test("upload_many: five devices byte-exact, progress and done per index", function()
  local dev = H.sim({ "--count", "5" })
  local s <close> = espota.session()
  local devices, phases, done = {}, {}, {}
  for i, p in ipairs(dev.ports) do
    devices[i] = { host = "127.0.0.1", port = p }
  end
  local res = s:upload_many({ data = fw }, devices, { max_concurrent = 3,
    progress = function(i, p) phases[i] = p.phase end,
    done = function(i, r) done[#done + 1] = i; assert(r.ok and r.index == i) end })
  eq(#res, 5, "results")
  for i, r in ipairs(res) do
    ok(r.ok, r.message); eq(r.code, 0, "code"); eq(r.index, i, "index"); eq(r.port, dev.ports[i], "port")
    eq(r.attempts, 1, "attempts"); eq(r.stats.phase, "done", "phase"); eq(r.stats.acked, #fw, "acked")
    eq(phases[i], "done", "last progress phase")
    ok(dev.app_image(i - 1) == fw, "image " .. i .. " differs")
  end
  table.sort(done); eq(table.concat(done, ","), "1,2,3,4,5", "done callbacks")
end)

test("upload_many: one failing device, a retry, per-device passwords", function()
  local dev = H.sim({ "--count", "3", "--password", "pw", "--fault", "no-invite-reply@1",
    "--fault", "drop-after=4096@2*1" })
  local devs = {}
  for i, p in ipairs(dev.ports) do devs[i] = { host = "127.0.0.1", port = p, password = "pw" } end
  local res = espota.upload_many({ data = small }, devs, { retries = 1, chunk = 512, window = 1024,
    timeouts = { invite = 0.3, invite_attempts = 1 } })
  ok(res[1].ok, res[1].message); eq(res[1].attempts, 1, "attempts 1")
  eq(res[2].ok, false, "device 2 fails"); eq(res[2].name, "ESPOTA_ETIMEOUT", "name")
  eq(res[2].code, espota.ETIMEOUT, "code"); ok(#res[2].message > 0, "message")
  ok(res[3].ok, res[3].message); eq(res[3].attempts, 2, "retried")
  ok(dev.app_image(0) == small and dev.app_image(2) == small, "images")
  -- a wrong password fails that device only
  devs[1].password = "bad"
  res = espota.upload_many({ data = small }, { devs[1], devs[3] })
  eq(res[1].code, espota.EAUTH, "wrong password"); ok(res[2].ok, "other device")
end)

test("upload_many: a callback error is re-raised as the original object", function()
  local dev = H.sim({ "--count", "2" })
  local s <close> = espota.session()
  local boom = setmetatable({}, { __tostring = function() return "boom" end })
  for _, where in ipairs { "progress", "done" } do
    local o = {}
    o[where] = function(i) if i == 2 then error(boom) end end
    local okk, e = pcall(s.upload_many, s, { data = small }, { { host = "127.0.0.1", port = dev.ports[1] },
      { host = "127.0.0.1", port = dev.ports[2] } }, o)
    ok(not okk and e == boom, where .. ": got " .. tostring(e))
    ok(s.traceback and s.traceback:find("traceback"), "traceback kept")
  end
  ok(s:upload_many({ data = small }, { { host = "127.0.0.1", port = dev.ports[1] } })[1].ok, "session reusable")
end)

test("upload_many: progress false stops one device; argument errors raise", function()
  local dev = H.sim({ "--count", "2" })
  local res = espota.upload_many({ data = fw }, { { host = "127.0.0.1", port = dev.ports[1] },
    { host = "127.0.0.1", port = dev.ports[2] } }, { progress = function(i) if i == 1 then return false end end })
  eq(res[1].name, "ESPOTA_ECANCELLED", "stopped"); ok(res[2].ok, "other device")
  for _, bad in ipairs {
    { {}, {} }, { { 42 }, {} }, { { { host = "h", pw = 1 } }, {} }, { { { host = "h", port = 70000 } }, {} },
    { { "h" }, { retries = -1 } }, { { "h" }, { device_timeout = 0 } }, { { "h" }, { max_concurrent = 0 } },
    { { "h" }, { host = "h" } }, { { "h" }, { done = 3 } },
  } do
    ok(not pcall(espota.upload_many, { data = small }, bad[1], bad[2]), "should raise")
  end
  -- nothing can start (the fit preflight refuses): nil, message, code, err
  local r, msg, code, err = espota.upload_many({ data = fw }, { "127.0.0.1" }, { target = "fs", fit = { layout = "1M256" } })
  eq(r, nil); eq(code, espota.ENOFIT, "code"); ok(err.report, "report")
end)

-- Paths go through the library's reader (issue 14): a directory, a FIFO or a
-- device is refused with a message naming it; the old read_file returned
-- nil, nil, EIO for a directory and hung on a FIFO. The FIFO and /dev/zero
-- run in a child bounded by `timeout 10` and a 2 GiB address space.
test("upload_file and read_file refuse what is not a regular file", function()
  local base = os.tmpname(); os.remove(base)
  assert(os.execute("mkdir " .. base .. " && mkdir " .. base .. "/dir && mkfifo " .. base .. "/fifo"))
  local s <close> = espota.session()
  local r, msg, code, err = s:upload_file(base .. "/dir", { host = "127.0.0.1", port = 9 })
  eq(r, nil); eq(code, espota.EINVAL, "code"); eq(err.name, "ESPOTA_EINVAL", "name")
  eq(msg, base .. "/dir is a directory, not a regular file", "message")
  eq(err.message, msg, "err.message")
  local d, m, c = espota.read_file(base .. "/dir")
  eq(d, nil); eq(c, espota.EINVAL, "read_file code"); ok(m and m:find("is a directory", 1, true), m)
  eq(espota.FILE_MAX, 64 * 1024 * 1024, "FILE_MAX")
  local lua = arg[-1] or "lua5.4"
  for _, case in ipairs { { base .. "/fifo", "is a FIFO (named pipe), not a regular file" },
                          { "/dev/zero", "is a character device, not a regular file" } } do
    local script = string.format("local e = require 'espota'; local s = e.session(); "
      .. "local r, m = s:upload_file(%q, { host = '127.0.0.1', port = 9 }); io.write(tostring(m))", case[1])
    -- no address-space limit under a preloaded sanitizer (it reserves terabytes)
    local limit = (os.getenv("LD_PRELOAD") or ""):find("libasan", 1, true) and "" or "ulimit -v 2097152; "
    local p = io.popen(string.format("%stimeout 10 %s -e %q 2>&1", limit, lua, script))
    local out = p:read("a"); p:close()
    eq(out, case[1] .. " " .. case[2], "child message")
  end
  os.execute("rm -rf " .. base)
end)

-- Module hygiene (docs/bindings.md, "Lua"): require sets no global, and the
-- module table holds exactly the documented API.
local DOCUMENTED = {
  "version", "strerror", "error_name", "error_retryable", "read_file", "FILE_MAX", "layouts", "boards", "inspect", "check",
  "session", "upload", "upload_many", "Session", "discover", "resolve_local", "multi", "WAIT_READ", "WAIT_WRITE", "WAIT_ERROR",
  "OK", "ERROR", "EINVAL", "ENOMEM", "EIO", "ETIMEOUT", "EREFUSED", "EAUTH", "EPROTO", "EIMAGE", "ENOFIT",
  "EUSER", "ECANCELLED", "ERESOLVE", "ECLOSED",
}

test("require sets no global; pairs(espota) is the documented API", function()
  eq(_G.espota, nil, "_G.espota")
  for k in pairs(_G) do ok(globals_before[k], "require added the global " .. tostring(k)) end
  eq(require "espota", espota, "require returns the same table")
  local want, got = {}, {}
  for _, n in ipairs(DOCUMENTED) do want[n] = true end
  for k in pairs(espota) do
    ok(want[k], "undocumented name in the module: " .. tostring(k))
    got[k] = true
  end
  for n in pairs(want) do ok(got[n], "documented name missing: " .. n) end
  eq(getmetatable(espota), nil, "no SWIG metatable on the module")
  eq(espota.espota_session, nil, "SWIG wrappers are private")
end)

test("check/inspect/upload: a string is a path, {data = ...} is the image", function()
  local dir = os.tmpname(); os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  local path = dir .. "/fw300k.bin"
  local f = io.open(path, "wb"); f:write(fw); f:close()
  -- the path is read, not taken as 10 bytes of image
  local r = espota.check(path, { board = "esp01_1m", running_size = 329008 })
  ok(r and r.ok, r and r.summary); eq(r.source, "path", "source"); eq(r.image.file_size, #fw, "size of the file")
  eq(espota.check({ data = fw }, { board = "esp01_1m", running_size = 329008 }).source, "data")
  eq(espota.inspect(path).kind, "esp8266-arduino", "inspect(path)")
  -- a name that is no file: nil, message, code, never a verdict about its bytes
  local none, msg, code = espota.check(dir .. "/missing.bin", { layout = "1M64" })
  eq(none, nil); eq(code, espota.EIO, "missing file"); ok(msg and msg:find("missing.bin", 1, true), msg)
  none, msg, code = espota.check(dir, { layout = "1M64" })
  eq(none, nil); eq(code, espota.EINVAL, "directory"); ok(msg and msg:find("is a directory", 1, true), msg)
  local s <close> = espota.session()
  local res, m2, c2, err = s:upload(dir, { host = "127.0.0.1", port = 9 })
  eq(res, nil); eq(c2, espota.EINVAL, "upload(dir) code"); ok(type(m2) == "string" and #m2 > 0, "message present")
  eq(err.message, m2, "err.message"); eq(err.name, "ESPOTA_EINVAL", "err.name")
  ok(not pcall(espota.check, { bytes = fw }, {}), "unknown key raises")
  ok(not pcall(espota.check, { data = 42 }, {}), "non-string data raises")
  ok(not pcall(espota.check, 42, {}), "a number raises")
  -- upload(path) sends the file
  local dev = H.sim()
  res, m2 = s:upload(path, { host = "127.0.0.1", port = dev.port })
  ok(res, m2); eq(res.source, "path", "result source"); ok(dev.app_image() == fw, "uploaded the file's bytes")
  os.execute("rm -rf " .. dir)
end)

test("errors carry advice; a recent success says the device is probably rebooting", function()
  local s <close> = espota.session()
  local dev = H.sim({ "--password", "pw" })
  local res, msg, code, err = s:upload({ data = small }, { host = "127.0.0.1", port = dev.port })
  eq(code, espota.EAUTH, "no password"); ok(type(err.advice) == "table" and #err.advice >= 1, "advice list")
  ok(err.advice[1]:find("none was given", 1, true), err.advice[1])
  ok(not err.advice[1]:find("--auth-env", 1, true), "library wording, not CLI options")
  ok(not msg:find("callback", 1, true), msg)
  ok(s:upload({ data = small }, { host = "127.0.0.1", port = dev.port, password = "pw" }))
  local port = dev.port
  dev.stop()
  -- the port is closed now: the kernel's port unreachable ends it at once
  local t0 = os.time()
  res, msg, code, err = s:upload({ data = small }, { host = "127.0.0.1", port = port, password = "pw" })
  eq(code, espota.EIO, msg); ok(os.time() - t0 <= 2, "fast")
  local all = table.concat(err.advice, "\n")
  ok(all:find("probably still rebooting", 1, true), all)
  ok(all:find("nothing listens on UDP port " .. port, 1, true), all)
end)

H.run()
