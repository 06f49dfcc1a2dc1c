--[[
  Fan-out (queuecore only; see queuecore/flow.py): jobs that run once a first job completed.

  The "then" jobs of a fan-out are written up front in `waiting-children`, each with the first
  job's full key in its `:dependencies` set. The first job's real parent is a gate job; when
  the gate is processed (after the first job completed, by BullMQ's own parent rule), mode
  "release" moves every "then" job on at once.

  ARGV[1] = "park": run inside the flow's MULTI, right before the add of one "then" job.
    KEYS[1] the "then" job's hash    KEYS[2] its `:dependencies` set
    ARGV[2] the first job's full key
    A job that exists already is left alone (its add will only report "duplicated").
    Returns 1 when parked, 0 when the job existed.

  ARGV[1] = "release": run by the gate's processor.
    KEYS[1] the gate job's hash
    ARGV[2] now (ms)   ARGV[3] the first job's full key
    ARGV[4..] triples: a "then" job's full key, its id, its queue key ("<prefix>:<queue>")
    Each "then" job still waiting on the first job gets the first job's return value in its
    `:processed` hash (what `get_children_values()` reads), loses that dependency and goes to
    wait, prioritized or delayed as its options say. Jobs released before are skipped, so a
    retried gate never releases twice.
    Returns the number of jobs released, or false (a nil reply) when the first job has not
    completed (the gate holds no result for it): nothing is released then.
]]
-- @include "common"
-- @include "flows"

local mode = ARGV[1]

if mode == "park" then
  if rcall("EXISTS", KEYS[1]) == 1 then
    return 0
  end
  rcall("SADD", KEYS[2], ARGV[2])
  return 1
end

if mode == "release" then
  local now = tonumber(ARGV[2])
  local firstKey = ARGV[3]
  local value = rcall("HGET", KEYS[1] .. ":processed", firstKey)
  if not value then
    return false
  end
  local released = 0
  for i = 4, #ARGV, 3 do
    local key = ARGV[i]
    if rcall("SREM", key .. ":dependencies", firstKey) == 1 then
      rcall("HSET", key .. ":processed", firstKey, value)
      qc_release_parent({key = key, id = ARGV[i + 1], queueKey = ARGV[i + 2]}, now)
      released = released + 1
    end
  end
  return released
end

return redis.error_reply("fan_out: unknown mode " .. tostring(mode))
