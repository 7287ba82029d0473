-- Records that the trace of an uncertain delivery is kept now: takes
-- 'untraced' out of the entry's uncertainty record, in place, so that an
-- operator's retry marked on it meanwhile (retry_pending.lua) stays.
--
-- KEYS[1] uncertain deliveries     hash: stream id -> uncertainty (JSON)
-- ARGV[1] entry id
-- Returns 1 when the mark was taken out, 0 when there was none.
local u = redis.call('HGET', KEYS[1], ARGV[1])
if not u then return 0 end
local ok, v = pcall(cjson.decode, u)
if not ok or type(v) ~= 'table' or not v['untraced'] then return 0 end
v['untraced'] = nil
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(v))
return 1
