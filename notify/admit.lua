-- Counts a notification in each sliding window and admits it only if every
-- window has room; a notification counted before (a retry) is admitted
-- again without counting twice.
--
-- KEYS[1] recipient zset   member -> ms it was counted, per recipient
-- KEYS[2] desk zset        the same for all automatic mail of the desk
-- ARGV[1] now              ms
-- ARGV[2] member           the notification id
-- ARGV[3] nr               number of recipient rates
-- ARGV[4] nd               number of desk rates
-- ARGV[5 ..]               window (ms) and max of each rate, the nr
--                          recipient rates first, then the nd desk rates
-- Returns {0, 0} when admitted (and counted), {1, i} when recipient rate i
-- is full, {2, i} when desk rate i is.
local now = tonumber(ARGV[1])
local member = ARGV[2]
local nr, nd = tonumber(ARGV[3]), tonumber(ARGV[4])
local function check(key, first, n)
  if n == 0 or redis.call('ZSCORE', key, member) then return 0, 0 end
  local longest = 0
  for i = 0, n - 1 do
    local w = tonumber(ARGV[first + 2*i])
    local max = tonumber(ARGV[first + 2*i + 1])
    if w > longest then longest = w end
    if redis.call('ZCOUNT', key, '(' .. (now - w), '+inf') >= max then return i + 1, 0 end
  end
  return 0, longest
end
local r, rl = check(KEYS[1], 5, nr)
if r > 0 then return {1, r} end
local d, dl = check(KEYS[2], 5 + 2*nr, nd)
if d > 0 then return {2, d} end
for _, kl in ipairs({{KEYS[1], rl}, {KEYS[2], dl}}) do
  if kl[2] > 0 then
    redis.call('ZREMRANGEBYSCORE', kl[1], '-inf', now - kl[2])
    redis.call('ZADD', kl[1], now, member)
    redis.call('PEXPIRE', kl[1], kl[2])
  end
end
return {0, 0}
