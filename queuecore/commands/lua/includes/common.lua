--[[
  Shared helpers for queuecore's scripts (included by `-- @include "common"`).
  Key conventions: `base` is "<prefix>:<queue>:"; a job's hash is base .. id, its lock
  base .. id .. ":lock". Only keys given in KEYS or built from `base` are touched.
]]
local rcall = redis.call
local DELAY_SHIFT = 4096
local PRIORITY_SHIFT = 4294967296

local function qc_max_events(metaKey)
  return tonumber(rcall("HGET", metaKey, "opts.maxLenEvents")) or 10000
end

local function qc_emit(eventsKey, maxEvents, ...)
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", ...)
end

-- True while the queue is paused or has reached its global concurrency.
local function qc_paused_or_maxed(metaKey, activeKey)
  local meta = rcall("HMGET", metaKey, "paused", "concurrency")
  if meta[1] then
    return true
  end
  if meta[2] then
    return rcall("LLEN", activeKey) >= tonumber(meta[2])
  end
  return false
end

-- The meta fields the hot scripts need, read with one HMGET: maxEvents (the string "10000"
-- when unset: a Lua number handed to redis.call is formatted on every call),
-- and the raw maxLenEvents, paused, concurrency, max and duration (false when unset).
local function qc_read_meta(metaKey)
  local f = rcall("HMGET", metaKey, "opts.maxLenEvents", "paused", "concurrency", "max",
                  "duration")
  return {maxEvents = tonumber(f[1]) or "10000", maxLenEvents = f[1], paused = f[2],
          concurrency = f[3], max = f[4], duration = f[5]}
end

-- qc_paused_or_maxed for meta already read by qc_read_meta.
local function qc_meta_paused_or_maxed(m, activeKey)
  if m.paused then
    return true
  end
  if m.concurrency then
    return rcall("LLEN", activeKey) >= tonumber(m.concurrency)
  end
  return false
end

local function qc_add_base_marker(markerKey, pausedOrMaxed)
  if not pausedOrMaxed then
    rcall("ZADD", markerKey, "0", "0")
  end
end

local function qc_next_delayed_due(delayedKey)
  local first = rcall("ZRANGE", delayedKey, 0, 0, "WITHSCORES")
  if first[2] then
    return math.floor(tonumber(first[2]) / DELAY_SHIFT)
  end
  return nil
end

local function qc_add_delay_marker(markerKey, delayedKey, pausedOrMaxed)
  if pausedOrMaxed then
    return
  end
  local due = qc_next_delayed_due(delayedKey)
  if due ~= nil then
    rcall("ZADD", markerKey, due, "1")
  end
end

local function qc_priority_score(priority, pcKey)
  local counter = rcall("INCR", pcKey)
  return priority * PRIORITY_SHIFT + (counter % PRIORITY_SHIFT)
end

-- Score in `delayed` for a due time: due * 4096 + n, n growing inside one millisecond.
local function qc_delayed_score(delayedKey, due)
  local low = due * DELAY_SHIFT
  local high = low + DELAY_SHIFT - 1
  local top = rcall("ZREVRANGEBYSCORE", delayedKey, high, low, "WITHSCORES", "LIMIT", 0, 1)
  if top[2] then
    local score = tonumber(top[2])
    if score >= high then
      return high
    end
    return score + 1
  end
  return low
end

-- Put a ready job where workers take it: `wait` (LPUSH; RPUSH = front when `front`) or
-- `prioritized`, and wake a blocked worker.
local function qc_enqueue(waitKey, prioritizedKey, pcKey, markerKey, jobId, priority, front,
                          pausedOrMaxed)
  if priority > 0 then
    rcall("ZADD", prioritizedKey, qc_priority_score(priority, pcKey), jobId)
  elseif front then
    rcall("RPUSH", waitKey, jobId)
  else
    rcall("LPUSH", waitKey, jobId)
  end
  qc_add_base_marker(markerKey, pausedOrMaxed)
end

local function qc_job_priority(jobKey)
  return tonumber(rcall("HGET", jobKey, "priority")) or 0
end

-- The keys hanging off a job's hash (base .. id .. suffix), the hash itself first; its lock
-- (":lock") is not one of them: remove and clean delete it, the trash refuses a locked job.
local QC_JOB_KEY_SUFFIXES = {"", ":logs", ":dependencies", ":processed", ":failed",
                             ":unsuccessful"}

-- Release a job's deduplication key when the job still owns it (a newer job may have taken
-- the id meanwhile). `dedupId`: the job's deid when the caller has read it (false: none),
-- nil to read it.
local function qc_release_dedup(base, jobId, dedupId)
  if dedupId == nil then
    dedupId = rcall("HGET", base .. jobId, "deid")
  end
  if dedupId then
    local dedupKey = base .. "de:" .. dedupId
    if rcall("GET", dedupKey) == jobId then
      rcall("DEL", dedupKey)
    end
  end
end

-- Delete a job's hash and every key hanging off it, and its deduplication key when it owns it.
-- `dedupId`: as for qc_release_dedup. The keys are QC_JOB_KEY_SUFFIXES and ":lock", spelt
-- out: clean, drain and removeOnComplete call this per job, and building the list from the
-- table measured about a fifth slower per job.
local function qc_delete_job_keys(base, jobId, dedupId)
  local jobKey = base .. jobId
  qc_release_dedup(base, jobId, dedupId)
  rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":lock", jobKey .. ":dependencies",
        jobKey .. ":processed", jobKey .. ":failed", jobKey .. ":unsuccessful")
end

-- Where a job is now: the public state name, or nil. States are checked cheapest first.
local function qc_find_state(base, jobId)
  local zsets = {"completed", "failed", "delayed", "prioritized", "waiting-children"}
  for _, state in ipairs(zsets) do
    if rcall("ZSCORE", base .. state, jobId) then
      return state
    end
  end
  if rcall("LPOS", base .. "active", jobId) then
    return "active"
  end
  if rcall("LPOS", base .. "wait", jobId) then
    return "waiting"
  end
  if rcall("LPOS", base .. "paused", jobId) then
    return "waiting"
  end
  return nil
end

local STATE_SUFFIX = {
  ["waiting"] = "wait", ["active"] = "active", ["completed"] = "completed",
  ["failed"] = "failed", ["delayed"] = "delayed", ["prioritized"] = "prioritized",
  ["waiting-children"] = "waiting-children"
}

-- Take a job out of the structure of its state (the legacy `paused` list too).
local function qc_remove_from_state(base, jobId, state)
  if state == "waiting" then
    rcall("LREM", base .. "wait", 0, jobId)
    rcall("LREM", base .. "paused", 0, jobId)
  elseif state == "active" then
    rcall("LREM", base .. "active", 0, jobId)
  else
    rcall("ZREM", base .. STATE_SUFFIX[state], jobId)
  end
end

-- For the owner of an active job's lock: take the job out of `active`, release its lock and
-- clear its stall suspicion. Returns 0, or -1 no job, -2 no lock, -6 another owner, -3 not
-- active. token "0" skips the lock check.
local function qc_take_active(base, jobId, token, activeKey, stalledKey)
  local jobKey = base .. jobId
  local lockKey = jobKey .. ":lock"
  if rcall("EXISTS", jobKey) == 0 then
    return -1
  end
  if token ~= "0" then
    local lock = rcall("GET", lockKey)
    if not lock then
      return -2
    end
    if lock ~= token then
      return -6
    end
  end
  if rcall("LREM", activeKey, "-1", jobId) == 0 then
    return -3
  end
  rcall("DEL", lockKey)
  rcall("SREM", stalledKey, jobId)
  return 0
end
