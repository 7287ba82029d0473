-- Records one piece of an agent's work on a ticket (issue 21): the record,
-- the ticket's totals, the customer's index for monthly statements, the
-- history event, and the budget notifications the new total calls for, in
-- one step. Idempotent on the request's key.
--
-- KEYS[1] ticket hash
-- KEYS[2] the ticket's time records hash   id -> record JSON
-- KEYS[3] the ticket's time totals hash    minutes, billable, warned_at, reached_at
-- KEYS[4] the customer's time index        zset: start (ms) -> "number id"
-- KEYS[5] time keys hash                   request key -> "number id"
-- KEYS[6] events list
-- KEYS[7] outbox stream
-- KEYS[8] seen hash (Message-IDs of mail -> ticket number)
-- KEYS[9] the ticket's request keys set (its fields of KEYS[5], which
--         deleting the ticket removes)
-- ARGV[1] ticket number
-- ARGV[2] record id
-- ARGV[3] record JSON
-- ARGV[4] request key, "" for none
-- ARGV[5] start, ms since the epoch
-- ARGV[6] minutes
-- ARGV[7] 1: billable
-- ARGV[8] event JSON
-- ARGV[9] budget warning at this many billable minutes, 0 for none
-- ARGV[10] budget reached at this many billable minutes, 0 for none
-- ARGV[11] now (RFC 3339)
-- ARGV[12] Message-ID of the agent's mail to thread by, "" for none
-- ARGV[13] w: the number of warning notifications; then w notifications
--          (a count of field/value strings, then those), then the
--          notifications of a reached budget in the same form
-- Returns {1, ""} or, for a key used before, {0, "number id"}.
if ARGV[4] ~= '' then
  local prev = redis.call('HGET', KEYS[5], ARGV[4])
  if prev then
    return {0, prev}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOTICKET ' .. ARGV[1])
end
local member = ARGV[1] .. ' ' .. ARGV[2]
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], member)
redis.call('HINCRBY', KEYS[3], 'minutes', ARGV[6])
local billable = tonumber(redis.call('HGET', KEYS[3], 'billable') or '0')
if ARGV[7] == '1' then
  billable = redis.call('HINCRBY', KEYS[3], 'billable', ARGV[6])
end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[4], member)
  redis.call('SADD', KEYS[9], ARGV[4])
end
if ARGV[12] ~= '' then
  redis.call('HSETNX', KEYS[8], ARGV[12], ARGV[1])
end
redis.call('RPUSH', KEYS[6], ARGV[8])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[11])

-- Each threshold is told once; a record that passes both at once tells
-- only that the budget is reached.
local warn, limit = tonumber(ARGV[9]), tonumber(ARGV[10])
local sendLimit = limit > 0 and billable >= limit and redis.call('HSETNX', KEYS[3], 'reached_at', ARGV[11]) == 1
local sendWarn = false
if warn > 0 and billable >= warn then
  sendWarn = redis.call('HSETNX', KEYS[3], 'warned_at', ARGV[11]) == 1 and not sendLimit
end
-- The notification at ARGV[i] (its count of strings, then those) goes to
-- the outbox when send; the next one starts at the index returned.
local function queue(i, send)
  local c = tonumber(ARGV[i])
  if send then
    local f = {}
    for j = i + 1, i + c do f[#f + 1] = ARGV[j] end
    redis.call('XADD', KEYS[7], '*', unpack(f))
  end
  return i + c + 1
end
local i = 14
for n = 1, tonumber(ARGV[13]) do i = queue(i, sendWarn) end
while i <= #ARGV do i = queue(i, sendLimit) end
return {1, ''}
