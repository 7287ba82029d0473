-- Appends a follow-up (a customer's reply, an auto-reply) to an existing
-- ticket. Idempotent on the dedupe key, like commit.lua.
--
-- KEYS[1] seen hash      dedupe key -> ticket number | "rejected"
-- KEYS[2] ticket hash
-- KEYS[3] ticket events  list of JSON events
-- ARGV[1] dedupe key
-- ARGV[2] ticket number
-- ARGV[3] event (JSON)
-- ARGV[4] time of the event (RFC 3339)
-- Returns {number, created}.
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev and prev ~= 'rejected' then
  return {prev, 0}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOTICKET ' .. ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[2], 'updated_at', ARGV[4])
return {ARGV[2], 1}
