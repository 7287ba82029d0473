-- Removes a done ticket's personal data (retention.closed_after) and keeps
-- an anonymous record for reports: number, customer, type, status,
-- priority, dates and the SLA outcome. Its history goes; its mails are
-- queued for deletion from the IMAP folders.
--
-- KEYS[1] ticket hash
-- KEYS[2] events list
-- ARGV[1] key prefix "md:{desk}:"
-- ARGV[2] ticket number
-- ARGV[3] cutoff (ms): only a ticket in idx:closed at or before it, so that
--         one reopened or changed since it was listed stays as it is
-- ARGV[4] now (RFC 3339)
-- ARGV[5] now (ms)
-- Returns 1 when it anonymised the ticket, 0 when that was not (or no
-- longer) due.
local kp, number = ARGV[1], ARGV[2]
local clock = redis.call('ZSCORE', kp .. 'idx:closed', number)
if not clock or tonumber(clock) > tonumber(ARGV[3]) or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
purge_ticket(kp, KEYS[1], KEYS[2], ARGV[5])
local before = idx_fields(KEYS[1])
local keep = {number = true, status = true, type = true, priority = true, customer = true, created_at = true,
  updated_at = true, acknowledged_at = true, first_response_at = true, resolved_at = true, linked_to = true,
  sla = true, sla_warned_at = true, sla_breached_at = true}
local drop = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if not keep[f] then drop[#drop + 1] = f end
end
if #drop > 0 then redis.call('HDEL', KEYS[1], unpack(drop)) end
-- The SLA outcome, without what it was computed from.
local raw = redis.call('HGET', KEYS[1], 'sla')
if raw then
  local ok, c = pcall(cjson.decode, raw)
  if ok and type(c) == 'table' then
    local out = {}
    for _, k in ipairs({'plan', 'priority', 'target', 'start', 'first_response_due', 'resolution_due', 'responded_at'}) do
      if c[k] ~= nil then out[k] = c[k] end
    end
    redis.call('HSET', KEYS[1], 'sla', cjson.encode(out))
  end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'anonymised_at', ARGV[4])
reindex(kp, number, before, nil)
local score = redis.call('ZSCORE', kp .. 'idx:created', number)
if score then redis.call('ZREMRANGEBYSCORE', kp .. 'idx:subjects', score, score) end
redis.call('ZREM', kp .. 'idx:closed', number)
redis.call('ZADD', kp .. 'idx:anon', clock, number)
return 1
