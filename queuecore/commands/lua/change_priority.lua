--[[
  Change a job's priority. A job that is queued (in `wait` or `prioritized`) is queued again
  with the new priority: priority 0 goes to `wait` (front with lifo), a priority > 0 to
  `prioritized` (ahead of the jobs of the same priority with lifo). In any other state only
  the hash changes, so the job queues with the new priority when it next does (promotion,
  retry, release of a flow parent). As BullMQ, no event is written.

  KEYS[1] wait   KEYS[2] prioritized   KEYS[3] pc   KEYS[4] meta   KEYS[5] active
  KEYS[6] marker
  ARGV[1] base   ARGV[2] job id   ARGV[3] priority (0..2^21-1, checked by the client)
  ARGV[4] lifo "1"/"0"

  Returns 0. Errors: -1 no job.
]]
-- @include "common"

local jobId = ARGV[2]
local jobKey = ARGV[1] .. jobId
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
local priority = tonumber(ARGV[3])
local lifo = ARGV[4] == "1"
local queued = rcall("ZREM", KEYS[2], jobId) > 0 or rcall("LREM", KEYS[1], -1, jobId) > 0
if queued then
  local pausedOrMaxed = qc_paused_or_maxed(KEYS[4], KEYS[5])
  if priority > 0 and lifo then
    -- Counter part 0: before every job of this priority that was queued with a counter.
    rcall("ZADD", KEYS[2], priority * PRIORITY_SHIFT, jobId)
    qc_add_base_marker(KEYS[6], pausedOrMaxed)
  else
    qc_enqueue(KEYS[1], KEYS[2], KEYS[3], KEYS[6], jobId, priority, lifo, pausedOrMaxed)
  end
end
rcall("HSET", jobKey, "priority", priority)
return 0
