-- Ages the Message-IDs the desk remembers (retention.seen): seen holds the
-- current generation, seen:prev the one before; lookups read both. When
-- the current one is a period old, the previous one goes and the current
-- one becomes the previous: an id is remembered at least a period and at
-- most two, and no entry needs a time of its own.
--
-- KEYS[1] seen hash
-- KEYS[2] seen:prev hash
-- KEYS[3] seen:gen      when the current generation started (ms)
-- ARGV[1] now (ms)
-- ARGV[2] period (ms)
-- ARGV[3] "1" for a dry run
-- Returns {1, the Message-IDs forgotten} when it rotated (or would), {0, 0}
-- otherwise.
local gen = redis.call('GET', KEYS[3])
if not gen then
  -- Everything in seen is from before retention: its period starts now.
  if ARGV[3] ~= '1' then redis.call('SET', KEYS[3], ARGV[1]) end
  return {0, 0}
end
if tonumber(ARGV[1]) - tonumber(gen) < tonumber(ARGV[2]) then
  return {0, 0}
end
local forgotten = redis.call('HLEN', KEYS[2])
if ARGV[3] == '1' then
  return {1, forgotten}
end
redis.call('UNLINK', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
end
redis.call('SET', KEYS[3], ARGV[1])
return {1, forgotten}
