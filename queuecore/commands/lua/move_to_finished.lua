--[[
  Finish an active job (completed or failed for good), for the owner of its lock only; then
  optionally fetch the next job in the same call.

  KEYS[1] wait      KEYS[2] active    KEYS[3] prioritized  KEYS[4] events   KEYS[5] stalled
  KEYS[6] limiter   KEYS[7] delayed   KEYS[8] paused       KEYS[9] meta     KEYS[10] pc
  KEYS[11] marker   KEYS[12] target set (completed or failed)
  KEYS[13] metrics hash of the target (metrics:completed or metrics:failed)

  ARGV[1] base      ARGV[2] job id    ARGV[3] now (ms)     ARGV[4] lock token ("0" = none)
  ARGV[5] target name "completed"/"failed"
  ARGV[6] value: the return value JSON (completed) or the failed reason (failed)
  ARGV[7] stacktrace JSON ("" to leave it)
  ARGV[8] keep count (-1 all, 0 none)   ARGV[9] keep age seconds (0 = any)
  ARGV[10] keep limit per call (0 = 1000)
  ARGV[11] max attempts (for retries-exhausted)
  ARGV[12] metrics max data points (0 = no metrics)
  ARGV[13] fetch next "1"/"0"   ARGV[14] lockDuration   ARGV[15] limiter max
  ARGV[16] limiter duration     ARGV[17] worker name   ARGV[18] lock token for the next job
  ARGV[19] timing samples to keep (with metrics)
  ARGV[20] "1": a retry after a lost reply, else "0" (or absent). When the job is done
  already and an active job holds the lock of ARGV[18], the first try ran (it finished
  this job and fetched that one): that job is handed back as the fetch reply. When the
  first try finished this job (qc_finished_by_first_try) but fetched nothing, the retry
  goes on as a finish that succeeded.

  Returns 0 (finished, nothing fetched) or the fetch reply {fields, jobId, ttl, nextDue}.
  Errors: -1 no job, -2 no lock, -3 not active, -4 pending children, -6 lock of another worker.
]]
-- @include "common"
-- @include "fetch"
-- @include "flows"
-- @include "finish"

local base = ARGV[1]
local now = tonumber(ARGV[3])
local k = {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
           stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
           meta = KEYS[9], pc = KEYS[10], marker = KEYS[11]}

-- The queue's meta, read once for the finish and the fetch.
local meta = qc_read_meta(k.meta)
local code, pausedOrMaxed = qc_finish_job(k, meta, {
  base = base, jobId = ARGV[2], now = now, nowText = ARGV[3], token = ARGV[4],
  target = ARGV[5], value = ARGV[6], stack = ARGV[7], keepCount = tonumber(ARGV[8]),
  keepAge = tonumber(ARGV[9]), keepLimit = tonumber(ARGV[10]),
  maxAttempts = tonumber(ARGV[11]), maxPoints = tonumber(ARGV[12]),
  samples = tonumber(ARGV[19]), targetKey = KEYS[12], metricsKey = KEYS[13]})
if code ~= 0 and ARGV[20] == "1" then
  -- The first try fetches only after its finish, with a token of this call alone: a job
  -- holding that lock proves this job's finish ran.
  if ARGV[13] == "1" and (code == -1 or code == -2 or code == -3) then
    local held = qc_held_by_tokens(k.active, base, {[ARGV[18]] = 1}, 1)
    if held[1] and not rcall("LPOS", k.active, ARGV[2]) then
      return {rcall("HGETALL", base .. held[1]), held[1], 0, 0}
    end
  end
  -- It fetched nothing (or was not asked to), yet finished this job: finished, as then.
  if (code == -2 or code == -3) and qc_finished_by_first_try({
      base = base, jobId = ARGV[2], nowText = ARGV[3], target = ARGV[5], value = ARGV[6]}) then
    code = 0
  end
end
if code ~= 0 then
  return code
end

if ARGV[13] == "1" then
  local o = {base = base, now = now, token = ARGV[18], lockDuration = ARGV[14],
             limiterMax = tonumber(ARGV[15]), limiterDuration = tonumber(ARGV[16]),
             workerName = ARGV[17]}
  local reply = qc_fetch(k, o, meta, pausedOrMaxed)
  if reply[1] == 0 and reply[3] == 0 and qc_drained(k) then
    qc_emit(k.events, meta.maxEvents, "drained")
  end
  return reply
end
if qc_drained(k) then
  qc_emit(k.events, meta.maxEvents, "drained")
end
return 0
