--[[
  Retry finished jobs: move completed or failed jobs back to `wait` (or `prioritized`),
  clearing their result, failure reason, stall counter and deferred failure (the stacktrace
  is kept, as BullMQ does). One job (ARGV[2] = its id) or, with ARGV[2] = "", up to ARGV[3]
  jobs finished at or before ARGV[4].

  KEYS[1] the state set (completed or failed)   KEYS[2] wait   KEYS[3] prioritized
  KEYS[4] pc   KEYS[5] meta   KEYS[6] events   KEYS[7] marker   KEYS[8] active

  ARGV[1] base   ARGV[2] job id or ""   ARGV[3] count   ARGV[4] finished at or before (ms)
  ARGV[5] state name   ARGV[6] reset attempts "1"/"0"

  Returns the number of ids taken out of the state set (an id whose job hash is gone is
  dropped, not enqueued). Errors (one job): -1 no job, -3 not in that state.
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
  ids = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[4], "LIMIT", 0, tonumber(ARGV[3]))
end
local maxEvents = qc_max_events(KEYS[5])
local pausedOrMaxed = qc_paused_or_maxed(KEYS[5], KEYS[8])
for _, jobId in ipairs(ids) do
  local jobKey = base .. jobId
  rcall("ZREM", KEYS[1], jobId)
  if rcall("EXISTS", jobKey) == 1 then
    -- Like BullMQ, the stacktrace of earlier attempts is kept.
    rcall("HDEL", jobKey, "finishedOn", "processedOn", "returnvalue", "failedReason", "stc",
          "defa")
    if ARGV[6] == "1" then
      rcall("HDEL", jobKey, "atm", "ats", "attemptsMade")
    end
    qc_enqueue(KEYS[2], KEYS[3], KEYS[4], KEYS[7], jobId, qc_job_priority(jobKey), false,
               pausedOrMaxed)
    qc_emit(KEYS[6], maxEvents, "waiting", "jobId", jobId, "prev", ARGV[5])
  end
end
return #ids
