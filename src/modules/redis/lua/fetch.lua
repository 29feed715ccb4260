-- A fetch. KEYS: q and x of a device. ARGV: after seq, max messages, max
-- bytes. Returns the entries holding the messages after `after`, from the
-- one holding after + 1, until they hold max messages or bytes or the
-- queue ends: id and r of each; then the seqs of the dead messages; then
-- 1 if it read to the end of the queue.
-- uses: lib_entry
local from, max_count, max_bytes = tonumber(ARGV[1]) + 1, tonumber(ARGV[2]), tonumber(ARGV[3])
local out, dead, n, b, ended = {}, {}, 0, 0, 0
while true do
  local got = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 8)
  for _, e in ipairs(got) do
    local first, last = entry_seqs(e[1])
    table.insert(out, e[1]); table.insert(out, e[2][2])
    n, b, from = n + last - math.max(first, from) + 1, b + #e[2][2], last + 1
  end
  if #got < 8 then ended = 1; break end
  if n >= max_count or b >= max_bytes then break end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  for seq in pairs(dead_of(KEYS[2])) do table.insert(dead, seq) end
end
return {out, dead, ended}
