--[[
  Create a scheduler's next run, called by a worker when it fetches the current run. Only the
  current run may do it: the `repeat` entry must still point at its slot, so a run fetched
  again after a stall, or a scheduler moved on by an upsert, schedules nothing.

  KEYS[1] repeat   KEYS[2] delayed   KEYS[3] wait     KEYS[4] prioritized   KEYS[5] pc
  KEYS[6] meta     KEYS[7] events    KEYS[8] marker   KEYS[9] active        KEYS[10] id

  ARGV[1] base   ARGV[2] scheduler id   ARGV[3] next due (ms, computed by the client)
  ARGV[4] the current run's due (ms)    ARGV[5] now (ms)   ARGV[6] job name
  ARGV[7] data (JSON)   ARGV[8] job opts JSON up to the repeat count   ARGV[9] priority
  ARGV[10] lifo "1"/"0"

  Returns {1, jobId} when created, else {0, reason}: gone (no scheduler), moved (not the
  current run), limit (ic >= limit), ended (past endDate), busy (that run id exists).
]]
-- @include "common"
-- @include "scheduler"

local k = qc_sched_keys(KEYS)
local base = ARGV[1]
local schedulerId = ARGV[2]
local nextDue = tonumber(ARGV[3])
local schedKey = k.repeat_ .. ":" .. schedulerId

local current = rcall("ZSCORE", k.repeat_, schedulerId)
if not current or rcall("EXISTS", schedKey) == 0 then
  return {0, "gone"}
end
if tonumber(current) ~= tonumber(ARGV[4]) or nextDue <= tonumber(current) then
  return {0, "moved"}
end
local h = rcall("HMGET", schedKey, "ic", "limit", "endDate")
local ic = tonumber(h[1]) or 1
local limit = tonumber(h[2])
local endDate = tonumber(h[3])
if limit and ic >= limit then
  return {0, "limit"}
end
if endDate and nextDue > endDate then
  return {0, "ended"}
end
local jobId = qc_sched_job_id(schedulerId, nextDue)
if rcall("EXISTS", base .. jobId) == 1 then
  return {0, "busy"}
end
local t = {base = base, name = ARGV[6], data = ARGV[7], optsHead = ARGV[8], count = ic + 1,
           now = tonumber(ARGV[5]), priority = tonumber(ARGV[9]), lifo = ARGV[10] == "1",
           schedulerId = schedulerId}
qc_sched_add_job(k, t, jobId, nextDue, qc_max_events(k.meta))
rcall("ZADD", k.repeat_, nextDue, schedulerId)
rcall("HSET", schedKey, "ic", ic + 1)
return {1, jobId}
