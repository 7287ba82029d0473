-- Drops a notification waiting in the outbox (an operator's drop): it is
-- acknowledged, deleted and kept in the dead letters, unless a sender is
-- sending it right now. Prepended with entry.lua.
--
-- KEYS[1] outbox stream
-- KEYS[2] dead letters stream
-- KEYS[3] send claim               md:{desk}:sending:<notification id>
-- KEYS[4] errors hash              stream id -> latest temporary failure
-- KEYS[5] uncertain deliveries     hash: stream id -> uncertainty (JSON)
-- ARGV[1] entry id
-- ARGV[2] notification id          "" for an unreadable entry
-- ARGV[3] reason                   kept with the dead letter
-- ARGV[4] group                    the senders' consumer group
-- Returns {'gone'}, {'busy', consumer} or {'ok', dead letter id}. The dead
-- letter has the shape the delivery writes: the fields plus reason and
-- outbox_id.
local f = entry_fields(KEYS[1], ARGV[1], ARGV[2])
if not f then return {'gone'} end
local who = redis.call('GET', KEYS[3])
if who then return {'busy', who} end
local vals = notification_fields(f, {'reason', ARGV[3], 'outbox_id', ARGV[1]})
local dead = redis.call('XADD', KEYS[2], 'MAXLEN', '~', '100000', '*', unpack(vals))
redis.call('XACK', KEYS[1], ARGV[4], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return {'ok', dead}
