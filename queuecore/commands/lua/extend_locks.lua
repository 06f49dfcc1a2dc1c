--[[
  Renew the locks of a worker's active jobs in one call.

  KEYS[1] stalled
  ARGV[1] base   ARGV[2] lockDuration (ms)   ARGV[3..] job id, token, job id, token, ...

  Returns the ids whose lock is gone or held by someone else (they were not renewed).
]]
local rcall = redis.call
local base = ARGV[1]
local duration = ARGV[2]
local lost = {}
for i = 3, #ARGV, 2 do
  local jobId = ARGV[i]
  local lockKey = base .. jobId .. ":lock"
  if rcall("GET", lockKey) == ARGV[i + 1] then
    rcall("SET", lockKey, ARGV[i + 1], "PX", duration)
    rcall("SREM", KEYS[1], jobId)
  else
    table.insert(lost, jobId)
  end
end
return lost
