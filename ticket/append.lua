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
-- ARGV[5] key prefix "md:{desk}:", for the indexes (index.lua)
-- ARGV[6] time of the event (ms)
-- ARGV[7] the sender's address (lower case) when a person wrote the mail,
--         "" otherwise: they join the ticket's people, whose data erasure
--         and export find by the contact index
-- Returns {number, created}.
local prev = redis.call('HGET', KEYS[1], ARGV[1]) or redis.call('HGET', KEYS[1] .. ':prev', ARGV[1])
if prev and prev ~= 'rejected' then
  return {prev, 0}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOTICKET ' .. ARGV[2])
end
local before = idx_fields(KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[2], 'updated_at', ARGV[4])
if ARGV[7] ~= '' then
  local people = before.people or ''
  if not string.find(' ' .. people .. ' ', ' ' .. ARGV[7] .. ' ', 1, true) then
    if people ~= '' then people = people .. ' ' end
    redis.call('HSET', KEYS[2], 'people', people .. ARGV[7])
  end
end
reindex(ARGV[5], ARGV[2], before, ARGV[6])
return {ARGV[2], 1}
