--[[
  Give an active job back without counting an attempt (worker shutting down, or rate limited
  from inside the processor): to the front of `wait` (or `prioritized`), lock released.

  KEYS[1] active   KEYS[2] wait   KEYS[3] prioritized   KEYS[4] pc   KEYS[5] meta
  KEYS[6] events   KEYS[7] marker   KEYS[8] stalled

  ARGV[1] base   ARGV[2] job id   ARGV[3] lock token ("0" = none)

  Returns 0. Errors: -1 no job, -2 no lock, -3 not active, -6 lock of another worker.
]]
-- @include "common"

local base = ARGV[1]
local jobId = ARGV[2]
local jobKey = base .. jobId
local taken = qc_take_active(base, jobId, ARGV[3], KEYS[1], KEYS[8])
if taken ~= 0 then
  return taken
end
qc_enqueue(KEYS[2], KEYS[3], KEYS[4], KEYS[7], jobId, qc_job_priority(jobKey), true,
           qc_paused_or_maxed(KEYS[5], KEYS[1]))
qc_emit(KEYS[6], qc_max_events(KEYS[5]), "waiting", "jobId", jobId, "prev", "active")
return 0
