// libFuzzer target: the token parser and verifier, on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const hf_token_key keys[] = {{"k1", "fuzzing secret, long enough"}};
    hf_token_claims claims;
    hf_token_verify(std::string_view(reinterpret_cast<const char *>(data), size), keys, 1, 1800000000, 60, &claims);
    std::string decoded;
    hf_base64url_decode(std::string_view(reinterpret_cast<const char *>(data), size), &decoded);
    return 0;
}
