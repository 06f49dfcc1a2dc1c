--[[
  Store a job's progress and emit "progress".

  KEYS[1] the job's hash   KEYS[2] events   KEYS[3] meta
  ARGV[1] job id   ARGV[2] progress (JSON)

  Returns 0. Errors: -1 no job.
]]
-- @include "common"

if rcall("EXISTS", KEYS[1]) == 0 then
  return -1
end
rcall("HSET", KEYS[1], "progress", ARGV[2])
qc_emit(KEYS[2], qc_max_events(KEYS[3]), "progress", "jobId", ARGV[1], "data", ARGV[2])
return 0
