#include "core/server/push_endpoint.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/token.h"
#include "proto/be64.h"
#include "proto/ece.h"

namespace
{

const char record_prefix[] = "push:";
const uint8_t record_version = 1;
const uint8_t sealed_version = 1;
const size_t nonce_len = 12, tag_len = 16;
// Bound to the seal: a sealed part made for anything else does not open.
const std::string_view seal_context = "handoff push endpoint";

std::string random_bytes(size_t n)
{
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char *>(out.data()), int(n)) != 1)
        return {};
    return out;
}

void put_text(std::string *out, std::string_view text)
{
    out->push_back(char(text.size()));
    out->append(text);
}

// A length-prefixed text of at most 255 bytes at *at; false past the end.
bool take_text(std::string_view in, size_t *at, std::string *out)
{
    if (*at >= in.size() || *at + 1 + uint8_t(in[*at]) > in.size())
        return false;
    size_t len = uint8_t(in[*at]);
    out->assign(in.substr(*at + 1, len));
    *at += 1 + len;
    return true;
}

} // namespace

std::string hf_subscription_record_name(std::string_view app)
{
    return record_prefix + std::string(app);
}

// version (1) | id (16) | created_ms (8, big-endian) | vapid_key (0 or 65)
std::string hf_subscription_encode(const hf_subscription &sub)
{
    std::string out(1, char(record_version));
    out += sub.id;
    hf_put_be64(&out, sub.created_ms);
    out += sub.vapid_key;
    return out;
}

bool hf_subscription_decode(const hf_store_record &record, hf_subscription *sub)
{
    std::string_view name(record.name);
    std::string_view value(reinterpret_cast<const char *>(record.value), record.value_len);
    const size_t fixed = 1 + HF_SUBSCRIPTION_ID_LEN + 8;
    if (name.compare(0, sizeof record_prefix - 1, record_prefix) != 0 || value.size() < fixed ||
        uint8_t(value[0]) != record_version)
        return false;
    sub->app = name.substr(sizeof record_prefix - 1);
    sub->id = value.substr(1, HF_SUBSCRIPTION_ID_LEN);
    sub->created_ms = hf_get_be64(value.data() + 1 + HF_SUBSCRIPTION_ID_LEN);
    sub->vapid_key = value.substr(fixed);
    return true;
}

std::vector<hf_subscription> hf_subscriptions_of(const hf_store_record *records, size_t count)
{
    std::vector<hf_subscription> subs;
    for (size_t i = 0; i < count; i++) {
        hf_subscription sub;
        if (hf_subscription_decode(records[i], &sub))
            subs.push_back(std::move(sub));
    }
    return subs;
}

std::string hf_subscription_new_id()
{
    return random_bytes(HF_SUBSCRIPTION_ID_LEN);
}

// sealed = nonce (12) | AES-256-GCM of: version (1) then each part,
// length-prefixed. The nonce is a MAC of what is sealed (as in SIV), so
// that a subscription has one endpoint however often it is asked for, and
// nonces of different contents differ.
std::string hf_push_seal(const std::string &key, std::initializer_list<std::string_view> parts)
{
    std::string plain(1, char(sealed_version)), sealed, text;
    for (std::string_view part : parts)
        put_text(&plain, part);
    // A key of its own for the nonce, derived from the sealing key.
    unsigned char nonce_key[32], mac[32];
    if (!hf_hmac_sha256(key, "endpoint nonce", nonce_key) ||
        !hf_hmac_sha256(std::string_view(reinterpret_cast<char *>(nonce_key), sizeof nonce_key), plain, mac))
        return {};
    std::string nonce(reinterpret_cast<char *>(mac), nonce_len);
    if (!hf_aes_gcm(true, key, nonce, seal_context, plain, &sealed))
        return {};
    hf_base64url_encode(nonce + sealed, &text);
    return text;
}

bool hf_push_unseal(const std::string &key, std::string_view sealed, size_t count, std::vector<std::string> *parts)
{
    std::string raw, plain;
    if (sealed.size() > 1024 || !hf_base64url_decode(sealed, &raw) || raw.size() < nonce_len + tag_len ||
        !hf_aes_gcm(false, key, std::string_view(raw).substr(0, nonce_len), seal_context,
                    std::string_view(raw).substr(nonce_len), &plain) ||
        plain.empty() || uint8_t(plain[0]) != sealed_version)
        return false;
    size_t at = 1;
    parts->assign(count, {});
    for (std::string &part : *parts)
        if (!take_text(plain, &at, &part))
            return false;
    return at == plain.size();
}

std::string hf_push_endpoint(const std::string &key, const std::string &url, std::string_view account,
                             std::string_view device, std::string_view id)
{
    std::string sealed = hf_push_seal(key, {"endpoint", account, device, id});
    return sealed.empty() ? "" : url + "/push/" + sealed;
}

bool hf_push_endpoint_open(const std::string &key, std::string_view sealed, std::string *account, std::string *device,
                           std::string *id)
{
    std::vector<std::string> parts;
    if (!hf_push_unseal(key, sealed, 4, &parts) || parts[0] != "endpoint" || parts[3].size() != HF_SUBSCRIPTION_ID_LEN)
        return false;
    *account = parts[1];
    *device = parts[2];
    *id = parts[3];
    return true;
}
