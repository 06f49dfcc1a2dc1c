--[[
  Publish one message on a topic of a BullMQ Relay namespace (Node bullmq 6.x), as the Relay's
  own publish delivers it: one entry in the inbox stream of each live node with a subscription
  whose pattern matches the topic, listing that node's matching endpoints. Used to ask Node
  workers subscribed to `jobs.<queue>.cancel` to cancel a job. Nothing is written when the
  namespace has no node (no Relay in use). No retained message.

  Keys of the namespace live under `<prefix>::relay:{<namespace>}` (one hash slot):
  KEYS[1] <base>:nodes   KEYS[2] <base>:subs   KEYS[3] <base>:mid

  ARGV[1] base   ARGV[2] topic (concrete, valid Relay grammar)   ARGV[3] data (JSON)
  ARGV[4] timestamp (ms)   ARGV[5] default inbox max length

  Returns {message id, nodes reached, endpoints reached}; {0, 0, 0} without nodes.
]]
local rcall = redis.call
local base = ARGV[1]
local topic = ARGV[2]
if rcall("EXISTS", KEYS[1]) == 0 then
  return {0, 0, 0}
end

local function split(value)
  local out, start = {}, 1
  while true do
    local dot = string.find(value, ".", start, true)
    if not dot then
      out[#out + 1] = string.sub(value, start)
      return out
    end
    out[#out + 1] = string.sub(value, start, dot - 1)
    start = dot + 1
  end
end

-- "*" matches one segment, ">" (last only) one or more.
local function matches(pattern, topicSegments)
  local segments = split(pattern)
  for i = 1, #segments do
    local segment = segments[i]
    if segment == ">" then
      return #topicSegments >= i
    end
    if i > #topicSegments or (segment ~= "*" and segment ~= topicSegments[i]) then
      return false
    end
  end
  return #segments == #topicSegments
end

-- Members of the subscription index starting with `prefix` (ordered by value).
local function range(prefix)
  return rcall("ZRANGEBYLEX", KEYS[2], "[" .. prefix, "[" .. prefix .. string.char(255))
end

local topicSegments = split(topic)
local targets, order = {}, {}
local function add_subscribers(pattern)
  local prefix = "p|" .. pattern .. "|"
  for _, member in ipairs(range(prefix)) do
    local rest = string.sub(member, #prefix + 1)
    local bar = string.find(rest, "|", 1, true)
    local nodeId, endpointId = string.sub(rest, 1, bar - 1), string.sub(rest, bar + 1)
    local target = targets[nodeId]
    if not target then
      target = {list = {}, seen = {}}
      targets[nodeId] = target
      order[#order + 1] = nodeId
    end
    if not target.seen[endpointId] then
      target.seen[endpointId] = true
      target.list[#target.list + 1] = endpointId
    end
  end
end
local function add_wildcards(root)
  local prefix = "w|" .. root .. "|"
  for _, member in ipairs(range(prefix)) do
    local pattern = string.sub(member, #prefix + 1)
    if matches(pattern, topicSegments) then
      add_subscribers(pattern)
    end
  end
end
add_subscribers(topic)
add_wildcards(topicSegments[1])
add_wildcards("*")

local mid
if rcall("EXISTS", KEYS[3]) == 1 then
  mid = rcall("INCR", KEYS[3])
else
  local time = rcall("TIME")
  mid = rcall("INCRBY", KEYS[3], time[1] .. string.format("%06d", time[2]))
  rcall("PEXPIRE", KEYS[3], math.max(1, rcall("PTTL", KEYS[1])))
end

local nodes, endpoints = 0, 0
for _, nodeId in ipairs(order) do
  local nodeKey = base .. ":" .. nodeId .. ":node"
  local ttl = rcall("PTTL", nodeKey)
  if ttl > 0 then
    local inboxKey = base .. ":" .. nodeId .. ":inbox"
    local maxLen = tonumber(rcall("HGET", nodeKey, "maxLen")) or tonumber(ARGV[5])
    local overflow = rcall("XLEN", inboxKey) + 1 - maxLen
    if overflow > 0 then
      -- As the Relay does: entries already read (up to the node's cursor) are not counted
      -- as dropped.
      local cursor = rcall("HGET", nodeKey, "inFlight") or rcall("HGET", nodeKey, "cursor")
        or "0-0"
      local consumed = 0
      if cursor ~= "0-0" and cursor ~= "0" then
        consumed = #rcall("XRANGE", inboxKey, "-", cursor, "COUNT", overflow)
      end
      local dropped = rcall("XTRIM", inboxKey, "MAXLEN", maxLen - 1) - consumed
      if dropped > 0 then
        rcall("HINCRBY", nodeKey, "dropped", dropped)
      end
    end
    local list = targets[nodeId].list
    rcall("XADD", inboxKey, "*", "k", "msg", "t", topic, "m", mid, "ts", ARGV[4],
          "d", ARGV[3], "e", table.concat(list, ","))
    rcall("PEXPIRE", inboxKey, ttl)
    nodes = nodes + 1
    endpoints = endpoints + #list
  end
end
return {mid, nodes, endpoints}
