--[[
  Put back a job that trash_job removed: its keys renamed back (their expiry cleared) and the
  job in its state again: completed, failed, delayed, prioritized and waiting-children with
  their old score (so in their old order; a prioritized job keeps its place among the jobs
  of its priority), a waiting job next to its old neighbour when one of them is still there
  (restoring in the reverse order of removal puts a run of jobs back as it was), else at the
  newest end. Workers are woken as for a new job. An active job comes back as waiting.

  KEYS[1] meta   KEYS[2] events   KEYS[3] marker   KEYS[4] the trash's index
  KEYS[5] active   KEYS[6] delayed
  ARGV[1] base   ARGV[2] job id   ARGV[3] the trash's key prefix

  Returns 1 restored, 0 a job with that id exists again (left in the trash).
  Errors: -1 not in the trash any more (expired).
]]
-- @include "common"

local base = ARGV[1]
local jobId = ARGV[2]
local jobKey = base .. jobId
local trashKey = ARGV[3] .. jobId
if rcall("EXISTS", jobKey) == 1 then
  return 0
end
rcall("ZREM", KEYS[4], jobId)
if rcall("EXISTS", trashKey) == 0 then
  rcall("DEL", trashKey .. ":where")
  return -1
end
for _, suffix in ipairs(QC_JOB_KEY_SUFFIXES) do
  if rcall("EXISTS", trashKey .. suffix) == 1 then
    rcall("RENAME", trashKey .. suffix, jobKey .. suffix)
    rcall("PERSIST", jobKey .. suffix)
  end
end
local w = rcall("HGETALL", trashKey .. ":where")
rcall("DEL", trashKey .. ":where")
local where = {}
for i = 1, #w, 2 do
  where[w[i]] = w[i + 1]
end
local state = where["state"]
local maxEvents = qc_max_events(KEYS[1])
local pausedOrMaxed = qc_paused_or_maxed(KEYS[1], KEYS[5])
if where["score"] and state ~= "waiting" and state ~= "active" then
  rcall("ZADD", base .. STATE_SUFFIX[state], where["score"], jobId)
  if state == "delayed" then
    qc_add_delay_marker(KEYS[3], KEYS[6], pausedOrMaxed)
  elseif state == "prioritized" then
    qc_add_base_marker(KEYS[3], pausedOrMaxed)
    qc_emit(KEYS[2], maxEvents, "waiting", "jobId", jobId, "prev", "trash")
  end
  return 1
end
if state ~= "waiting" and state ~= "active" then
  return 1  -- a job that was in no state (an orphan hash) comes back as it was: in none
end
local list = base .. "wait"
if where["list"] == "paused" and rcall("EXISTS", base .. "paused") == 1 then
  list = base .. "paused"
end
local placed = false
if where["older"] and rcall("LPOS", list, where["older"]) then
  rcall("LINSERT", list, "BEFORE", where["older"], jobId)
  placed = true
elseif where["newer"] and rcall("LPOS", list, where["newer"]) then
  rcall("LINSERT", list, "AFTER", where["newer"], jobId)
  placed = true
end
if not placed then
  rcall("LPUSH", list, jobId)
end
qc_add_base_marker(KEYS[3], pausedOrMaxed)
qc_emit(KEYS[2], maxEvents, "waiting", "jobId", jobId, "prev", "trash")
return 1
