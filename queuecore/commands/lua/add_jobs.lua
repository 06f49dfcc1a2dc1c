--[[
  Add many jobs to one queue in one call (add_bulk): each exactly as add_job adds it, in order.

  KEYS[1] wait          KEYS[2] meta         KEYS[3] id          KEYS[4] delayed
  KEYS[5] prioritized   KEYS[6] pc           KEYS[7] events      KEYS[8] marker
  KEYS[9] active        KEYS[10] waiting-children

  ARGV[1] base (key prefix "<prefix>:<queue>:")
  then 14 arguments per job, add_job's ARGV[2] .. ARGV[15] in the same order: custom job id,
  name, timestamp, data, opts, delay, priority, lifo, deduplication id, deduplication ttl,
  deduplication mode, parent key, parent JSON, waits for children.

  Returns one reply per job, in order: {jobId, status} as add_job returns it, or -5 when that
  job's parent does not exist (the other jobs are added).
]]
-- @include "common"
-- @include "add"

local meta = qc_add_prepare_meta(KEYS)
local base = ARGV[1]
local replies = {}
for off = 0, #ARGV - 2, 14 do
  replies[#replies + 1] = qc_add_job(KEYS, ARGV, off, base, meta)
end
return replies
