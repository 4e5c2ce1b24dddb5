#!/usr/bin/env lua5.4
-- Upload a firmware or filesystem image over ArduinoOTA with a progress
-- bar; with --layout/--board, run the flash-fit check first.
-- The same program as examples/c/espota-upload.c and
-- examples/python/espota_upload.py.
--
--   lua5.4 espota_upload.lua 192.168.1.50 firmware.bin --password secret --board nodemcuv2
local espota = require "espota"

local USAGE = [[
usage: espota_upload.lua HOST FILE [-p PORT] [-a PASSWORD] [-s] [--layout L] [--board B] [--force]
  -p, --port N        device UDP port (default 8266, 3232 for esp32)
  -a, --password PW   OTA password
  -s, --fs            filesystem image
  --layout L          ESP8266 layout of the running firmware (e.g. 4M2M)
  --board B           board alias (e.g. nodemcuv2, esp32dev)
  --force             upload even when the fit check says it will fail]]

local opts, pos, i = {}, {}, 1
while i <= #arg do
  local a = arg[i]
  local function value() i = i + 1; return arg[i] or error("missing value for " .. a) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "-p" or a == "--port" then opts.port = math.tointeger(tonumber(value()))
  elseif a == "-a" or a == "--password" then opts.password = value()
  elseif a == "-s" or a == "--fs" or a == "--spiffs" then opts.fs = true
  elseif a == "--layout" then opts.layout = value()
  elseif a == "--board" then opts.board = value()
  elseif a == "--force" then opts.force = true
  else pos[#pos + 1] = a end
  i = i + 1
end
if #pos ~= 2 then io.stderr:write(USAGE, "\n") os.exit(2) end
local host, file = pos[1], pos[2]
local target = opts.fs and "fs" or "app"

-- A string is a path; {data = bytes} would pass the image itself.
if opts.layout or opts.board then
  local report, err = espota.check(file, { layout = opts.layout, board = opts.board, target = target })
  if not report then io.stderr:write(err, "\n") os.exit(1) end
  io.stderr:write(tostring(report), "\n")
  if report.verdict == "refused" and not opts.force then
    io.stderr:write("not uploading: the device would refuse this image (use --force to try anyway)\n")
    os.exit(2)
  end
end

local function progress(p)
  local width = 40
  local frac = p.acked / p.total
  local done = math.floor(width * frac)
  io.stderr:write(string.format("\r%-12s [%s%s] %3d%% %d/%d", p.phase, string.rep("#", done),
    string.rep(".", width - done), math.floor(frac * 100), p.acked, p.total))
  if p.phase == "done" then io.stderr:write("\n") end
end

local s <close> = espota.session()
local res, msg, code, info = s:upload(file, { host = host, port = opts.port, target = target,
  password = opts.password, progress = progress })
if not res then
  if info and info.device then
    io.stderr:write(string.format("\nthe device refused the update: error %d (%s): %s\n%s\n",
      info.device.code, info.device.name, info.device.text, info.device.explanation))
  else
    io.stderr:write(string.format("\nupload failed (%s, phase %s): %s\n", espota.error_name(code),
      info and info.phase or "?", msg))
  end
  for _, line in ipairs(info and info.advice or {}) do io.stderr:write("hint: ", line, "\n") end
  os.exit(1)
end
io.stderr:write(string.format("uploaded %d bytes in %.1f s\n", res.total, res.elapsed))
