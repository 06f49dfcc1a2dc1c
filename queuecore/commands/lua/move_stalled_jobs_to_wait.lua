--[[
  The stall check, at most once per interval across all workers: every suspect (in `stalled`)
  whose lock is gone goes back to the front of `wait` with its stall counter raised (and a
  deferred failure set once it stalled more than maxStalledCount times); then every active job
  becomes a suspect for the next round.

  KEYS[1] stalled   KEYS[2] wait   KEYS[3] active   KEYS[4] stalled-check   KEYS[5] meta
  KEYS[6] events    KEYS[7] marker

  ARGV[1] base   ARGV[2] maxStalledCount   ARGV[3] now (ms)   ARGV[4] interval (ms)

  Returns {recovered ids, ids given a deferred failure}.
]]
-- @include "common"

local base = ARGV[1]
if rcall("SET", KEYS[4], ARGV[3], "PX", ARGV[4], "NX") == false then
  return {{}, {}}
end
local maxStalled = tonumber(ARGV[2])
local maxEvents = qc_max_events(KEYS[5])
local recovered = {}
local deferred = {}
local suspects = rcall("SMEMBERS", KEYS[1])
for _, jobId in ipairs(suspects) do
  if string.sub(jobId, 1, 2) == "0:" then
    rcall("LREM", KEYS[3], 1, jobId)
  else
    local jobKey = base .. jobId
    if rcall("EXISTS", jobKey .. ":lock") == 0 and rcall("LREM", KEYS[3], 1, jobId) > 0 then
      if rcall("EXISTS", jobKey) == 1 then
        local stalls = rcall("HINCRBY", jobKey, "stc", 1)
        if stalls > maxStalled then
          rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
          table.insert(deferred, jobId)
        end
        rcall("RPUSH", KEYS[2], jobId)
        qc_emit(KEYS[6], maxEvents, "waiting", "jobId", jobId, "prev", "active")
        qc_emit(KEYS[6], maxEvents, "stalled", "jobId", jobId)
        table.insert(recovered, jobId)
      end
    end
  end
end
rcall("DEL", KEYS[1])
if #recovered > 0 then
  qc_add_base_marker(KEYS[7], qc_paused_or_maxed(KEYS[5], KEYS[3]))
end
local active = rcall("LRANGE", KEYS[3], 0, -1)
for i = 1, #active, 5000 do
  rcall("SADD", KEYS[1], unpack(active, i, math.min(i + 4999, #active)))
end
return {recovered, deferred}
