--[[
  Create or update a job scheduler and make sure its next run exists, exactly once per slot.

  KEYS[1] repeat   KEYS[2] delayed   KEYS[3] wait     KEYS[4] prioritized   KEYS[5] pc
  KEYS[6] meta     KEYS[7] events    KEYS[8] marker   KEYS[9] active        KEYS[10] id

  ARGV[1] base ("<prefix>:<queue>:")   ARGV[2] scheduler id      ARGV[3] now (ms)
  ARGV[4] first run (ms) computed by the client from now; "" when there is none
  ARGV[5] job name      ARGV[6] data (JSON)   ARGV[7] job opts JSON up to the repeat count
  ARGV[8] priority      ARGV[9] lifo "1"/"0"  ARGV[10] template opts JSON ("" for none)
  ARGV[11] tz   ARGV[12] limit   ARGV[13] pattern   ARGV[14] startDate   ARGV[15] endDate
  ARGV[16] every   ARGV[17] offset given by the user   ARGV[18] offset derived from ARGV[4]
  (ARGV[11]..ARGV[17]: "" when not set)

  An existing scheduler whose timing (pattern, every, tz, startDate, offset) is unchanged keeps
  its pending run (only its name, data and opts are refreshed); when the timing changed the
  pending run is replaced by one at ARGV[4]. A run already started is left to the worker, which
  schedules the one after it. A run id that exists is never written twice.

  Returns {jobId, status, job hash fields}: the pending run, else the latest run still stored,
  else {"", status, {}}. status is one of created, replaced, kept, running, limit, ended,
  busy, none (nothing written: a new scheduler without a run).
  Errors: -10 a new scheduler's first run id is taken by an old job.
]]
-- @include "common"
-- @include "scheduler"

local k = qc_sched_keys(KEYS)
local base = ARGV[1]
local schedulerId = ARGV[2]
local now = tonumber(ARGV[3])
local nextDue = tonumber(ARGV[4])
local schedKey = k.repeat_ .. ":" .. schedulerId
local maxEvents = qc_max_events(k.meta)
local limit = tonumber(ARGV[12])
local endDate = tonumber(ARGV[15])
local every = tonumber(ARGV[16])

local prev = rcall("ZSCORE", k.repeat_, schedulerId)
local stored = rcall("HMGET", schedKey, "pattern", "every", "tz", "startDate", "offset", "ic")
local unchanged = false
if prev then
  prev = tonumber(prev)
  unchanged = (stored[1] or "") == ARGV[13] and (stored[2] or "") == ARGV[16]
    and (stored[3] or "") == ARGV[11] and (stored[4] or "") == ARGV[14]
    and (ARGV[17] == "" or (stored[5] or "") == ARGV[17])
elseif nextDue == nil then
  return {"", "none", {}}
end
local ic = tonumber(stored[6]) or 0
local offset = ARGV[18]
if ARGV[17] ~= "" then
  offset = ARGV[17]
elseif unchanged and stored[5] then
  offset = stored[5]
end

local t = {base = base, name = ARGV[5], data = ARGV[6], optsHead = ARGV[7], count = 1,
           now = now, priority = tonumber(ARGV[8]), lifo = ARGV[9] == "1",
           schedulerId = schedulerId}
local slot = prev
local jobId = ""
local status

local function create(due, count)
  local id = qc_sched_job_id(schedulerId, due)
  if rcall("EXISTS", base .. id) == 1 then
    return nil
  end
  t.count = count
  qc_sched_add_job(k, t, id, due, maxEvents)
  return id
end

if not prev then
  jobId = create(nextDue, 1)
  if not jobId then
    return -10
  end
  ic = 1
  slot = nextDue
  status = "created"
else
  local prevId = qc_sched_job_id(schedulerId, prev)
  local pending = qc_sched_pending(k, base, prevId)
  if pending and unchanged then
    local jobKey = base .. prevId
    local delay = tonumber(rcall("HGET", jobKey, "delay")) or 0
    rcall("HSET", jobKey, "name", t.name, "data", t.data,
          "opts", qc_sched_opts(t.optsHead, math.max(ic, 1), prevId, delay, prev))
    if pending == "delayed" then
      rcall("HSET", jobKey, "priority", t.priority)
    end
    jobId = prevId
    status = "kept"
  elseif pending then
    qc_sched_remove_pending(k, base, prevId, maxEvents)
    status = "ended"
    if nextDue then
      local id = create(nextDue, math.max(ic, 1))
      if id then
        jobId = id
        slot = nextDue
        status = "replaced"
      else
        status = "busy"
      end
    end
  elseif unchanged and rcall("LPOS", k.active, prevId) then
    -- The current run is being processed; its worker schedules the next one.
    status = "running"
  else
    -- The chain stopped (the last run finished without a successor): start it again.
    local due = nextDue
    if every and unchanged then
      -- Stay on the scheduler's grid: the slot after prev, or the first one after now.
      due = prev + every
      if due < now then
        due = math.floor(now / every) * every + (tonumber(offset) or 0)
        while due <= now do
          due = due + every
        end
      end
      if endDate and due > endDate then
        due = nil
      end
    end
    if due == nil or due <= prev then
      status = "ended"
    elseif limit and ic >= limit then
      status = "limit"
    else
      local id = create(due, ic + 1)
      if id then
        ic = ic + 1
        jobId = id
        slot = due
        status = "created"
      else
        status = "busy"
      end
    end
  end
end

rcall("ZADD", k.repeat_, slot, schedulerId)
local fields = {"name", t.name}
local optional = {{"tz", ARGV[11]}, {"limit", ARGV[12]}, {"pattern", ARGV[13]},
                  {"startDate", ARGV[14]}, {"endDate", ARGV[15]}, {"every", ARGV[16]},
                  {"offset", offset}, {"opts", ARGV[10]}}
for _, pair in ipairs(optional) do
  if pair[2] ~= "" then
    table.insert(fields, pair[1])
    table.insert(fields, pair[2])
  end
end
if t.data ~= "{}" then
  table.insert(fields, "data")
  table.insert(fields, t.data)
end
table.insert(fields, "ic")
table.insert(fields, math.max(ic, 1))
rcall("DEL", schedKey)
rcall("HSET", schedKey, unpack(fields))

if jobId == "" then
  -- No new or pending run: hand back the latest one while it is still stored.
  jobId = qc_sched_job_id(schedulerId, slot)
end
local jobFields = rcall("HGETALL", base .. jobId)
if #jobFields == 0 then
  return {"", status, {}}
end
return {jobId, status, jobFields}
