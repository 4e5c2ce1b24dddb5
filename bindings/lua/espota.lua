-- libespota for Lua 5.4: the natural API over the SWIG wrappers.
-- Compiled into espota.so (SWIG luacode) and run when the module loads;
-- `espota` is the module table SWIG has just registered (as a global, and
-- with swig_type/swig_equals globals: all three are taken back below).
--
--   local espota = require "espota"
--   local s <close> = espota.session()
--   local res, msg, code, err = s:upload("firmware.bin", {host = "192.168.1.50", password = "pw",
--       progress = function(p) io.write(p.acked, "/", p.total, "\r") end})
--   if not res then print("failed:", msg, code, err.name, err.advice[1]) end
--
-- Conventions (docs/bindings.md): an image is a path (a string), an
-- explicit {data = bytes} or an open file; runtime failures return
-- `nil, message, code, err` (err: {code, name, message, phase, stats,
-- device, report, advice}), the message never nil; argument/programming
-- errors raise; an error raised in a callback aborts the upload and is
-- re-raised unchanged.

local tointeger, type, pairs, ipairs, error, setmetatable = math.tointeger, type, pairs, ipairs, error, setmetatable
local rawget, rawset, next, getmetatable = rawget, rawset, next, getmetatable

-- `M` is the table require returns: only the documented API. The SWIG
-- wrappers move to the private `C` (with the SWIG metatable, which serves
-- their variables); nothing of them stays reachable from M.
local M = espota
local C = {}
for k, v in next, M do C[k] = v end
for k in pairs(C) do rawset(M, k, nil) end
setmetatable(C, getmetatable(M))
setmetatable(M, nil)
-- SWIG registered these globals; a module sets none (lua-cjson, luasocket).
for _, g in ipairs { "espota", "swig_type", "swig_equals" } do
  if rawget(_G, g) == M or (g ~= "espota" and rawget(_G, g) ~= nil and type(rawget(_G, g)) == "function") then
    rawset(_G, g, nil)
  end
end

local function int(x)
  if type(x) == "number" then return tointeger(x) or x end
  return x
end

M.version = C.espota_version_string()

--- Error codes as M.OK, M.EAUTH, ...
local CODES = { "OK", "ERROR", "EINVAL", "ENOMEM", "EIO", "ETIMEOUT", "EREFUSED", "EAUTH", "EPROTO",
  "EIMAGE", "ENOFIT", "EUSER", "ECANCELLED", "ERESOLVE", "ECLOSED" }
for _, n in ipairs(CODES) do M[n] = int(C["ESPOTA_" .. n]) end

function M.strerror(code) return C.espota_strerror(code) end
function M.error_name(code) return C.espota_error_name(code) end
--- True when trying the same upload again may succeed (the library's rule).
function M.error_retryable(code) return C.espota_error_retryable(code) ~= 0 end

-- Names are the library's (espota_platform_name, espota_auth_scheme_name).
local PLATFORMS, PLATFORM_NAMES = {}, {}
for _, p in ipairs({ int(C.ESPOTA_PLATFORM_ESP8266), int(C.ESPOTA_PLATFORM_ESP32) }) do
  PLATFORMS[C.espota_platform_name(p)], PLATFORM_NAMES[p] = p, C.espota_platform_name(p)
end
local TARGETS = { app = int(C.ESPOTA_TARGET_APP), fs = int(C.ESPOTA_TARGET_FS) }
local TRANSFERS = { pipelined = int(C.ESPOTA_TRANSFER_PIPELINED), ["stop-and-wait"] = int(C.ESPOTA_TRANSFER_STOP_AND_WAIT),
  stream = int(C.ESPOTA_TRANSFER_STREAM) }
local AUTH_MODES = { auto = int(C.ESPOTA_AUTH_MODE_AUTO), sha256 = int(C.ESPOTA_AUTH_MODE_SHA256), md5 = int(C.ESPOTA_AUTH_MODE_MD5) }
local SCHEMES = {}
for _, s in ipairs({ int(C.ESPOTA_AUTH_MD5), int(C.ESPOTA_AUTH_PBKDF2_SHA256), int(C.ESPOTA_AUTH_PBKDF2_MD5) }) do
  SCHEMES[s] = C.espota_auth_scheme_name(s)
end
local WHEN = { [int(C.ESPOTA_FIT_WHEN_BEFORE_DATA)] = "before-data", [int(C.ESPOTA_FIT_WHEN_FIRST_BLOCK)] = "first-block",
  [int(C.ESPOTA_FIT_WHEN_AFTER_UPLOAD)] = "after-upload", [int(C.ESPOTA_FIT_WHEN_DURING_UPLOAD)] = "during-upload" }

local function flags(prefix)
  local t = {}
  for k, v in pairs(C) do
    if type(k) == "string" and k:sub(1, #prefix) == prefix then t[k:sub(#prefix + 1)] = int(v) end
  end
  return t
end
local MISTAKES, ASSUMPTIONS, WARNINGS = flags("ESPOTA_FIT_MISTAKE_"), flags("ESPOTA_FIT_ASSUME_"), flags("ESPOTA_FIT_WARN_")

local function names(bits, tbl)
  local set = {}
  for name, bit in pairs(tbl) do
    if bits & bit ~= 0 then set[name] = true end
  end
  return set
end

local function choice(what, value, tbl, default)
  if value == nil then return default end
  local v = tbl[value]
  if v == nil then
    local keys = {}
    for k in pairs(tbl) do keys[#keys + 1] = string.format("%q", k) end
    table.sort(keys)
    error(string.format("%s: expected one of %s, got %s", what, table.concat(keys, ", "), tostring(value)), 3)
  end
  return v
end

-- Sizes are integers (bytes) or strings like "1M" (parsed by the library).
local function size_arg(what, value, level)
  if value == nil then return nil end
  if math.type(value) == "integer" and value >= 0 then return tostring(value) end
  if type(value) == "string" then return value end
  error(string.format("%s: expected bytes or a size like '1M', got %s", what, tostring(value)), level + 1)
end

local function opt_str(v)
  if v == nil then return nil end
  return tostring(v)
end

--- read_file(path) -> data | nil, message, code: the library's reader
--- (espota_file_read): regular files only, at most espota.FILE_MAX bytes;
--- a FIFO, directory or device is refused with a message naming it.
local function read_file(path)
  if type(path) ~= "string" then error("path: expected a string, got " .. type(path), 2) end
  local data, msg, code = C._file_read(path)
  if data then return data end
  code = int(code) or int(C.ESPOTA_EIO)
  return nil, msg or (path .. ": " .. C.espota_strerror(code)), code
end
M.read_file = read_file

-- An image argument: a path (string), {data = bytes} or an open file.
-- Returns data, source ("path", "data" or "file"); a path that cannot be
-- read returns nil, message, code. Anything else raises.
local function image_data(image, level)
  local t = type(image)
  if t == "string" then
    local data, msg, code = read_file(image)
    if not data then return nil, msg, code end
    return data, "path"
  elseif t == "table" and getmetatable(image) == nil then
    for k in pairs(image) do
      if k ~= "data" then error("image: unknown key '" .. tostring(k) .. "' (expected {data = <string>})", level + 1) end
    end
    if type(image.data) ~= "string" then
      error("image: {data = ...} must hold a string, got " .. type(image.data), level + 1)
    end
    return image.data, "data"
  elseif io.type(image) == "file" then
    local data, err = image:read("a")
    if not data then error("image: " .. tostring(err), level + 1) end
    return data, "file"
  end
  error("image: expected a path (string), {data = <string>} or an open file, got " .. t, level + 1)
end

-- The err table of a failure that happened before anything was sent.
local function early(msg, code)
  return nil, msg, code, { code = code, name = C.espota_error_name(code), message = msg, advice = {} }
end
M.FILE_MAX = int(C.espota_file_max())

function M.layouts()
  local out = {}
  for i = 0, int(C.espota_layout_count()) - 1 do
    local l = C.espota_layout_at(i)
    out[#out + 1] = { name = l.name, ld_script = l.ld_script, flash_size = int(l.flash_size),
      fs_start = int(l.fs_start), fs_end = int(l.fs_end), fs_block = int(l.fs_block), irom0_max = int(l.irom0_max) }
  end
  return out
end

function M.boards()
  local out = {}
  for i = 0, int(C.espota_board_count()) - 1 do
    local b = C.espota_board_at(i)
    out[#out + 1] = { name = b.name, description = b.description, platform = PLATFORM_NAMES[int(b.platform)],
      flash_size = int(b.flash_size), layout = b.layout, flash_mode = int(b.flash_mode) }
  end
  return out
end

-- Advice text ("- a\n  more\n- b\n") as a list {"a more", "b"}: the
-- same items as the CLI's JSON "advice".
local function lines(text)
  local out = {}
  for l in (text or ""):gmatch("[^\n]+") do
    local cont = l:match("^%s") ~= nil
    l = l:gsub("^%s+", "")
    if not cont then l = l:gsub("^%- ", "") end
    if l ~= "" then
      if cont and #out > 0 then out[#out] = out[#out] .. " " .. l else out[#out + 1] = l end
    end
  end
  return out
end

-- Devices that confirmed an update in this process ("host port" ->
-- os.time()), for the "probably still rebooting" advice. In-process, not a
-- file: a Lua program's uploads share one process, and a library should
-- not write files its caller did not ask for.
local recent = {}
local function since_success_ms(host, port)
  local t = recent[host .. " " .. tostring(port)]
  if not t then return 0 end
  return (os.time() - t) * 1000 + 1
end

local function advice(rc, s, call, host, port, since)
  local text = C.espota_swig_hint(rc, s, call.target, call._hint.password_given and 1 or 0, host, port,
    (call.bind_address or (call.bind_port or 0) ~= 0) and 1 or 0, since)
  return lines(text)
end

-- Images ---------------------------------------------------------------

local function image_info(obj)
  local raw = obj.info
  local segs = {}
  for i = 0, int(raw.segment_count) - 1 do
    local s = obj:segment(i)
    if s then segs[#segs + 1] = { addr = int(s.addr), len = int(s.len), offset = int(s.offset) } end
  end
  local ck = int(raw.checksum_ok)
  return {
    kind = C.espota_image_kind_name(raw.kind), platform = PLATFORM_NAMES[int(raw.platform)],
    file_size = int(raw.file_size), inner_size = int(raw.inner_size), gzip = raw.gzip ~= 0,
    signed = raw.is_signed ~= 0, signature_len = int(raw.signature_len), magic = int(raw.magic),
    flash_mode = int(raw.flash_mode), flash_size_code = int(raw.flash_size_code),
    flash_freq_code = int(raw.flash_freq_code), header_flash_size = int(raw.header_flash_size),
    app_offset = int(raw.app_offset), entry = int(raw.entry), segments = segs, app_end = int(raw.app_end),
    checksum_ok = (ck < 0) and nil or (ck == 1), irom0_len = int(raw.irom0_len), chip_id = int(raw.chip_id),
    hash_appended = raw.hash_appended ~= 0, detail = obj:detail(),
  }
end

-- parse(data) -> info, obj: obj holds the code, the facts (obj.info) and
-- the image object; keep it alive while obj.info is used.
local function parse(data)
  local obj = C.espota_swig_image(data)
  local rc = int(obj.rc)
  if rc ~= 0 then local d = obj:detail(); return nil, (d ~= "" and d or C.espota_strerror(rc)), rc end
  return image_info(obj), obj
end

--- inspect(image) -> info | nil, message, code. `image`: a path, {data = ...} or an open file.
function M.inspect(image)
  local data, src, code = image_data(image, 2)
  if not data then return nil, src, code end
  local info, msg, code2 = parse(data)
  if not info then return nil, msg, code2 end
  info.source = src
  return info
end

-- Flash-fit ----------------------------------------------------------------

-- Lua's warning channel (warn(), shown with `lua -W` or warn("@on")); looked
-- up at call time so that an application can route it.
local function warning(msg)
  local w = rawget(_G, "warn")
  if w then w("espota: ", msg) end
end

-- Build an espota_fit_device from {layout, board, target, platform, chip_size,
-- device_header_size, running_size, partitions, flash_map, atomic_fs,
-- signing_len, gzip_support, strict}. Raises on unknown layouts and bad
-- sizes; an unknown board is a warning (the check goes on with what the image
-- tells; strict = true refuses instead). Returns the device and the partition
-- table it points to (keep both alive).
local function fit_device(o, level, quiet)
  level = (level or 1) + 1
  o = o or {}
  if type(o) ~= "table" then error("fit: expected a table", level) end
  if o.partitions ~= nil and type(o.partitions) ~= "string" then
    error("partitions: expected a scheme name, CSV text or a binary table", level)
  end
  -- The board, layout, scheme, sizes and platform rules are the library's (device.h).
  local holder = C.espota_device()
  local err = C.espota_swig_device_describe(holder, opt_str(o.board), opt_str(o.layout), o.partitions or "",
    opt_str(o.platform), choice("target", o.target, TARGETS, TARGETS.app), size_arg("chip_size", o.chip_size, level),
    size_arg("device_header_size", o.device_header_size, level), size_arg("running_size", o.running_size, level),
    o.strict and 1 or 0)
  if err then error(err, level) end
  if not quiet and int(holder.fit.assumed) & int(C.ESPOTA_DEVICE_UNKNOWN_BOARD) ~= 0 then warning(holder.note) end
  local dev = holder.fit
  dev.flash_map = o.flash_map and 1 or 0
  dev.atomic_fs = o.atomic_fs and 1 or 0
  dev.signing_len = o.signing_len or 0
  dev.gzip_support = (o.gzip_support == nil) and -1 or (o.gzip_support and 1 or 0)
  return dev, holder
end

local Report = {}
Report.__index = Report
Report.__tostring = function(r) return r.text end

local function check(image, o, quiet)
  local dev, tbl = fit_device(o, 3, quiet)
  local data, src, rc0 = image_data(image, 3)
  if not data then return nil, src, rc0 end
  local info, raw, code = parse(data)
  if not info then return nil, raw, code end
  info.source = src
  local pre = C.espota_preflight()
  local rc = int(C.espota_preflight_run(pre, raw.info, dev))
  if rc ~= 0 then error(C.espota_strerror(rc), 3) end
  local r = pre.report
  local verdict = int(r.verdict)
  local rep = setmetatable({
    verdict = C.espota_fit_verdict_name(verdict),
    ok = verdict == int(C.ESPOTA_FIT_OK) or verdict == int(C.ESPOTA_FIT_WARN),
    device_error = int(r.device_error), device_error_text = r.device_error_text or "",
    when = WHEN[int(r.when)], mistakes = names(int(r.mistakes), MISTAKES),
    warnings = names(int(r.warnings), WARNINGS), assumptions = names(int(r.assumptions), ASSUMPTIONS),
    size = int(r.size), limit = int(r.limit), margin = int(r.margin), shrink_by = int(r.shrink_by),
    same_size_limit = int(r.same_size_limit), same_size_margin = int(r.same_size_margin),
    summary = r.summary, advice = lines(r.advice), image = info, source = src,
    -- the preflight's decision (the library's policy: refuse only on facts)
    decision = C.espota_preflight_decision_name(pre.decision), decision_notes = {},
    running_size_max = int(pre.running_size_max),
  }, Report)
  for line in (pre.warnings or ""):gmatch("[^\n]+") do rep.decision_notes[#rep.decision_notes + 1] = line end
  rep.text = C.espota_swig_fit_format(raw.info, dev, r) or rep.summary
  local _ = { tbl, pre } -- the partition table and the report stayed alive up to here
  return rep
end

--- check(image, device) -> report (table; tostring(report) is the full
--- text). Raises on bad arguments; returns nil, message, code for a broken image.
--- An unknown device.board is a warning (warn()), not an error.
function M.check(image, o)
  local rep, msg, code = check(image, o) -- not a tail call: error levels count this frame
  return rep, msg, code
end

-- Sessions -----------------------------------------------------------------

local Session = {}
Session.__index = Session
Session.__name = "espota.session"

--- espota.session() -> a session (one upload at a time; close() or let
--- the garbage collector free it; works with `local s <close> = ...`).
function M.session()
  local s = C.espota_session()
  if not s then error("cannot create a session (out of memory)", 2) end
  return setmetatable({ _s = s, _busy = false }, Session)
end

local function handle(self)
  local s = rawget(self, "_s")
  if not s then error("espota session is closed", 3) end
  return s
end

function Session:close()
  if self._busy then error("espota session: close() while an upload runs", 2) end
  self._s = nil -- the SWIG userdata frees the C session when collected
  collectgarbage("step")
end
Session.__close = Session.close

function Session:cancel()
  local s = rawget(self, "_s")
  if s then C.espota_session_cancel(s) end
end

function Session:last_error() return C.espota_session_last_error(handle(self)) end

local ACK_RULES = { [int(C.ESPOTA_ACK_RULE_COUNTS)] = "counts", [int(C.ESPOTA_ACK_RULE_DEVICE_OK)] = "device_ok" }

-- The one place a stats struct (SWIG espota_upload_stats, from a session or
-- a fleet device) becomes a table: a new stats field is added here only.
local function stats_table(st)
  return {
    phase = C.espota_phase_name(st.phase), scheme = SCHEMES[int(st.scheme)],
    platform = PLATFORM_NAMES[int(st.platform)], total = int(st.total), original_size = int(st.original_size),
    sent = int(st.sent), acked = int(st.acked), elapsed = st.elapsed_ms / 1000, transfer_time = st.transfer_ms / 1000,
    invitations = int(st.invitations), acks = int(st.acks), local_port = int(st.local_port),
    device_mss = int(st.device_mss),
    ack_rule = ACK_RULES[int(st.ack_rule)],
  }
end

local function stats(s)
  local st = C.espota_upload_stats()
  C.espota_session_stats(s, st)
  return stats_table(st)
end

function Session:stats() return stats(handle(self)) end

local TIMEOUT_KEYS = { invite = "invite_ms", auth = "auth_ms", connect = "connect_ms", stall = "stall_ms",
  result = "result_ms" }
local UPLOAD_KEYS = { host = true, port = true, target = true, password = true, auth = true, progress = true,
  timeouts = true, compress = true, transfer = true, window = true, chunk = true, bind_address = true,
  bind_port = true, fit = true, force = true, platform = true, auth_mode = true, filename = true }

-- Raised, not returned: the caller's mistake, or out of memory.
local RAISE = { [int(C.ESPOTA_EINVAL)] = true, [int(C.ESPOTA_ENOMEM)] = true }

-- The options shared by upload() and upload_many(), as the flat call table
-- the C layer reads. `level` is where argument errors point.
local function build_call(o, level)
  for _, k in ipairs { "progress", "auth" } do
    local f = o[k]
    if f ~= nil and type(f) ~= "function" and not (getmetatable(f) or {}).__call then
      error(k .. ": expected a function", level)
    end
  end
  local platform = choice("platform", o.platform, PLATFORMS, 0)
  local call = {
    target = choice("target", o.target, TARGETS, TARGETS.app), password = o.password,
    auth_mode = choice("auth_mode", o.auth_mode, AUTH_MODES, 0), filename = o.filename,
    transfer = choice("transfer", o.transfer, TRANSFERS, 0), chunk_size = o.chunk, window = o.window,
    compress = o.compress and 1 or 0, force = o.force and 1 or 0, platform = platform,
    bind_address = o.bind_address, bind_port = o.bind_port or 0, progress = o.progress, auth = o.auth,
  }
  if o.timeouts ~= nil then
    if type(o.timeouts) ~= "table" then error("timeouts: expected a table of seconds", level) end
    for k, v in pairs(o.timeouts) do
      if k == "invite_attempts" then call.invite_attempts = v
      elseif k == "min_rate" then
        -- bytes per second for the data-phase bound; 0 = no bound (ESPOTA_MIN_RATE_OFF)
        if math.type(v) ~= "integer" or v < 0 or v >= 0xFFFFFFFF then
          error("timeouts.min_rate: expected bytes per second (0 = no bound)", level)
        end
        call.min_rate = v == 0 and 0xFFFFFFFF or v
      elseif TIMEOUT_KEYS[k] then
        if type(v) ~= "number" or v <= 0 then error("timeouts." .. k .. ": expected positive seconds", level) end
        call[TIMEOUT_KEYS[k]] = tointeger(math.floor(v * 1000 + 0.5))
      else error("timeouts: unknown key '" .. tostring(k) .. "'", level) end
    end
  end
  -- For the advice: was a password available when the device asked?
  local hint = { password_given = type(o.password) == "string" and o.password ~= "" }
  call._hint = hint
  if o.auth ~= nil then
    local f = o.auth
    call.auth = function(...)
      local v = f(...)
      if type(v) == "string" and v ~= "" then hint.password_given = true end
      return v
    end
  end
  local fitdev, fittbl
  if o.fit ~= nil then
    fitdev, fittbl = fit_device(o.fit, level)
    call.fit, call.fit_owner = fitdev, fittbl
  end

  return call, platform
end

--- s:upload(image, opts) -> result | nil, message, code, err
--- `image` is a path (a string), {data = <string>} or an open file.
-- The options of one upload (s:upload, m:upload) checked and as the C call
-- table; raises at `level` + 1 for programming errors.
local function upload_call(o, level)
  if type(o) ~= "table" then error("upload: options table expected", level + 1) end
  for k in pairs(o) do
    if not UPLOAD_KEYS[k] then error("upload: unknown option '" .. tostring(k) .. "'", level + 1) end
  end
  if type(o.host) ~= "string" or o.host == "" then error("upload: host (a string) is required", level + 1) end
  local call, platform = build_call(o, level + 2)
  call.host = o.host
  call.port = o.port or ((platform == PLATFORMS.esp32) and 3232 or 8266)
  return call
end

function Session:upload(image, o)
  local s = handle(self)
  local data, src, rc0 = image_data(image, 2)
  local call = upload_call(o, 2)
  if not data then return early(src, rc0) end
  local since = since_success_ms(call.host, call.port)
  if self._busy then error("espota session: an upload is already running on it", 2) end
  self._busy = true
  local ok, rc = pcall(C._upload, s, data, call)
  self._busy = false
  self.traceback = call._traceback
  if not ok then error(rc, 0) end -- a callback's error: the original object
  rc = int(rc)
  if rc == 0 then
    recent[call.host .. " " .. tostring(call.port)] = os.time()
    local r = stats(s)
    r.source = src
    return r
  end
  local msg = C.espota_session_last_error(s)
  if msg == "" then msg = C.espota_strerror(rc) end
  if RAISE[rc] then error(msg, 2) end
  local err = { code = rc, name = C.espota_error_name(rc), message = msg, stats = stats(s),
    advice = advice(rc, s, call, call.host, call.port, since) }
  err.phase = err.stats.phase
  local d = C.espota_session_device_error(s)
  if d then
    err.device = { platform = PLATFORM_NAMES[int(d.platform)], code = int(d.code), name = d.name, text = d.text,
      explanation = d.explanation, raw = d.raw }
  end
  if rc == int(C.ESPOTA_ENOFIT) and o.fit ~= nil then
    err.report = check({ data = data }, o.fit, true) -- warned when the call was built
  end
  return nil, msg, rc, err
end

local FLEET_KEYS = { max_concurrent = true, retries = true, device_timeout = true, done = true }

-- A raw fleet result from C as the per-device result table.
local function device_result(i, dev, raw)
  local r = {
    index = i, host = dev.host, port = dev.port, ok = int(raw.code) == 0, code = int(raw.code),
    attempts = int(raw.attempts), stats = stats_table(raw.stats),
  }
  if not r.ok then
    r.name = C.espota_error_name(r.code)
    r.message = raw.message ~= "" and raw.message or C.espota_strerror(r.code)
    r.phase = r.stats.phase
  end
  local d = raw.device_error
  if d then
    r.device = { platform = PLATFORM_NAMES[int(d.platform)], code = int(d.code), name = d.name, text = d.text,
      explanation = d.explanation, raw = d.raw }
  end
  return r
end

--- s:upload_many(image, devices, opts) -> results | nil, message, code, err
--- Upload `image` to every device from this thread, up to
--- opts.max_concurrent at once. `devices` is an array of host strings or
--- tables {host=, port=, password=}. opts: the options of s:upload()
--- (without host; port is the default port) plus max_concurrent, retries,
--- device_timeout (seconds), progress(index, p), done(index, result).
--- Returns one result per device, in order: {index, host, port, ok, code,
--- name, message, phase, attempts, device, stats}; a failed device never
--- raises. Argument errors raise; a callback's error stops every device and
--- is re-raised as the original object; nothing-could-start failures (e.g.
--- the fit preflight) return nil, message, code, err as s:upload() does.
function Session:upload_many(image, devices, o)
  local s = handle(self)
  local data, src, rc0 = image_data(image, 2)
  o = o or {}
  if type(o) ~= "table" then error("upload_many: options table expected", 2) end
  if type(devices) ~= "table" then error("upload_many: devices: expected an array", 2) end
  local shared = {}
  for k, v in pairs(o) do
    if k == "host" or not (UPLOAD_KEYS[k] or FLEET_KEYS[k]) then
      error("upload_many: unknown option '" .. tostring(k) .. "'", 2)
    end
    if not FLEET_KEYS[k] then shared[k] = v end
  end
  local f = o.done
  if f ~= nil and type(f) ~= "function" and not (getmetatable(f) or {}).__call then
    error("done: expected a function", 2)
  end
  local call, platform = build_call(shared, 3)
  local default_port = o.port or ((platform == PLATFORMS.esp32) and 3232 or 8266)
  local devs = {}
  for i, d in ipairs(devices) do
    if type(d) == "string" then d = { host = d } end
    if type(d) ~= "table" then error("devices[" .. i .. "]: expected a host string or a table", 2) end
    for k in pairs(d) do
      if k ~= "host" and k ~= "port" and k ~= "password" then
        error("devices[" .. i .. "]: unknown key '" .. tostring(k) .. "'", 2)
      end
    end
    if type(d.host) ~= "string" or d.host == "" then error("devices[" .. i .. "].host: expected a string", 2) end
    local port = d.port or default_port
    if math.type(port) ~= "integer" or port < 1 or port > 65535 then
      error("devices[" .. i .. "].port: expected an integer in 1..65535", 2)
    end
    if d.password ~= nil and type(d.password) ~= "string" then
      error("devices[" .. i .. "].password: expected a string", 2)
    end
    devs[i] = { host = d.host, port = port, password = d.password }
  end
  if #devs == 0 or #devs ~= #devices then error("upload_many: devices: expected a non-empty array", 2) end
  if o.max_concurrent ~= nil and (math.type(o.max_concurrent) ~= "integer" or o.max_concurrent < 1) then
    error("max_concurrent: expected a positive integer", 2)
  end
  if o.retries ~= nil and (math.type(o.retries) ~= "integer" or o.retries < 0) then
    error("retries: expected an integer >= 0", 2)
  end
  if o.device_timeout ~= nil and (type(o.device_timeout) ~= "number" or o.device_timeout <= 0) then
    error("device_timeout: expected positive seconds", 2)
  end
  if not data then return early(src, rc0) end
  call.devices = devs
  call.max_concurrent = o.max_concurrent
  call.retries = o.retries
  call.device_deadline_ms = o.device_timeout and tointeger(math.floor(o.device_timeout * 1000 + 0.5)) or nil
  if f ~= nil then
    call.done = function(i, raw) return f(i, device_result(i, devs[i], raw)) end
  end

  if self._busy then error("espota session: an upload is already running on it", 2) end
  self._busy = true
  local ok, rc, raw = pcall(C._upload_many, s, data, call)
  self._busy = false
  self.traceback = call._traceback
  if not ok then error(rc, 0) end -- a callback's error: the original object
  rc = int(rc)
  if raw then
    local results = {}
    for i, r in ipairs(raw) do
      results[i] = device_result(i, devs[i], r)
      if results[i].ok then recent[devs[i].host .. " " .. tostring(devs[i].port)] = os.time() end
    end
    return results
  end
  local msg = C.espota_session_last_error(s)
  if msg == "" then msg = C.espota_strerror(rc) end
  if RAISE[rc] then error(msg, 2) end
  local err = { code = rc, name = C.espota_error_name(rc), message = msg,
    advice = advice(rc, s, call, nil, 0, 0) }
  if rc == int(C.ESPOTA_ENOFIT) and o.fit ~= nil then
    err.report = check({ data = data }, o.fit, true) -- warned when the call was built
  end
  return nil, msg, rc, err
end

--- s:upload_file(path, opts): s:upload(path, opts), for a path held in a
--- variable that might be data. A file that cannot be opened returns nil,
--- message, espota.EIO; a path that is not a regular file, empty or over
--- espota.FILE_MAX returns nil, message, espota.EINVAL.
function Session:upload_file(path, o)
  if type(path) ~= "string" then error("path: expected a string, got " .. type(path), 2) end
  return self:upload(path, o)
end

--- espota.upload(image, opts): one-shot upload on a fresh session.
function M.upload(image, o)
  local s = M.session()
  local r = table.pack(pcall(Session.upload, s, image, o))
  s:close()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- espota.upload_many(image, devices, opts): one-shot fleet upload on a fresh session.
function M.upload_many(image, devices, o)
  local s = M.session()
  local r = table.pack(pcall(Session.upload_many, s, image, devices, o))
  s:close()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

M.Session = Session

-- The step API: the multi interface for any event loop ---------------------

local Multi = {}
Multi.__index = Multi

M.WAIT_READ, M.WAIT_WRITE, M.WAIT_ERROR = int(C.ESPOTA_WAIT_READ), int(C.ESPOTA_WAIT_WRITE), int(C.ESPOTA_WAIT_ERROR)

--- espota.multi([session]) -> m: uploads driven by the caller's loop (luv,
--- copas, ...); see examples/lua/multi_luv.lua.
---   m:upload(image, opts) -> id   opts as for s:upload (host required)
---   m:fds() -> { {fd=, events=, serial=}, ... }  watch these (events: WAIT_* bits;
---             the same fd with a new serial is a new socket)
---   m:timeout() -> ms             call m:action() after at most this (-1: nothing runs)
---   m:action(fd, events)          fd became ready; m:action() runs the timers
---   m:discover(opts) -> id        an mDNS browse (opts as for espota.discover)
---   m:resolve(name, opts) -> id   an mDNS resolve of NAME.local
---   m:done() -> id, result | nil  a finished upload: result as an upload_many
---             device result; result.callback_error is a callback's error object;
---             a finished browse/resolve: {kind, ok, code, name, message,
---             devices (browse), address (resolve)}
---   m:running() -> n, m:remove(id), m:close()
function M.multi(session)
  local s = session or M.session()
  return setmetatable({ _h = C._multi(handle(s)), _s = s, _own = session == nil, _dev = {} }, Multi)
end

function Multi:upload(image, o)
  local data, src, rc0 = image_data(image, 2)
  local call = upload_call(o, 2)
  if not data then return early(src, rc0) end
  local id = self._h:add(data, call)
  self._dev[id] = { host = call.host, port = call.port }
  return id
end

function Multi:fds() return self._h:fds() end
function Multi:timeout() return int(self._h:timeout()) end
function Multi:running() return int(self._h:running()) end
function Multi:action(fd, events) self._h:action(fd or -1, events or 0) end

function Multi:done()
  local id, raw = self._h:info_read()
  if id == nil then return nil end
  if raw.kind then return id, self._discover_result(raw) end -- discover.lua
  local dev = self._dev[id] or {}
  self._dev[id] = nil
  local r = device_result(id, dev, raw)
  r.callback_error, r.traceback = raw.error, raw.traceback
  return id, r
end

function Multi:remove(id)
  self._dev[id] = nil
  return self._h:remove(id)
end

function Multi:close()
  self._h:close()
  if self._own then self._s:close() end
end
Multi.__close = Multi.close
