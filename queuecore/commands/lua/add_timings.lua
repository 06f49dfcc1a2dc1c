--[[
  Add a worker's per-minute wait/processing histogram counts (queuecore-only keys, see
  commands/timings.py): HINCRBY each field of each minute and hour hash, set the hash's
  expiry, and list it in the index (a sorted set by start ms) that obliterate walks.

  KEYS[1] index   KEYS[2..n] the minute and hour hashes
  ARGV[1] index entries scored below this are dropped (their hashes have expired)
  then per hash: start ms, ttl seconds, number of fields, and that many (field, count) pairs

  Returns the number of hashes written.
]]
local rcall = redis.call
local pos = 2
for i = 2, #KEYS do
  local key = KEYS[i]
  local start = ARGV[pos]
  local ttl = ARGV[pos + 1]
  local n = tonumber(ARGV[pos + 2])
  pos = pos + 3
  for _ = 1, n do
    rcall("HINCRBY", key, ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  rcall("EXPIRE", key, ttl)
  -- The member is the key after "<index>:" (obliterate rebuilds the key from its base).
  rcall("ZADD", KEYS[1], start, string.sub(key, #KEYS[1] + 2))
end
rcall("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[1])
return #KEYS - 1
