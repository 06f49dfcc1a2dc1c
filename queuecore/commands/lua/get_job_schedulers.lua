--[[
  Read job schedulers in one call: a range of the `repeat` zset and each one's hash.

  KEYS[1] repeat
  ARGV[1] start   ARGV[2] end   ARGV[3] "1" ascending by next run, "0" descending
  ARGV[4] one scheduler id to read instead of a range ("" for a range)

  Returns a flat list {id, next (ms), {hash fields...}, ...}; schedulers without a hash are
  left out.
]]
local rcall = redis.call
local entries
if ARGV[4] ~= "" then
  local score = rcall("ZSCORE", KEYS[1], ARGV[4])
  entries = score and {ARGV[4], score} or {}
elseif ARGV[3] == "1" then
  entries = rcall("ZRANGE", KEYS[1], ARGV[1], ARGV[2], "WITHSCORES")
else
  entries = rcall("ZREVRANGE", KEYS[1], ARGV[1], ARGV[2], "WITHSCORES")
end
local out = {}
for i = 1, #entries, 2 do
  local fields = rcall("HGETALL", KEYS[1] .. ":" .. entries[i])
  if #fields > 0 then
    table.insert(out, entries[i])
    table.insert(out, entries[i + 1])
    table.insert(out, fields)
  end
end
return out
