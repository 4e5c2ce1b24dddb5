-- Tiny test harness, espota-sim control and synthetic images for the Lua
-- binding tests (plain lua5.4; no external modules).
local H = {}

-- assertions ---------------------------------------------------------------
local tests, failed = {}, 0
function H.test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
function H.eq(a, b, what)
  if a ~= b then error(string.format("%s: expected %s, got %s", what or "value", tostring(b), tostring(a)), 2) end
end
function H.ok(v, what) if not v then error((what or "assertion failed"), 2) end return v end
function H.run()
  for _, t in ipairs(tests) do
    local ok, err = xpcall(t.fn, debug.traceback)
    if ok then print("ok   " .. t.name) else failed = failed + 1; print("FAIL " .. t.name .. "\n" .. tostring(err)) end
    H.cleanup()
  end
  print(string.format("%d tests, %d failed", #tests, failed))
  os.exit(failed == 0 and 0 or 1)
end

-- espota-sim ---------------------------------------------------------------
local SIM = os.getenv("ESPOTA_SIM") or "espota-sim"
local running = {}

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function read_all(path)
  local f = io.open(path, "rb"); if not f then return nil end
  local d = f:read("a"); f:close(); return d
end
H.read_all = read_all

--- start{...args} -> sim {port, ports, addresses, dir, pid, app_image(i), fs_image(i), log()}
function H.sim(args, fast)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. sh_quote(dir .. "/out")))
  local argv = { SIM, "--platform", "esp8266", "--port", "0", "--lifetime", "120" }
  if fast ~= false then argv[#argv + 1] = "--fast" end
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  for _, a in ipairs { "--ready-file", dir .. "/ready", "--log", dir .. "/log.jsonl", "--out-dir", dir .. "/out" } do
    argv[#argv + 1] = a
  end
  local q = {}
  for i, a in ipairs(argv) do q[i] = sh_quote(a) end
  local p = io.popen(table.concat(q, " ") .. " >" .. sh_quote(dir .. "/stdout") .. " 2>&1 & echo $!")
  local pid = tonumber(p:read("l")); p:close()
  local sim = { dir = dir, pid = pid, ports = {}, addresses = {} }
  running[#running + 1] = sim
  for _ = 1, 500 do
    local ready = read_all(dir .. "/ready")
    if ready and ready:find("\n") then
      for idx, addr, port in ready:gmatch("(%-?%d+) (%S+) (%d+)\n") do
        if idx == "-1" and addr == "mdns" then -- the --mdns responder's port
          sim.mdns_port = tonumber(port)
        else
          sim.addresses[#sim.addresses + 1] = addr
          sim.ports[#sim.ports + 1] = tonumber(port)
        end
      end
      break
    end
    os.execute("sleep 0.01")
  end
  assert(#sim.ports > 0, "espota-sim did not become ready: " .. tostring(read_all(dir .. "/stdout")))
  sim.port, sim.address = sim.ports[1], sim.addresses[1]
  function sim.app_image(i) return read_all(dir .. "/out/" .. (i and ("dev" .. i .. "/") or "") .. "app.bin") end
  function sim.fs_image(i) return read_all(dir .. "/out/" .. (i and ("dev" .. i .. "/") or "") .. "fs.bin") end
  --- stop the device and wait (at most 2 s) until its process is gone
  function sim.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 200 do
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
      os.execute("sleep 0.01")
    end
  end
  return sim
end

function H.cleanup()
  for _, s in ipairs(running) do
    os.execute("kill " .. s.pid .. " 2>/dev/null; rm -rf " .. sh_quote(s.dir))
  end
  running = {}
end

-- images (tests/unit/fit_builders.h, tests/bindings/python/images.py) ------
local function fill(n, seed)
  local x = (seed * 2654435761 + 1) & 0xFFFFFFFF
  local out = {}
  for i = 1, n do
    x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    out[i] = string.char((x >> 16) & 0xFF)
  end
  return table.concat(out)
end

local function v1(segs, mode, size_freq, entry)
  local parts = { string.pack("<BBBBI4", 0xE9, #segs, mode, size_freq, entry) }
  local len, ck = 8, 0xEF
  for i, s in ipairs(segs) do
    local data = fill(s[2], i)
    for k = 1, #data do ck = ck ~ data:byte(k) end
    parts[#parts + 1] = string.pack("<I4I4", s[1], s[2]) .. data
    len = len + 8 + s[2]
  end
  local stop = (len + 16) & ~15
  parts[#parts + 1] = string.rep("\0", stop - len - 1) .. string.char(ck)
  return table.concat(parts)
end

--- Arduino-ESP8266 .bin of exactly `total` bytes (multiple of 16).
function H.arduino_esp8266(total, size_code)
  size_code = size_code or 2
  local eboot = v1({ { 0x4010F000, 1280 }, { 0x3FFFA000, 64 } }, 3, size_code << 4, 0x4010F000)
  eboot = eboot .. string.rep("\xaa", 0x1000 - #eboot)
  local irom = total - 0x1000 - 8 - 40 - 7800 - 1 - (total // 16) % 16
  local app = v1({ { 0x40201010, irom }, { 0x40100000, 4000 }, { 0x40101000, 1000 }, { 0x3FFE8000, 800 },
    { 0x3FFE8400, 2000 } }, 3, size_code << 4, 0x40100000)
  local img = eboot .. app
  assert(#img == total, #img)
  return img
end

return H
