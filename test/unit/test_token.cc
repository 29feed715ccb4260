// Unit tests of device tokens and names.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <string>

#include "handoff/protocol.h"
#include "proto/token.h"

namespace
{

const hf_token_key keys[] = {{"k1", "first secret"}, {"k2", "second secret"}};
const uint64_t now = 1800000000;

std::string mint(const char *account, const char *device, const char *kid, const char *secret, uint64_t expires)
{
    hf_token_claims c;
    c.account = account;
    c.device = device;
    c.key_id = kid;
    c.expires_at = expires;
    std::string token;
    assert_int_equal(hf_token_mint(&c, secret, &token), HF_OK);
    return token;
}

void valid_token(void **)
{
    std::string t = mint("alice", "phone", "k2", "second secret", now + 60);
    hf_token_claims c;
    assert_int_equal(hf_token_verify(t, keys, 2, now, 0, &c), HF_OK);
    assert_string_equal(c.account.c_str(), "alice");
    assert_string_equal(c.device.c_str(), "phone");
    assert_string_equal(c.key_id.c_str(), "k2");
    assert_true(c.expires_at == now + 60);
}

void expired_token(void **)
{
    std::string t = mint("alice", "phone", "k1", "first secret", now - 10);
    hf_token_claims c;
    assert_int_equal(hf_token_verify(t, keys, 2, now, 0, &c), HF_ERR_TOKEN_EXPIRED);
    // Within the allowed clock skew it still passes.
    assert_int_equal(hf_token_verify(t, keys, 2, now, 30, &c), HF_OK);
}

void forged_token(void **)
{
    std::string wrong_secret = mint("alice", "phone", "k1", "guessed", now + 60);
    hf_token_claims c;
    assert_int_equal(hf_token_verify(wrong_secret, keys, 2, now, 0, &c), HF_ERR_BAD_TOKEN);
    // Swap the claims of a good token for another account's claims.
    std::string good = mint("alice", "phone", "k1", "first secret", now + 60);
    std::string other = mint("mallory", "phone", "k1", "guessed", now + 60);
    std::string spliced = other.substr(0, other.rfind('.')) + good.substr(good.rfind('.'));
    assert_int_equal(hf_token_verify(spliced, keys, 2, now, 0, &c), HF_ERR_BAD_TOKEN);
    // Flip one character of the signature.
    std::string flipped = good;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    assert_int_equal(hf_token_verify(flipped, keys, 2, now, 0, &c), HF_ERR_BAD_TOKEN);
}

void unknown_key(void **)
{
    std::string t = mint("alice", "phone", "k9", "first secret", now + 60);
    hf_token_claims c;
    assert_int_equal(hf_token_verify(t, keys, 2, now, 0, &c), HF_ERR_UNKNOWN_KEY);
}

void malformed_tokens(void **)
{
    const char *bad[] = {"", "hf1.", "hf1..", "hf2.abc.def", "hf1.abc", "hf1.!!!.abc", "hf1.QQ.QQ", "garbage"};
    hf_token_claims c;
    for (const char *t : bad)
        assert_int_equal(hf_token_verify(t, keys, 2, now, 0, &c), HF_ERR_BAD_TOKEN);
}

// A token of these claims (TLV, in the order given), signed with secret.
std::string sign(const std::string &claims, const char *secret)
{
    std::string token = "hf1.";
    hf_base64url_encode(claims, &token);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret, int(strlen(secret)), reinterpret_cast<const unsigned char *>(token.data()), token.size(),
         mac, &len);
    token += ".";
    hf_base64url_encode(std::string(reinterpret_cast<char *>(mac), len), &token);
    return token;
}

std::string claim(unsigned tag, const std::string &value)
{
    return std::string(1, char(tag)) + std::string(1, char(value.size())) + value;
}

// docs/protocol.md section 6: claims in any order, no other claim, no
// padding, at most 1024 bytes.
void token_rules(void **)
{
    std::string expiry = claim(3, std::string("\xe4\xa4\xa7\xda\x06", 5)); // 1800000100
    std::string reordered = claim(4, "k1") + expiry + claim(2, "pc") + claim(1, "alice");
    hf_token_claims c;
    assert_int_equal(hf_token_verify(sign(reordered, "first secret"), keys, 2, now, 0, &c), HF_OK);
    assert_string_equal(c.device.c_str(), "pc");
    assert_int_equal(c.issued_at_ms, 0u); // none: a token minted before the claim existed
    assert_int_equal(hf_token_verify(sign(reordered + claim(6, "x"), "first secret"), keys, 2, now, 0, &c),
                     HF_ERR_BAD_TOKEN);
    // issued_at_ms (5, unix ms) is optional, once at most.
    std::string issued = claim(5, std::string("\xe4\xa4\xa7\xda\x06", 5));
    assert_int_equal(hf_token_verify(sign(reordered + issued, "first secret"), keys, 2, now, 0, &c), HF_OK);
    assert_int_equal(c.issued_at_ms, 1800000100u);
    assert_int_equal(hf_token_verify(sign(reordered + issued + issued, "first secret"), keys, 2, now, 0, &c),
                     HF_ERR_BAD_TOKEN);
    // A device's name never starts with '@' (the HTTP API's senders do).
    std::string at_device = claim(4, "k1") + expiry + claim(2, "@pc") + claim(1, "alice");
    assert_int_equal(hf_token_verify(sign(at_device, "first secret"), keys, 2, now, 0, &c), HF_ERR_BAD_TOKEN);
    std::string good = mint("alice", "pc", "k1", "first secret", now + 60);
    std::string padded = good.substr(0, good.find('.', 4)) + "=" + good.substr(good.find('.', 4));
    assert_int_equal(hf_token_verify(padded, keys, 2, now, 0, &c), HF_ERR_BAD_TOKEN);
    std::string long_id(1000, 'k');
    const hf_token_key long_keys[] = {{long_id, "first secret"}};
    std::string too_long = mint("alice", "pc", long_id.c_str(), "first secret", now + 60);
    assert_true(too_long.size() > HF_TOKEN_MAX);
    assert_int_equal(hf_token_verify(too_long, long_keys, 1, now, 0, &c), HF_ERR_BAD_TOKEN);
}

void names(void **)
{
    assert_true(hf_name_valid("alice@example.com"));
    assert_true(hf_name_valid("pc-1_a.b"));
    assert_false(hf_name_valid(""));
    assert_false(hf_name_valid("*"));
    assert_false(hf_name_valid("a b"));
    assert_false(hf_name_valid(std::string(65, 'a')));
    hf_token_claims c;
    c.account = "bad name";
    c.device = "pc";
    c.key_id = "k1";
    std::string out;
    assert_int_equal(hf_token_mint(&c, "s", &out), HF_ERR_BAD_FIELD);
    c.account = "alice";
    c.device = "@backend";
    assert_int_equal(hf_token_mint(&c, "s", &out), HF_ERR_BAD_FIELD);
}

void base64url(void **)
{
    const char *samples[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *encoded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        std::string e, d;
        hf_base64url_encode(samples[i], &e);
        assert_string_equal(e.c_str(), encoded[i]);
        assert_true(hf_base64url_decode(e, &d));
        assert_string_equal(d.c_str(), samples[i]);
    }
    std::string d;
    assert_false(hf_base64url_decode("Zh", &d)); // stray low bits
    assert_false(hf_base64url_decode("Z", &d));
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_token), cmocka_unit_test(expired_token),    cmocka_unit_test(forged_token),
        cmocka_unit_test(unknown_key), cmocka_unit_test(malformed_tokens), cmocka_unit_test(names),
        cmocka_unit_test(base64url),   cmocka_unit_test(token_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
