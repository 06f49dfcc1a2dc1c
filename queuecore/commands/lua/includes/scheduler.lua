--[[
  Helpers for the job scheduler scripts (included by `-- @include "scheduler"`, after
  common). A scheduler's runs have the id "repeat:<schedulerId>:<dueMillis>"; its hash is
  the `repeat` key .. ":" .. schedulerId. `k` is a table with the queue's keys: repeat,
  delayed, wait, prioritized, pc, meta, events, marker, active, id.
]]

local function qc_sched_job_id(schedulerId, due)
  return "repeat:" .. schedulerId .. ":" .. string.format("%d", due)
end

-- The job's `opts` JSON: `head` is the options up to the repeat object's count (built by
-- the client); the values that depend on the slot are added here.
local function qc_sched_opts(head, count, jobId, delay, due)
  return head .. string.format("%d", count) .. '},"jobId":' .. cjson.encode(jobId) ..
    ',"delay":' .. string.format("%d", delay) .. ',"prevMillis":' .. string.format("%d", due) .. '}'
end

-- Add run `jobId` due at `due`: delayed when in the future, else ready now.
-- `t` holds: base, name, data, optsHead, count, now, priority, lifo, schedulerId.
local function qc_sched_add_job(k, t, jobId, due, maxEvents)
  local jobKey = t.base .. jobId
  local delay = due - t.now
  if delay < 0 then
    delay = 0
  end
  rcall("INCR", k.id)
  rcall("HSET", jobKey, "name", t.name, "data", t.data,
        "opts", qc_sched_opts(t.optsHead, t.count, jobId, delay, due),
        "timestamp", t.now, "delay", delay, "priority", t.priority, "rjk", t.schedulerId)
  qc_emit(k.events, maxEvents, "added", "jobId", jobId, "name", t.name)
  local pausedOrMaxed = qc_paused_or_maxed(k.meta, k.active)
  if delay > 0 then
    rcall("ZADD", k.delayed, qc_delayed_score(k.delayed, due), jobId)
    qc_emit(k.events, maxEvents, "delayed", "jobId", jobId, "delay", due)
    qc_add_delay_marker(k.marker, k.delayed, pausedOrMaxed)
  else
    qc_enqueue(k.wait, k.prioritized, k.pc, k.marker, jobId, t.priority, t.lifo, pausedOrMaxed)
    qc_emit(k.events, maxEvents, "waiting", "jobId", jobId)
  end
end

-- Where a run that has not started yet waits: "delayed", "prioritized", "wait" or nil.
local function qc_sched_pending(k, base, jobId)
  if rcall("ZSCORE", k.delayed, jobId) then
    return "delayed"
  end
  if rcall("ZSCORE", k.prioritized, jobId) then
    return "prioritized"
  end
  if rcall("LPOS", k.wait, jobId) then
    return "wait"
  end
  if rcall("LPOS", base .. "paused", jobId) then
    return "paused"
  end
  return nil
end

-- Remove a run that has not started (no-op when it has). Returns true when removed.
local function qc_sched_remove_pending(k, base, jobId, maxEvents)
  local where = qc_sched_pending(k, base, jobId)
  if not where then
    return false
  end
  if where == "delayed" or where == "prioritized" then
    rcall("ZREM", k[where], jobId)
  else
    rcall("LREM", base .. where, 0, jobId)
  end
  qc_delete_job_keys(base, jobId)
  qc_emit(k.events, maxEvents, "removed", "jobId", jobId, "prev", where)
  return true
end

local function qc_sched_keys(KEYS)
  return {repeat_ = KEYS[1], delayed = KEYS[2], wait = KEYS[3], prioritized = KEYS[4],
          pc = KEYS[5], meta = KEYS[6], events = KEYS[7], marker = KEYS[8], active = KEYS[9],
          id = KEYS[10]}
end
