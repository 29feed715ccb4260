-- The acknowledgements of one reactor pass to the devices of one slot.
-- KEYS: the slot's depth counter, then q, i, c, x, t, k of each device.
-- ARGV: each device's upto and name. Drops the entries whose every
-- message has seq <= upto (and the dead marks in them); returns how many
-- messages went.
-- uses: lib_entry lib_account
local dropped = 0
for j = 1, #ARGV / 2 do
  local at = 6 * j - 4
  local q, i, c, x, t, k = KEYS[at], KEYS[at + 1], KEYS[at + 2], KEYS[at + 3], KEYS[at + 4], KEYS[at + 5]
  local upto, device = tonumber(ARGV[2 * j - 1]), ARGV[2 * j]
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
      account_take(t, k, device, n, b, count <= 0)
    end
    redis.call('HSET', i, 'acked', upto, 'count', count, 'bytes', bytes)
  end
end
if dropped > 0 then redis.call('DECRBY', KEYS[1], dropped) end
return dropped
