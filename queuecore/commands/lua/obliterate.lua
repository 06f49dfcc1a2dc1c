--[[
  Obliterate a paused queue in batches: delete up to ARGV[2] jobs per call; when no job is
  left, delete the queue's own keys (also the legacy `delay` and `priority` keys). Refused
  while jobs are active unless forced.

  KEYS[1] meta   KEYS[2] active
  ARGV[1] base   ARGV[2] batch size   ARGV[3] force "1"/"0"

  Returns 0 when the queue is gone, 1 when more calls are needed.
  Errors: -3 the queue is not paused; -12 it has active jobs (and no force).
]]
-- @include "common"

local base = ARGV[1]
if not rcall("HGET", KEYS[1], "paused") then
  return -3
end
if ARGV[3] ~= "1" and rcall("LLEN", KEYS[2]) > 0 then
  return -12
end
local budget = tonumber(ARGV[2])
local lists = {"active", "wait", "paused"}
for _, suffix in ipairs(lists) do
  local key = base .. suffix
  if budget > 0 then
    local ids = rcall("LRANGE", key, 0, budget - 1)
    for _, id in ipairs(ids) do
      qc_delete_job_keys(base, id)
    end
    if #ids > 0 then
      rcall("LTRIM", key, #ids, -1)
    end
    budget = budget - #ids
  end
end
local zsets = {"prioritized", "delayed", "completed", "failed", "waiting-children", "repeat"}
for _, suffix in ipairs(zsets) do
  local key = base .. suffix
  if budget > 0 then
    local ids = rcall("ZRANGE", key, 0, budget - 1)
    for _, id in ipairs(ids) do
      if suffix == "repeat" then
        rcall("DEL", base .. "repeat:" .. id)
      else
        qc_delete_job_keys(base, id)
      end
    end
    if #ids > 0 then
      rcall("ZREM", key, unpack(ids))
    end
    budget = budget - #ids
  end
end
-- queuecore's timing histograms (commands/timings.py), found through their index.
local timings = base .. "qc:timings"
if budget > 0 then
  local members = rcall("ZRANGE", timings, 0, budget - 1)
  for _, member in ipairs(members) do
    rcall("DEL", timings .. ":" .. member)
  end
  if #members > 0 then
    rcall("ZREM", timings, unpack(members))
  end
  budget = budget - #members
end
if budget <= 0 then
  return 1
end
local own = {"meta", "events", "id", "marker", "pc", "stalled", "stalled-check", "limiter",
             "metrics:completed", "metrics:completed:data", "metrics:completed:timings",
             "metrics:failed", "metrics:failed:data", "metrics:failed:timings", "wait",
             "paused", "active", "prioritized", "delayed", "completed", "failed",
             "waiting-children", "repeat", "delay", "priority", "qc:timings"}
for _, suffix in ipairs(own) do
  rcall("DEL", base .. suffix)
end
return 0
