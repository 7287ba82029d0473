-- Removes a done ticket's personal data (retention.closed_after) and keeps
-- an anonymous record for reports: number, customer, type, status,
-- priority, dates and the SLA outcome. Its history goes; its mails are
-- queued for deletion from the IMAP folders; its status links end (an
-- anonymous record has no contact to show it to, and a link holds the
-- contact's address).
--
-- KEYS[1] ticket hash
-- KEYS[2] events list
-- KEYS[3] the ticket's status links set
-- KEYS[4] the ticket's time records hash
-- ARGV[1] key prefix "md:{desk}:"
-- ARGV[2] ticket number
-- ARGV[3] cutoff (ms): only a ticket in idx:closed at or before it, so that
--         one reopened or changed since it was listed stays as it is
-- ARGV[4] now (RFC 3339)
-- ARGV[5] now (ms)
-- ARGV[6] key prefix of a status link, ARGV[7] of a contact's links
-- Its time records stay, for statements of old periods, without their
-- free text: agents write customers' names in a note or a reason for
-- voiding. Minutes, dates, activity and billing flags stay.
-- Returns 1 when it anonymised the ticket, 0 when that was not (or no
-- longer) due.
local kp, number = ARGV[1], ARGV[2]
local clock = redis.call('ZSCORE', kp .. 'idx:closed', number)
if not clock or tonumber(clock) > tonumber(ARGV[3]) or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
purge_ticket(kp, KEYS[1], KEYS[2], ARGV[5])
local before = idx_fields(KEYS[1])
local keep = {'number', 'status', 'type', 'priority', 'customer', 'created_at', 'updated_at', 'acknowledged_at',
  'first_response_at', 'resolved_at', 'linked_to', 'sla_warned_at', 'sla_breached_at'}
local rec = {}
local vals = redis.call('HMGET', KEYS[1], unpack(keep))
for j, f in ipairs(keep) do
  if vals[j] then rec[#rec + 1] = f; rec[#rec + 1] = vals[j] end
end
-- The SLA outcome, without what it was computed from, as short fields.
local raw = redis.call('HGET', KEYS[1], 'sla')
if raw then
  local ok, c = pcall(cjson.decode, raw)
  if ok and type(c) == 'table' then
    for k, f in pairs({plan = 'sla_plan', target = 'sla_target', first_response_due = 'sla_due',
        resolution_due = 'sla_resolution_due', responded_at = 'sla_responded_at'}) do
      if type(c[k]) == 'string' and c[k] ~= '' then rec[#rec + 1] = f; rec[#rec + 1] = c[k] end
    end
  end
end
-- Written anew rather than trimmed: a hash of short values only is kept
-- as a listpack, a fraction of the memory of the hash table the ticket
-- needed (Redis never converts back by itself).
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'anonymised_at', ARGV[4], unpack(rec))
redis.call('DEL', KEYS[2])
drop_links(KEYS[3], ARGV[6], ARGV[7])
local times = redis.call('HGETALL', KEYS[4])
for j = 1, #times, 2 do
  local ok, r = pcall(cjson.decode, times[j + 1])
  if ok and type(r) == 'table' and (r.note ~= nil or r.void_reason ~= nil) then
    r.note, r.void_reason = nil, nil
    redis.call('HSET', KEYS[4], times[j], cjson.encode(r))
  end
end
reindex(kp, number, before, nil)
local score = redis.call('ZSCORE', kp .. 'idx:created', number)
if score then redis.call('ZREMRANGEBYSCORE', kp .. 'idx:subjects', score, score) end
redis.call('ZREM', kp .. 'idx:closed', number)
redis.call('ZREM', kp .. 'compact:todo', number)
-- Its waiting for an agent went with its history.
redis.call('ZREM', kp .. 'idx:needs_agent', number)
redis.call('ZADD', kp .. 'idx:anon', clock, number)
return 1
