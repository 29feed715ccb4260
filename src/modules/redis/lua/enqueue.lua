-- The enqueues of one reactor pass to the devices of one slot (of one
-- Redis, when it is not a cluster). KEYS: the slot's expiry index and
-- depth counter, then q, i, c, s, x, t, k of each device. ARGV: now,
-- dedup width, dedup window ms, max count, max bytes (a device's), max
-- count, max bytes (an account's), then per device its "A|D", the
-- earliest expiry of its messages and the messages (a 4-byte length and
-- a record, each), which become one stream entry. Returns a string of
-- one digit per message, devices in order (0 stored, 1 duplicate, 2
-- duplicate the target acknowledged, 3 queue full, 4 account full);
-- the seq of each device's first stored message (its others follow one
-- by one); and pairs of a message's number (1-based) and the
-- seq its collapse key replaced. A resend writes too (its sender's dedup
-- record's expiry): replication keeps the primary's order, so the WAIT
-- behind that write proves the original, written before it, reached the
-- replicas, and a resend is answered under the same proof as a new write.
-- uses: lib_entry lib_dedup lib_account
local now, W, window = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local max_count, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])
local account_count, account_bytes = tonumber(ARGV[6]), tonumber(ARGV[7])
local status, firsts, replaced, total, m, accounts = {}, {}, {}, 0, 0, {}
for j = 1, (#ARGV - 7) / 3 do
  local k = 2 + (j - 1) * 7
  local q, i, c, s, x = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  local t, queued = KEYS[k + 6], KEYS[k + 7]
  local member, expires, blob = ARGV[5 + 3 * j], ARGV[6 + 3 * j], ARGV[7 + 3 * j]
  local account = accounts[t]
  if account == nil then
    local held = redis.call('HMGET', t, 'count', 'bytes')
    account = {count = tonumber(held[1] or '0'), bytes = tonumber(held[2] or '0')}
    accounts[t] = account
  end
  local info = redis.call('HMGET', i, 'next', 'acked', 'count', 'bytes')
  local next, acked = tonumber(info[1] or '0'), tonumber(info[2] or '0')
  local count, bytes = tonumber(info[3] or '0'), tonumber(info[4] or '0')
  local first, senders, dirty, mine, kept, entry_bytes = next + 1, {}, {}, {}, nil, 0
  local resent = false
  local pos = 1
  while pos < #blob do
    local len = be32(string.byte(blob, pos, pos + 3))
    local at, to = pos + 4, pos + 3 + len
    local hi, lo = be32(string.byte(blob, at, at + 3)), be32(string.byte(blob, at + 4, at + 7))
    local f1, f2 = string.byte(blob, at + 24, at + 25)
    local flen = f1 * 256 + f2
    local from = string.sub(blob, at + 26, at + 25 + flen)
    local c1, c2 = string.byte(blob, at + 26 + flen, at + 27 + flen)
    local clen = c1 * 256 + c2
    local plen = len - 28 - flen - clen
    m = m + 1
    local d = senders[from]
    if d == nil then d = dedup_read(redis.call('HGET', s, from), W) or false; senders[from] = d end
    local verdict
    if dedup_seen(d, W, hi, lo) then verdict = d.seq <= acked and '2' or '1'; resent = true
    else
      local col, older, older_bytes = clen > 0 and string.sub(blob, at + 28 + flen, at + 27 + flen + clen), nil, nil
      if col then
        local o = tonumber(redis.call('HGET', c, col))
        if o and o > acked then
          if o >= first then older_bytes = mine[o]
          elseif redis.call('HEXISTS', x, o) == 0 then older_bytes = stored_plen(q, o) end
        end
        if older_bytes then older = o end
      end
      if count - (older and 1 or 0) >= max_count or bytes - (older_bytes or 0) + plen > max_bytes then
        verdict = '3'
      elseif account.count - (older and 1 or 0) >= account_count
          or account.bytes - (older_bytes or 0) + plen > account_bytes then
        verdict = '4'
      else
        verdict = '0'
        if older then
          redis.call('HSET', x, older, older_bytes); mine[older] = nil
          count, bytes = count - 1, bytes - older_bytes
          account.count, account.bytes = account.count - 1, account.bytes - older_bytes
          table.insert(replaced, m); table.insert(replaced, older)
        end
        next = next + 1
        mine[next] = plen
        if col then redis.call('HSET', c, col, next) end
        count, bytes, entry_bytes, total = count + 1, bytes + plen, entry_bytes + plen, total + 1
        account.count, account.bytes = account.count + 1, account.bytes + plen
        senders[from] = dedup_accept(d or nil, W, hi, lo, next); dirty[from] = true
        if kept then table.insert(kept, string.sub(blob, pos, to)) end
      end
    end
    if verdict ~= '0' and not kept then kept = {string.sub(blob, 1, pos - 1)} end
    status[m] = verdict
    pos = to + 1
  end
  if next >= first then
    redis.call('XADD', q, next..'-'..first, 'r', kept and table.concat(kept) or blob, 'b', entry_bytes)
    redis.call('HSET', i, 'next', next, 'count', count, 'bytes', bytes)
    redis.call('ZADD', KEYS[1], 'LT', expires, member)
    redis.call('HSET', t, 'count', account.count, 'bytes', account.bytes)
    redis.call('SADD', queued, device_of(member))
    firsts[j] = first
  else firsts[j] = 0 end
  local written = resent
  for from in pairs(dirty) do redis.call('HSET', s, from, dedup_write(senders[from], now)); written = true end
  if written then redis.call('PEXPIRE', s, window) end
end
if total ~= 0 then redis.call('INCRBY', KEYS[2], total) end
return {table.concat(status), firsts, replaced}
