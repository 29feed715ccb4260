-- KEYS: the device's presence, last-seen, queue info and revocation keys.
-- Returns them as strings: presence, last seen, count, bytes, revocation.
local info = redis.call('HMGET', KEYS[3], 'count', 'bytes')
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0', info[1] or '0', info[2] or '0',
        redis.call('GET', KEYS[4]) or ''}
