// e2e-cost: what an end-to-end message (docs/protocol.md, "End-to-end
// messages") costs the two devices, without a network: the sender's seal
// (encryption to the target's key, and its signature) and the target's
// open (the signature checked, the body decrypted), per message of SIZE
// bytes, against nothing for a plain one; and the bytes it adds. The
// daemon passes the payload through: its cost is that of 171 more bytes.
// Prints a table and one JSON object. Usage: e2e-cost [MESSAGES [SIZE]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/report.h"
#include "proto/e2e.h"

namespace
{

double us_since(std::chrono::steady_clock::time_point start, size_t count)
{
    auto elapsed = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    return elapsed / double(count);
}

} // namespace

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? size_t(atol(argv[1])) : 2000, size = argc > 2 ? size_t(atol(argv[2])) : 256;
    hf_ece_keys pc_ecdh, pc_sign, phone_ecdh, phone_sign;
    for (hf_ece_keys *k : {&pc_ecdh, &pc_sign, &phone_ecdh, &phone_sign})
        if (!hf_ece_keys_new(k))
            return 1;
    std::string plaintext(size, 'x'), phone_key = phone_ecdh.public_key + phone_sign.public_key;
    std::string pc_key = pc_ecdh.public_key + pc_sign.public_key, payload, opened;
    std::vector<std::string> sealed(count);
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; i++)
        if (!hf_e2e_seal(pc_sign, "pc", "phone", phone_key, plaintext, &sealed[i]))
            return 1;
    double seal_us = us_since(start, count);
    const char *why = nullptr;
    start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; i++)
        if (!hf_e2e_open(phone_ecdh, "pc", "phone", pc_key, sealed[i], &opened, &why) || opened != plaintext)
            return 1;
    double open_us = us_since(start, count);
    bench_report r{"e2e-cost", {}};
    bench_report_number(&r, "messages", double(count), "");
    bench_report_number(&r, "size", double(size), "bytes of plaintext");
    bench_report_number(&r, "payload", double(sealed[0].size()), "bytes on the wire and in the store");
    bench_report_number(&r, "sender_us_per_msg", seal_us, "us: encrypt to the target, sign", 1);
    bench_report_number(&r, "target_us_per_msg", open_us, "us: verify, decrypt", 1);
    bench_report_print(&r);
    return 0;
}
