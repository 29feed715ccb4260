#include "proto/device_key.h"

#include "proto/ece.h"
#include "proto/token.h"

bool hf_device_key_valid(std::string_view key)
{
    return key.size() == HF_DEVICE_KEY_LEN && hf_p256_public_valid(key.substr(0, HF_P256_PUBLIC_LEN)) &&
           hf_p256_public_valid(key.substr(HF_P256_PUBLIC_LEN));
}

std::string hf_device_key_fingerprint(std::string_view key)
{
    unsigned char digest[32];
    hf_sha256(key, digest);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; i++) {
        if (i > 0 && i % 2 == 0)
            out.push_back(' ');
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}
