-- The acknowledgements of one reactor pass to the devices of one slot.
-- KEYS: the slot's depth counter, then q, i, c, x, t, k of each device.
-- ARGV: each device's upto, name and what it was sent: per message its
-- seq (8 bytes, big-endian), the length of the rest (2 bytes), its id (8
-- bytes) and sender, ascending by seq. Drops the entries whose every
-- message has seq <= upto (and the dead marks in them), but not past a
-- message sent that the queue holds as another (the seqs forked: a primary
-- cut off from the others numbered on while its promoted replica numbered
-- the same seqs), nor past a seq sent that it has not numbered. Returns
-- how many messages went, then per device the first such seq, or 0.
-- uses: lib_entry lib_account
local sbyte, ssub = string.byte, string.sub
-- The first seq in (acked, upto] sent as another message than the queue
-- holds: the sent list walked beside the records of `entries` (those
-- acknowledged whole) and then of the entry holding upto, if any.
local function first_forked(q, entries, acked, upto, numbered, sent)
  local pos, len, s = 1, #sent, nil
  local function next_sent()
    if pos >= len then s = nil; return end
    if s then pos = pos + 10 + sbyte(sent, pos + 8) * 256 + sbyte(sent, pos + 9) end
    if pos >= len then s = nil; return end
    s = be32(sbyte(sent, pos, pos + 3)) * 4294967296 + be32(sbyte(sent, pos + 4, pos + 7))
  end
  next_sent()
  while s and s <= acked do next_sent() end
  local function walk(e)
    local first, last = entry_seqs(e[1])
    local blob, at, seq = e[2][2], 1, first
    while s and s <= last and s <= upto do
      if s > numbered then return s end
      if s >= seq then
        while seq < s do at = at + 4 + be32(sbyte(blob, at, at + 3)); seq = seq + 1 end
        local r, n = at + 4, sbyte(sent, pos + 8) * 256 + sbyte(sent, pos + 9)
        local f1, f2 = sbyte(blob, r + 24, r + 25)
        if n ~= 8 + f1 * 256 + f2 or ssub(blob, r, r + 7) ~= ssub(sent, pos + 10, pos + 17)
            or ssub(blob, r + 26, r + 17 + n) ~= ssub(sent, pos + 18, pos + 9 + n) then
          return s
        end
      end
      next_sent()
    end
  end
  for _, e in ipairs(entries) do
    local forked = walk(e)
    if forked then return forked end
  end
  if not s or s > upto then return nil end
  local holding = redis.call('XRANGE', q, upto + 1, '+', 'COUNT', 1)[1]
  if holding then
    local forked = walk(holding)
    if forked then return forked end
  end
  -- Past the queue's end: sent as seqs this side never numbered?
  while s and s <= upto do
    if s > numbered then return s end
    next_sent()
  end
  return nil
end
local dropped, out = 0, {0}
for j = 1, #ARGV / 3 do
  local at = 6 * j - 4
  local q, i, c, x, t, k = KEYS[at], KEYS[at + 1], KEYS[at + 2], KEYS[at + 3], KEYS[at + 4], KEYS[at + 5]
  local upto, device = tonumber(ARGV[3 * j - 2]), ARGV[3 * j - 1]
  local info = redis.call('HMGET', i, 'acked', 'count', 'bytes', 'next')
  local acked, count, bytes = tonumber(info[1] or '0'), tonumber(info[2] or '0'),
    tonumber(info[3] or '0')
  local forked, gone = nil, {}
  if upto > acked then gone = redis.call('XRANGE', q, '-', upto) end
  if upto > acked and #ARGV[3 * j] > 0 then
    forked = first_forked(q, gone, acked, upto, tonumber(info[4] or '0'), ARGV[3 * j])
    if forked then
      upto = forked - 1
      local whole = {}
      for _, e in ipairs(gone) do
        local _, last = entry_seqs(e[1])
        if last <= upto then table.insert(whole, e) end
      end
      gone = whole
    end
  end
  out[j + 1] = forked or 0
  if upto > acked then
    local to, n, b = 0, 0, 0
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
