--[[
  Add a worker's per-minute wait/processing histogram counts (queuecore-only keys, see
  commands/timings.py): HINCRBY each field of each minute and hour hash, set the hash's
  expiry, and list it in the index (a sorted set by start ms) that obliterate walks.

  KEYS[1] index   KEYS[2..n] the minute and hour hashes
  ARGV[1] index entries scored below this are dropped (their hashes have expired)
  ARGV[2] minute entries ("m:...") scored below this are dropped (their 2 h expiry is past)
  then per hash: start ms, ttl seconds, number of fields, and that many (field, count) pairs

  Returns the number of hashes written.
]]
local rcall = redis.call
local pos = 3
local longest = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local start = ARGV[pos]
  local ttl = tonumber(ARGV[pos + 1])
  local n = tonumber(ARGV[pos + 2])
  pos = pos + 3
  for _ = 1, n do
    rcall("HINCRBY", key, ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  rcall("EXPIRE", key, ttl)
  if ttl > longest then
    longest = ttl
  end
  -- The member is the key after "<index>:" (obliterate rebuilds the key from its base).
  rcall("ZADD", KEYS[1], start, string.sub(key, #KEYS[1] + 2))
end
rcall("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[1])
-- Minute hashes expire long before hour ones: drop their entries by their own expiry
-- (a bounded batch per call; the rest go on later calls or with the hour cutoff).
local old = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[2], "LIMIT", 0, 1000)
local stale = {}
for _, member in ipairs(old) do
  if string.sub(member, 1, 2) == "m:" then
    table.insert(stale, member)
  end
end
if #stale > 0 then
  rcall("ZREM", KEYS[1], unpack(stale))
end
-- The index lives as long as the longest-lived hash it lists, so a peer's obliterate
-- (which does not know these keys) leaves nothing behind that never expires.
if longest > 0 then
  rcall("EXPIRE", KEYS[1], longest)
end
return #KEYS - 1
