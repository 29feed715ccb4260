-- KEYS: q, i, x of a device, its slot's expiry index and depth counter,
-- its c (emptied with the queue), and its account's t and k.
-- ARGV: now, "A|D". Marks dead the expired messages in the first `scan`
-- entries of the queue, drops the entries whose every message is dead,
-- and scores the device again by the earliest expiry left (or takes it
-- out of the index when its queue is empty); returns how many messages
-- expired. A queue longer than `scan` entries is read from its head only:
-- one whose head outlives later messages keeps those until the head goes
-- or they are acknowledged (fetch skips them meanwhile).
-- uses: lib_entry lib_account
local now, scan = tonumber(ARGV[1]), 100
local q, i, x = KEYS[1], KEYS[2], KEYS[3]
local entries, gone, bytes, earliest = redis.call('XRANGE', q, '-', '+', 'COUNT', scan), 0, 0, nil
local dead = redis.call('EXISTS', x) == 1 and dead_of(x) or {}
for _, e in ipairs(entries) do
  local first, last = entry_seqs(e[1])
  local live = 0
  each_record(e[2][2], first, function(seq, at, len)
    if dead[seq] then return end
    local exp = rec_expires(e[2][2], at)
    if exp <= now then
      local plen = rec_plen(e[2][2], at, len)
      dead[seq] = plen; redis.call('HSET', x, seq, plen)
      gone, bytes = gone + 1, bytes + plen
    else
      live = live + 1
      if not earliest or exp < earliest then earliest = exp end
    end
  end)
  if live == 0 then
    redis.call('XDEL', q, e[1])
    for seq = first, last do if dead[seq] then redis.call('HDEL', x, seq) end end
  end
end
if gone > 0 then
  redis.call('HINCRBY', i, 'count', -gone)
  redis.call('HINCRBY', i, 'bytes', -bytes)
  redis.call('DECRBY', KEYS[5], gone)
end
local emptied = redis.call('XLEN', q) == 0
account_take(KEYS[7], KEYS[8], device_of(ARGV[2]), gone, bytes, emptied)
if emptied then redis.call('ZREM', KEYS[4], ARGV[2]); redis.call('DEL', KEYS[6])
else redis.call('ZADD', KEYS[4], earliest or now, ARGV[2]) end
return gone
