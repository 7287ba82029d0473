-- Releases the claim on a notification being sent, only while it still
-- holds this consumer's name: an expired claim may be another replica's.
--
-- KEYS[1] claim      md:{desk}:sending:<notification id>
-- ARGV[1] consumer   this replica's name in the consumer group
-- Returns 1 when the claim was released, 0 when it was not this one's.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0
