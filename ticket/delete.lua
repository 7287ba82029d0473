-- Deletes a done ticket entirely (retention.keep): its anonymous record, or
-- the ticket itself when it was never anonymised (its mails are then
-- queued for deletion), with its time records: the ticket's own and its
-- entries in the customers' time indexes (time:c:ID) that statements
-- read, the idempotency keys of agents' requests on it, and its status
-- links.
-- Its number is never given out again (seq stays).
--
-- KEYS[1] ticket hash
-- KEYS[2] events list
-- KEYS[3] tickets zset
-- KEYS[4] the ticket's time records hash (id -> record JSON)
-- KEYS[5] the ticket's time totals hash
-- KEYS[6] the ticket's status links set
-- KEYS[7] the ticket's time request keys set (fields of KEYS[8])
-- KEYS[8] timekeys hash (request key -> "number id")
-- KEYS[9] the ticket's change request keys set (fields of KEYS[10])
-- KEYS[10] requests hash (request key -> number)
-- ARGV[1] key prefix "md:{desk}:"
-- ARGV[2] ticket number
-- ARGV[3] cutoff (ms): only a ticket done at or before it
-- ARGV[4] now (ms)
-- ARGV[5] key prefix of a status link, ARGV[6] of a contact's links
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
-- A record names the customer it was billed to when it was made.
for _, raw in ipairs(redis.call('HVALS', KEYS[4])) do
  local ok, r = pcall(cjson.decode, raw)
  if ok and type(r) == 'table' and type(r.customer) == 'string' and type(r.id) == 'string' then
    redis.call('ZREM', kp .. 'time:c:' .. r.customer, number .. ' ' .. r.id)
  end
end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  redis.call('HDEL', KEYS[8], k)
end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[9])) do
  redis.call('HDEL', KEYS[10], k)
end
drop_links(KEYS[6], ARGV[5], ARGV[6])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[7], KEYS[9])
redis.call('ZREM', KEYS[3], number)
return 1
