--[[
  Remove a deduplication key, so the next add with that deduplication id is not deduplicated
  (as BullMQ's Queue.removeDeduplicationKey; the owning job keeps its `deid`).

  KEYS[1] the deduplication key (<base>de:<id>)

  Returns 1 when a key was removed, else 0.
]]
return redis.call("DEL", KEYS[1])
