--[[
  Replay a dead-lettered job: a fresh job (same name, data and options; attempts from zero)
  goes back to the queue it came from, under its old id when that is free; the dead-letter
  copy is removed.

  KEYS[1] dlq failed   KEYS[2] dlq events   KEYS[3] dlq meta
  KEYS[4] origin wait  KEYS[5] origin meta  KEYS[6] origin id   KEYS[7] origin events
  KEYS[8] origin marker   KEYS[9] origin prioritized   KEYS[10] origin pc
  KEYS[11] origin active

  ARGV[1] dlq base   ARGV[2] dlq job id   ARGV[3] origin base   ARGV[4] original id
  ARGV[5] now (ms)

  Returns the id in the origin queue. Errors: -1 no job, -3 not in the dead-letter set.
]]
-- @include "common"

local dlqKey = ARGV[1] .. ARGV[2]
if rcall("EXISTS", dlqKey) == 0 then
  return -1
end
if not rcall("ZSCORE", KEYS[1], ARGV[2]) then
  return -3
end
local counter = rcall("INCR", KEYS[6])
local newId = ARGV[4]
if newId == "" or rcall("EXISTS", ARGV[3] .. newId) == 1 then
  newId = tostring(counter)
end
local v = rcall("HMGET", dlqKey, "name", "data", "opts", "priority")
local priority = tonumber(v[4]) or 0
rcall("HSET", ARGV[3] .. newId, "name", v[1] or "", "data", v[2] or "{}", "opts",
      v[3] or "{}", "timestamp", ARGV[5], "delay", 0, "priority", priority)
local maxEvents = qc_max_events(KEYS[5])
qc_emit(KEYS[7], maxEvents, "added", "jobId", newId, "name", v[1] or "")
qc_enqueue(KEYS[4], KEYS[9], KEYS[10], KEYS[8], newId, priority, false,
           qc_paused_or_maxed(KEYS[5], KEYS[11]))
qc_emit(KEYS[7], maxEvents, "waiting", "jobId", newId)
rcall("ZREM", KEYS[1], ARGV[2])
qc_delete_job_keys(ARGV[1], ARGV[2])
qc_emit(KEYS[2], qc_max_events(KEYS[3]), "removed", "jobId", ARGV[2], "prev", "failed")
return newId
