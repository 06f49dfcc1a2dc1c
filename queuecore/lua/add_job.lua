--[[
  Add one job: to `waiting-children` when it waits for children of a flow, else to `delayed`
  when delay > 0, else to `prioritized` when priority > 0, else `wait`.

  KEYS[1] wait          KEYS[2] meta         KEYS[3] id          KEYS[4] delayed
  KEYS[5] prioritized   KEYS[6] pc           KEYS[7] events      KEYS[8] marker
  KEYS[9] active        KEYS[10] waiting-children

  ARGV[1] base (key prefix "<prefix>:<queue>:")   ARGV[2] custom job id, "" for an auto id
  ARGV[3] name          ARGV[4] timestamp (ms)    ARGV[5] data (JSON)
  ARGV[6] opts (JSON)   ARGV[7] delay (ms)        ARGV[8] priority
  ARGV[9] lifo "1"/"0"  ARGV[10] deduplication id, "" for none
  ARGV[11] deduplication ttl ms (0 = until the job finishes)
  ARGV[12] deduplication: "extend" the ttl, "replace" a delayed owner, or ""
  ARGV[13] full key of the parent job, "" for none (the child joins its dependencies)
  ARGV[14] parent JSON {id, queueKey, fpof?, cpof?, idof?, rdof?}, "" for none
  ARGV[15] "1" when this job waits for children (a flow parent)

  Returns {jobId, status}: status 0 = added, 1 = the id existed already (nothing written but
  a "duplicated" event), 2 = deduplicated onto jobId (a "deduplicated" event).
  Errors: -5 the parent job does not exist.
]]
-- @include "common"

local base = ARGV[1]
-- A queue's meta is created on first use, as Node's Queue does (it marks the queue as there).
if rcall("EXISTS", KEYS[2]) == 0 then
  rcall("HSET", KEYS[2], "opts.maxLenEvents", 10000, "version", "queuecore:0.1.0")
end
local parentKey = ARGV[13]
if parentKey ~= "" and rcall("EXISTS", parentKey) == 0 then
  return -5
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
  local owner = rcall("GET", dedupKey)
  if owner and ARGV[12] == "replace" and rcall("ZSCORE", KEYS[4], owner) then
    -- The owner has not started yet: the new job takes its place.
    rcall("ZREM", KEYS[4], owner)
    qc_delete_job_keys(base, owner)
    qc_emit(KEYS[7], maxEvents, "removed", "jobId", owner, "prev", "delayed")
    owner = nil
  end
  if owner then
    if ARGV[12] == "extend" and ttl > 0 then
      rcall("PEXPIRE", dedupKey, ttl)
    end
    qc_emit(KEYS[7], maxEvents, "deduplicated", "jobId", owner, "deduplicationId", dedupId,
            "deduplicatedJobId", jobId)
    return {owner, 2}
  end
  if ttl > 0 then
    rcall("SET", dedupKey, jobId, "PX", ttl)
  else
    rcall("SET", dedupKey, jobId)
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
if parentKey ~= "" then
  table.insert(fields, "parentKey")
  table.insert(fields, parentKey)
  table.insert(fields, "parent")
  table.insert(fields, ARGV[14])
  rcall("SADD", parentKey .. ":dependencies", jobKey)
end
rcall("HSET", jobKey, unpack(fields))
qc_emit(KEYS[7], maxEvents, "added", "jobId", jobId, "name", ARGV[3])

if ARGV[15] == "1" then
  rcall("ZADD", KEYS[10], timestamp, jobId)
  qc_emit(KEYS[7], maxEvents, "waiting-children", "jobId", jobId)
  return {jobId, 0}
end
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
