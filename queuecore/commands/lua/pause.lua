--[[
  Pause or resume a queue. BullMQ 6 style: jobs stay in `wait`; `meta.paused` stops fetching
  and the marker is removed. Resume also moves a legacy `paused` list (BullMQ 5) back to
  `wait`, at most ARGV[2] ids per call, oldest served first.

  KEYS[1] meta   KEYS[2] events   KEYS[3] marker   KEYS[4] wait   KEYS[5] paused
  KEYS[6] prioritized   KEYS[7] delayed   KEYS[8] active

  ARGV[1] "pause" or "resume"   ARGV[2] legacy batch size

  Returns the number of legacy ids still in `paused` (0 when done).
]]
-- @include "common"

local maxEvents = qc_max_events(KEYS[1])
if ARGV[1] == "pause" then
  if not rcall("HGET", KEYS[1], "paused") then
    rcall("HSET", KEYS[1], "paused", 1)
    rcall("DEL", KEYS[3])
    qc_emit(KEYS[2], maxEvents, "paused")
  end
  return 0
end
local wasPaused = rcall("HGET", KEYS[1], "paused")
rcall("HDEL", KEYS[1], "paused")
local batch = tonumber(ARGV[2])
for _ = 1, batch do
  if not rcall("LMOVE", KEYS[5], KEYS[4], "LEFT", "RIGHT") then
    break
  end
end
if wasPaused then
  qc_emit(KEYS[2], maxEvents, "resumed")
end
if not qc_paused_or_maxed(KEYS[1], KEYS[8]) then
  if rcall("LLEN", KEYS[4]) > 0 or rcall("ZCARD", KEYS[6]) > 0 then
    rcall("ZADD", KEYS[3], 0, "0")
  end
  qc_add_delay_marker(KEYS[3], KEYS[7], false)
end
return rcall("LLEN", KEYS[5])
