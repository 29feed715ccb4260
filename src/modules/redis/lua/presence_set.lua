-- KEYS: a presence key, the account's watchers. ARGV: server id, ttl ms,
-- now ms. A refresh by the same server keeps the time the device came;
-- an arrival returns the servers watching the account, to be told.
-- uses: lib_presence
local server, since = presence_server(redis.call('GET', KEYS[1]))
local arrived = server ~= ARGV[1]
if arrived then since = ARGV[3] end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. since, 'PX', ARGV[2])
if not arrived then return {} end
return redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')
