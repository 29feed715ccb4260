-- KEYS: a presence key, the account's watchers. ARGV: server id, ttl ms,
-- now ms. Renews a device's presence only while it is this server's or
-- nobody's: the device may have connected to another server since, whose
-- arrival (presence_set) took it, and this server's connection is stale.
-- Returns {'ours'}; {'set', watchers...} when it had lapsed and is ours
-- again (the watchers are to be told); or {'elsewhere'}.
-- uses: lib_presence
local server, since = presence_server(redis.call('GET', KEYS[1]))
if server and server ~= ARGV[1] then return {'elsewhere'} end
local lapsed = not server
if lapsed then since = ARGV[3] end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. since, 'PX', ARGV[2])
if not lapsed then return {'ours'} end
local told = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')
table.insert(told, 1, 'set')
return told
