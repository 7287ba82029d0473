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
