--[[
  Remove up to ARGV[3] jobs of one state that are older than a cutoff. completed and failed
  are judged by finishedOn (their score); other states by the job's timestamp. Active jobs
  that hold a lock are never removed.

  KEYS[1] the state's key   KEYS[2] events   KEYS[3] meta

  ARGV[1] base   ARGV[2] cutoff (ms)   ARGV[3] limit (0 = no limit)
  ARGV[4] structure "list" or "zset"   ARGV[5] "finished" to use the score, else "timestamp"

  Returns the removed ids, and emits "cleaned" with their count.
]]
-- @include "common"

local base = ARGV[1]
local cutoff = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local removed = {}
local function full()
  return limit > 0 and #removed >= limit
end

if ARGV[5] == "finished" then
  local take = limit > 0 and limit or -1
  local ids = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", cutoff, "LIMIT", 0, take)
  for _, id in ipairs(ids) do
    qc_delete_job_keys(base, id)
    table.insert(removed, id)
  end
  for i = 1, #ids, 5000 do
    rcall("ZREM", KEYS[1], unpack(ids, i, math.min(i + 4999, #ids)))
  end
else
  local step = 1000
  local isList = ARGV[4] == "list"
  local total = isList and rcall("LLEN", KEYS[1]) or rcall("ZCARD", KEYS[1])
  -- Oldest first: the right end of a list, the low end of a sorted set.
  local offset = 0
  while offset < total and not full() do
    local ids
    if isList then
      ids = rcall("LRANGE", KEYS[1], -(offset + step), -(offset + 1))
    else
      ids = rcall("ZRANGE", KEYS[1], offset, offset + step - 1)
    end
    local kept = 0
    for i = #ids, 1, -1 do
      local id = isList and ids[i] or ids[#ids - i + 1]
      local jobKey = base .. id
      local ts = tonumber(rcall("HGET", jobKey, "timestamp")) or 0
      if ts <= cutoff and rcall("EXISTS", jobKey .. ":lock") == 0 and not full() then
        qc_delete_job_keys(base, id)
        if isList then
          rcall("LREM", KEYS[1], -1, id)
          -- An active job without a lock (its worker died) may be a stall suspect.
          rcall("SREM", base .. "stalled", id)
        else
          rcall("ZREM", KEYS[1], id)
        end
        table.insert(removed, id)
      else
        kept = kept + 1
      end
    end
    if #ids == 0 then
      break
    end
    offset = offset + kept
  end
end
qc_emit(KEYS[2], qc_max_events(KEYS[3]), "cleaned", "count", #removed)
return removed
