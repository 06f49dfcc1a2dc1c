--[[
  Move an active job to `waiting-children` while it has pending children (a processor added
  children at run time), for the owner of its lock only. Nothing is written on an error or
  when nothing is pending.

  KEYS[1] active   KEYS[2] waiting-children   KEYS[3] stalled   KEYS[4] events
  KEYS[5] meta

  ARGV[1] base   ARGV[2] job id   ARGV[3] lock token ("0" = none)   ARGV[4] now (ms)
  ARGV[5] a child's full key: wait for that child only ("" = for any pending child)

  Returns 0 (moved) or 1 (no pending child: the job stays active, its lock kept).
  Errors: -1 no job, -2 no lock, -3 not active, -6 lock of another worker, -9 a child
  failed the parent.
]]
-- @include "common"

local base = ARGV[1]
local jobId = ARGV[2]
local jobKey = base .. jobId
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
if rcall("ZCARD", jobKey .. ":unsuccessful") > 0 then
  return -9
end
local depsKey = jobKey .. ":dependencies"
local pending
if ARGV[5] ~= "" then
  pending = rcall("SISMEMBER", depsKey, ARGV[5]) == 1
else
  pending = rcall("SCARD", depsKey) > 0
end
if not pending then
  -- Checked after the lock, so a wrong token is refused even with nothing pending.
  if ARGV[3] ~= "0" then
    local lock = rcall("GET", jobKey .. ":lock")
    if not lock then
      return -2
    end
    if lock ~= ARGV[3] then
      return -6
    end
  end
  return 1
end
local taken = qc_take_active(base, jobId, ARGV[3], KEYS[1], KEYS[3])
if taken ~= 0 then
  return taken
end
rcall("ZADD", KEYS[2], tonumber(ARGV[4]), jobId)
qc_emit(KEYS[4], qc_max_events(KEYS[5]), "waiting-children", "jobId", jobId, "prev", "active")
return 0
