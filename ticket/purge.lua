-- Shared by retention and erasure (prepended): queues a ticket's original
-- mails for deletion from the IMAP folders (purge:mail, Message-ID -> when
-- queued), so that the Redis side can go at once and the mail side when
-- the mailbox answers.

local function purge_queue(kp, id, now)
  if id and id ~= '' then redis.call('ZADD', kp .. 'purge:mail', 'NX', now, id) end
end

-- purge_ticket queues the mails a ticket was made from and followed up by:
-- its own Message-ID and its events'.
local function purge_ticket(kp, t, ev, now)
  purge_queue(kp, redis.call('HGET', t, 'message_id'), now)
  for _, raw in ipairs(redis.call('LRANGE', ev, 0, -1)) do
    local ok, e = pcall(cjson.decode, raw)
    if ok and type(e) == 'table' and type(e.message_id) == 'string' then
      purge_queue(kp, e.message_id, now)
    end
  end
end

-- drop_links ends every status link of a ticket (package access mints
-- them; their contact's address is personal data): the links, their
-- entries in their contacts' sets, and the ticket's set of them.
-- linkp and contactp are the key prefixes of a link and of a contact's set.
local function drop_links(set, linkp, contactp)
  for _, h in ipairs(redis.call('SMEMBERS', set)) do
    local c = redis.call('HGET', linkp .. h, 'contact')
    if c and c ~= '' then redis.call('ZREM', contactp .. c, h) end
    redis.call('DEL', linkp .. h)
  end
  redis.call('DEL', set)
end
