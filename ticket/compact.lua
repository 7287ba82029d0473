-- Keeps a closed ticket's mail text compact: text and quoted become one
-- compressed field z (closed is final: nothing writes them again).
--
-- KEYS[1] ticket hash
-- ARGV[1] length of text as read, ARGV[2] of quoted
-- ARGV[3] z: both, compressed
-- Returns 1, or 0 when the ticket is not closed, is compact already or
-- changed since it was read.
if redis.call('HGET', KEYS[1], 'status') ~= 'closed' or redis.call('HEXISTS', KEYS[1], 'z') == 1 then
  return 0
end
if redis.call('HSTRLEN', KEYS[1], 'text') ~= tonumber(ARGV[1]) or redis.call('HSTRLEN', KEYS[1], 'quoted') ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'z', ARGV[3])
redis.call('HDEL', KEYS[1], 'text', 'quoted')
return 1
