-- Deletes a done ticket entirely (retention.keep): its anonymous record, or
-- the ticket itself when it was never anonymised (its mails are then
-- queued for deletion). Its number is never given out again (seq stays).
--
-- KEYS[1] ticket hash
-- KEYS[2] events list
-- KEYS[3] tickets zset
-- ARGV[1] key prefix "md:{desk}:"
-- ARGV[2] ticket number
-- ARGV[3] cutoff (ms): only a ticket done at or before it
-- ARGV[4] now (ms)
-- Returns 1 when it deleted the ticket, 0 when that was not (or no longer)
-- due.
local kp, number = ARGV[1], ARGV[2]
local clock = redis.call('ZSCORE', kp .. 'idx:anon', number) or redis.call('ZSCORE', kp .. 'idx:closed', number)
if not clock or tonumber(clock) > tonumber(ARGV[3]) then
  return 0
end
if redis.call('HEXISTS', KEYS[1], 'anonymised_at') == 0 then
  purge_ticket(kp, KEYS[1], KEYS[2], ARGV[4])
end
idx_drop(kp, number)
for _, k in ipairs({'sla:warn', 'sla:breach', 'sla:warned', 'sla:breached'}) do
  redis.call('ZREM', kp .. k, number)
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], number)
return 1
