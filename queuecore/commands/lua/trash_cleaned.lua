--[[
  The event of a clean done into a trash (jobs removed by trash_job with "quiet"): BullMQ's
  clean writes one `cleaned` event with the count of jobs it removed (and none per job), so
  listeners on `cleaned` (queuecore's and Node's QueueEvents) hear a dashboard clean as
  they hear Queue.clean.

  KEYS[1] meta   KEYS[2] events
  ARGV[1] count

  Returns 1.
]]
-- @include "common"

qc_emit(KEYS[2], qc_max_events(KEYS[1]), "cleaned", "count", ARGV[1])
return 1
