-- Removes one person's data from one ticket (maildesk contacts erase): the
-- fields and history events the caller computed from what it read, applied
-- only if the ticket did not change since (else 0: read and try again).
--
-- KEYS[1] ticket hash
-- KEYS[2] events list
-- KEYS[3] seen hash, KEYS[4] seen:prev hash
-- KEYS[5] time records hash
-- ARGV[1] key prefix "md:{desk}:"
-- ARGV[2] ticket number
-- ARGV[3] updated_at as read ("" for none)
-- ARGV[4] number of events as read
-- ARGV[5] now (ms), for the mail deletion queue
-- ARGV[6] n, then n fields to delete
-- then m, then m field/value pairs to set
-- then e, then the e events replacing the history (e = -1: history unchanged)
-- then k, then k Message-IDs of the person's mails: forgotten by seen and
--         queued for deletion from the IMAP folders
-- then the subject's new search text (searchText) when it was redacted, or ""
-- then r, then r triples: a time record's id, the record as read, the record
--         redacted (applied only if none of them changed since)
-- then the ticket's field erased as read ("" for none): how many erasures
--         changed it, as neither updated_at nor the number of events tells
--         that another erasure wrote it since it was read
-- Returns 1 (also for a ticket anonymised since: nothing of anyone is left),
-- or 0 when the ticket changed meanwhile or is gone.
local kp, number = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
-- Anonymised by retention since it was read: nobody's data is left in it
-- to take out, and what was computed from before must not be written.
if redis.call('HEXISTS', KEYS[1], 'anonymised_at') == 1 then
  return 1
end
if (redis.call('HGET', KEYS[1], 'updated_at') or '') ~= ARGV[3] or redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[4]) then
  return 0
end
-- Text redacted as read while it was packed since (CompactClosed): read
-- again, or the packed text would keep what was redacted.
do
  local j = 7 + tonumber(ARGV[6])
  for k = j + 1, j + 2 * tonumber(ARGV[j]), 2 do
    if (ARGV[k] == 'text' or ARGV[k] == 'quoted') and redis.call('HEXISTS', KEYS[1], 'z') == 1 then
      return 0
    end
  end
end
-- The time records' offsets: checked before anything is written, so
-- that the ticket and its records are redacted together or not at all.
local ti = 7 + tonumber(ARGV[6])
ti = ti + 2 * tonumber(ARGV[ti]) + 1
ti = ti + math.max(tonumber(ARGV[ti]), 0) + 1
ti = ti + tonumber(ARGV[ti]) + 2
local nt = tonumber(ARGV[ti] or '0')
if (redis.call('HGET', KEYS[1], 'erased') or '') ~= (ARGV[ti + 3 * nt + 1] or '') then
  return 0
end
for j = ti + 1, ti + 3 * nt, 3 do
  if redis.call('HGET', KEYS[5], ARGV[j]) ~= ARGV[j + 1] then
    return 0
  end
end
local before = idx_fields(KEYS[1])
local hadSubject = redis.call('HEXISTS', KEYS[1], 'subject') == 1
local i = 6
local n = tonumber(ARGV[i])
if n > 0 then
  local f = {}
  for j = i + 1, i + n do f[#f + 1] = ARGV[j] end
  redis.call('HDEL', KEYS[1], unpack(f))
end
i = i + n + 1
n = tonumber(ARGV[i])
if n > 0 then
  local f = {}
  for j = i + 1, i + 2 * n do f[#f + 1] = ARGV[j] end
  redis.call('HSET', KEYS[1], unpack(f))
end
i = i + 2 * n + 1
n = tonumber(ARGV[i])
if n >= 0 then
  redis.call('DEL', KEYS[2])
  for j = i + 1, i + n do redis.call('RPUSH', KEYS[2], ARGV[j]) end
else
  n = 0
end
i = i + n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + n do
  redis.call('HDEL', KEYS[3], ARGV[j])
  redis.call('HDEL', KEYS[4], ARGV[j])
  purge_queue(kp, ARGV[j], ARGV[5])
end
i = i + n + 1
local searchText = ARGV[i] or ''
for j = ti + 1, ti + 3 * nt, 3 do
  redis.call('HSET', KEYS[5], ARGV[j], ARGV[j + 2])
end
redis.call('HINCRBY', KEYS[1], 'erased', 1)
reindex(kp, number, before, nil)
if hadSubject then
  local score = redis.call('ZSCORE', kp .. 'idx:created', number)
  if score and redis.call('HEXISTS', KEYS[1], 'subject') == 0 then
    redis.call('ZREMRANGEBYSCORE', kp .. 'idx:subjects', score, score)
  elseif score and searchText ~= '' and redis.call('ZCOUNT', kp .. 'idx:subjects', score, score) > 0 then
    -- Redacted: replaced where it is, in the search window only if it was.
    redis.call('ZREMRANGEBYSCORE', kp .. 'idx:subjects', score, score)
    redis.call('ZADD', kp .. 'idx:subjects', score, number .. ' ' .. searchText)
  end
end
return 1
