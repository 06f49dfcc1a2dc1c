--[[
  Remove the children of a flow parent that have not been processed, with their own children,
  depth first (as BullMQ's Job.removeUnprocessedChildren): every job still in the parent's
  pending dependencies except those locked by a worker (running) and those that failed for
  good. Completed children (and their subtrees) are kept. Each removed job is taken out of its
  state with all its keys, and `removed` is emitted in its queue (prev = the structure it was
  in). A parent left with no pending dependency is released from waiting-children, as when its
  last child completes.

  Children may live in other queues: their keys come from the parent's `dependencies` set
  (full job keys); one that starts with "<prefix>:" (the parent's prefix) is split into its
  queue and id there (queue names hold no ":"), any other at its last ":".

  KEYS[1] the parent's hash
  ARGV[1] prefix   ARGV[2] the parent's queue name   ARGV[3] the parent's id   ARGV[4] now

  Returns the number of jobs removed. Errors: -1 no job.
]]
-- @include "common"
-- @include "flows"

local prefix = ARGV[1] .. ":"
if rcall("EXISTS", KEYS[1]) == 0 then
  return -1
end

-- A child's queue key prefix ("<prefix>:<queue>:") and id, from its full job key.
local function qc_split_job_key(key)
  if string.sub(key, 1, #prefix) == prefix then
    local rest = string.sub(key, #prefix + 1)
    local colon = string.find(rest, ":", 1, true)
    if colon then
      return prefix .. string.sub(rest, 1, colon), string.sub(rest, colon + 1)
    end
  end
  local id = string.match(key, ":([^:]+)$")
  if not id then
    return nil, nil
  end
  return string.sub(key, 1, #key - #id), id
end

local removed = 0
local removeChildren
removeChildren = function(parentKey)
  local depsKey = parentKey .. ":dependencies"
  for _, childKey in ipairs(rcall("SMEMBERS", depsKey)) do
    local base, id = qc_split_job_key(childKey)
    if base and rcall("EXISTS", childKey .. ":lock") == 0
        and not rcall("ZSCORE", base .. "failed", id) then
      rcall("SREM", depsKey, childKey)
      removeChildren(childKey)
      local state = qc_find_state(base, id)
      local prev = "unknown"
      if state then
        prev = STATE_SUFFIX[state]
        if state == "waiting" and not rcall("LPOS", base .. "wait", id) then
          prev = "paused"
        end
        qc_remove_from_state(base, id, state)
      end
      rcall("SREM", base .. "stalled", id)
      local existed = rcall("EXISTS", childKey) == 1
      qc_delete_job_keys(base, id)
      if existed then
        removed = removed + 1
        qc_emit(base .. "events", qc_max_events(base .. "meta"), "removed", "jobId", id,
                "prev", prev)
      end
    end
  end
end

removeChildren(KEYS[1])
qc_release_parent({key = KEYS[1], id = ARGV[3], queueKey = prefix .. ARGV[2]},
                  tonumber(ARGV[4]))
return removed
