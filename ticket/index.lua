-- Shared by the scripts that change tickets (prepended to them): keeps a
-- ticket's indexes in step with its fields in the same atomic step, so that
-- every path that makes or changes a ticket maintains them.
--
-- Every index is a sorted set of ticket numbers scored by the ticket's
-- creation time in ms, made unique per ticket (idx:created), so that a page
-- of any of them ends at a score the next page starts below:
--   idx:created              every ticket (the time index)
--   idx:open                 tickets not resolved or closed
--   idx:status:STATUS        per status
--   idx:customer:ID          per customer
--   idx:contact:ADDRESS      per person: the contact, participants and who
--                            wrote follow-ups (the ticket's people field)
--   idx:assignee:NAME        per agent (ASCII letters lower-cased)
-- and, scored by the time of the last change (for retention):
--   idx:closed               resolved and closed tickets holding personal data
--   idx:anon                 anonymous records left by retention
--   compact:todo             closed tickets whose text is not packed yet
-- and, scored by when they started waiting (change.lua keeps it):
--   idx:needs_agent          tickets waiting for an agent, whatever their status

local function idx_open(s)
  return s ~= 'resolved' and s ~= 'closed'
end

-- The fields the indexes follow; absent ones are false.
local function idx_fields(t)
  local v = redis.call('HMGET', t, 'status', 'customer', 'assignee', 'people')
  return {status = v[1], customer = v[2], assignee = v[3], people = v[4]}
end

local function idx_keys(kp, f)
  local ks = {}
  if f.status and f.status ~= '' then
    ks[kp .. 'idx:status:' .. f.status] = true
    if idx_open(f.status) then ks[kp .. 'idx:open'] = true end
  end
  if f.customer and f.customer ~= '' then ks[kp .. 'idx:customer:' .. f.customer] = true end
  if f.assignee and f.assignee ~= '' then ks[kp .. 'idx:assignee:' .. string.lower(f.assignee)] = true end
  if f.people then
    for p in string.gmatch(f.people, '%S+') do ks[kp .. 'idx:contact:' .. p] = true end
  end
  return ks
end

-- idx_unique returns ms, or the first free ms after it: two tickets never
-- share a score, so a score alone is a cursor. Scores are whole ms and
-- unique, so [s, s+d] is taken through when it holds d+1 of them: the
-- first free one is found by doubling and halving d, in O(log^2) however
-- many tickets share a time (an import, a migration of old tickets).
local function idx_unique(kp, ms)
  local key, s = kp .. 'idx:created', tonumber(ms)
  if redis.call('ZCOUNT', key, s, s) == 0 then
    return s
  end
  local lo, hi = 0, 1 -- [s, s+lo] is taken
  while redis.call('ZCOUNT', key, s, s + hi) == hi + 1 do
    lo, hi = hi, hi * 2
  end
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if redis.call('ZCOUNT', key, s, s + mid) == mid + 1 then lo = mid else hi = mid end
  end
  return s + hi
end

-- reindex moves ticket number from the indexes its fields `before` put it
-- in to those its fields put it in now. now (ms) is the time of the change,
-- the retention clock of a ticket that is not open. A ticket that is not in
-- idx:created (made before the indexes existed, not yet migrated) is left
-- to the migration.
local function reindex(kp, number, before, now)
  local score = redis.call('ZSCORE', kp .. 'idx:created', number)
  if not score then return end
  local after = idx_fields(kp .. 't:' .. number)
  local old, new = idx_keys(kp, before), idx_keys(kp, after)
  for k in pairs(old) do
    if not new[k] then redis.call('ZREM', k, number) end
  end
  for k in pairs(new) do redis.call('ZADD', k, score, number) end
  if after.status and not idx_open(after.status) then
    if now and now ~= '' then redis.call('ZADD', kp .. 'idx:closed', now, number) end
    -- Closed is final: its text can be packed (compact.go).
    if after.status == 'closed' and before.status ~= 'closed' and now and now ~= '' then
      redis.call('ZADD', kp .. 'compact:todo', now, number)
    end
  else
    redis.call('ZREM', kp .. 'idx:closed', number)
    redis.call('ZREM', kp .. 'idx:anon', number)
  end
end

-- idx_subject adds a ticket's subject (lower-cased by the caller) to the
-- search window, which keeps the newest `window` tickets.
local function idx_subject(kp, number, score, text, window)
  if text == nil or text == '' then return end
  local key = kp .. 'idx:subjects'
  redis.call('ZREMRANGEBYSCORE', key, score, score)
  redis.call('ZADD', key, score, number .. ' ' .. text)
  local over = redis.call('ZCARD', key) - tonumber(window)
  if over > 0 then redis.call('ZREMRANGEBYRANK', key, 0, over - 1) end
end

-- idx_drop takes ticket number out of every index (retention's keep, and
-- erasure's fields go through reindex).
local function idx_drop(kp, number)
  local score = redis.call('ZSCORE', kp .. 'idx:created', number)
  for k in pairs(idx_keys(kp, idx_fields(kp .. 't:' .. number))) do redis.call('ZREM', k, number) end
  for _, k in ipairs({'idx:created', 'idx:closed', 'idx:anon', 'idx:open', 'idx:needs_agent', 'compact:todo'}) do redis.call('ZREM', kp .. k, number) end
  if score then redis.call('ZREMRANGEBYSCORE', kp .. 'idx:subjects', score, score) end
end
