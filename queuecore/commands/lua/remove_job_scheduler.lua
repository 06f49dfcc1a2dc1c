--[[
  Remove a job scheduler: its `repeat` entry, its hash and its run that has not started yet
  (delayed, or waiting to be fetched). A run being processed finishes, and schedules nothing.

  KEYS[1] repeat   KEYS[2] delayed   KEYS[3] wait     KEYS[4] prioritized   KEYS[5] pc
  KEYS[6] meta     KEYS[7] events    KEYS[8] marker   KEYS[9] active        KEYS[10] id

  ARGV[1] base   ARGV[2] scheduler id

  Returns 1 when the scheduler existed, 0 when not.
]]
-- @include "common"
-- @include "scheduler"

local k = qc_sched_keys(KEYS)
local base = ARGV[1]
local schedulerId = ARGV[2]
local schedKey = k.repeat_ .. ":" .. schedulerId
local prev = rcall("ZSCORE", k.repeat_, schedulerId)
if prev then
  qc_sched_remove_pending(k, base, qc_sched_job_id(schedulerId, tonumber(prev)),
                          qc_max_events(k.meta))
end
local removed = rcall("ZREM", k.repeat_, schedulerId)
removed = removed + rcall("DEL", schedKey)
if removed > 0 then
  return 1
end
return 0
