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
-- @include "add"

local meta = qc_add_prepare_meta(KEYS)
return qc_add_job(KEYS, ARGV[1], meta, nil, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
                  ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14],
                  ARGV[15])
