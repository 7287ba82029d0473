-- Puts one ticket in every index its fields call for (index.lua): the
-- migration of tickets made before the indexes existed, and the repair of
-- `maildesk tickets check --repair`. Idempotent.
--
-- KEYS[1] ticket hash
-- ARGV[1] key prefix "md:{desk}:"
-- ARGV[2] ticket number
-- ARGV[3] created at (ms), for a ticket not in idx:created yet
-- ARGV[4] people (space-separated addresses), "" to leave the field
-- ARGV[5] last change (ms), the retention clock of a ticket not open
-- ARGV[6] search text (the subject lower-cased), "" for none
-- ARGV[7] search window
-- ARGV[8] since when it waits for an agent (ms), "" when it does not
-- Returns 1, or 0 when the ticket does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local kp, number = ARGV[1], ARGV[2]
local score = redis.call('ZSCORE', kp .. 'idx:created', number)
if not score then
  score = idx_unique(kp, ARGV[3])
  redis.call('ZADD', kp .. 'idx:created', score, number)
end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'people', ARGV[4])
end
-- A closed ticket keeps the retention clock it has.
local clock = redis.call('ZSCORE', kp .. 'idx:closed', number) or redis.call('ZSCORE', kp .. 'idx:anon', number) or ARGV[5]
reindex(kp, number, {}, clock)
if redis.call('HEXISTS', KEYS[1], 'anonymised_at') == 1 and redis.call('ZSCORE', kp .. 'idx:closed', number) then
  redis.call('ZREM', kp .. 'idx:closed', number)
  redis.call('ZADD', kp .. 'idx:anon', clock, number)
end
idx_subject(kp, number, score, ARGV[6], ARGV[7])
if ARGV[8] ~= '' then
  redis.call('ZADD', kp .. 'idx:needs_agent', 'NX', ARGV[8], number)
else
  redis.call('ZREM', kp .. 'idx:needs_agent', number)
end
return 1
