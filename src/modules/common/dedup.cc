#include "modules/common/dedup.h"
#include "modules/common/record.h"

#include <endian.h>

#include <cstring>

namespace
{

void put_be64_at(uint8_t *p, uint64_t v)
{
    uint64_t be = htobe64(v);
    memcpy(p, &be, sizeof be);
}

// The ring's width in bits, or 0 for a record too short to hold one.
size_t width_of(size_t len)
{
    return len > hf_dedup_header_bytes ? (len - hf_dedup_header_bytes) * 8 : 0;
}

bool bit_at(const uint8_t *ring, size_t width, uint64_t id)
{
    size_t pos = size_t(id & (width - 1));
    return (ring[pos >> 3] >> (pos & 7)) & 1;
}

void set_bit(uint8_t *ring, size_t width, uint64_t id, bool on)
{
    size_t pos = size_t(id & (width - 1));
    uint8_t mask = uint8_t(1u << (pos & 7));
    ring[pos >> 3] = on ? uint8_t(ring[pos >> 3] | mask) : uint8_t(ring[pos >> 3] & ~mask);
}

void begin(std::string *record, size_t width, uint64_t id)
{
    record->assign(hf_dedup_header_bytes + width / 8, '\0');
    put_be64_at(reinterpret_cast<uint8_t *>(record->data()), id);
}

} // namespace

bool hf_dedup_seen(const uint8_t *record, size_t len, uint64_t id)
{
    size_t width = width_of(len);
    if (width == 0)
        return false;
    uint64_t top = hf_get_be64(record);
    if (id > top || top - id >= width)
        return false;
    return bit_at(record + hf_dedup_header_bytes, width, id);
}

void hf_dedup_accept(std::string *record, size_t width, uint64_t id, uint64_t seq, uint64_t now_ms)
{
    if (width_of(record->size()) != width)
        begin(record, width, id);
    auto *p = reinterpret_cast<uint8_t *>(record->data());
    uint8_t *ring = p + hf_dedup_header_bytes;
    uint64_t top = hf_get_be64(p);
    bool remembered = true;
    if (id > top) {
        // The ids skipped on the way up were not accepted (they went to
        // other targets, or were never sent).
        if (id - top >= width)
            memset(ring, 0, width / 8);
        else
            for (uint64_t skipped = top + 1; skipped < id; skipped++)
                set_bit(ring, width, skipped, false);
        put_be64_at(p, id);
    } else if (top - id >= hf_dedup_restart_gap) {
        begin(record, width, id);
        p = reinterpret_cast<uint8_t *>(record->data());
        ring = p + hf_dedup_header_bytes;
    } else if (top - id >= width) {
        remembered = false; // too old to judge: taken, not remembered
    }
    if (remembered)
        set_bit(ring, width, id, true);
    if (seq > hf_get_be64(p + 8))
        put_be64_at(p + 8, seq);
    put_be64_at(p + 16, now_ms);
}

uint64_t hf_dedup_last_seq(const uint8_t *record, size_t len)
{
    return width_of(len) ? hf_get_be64(record + 8) : 0;
}

uint64_t hf_dedup_last_ms(const uint8_t *record, size_t len)
{
    return width_of(len) ? hf_get_be64(record + 16) : 0;
}
