-- Commits the outcome of one incoming mail atomically. Idempotent on the
-- dedupe key (Message-ID, or content hash): replaying the same mail after a
-- crash or a reconnect changes nothing twice.
--
-- KEYS[1] seen hash       dedupe key -> ticket number ("rejected" from old versions)
-- KEYS[2] seq counter     last ticket number
-- KEYS[3] tickets zset    number -> sequence
-- KEYS[4] outbox stream   notifications to send
-- KEYS[5] rejections      audit stream of refused mail
-- ARGV[1] mode            "ticket" | "reject"
-- ARGV[2] dedupe key
-- ARGV[3] key prefix      "md:{desk}:" (ticket and rate-limit keys share the slot)
-- ARGV[4] ticket prefix   "SD"
-- ARGV[5] notify          "1" to queue the notification
-- ARGV[6] notice window   seconds between two rejection notices to one sender
-- ARGV[7] sender          canonical address (address.Key), for the notice rate limit
-- ARGV[8] sender domain   for the per-domain notice limit
-- ARGV[9] domain window   seconds
-- ARGV[10] domain limit   notices per domain per window
-- ARGV[11] audit min id   rejection records older than this (ms) are trimmed
-- ARGV[12] warn at        ms of the SLA warning, "" for none (KEYS[6])
-- ARGV[13] breach at      ms of the first-response deadline, "" for none (KEYS[7])
-- ARGV[14] floor          the least the sequence may be, 0 for no check: a
--                         lower one means Redis lost writes (restored from
--                         an older backup, crashed before its fsync): the
--                         commit is refused with BEHIND rather than give a
--                         number that a filed mail already carries
-- ARGV[15] number         "" for the next number; a number to re-create the
--                         ticket under (repair from the mailbox journal)
-- ARGV[16] created at     ms, the ticket's place in the indexes (index.lua)
-- ARGV[17] search text    the subject lower-cased, for the search window
-- ARGV[18] search window  how many of the newest tickets subject search covers
-- ARGV[19] n              number of record field/value pairs that follow
-- ARGV[20 .. 19+2n]       record fields (ticket hash or rejection audit)
-- ARGV[20+2n .. #ARGV-1]  notification field/value pairs
-- ARGV[#ARGV] note id     the queued notification's id (ticket.RejectionID);
--                         for a new ticket what follows its number in it
--                         ("/ack": ticket.AckID), as only this script knows
--                         the number
-- KEYS[6] SLA warn zset   number -> when to warn
-- KEYS[7] SLA breach zset number -> first-response deadline
-- Returns {outcome, created, notified}: outcome is the ticket number or
-- "rejected"; created is 1 when this call did the work.
local mode, dkey, kp = ARGV[1], ARGV[2], ARGV[3]
-- seen:prev is the previous generation of seen (retention rotates them).
local prev = redis.call('HGET', KEYS[1], dkey) or redis.call('HGET', kp .. 'seen:prev', dkey)
-- A refused mail is remembered for the audit retention only (a key that
-- expires, not an entry of seen for ever): strangers cannot grow Redis
-- without bound. seen may still hold "rejected" from before.
local rkey = kp .. 'rejected:' .. dkey
if not prev and mode == 'reject' and redis.call('EXISTS', rkey) == 1 then
  return {'rejected', 0, 0}
end
-- A rejected mail may come back once its sender has been authorised (an
-- operator moves it back to the inbox): that must make a ticket.
if prev and not (prev == 'rejected' and mode == 'ticket') then
  return {prev, 0, 0}
end

local floor = tonumber(ARGV[14])
if floor > 0 then
  local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
  if cur < floor then
    return redis.error_reply('BEHIND sequence ' .. cur .. ' is below ' .. floor)
  end
end

local n = tonumber(ARGV[19])
local rec = {}
for i = 20, 19 + 2 * n do rec[#rec + 1] = ARGV[i] end
local note = {}
for i = 20 + 2 * n, #ARGV - 1 do note[#note + 1] = ARGV[i] end
local note_id = ARGV[#ARGV]

if mode == 'ticket' then
  local seq
  if ARGV[15] ~= '' then
    -- Re-created under the number its mail carries: never over another.
    seq = tonumber(ARGV[15])
    if redis.call('HEXISTS', kp .. 't:' .. ARGV[4] .. '-' .. seq, 'number') == 1 then
      return redis.error_reply('TAKEN ' .. ARGV[4] .. '-' .. seq .. ' belongs to another mail')
    end
    if tonumber(redis.call('GET', KEYS[2]) or '0') < seq then
      redis.call('SET', KEYS[2], seq)
    end
  else
    seq = redis.call('INCR', KEYS[2])
  end
  local number = ARGV[4] .. '-' .. seq
  redis.call('HSET', kp .. 't:' .. number, 'number', number, unpack(rec))
  redis.call('ZADD', KEYS[3], seq, number)
  local score = idx_unique(kp, ARGV[16])
  redis.call('ZADD', kp .. 'idx:created', score, number)
  reindex(kp, number, {}, score)
  idx_subject(kp, number, score, ARGV[17], ARGV[18])
  redis.call('HSET', KEYS[1], dkey, number)
  if ARGV[12] ~= '' then redis.call('ZADD', KEYS[6], ARGV[12], number) end
  if ARGV[13] ~= '' then redis.call('ZADD', KEYS[7], ARGV[13], number) end
  local notified = 0
  if ARGV[5] == '1' then
    redis.call('XADD', KEYS[4], '*', 'id', number .. note_id, 'ticket', number, unpack(note))
    notified = 1
  end
  return {number, 1, notified}
end

-- mode == 'reject'
local t = redis.call('TIME')
local ttl = math.floor((tonumber(t[1]) * 1000 - tonumber(ARGV[11])) / 1000)
if ttl < 86400 then ttl = 86400 end
redis.call('SET', rkey, '1', 'EX', ttl)
-- Records older than the retention go; MINID keeps the trim O(trimmed).
redis.call('XADD', KEYS[5], 'MINID', '~', ARGV[11], '*', unpack(rec))
local notified = 0
if ARGV[5] == '1' then
  -- One notice per sender per window, and a cap per sender domain so that
  -- a flood from many forged addresses of one domain stays bounded.
  local dk = kp .. 'notice-domain:' .. ARGV[8]
  local sent = tonumber(redis.call('GET', dk) or '0')
  if sent < tonumber(ARGV[10]) and redis.call('SET', kp .. 'notice:' .. ARGV[7], '1', 'NX', 'EX', ARGV[6]) then
    if redis.call('INCR', dk) == 1 then
      redis.call('EXPIRE', dk, ARGV[9])
    end
    redis.call('XADD', KEYS[4], '*', 'id', note_id, unpack(note))
    notified = 1
  end
end
return {'rejected', 1, notified}
