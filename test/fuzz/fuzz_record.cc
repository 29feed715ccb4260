// libFuzzer target: the TLS 1.3 record layer the daemon runs after the
// handshake (src/net/tls_record.cc). The input picks a suite and a secret,
// then is cut into pieces: each is sealed as a record of the type it
// names and must open to the same bytes; the same record with one byte
// changed must not open; and each piece is opened as if it came from the
// network. Nothing may crash, read out of bounds or open what was forged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/tls_record.h"

namespace
{

void check(bool ok)
{
    if (!ok)
        abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + HF_TLS_MAX_SECRET)
        return 0;
    hf_tls_suite suite;
    check(hf_tls_suite_find(uint16_t(0x1301 + data[0] % 3), &suite));
    hf_tls_aead *aead = hf_tls_aead_new();
    hf_tls_traffic tx, rx;
    check(hf_tls_traffic_init(aead, &tx, &suite, data + 1, 0));
    check(hf_tls_traffic_init(aead, &rx, &suite, data + 1, 0));
    size_t pos = 1 + HF_TLS_MAX_SECRET;
    std::vector<uint8_t> record, plain;
    while (pos + 3 <= size) {
        uint8_t type = data[pos];
        size_t len = size_t(data[pos + 1] << 8 | data[pos + 2]) % (HF_TLS_MAX_PLAIN + 1);
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *piece = data + pos;
        pos += len;

        // What the network brings: opened, never trusted.
        plain.resize(len + 1);
        size_t got = 0;
        uint8_t got_type = 0;
        hf_tls_traffic probe = rx;
        hf_tls_open_result rc = hf_tls_open(aead, &probe, &suite, piece, len, plain.data(), &got, &got_type);
        check(rc != hf_tls_open_result::ok); // no key sealed it

        if (type == 0)
            continue; // not a content type a record may carry
        record.resize(len + HF_TLS_SEAL_OVERHEAD);
        check(hf_tls_seal(aead, &tx, &suite, type, piece, len, record.data()));
        if (len > 0) {
            // One byte changed, anywhere: refused, and rx does not move.
            std::vector<uint8_t> forged = record;
            forged[HF_TLS_HEADER + size_t(type) % (forged.size() - HF_TLS_HEADER)] ^= 0x5a;
            hf_tls_traffic before = rx;
            plain.resize(forged.size());
            check(hf_tls_open(aead, &rx, &suite, forged.data(), forged.size(), plain.data(), &got, &got_type) !=
                  hf_tls_open_result::ok);
            check(rx.seq == before.seq);
        }
        plain.resize(record.size());
        check(hf_tls_open(aead, &rx, &suite, record.data(), record.size(), plain.data(), &got, &got_type) ==
              hf_tls_open_result::ok);
        check(got_type == type && got == len && memcmp(plain.data(), piece, len) == 0);
    }
    hf_tls_aead_free(aead);
    return 0;
}
