--[[
  Append a line to a job's log, keeping only the last ARGV[2] lines when ARGV[2] > 0.

  KEYS[1] the job's hash   KEYS[2] the job's logs list
  ARGV[1] line   ARGV[2] keep (0 = all)

  Returns the number of lines kept. Errors: -1 no job.
]]
local rcall = redis.call
if rcall("EXISTS", KEYS[1]) == 0 then
  return -1
end
local count = rcall("RPUSH", KEYS[2], ARGV[1])
local keep = tonumber(ARGV[2])
if keep > 0 and count > keep then
  rcall("LTRIM", KEYS[2], -keep, -1)
  return keep
end
return count
