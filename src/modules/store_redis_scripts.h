// Lua scripts of store_redis: each runs atomically inside one Redis node,
// so de-duplication, collapse, quota and sequence numbers cannot race
// between servers. Every key a script touches is in its KEYS and in one
// slot: an account's keys carry the account as their hash tag, and the
// keys kept per slot carry that slot's tag (redis_slots.h). Keys (P is
// store.prefix, A the account, D the device, T a slot's tag):
//   P{A}q:D  stream  the queue: entry id 0-<seq>, one field "r", the record
//   P{A}i:D  hash    next (last seq given), acked, bytes (payload bytes queued)
//   P{A}c:D  hash    collapse key -> seq
//   P{A}s:D  hash    from -> dedup record (PX dedup window, renewed per batch)
//   P{A}d    set     the account's devices    P{A}p:D string server id (PX)
//   P{T}e    zset    "A|D" of the slot's devices with messages, scored by the
//                    earliest expiry known (a hint: the sweep reads the queue)
//   P{T}n    string  how many messages the slot's queues hold (queue depth)
// A record is modules/record.h's: msg_id, stored_at, expires_at (8 bytes
// each, big-endian), from after its 2-byte length, the collapse key after
// its own, and the payload. A dedup record is a line "top_hi top_lo
// last_seq last_ms\n" and then the ring, width / 8 bytes: the rules of
// modules/dedup.h, in Lua. Lua's numbers are doubles, so 64-bit ids come
// as two 32-bit halves; a distance between two ids is exact while it is
// below 2^53, and the rules only compare larger ones with the ring's
// width and the restart gap. Seqs and times stay below 2^53.
#pragma once

// A record's parts: payload length and collapse key (nil: none); expiry;
// and what an enqueue reads: the id's halves, from and the collapse key
// ("": none).
#define HF_REDIS_LUA_RECORD                                                                                            \
    "local function be32(a, b, c, d) return ((a * 256 + b) * 256 + c) * 256 + d end\n"                                 \
    "local function rec_lengths(r)\n"                                                                                  \
    "  local f1, f2 = string.byte(r, 25, 26)\n"                                                                        \
    "  local flen = f1 * 256 + f2\n"                                                                                   \
    "  local c1, c2 = string.byte(r, 27 + flen, 28 + flen)\n"                                                          \
    "  return flen, c1 * 256 + c2\n"                                                                                   \
    "end\n"                                                                                                            \
    "local function rec_parts(r)\n"                                                                                    \
    "  local flen, clen = rec_lengths(r)\n"                                                                            \
    "  return #r - 28 - flen - clen, clen > 0 and string.sub(r, 29 + flen, 28 + flen + clen) or nil\n"                 \
    "end\n"                                                                                                            \
    "local function rec_expires(r)\n"                                                                                  \
    "  local a, b, c, d, e, f, g, h = string.byte(r, 17, 24)\n"                                                        \
    "  return be32(a, b, c, d) * 4294967296 + be32(e, f, g, h)\n"                                                      \
    "end\n"                                                                                                            \
    "local function rec_meta(r)\n"                                                                                     \
    "  local a, b, c, d, e, f, g, h = string.byte(r, 1, 8)\n"                                                          \
    "  local flen, clen = rec_lengths(r)\n"                                                                            \
    "  return be32(a, b, c, d), be32(e, f, g, h), string.sub(r, 27, 26 + flen),\n"                                     \
    "    string.sub(r, 29 + flen, 28 + flen + clen), #r - 28 - flen - clen\n"                                          \
    "end\n"                                                                                                            \
    "local function forget_collapse(ckey, col, seq)\n"                                                                 \
    "  if col and redis.call('HGET', ckey, col) == seq then redis.call('HDEL', ckey, col) end\n"                       \
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
// depth counter, then q, i, c, s of each device. ARGV: now, dedup width,
// dedup window ms, max count, max bytes, device count, each device's
// "A|D", then per message: its device's number (1-based) and its record,
// which says the rest.
// Returns four numbers per message: status (0 stored, 1 duplicate, 2
// queue full), seq, acked (a duplicate the target acknowledged), and the
// seq its collapse key replaced (0: none).
static const char hf_redis_enqueue_lua[] = HF_REDIS_LUA_RECORD HF_REDIS_LUA_DEDUP
    "local now, W, window = ARGV[1], tonumber(ARGV[2]), ARGV[3]\n"
    "local max_count, max_bytes, ndev = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local devs = {}\n"
    "for j = 1, ndev do\n"
    "  local b = 2 + (j - 1) * 4\n"
    "  local v = {q = KEYS[b + 1], i = KEYS[b + 2], c = KEYS[b + 3], s = KEYS[b + 4], member = ARGV[6 + j],\n"
    "    senders = {}, dirty = {}, added = 0, removed = 0}\n"
    "  local info = redis.call('HMGET', v.i, 'next', 'acked', 'bytes')\n"
    "  v.next, v.acked, v.bytes = tonumber(info[1] or '0'), tonumber(info[2] or '0'), tonumber(info[3] or '0')\n"
    "  v.count = redis.call('XLEN', v.q)\n"
    "  devs[j] = v\n"
    "end\n"
    "local out, a = {}, 7 + ndev\n"
    "while a <= #ARGV do\n"
    "  local v, rec = devs[tonumber(ARGV[a])], ARGV[a + 1]\n"
    "  local hi, lo, from, col, plen = rec_meta(rec)\n"
    "  a = a + 2\n"
    "  local d = v.senders[from]\n"
    "  if d == nil then d = dedup_read(redis.call('HGET', v.s, from), W) or false; v.senders[from] = d end\n"
    "  if dedup_seen(d, W, hi, lo) then\n"
    "    table.insert(out, 1); table.insert(out, 0); table.insert(out, d.seq <= v.acked and 1 or 0)\n"
    "    table.insert(out, 0)\n"
    "  else\n"
    "    local older, older_bytes = nil, 0\n"
    "    if col ~= '' then\n"
    "      older = redis.call('HGET', v.c, col)\n"
    "      local e = older and redis.call('XRANGE', v.q, '0-'..older, '0-'..older)[1]\n"
    "      if e then older_bytes = rec_parts(e[2][2]) else older = nil end\n"
    "    end\n"
    "    local freed = older and 1 or 0\n"
    "    if v.count - freed >= max_count or v.bytes - older_bytes + plen > max_bytes then\n"
    "      table.insert(out, 2); table.insert(out, 0); table.insert(out, 0); table.insert(out, 0)\n"
    "    else\n"
    "      if older then\n"
    "        redis.call('XDEL', v.q, '0-'..older)\n"
    "        v.count, v.bytes, v.removed = v.count - 1, v.bytes - older_bytes, v.removed + 1\n"
    "      end\n"
    "      v.next = v.next + 1\n"
    "      redis.call('XADD', v.q, '0-'..v.next, 'r', rec)\n"
    "      if col ~= '' then redis.call('HSET', v.c, col, v.next) end\n"
    "      v.count, v.bytes, v.added = v.count + 1, v.bytes + plen, v.added + 1\n"
    "      v.senders[from] = dedup_accept(d or nil, W, hi, lo, v.next); v.dirty[from] = true\n"
    "      local exp = rec_expires(rec)\n"
    "      if not v.expires or exp < v.expires then v.expires = exp end\n"
    "      table.insert(out, 0); table.insert(out, v.next); table.insert(out, 0)\n"
    "      table.insert(out, older and tonumber(older) or 0)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local total = 0\n"
    "for j = 1, ndev do\n"
    "  local v, written = devs[j], false\n"
    "  if v.added > 0 then\n"
    "    redis.call('HSET', v.i, 'next', v.next, 'bytes', v.bytes)\n"
    "    redis.call('ZADD', KEYS[1], 'LT', v.expires, v.member)\n"
    "    total = total + v.added - v.removed\n"
    "  end\n"
    "  for from in pairs(v.dirty) do\n"
    "    redis.call('HSET', v.s, from, dedup_write(v.senders[from], now)); written = true end\n"
    "  if written then redis.call('PEXPIRE', v.s, window) end\n"
    "end\n"
    "if total ~= 0 then redis.call('INCRBY', KEYS[2], total) end\n"
    "return out\n";

// The acknowledgements of one reactor pass to the devices of one slot.
// KEYS: the slot's depth counter, then q, i, c of each device. ARGV: each
// device's upto. Drops every message with seq <= upto; returns how many.
static const char hf_redis_ack_lua[] =
    HF_REDIS_LUA_RECORD "local dropped = 0\n"
                        "for j = 1, #ARGV do\n"
                        "  local q, i, c, upto = KEYS[3 * j - 1], KEYS[3 * j], KEYS[3 * j + 1], tonumber(ARGV[j])\n"
                        "  if upto > tonumber(redis.call('HGET', i, 'acked') or '0') then\n"
                        "    local gone, bytes = redis.call('XRANGE', q, '-', '0-'..ARGV[j]), 0\n"
                        "    for _, e in ipairs(gone) do\n"
                        "      local plen, col = rec_parts(e[2][2])\n"
                        "      bytes = bytes + plen\n"
                        "      forget_collapse(c, col, string.sub(e[1], 3))\n"
                        "    end\n"
                        "    if #gone > 0 then\n"
                        "      redis.call('XTRIM', q, 'MINID', '0-'..(upto + 1))\n"
                        "      redis.call('HINCRBY', i, 'bytes', -bytes)\n"
                        "      dropped = dropped + #gone\n"
                        "    end\n"
                        "    redis.call('HSET', i, 'acked', ARGV[j])\n"
                        "  end\n"
                        "end\n"
                        "if dropped > 0 then redis.call('DECRBY', KEYS[1], dropped) end\n"
                        "return dropped\n";

// KEYS: q, i, c of a device, its slot's expiry index and depth counter.
// ARGV: now, "A|D". Drops the expired messages among the first `scan` of
// the queue and scores the device again by the earliest expiry left (or
// takes it out of the index when its queue is empty); returns how many
// it dropped. A queue longer than `scan` is read from its head only: one
// whose head outlives later messages keeps those until the head goes or
// they are acknowledged (fetch skips them meanwhile).
static const char hf_redis_expire_lua[] = HF_REDIS_LUA_RECORD
    "local now, scan = tonumber(ARGV[1]), 1000\n"
    "local entries, gone, bytes, earliest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', scan), 0, 0, nil\n"
    "for _, e in ipairs(entries) do\n"
    "  local r = e[2][2]\n"
    "  local exp = rec_expires(r)\n"
    "  if exp <= now then\n"
    "    local plen, col = rec_parts(r)\n"
    "    redis.call('XDEL', KEYS[1], e[1])\n"
    "    forget_collapse(KEYS[3], col, string.sub(e[1], 3))\n"
    "    gone, bytes = gone + 1, bytes + plen\n"
    "  elseif not earliest or exp < earliest then earliest = exp end\n"
    "end\n"
    "if gone > 0 then\n"
    "  redis.call('HINCRBY', KEYS[2], 'bytes', -bytes)\n"
    "  redis.call('DECRBY', KEYS[5], gone)\n"
    "end\n"
    "if redis.call('XLEN', KEYS[1]) == 0 then redis.call('ZREM', KEYS[4], ARGV[2])\n"
    "else redis.call('ZADD', KEYS[4], earliest or now, ARGV[2]) end\n"
    "return gone\n";

// KEYS: a presence key. ARGV: server id. Clears it only if it is still ours.
static const char hf_redis_presence_clear_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";
