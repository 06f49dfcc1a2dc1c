--[[
  Move an active job to `delayed` (a retry with backoff, or job.move_to_delayed from a
  processor), for the owner of its lock only.

  KEYS[1] active   KEYS[2] delayed   KEYS[3] meta   KEYS[4] events   KEYS[5] marker
  KEYS[6] stalled

  ARGV[1] base   ARGV[2] job id   ARGV[3] lock token ("0" = none)   ARGV[4] now (ms)
  ARGV[5] due time (ms)   ARGV[6] count an attempt "1"/"0"
  ARGV[7] failed reason ("" = leave)   ARGV[8] stacktrace JSON ("" = leave)

  Returns 0. Errors: -1 no job, -2 no lock, -3 not active, -6 lock of another worker.
]]
-- @include "common"

local base = ARGV[1]
local jobId = ARGV[2]
local jobKey = base .. jobId
local taken = qc_take_active(base, jobId, ARGV[3], KEYS[1], KEYS[6])
if taken ~= 0 then
  return taken
end
local now = tonumber(ARGV[4])
local due = tonumber(ARGV[5])
if due < now then
  due = now
end
if ARGV[6] == "1" then
  rcall("HINCRBY", jobKey, "atm", 1)
end
rcall("HSET", jobKey, "delay", due - now)
if ARGV[7] ~= "" then
  rcall("HSET", jobKey, "failedReason", ARGV[7])
end
if ARGV[8] ~= "" then
  rcall("HSET", jobKey, "stacktrace", ARGV[8])
end
rcall("ZADD", KEYS[2], qc_delayed_score(KEYS[2], due), jobId)
qc_emit(KEYS[4], qc_max_events(KEYS[3]), "delayed", "jobId", jobId, "delay", due)
qc_add_delay_marker(KEYS[5], KEYS[2], qc_paused_or_maxed(KEYS[3], KEYS[1]))
return 0
