-- Shared by the operator's scripts (prepended to them): the entry they act
-- on, found by stream id. Stream ids are never reused, so an entry found by
-- id is the one the caller looked up.
--
-- entry_fields(stream, id, nid) returns the field/value list of entry id
-- of stream when it is the notification nid ("" for an unreadable entry
-- without id), nil when it is gone.
local function entry_fields(stream, id, nid)
  local e = redis.call('XRANGE', stream, id, id)
  if #e == 0 then return nil end
  local f = e[1][2]
  local got = ''
  for i = 1, #f, 2 do
    if f[i] == 'id' then got = f[i + 1] end
  end
  if got ~= nid then return nil end
  return f
end

-- notification_fields(f, vals) appends to vals the field/value pairs of the
-- entry fields f but a dead letter's own (reason, outbox_id), so that a
-- record moved again does not carry them twice; returns vals.
local function notification_fields(f, vals)
  for i = 1, #f, 2 do
    if f[i] ~= 'reason' and f[i] ~= 'outbox_id' then
      vals[#vals + 1] = f[i]
      vals[#vals + 1] = f[i + 1]
    end
  end
  return vals
end

-- checks(sent, sup, lift) refuses a delivered notification (marker key
-- sent) and, when lift is '0', a suppressed recipient (suppression key
-- sup); with '1' it lifts the suppression; with '-' (an agent's reply,
-- which suppression does not stop) it leaves it. Returns the refusal
-- ({'sent', at} or {'suppressed', why}) or nil, and lifted: 1 when a
-- suppression was lifted.
local function checks(sent, sup, lift)
  local at = redis.call('GET', sent)
  if at then return {'sent', at}, 0 end
  local lifted = 0
  if lift == '1' then
    lifted = redis.call('DEL', sup)
  elseif lift == '0' then
    local why = redis.call('GET', sup)
    if why then return {'suppressed', why}, 0 end
  end
  return nil, lifted
end
