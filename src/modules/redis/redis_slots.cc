#include "modules/redis/redis_slots.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>

namespace
{

// CRC16 as Redis Cluster computes it: XMODEM (polynomial 0x1021, no
// reflection, initial value 0), a byte at a time from a table made once:
// every enqueue and fetch computes its account's slot.
struct crc16_table {
    uint16_t of[256];
    crc16_table()
    {
        for (int byte = 0; byte < 256; byte++) {
            uint16_t crc = uint16_t(byte << 8);
            for (int bit = 0; bit < 8; bit++)
                crc = crc & 0x8000 ? uint16_t((crc << 1) ^ 0x1021) : uint16_t(crc << 1);
            of[byte] = crc;
        }
    }
};

uint16_t crc16(const char *data, size_t len)
{
    static const crc16_table table;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = uint16_t((crc << 8) ^ table.of[uint8_t((crc >> 8) ^ uint8_t(data[i]))]);
    return crc;
}

bool is_int(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER;
}

} // namespace

int hf_redis_key_slot(const char *key, size_t len)
{
    const char *open = static_cast<const char *>(memchr(key, '{', len));
    if (open) {
        size_t rest = len - size_t(open - key) - 1;
        const char *close = static_cast<const char *>(memchr(open + 1, '}', rest));
        if (close && close > open + 1)
            return crc16(open + 1, size_t(close - open - 1)) & (hf_redis_slot_count - 1);
    }
    return crc16(key, len) & (hf_redis_slot_count - 1);
}

const std::vector<std::string> &hf_redis_slot_tags()
{
    static const std::vector<std::string> tags = [] {
        std::vector<std::string> out(hf_redis_slot_count);
        int missing = hf_redis_slot_count;
        for (uint64_t n = 0; missing > 0; n++) {
            std::string tag = "s" + std::to_string(n);
            std::string &at = out[size_t(hf_redis_key_slot(tag))];
            if (at.empty()) {
                at = tag;
                missing--;
            }
        }
        return out;
    }();
    return tags;
}

int hf_redis_map_assign(hf_redis_slot_map *map, int slot, const std::string &address)
{
    int index = -1;
    for (size_t i = 0; i < map->addresses.size(); i++)
        if (map->addresses[i] == address)
            index = int(i);
    if (index < 0) {
        index = int(map->addresses.size());
        map->addresses.push_back(address);
    }
    if (slot >= 0 && slot < hf_redis_slot_count)
        map->owner[size_t(slot)] = index;
    return index;
}

bool hf_redis_map_from_slots(const redisReply *r, const std::string &from_address, hf_redis_slot_map *map,
                             std::string *err)
{
    *map = hf_redis_slot_map{};
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        *err = r && r->type == REDIS_REPLY_ERROR ? r->str : "CLUSTER SLOTS did not answer with a list";
        return false;
    }
    std::string from_host;
    int from_port = 0;
    hf_redis_split_address(from_address, &from_host, &from_port);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *range = r->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || !is_int(range->element[0]) ||
            !is_int(range->element[1]) || range->element[2]->type != REDIS_REPLY_ARRAY ||
            range->element[2]->elements < 2 || range->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            !is_int(range->element[2]->element[1])) {
            *err = "CLUSTER SLOTS: a slot range of an unknown shape";
            return false;
        }
        long long start = range->element[0]->integer, end = range->element[1]->integer;
        if (start < 0 || end >= hf_redis_slot_count || start > end) {
            *err = "CLUSTER SLOTS: a slot range out of bounds";
            return false;
        }
        size_t replicas = range->elements - 3;
        if (i == 0 || replicas < map->fewest_replicas) {
            map->fewest_replicas = replicas;
            map->fewest_start = start;
            map->fewest_end = end;
        }
        const redisReply *primary = range->element[2];
        std::string host(primary->element[0]->str, primary->element[0]->len);
        if (host.empty() || host == "?")
            host = from_host;
        int index = hf_redis_map_assign(map, -1, host + ":" + std::to_string(primary->element[1]->integer));
        for (long long slot = start; slot <= end; slot++)
            map->owner[size_t(slot)] = index;
    }
    return true;
}

bool hf_redis_parse_redirect(const char *error, size_t len, hf_redis_redirect *out)
{
    std::string text(error, len);
    bool ask = text.compare(0, 4, "ASK ") == 0;
    if (!ask && text.compare(0, 6, "MOVED ") != 0)
        return false;
    const char *p = text.c_str() + (ask ? 4 : 6);
    char *end;
    long slot = strtol(p, &end, 10);
    if (end == p || *end != ' ' || slot < 0 || slot >= hf_redis_slot_count)
        return false;
    std::string address = end + 1;
    std::string host;
    int port;
    if (!hf_redis_split_address(address, &host, &port))
        return false;
    out->ask = ask;
    out->slot = int(slot);
    out->address = address;
    return true;
}

bool hf_redis_split_address(const std::string &address, std::string *host, int *port)
{
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= address.size())
        return false;
    char *end;
    long value = strtol(address.c_str() + colon + 1, &end, 10);
    if (*end || value <= 0 || value > 65535)
        return false;
    *host = address.substr(0, colon);
    *port = int(value);
    return true;
}
