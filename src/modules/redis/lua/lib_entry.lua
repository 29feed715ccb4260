-- Entries and the records in them: an entry's seqs from its id; walks a
-- blob of records (fn(seq, record start, record length), false stops);
-- a record's expiry and payload length; the payload length of a stored
-- message (nil: not in the queue); a record's sender and id as one string
-- (its 8-byte id, then from); the device's dead messages as a table.
local function be32(a, b, c, d) return ((a * 256 + b) * 256 + c) * 256 + d end
local function entry_seqs(id)
  local last, first = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(first), tonumber(last)
end
local function each_record(blob, seq, fn)
  local pos = 1
  while pos < #blob do
    local len = be32(string.byte(blob, pos, pos + 3))
    if fn(seq, pos + 4, len) == false then return end
    pos, seq = pos + 4 + len, seq + 1
  end
end
local function rec_expires(blob, at)
  return be32(string.byte(blob, at + 16, at + 19)) * 4294967296 + be32(string.byte(blob, at + 20, at + 23))
end
local function rec_plen(blob, at, len)
  local f1, f2 = string.byte(blob, at + 24, at + 25)
  local flen = f1 * 256 + f2
  local c1, c2 = string.byte(blob, at + 26 + flen, at + 27 + flen)
  return len - 28 - flen - c1 * 256 - c2
end
local function rec_identity(blob, at)
  local f1, f2 = string.byte(blob, at + 24, at + 25)
  return string.sub(blob, at, at + 7) .. string.sub(blob, at + 26, at + 25 + f1 * 256 + f2)
end
local function stored_plen(q, seq)
  local e, plen = redis.call('XRANGE', q, seq, '+', 'COUNT', 1)[1], nil
  if not e or entry_seqs(e[1]) > seq then return nil end
  each_record(e[2][2], entry_seqs(e[1]), function(s, at, len)
    if s == seq then plen = rec_plen(e[2][2], at, len); return false end end)
  return plen
end
local function dead_of(x)
  local flat, dead = redis.call('HGETALL', x), {}
  for k = 1, #flat, 2 do dead[tonumber(flat[k])] = tonumber(flat[k + 1]) end
  return dead
end
