-- The dedup record of modules/dedup.h: read (nil when absent or of
-- another width), seen, accept and write. The ring is a table of bytes
-- while a batch works on it, a string in Redis.
local function dedup_read(rec, W)
  if not rec then return nil end
  local nl = string.find(rec, '\n', 1, true)
  if not nl or #rec - nl ~= W / 8 then return nil end
  local hi, lo, seq = string.match(string.sub(rec, 1, nl - 1), '^(%d+) (%d+) (%d+) %d+$')
  if not hi then return nil end
  return {hi = tonumber(hi), lo = tonumber(lo), seq = tonumber(seq), ring = {string.byte(rec, nl + 1, -1)}}
end
local function dedup_bit(W, lo) local p = lo % W
  return math.floor(p / 8) + 1, bit.lshift(1, p % 8) end
local function dedup_seen(d, W, hi, lo)
  if not d then return false end
  local below = (d.hi - hi) * 4294967296 + (d.lo - lo)
  if below < 0 or below >= W then return false end
  local i, mask = dedup_bit(W, lo)
  return bit.band(d.ring[i], mask) ~= 0
end
local function dedup_fresh(W, hi, lo) local ring = {}
  for i = 1, W / 8 do ring[i] = 0 end
  return {hi = hi, lo = lo, seq = 0, ring = ring} end
local function dedup_accept(d, W, hi, lo, seq)
  if not d then d = dedup_fresh(W, hi, lo) end
  local below, remember = (d.hi - hi) * 4294967296 + (d.lo - lo), true
  if below < 0 then
    if -below >= W then d.ring = dedup_fresh(W, hi, lo).ring else
      for k = 1, -below - 1 do local i, mask = dedup_bit(W, d.lo + k)
        d.ring[i] = bit.band(d.ring[i], bit.bnot(mask)) end end
    d.hi, d.lo = hi, lo
  elseif below >= 2147483648 then d = dedup_fresh(W, hi, lo)
  elseif below >= W then remember = false end
  if remember then local i, mask = dedup_bit(W, lo); d.ring[i] = bit.bor(d.ring[i], mask) end
  if seq > d.seq then d.seq = seq end
  return d
end
local function dedup_write(d, now)
  return string.format('%d %d %d %d\n', d.hi, d.lo, d.seq, now)..string.char(unpack(d.ring)) end
