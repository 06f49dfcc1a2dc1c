--[[
  Settling a flow parent when one of its children finishes (needs common). A parent lives in
  its own queue: its keys are built from `queueKey` ("<prefix>:<queue>", from the child's
  `parent` field), which shares the hash tag of the flow in Redis Cluster.
]]

local cjson_decode = cjson.decode

-- The parent's id, queue key and failure policy from a child's `parentKey` and `parent`
-- fields, or nil.
local function qc_parse_parent(parentKey, parentJson)
  if not parentKey or not parentJson then
    return nil
  end
  local ok, parent = pcall(cjson_decode, parentJson)
  if not ok or type(parent) ~= "table" or not parent.id or not parent.queueKey then
    return nil
  end
  parent.key = parentKey
  return parent
end

-- The parent's id, queue key and failure policy from a child's hash, or nil.
local function qc_parent_of(jobKey)
  local fields = rcall("HMGET", jobKey, "parentKey", "parent")
  return qc_parse_parent(fields[1], fields[2])
end

-- Move a parent whose dependencies are all settled from waiting-children to be run.
local function qc_release_parent(parent, now)
  local qbase = parent.queueKey .. ":"
  if rcall("SCARD", parent.key .. ":dependencies") > 0 then
    return
  end
  if rcall("ZREM", qbase .. "waiting-children", parent.id) == 0 then
    return
  end
  local metaKey = qbase .. "meta"
  local maxEvents = qc_max_events(metaKey)
  local pausedOrMaxed = qc_paused_or_maxed(metaKey, qbase .. "active")
  local delay = tonumber(rcall("HGET", parent.key, "delay")) or 0
  if delay > 0 then
    local ts = tonumber(rcall("HGET", parent.key, "timestamp")) or 0
    local due = ts + delay
    if due > now then
      rcall("ZADD", qbase .. "delayed", qc_delayed_score(qbase .. "delayed", due), parent.id)
      qc_emit(qbase .. "events", maxEvents, "delayed", "jobId", parent.id, "delay", due)
      qc_add_delay_marker(qbase .. "marker", qbase .. "delayed", pausedOrMaxed)
      return
    end
  end
  qc_enqueue(qbase .. "wait", qbase .. "prioritized", qbase .. "pc", qbase .. "marker",
             parent.id, qc_job_priority(parent.key), true, pausedOrMaxed)
  qc_emit(qbase .. "events", maxEvents, "waiting", "jobId", parent.id, "prev",
          "waiting-children")
end

-- A child completed: hand its result up, drop the dependency, maybe release the parent.
-- `parent`: from qc_parse_parent when the caller has read the child's fields (false: no
-- parent), nil to read them.
local function qc_child_completed(jobKey, returnValue, now, parent)
  if parent == nil then
    parent = qc_parent_of(jobKey)
  end
  if not parent then
    return
  end
  if rcall("SREM", parent.key .. ":dependencies", jobKey) == 1 then
    rcall("HSET", parent.key .. ":processed", jobKey, returnValue)
    qc_release_parent(parent, now)
  end
end

-- A child failed for good: apply the parent's policy. fpof fails the parent (and up the
-- chain while those parents fail on failure too); cpof and idof record the failure and go
-- on; rdof just drops the dependency; with no policy the parent keeps waiting with the child
-- still in its `dependencies` (as Node bullmq 6.7 leaves it: an `unsuccessful` entry would
-- stop a Node worker from finishing the parent after the child is retried).
local function qc_child_failed(jobKey, reason, now, parent)
  if parent == nil then
    parent = qc_parent_of(jobKey)
  end
  local childKey = jobKey
  local childReason = reason
  while parent do
    local depsKey = parent.key .. ":dependencies"
    if rcall("SISMEMBER", depsKey, childKey) == 0 then
      return
    end
    if parent.fpof then
      rcall("ZADD", parent.key .. ":unsuccessful", now, childKey)
      rcall("SREM", depsKey, childKey)
      local qbase = parent.queueKey .. ":"
      if rcall("ZREM", qbase .. "waiting-children", parent.id) == 0 then
        return
      end
      local failedReason = "child " .. childKey .. " failed: " .. childReason
      rcall("HSET", parent.key, "failedReason", failedReason, "finishedOn", now)
      rcall("ZADD", qbase .. "failed", now, parent.id)
      qc_emit(qbase .. "events", qc_max_events(qbase .. "meta"), "failed", "jobId", parent.id,
              "failedReason", failedReason, "prev", "waiting-children")
      childKey = parent.key
      childReason = failedReason
      parent = qc_parent_of(parent.key)
    else
      if parent.cpof or parent.idof then
        rcall("HSET", parent.key .. ":failed", childKey, childReason)
        rcall("SREM", depsKey, childKey)
        qc_release_parent(parent, now)
      elseif parent.rdof then
        rcall("SREM", depsKey, childKey)
        qc_release_parent(parent, now)
      end
      return
    end
  end
end
