--[[
  Adding jobs, shared by add_job (one job) and add_jobs (many). Needs common.
  `K` is the add scripts' KEYS (wait, meta, id, delayed, prioritized, pc, events, marker,
  active, waiting-children). A job's arguments are A[off + 2] .. A[off + 15], laid out as
  add_job's ARGV[2] .. ARGV[15]; `base` is the queue's key prefix.
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

-- Add one job. Returns {jobId, status} (0 added, 1 the id existed, 2 deduplicated) or -5
-- when its parent does not exist.
local function qc_add_job(K, A, off, base, meta)
  local parentKey = A[off + 13]
  if parentKey ~= "" and rcall("EXISTS", parentKey) == 0 then
    return -5
  end
  local maxEvents = meta.maxEvents
  local counter = rcall("INCR", K[3])
  local jobId = A[off + 2]
  if jobId == "" then
    jobId = tostring(counter)
  end
  local jobKey = base .. jobId

  if rcall("EXISTS", jobKey) == 1 then
    qc_emit(K[7], maxEvents, "duplicated", "jobId", jobId)
    return {jobId, 1}
  end

  local name = A[off + 3]
  local dedupId = A[off + 10]
  if dedupId ~= "" then
    local dedupKey = base .. "de:" .. dedupId
    local ttl = tonumber(A[off + 11])
    local mode = A[off + 12]
    local owner = rcall("GET", dedupKey)
    if owner and mode == "replace" and rcall("ZSCORE", K[4], owner) then
      -- The owner has not started yet: the new job takes its place.
      rcall("ZREM", K[4], owner)
      qc_delete_job_keys(base, owner)
      qc_emit(K[7], maxEvents, "removed", "jobId", owner, "prev", "delayed")
      owner = nil
    end
    if owner then
      if mode == "extend" and ttl > 0 then
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

  local timestamp = tonumber(A[off + 4])
  local delay = tonumber(A[off + 7])
  local priority = tonumber(A[off + 8])
  local fields = {"name", name, "data", A[off + 5], "opts", A[off + 6], "timestamp",
                  A[off + 4], "delay", delay, "priority", priority}
  if dedupId ~= "" then
    table.insert(fields, "deid")
    table.insert(fields, dedupId)
  end
  if parentKey ~= "" then
    table.insert(fields, "parentKey")
    table.insert(fields, parentKey)
    table.insert(fields, "parent")
    table.insert(fields, A[off + 14])
    rcall("SADD", parentKey .. ":dependencies", jobKey)
  end
  rcall("HSET", jobKey, unpack(fields))
  qc_emit(K[7], maxEvents, "added", "jobId", jobId, "name", name)

  if A[off + 15] == "1" then
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
    qc_enqueue(K[1], K[5], K[6], K[8], jobId, priority, A[off + 9] == "1",
               pausedOrMaxed or meta.baseMarkerAdded)
    if not pausedOrMaxed then
      meta.baseMarkerAdded = true
    end
    qc_emit(K[7], maxEvents, "waiting", "jobId", jobId)
  end
  return {jobId, 0}
end
