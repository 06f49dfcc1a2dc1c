--[[
  Remove a job into a trash from which restore_job can put it back: its hash and the keys
  hanging off it are renamed under the trash's prefix (so nothing is copied and a BullMQ peer,
  which reads only the queue's structures, never sees them), they expire after ARGV[4]
  seconds, and where the job stood is noted beside them. Then it leaves its state as
  remove_job does (deduplication key released, stall mark cleared, `removed` event: not
  with ARGV[5] "quiet", for a clean, which emits BullMQ's one `cleaned` event for all its
  jobs instead, see trash_cleaned). Refused while a worker holds its lock.

  KEYS[1] meta   KEYS[2] events   KEYS[3] the trash's index (zset: job id -> order)
  ARGV[1] base   ARGV[2] job id   ARGV[3] the trash's key prefix   ARGV[4] ttl (s)
  ARGV[5] "quiet" for no `removed` event (optional)

  The note (hash at prefix .. id .. ":where"): state, score (zset states), older and newer
  (the neighbours in wait or paused, for putting it back in its place), list (wait/paused).

  Returns 1. Errors: -1 no job, -12 locked by a worker.
]]
-- @include "common"

local base = ARGV[1]
local jobId = ARGV[2]
local jobKey = base .. jobId
local trashKey = ARGV[3] .. jobId
local ttl = tonumber(ARGV[4])
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
if rcall("EXISTS", jobKey .. ":lock") == 1 then
  return -12
end
local state = qc_find_state(base, jobId)
local where = {"state", state or "unknown"}
local prev = "unknown"
if state then
  prev = STATE_SUFFIX[state]
  if state == "waiting" then
    local list = base .. "wait"
    local pos = rcall("LPOS", list, jobId)
    if not pos then
      list = base .. "paused"
      prev = "paused"
      pos = rcall("LPOS", list, jobId)
    end
    table.insert(where, "list")
    table.insert(where, prev)
    -- The list holds the newest at index 0; workers take from the other end.
    local older = rcall("LINDEX", list, pos + 1)
    if older then
      table.insert(where, "older")
      table.insert(where, older)
    end
    if pos > 0 then
      table.insert(where, "newer")
      table.insert(where, rcall("LINDEX", list, pos - 1))
    end
  elseif state ~= "active" then
    table.insert(where, "score")
    table.insert(where, rcall("ZSCORE", base .. STATE_SUFFIX[state], jobId))
  end
  qc_remove_from_state(base, jobId, state)
end
rcall("SREM", base .. "stalled", jobId)
-- The deduplication key goes as on removal (a new job with that id may be added meanwhile).
qc_release_dedup(base, jobId)
for _, suffix in ipairs(QC_JOB_KEY_SUFFIXES) do
  if rcall("EXISTS", jobKey .. suffix) == 1 then
    rcall("RENAME", jobKey .. suffix, trashKey .. suffix)
    rcall("EXPIRE", trashKey .. suffix, ttl)
  end
end
rcall("HSET", trashKey .. ":where", unpack(where))
rcall("EXPIRE", trashKey .. ":where", ttl)
-- Rank after the highest one taken (not ZCARD): a partial restore shrinks the index, and
-- a count would hand out ranks still in use, breaking "last removed first".
local order = 0
local last = rcall("ZRANGE", KEYS[3], -1, -1, "WITHSCORES")
if last[2] then
  order = tonumber(last[2]) + 1
end
rcall("ZADD", KEYS[3], order, jobId)
rcall("EXPIRE", KEYS[3], ttl)
if ARGV[5] ~= "quiet" then
  qc_emit(KEYS[2], qc_max_events(KEYS[1]), "removed", "jobId", jobId, "prev", prev)
end
return 1
