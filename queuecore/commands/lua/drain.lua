--[[
  Drain: delete up to ARGV[3] waiting (and prioritized, and with ARGV[2] = "1" delayed) jobs
  with their hashes. Active jobs are never touched. Call again while it returns > 0.

  KEYS[1] wait   KEYS[2] paused   KEYS[3] prioritized   KEYS[4] delayed   KEYS[5] pc
  KEYS[6] marker

  ARGV[1] base   ARGV[2] include delayed "1"/"0"   ARGV[3] batch size

  Returns how many jobs are left to drain.
]]
-- @include "common"

local base = ARGV[1]
local batch = tonumber(ARGV[3])
local function drain_list(key)
  local ids = rcall("LRANGE", key, -batch, -1)
  for _, id in ipairs(ids) do
    qc_delete_job_keys(base, id)
  end
  if #ids > 0 then
    rcall("LTRIM", key, 0, -#ids - 1)
  end
  batch = batch - #ids
end
local function drain_zset(key)
  if batch <= 0 then
    return
  end
  local ids = rcall("ZRANGE", key, 0, batch - 1)
  for _, id in ipairs(ids) do
    qc_delete_job_keys(base, id)
  end
  if #ids > 0 then
    rcall("ZREM", key, unpack(ids))
  end
  batch = batch - #ids
end
drain_list(KEYS[1])
if batch > 0 then
  drain_list(KEYS[2])
end
drain_zset(KEYS[3])
local left = rcall("LLEN", KEYS[1]) + rcall("LLEN", KEYS[2]) + rcall("ZCARD", KEYS[3])
if ARGV[2] == "1" then
  drain_zset(KEYS[4])
  left = left + rcall("ZCARD", KEYS[4])
  if rcall("ZCARD", KEYS[4]) == 0 then
    rcall("ZREM", KEYS[6], "1")
  end
end
if rcall("ZCARD", KEYS[3]) == 0 then
  rcall("DEL", KEYS[5])
end
return left
