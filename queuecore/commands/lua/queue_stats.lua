--[[
  Read-only: the counts of many queues at once, for dashboards listing thousands of queues
  (observe/stats.py). Queue names come from the caller (checked there); keys are built from
  the prefix as BullMQ lays them out. It declares no keys, so it is not Cluster-safe: the
  callers use it on a single Redis only.

  ARGV[1] prefix   ARGV[2..n] queue names

  Returns a flat array, 10 integers per queue: the lengths of wait, active, prioritized,
  delayed, waiting-children, completed, failed and the legacy paused list; 1 when meta has
  `paused`; the `timestamp` of the oldest job in wait (0 when none).
]]
local rcall = redis.call
local out = {}
local n = 0
for i = 2, #ARGV do
  local base = ARGV[1] .. ":" .. ARGV[i] .. ":"
  out[n + 1] = rcall("LLEN", base .. "wait")
  out[n + 2] = rcall("LLEN", base .. "active")
  out[n + 3] = rcall("ZCARD", base .. "prioritized")
  out[n + 4] = rcall("ZCARD", base .. "delayed")
  out[n + 5] = rcall("ZCARD", base .. "waiting-children")
  out[n + 6] = rcall("ZCARD", base .. "completed")
  out[n + 7] = rcall("ZCARD", base .. "failed")
  out[n + 8] = rcall("LLEN", base .. "paused")
  out[n + 9] = rcall("HEXISTS", base .. "meta", "paused")
  local ts = 0
  local oldest = rcall("LINDEX", base .. "wait", -1)
  if oldest then
    -- pcall: an id naming a key of another type must not fail the whole read
    local got = redis.pcall("HGET", base .. oldest, "timestamp")
    if type(got) == "string" then
      ts = tonumber(got) or 0
    end
  end
  out[n + 10] = ts
  n = n + 10
end
return out
