--[[
  Adding jobs, shared by add_job (one job) and add_jobs (many). Needs common.
  `K` is the add scripts' KEYS (wait, meta, id, delayed, prioritized, pc, events, marker,
  active, waiting-children); `base` is the queue's key prefix.
]]

-- Read the meta once for all the adds of a call, creating it on first use as Node's Queue
-- does (it marks the queue as there): when none of the fields read is set, check it exists.
local function qc_add_prepare_meta(K)
  local meta = qc_read_meta(K[2])
  if not (meta.maxLenEvents or meta.paused or meta.concurrency or meta.max or meta.duration)
      and rcall("EXISTS", K[2]) == 0 then
    rcall("HSET", K[2], "opts.maxLenEvents", 10000, "version", "queuecore:@QC_VERSION@")
  end
  return meta
end

-- Paused or at global concurrency, computed once per call: adds change neither the meta nor
-- `active`.
local function qc_add_paused_or_maxed(K, meta)
  if meta.pausedOrMaxed == nil then
    meta.pausedOrMaxed = qc_meta_paused_or_maxed(meta, K[9])
  end
  return meta.pausedOrMaxed
end

-- Job ids from the `id` counter. BullMQ INCRs it once per add (custom ids too); a call adding
-- many jobs reads it once, counts in Lua and writes the sum back in one INCRBY at the end
-- (`qc_add_flush`): the same final value and the same ids, one command instead of N. A value
-- INCR would refuse (not a plain integer, or too long to count exactly in Lua) keeps the
-- per-job INCR, and with it INCR's error. A call adding one job (`many` false) gets nil: no
-- table to make, every step as before.
local function qc_add_counter(K, many)
  if not many then
    return nil
  end
  local c = {next = nil, used = 0, pushes = {}}
  local v = rcall("GET", K[3])
  if not v then
    c.next = 0
  elseif string.len(v) < 16 and (v == "0" or string.match(v, "^%-?[1-9]%d*$")) then
    c.next = tonumber(v)
  end
  return c
end

local function qc_add_next_id(K, c)
  if c == nil or c.next == nil then
    return rcall("INCR", K[3])
  end
  c.next = c.next + 1
  c.used = c.used + 1
  return c.next
end

-- In a call adding many jobs, LPUSHes to `wait` are collected and sent as one LPUSH of many
-- ids, in order (the list ends as N LPUSHes leave it; an RPUSH of a lifo job commutes with
-- them). Nothing in an add reads `wait`, and a script is atomic, so no one sees the difference.
local function qc_add_push(c, waitKey, jobId)
  local pushes = c.pushes
  pushes[#pushes + 1] = jobId
  if #pushes >= 1000 then  -- unpack's stack is limited
    rcall("LPUSH", waitKey, unpack(pushes))
    c.pushes = {}
  end
end

-- The counter first: the ids counted are in use (their hashes are written) even when the
-- push fails (`wait` of the wrong type), so the next add must not be given one of them.
local function qc_add_flush(K, c)
  if c == nil then
    return
  end
  if c.used > 0 then
    rcall("INCRBY", K[3], c.used)
    c.used = 0
  end
  if #c.pushes > 0 then
    rcall("LPUSH", K[1], unpack(c.pushes))
    c.pushes = {}
  end
end

-- Add one job: the arguments as add_job's ARGV[2] .. ARGV[15] (see add_job.lua); `c` from
-- qc_add_counter (nil for one job). Returns {jobId, status} (0 added, 1 the id existed, 2 deduplicated) or -5
-- when its parent does not exist.
local function qc_add_job(K, base, meta, c, jobId, name, timestampArg, data, opts, delayArg,
                          priorityArg, lifo, dedupId, dedupTtl, dedupMode, parentKey,
                          parentJson, waitsForChildren)
  if parentKey ~= "" and rcall("EXISTS", parentKey) == 0 then
    return -5
  end
  local maxEvents = meta.maxEvents
  local counter = qc_add_next_id(K, c)
  if jobId == "" then
    jobId = tostring(counter)
  end
  local jobKey = base .. jobId

  if rcall("EXISTS", jobKey) == 1 then
    qc_emit(K[7], maxEvents, "duplicated", "jobId", jobId)
    return {jobId, 1}
  end

  if dedupId ~= "" then
    local dedupKey = base .. "de:" .. dedupId
    local ttl = tonumber(dedupTtl)
    local owner = rcall("GET", dedupKey)
    if owner and dedupMode == "replace" and rcall("ZSCORE", K[4], owner) then
      -- The owner has not started yet: the new job takes its place.
      rcall("ZREM", K[4], owner)
      qc_delete_job_keys(base, owner)
      qc_emit(K[7], maxEvents, "removed", "jobId", owner, "prev", "delayed")
      owner = nil
    end
    if owner then
      if dedupMode == "extend" and ttl > 0 then
        rcall("PEXPIRE", dedupKey, ttl)
      end
      qc_emit(K[7], maxEvents, "deduplicated", "jobId", owner, "deduplicationId", dedupId,
              "deduplicatedJobId", jobId)
      return {owner, 2}
    end
    if ttl > 0 then
      rcall("SET", dedupKey, jobId, "PX", ttl)
    else
      rcall("SET", dedupKey, jobId)
    end
  end

  local timestamp = tonumber(timestampArg)
  local delay = tonumber(delayArg)
  local priority = tonumber(priorityArg)
  -- A Lua number given to redis.call is formatted on every call: 0, the usual value, goes
  -- as the string it formats to.
  local delayField = delay == 0 and "0" or delay
  local priorityField = priority == 0 and "0" or priority
  if dedupId == "" and parentKey == "" then  -- the usual job: no table to build
    rcall("HSET", jobKey, "name", name, "data", data, "opts", opts, "timestamp",
          timestampArg, "delay", delayField, "priority", priorityField)
  else
    local fields = {"name", name, "data", data, "opts", opts, "timestamp", timestampArg,
                    "delay", delayField, "priority", priorityField}
    if dedupId ~= "" then
      table.insert(fields, "deid")
      table.insert(fields, dedupId)
    end
    if parentKey ~= "" then
      table.insert(fields, "parentKey")
      table.insert(fields, parentKey)
      table.insert(fields, "parent")
      table.insert(fields, parentJson)
      rcall("SADD", parentKey .. ":dependencies", jobKey)
    end
    rcall("HSET", jobKey, unpack(fields))
  end
  qc_emit(K[7], maxEvents, "added", "jobId", jobId, "name", name)

  if waitsForChildren == "1" then
    rcall("ZADD", K[10], timestamp, jobId)
    qc_emit(K[7], maxEvents, "waiting-children", "jobId", jobId)
    return {jobId, 0}
  end
  local pausedOrMaxed = qc_add_paused_or_maxed(K, meta)
  if delay > 0 then
    local due = timestamp + delay
    rcall("ZADD", K[4], qc_delayed_score(K[4], due), jobId)
    qc_emit(K[7], maxEvents, "delayed", "jobId", jobId, "delay", due)
    qc_add_delay_marker(K[8], K[4], pausedOrMaxed)
  else
    -- The base marker is the same ZADD for every job: once per call is enough.
    if c ~= nil and priority == 0 and lifo ~= "1" then
      qc_add_push(c, K[1], jobId)
      qc_add_base_marker(K[8], pausedOrMaxed or meta.baseMarkerAdded)
    else
      qc_enqueue(K[1], K[5], K[6], K[8], jobId, priority, lifo == "1",
                 pausedOrMaxed or meta.baseMarkerAdded)
    end
    if not pausedOrMaxed then
      meta.baseMarkerAdded = true
    end
    qc_emit(K[7], maxEvents, "waiting", "jobId", jobId)
  end
  return {jobId, 0}
end
