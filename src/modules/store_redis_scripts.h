// Lua scripts of store_redis: each runs atomically inside one Redis node,
// so de-duplication, collapse, quota and sequence numbers cannot race
// between servers. Every key a script touches is in its KEYS and in one
// slot: an account's keys carry the account as their hash tag, and the
// keys kept per slot carry that slot's tag (redis_slots.h). Keys (P is
// store.prefix, A the account, D the device, T a slot's tag):
//   P{A}q:D  stream  the queue: one entry per write (a reactor pass's
//                    messages to the device), id "<last seq>-<first seq>",
//                    fields r (the messages: a 4-byte length and a record,
//                    each) and b (their payload bytes)
//   P{A}i:D  hash    next (last seq given), acked, count and bytes (what
//                    the queue's entries hold, less its dead messages)
//   P{A}x:D  hash    seq -> payload bytes of a dead message: replaced by a
//                    collapse key or expired, in an entry still kept
//   P{A}c:D  hash    collapse key -> seq (stale once that seq is acked or
//                    dead; emptied with the queue)
//   P{A}s:D  hash    from -> dedup record (PX dedup window, renewed per batch)
//   P{A}d    set     the account's devices
//   P{A}p:D  string  "<server id>|<since ms>" while online (PX)
//   P{A}l:D  string  when it last left (ms)
//   P{A}w    zset    servers following the account's presence, scored by
//                    until when (ms)
//   P{A}r:D  string  its revocation: "<not_before ms>|<revoked 0 or 1>"
//   P{T}e    zset    "A|D" of the slot's devices with messages, scored by the
//                    earliest expiry known (a hint: the sweep reads the queue)
//   P{T}n    string  how many messages the slot's queues hold (queue depth)
// One entry per write rather than per message: Redis's cost is per
// command and per entry far more than per byte (an XADD a message cost
// 4.4 us of Redis CPU with AOF on; one per pass, 0.5 us a message). Ids
// sort by last seq, so XTRIM MINID <upto + 1> drops exactly the entries
// acknowledged whole, and XRANGE <seq> + starts at the entry holding seq.
// An entry acknowledged in part stays whole until its last message is.
// A record is modules/record.h's: msg_id, stored_at, expires_at (8 bytes
// each, big-endian), from after its 2-byte length, the collapse key after
// its own, and the payload. A dedup record is a line "top_hi top_lo
// last_seq last_ms\n" and then the ring, width / 8 bytes: the rules of
// modules/dedup.h, in Lua. Lua's numbers are doubles, so 64-bit ids come
// as two 32-bit halves; a distance between two ids is exact while it is
// below 2^53, and the rules only compare larger ones with the ring's
// width and the restart gap. Seqs and times stay below 2^53.
#pragma once

// Entries and the records in them: an entry's seqs from its id; walks a
// blob of records (fn(seq, record start, record length), false stops);
// a record's expiry and payload length; the payload length of a stored
// message (nil: not in the queue); the device's dead messages as a table.
#define HF_REDIS_LUA_ENTRY                                                                                             \
    "local function be32(a, b, c, d) return ((a * 256 + b) * 256 + c) * 256 + d end\n"                                 \
    "local function entry_seqs(id)\n"                                                                                  \
    "  local last, first = string.match(id, '^(%d+)-(%d+)$')\n"                                                        \
    "  return tonumber(first), tonumber(last)\n"                                                                       \
    "end\n"                                                                                                            \
    "local function each_record(blob, seq, fn)\n"                                                                      \
    "  local pos = 1\n"                                                                                                \
    "  while pos < #blob do\n"                                                                                         \
    "    local len = be32(string.byte(blob, pos, pos + 3))\n"                                                          \
    "    if fn(seq, pos + 4, len) == false then return end\n"                                                          \
    "    pos, seq = pos + 4 + len, seq + 1\n"                                                                          \
    "  end\n"                                                                                                          \
    "end\n"                                                                                                            \
    "local function rec_expires(blob, at)\n"                                                                           \
    "  return be32(string.byte(blob, at + 16, at + 19)) * 4294967296 + be32(string.byte(blob, at + 20, at + 23))\n"    \
    "end\n"                                                                                                            \
    "local function rec_plen(blob, at, len)\n"                                                                         \
    "  local f1, f2 = string.byte(blob, at + 24, at + 25)\n"                                                           \
    "  local flen = f1 * 256 + f2\n"                                                                                   \
    "  local c1, c2 = string.byte(blob, at + 26 + flen, at + 27 + flen)\n"                                             \
    "  return len - 28 - flen - c1 * 256 - c2\n"                                                                       \
    "end\n"                                                                                                            \
    "local function stored_plen(q, seq)\n"                                                                             \
    "  local e, plen = redis.call('XRANGE', q, seq, '+', 'COUNT', 1)[1], nil\n"                                        \
    "  if not e or entry_seqs(e[1]) > seq then return nil end\n"                                                       \
    "  each_record(e[2][2], entry_seqs(e[1]), function(s, at, len)\n"                                                  \
    "    if s == seq then plen = rec_plen(e[2][2], at, len); return false end end)\n"                                  \
    "  return plen\n"                                                                                                  \
    "end\n"                                                                                                            \
    "local function dead_of(x)\n"                                                                                      \
    "  local flat, dead = redis.call('HGETALL', x), {}\n"                                                              \
    "  for k = 1, #flat, 2 do dead[tonumber(flat[k])] = tonumber(flat[k + 1]) end\n"                                   \
    "  return dead\n"                                                                                                  \
    "end\n"

// The dedup record of modules/dedup.h: read (nil when absent or of
// another width), seen, accept and write. The ring is a table of bytes
// while a batch works on it, a string in Redis.
#define HF_REDIS_LUA_DEDUP                                                                                             \
    "local function dedup_read(rec, W)\n"                                                                              \
    "  if not rec then return nil end\n"                                                                               \
    "  local nl = string.find(rec, '\\n', 1, true)\n"                                                                  \
    "  if not nl or #rec - nl ~= W / 8 then return nil end\n"                                                          \
    "  local hi, lo, seq = string.match(string.sub(rec, 1, nl - 1), '^(%d+) (%d+) (%d+) %d+$')\n"                      \
    "  if not hi then return nil end\n"                                                                                \
    "  return {hi = tonumber(hi), lo = tonumber(lo), seq = tonumber(seq), ring = {string.byte(rec, nl + 1, -1)}}\n"    \
    "end\n"                                                                                                            \
    "local function dedup_bit(W, lo) local p = lo % W\n"                                                               \
    "  return math.floor(p / 8) + 1, bit.lshift(1, p % 8) end\n"                                                       \
    "local function dedup_seen(d, W, hi, lo)\n"                                                                        \
    "  if not d then return false end\n"                                                                               \
    "  local below = (d.hi - hi) * 4294967296 + (d.lo - lo)\n"                                                         \
    "  if below < 0 or below >= W then return false end\n"                                                             \
    "  local i, mask = dedup_bit(W, lo)\n"                                                                             \
    "  return bit.band(d.ring[i], mask) ~= 0\n"                                                                        \
    "end\n"                                                                                                            \
    "local function dedup_fresh(W, hi, lo) local ring = {}\n"                                                          \
    "  for i = 1, W / 8 do ring[i] = 0 end\n"                                                                          \
    "  return {hi = hi, lo = lo, seq = 0, ring = ring} end\n"                                                          \
    "local function dedup_accept(d, W, hi, lo, seq)\n"                                                                 \
    "  if not d then d = dedup_fresh(W, hi, lo) end\n"                                                                 \
    "  local below, remember = (d.hi - hi) * 4294967296 + (d.lo - lo), true\n"                                         \
    "  if below < 0 then\n"                                                                                            \
    "    if -below >= W then d.ring = dedup_fresh(W, hi, lo).ring else\n"                                              \
    "      for k = 1, -below - 1 do local i, mask = dedup_bit(W, d.lo + k)\n"                                          \
    "        d.ring[i] = bit.band(d.ring[i], bit.bnot(mask)) end end\n"                                                \
    "    d.hi, d.lo = hi, lo\n"                                                                                        \
    "  elseif below >= 2147483648 then d = dedup_fresh(W, hi, lo)\n"                                                   \
    "  elseif below >= W then remember = false end\n"                                                                  \
    "  if remember then local i, mask = dedup_bit(W, lo); d.ring[i] = bit.bor(d.ring[i], mask) end\n"                  \
    "  if seq > d.seq then d.seq = seq end\n"                                                                          \
    "  return d\n"                                                                                                     \
    "end\n"                                                                                                            \
    "local function dedup_write(d, now)\n"                                                                             \
    "  return string.format('%d %d %d %d\\n', d.hi, d.lo, d.seq, now)..string.char(unpack(d.ring)) end\n"

// The enqueues of one reactor pass to the devices of one slot (of one
// Redis, when it is not a cluster). KEYS: the slot's expiry index and
// depth counter, then q, i, c, s, x of each device. ARGV: now, dedup
// width, dedup window ms, max count, max bytes, then per device its "A|D",
// the earliest expiry of its messages and the messages (a 4-byte length
// and a record, each), which become one stream entry. Returns a string of one digit per message, devices in
// order (0 stored, 1 duplicate, 2 duplicate the target acknowledged, 3
// queue full); the seq of each device's first stored message (its others
// follow one by one); and pairs of a message's number (1-based) and the
// seq its collapse key replaced. A resend writes too (its sender's dedup
// record's expiry): replication keeps the primary's order, so the WAIT
// behind that write proves the original, written before it, reached the
// replicas, and a resend is answered under the same proof as a new write.
static const char hf_redis_enqueue_lua[] = HF_REDIS_LUA_ENTRY HF_REDIS_LUA_DEDUP
    "local now, W, window = ARGV[1], tonumber(ARGV[2]), ARGV[3]\n"
    "local max_count, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local status, firsts, replaced, total, m = {}, {}, {}, 0, 0\n"
    "for j = 1, (#ARGV - 5) / 3 do\n"
    "  local k = 2 + (j - 1) * 5\n"
    "  local q, i, c, s, x = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]\n"
    "  local member, expires, blob = ARGV[3 + 3 * j], ARGV[4 + 3 * j], ARGV[5 + 3 * j]\n"
    "  local info = redis.call('HMGET', i, 'next', 'acked', 'count', 'bytes')\n"
    "  local next, acked = tonumber(info[1] or '0'), tonumber(info[2] or '0')\n"
    "  local count, bytes = tonumber(info[3] or '0'), tonumber(info[4] or '0')\n"
    "  local first, senders, dirty, mine, kept, entry_bytes = next + 1, {}, {}, {}, nil, 0\n"
    "  local resent = false\n"
    "  local pos = 1\n"
    "  while pos < #blob do\n"
    "    local len = be32(string.byte(blob, pos, pos + 3))\n"
    "    local at, to = pos + 4, pos + 3 + len\n"
    "    local hi, lo = be32(string.byte(blob, at, at + 3)), be32(string.byte(blob, at + 4, at + 7))\n"
    "    local f1, f2 = string.byte(blob, at + 24, at + 25)\n"
    "    local flen = f1 * 256 + f2\n"
    "    local from = string.sub(blob, at + 26, at + 25 + flen)\n"
    "    local c1, c2 = string.byte(blob, at + 26 + flen, at + 27 + flen)\n"
    "    local clen = c1 * 256 + c2\n"
    "    local plen = len - 28 - flen - clen\n"
    "    m = m + 1\n"
    "    local d = senders[from]\n"
    "    if d == nil then d = dedup_read(redis.call('HGET', s, from), W) or false; senders[from] = d end\n"
    "    local verdict\n"
    "    if dedup_seen(d, W, hi, lo) then verdict = d.seq <= acked and '2' or '1'; resent = true\n"
    "    else\n"
    "      local col, older, older_bytes = clen > 0 and string.sub(blob, at + 28 + flen, at + 27 + flen + clen), nil, "
    "nil\n"
    "      if col then\n"
    "        local o = tonumber(redis.call('HGET', c, col))\n"
    "        if o and o > acked then\n"
    "          if o >= first then older_bytes = mine[o]\n"
    "          elseif redis.call('HEXISTS', x, o) == 0 then older_bytes = stored_plen(q, o) end\n"
    "        end\n"
    "        if older_bytes then older = o end\n"
    "      end\n"
    "      if count - (older and 1 or 0) >= max_count or bytes - (older_bytes or 0) + plen > max_bytes then\n"
    "        verdict = '3'\n"
    "      else\n"
    "        verdict = '0'\n"
    "        if older then\n"
    "          redis.call('HSET', x, older, older_bytes); mine[older] = nil\n"
    "          count, bytes = count - 1, bytes - older_bytes\n"
    "          table.insert(replaced, m); table.insert(replaced, older)\n"
    "        end\n"
    "        next = next + 1\n"
    "        mine[next] = plen\n"
    "        if col then redis.call('HSET', c, col, next) end\n"
    "        count, bytes, entry_bytes, total = count + 1, bytes + plen, entry_bytes + plen, total + 1\n"
    "        senders[from] = dedup_accept(d or nil, W, hi, lo, next); dirty[from] = true\n"
    "        if kept then table.insert(kept, string.sub(blob, pos, to)) end\n"
    "      end\n"
    "    end\n"
    "    if verdict ~= '0' and not kept then kept = {string.sub(blob, 1, pos - 1)} end\n"
    "    status[m] = verdict\n"
    "    pos = to + 1\n"
    "  end\n"
    "  if next >= first then\n"
    "    redis.call('XADD', q, next..'-'..first, 'r', kept and table.concat(kept) or blob, 'b', entry_bytes)\n"
    "    redis.call('HSET', i, 'next', next, 'count', count, 'bytes', bytes)\n"
    "    redis.call('ZADD', KEYS[1], 'LT', expires, member)\n"
    "    firsts[j] = first\n"
    "  else firsts[j] = 0 end\n"
    "  local written = resent\n"
    "  for from in pairs(dirty) do redis.call('HSET', s, from, dedup_write(senders[from], now)); written = true end\n"
    "  if written then redis.call('PEXPIRE', s, window) end\n"
    "end\n"
    "if total ~= 0 then redis.call('INCRBY', KEYS[2], total) end\n"
    "return {table.concat(status), firsts, replaced}\n";

// The acknowledgements of one reactor pass to the devices of one slot.
// KEYS: the slot's depth counter, then q, i, c, x of each device. ARGV:
// each device's upto. Drops the entries whose every message has seq <=
// upto (and the dead marks in them); returns how many messages went.
static const char hf_redis_ack_lua[] =
    HF_REDIS_LUA_ENTRY "local dropped = 0\n"
                       "for j = 1, #ARGV do\n"
                       "  local q, i, c, x = KEYS[4 * j - 2], KEYS[4 * j - 1], KEYS[4 * j], KEYS[4 * j + 1]\n"
                       "  local upto = tonumber(ARGV[j])\n"
                       "  local info = redis.call('HMGET', i, 'acked', 'count', 'bytes')\n"
                       "  local acked, count, bytes = tonumber(info[1] or '0'), tonumber(info[2] or '0'),\n"
                       "    tonumber(info[3] or '0')\n"
                       "  if upto > acked then\n"
                       "    local gone, to, n, b = redis.call('XRANGE', q, '-', upto), 0, 0, 0\n"
                       "    for _, e in ipairs(gone) do\n"
                       "      local first, last = entry_seqs(e[1])\n"
                       "      n, b, to = n + last - first + 1, b + tonumber(e[2][4]), last\n"
                       "    end\n"
                       "    if #gone > 0 then\n"
                       "      redis.call('XTRIM', q, 'MINID', to + 1)\n"
                       "      if redis.call('EXISTS', x) == 1 then\n"
                       "        for seq, plen in pairs(dead_of(x)) do\n"
                       "          if seq <= to then n, b = n - 1, b - plen; redis.call('HDEL', x, seq) end\n"
                       "        end\n"
                       "      end\n"
                       "      count, bytes, dropped = count - n, bytes - b, dropped + n\n"
                       "      if count <= 0 then redis.call('DEL', c) end\n"
                       "    end\n"
                       "    redis.call('HSET', i, 'acked', upto, 'count', count, 'bytes', bytes)\n"
                       "  end\n"
                       "end\n"
                       "if dropped > 0 then redis.call('DECRBY', KEYS[1], dropped) end\n"
                       "return dropped\n";

// A fetch. KEYS: q and x of a device. ARGV: after seq, max messages, max
// bytes. Returns the entries holding the messages after `after`, from the
// one holding after + 1, until they hold max messages or bytes or the
// queue ends: id and r of each; then the seqs of the dead messages; then
// 1 if it read to the end of the queue.
static const char hf_redis_fetch_lua[] = HF_REDIS_LUA_ENTRY
    "local from, max_count, max_bytes = tonumber(ARGV[1]) + 1, tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local out, dead, n, b, ended = {}, {}, 0, 0, 0\n"
    "while true do\n"
    "  local got = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 8)\n"
    "  for _, e in ipairs(got) do\n"
    "    local first, last = entry_seqs(e[1])\n"
    "    table.insert(out, e[1]); table.insert(out, e[2][2])\n"
    "    n, b, from = n + last - math.max(first, from) + 1, b + #e[2][2], last + 1\n"
    "  end\n"
    "  if #got < 8 then ended = 1; break end\n"
    "  if n >= max_count or b >= max_bytes then break end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  for seq in pairs(dead_of(KEYS[2])) do table.insert(dead, seq) end\n"
    "end\n"
    "return {out, dead, ended}\n";

// KEYS: q, i, x of a device, its slot's expiry index and depth counter,
// and its c (emptied with the queue).
// ARGV: now, "A|D". Marks dead the expired messages in the first `scan`
// entries of the queue, drops the entries whose every message is dead,
// and scores the device again by the earliest expiry left (or takes it
// out of the index when its queue is empty); returns how many messages
// expired. A queue longer than `scan` entries is read from its head only:
// one whose head outlives later messages keeps those until the head goes
// or they are acknowledged (fetch skips them meanwhile).
static const char hf_redis_expire_lua[] = HF_REDIS_LUA_ENTRY
    "local now, scan = tonumber(ARGV[1]), 100\n"
    "local q, i, x = KEYS[1], KEYS[2], KEYS[3]\n"
    "local entries, gone, bytes, earliest = redis.call('XRANGE', q, '-', '+', 'COUNT', scan), 0, 0, nil\n"
    "local dead = redis.call('EXISTS', x) == 1 and dead_of(x) or {}\n"
    "for _, e in ipairs(entries) do\n"
    "  local first, last = entry_seqs(e[1])\n"
    "  local live = 0\n"
    "  each_record(e[2][2], first, function(seq, at, len)\n"
    "    if dead[seq] then return end\n"
    "    local exp = rec_expires(e[2][2], at)\n"
    "    if exp <= now then\n"
    "      local plen = rec_plen(e[2][2], at, len)\n"
    "      dead[seq] = plen; redis.call('HSET', x, seq, plen)\n"
    "      gone, bytes = gone + 1, bytes + plen\n"
    "    else\n"
    "      live = live + 1\n"
    "      if not earliest or exp < earliest then earliest = exp end\n"
    "    end\n"
    "  end)\n"
    "  if live == 0 then\n"
    "    redis.call('XDEL', q, e[1])\n"
    "    for seq = first, last do if dead[seq] then redis.call('HDEL', x, seq) end end\n"
    "  end\n"
    "end\n"
    "if gone > 0 then\n"
    "  redis.call('HINCRBY', i, 'count', -gone)\n"
    "  redis.call('HINCRBY', i, 'bytes', -bytes)\n"
    "  redis.call('DECRBY', KEYS[5], gone)\n"
    "end\n"
    "if redis.call('XLEN', q) == 0 then redis.call('ZREM', KEYS[4], ARGV[2]); redis.call('DEL', KEYS[6])\n"
    "else redis.call('ZADD', KEYS[4], earliest or now, ARGV[2]) end\n"
    "return gone\n";

// A presence key holds "<server id>|<since, unix ms>".
#define HF_REDIS_LUA_PRESENCE                                                                                          \
    "local function presence_server(v)\n"                                                                              \
    "  if not v then return nil, nil end\n"                                                                            \
    "  return string.match(v, '^(.*)|(%d+)$')\n"                                                                       \
    "end\n"

// KEYS: a presence key, the account's watchers. ARGV: server id, ttl ms,
// now ms. A refresh by the same server keeps the time the device came;
// an arrival returns the servers watching the account, to be told.
static const char hf_redis_presence_set_lua[] =
    HF_REDIS_LUA_PRESENCE "local server, since = presence_server(redis.call('GET', KEYS[1]))\n"
                          "local arrived = server ~= ARGV[1]\n"
                          "if arrived then since = ARGV[3] end\n"
                          "redis.call('SET', KEYS[1], ARGV[1] .. '|' .. since, 'PX', ARGV[2])\n"
                          "if not arrived then return {} end\n"
                          "return redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')\n";

// KEYS: a presence key, the device's last-seen key, the account's
// watchers. ARGV: server id, now ms. Clears presence only if it is still
// ours, and then returns the servers watching the account.
static const char hf_redis_presence_clear_lua[] =
    HF_REDIS_LUA_PRESENCE "if presence_server(redis.call('GET', KEYS[1])) ~= ARGV[1] then return {} end\n"
                          "redis.call('DEL', KEYS[1])\n"
                          "redis.call('SET', KEYS[2], ARGV[2])\n"
                          "return redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[2], '+inf')\n";

// KEYS: the account's watchers. ARGV: server id, until (ms), now (ms).
// The key lives as long as its longest watch.
static const char hf_redis_watch_lua[] =
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])\n"
    "local left = redis.call('PTTL', KEYS[1])\n"
    "if left == -1 or left < tonumber(ARGV[2]) - tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end\n"
    "return 0\n";

// KEYS: the device's presence, last-seen, queue info and revocation keys.
// Returns them as strings: presence, last seen, count, bytes, revocation.
static const char hf_redis_device_state_lua[] =
    "local info = redis.call('HMGET', KEYS[3], 'count', 'bytes')\n"
    "return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0', info[1] or '0', info[2] or '0',\n"
    "        redis.call('GET', KEYS[4]) or ''}\n";
