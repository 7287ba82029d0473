-- Voids one time record (an agent's correction): it stays in the history
-- and the record, marked, but no longer counts in the ticket's totals or
-- on statements. Voiding a void record changes nothing.
--
-- KEYS[1] the ticket's time records hash
-- KEYS[2] the ticket's time totals hash
-- KEYS[3] the customer's time index
-- KEYS[4] events list
-- KEYS[5] ticket hash
-- ARGV[1] ticket number
-- ARGV[2] record id
-- ARGV[3] voided_at (RFC 3339)
-- ARGV[4] voided_by
-- ARGV[5] reason
-- ARGV[6] event JSON
-- ARGV[7] the budget's warning and ARGV[8] its limit, in billable minutes
--         (0: none): a mark of a threshold the totals are below again is
--         removed, so that reaching it again is told again
-- Returns the record's JSON as it is now, and 1 when this call voided it.
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then
  return redis.error_reply('NORECORD ' .. ARGV[2])
end
local r = cjson.decode(raw)
if r.voided_at then
  return {raw, 0}
end
r.voided_at, r.voided_by = ARGV[3], ARGV[4]
if ARGV[5] ~= '' then
  r.void_reason = ARGV[5]
end
local out = cjson.encode(r)
redis.call('HSET', KEYS[1], ARGV[2], out)
redis.call('HINCRBY', KEYS[2], 'minutes', -r.minutes)
local billable = tonumber(redis.call('HGET', KEYS[2], 'billable') or '0')
if r.billable then
  billable = redis.call('HINCRBY', KEYS[2], 'billable', -r.minutes)
end
if billable < tonumber(ARGV[8]) then
  redis.call('HDEL', KEYS[2], 'reached_at')
end
if billable < tonumber(ARGV[7]) then
  redis.call('HDEL', KEYS[2], 'warned_at')
end
redis.call('ZREM', KEYS[3], ARGV[1] .. ' ' .. ARGV[2])
redis.call('RPUSH', KEYS[4], ARGV[6])
redis.call('HSET', KEYS[5], 'updated_at', ARGV[3])
return {out, 1}
