--[[
  Replace a job's data (as BullMQ's Job.updateData: no event is written).

  KEYS[1] the job's hash
  ARGV[1] data (JSON, size already checked by the client)

  Returns 0. Errors: -1 no job.
]]
local rcall = redis.call
if rcall("EXISTS", KEYS[1]) == 0 then
  return -1
end
rcall("HSET", KEYS[1], "data", ARGV[1])
return 0
