-- Shared by the scripts that queue notifications (prepended to them): from
-- ARGV[first] on, each notification is a count of field/value strings and
-- then those; each is added to the outbox stream.
local function queue(stream, first)
  local i = first
  while i <= #ARGV do
    local c = tonumber(ARGV[i])
    local f = {}
    for j = i + 1, i + c do f[#f + 1] = ARGV[j] end
    redis.call('XADD', stream, '*', unpack(f))
    i = i + c + 1
  end
end
