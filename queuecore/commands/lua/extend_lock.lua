--[[
  Extend one active job's lock, for the owner of the lock only (manual processing).

  KEYS[1] stalled
  ARGV[1] base   ARGV[2] job id   ARGV[3] lock token   ARGV[4] duration (ms)

  Returns 1. Errors: -1 no job, -2 no lock, -6 lock of another worker.
]]
local rcall = redis.call
local jobKey = ARGV[1] .. ARGV[2]
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
local lockKey = jobKey .. ":lock"
local lock = rcall("GET", lockKey)
if not lock then
  return -2
end
if lock ~= ARGV[3] then
  return -6
end
rcall("SET", lockKey, ARGV[3], "PX", ARGV[4])
rcall("SREM", KEYS[1], ARGV[2])
return 1
