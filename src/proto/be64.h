// 64-bit integers big-endian in byte strings, so that byte order is
// numeric order: store keys and records, sealed push endpoints.
#pragma once
#include <endian.h>

#include <cstdint>
#include <cstring>
#include <string>

// One byte swap and one append: keys and records are built per message.
inline void hf_put_be64(std::string *out, uint64_t v)
{
    uint64_t be = htobe64(v);
    out->append(reinterpret_cast<const char *>(&be), sizeof be);
}

inline uint64_t hf_get_be64(const void *p)
{
    uint64_t be;
    memcpy(&be, p, sizeof be);
    return be64toh(be);
}
