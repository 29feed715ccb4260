#include "proto/e2e.h"

#include "proto/device_key.h"

namespace
{

const char magic[] = "hfe\x01";
const size_t magic_len = 4, sig_len = 64;
// RFC 8291's auth secret is shared by sender and receiver; here the
// signature says who sent it, and the secret is this constant.
const std::string_view auth("handoff e2e auth", 16);

std::string signed_part(std::string_view from, std::string_view to, std::string_view body)
{
    std::string out = "handoff e2e 1";
    out.push_back('\0');
    out.append(from);
    out.push_back('\0');
    out.append(to);
    out.push_back('\0');
    out.append(body);
    return out;
}

bool refuse(const char **why, const char *text)
{
    *why = text;
    return false;
}

} // namespace

bool hf_e2e_is(std::string_view payload)
{
    return payload.size() > magic_len + sig_len && payload.substr(0, magic_len) == std::string_view(magic, magic_len);
}

bool hf_e2e_seal(const hf_ece_keys &signing, std::string_view from, std::string_view to, std::string_view to_device_key,
                 std::string_view plaintext, std::string *payload)
{
    std::string body, sig;
    if (!hf_device_key_valid(to_device_key) ||
        !hf_ece_encrypt(to_device_key.substr(0, HF_P256_PUBLIC_LEN), auth, plaintext, &body) ||
        !hf_p256_sign(signing, signed_part(from, to, body), &sig))
        return false;
    payload->assign(magic, magic_len);
    payload->append(sig);
    payload->append(body);
    return true;
}

bool hf_e2e_open(const hf_ece_keys &ecdh, std::string_view from, std::string_view to, std::string_view from_device_key,
                 std::string_view payload, std::string *plaintext, const char **why)
{
    if (!hf_e2e_is(payload))
        return refuse(why, "not an end-to-end message");
    if (!hf_device_key_valid(from_device_key))
        return refuse(why, "the sender published no keys");
    std::string_view sig = payload.substr(magic_len, sig_len), body = payload.substr(magic_len + sig_len);
    if (!hf_p256_verify(from_device_key.substr(HF_P256_PUBLIC_LEN), signed_part(from, to, body), sig))
        return refuse(why, "the signature is not the sender's: forged, or sent to another device");
    return hf_ece_decrypt(ecdh, auth, body, plaintext, why);
}
