-- KEYS: the account's watchers. ARGV: server id, until (ms), now (ms).
-- The key lives as long as its longest watch.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left == -1 or left < tonumber(ARGV[2]) - tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 0
