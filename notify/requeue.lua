-- Puts a dead-lettered or skipped notification back into the outbox (an
-- operator's retry). Prepended with entry.lua.
--
-- KEYS[1] dead or skipped stream   where the entry is
-- KEYS[2] outbox stream            where it goes
-- KEYS[3] sent marker              the notification's delivery record
-- KEYS[4] suppression              of the recipient
-- ARGV[1] entry id                 in KEYS[1]
-- ARGV[2] notification id          "" for an unreadable entry
-- ARGV[3] lift                     '1' lift a suppression, '0' refuse when
--                                  suppressed, '-' leave it (agent's reply)
-- Returns {'gone'}, {'sent', at}, {'suppressed', why} or {'ok', new stream
-- id, lifted}. The record's own fields (reason, outbox_id) are left out of
-- the requeued entry.
local f = entry_fields(KEYS[1], ARGV[1], ARGV[2])
if not f then return {'gone'} end
local refused, lifted = checks(KEYS[3], KEYS[4], ARGV[3])
if refused then return refused end
local vals = notification_fields(f, {})
local new = redis.call('XADD', KEYS[2], '*', unpack(vals))
redis.call('XDEL', KEYS[1], ARGV[1])
return {'ok', new, lifted}
