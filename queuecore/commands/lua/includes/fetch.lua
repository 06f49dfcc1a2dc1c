--[[
  Fetching the next job ("move to active"), shared by move_to_active and move_to_finished.
  Needs common. `k` is a table with the queue's keys: wait, active, prioritized, events,
  stalled, limiter, delayed, paused, meta, pc, marker. `o` holds: base, now, token,
  lockDuration, limiterMax, limiterDuration, workerName.
  Returns {fields, jobId, rateLimitTtl, nextDelayedDue}; fields = 0 when no job was taken.
]]

local MANUAL_LIMIT = 9007199254740991

local function qc_promote_due(k, now, pausedOrMaxed, maxEvents, base)
  local due = rcall("ZRANGEBYSCORE", k.delayed, "0", (now + 1) * DELAY_SHIFT - 1, "LIMIT", "0",
                    "1000")
  if #due == 0 then
    return
  end
  for _, jobId in ipairs(due) do
    rcall("ZREM", k.delayed, jobId)
    local jobKey = base .. jobId
    if rcall("EXISTS", jobKey) == 1 then
      local priority = qc_job_priority(jobKey)
      if priority > 0 then
        rcall("ZADD", k.prioritized, qc_priority_score(priority, k.pc), jobId)
      else
        rcall("LPUSH", k.wait, jobId)
      end
      rcall("HSET", jobKey, "delay", 0)
      qc_emit(k.events, maxEvents, "waiting", "jobId", jobId, "prev", "delayed")
    end
  end
  qc_add_base_marker(k.marker, pausedOrMaxed)
end

-- Milliseconds left on the rate limit, 0 when a job may be taken; and the limit in force.
local function qc_rate_limit(k, o, m)
  local max = tonumber(m.max) or o.limiterMax
  local duration = tonumber(m.duration) or o.limiterDuration
  local count = tonumber(rcall("GET", k.limiter) or "0")
  if (max > 0 and count >= max) or count >= MANUAL_LIMIT then
    local ttl = rcall("PTTL", k.limiter)
    if ttl > 0 then
      return ttl, max, duration
    end
    rcall("DEL", k.limiter)
  end
  return 0, max, duration
end

-- Lock and mark active a job just moved to `active`. Its hash is read first (and returned,
-- with processedOn, pb and ats as written here); false when the hash is gone.
local function qc_start_job(k, o, jobId, maxEvents, max, duration)
  local jobKey = o.base .. jobId
  local fields = rcall("HGETALL", jobKey)
  if #fields == 0 then
    return false
  end
  if max > 0 then
    local count = rcall("INCR", k.limiter)
    if count == 1 then
      rcall("PEXPIRE", k.limiter, duration)
    end
  end
  if o.token ~= "0" then
    -- Locked: a stale entry of this id in `stalled` is harmless (the stall check leaves a
    -- locked job alone and rebuilds the set), so no SREM here, as in BullMQ's moveToActive.
    rcall("SET", jobKey .. ":lock", o.token, "PX", o.lockDuration)
  else
    rcall("SREM", k.stalled, jobId)
  end
  qc_emit(k.events, maxEvents, "active", "jobId", jobId, "prev", "waiting")
  -- Patch the fields read above as HSET processedOn pb, HINCRBY ats would leave them.
  local iProcessedOn, iPb, iAts
  for i = 1, #fields, 2 do
    local name = fields[i]
    if name == "processedOn" then
      iProcessedOn = i + 1
    elseif name == "pb" then
      iPb = i + 1
    elseif name == "ats" then
      iAts = i + 1
    end
  end
  local ats = 1
  if iAts then
    ats = (tonumber(fields[iAts]) or 0) + 1
  end
  -- Written as strings, the same text the numbers would be formatted to.
  local nowText = string.format("%d", o.now)
  local atsText = tostring(ats)
  rcall("HSET", jobKey, "processedOn", nowText, "pb", o.workerName, "ats", atsText)
  local n = #fields
  if iProcessedOn then
    fields[iProcessedOn] = nowText
  else
    fields[n + 1] = "processedOn"
    fields[n + 2] = nowText
    n = n + 2
  end
  if iPb then
    fields[iPb] = o.workerName
  else
    fields[n + 1] = "pb"
    fields[n + 2] = o.workerName
    n = n + 2
  end
  if iAts then
    fields[iAts] = atsText
  else
    fields[n + 1] = "ats"
    fields[n + 2] = atsText
  end
  return fields
end

-- `m`: the queue's meta from qc_read_meta (nil: read here); `pausedOrMaxed`: when the caller
-- knows it already (nil: computed here).
local function qc_fetch(k, o, m, pausedOrMaxed)
  if m == nil then
    m = qc_read_meta(k.meta)
  end
  local maxEvents = m.maxEvents
  if pausedOrMaxed == nil then
    pausedOrMaxed = qc_meta_paused_or_maxed(m, k.active)
  end
  -- o.promoted / o.unlimited: a batch of fetches in one script has promoted the due jobs
  -- and found no limit in force with no limiter counting (nothing in the script changes
  -- that), so the later fetches skip those reads.
  if not o.promoted then
    qc_promote_due(k, o.now, pausedOrMaxed, maxEvents, o.base)
  end
  if pausedOrMaxed then
    return {0, 0, 0, 0}
  end
  local ttl, max, duration
  if o.unlimited then
    ttl, max, duration = 0, 0, 0
  else
    ttl, max, duration = qc_rate_limit(k, o, m)
    if ttl > 0 then
      return {0, 0, ttl, 0}
    end
  end
  -- A few tries: skip legacy markers ("0:<n>") and ids whose hash is gone.
  for _ = 1, 10 do
    local jobId = rcall("RPOPLPUSH", k.wait, k.active)
    if not jobId then
      local popped = rcall("ZPOPMIN", k.prioritized)
      if popped[1] then
        jobId = popped[1]
        rcall("LPUSH", k.active, jobId)
      else
        rcall("DEL", k.pc)
      end
    end
    if not jobId then
      break
    end
    local fields = false
    if string.sub(jobId, 1, 2) ~= "0:" then
      fields = qc_start_job(k, o, jobId, maxEvents, max, duration)
    end
    if fields then
      -- A batch sets the marker once, after its last fetch (o.noMarker).
      if not o.noMarker and (rcall("LLEN", k.wait) > 0 or rcall("ZCARD", k.prioritized) > 0) then
        qc_add_base_marker(k.marker, false)
      end
      return {fields, jobId, 0, 0}
    end
    rcall("LREM", k.active, 1, jobId)
  end
  return {0, 0, 0, qc_next_delayed_due(k.delayed) or 0}
end
