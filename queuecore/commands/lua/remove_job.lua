--[[
  Remove a job and everything hanging off it, from whatever state it is in. Refused while a
  worker holds its lock.

  KEYS[1] meta   KEYS[2] events
  ARGV[1] base   ARGV[2] job id

  Returns 1. Errors: -1 no job, -12 locked by a worker.
]]
-- @include "common"

local base = ARGV[1]
local jobId = ARGV[2]
local jobKey = base .. jobId
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
if rcall("EXISTS", jobKey .. ":lock") == 1 then
  return -12
end
local state = qc_find_state(base, jobId)
-- Like BullMQ, `prev` names the structure the job was in (wait, not waiting; paused for a
-- legacy BullMQ 5 `paused` list).
local prev = "unknown"
if state then
  prev = STATE_SUFFIX[state]
  if state == "waiting" and not rcall("LPOS", base .. "wait", jobId) then
    prev = "paused"
  end
  qc_remove_from_state(base, jobId, state)
end
rcall("SREM", base .. "stalled", jobId)
qc_delete_job_keys(base, jobId)
qc_emit(KEYS[2], qc_max_events(KEYS[1]), "removed", "jobId", jobId, "prev", prev)
return 1
