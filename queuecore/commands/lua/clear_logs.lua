--[[
  Clear a job's log, keeping its last ARGV[1] lines when ARGV[1] > 0 (as BullMQ's
  Job.clearLogs; a missing job is not an error there either).

  KEYS[1] the job's logs list
  ARGV[1] keep (0 = none)

  Returns the number of lines left.
]]
local rcall = redis.call
local keep = tonumber(ARGV[1])
if keep > 0 then
  rcall("LTRIM", KEYS[1], -keep, -1)
  return rcall("LLEN", KEYS[1])
end
rcall("DEL", KEYS[1])
return 0
