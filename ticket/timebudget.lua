-- Sets a ticket's own time budget (agreed with the customer: "in overleg
-- met een inschatting van de benodigde tijd"), or removes it (0: the
-- plan's again), with its history event. A mark of a threshold the
-- ticket's billable time is below under the new budget is removed, so
-- that reaching it is told.
--
-- KEYS[1] the ticket's time totals hash
-- KEYS[2] events list
-- KEYS[3] ticket hash
-- ARGV[1] ticket number
-- ARGV[2] budget in minutes, 0 to remove
-- ARGV[3] the new budget's warning in billable minutes
-- ARGV[4] the new budget's limit in billable minutes (0: none)
-- ARGV[5] event JSON
-- ARGV[6] now (RFC 3339)
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOTICKET ' .. ARGV[1])
end
if ARGV[2] == '0' then
  redis.call('HDEL', KEYS[1], 'budget')
else
  redis.call('HSET', KEYS[1], 'budget', ARGV[2])
end
local billable = tonumber(redis.call('HGET', KEYS[1], 'billable') or '0')
local limit = tonumber(ARGV[4])
if limit == 0 or billable < limit then
  redis.call('HDEL', KEYS[1], 'reached_at')
end
if limit == 0 or billable < tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], 'warned_at')
end
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[3], 'updated_at', ARGV[6])
return 1
