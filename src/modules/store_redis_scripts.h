// Lua scripts of store_redis: each runs atomically inside Redis, so
// de-duplication, collapse, quota and sequence numbers cannot race between
// servers. Keys (prefix P, dev = account|device):
//   P m:dev   hash  seq -> record      P o:dev  zset  seq (score seq)
//   P i:dev   hash  next, acked, count, bytes
//   P c:dev   hash  collapse key -> seq
//   P s:dev|from|id  string seq (PX dedup window)
//   P ttl     zset  "dev|seq" (score expires_at)
//   P d:account set devices          P p:dev  string server id (PX ttl)
// A record is a header line "payload_len expires_at stored_at msg_id
// from_len collapse_len\n", then from, collapse and payload.
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

// ARGV: P, dev, sent key, record, payload_len, collapse, expires_at,
// max_count, max_bytes, dedup_ms. Returns {status, seq, acked}:
// status 0 stored, 1 duplicate, 2 queue full.
static const char hf_redis_enqueue_lua[] = HF_REDIS_LUA_REMOVE
    "local P, dev = ARGV[1], ARGV[2]\n"
    "local info = P..'i:'..dev\n"
    "local dup = redis.call('GET', ARGV[3])\n"
    "if dup then\n"
    "  local acked = tonumber(redis.call('HGET', info, 'acked') or '0')\n"
    "  return {1, tonumber(dup), (tonumber(dup) <= acked) and 1 or 0}\n"
    "end\n"
    "local plen = tonumber(ARGV[5])\n"
    "local older = nil\n"
    "if ARGV[6] ~= '' then older = redis.call('HGET', P..'c:'..dev, ARGV[6]) end\n"
    "local count = tonumber(redis.call('HGET', info, 'count') or '0')\n"
    "local bytes = tonumber(redis.call('HGET', info, 'bytes') or '0')\n"
    "local freed_count, freed_bytes = 0, 0\n"
    "if older then\n"
    "  local rec = redis.call('HGET', P..'m:'..dev, older)\n"
    "  if rec then freed_count = 1; freed_bytes = tonumber(string.match(rec, '^(%d+) ')) end\n"
    "end\n"
    "if count - freed_count >= tonumber(ARGV[8]) or bytes - freed_bytes + plen > tonumber(ARGV[9]) then\n"
    "  return {2, 0, 0} end\n"
    "if older then remove(P, dev, older) end\n"
    "local seq = redis.call('HINCRBY', info, 'next', 1)\n"
    "redis.call('HSET', P..'m:'..dev, seq, ARGV[4])\n"
    "redis.call('ZADD', P..'o:'..dev, seq, seq)\n"
    "redis.call('ZADD', P..'ttl', ARGV[7], dev..'|'..seq)\n"
    "if ARGV[6] ~= '' then redis.call('HSET', P..'c:'..dev, ARGV[6], seq) end\n"
    "redis.call('HINCRBY', info, 'count', 1)\n"
    "redis.call('HINCRBY', info, 'bytes', plen)\n"
    "redis.call('SET', ARGV[3], seq, 'PX', ARGV[10])\n"
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
