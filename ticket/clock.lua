-- Stores a ticket's recomputed SLA clock and reschedules its alerts.
--
-- KEYS[1] ticket hash
-- KEYS[2] warn zset, KEYS[3] breach zset     number -> due time (ms)
-- KEYS[4] warned zset, KEYS[5] breached zset number -> deadline (ms), for the digest
-- ARGV[1] ticket number
-- ARGV[2] clock (JSON)
-- ARGV[3] warn at (ms) or "" when no warning is to be scheduled
-- ARGV[4] deadline (ms) or "" when the clock is not running
-- ARGV[5] deadline (ms) as stored, for the digest sets
local n = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOTICKET ' .. n)
end
redis.call('HSET', KEYS[1], 'sla', ARGV[2])
local warned = redis.call('HEXISTS', KEYS[1], 'sla_warned_at') == 1
local breached = redis.call('HEXISTS', KEYS[1], 'sla_breached_at') == 1
-- Each alert goes once; a later deadline (a lower priority) does not send
-- a second warning.
if ARGV[3] ~= '' and not warned then
  redis.call('ZADD', KEYS[2], ARGV[3], n)
else
  redis.call('ZREM', KEYS[2], n)
end
if ARGV[4] ~= '' and not breached then
  redis.call('ZADD', KEYS[3], ARGV[4], n)
else
  redis.call('ZREM', KEYS[3], n)
end
-- A ticket at risk or breached stays in the digest while its clock runs,
-- with its current deadline.
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[4], n)
  redis.call('ZREM', KEYS[5], n)
else
  if warned and not breached then redis.call('ZADD', KEYS[4], ARGV[5], n) end
  if breached then redis.call('ZADD', KEYS[5], ARGV[5], n) end
end
return 1
