-- Applies one change to a ticket (an agent's reply, note, status, priority
-- or assignee change) with its history event and progress mails, in one
-- step.
--
-- KEYS[1] seen hash      dedupe key -> ticket number
-- KEYS[2] ticket hash
-- KEYS[3] events list
-- KEYS[4] outbox stream
-- KEYS[5] requests hash  API idempotency key -> ticket number
-- KEYS[6] the ticket's set of its fields of KEYS[5] (deleting it removes them)
-- ARGV[1] ticket number
-- ARGV[2] dedupe key, "" for none (a change made by mail is idempotent on
--         the mail's Message-ID)
-- ARGV[3] expected status, "" for any: the status the caller validated
--         the transition against; another means someone changed it since
-- ARGV[4] event (JSON), "" for none
-- ARGV[5] now (RFC 3339)
-- ARGV[6] request key, "" for none (an API client's Idempotency-Key: kept
--         apart from Message-IDs, which senders choose)
-- ARGV[7] key prefix "md:{desk}:", for the indexes (index.lua)
-- ARGV[8] now (ms), the retention clock of a ticket that is not open
-- ARGV[9] n, then n field/value pairs to set
-- then m, then m field/value pairs to set only when not set yet
-- then d, then d fields to delete
-- then notifications, as queue.lua reads them
-- Returns 1, or 0 for a replay of a change already made.
local number = ARGV[1]
-- A mail rejected before (then moved back to the inbox) may apply now,
-- as in commit.lua.
if ARGV[2] ~= '' then
  local prev = redis.call('HGET', KEYS[1], ARGV[2]) or redis.call('HGET', KEYS[1] .. ':prev', ARGV[2])
  if prev and prev ~= 'rejected' then
    return 0
  end
end
if ARGV[6] ~= '' and redis.call('HEXISTS', KEYS[5], ARGV[6]) == 1 then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOTICKET ' .. number)
end
if ARGV[3] ~= '' then
  local cur = redis.call('HGET', KEYS[2], 'status')
  if cur ~= ARGV[3] then
    return redis.error_reply('CONFLICT ' .. tostring(cur))
  end
end
local before = idx_fields(KEYS[2])
local i = 9
local n = tonumber(ARGV[i])
if n > 0 then
  local f = {}
  for j = i + 1, i + 2 * n do f[#f + 1] = ARGV[j] end
  redis.call('HSET', KEYS[2], unpack(f))
end
i = i + 2 * n + 1
local m = tonumber(ARGV[i])
for j = i + 1, i + 2 * m, 2 do
  redis.call('HSETNX', KEYS[2], ARGV[j], ARGV[j + 1])
end
i = i + 2 * m + 1
local d = tonumber(ARGV[i])
for j = i + 1, i + d do
  redis.call('HDEL', KEYS[2], ARGV[j])
end
i = i + d + 1
redis.call('HSET', KEYS[2], 'updated_at', ARGV[5])
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[4])
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[2], number)
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[6], number)
  redis.call('SADD', KEYS[6], ARGV[6])
end
reindex(ARGV[7], number, before, ARGV[8])
-- Tickets waiting for an agent's judgement, whatever their status (a
-- reply on a closed feature request): the dashboard reads this set rather
-- than every closed ticket.
if redis.call('HEXISTS', KEYS[2], 'needs_agent_since') == 1 then
  redis.call('ZADD', ARGV[7] .. 'idx:needs_agent', 'NX', ARGV[8], number)
else
  redis.call('ZREM', ARGV[7] .. 'idx:needs_agent', number)
end
queue(KEYS[4], i)
return 1
