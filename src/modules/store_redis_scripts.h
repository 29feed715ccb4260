// Lua scripts of store_redis: each runs atomically inside Redis, so
// de-duplication, collapse, quota and sequence numbers cannot race between
// servers. Keys (prefix P, dev = account|device):
//   P m:dev   hash  seq -> record      P o:dev  zset  seq (score seq)
//   P i:dev   hash  next, acked, count, bytes
//   P c:dev   hash  collapse key -> seq
//   P s:dev   hash  from -> dedup record (PX dedup window, renewed per message)
//   P ttl     zset  "dev|seq" (score expires_at)
//   P d:account set devices          P p:dev  string server id (PX ttl)
// A record is a header line "payload_len expires_at stored_at msg_id
// from_len collapse_len\n", then from, collapse and payload. A dedup
// record is a line "top_hi top_lo last_seq last_ms\n" and then the ring,
// width / 8 bytes: the rules of modules/dedup.h, in Lua. Lua's numbers
// are doubles, so 64-bit ids come as two 32-bit halves; a distance
// between two ids is exact while it is below 2^53, and the rules only
// compare larger ones with the ring's width and the restart gap.
#pragma once

// Parses a record's header; shared by the scripts that remove messages.
#define HF_REDIS_LUA_REMOVE                                                                                            \
    "local function remove(P, dev, seq)\n"                                                                             \
    "  local rec = redis.call('HGET', P..'m:'..dev, seq)\n"                                                            \
    "  if not rec then return end\n"                                                                                   \
    "  local plen, exp, st, id, flen, clen = string.match(rec, '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+)\\n')\n"           \
    "  local hdr = string.find(rec, '\\n', 1, true)\n"                                                                 \
    "  local col = string.sub(rec, hdr + 1 + tonumber(flen), hdr + tonumber(flen) + tonumber(clen))\n"                 \
    "  if col ~= '' and redis.call('HGET', P..'c:'..dev, col) == tostring(seq) then\n"                                 \
    "    redis.call('HDEL', P..'c:'..dev, col) end\n"                                                                  \
    "  redis.call('HDEL', P..'m:'..dev, seq)\n"                                                                        \
    "  redis.call('ZREM', P..'o:'..dev, seq)\n"                                                                        \
    "  redis.call('ZREM', P..'ttl', dev..'|'..seq)\n"                                                                  \
    "  redis.call('HINCRBY', P..'i:'..dev, 'count', -1)\n"                                                             \
    "  redis.call('HINCRBY', P..'i:'..dev, 'bytes', -tonumber(plen))\n"                                                \
    "end\n"

// The dedup record of modules/dedup.h: read (nil when absent or of
// another width), seen, accept and write.
#define HF_REDIS_LUA_DEDUP                                                                                             \
    "local function dedup_read(rec, W)\n"                                                                              \
    "  if not rec then return nil end\n"                                                                               \
    "  local nl = string.find(rec, '\\n', 1, true)\n"                                                                  \
    "  if not nl or #rec - nl ~= W / 8 then return nil end\n"                                                          \
    "  local hi, lo, seq = string.match(string.sub(rec, 1, nl - 1), '^(%d+) (%d+) (%d+) %d+$')\n"                      \
    "  if not hi then return nil end\n"                                                                                \
    "  return {hi = tonumber(hi), lo = tonumber(lo), seq = tonumber(seq), ring = {string.byte(rec, nl + 1, -1)}}\n"    \
    "end\n"                                                                                                            \
    "local function dedup_bit(ring, W, lo) local p = lo % W\n"                                                         \
    "  return math.floor(p / 8) + 1, bit.lshift(1, p % 8) end\n"                                                       \
    "local function dedup_seen(d, W, hi, lo)\n"                                                                        \
    "  if not d then return false end\n"                                                                               \
    "  local below = (d.hi - hi) * 4294967296 + (d.lo - lo)\n"                                                         \
    "  if below < 0 or below >= W then return false end\n"                                                             \
    "  local i, mask = dedup_bit(d.ring, W, lo)\n"                                                                     \
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
    "      for k = 1, -below - 1 do local i, mask = dedup_bit(d.ring, W, d.lo + k)\n"                                  \
    "        d.ring[i] = bit.band(d.ring[i], bit.bnot(mask)) end end\n"                                                \
    "    d.hi, d.lo = hi, lo\n"                                                                                        \
    "  elseif below >= 2147483648 then d = dedup_fresh(W, hi, lo)\n"                                                   \
    "  elseif below >= W then remember = false end\n"                                                                  \
    "  if remember then local i, mask = dedup_bit(d.ring, W, lo); d.ring[i] = bit.bor(d.ring[i], mask) end\n"          \
    "  if seq > d.seq then d.seq = seq end\n"                                                                          \
    "  return d\n"                                                                                                     \
    "end\n"                                                                                                            \
    "local function dedup_write(d, now)\n"                                                                             \
    "  return string.format('%d %d %d %d\\n', d.hi, d.lo, d.seq, now)..string.char(unpack(d.ring)) end\n"

// ARGV: P, dev, from, id_hi, id_lo, record, payload_len, collapse,
// expires_at, max_count, max_bytes, dedup_ms, dedup width, now. Returns
// {status, seq, acked}: status 0 stored, 1 duplicate (seq 0), 2 queue full.
static const char hf_redis_enqueue_lua[] = HF_REDIS_LUA_REMOVE HF_REDIS_LUA_DEDUP
    "local P, dev, from = ARGV[1], ARGV[2], ARGV[3]\n"
    "local hi, lo, W = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[13])\n"
    "local info, senders = P..'i:'..dev, P..'s:'..dev\n"
    "local d = dedup_read(redis.call('HGET', senders, from), W)\n"
    "if dedup_seen(d, W, hi, lo) then\n"
    "  local acked = tonumber(redis.call('HGET', info, 'acked') or '0')\n"
    "  return {1, 0, (d.seq <= acked) and 1 or 0}\n"
    "end\n"
    "local plen = tonumber(ARGV[7])\n"
    "local older = nil\n"
    "if ARGV[8] ~= '' then older = redis.call('HGET', P..'c:'..dev, ARGV[8]) end\n"
    "local count = tonumber(redis.call('HGET', info, 'count') or '0')\n"
    "local bytes = tonumber(redis.call('HGET', info, 'bytes') or '0')\n"
    "local freed_count, freed_bytes = 0, 0\n"
    "if older then\n"
    "  local rec = redis.call('HGET', P..'m:'..dev, older)\n"
    "  if rec then freed_count = 1; freed_bytes = tonumber(string.match(rec, '^(%d+) ')) end\n"
    "end\n"
    "if count - freed_count >= tonumber(ARGV[10]) or bytes - freed_bytes + plen > tonumber(ARGV[11]) then\n"
    "  return {2, 0, 0} end\n"
    "if older then remove(P, dev, older) end\n"
    "local seq = redis.call('HINCRBY', info, 'next', 1)\n"
    "redis.call('HSET', P..'m:'..dev, seq, ARGV[6])\n"
    "redis.call('ZADD', P..'o:'..dev, seq, seq)\n"
    "redis.call('ZADD', P..'ttl', ARGV[9], dev..'|'..seq)\n"
    "if ARGV[8] ~= '' then redis.call('HSET', P..'c:'..dev, ARGV[8], seq) end\n"
    "redis.call('HINCRBY', info, 'count', 1)\n"
    "redis.call('HINCRBY', info, 'bytes', plen)\n"
    "redis.call('HSET', senders, from, dedup_write(dedup_accept(d, W, hi, lo, seq), ARGV[14]))\n"
    "redis.call('PEXPIRE', senders, ARGV[12])\n"
    "return {0, seq, 0}\n";

// ARGV: P, dev, after, max_count, now. Returns {seq, record, ...} of the
// next messages not expired (expired ones are left to the sweep).
static const char hf_redis_fetch_lua[] =
    "local P, dev = ARGV[1], ARGV[2]\n"
    "local seqs = redis.call('ZRANGEBYSCORE', P..'o:'..dev, '('..ARGV[3], '+inf', 'LIMIT', 0, ARGV[4])\n"
    "local out = {}\n"
    "for _, seq in ipairs(seqs) do\n"
    "  local rec = redis.call('HGET', P..'m:'..dev, seq)\n"
    "  if rec and tonumber(string.match(rec, '^%d+ (%d+) ')) > tonumber(ARGV[5]) then\n"
    "    table.insert(out, seq); table.insert(out, rec) end\n"
    "end\n"
    "return out\n";

// ARGV: P, dev, upto. Drops every message with seq <= upto.
static const char hf_redis_ack_lua[] =
    HF_REDIS_LUA_REMOVE "local P, dev = ARGV[1], ARGV[2]\n"
                        "for _, seq in ipairs(redis.call('ZRANGEBYSCORE', P..'o:'..dev, '-inf', ARGV[3])) do\n"
                        "  remove(P, dev, seq) end\n"
                        "local acked = tonumber(redis.call('HGET', P..'i:'..dev, 'acked') or '0')\n"
                        "if tonumber(ARGV[3]) > acked then redis.call('HSET', P..'i:'..dev, 'acked', ARGV[3]) end\n"
                        "return 0\n";

// ARGV: P, now. Drops up to 1000 expired messages; returns how many.
static const char hf_redis_expire_lua[] =
    HF_REDIS_LUA_REMOVE "local P = ARGV[1]\n"
                        "local dead = redis.call('ZRANGEBYSCORE', P..'ttl', '-inf', ARGV[2], 'LIMIT', 0, 1000)\n"
                        "for _, member in ipairs(dead) do\n"
                        "  local dev, seq = string.match(member, '^(.*)|(%d+)$')\n"
                        "  remove(P, dev, seq)\n"
                        "  redis.call('ZREM', P..'ttl', member)\n"
                        "end\n"
                        "return #dead\n";

// ARGV: key, server id. Clears presence only if it is still ours.
static const char hf_redis_presence_clear_lua[] =
    "if redis.call('GET', ARGV[1]) == ARGV[2] then redis.call('DEL', ARGV[1]) end\n"
    "return 0\n";
