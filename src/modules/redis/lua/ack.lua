-- The acknowledgements of one reactor pass to the devices of one slot.
-- KEYS: the slot's depth counter, then q, i, c, x, t, k of each device.
-- ARGV: each device's upto, name and what it was sent: per message its
-- seq (8 bytes, big-endian), the length of the rest (2 bytes), its id (8
-- bytes) and sender, as rec_identity gives them. Drops the entries whose
-- every message has seq <= upto (and the dead marks in them), but not past
-- a message sent that the queue holds as another (the seqs forked: a
-- primary cut off from the others numbered on while its promoted replica
-- numbered the same seqs), nor past a seq sent that it has not numbered.
-- Returns how many messages went, then per device the first such seq, or 0.
-- uses: lib_entry lib_account
local function sent_of(blob)
  local sent, pos = {}, 1
  while pos < #blob do
    local seq = be32(string.byte(blob, pos, pos + 3)) * 4294967296 + be32(string.byte(blob, pos + 4, pos + 7))
    local len = string.byte(blob, pos + 8) * 256 + string.byte(blob, pos + 9)
    sent[seq] = string.sub(blob, pos + 10, pos + 9 + len)
    pos = pos + 10 + len
  end
  return sent
end
-- The first seq in (acked, upto] sent as another message than q holds.
local function first_forked(q, acked, upto, numbered, sent)
  local forked = nil
  for seq in pairs(sent) do
    if seq > acked and seq <= upto and seq > numbered and (not forked or seq < forked) then forked = seq end
  end
  local from = acked + 1
  while from <= upto do
    local got = redis.call('XRANGE', q, from, '+', 'COUNT', 8)
    for _, e in ipairs(got) do
      local first, last = entry_seqs(e[1])
      if first > upto or (forked and first > forked) then return forked end
      each_record(e[2][2], first, function(seq, at)
        if seq > upto then return false end
        local want = seq > acked and sent[seq]
        if want and want ~= rec_identity(e[2][2], at) then
          if not forked or seq < forked then forked = seq end
          return false
        end
      end)
      from = last + 1
    end
    if #got < 8 then break end
  end
  return forked
end
local dropped, out = 0, {0}
for j = 1, #ARGV / 3 do
  local at = 6 * j - 4
  local q, i, c, x, t, k = KEYS[at], KEYS[at + 1], KEYS[at + 2], KEYS[at + 3], KEYS[at + 4], KEYS[at + 5]
  local upto, device = tonumber(ARGV[3 * j - 2]), ARGV[3 * j - 1]
  local info = redis.call('HMGET', i, 'acked', 'count', 'bytes', 'next')
  local acked, count, bytes = tonumber(info[1] or '0'), tonumber(info[2] or '0'),
    tonumber(info[3] or '0')
  local forked = nil
  if upto > acked and #ARGV[3 * j] > 0 then
    forked = first_forked(q, acked, upto, tonumber(info[4] or '0'), sent_of(ARGV[3 * j]))
    if forked then upto = forked - 1 end
  end
  out[j + 1] = forked or 0
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
out[1] = dropped
return out
