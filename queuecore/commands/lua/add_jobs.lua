--[[
  Add jobs to one queue in one call (add and add_bulk): each exactly as add_job adds it, in
  order.

  KEYS[1] wait          KEYS[2] meta         KEYS[3] id          KEYS[4] delayed
  KEYS[5] prioritized   KEYS[6] pc           KEYS[7] events      KEYS[8] marker
  KEYS[9] active        KEYS[10] waiting-children

  ARGV[1] base (key prefix "<prefix>:<queue>:")   ARGV[2] how many jobs follow
  then one record per job, starting with its form:
    "p" (a plain job: no delay, priority, lifo, deduplication or parent; not a flow parent),
        then 5 arguments: custom job id ("" for an auto id), name, timestamp, data, opts;
    "r" (a plain job with an auto id and the name and opts of the last "p" record), then 2
        arguments: timestamp, data;
    "f" (any job), then add_job's ARGV[2] .. ARGV[15] in the same order: custom job id,
        name, timestamp, data, opts, delay, priority, lifo, deduplication id, deduplication
        ttl, deduplication mode, parent key, parent JSON, waits for children.

  Returns one reply per job, in order: {jobId, status} as add_job returns it, or -5 when that
  job's parent does not exist (the other jobs are added).
]]
-- @include "common"
-- @include "add"

local meta = qc_add_prepare_meta(KEYS)
local base = ARGV[1]
local many = tonumber(ARGV[2]) > 1
local c = qc_add_counter(KEYS, many)
local replies = {}
local lastName, lastOpts
local function add_all()
  local i, n = 3, #ARGV
  while i <= n do
    local form = ARGV[i]
    if form == "r" then
      replies[#replies + 1] = qc_add_job(KEYS, base, meta, c, "", lastName, ARGV[i + 1],
                                         ARGV[i + 2], lastOpts, "0", "0", "0", "", "0", "", "",
                                         "", "0")
      i = i + 3
    elseif form == "p" then
      lastName, lastOpts = ARGV[i + 2], ARGV[i + 5]
      replies[#replies + 1] = qc_add_job(KEYS, base, meta, c, ARGV[i + 1], lastName,
                                         ARGV[i + 3], ARGV[i + 4], lastOpts, "0", "0", "0", "",
                                         "0", "", "", "", "0")
      i = i + 6
    else
      replies[#replies + 1] = qc_add_job(KEYS, base, meta, c, ARGV[i + 1], ARGV[i + 2],
                                         ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6],
                                         ARGV[i + 7], ARGV[i + 8], ARGV[i + 9], ARGV[i + 10],
                                         ARGV[i + 11], ARGV[i + 12], ARGV[i + 13], ARGV[i + 14])
      i = i + 15
    end
  end
end

if many then
  -- A call that fails part way (a key of the wrong type) keeps the jobs added before it, as
  -- one add_job call per job would: the counter and the collected pushes are written anyway.
  local ok, err = pcall(add_all)
  local flushed, flushErr = pcall(qc_add_flush, KEYS, c)
  -- The first error, as raised: no position of these lines added.
  if not ok then
    error(err, 0)
  end
  if not flushed then
    error(flushErr, 0)
  end
else
  add_all()
end
return replies
