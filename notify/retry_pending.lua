-- Makes a notification waiting in the outbox due now (an operator's
-- retry). An uncertain delivery is marked to be sent again
-- (uncertainty.Retry). Prepended with entry.lua.
--
-- KEYS[1] outbox stream
-- KEYS[2] sent marker              the notification's delivery record
-- KEYS[3] suppression              of the recipient
-- KEYS[4] uncertain deliveries     hash: stream id -> uncertainty (JSON)
-- KEYS[5] errors hash              stream id -> latest failure note
-- ARGV[1] entry id
-- ARGV[2] notification id          "" for an unreadable entry
-- ARGV[3] lift                     '1' lift a suppression, '0' refuse when
--                                  suppressed, '-' leave it (agent's reply)
-- ARGV[4] group                    the senders' consumer group
-- ARGV[5] idle                     ms of idleness the claimed entry gets
-- Returns {'gone'}, {'sent', at}, {'suppressed', why}, {'new', lifted} for
-- an entry no sender has read yet, or {'due', lifted, consumer, attempts,
-- uncertain}.
local f = entry_fields(KEYS[1], ARGV[1], ARGV[2])
if not f then return {'gone'} end
local refused, lifted = checks(KEYS[2], KEYS[3], ARGV[3])
if refused then return refused end
-- Before any sender ran there is no consumer group: nothing was tried.
-- Asked, not read from an error's text (the stream exists: it holds the
-- entry).
local grouped = false
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  for i = 1, #g, 2 do
    if g[i] == 'name' and g[i + 1] == ARGV[4] then grouped = true end
  end
end
if not grouped then return {'new', lifted} end
local p = redis.call('XPENDING', KEYS[1], ARGV[4], ARGV[1], ARGV[1], 1)
if #p == 0 then return {'new', lifted} end
local uncertain = 0
local u = redis.call('HGET', KEYS[4], ARGV[1])
if u then
  local ok, v = pcall(cjson.decode, u)
  if not ok or type(v) ~= 'table' then v = {reason = 'unreadable record: ' .. u} end
  if type(v['at']) ~= 'string' then
    -- A record without its moment: the note written with it has it, as
    -- Go's decodeUncertainty reads it (failureNote, uncertainNote).
    local note = redis.call('HGET', KEYS[5], ARGV[1])
    local at = note and string.match(note, '^attempt %d+ at (%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ): delivery uncertain: ')
    if at then v['at'] = at end
  end
  v['retry'] = true
  redis.call('HSET', KEYS[4], ARGV[1], cjson.encode(v))
  uncertain = 1
end
redis.call('XCLAIM', KEYS[1], ARGV[4], p[1][2], 0, ARGV[1], 'IDLE', ARGV[5], 'JUSTID')
return {'due', lifted, p[1][2], p[1][4], uncertain}
