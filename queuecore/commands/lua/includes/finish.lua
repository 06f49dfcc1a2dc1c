--[[
  Finishing one active job (completed or failed for good), shared by move_to_finished (one
  job) and move_to_finished_many (the jobs a worker finished in one loop turn), so that both
  have the same effects per job. Needs common and flows.

  `k`: the queue's keys (wait, active, prioritized, events, stalled, delayed, meta, marker);
  `meta`: the queue's meta from qc_read_meta; `a`: base, jobId, now (number), nowText (the
  same as a string, handed to redis.call as is), token, target ("completed"/"failed"),
  value, stack ("" to leave it), keepCount, keepAge, keepLimit, maxAttempts, maxPoints,
  samples, targetKey (the completed or failed set), metricsKey.

  Returns 0 and, when the queue has a global concurrency, whether it is paused or at it
  (known once `active` has lost this job), else nil; or an error code: -1 no job, -2 no lock,
  -3 not active, -4 pending children, -6 lock of another worker (nothing changed then).
]]

local function qc_finish_job(k, meta, a)
  local base, jobId, now, nowText, target = a.base, a.jobId, a.now, a.nowText, a.target
  local jobKey = base .. jobId
  if target == "completed" and rcall("SCARD", jobKey .. ":dependencies") > 0 then
    return -4
  end
  local taken = qc_take_active(base, jobId, a.token, k.active, k.stalled)
  if taken ~= 0 then
    return taken
  end

  local job = rcall("HMGET", jobKey, "timestamp", "processedOn", "atm", "deid", "parentKey",
                    "parent")
  local maxEvents = meta.maxEvents
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
    rcall("HSET", jobKey, "atm", attemptsMade, "returnvalue", a.value, "finishedOn", nowText)
  else
    if a.stack ~= "" then
      rcall("HSET", jobKey, "atm", attemptsMade, "failedReason", a.value, "finishedOn", nowText,
            "stacktrace", a.stack)
    else
      rcall("HSET", jobKey, "atm", attemptsMade, "failedReason", a.value, "finishedOn", nowText)
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
    qc_child_completed(jobKey, a.value, now, parent)
    qc_emit(k.events, maxEvents, "completed", "jobId", jobId, "returnvalue", a.value,
            "prev", "active")
  else
    qc_child_failed(jobKey, a.value, now, parent)
    qc_emit(k.events, maxEvents, "failed", "jobId", jobId, "failedReason", a.value,
            "prev", "active")
    if attemptsMade >= a.maxAttempts then
      qc_emit(k.events, maxEvents, "retries-exhausted", "jobId", jobId,
              "attemptsMade", attemptsMade)
    end
  end

  -- Keep the job in the target set, or delete it, then prune by age and count.
  local keepCount, keepAge, limit = a.keepCount, a.keepAge, a.keepLimit
  if limit <= 0 then
    limit = 1000
  end
  local targetKey = a.targetKey
  if keepCount == 0 then
    qc_delete_job_keys(base, jobId, dedupId)
  else
    rcall("ZADD", targetKey, nowText, jobId)
    if keepAge > 0 then
      local old = rcall("ZRANGEBYSCORE", targetKey, "-inf", now - keepAge * 1000, "LIMIT", 0,
                        limit)
      for _, id in ipairs(old) do
        qc_delete_job_keys(base, id)
      end
      if #old > 0 then
        rcall("ZREM", targetKey, unpack(old))
      end
    end
    if keepCount > 0 then
      local surplus = rcall("ZCARD", targetKey) - keepCount
      if surplus > 0 then
        if surplus > limit then
          surplus = limit
        end
        local extra = rcall("ZRANGE", targetKey, 0, surplus - 1)
        for _, id in ipairs(extra) do
          qc_delete_job_keys(base, id)
        end
        rcall("ZREM", targetKey, unpack(extra))
      end
    end
  end

  -- Per-minute metrics in BullMQ's layout: `count` of all finished jobs, `prevTS`/`prevCount`
  -- when the last minute closed, and the `:data` list of per-minute counts, newest first.
  -- queuecore also keeps the last `samples` (wait ms, processing ms) samples in `:timings`.
  local maxPoints = a.maxPoints
  if maxPoints > 0 then
    local metricsKey = a.metricsKey
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
    local samples = a.samples
    if samples > 0 and job[1] and job[2] then
      local timingsKey = metricsKey .. ":timings"
      local started = tonumber(job[2])
      rcall("LPUSH", timingsKey, now .. ":" .. (started - tonumber(job[1])) .. ":" ..
            (now - started))
      rcall("LTRIM", timingsKey, 0, samples - 1)
    end
  end
  return 0, pausedOrMaxed
end

-- "drained": nothing left to fetch, nothing active and nothing delayed.
local function qc_drained(k)
  return rcall("LLEN", k.wait) == 0 and rcall("ZCARD", k.prioritized) == 0
    and rcall("LLEN", k.active) == 0 and rcall("ZCARD", k.delayed) == 0
end

-- A retry after a lost reply: which jobs at the head of `active` hold locks with the tokens
-- in `wanted` (token -> index). Returns index -> job id and whether any did. A fetch puts
-- its job at the head of `active` (RPOPLPUSH, or LPUSH from prioritized), so the first
-- try's fetches were its first `m` entries when it ended; each job fetched since (by any
-- worker) moves them back one, a finish or a stall only forward. The retry follows the lost
-- reply at once, so `m` + 1000 entries cover them, bounding the GETs per retry (not one per
-- active job). Past that, the retry hands back nothing: those jobs wait out their locks and
-- the stall check puts them back in `wait`, as for a worker that died.
local function qc_held_by_tokens(activeKey, base, wanted, m)
  local held, any = {}, false
  for _, jobId in ipairs(rcall("LRANGE", activeKey, 0, m + 999)) do
    local lock = rcall("GET", base .. jobId .. ":lock")
    local i = lock and wanted[lock]
    if i then
      held[i] = jobId
      any = true
    end
  end
  return held, any
end

-- A retry after a lost reply, for a job refused now as not locked (-2) or not active (-3):
-- whether the first try finished it. That finish stored this call's `now` as finishedOn and
-- this worker's value (a job the stall check moved, or another worker finished, has
-- neither). Any other refusal, or a job that was not finished, is reported as it is.
local function qc_finished_by_first_try(a)
  local field = a.target == "completed" and "returnvalue" or "failedReason"
  local got = rcall("HMGET", a.base .. a.jobId, "finishedOn", field)
  return got[1] == a.nowText and got[2] == a.value
end
