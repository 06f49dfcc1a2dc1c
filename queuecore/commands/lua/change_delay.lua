--[[
  Reschedule a delayed job to run `delay` ms from now (as BullMQ's Job.changeDelay: the hash's
  `delay` becomes the new delay, `timestamp` is kept; event `delayed` with the due time).

  KEYS[1] delayed   KEYS[2] meta   KEYS[3] marker   KEYS[4] events   KEYS[5] active
  ARGV[1] base   ARGV[2] job id   ARGV[3] delay (ms, >= 0)   ARGV[4] now (ms)

  Returns the due time (ms). Errors: -1 no job, -3 not delayed.
]]
-- @include "common"

local jobId = ARGV[2]
local jobKey = ARGV[1] .. jobId
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
if rcall("ZREM", KEYS[1], jobId) == 0 then
  return -3
end
local delay = tonumber(ARGV[3])
local due = tonumber(ARGV[4]) + delay
rcall("ZADD", KEYS[1], qc_delayed_score(KEYS[1], due), jobId)
rcall("HSET", jobKey, "delay", delay)
qc_emit(KEYS[4], qc_max_events(KEYS[2]), "delayed", "jobId", jobId, "delay", due)
qc_add_delay_marker(KEYS[3], KEYS[1], qc_paused_or_maxed(KEYS[2], KEYS[5]))
return due
