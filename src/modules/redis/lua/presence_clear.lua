-- KEYS: a presence key, the device's last-seen key, the account's
-- watchers. ARGV: server id, now ms. Clears presence only if it is still
-- ours, and then returns the servers watching the account.
-- uses: lib_presence
if presence_server(redis.call('GET', KEYS[1])) ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[2], '+inf')
