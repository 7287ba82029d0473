-- Sends one SLA alert of one ticket exactly once: removes it from its
-- due-time set only if it is still scheduled at the listed time, marks the
-- ticket, and queues the notifications, all in one step.
--
-- KEYS[1] due zset (warn or breach)
-- KEYS[2] ticket hash
-- KEYS[3] digest zset of this kind (warned or breached)
-- KEYS[4] warned zset (a breached ticket leaves it)
-- KEYS[5] outbox stream
-- ARGV[1] ticket number
-- ARGV[2] due time (ms) as listed
-- ARGV[3] marker field ("sla_warned_at" | "sla_breached_at")
-- ARGV[4] now (RFC 3339)
-- ARGV[5] first-response deadline (ms), the digest's order
-- ARGV[6..] notifications, as queue.lua reads them
-- Returns 1 when this call sent the alert, 0 when it was not due any more.
local n = ARGV[1]
local score = redis.call('ZSCORE', KEYS[1], n)
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZREM', KEYS[1], n)
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
-- For a warning KEYS[3] is the warned set, and the breached one is not
-- touched.
mark(KEYS[2], n, ARGV[3] == 'sla_breached_at', ARGV[4], ARGV[5], KEYS[4], KEYS[3])
queue(KEYS[5], 6)
return 1
