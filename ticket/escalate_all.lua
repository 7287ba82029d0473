-- Sends the SLA alerts one sweep found due, of several tickets, exactly
-- once, with notifications that may each be about several of them (one
-- mail per recipient): all or nothing. Only if every alert is still
-- scheduled as listed and its ticket exists are they removed from their
-- due-time sets, the tickets marked and the notifications queued;
-- otherwise nothing changes and the reply lists the alerts that are not,
-- for the caller to leave out (another sweep sent them, or the clock
-- changed) before it tries again with notifications made anew.
--
-- KEYS[1] warning due zset, KEYS[2] breach due zset
-- KEYS[3] warned zset, KEYS[4] breached zset (the digest's)
-- KEYS[5] outbox stream
-- KEYS[5+i] ticket hash of alert i
-- ARGV[1] now (RFC 3339)
-- ARGV[2] number of alerts N
-- ARGV[3..2+4N] per alert: kind ("warning" | "breach"), ticket number,
--   due time (ms) as listed, first-response deadline (ms)
-- ARGV[3+4N..] notifications, as queue.lua reads them
-- Returns the 0-based indexes of the alerts that are not due any more; an
-- empty list when all were sent.
local n = tonumber(ARGV[2])
local function due(kind)
  if kind == 'breach' then return KEYS[2] end
  return KEYS[1]
end
local stale = {}
for i = 1, n do
  local b = 3 + (i - 1) * 4
  local score = redis.call('ZSCORE', due(ARGV[b]), ARGV[b + 1])
  if not score or tonumber(score) ~= tonumber(ARGV[b + 2]) or redis.call('EXISTS', KEYS[5 + i]) == 0 then
    stale[#stale + 1] = i - 1
  end
end
if #stale > 0 then
  return stale
end
for i = 1, n do
  local b = 3 + (i - 1) * 4
  redis.call('ZREM', due(ARGV[b]), ARGV[b + 1])
  mark(KEYS[5 + i], ARGV[b + 1], ARGV[b] == 'breach', ARGV[1], ARGV[b + 3], KEYS[3], KEYS[4])
end
queue(KEYS[5], 3 + 4 * n)
return {}
