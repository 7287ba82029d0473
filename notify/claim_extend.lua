-- Renews the claim on a notification being sent, only while it still
-- holds this consumer's name.
--
-- KEYS[1] claim      md:{desk}:sending:<notification id>
-- ARGV[1] consumer   this replica's name in the consumer group
-- ARGV[2] ttl        ms the claim lasts from now
-- Returns 1 when the claim was renewed, 0 when it was not this one's.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0
