--[[
  Promote delayed jobs to run now: one job (ARGV[2] = its id) or, with ARGV[2] = "", up to
  ARGV[3] of the earliest ones.

  KEYS[1] delayed   KEYS[2] wait   KEYS[3] prioritized   KEYS[4] pc   KEYS[5] meta
  KEYS[6] events    KEYS[7] marker KEYS[8] active

  ARGV[1] base   ARGV[2] job id or ""   ARGV[3] count

  Returns the number of ids taken out of `delayed` (an id whose job hash is gone is dropped,
  not promoted). Errors (one job): -1 no job, -3 not delayed.
]]
-- @include "common"

local base = ARGV[1]
local ids
if ARGV[2] ~= "" then
  if rcall("EXISTS", base .. ARGV[2]) == 0 then
    return -1
  end
  if not rcall("ZSCORE", KEYS[1], ARGV[2]) then
    return -3
  end
  ids = {ARGV[2]}
else
  ids = rcall("ZRANGE", KEYS[1], 0, tonumber(ARGV[3]) - 1)
end
local maxEvents = qc_max_events(KEYS[5])
local pausedOrMaxed = qc_paused_or_maxed(KEYS[5], KEYS[8])
for _, jobId in ipairs(ids) do
  rcall("ZREM", KEYS[1], jobId)
  local jobKey = base .. jobId
  if rcall("EXISTS", jobKey) == 1 then
    rcall("HSET", jobKey, "delay", 0)
    qc_enqueue(KEYS[2], KEYS[3], KEYS[4], KEYS[7], jobId, qc_job_priority(jobKey), false,
               pausedOrMaxed)
    qc_emit(KEYS[6], maxEvents, "waiting", "jobId", jobId, "prev", "delayed")
  end
end
if rcall("ZCARD", KEYS[1]) == 0 then
  rcall("ZREM", KEYS[7], "1")
end
return #ids
