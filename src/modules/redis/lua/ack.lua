-- The acknowledgements of one reactor pass to the devices of one slot.
-- KEYS: the slot's depth counter, then q, i, c, x of each device. ARGV:
-- each device's upto. Drops the entries whose every message has seq <=
-- upto (and the dead marks in them); returns how many messages went.
-- uses: lib_entry
local dropped = 0
for j = 1, #ARGV do
  local q, i, c, x = KEYS[4 * j - 2], KEYS[4 * j - 1], KEYS[4 * j], KEYS[4 * j + 1]
  local upto = tonumber(ARGV[j])
  local info = redis.call('HMGET', i, 'acked', 'count', 'bytes')
  local acked, count, bytes = tonumber(info[1] or '0'), tonumber(info[2] or '0'),
    tonumber(info[3] or '0')
  if upto > acked then
    local gone, to, n, b = redis.call('XRANGE', q, '-', upto), 0, 0, 0
    for _, e in ipairs(gone) do
      local first, last = entry_seqs(e[1])
      n, b, to = n + last - first + 1, b + tonumber(e[2][4]), last
    end
    if #gone > 0 then
      redis.call('XTRIM', q, 'MINID', to + 1)
      if redis.call('EXISTS', x) == 1 then
        for seq, plen in pairs(dead_of(x)) do
          if seq <= to then n, b = n - 1, b - plen; redis.call('HDEL', x, seq) end
        end
      end
      count, bytes, dropped = count - n, bytes - b, dropped + n
      if count <= 0 then redis.call('DEL', c) end
    end
    redis.call('HSET', i, 'acked', upto, 'count', count, 'bytes', bytes)
  end
end
if dropped > 0 then redis.call('DECRBY', KEYS[1], dropped) end
return dropped
