--[[
  Add one job: to `delayed` when delay > 0, else to `prioritized` when priority > 0, else `wait`.

  KEYS[1] wait          KEYS[2] meta         KEYS[3] id          KEYS[4] delayed
  KEYS[5] prioritized   KEYS[6] pc           KEYS[7] events      KEYS[8] marker
  KEYS[9] active

  ARGV[1] base (key prefix "<prefix>:<queue>:")   ARGV[2] custom job id, "" for an auto id
  ARGV[3] name          ARGV[4] timestamp (ms)    ARGV[5] data (JSON)
  ARGV[6] opts (JSON)   ARGV[7] delay (ms)        ARGV[8] priority
  ARGV[9] lifo "1"/"0"  ARGV[10] deduplication id, "" for none
  ARGV[11] deduplication ttl ms (0 = until the job finishes)

  Returns {jobId, status}: status 0 = added, 1 = the id existed already (nothing written but
  a "duplicated" event), 2 = deduplicated onto jobId (a "deduplicated" event).
]]
-- @include "common"

local base = ARGV[1]
-- A queue's meta is created on first use, as Node's Queue does (it marks the queue as there).
if rcall("EXISTS", KEYS[2]) == 0 then
  rcall("HSET", KEYS[2], "opts.maxLenEvents", 10000, "version", "queuecore:0.1.0")
end
local maxEvents = qc_max_events(KEYS[2])
local counter = rcall("INCR", KEYS[3])
local jobId = ARGV[2]
if jobId == "" then
  jobId = tostring(counter)
end
local jobKey = base .. jobId

if rcall("EXISTS", jobKey) == 1 then
  qc_emit(KEYS[7], maxEvents, "duplicated", "jobId", jobId)
  return {jobId, 1}
end

local dedupId = ARGV[10]
if dedupId ~= "" then
  local dedupKey = base .. "de:" .. dedupId
  local ttl = tonumber(ARGV[11])
  local set
  if ttl > 0 then
    set = rcall("SET", dedupKey, jobId, "PX", ttl, "NX")
  else
    set = rcall("SET", dedupKey, jobId, "NX")
  end
  if not set then
    local owner = rcall("GET", dedupKey)
    qc_emit(KEYS[7], maxEvents, "deduplicated", "jobId", owner, "deduplicationId", dedupId,
            "deduplicatedJobId", jobId)
    return {owner, 2}
  end
end

local timestamp = tonumber(ARGV[4])
local delay = tonumber(ARGV[7])
local priority = tonumber(ARGV[8])
local fields = {"name", ARGV[3], "data", ARGV[5], "opts", ARGV[6], "timestamp", ARGV[4],
                "delay", delay, "priority", priority}
if dedupId ~= "" then
  table.insert(fields, "deid")
  table.insert(fields, dedupId)
end
rcall("HSET", jobKey, unpack(fields))
qc_emit(KEYS[7], maxEvents, "added", "jobId", jobId, "name", ARGV[3])

local pausedOrMaxed = qc_paused_or_maxed(KEYS[2], KEYS[9])
if delay > 0 then
  local due = timestamp + delay
  rcall("ZADD", KEYS[4], qc_delayed_score(KEYS[4], due), jobId)
  qc_emit(KEYS[7], maxEvents, "delayed", "jobId", jobId, "delay", due)
  qc_add_delay_marker(KEYS[8], KEYS[4], pausedOrMaxed)
else
  qc_enqueue(KEYS[1], KEYS[5], KEYS[6], KEYS[8], jobId, priority, ARGV[9] == "1", pausedOrMaxed)
  qc_emit(KEYS[7], maxEvents, "waiting", "jobId", jobId)
end
return {jobId, 0}
