--[[
  The state of a job: completed, failed, delayed, prioritized, waiting-children, active,
  waiting, or "unknown".

  KEYS[1] the job's hash
  ARGV[1] base   ARGV[2] job id
]]
-- @include "common"

if rcall("EXISTS", KEYS[1]) == 0 then
  return "unknown"
end
return qc_find_state(ARGV[1], ARGV[2]) or "unknown"
