--[[
  Move a job that failed for good into a dead-letter queue: it becomes a job of that queue
  (same name, data, options, failure, attempts) in its `failed` set, with a `dlq` field naming
  where it came from; the original is removed. Both queues must share a hash tag in Cluster.

  KEYS[1] source failed   KEYS[2] source events   KEYS[3] source meta
  KEYS[4] dlq id          KEYS[5] dlq failed      KEYS[6] dlq events   KEYS[7] dlq meta

  ARGV[1] source base   ARGV[2] job id   ARGV[3] dlq base   ARGV[4] now (ms)
  ARGV[5] source queue name   ARGV[6] source prefix

  Returns the job's id in the dead-letter queue. Errors: -1 no job, -3 not failed.
]]
-- @include "common"

local srcBase = ARGV[1]
local jobId = ARGV[2]
local jobKey = srcBase .. jobId
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
if not rcall("ZSCORE", KEYS[1], jobId) then
  return -3
end
if rcall("EXISTS", KEYS[7]) == 0 then
  rcall("HSET", KEYS[7], "opts.maxLenEvents", 10000, "version", "queuecore:@QC_VERSION@")
end
local newId = tostring(rcall("INCR", KEYS[4]))
local newKey = ARGV[3] .. newId
local copied = {"name", "data", "opts", "timestamp", "delay", "priority", "failedReason",
                "stacktrace", "atm", "ats", "processedOn", "finishedOn", "progress", "pb",
                "returnvalue"}
local values = rcall("HMGET", jobKey, unpack(copied))
local fields = {}
for i, name in ipairs(copied) do
  if values[i] then
    table.insert(fields, name)
    table.insert(fields, values[i])
  end
end
table.insert(fields, "dlq")
table.insert(fields, cjson.encode({queue = ARGV[5], prefix = ARGV[6], jobId = jobId,
                                   movedOn = tonumber(ARGV[4])}))
rcall("HSET", newKey, unpack(fields))
local logs = rcall("LRANGE", jobKey .. ":logs", 0, -1)
for i = 1, #logs, 1000 do
  rcall("RPUSH", newKey .. ":logs", unpack(logs, i, math.min(i + 999, #logs)))
end
rcall("ZADD", KEYS[5], tonumber(ARGV[4]), newId)
local dlqEvents = qc_max_events(KEYS[7])
qc_emit(KEYS[6], dlqEvents, "added", "jobId", newId, "name", values[1] or "")
qc_emit(KEYS[6], dlqEvents, "failed", "jobId", newId, "failedReason", values[7] or "",
        "prev", "dead-letter")
rcall("ZREM", KEYS[1], jobId)
qc_delete_job_keys(srcBase, jobId)
qc_emit(KEYS[2], qc_max_events(KEYS[3]), "removed", "jobId", jobId, "prev", "failed")
return newId
