#include "proto/e2e.h"

#include "proto/device_key.h"

namespace
{

const std::string_view magic_prefix("hfe", 3);
const size_t magic_len = 4, sig_len = 64;
// RFC 8291's auth secret is shared by sender and receiver; here the
// signature says who sent it, and the secret is this constant.
const std::string_view auth("handoff e2e auth", 16);

std::string signed_part(hf_e2e_kind kind, std::string_view from, std::string_view to, std::string_view body)
{
    std::string out = kind == hf_e2e_kind::message ? "handoff e2e 1" : "handoff approval 1";
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
    return payload.size() > magic_len + sig_len && payload.substr(0, 3) == magic_prefix &&
           (payload[3] == char(hf_e2e_kind::message) || payload[3] == char(hf_e2e_kind::approval));
}

bool hf_e2e_seal(const hf_ece_keys &signing, std::string_view from, std::string_view to, std::string_view to_device_key,
                 std::string_view plaintext, std::string *payload, hf_e2e_kind kind)
{
    std::string body, sig;
    if (!hf_device_key_valid(to_device_key) ||
        !hf_ece_encrypt(to_device_key.substr(0, HF_P256_PUBLIC_LEN), auth, plaintext, &body) ||
        !hf_p256_sign(signing, signed_part(kind, from, to, body), &sig))
        return false;
    payload->assign(magic_prefix);
    payload->push_back(char(kind));
    payload->append(sig);
    payload->append(body);
    return true;
}

bool hf_e2e_open(const hf_ece_keys &ecdh, std::string_view from, std::string_view to, std::string_view from_device_key,
                 std::string_view payload, std::string *plaintext, const char **why, hf_e2e_kind *kind)
{
    if (!hf_e2e_is(payload))
        return refuse(why, "not an end-to-end message");
    if (!hf_device_key_valid(from_device_key))
        return refuse(why, "the sender published no keys");
    auto payload_kind = hf_e2e_kind(payload[3]);
    std::string_view sig = payload.substr(magic_len, sig_len), body = payload.substr(magic_len + sig_len);
    if (!hf_p256_verify(from_device_key.substr(HF_P256_PUBLIC_LEN), signed_part(payload_kind, from, to, body), sig))
        return refuse(why, "the signature is not the sender's: forged, or sent to another device");
    if (kind)
        *kind = payload_kind;
    return hf_ece_decrypt(ecdh, auth, body, plaintext, why);
}

std::string hf_e2e_approval(std::string_view device, std::string_view device_key)
{
    std::string out(device);
    out.push_back('\0');
    out.append(device_key);
    return out;
}

bool hf_e2e_approval_parse(std::string_view plaintext, std::string *device, std::string *device_key)
{
    size_t nul = plaintext.find('\0');
    if (nul == 0 || nul == std::string_view::npos || !hf_device_key_valid(plaintext.substr(nul + 1)))
        return false;
    device->assign(plaintext.substr(0, nul));
    device_key->assign(plaintext.substr(nul + 1));
    return true;
}
