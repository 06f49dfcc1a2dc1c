--[[
  Finish the jobs a worker finished in one loop turn (each completed or failed for good, for
  the owner of its lock only), then fetch up to one next job per job finished, in one call.
  Per job the effects are move_to_finished's (the same code: includes/finish.lua); the
  fetches are move_to_active's, with the due delayed jobs promoted, the meta read and (with
  no limiter counting) the rate limit checked once for the batch, and the marker set once.

  KEYS[1] wait      KEYS[2] active    KEYS[3] prioritized  KEYS[4] events   KEYS[5] stalled
  KEYS[6] limiter   KEYS[7] delayed   KEYS[8] paused       KEYS[9] meta     KEYS[10] pc
  KEYS[11] marker   KEYS[12] completed   KEYS[13] failed
  KEYS[14] metrics:completed   KEYS[15] metrics:failed

  ARGV[1] base   ARGV[2] now (ms)   ARGV[3] metrics max data points (0 = no metrics)
  ARGV[4] timing samples to keep   ARGV[5] lockDuration   ARGV[6] limiter max
  ARGV[7] limiter duration   ARGV[8] worker name   ARGV[9] n jobs   ARGV[10] m fetch tokens
  ARGV[11] "1": a retry after a lost reply (see below), else "0"
  then n blocks of 8: job id, lock token, target ("completed"/"failed"), value (return
  value JSON or failed reason), stacktrace JSON ("" to leave it), keep count (-1 all,
  0 none), keep age seconds, keep limit per call
  then n max attempts, then m lock tokens for the fetched jobs.

  Returns {codes, fetched, rateLimitTtl, nextDelayedDue}: codes[i] is 0 or job i's error
  code (move_to_finished's); fetched = {fields1, id1, fields2, id2, ...}, at most one job
  per job finished and at most m.

  A retry (the worker lost the reply: the first try may have run) sends the same fetch
  tokens and the same `now`. A job refused as not locked or not active counts as finished
  when the first try finished it (qc_finished_by_first_try); one refused as gone (-1,
  removed on finishing) when that try ran at all. When jobs in `active` hold locks with the
  tokens, the first try ran and fetched those: they are handed back (their hashes as the
  first try left them) and nothing more is fetched, so no job stays locked by a token the
  worker never saw until the lock expires.
]]
-- @include "common"
-- @include "fetch"
-- @include "flows"
-- @include "finish"

local base = ARGV[1]
local now = tonumber(ARGV[2])
local nowText = ARGV[2]
local maxPoints = tonumber(ARGV[3])
local samples = tonumber(ARGV[4])
local n = tonumber(ARGV[9])
local m = tonumber(ARGV[10])
local k = {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
           stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
           meta = KEYS[9], pc = KEYS[10], marker = KEYS[11]}
local sets = {completed = {KEYS[12], KEYS[14]}, failed = {KEYS[13], KEYS[15]}}

local meta = qc_read_meta(k.meta)
local retry = ARGV[11] == "1"
local codes = {}
local finished = 0
for i = 1, n do
  local at = 11 + (i - 1) * 8
  local target = ARGV[at + 3]
  local set = sets[target]
  local a = {
    base = base, jobId = ARGV[at + 1], now = now, nowText = nowText, token = ARGV[at + 2],
    target = target, value = ARGV[at + 4], stack = ARGV[at + 5],
    keepCount = tonumber(ARGV[at + 6]), keepAge = tonumber(ARGV[at + 7]),
    keepLimit = tonumber(ARGV[at + 8]), maxAttempts = tonumber(ARGV[11 + n * 8 + i]),
    maxPoints = maxPoints, samples = samples, targetKey = set[1], metricsKey = set[2]}
  local code = qc_finish_job(k, meta, a)
  -- Only this job's own finish counts: another job's (a fetch by the first try) proves
  -- nothing about it (its lock may have expired and the stall check moved it).
  if retry and (code == -2 or code == -3) and qc_finished_by_first_try(a) then
    code = 0
  end
  codes[i] = code
  if code == 0 then
    finished = finished + 1
  end
end

local fetched = {}
local ttl, nextDue = 0, 0
local tokens = 11 + n * 9
if retry and m > 0 then
  local wanted = {}
  for i = 1, m do
    wanted[ARGV[tokens + i]] = i
  end
  local held, any = qc_held_by_tokens(k.active, base, wanted, m)
  if any then
    -- The first try ran: a job gone now and not active was removed as it finished then.
    for i = 1, n do
      local jobId = ARGV[11 + (i - 1) * 8 + 1]
      if codes[i] == -1 and not rcall("LPOS", k.active, jobId) then
        codes[i] = 0
      end
    end
    -- The first try fetched with tokens 1, 2, ... in turn: hand back that run of jobs.
    for i = 1, m do
      local jobId = held[i]
      if not jobId then
        break
      end
      fetched[#fetched + 1] = rcall("HGETALL", base .. jobId)
      fetched[#fetched + 1] = jobId
    end
    return {codes, fetched, 0, 0}
  end
end
if finished < m then
  m = finished
end
local o = {base = base, now = now, lockDuration = ARGV[5], limiterMax = tonumber(ARGV[6]),
           limiterDuration = tonumber(ARGV[7]), workerName = ARGV[8], noMarker = true}
local max = tonumber(meta.max) or o.limiterMax
for i = 1, m do
  o.token = ARGV[tokens + i]
  local reply = qc_fetch(k, o, meta, nil)
  if reply[1] == 0 then
    ttl, nextDue = reply[3], reply[4]
    break
  end
  fetched[#fetched + 1] = reply[1]
  fetched[#fetched + 1] = reply[2]
  o.promoted = true
  o.unlimited = max <= 0
end
-- One fetch after another would each have set the marker when it left a job behind: that
-- is, when a second job was fetched, or one is left now.
if #fetched > 0 then
  if #fetched > 2 or rcall("LLEN", k.wait) > 0 or rcall("ZCARD", k.prioritized) > 0 then
    qc_add_base_marker(k.marker, false)
  end
elseif ttl == 0 and finished > 0 and qc_drained(k) then
  qc_emit(k.events, meta.maxEvents, "drained")
end
return {codes, fetched, ttl, nextDue}
