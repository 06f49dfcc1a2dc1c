--[[
  Cut a flow child loose from its parent while the child has not finished: the child leaves
  the parent's pending dependencies and forgets its parent (`parentKey`, `parent`); a parent
  left with no pending dependency is released from waiting-children (as when its last child
  completes). As BullMQ's Job.removeChildDependency.

  KEYS[1] the child's hash
  ARGV[1] now (ms)

  Returns 0 when the dependency was removed, 1 when there was none (no parent, or the child
  has already finished for the parent). Errors: -1 no job, -5 the parent does not exist.
]]
-- @include "common"
-- @include "flows"

local jobKey = KEYS[1]
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
local fields = rcall("HMGET", jobKey, "parentKey", "parent")
local parentKey = fields[1]
if not parentKey or parentKey == "" then
  return 1
end
if rcall("EXISTS", parentKey) == 0 then
  return -5
end
if rcall("SREM", parentKey .. ":dependencies", jobKey) == 0 then
  return 1
end
rcall("HDEL", jobKey, "parentKey", "parent")
local parent = qc_parse_parent(parentKey, fields[2])
if parent then
  qc_release_parent(parent, tonumber(ARGV[1]))
end
return 0
