-- Shared by the escalation scripts (prepended to them): marks ticket hash
-- t (number n) as alerted at now, of a breach or a warning, and keeps the
-- digest's sets (warned, breached; scored by the first-response deadline)
-- in step: the digest lists a ticket as breached or at risk, never both.
local function mark(t, n, breach, now, deadline, warned, breached)
  if breach then
    redis.call('HSET', t, 'sla_breached_at', now)
    redis.call('ZREM', warned, n)
    redis.call('ZADD', breached, deadline, n)
  else
    redis.call('HSET', t, 'sla_warned_at', now)
    if redis.call('HEXISTS', t, 'sla_breached_at') == 0 then
      redis.call('ZADD', warned, deadline, n)
    end
  end
end
