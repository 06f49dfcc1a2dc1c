--[[
  Fetch the next job for a worker: promote due delayed jobs, honour pause, global concurrency
  and rate limits, take from `wait` then `prioritized`, lock it and mark it active.

  KEYS[1] wait      KEYS[2] active    KEYS[3] prioritized  KEYS[4] events   KEYS[5] stalled
  KEYS[6] limiter   KEYS[7] delayed   KEYS[8] paused       KEYS[9] meta     KEYS[10] pc
  KEYS[11] marker

  ARGV[1] base   ARGV[2] now (ms)   ARGV[3] lock token ("0" = no lock)   ARGV[4] lockDuration ms
  ARGV[5] limiter max (0 = none)    ARGV[6] limiter duration ms         ARGV[7] worker name

  Returns {fields, jobId, rateLimitTtl, nextDelayedDue}: fields is the job hash as a flat list,
  or 0 when no job was taken (then rateLimitTtl > 0 when rate limited, and nextDelayedDue is
  the due time of the next delayed job, or 0).
]]
-- @include "common"
-- @include "fetch"

local k = {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
           stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
           meta = KEYS[9], pc = KEYS[10], marker = KEYS[11]}
local o = {base = ARGV[1], now = tonumber(ARGV[2]), token = ARGV[3],
           lockDuration = tonumber(ARGV[4]), limiterMax = tonumber(ARGV[5]),
           limiterDuration = tonumber(ARGV[6]), workerName = ARGV[7]}
return qc_fetch(k, o)
