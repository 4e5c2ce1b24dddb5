-- Uploads from a luv (libuv) event loop through espota's step API: no
-- blocking call, no thread; other work on the same loop goes on meanwhile.
--
--   lua5.4 examples/lua/multi_luv.lua firmware.bin 192.168.1.50 192.168.1.51:8266 ...
--
-- The loop watches the descriptors m:fds() names with uv poll handles and
-- the m:timeout() deadline with a uv timer, and tells the handle what became
-- ready with m:action(). A descriptor's (fd, serial) pair is its identity:
-- libespota closes a finished upload's sockets inside m:action(), and the
-- same number can come back as a new socket, so a changed serial means "stop
-- the old poll handle, start a new one" (libuv must never be left polling a
-- number that was closed under it).
local espota = require("espota")
local uv = require("luv")

local READ, WRITE, ERR = espota.WAIT_READ, espota.WAIT_WRITE, espota.WAIT_ERROR

--- drive(m, on_done): run every upload of multi handle `m` on the luv loop;
--- on_done(id, result) for each as it finishes; returns when all are done.
local function drive(m, on_done)
  local polls, timer, step = {}, uv.new_timer(), nil

  local function sync()
    local want = {}
    for _, w in ipairs(m:fds()) do want[w.fd] = w end
    for fd, p in pairs(polls) do
      local w = want[fd]
      if not w or w.serial ~= p.serial then
        p.h:stop(); p.h:close(); polls[fd] = nil
      end
    end
    for fd, w in pairs(want) do
      local ev = (w.events & WRITE ~= 0) and "rw" or "r"
      local p = polls[fd]
      if not p then
        p = { serial = w.serial, h = uv.new_poll(fd) }
        polls[fd] = p
      end
      if p.ev ~= ev then
        p.ev = ev
        p.h:start(ev, function(err, events)
          local e = err and ERR or 0
          if events and events:find("r", 1, true) then e = e | READ end
          if events and events:find("w", 1, true) then e = e | WRITE end
          m:action(fd, e)
          step()
        end)
      end
    end
    timer:stop()
    local ms = m:timeout()
    if ms >= 0 then timer:start(ms, 0, function() m:action(); step() end) end
  end

  step = function()
    while true do
      local id, r = m:done()
      if not id then break end
      on_done(id, r)
    end
    if m:running() > 0 then return sync() end
    for fd, p in pairs(polls) do p.h:stop(); p.h:close(); polls[fd] = nil end
    timer:stop()
    if not timer:is_closing() then timer:close() end
  end

  step()
  uv.run()
end

local function main(argv)
  if #argv < 2 or argv[1] == "--help" then
    print("usage: multi_luv.lua IMAGE HOST[:PORT]...")
    return argv[1] == "--help" and 0 or 2
  end
  local m <close> = espota.multi()
  local hosts, failed = {}, 0
  for i = 2, #argv do
    local host, port = argv[i]:match("^(.-):(%d+)$")
    host, port = host or argv[i], tonumber(port)
    hosts[m:upload(argv[1], { host = host, port = port })] = argv[i]
  end
  drive(m, function(id, r)
    print(string.format("%s: %s", hosts[id], r.ok and "done" or (r.name .. ": " .. r.message)))
    if not r.ok then failed = failed + 1 end
  end)
  return failed == 0 and 0 or 1
end

if arg and arg[0] and arg[0]:match("multi_luv%.lua$") then os.exit(main(arg)) end
return { drive = drive }
