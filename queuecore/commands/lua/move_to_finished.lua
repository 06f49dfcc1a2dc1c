--[[
  Finish an active job (completed or failed for good), for the owner of its lock only; then
  optionally fetch the next job in the same call.

  KEYS[1] wait      KEYS[2] active    KEYS[3] prioritized  KEYS[4] events   KEYS[5] stalled
  KEYS[6] limiter   KEYS[7] delayed   KEYS[8] paused       KEYS[9] meta     KEYS[10] pc
  KEYS[11] marker   KEYS[12] target set (completed or failed)
  KEYS[13] metrics hash of the target (metrics:completed or metrics:failed)

  ARGV[1] base      ARGV[2] job id    ARGV[3] now (ms)     ARGV[4] lock token ("0" = none)
  ARGV[5] target name "completed"/"failed"
  ARGV[6] value: the return value JSON (completed) or the failed reason (failed)
  ARGV[7] stacktrace JSON ("" to leave it)
  ARGV[8] keep count (-1 all, 0 none)   ARGV[9] keep age seconds (0 = any)
  ARGV[10] keep limit per call (0 = 1000)
  ARGV[11] max attempts (for retries-exhausted)
  ARGV[12] metrics max data points (0 = no metrics)
  ARGV[13] fetch next "1"/"0"   ARGV[14] lockDuration   ARGV[15] limiter max
  ARGV[16] limiter duration     ARGV[17] worker name   ARGV[18] lock token for the next job
  ARGV[19] timing samples to keep (with metrics)

  Returns 0 (finished, nothing fetched) or the fetch reply {fields, jobId, ttl, nextDue}.
  Errors: -1 no job, -2 no lock, -3 not active, -4 pending children, -6 lock of another worker.
]]
-- @include "common"
-- @include "fetch"
-- @include "flows"

local base = ARGV[1]
local jobId = ARGV[2]
local now = tonumber(ARGV[3])
local nowText = ARGV[3]  -- handed to redis.call as is (a number would be formatted)
local token = ARGV[4]
local target = ARGV[5]
local jobKey = base .. jobId
local k = {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
           stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
           meta = KEYS[9], pc = KEYS[10], marker = KEYS[11]}

if target == "completed" and rcall("SCARD", jobKey .. ":dependencies") > 0 then
  return -4
end
local taken = qc_take_active(base, jobId, token, k.active, k.stalled)
if taken ~= 0 then
  return taken
end

-- Everything this script needs from the job's hash and the queue's meta, read once.
local job = rcall("HMGET", jobKey, "timestamp", "processedOn", "atm", "deid", "parentKey",
                  "parent")
local meta = qc_read_meta(k.meta)
local maxEvents = meta.maxEvents
-- Paused or at the global concurrency, known once `active` has lost this job (the rest of
-- the script does not change `active` or the meta before the fetch).
local pausedOrMaxed = nil
-- A queue at its global concurrency just freed a slot: wake a blocked worker.
if meta.concurrency then
  pausedOrMaxed = qc_meta_paused_or_maxed(meta, k.active)
  if not pausedOrMaxed and (rcall("LLEN", k.wait) > 0 or rcall("ZCARD", k.prioritized) > 0) then
    rcall("ZADD", k.marker, "0", "0")
  end
end
local attemptsMade = (tonumber(job[3]) or 0) + 1
if target == "completed" then
  rcall("HSET", jobKey, "atm", attemptsMade, "returnvalue", ARGV[6], "finishedOn", nowText)
else
  if ARGV[7] ~= "" then
    rcall("HSET", jobKey, "atm", attemptsMade, "failedReason", ARGV[6], "finishedOn", nowText,
          "stacktrace", ARGV[7])
  else
    rcall("HSET", jobKey, "atm", attemptsMade, "failedReason", ARGV[6], "finishedOn", nowText)
  end
  rcall("HDEL", jobKey, "defa")
end

-- A finished job releases its deduplication id unless that id has its own ttl.
local dedupId = job[4]
if dedupId then
  local dedupKey = base .. "de:" .. dedupId
  if rcall("GET", dedupKey) == jobId and rcall("PTTL", dedupKey) == -1 then
    rcall("DEL", dedupKey)
  end
end

local parent = qc_parse_parent(job[5], job[6]) or false
if target == "completed" then
  qc_child_completed(jobKey, ARGV[6], now, parent)
  qc_emit(k.events, maxEvents, "completed", "jobId", jobId, "returnvalue", ARGV[6],
          "prev", "active")
else
  qc_child_failed(jobKey, ARGV[6], now, parent)
  qc_emit(k.events, maxEvents, "failed", "jobId", jobId, "failedReason", ARGV[6],
          "prev", "active")
  if attemptsMade >= tonumber(ARGV[11]) then
    qc_emit(k.events, maxEvents, "retries-exhausted", "jobId", jobId,
            "attemptsMade", attemptsMade)
  end
end

-- Keep the job in the target set, or delete it, then prune by age and count.
local keepCount = tonumber(ARGV[8])
local keepAge = tonumber(ARGV[9])
local limit = tonumber(ARGV[10])
if limit <= 0 then
  limit = 1000
end
if keepCount == 0 then
  qc_delete_job_keys(base, jobId, dedupId)
else
  rcall("ZADD", KEYS[12], nowText, jobId)
  if keepAge > 0 then
    local old = rcall("ZRANGEBYSCORE", KEYS[12], "-inf", now - keepAge * 1000, "LIMIT", 0, limit)
    for _, id in ipairs(old) do
      qc_delete_job_keys(base, id)
    end
    if #old > 0 then
      rcall("ZREM", KEYS[12], unpack(old))
    end
  end
  if keepCount > 0 then
    local surplus = rcall("ZCARD", KEYS[12]) - keepCount
    if surplus > 0 then
      if surplus > limit then
        surplus = limit
      end
      local extra = rcall("ZRANGE", KEYS[12], 0, surplus - 1)
      for _, id in ipairs(extra) do
        qc_delete_job_keys(base, id)
      end
      rcall("ZREM", KEYS[12], unpack(extra))
    end
  end
end

-- Per-minute metrics in BullMQ's layout: `count` of all finished jobs, `prevTS`/`prevCount`
-- when the last minute closed, and the `:data` list of per-minute counts, newest first.
-- queuecore also keeps the last ARGV[19] (wait ms, processing ms) samples in `:timings`.
local maxPoints = tonumber(ARGV[12])
if maxPoints > 0 then
  local metricsKey = KEYS[13]
  local before = rcall("HINCRBY", metricsKey, "count", 1) - 1
  local prev = rcall("HMGET", metricsKey, "prevTS", "prevCount")
  if not prev[1] then
    rcall("HSET", metricsKey, "prevTS", now, "prevCount", 0)
  else
    local minutes = math.floor(now / 60000) - math.floor(tonumber(prev[1]) / 60000)
    if minutes > 0 then
      if minutes > maxPoints then
        minutes = maxPoints
      end
      local dataKey = metricsKey .. ":data"
      rcall("LPUSH", dataKey, before - tonumber(prev[2]))
      for _ = 2, minutes do
        rcall("LPUSH", dataKey, 0)
      end
      rcall("LTRIM", dataKey, 0, maxPoints - 1)
      rcall("HSET", metricsKey, "prevTS", now, "prevCount", before)
    end
  end
  local samples = tonumber(ARGV[19])
  if samples > 0 and job[1] and job[2] then
    local timingsKey = metricsKey .. ":timings"
    local started = tonumber(job[2])
    rcall("LPUSH", timingsKey, now .. ":" .. (started - tonumber(job[1])) .. ":" ..
          (now - started))
    rcall("LTRIM", timingsKey, 0, samples - 1)
  end
end

-- "drained": nothing left to fetch, nothing active and nothing delayed.
local function drained()
  return rcall("LLEN", k.wait) == 0 and rcall("ZCARD", k.prioritized) == 0
    and rcall("LLEN", k.active) == 0 and rcall("ZCARD", k.delayed) == 0
end

if ARGV[13] == "1" then
  local o = {base = base, now = now, token = ARGV[18], lockDuration = ARGV[14],
             limiterMax = tonumber(ARGV[15]), limiterDuration = tonumber(ARGV[16]),
             workerName = ARGV[17]}
  local reply = qc_fetch(k, o, meta, pausedOrMaxed)
  if reply[1] == 0 and reply[3] == 0 and drained() then
    qc_emit(k.events, maxEvents, "drained")
  end
  return reply
end
if drained() then
  qc_emit(k.events, maxEvents, "drained")
end
return 0
