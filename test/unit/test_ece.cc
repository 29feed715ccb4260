// Unit tests of Web Push message encryption (proto/ece.h) against RFC
// 8291's own example (section 5 and appendix A).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

#include <string>

#include "proto/e2e.h"
#include "proto/ece.h"
#include "proto/token.h"

namespace
{

std::string raw(const char *base64url)
{
    std::string out;
    assert_true(hf_base64url_decode(base64url, &out));
    return out;
}

// RFC 8291, appendix A: the receiver's (user agent's) keys, the sender's
// (application server's), the salt, and the body they make.
const char ua_private[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const char ua_public[] = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const char as_private[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const char as_public[] = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const char auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
const char salt[] = "DGv6ra1nlYgDCS1FRnbzlw";
const char body[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK"
    "6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
const char plaintext[] = "When I grow up, I want to be a watermelon";

void decrypts_rfc_example(void **)
{
    hf_ece_keys ua{raw(ua_private), raw(ua_public)};
    std::string out;
    const char *why = nullptr;
    assert_true(hf_ece_decrypt(ua, raw(auth), raw(body), &out, &why));
    assert_string_equal(out.c_str(), plaintext);
}

void encrypts_rfc_example(void **)
{
    hf_ece_keys as{raw(as_private), raw(as_public)};
    std::string out;
    assert_true(hf_ece_encrypt(raw(ua_public), raw(auth), plaintext, &out, &as, raw(salt)));
    assert_true(out == raw(body));
}

void round_trip_with_fresh_keys(void **)
{
    hf_ece_keys device;
    assert_true(hf_ece_keys_new(&device));
    assert_int_equal(device.private_key.size(), HF_P256_PRIVATE_LEN);
    assert_true(hf_p256_public_valid(device.public_key));
    std::string secret(HF_ECE_AUTH_LEN, 'a'), sealed, opened;
    const char *why = nullptr;
    assert_true(hf_ece_encrypt(device.public_key, secret, "a bookmark", &sealed));
    assert_int_equal(sealed.size(), HF_ECE_OVERHEAD + 10);
    assert_true(hf_ece_decrypt(device, secret, sealed, &opened, &why));
    assert_string_equal(opened.c_str(), "a bookmark");
}

void refuses_what_is_not_for_it(void **)
{
    hf_ece_keys ua{raw(ua_private), raw(ua_public)}, other;
    assert_true(hf_ece_keys_new(&other));
    std::string out, damaged = raw(body);
    const char *why = nullptr;
    assert_false(hf_ece_decrypt(other, raw(auth), raw(body), &out, &why));
    assert_string_equal(why, "does not decrypt with this device's keys");
    assert_false(hf_ece_decrypt(ua, std::string(16, 'x'), raw(body), &out, &why));
    damaged[damaged.size() - 1] ^= 1;
    assert_false(hf_ece_decrypt(ua, raw(auth), damaged, &out, &why));
    assert_false(hf_ece_decrypt(ua, raw(auth), damaged.substr(0, 40), &out, &why));
    assert_string_equal(why, "not aes128gcm: shorter than its header and tag");
    damaged = raw(body);
    damaged[20] = 33;
    assert_false(hf_ece_decrypt(ua, raw(auth), damaged, &out, &why));
    assert_false(hf_p256_public_valid(std::string(65, '\x04')));
    assert_false(hf_p256_public_valid(raw(ua_public).substr(1)));
}

// A device's published keys: its ECDH public key, then its ECDSA one.
std::string published(const hf_ece_keys &ecdh, const hf_ece_keys &signing)
{
    return ecdh.public_key + signing.public_key;
}

void end_to_end_opens_only_for_its_target_and_its_sender(void **)
{
    hf_ece_keys pc_ecdh, pc_sign, phone_ecdh, phone_sign;
    for (hf_ece_keys *k : {&pc_ecdh, &pc_sign, &phone_ecdh, &phone_sign})
        assert_true(hf_ece_keys_new(k));
    std::string payload, plain;
    const char *why = nullptr;
    assert_true(hf_e2e_seal(pc_sign, "pc", "phone", published(phone_ecdh, phone_sign), "a bookmark", &payload));
    assert_true(hf_e2e_is(payload));
    assert_int_equal(payload.size(), HF_E2E_OVERHEAD + 10);
    assert_true(payload.find("a bookmark") == std::string::npos);
    assert_true(hf_e2e_open(phone_ecdh, "pc", "phone", published(pc_ecdh, pc_sign), payload, &plain, &why));
    assert_string_equal(plain.c_str(), "a bookmark");
    // Passed on to another device, or said to come from another sender,
    // or signed by a key the server swapped in: refused.
    assert_false(hf_e2e_open(phone_ecdh, "pc", "tablet", published(pc_ecdh, pc_sign), payload, &plain, &why));
    assert_false(hf_e2e_open(phone_ecdh, "laptop", "phone", published(pc_ecdh, pc_sign), payload, &plain, &why));
    assert_false(hf_e2e_open(phone_ecdh, "pc", "phone", published(phone_ecdh, phone_sign), payload, &plain, &why));
    assert_string_equal(why, "the signature is not the sender's: forged, or sent to another device");
    std::string damaged = payload;
    damaged[damaged.size() - 1] ^= 1;
    assert_false(hf_e2e_open(phone_ecdh, "pc", "phone", published(pc_ecdh, pc_sign), damaged, &plain, &why));
    // Another device's keys do not decrypt it, even with a good signature.
    assert_false(hf_e2e_open(pc_ecdh, "pc", "phone", published(pc_ecdh, pc_sign), payload, &plain, &why));
    assert_false(hf_e2e_is("plain text"));
}

void an_approval_is_not_a_message(void **)
{
    hf_ece_keys pc_ecdh, pc_sign, tablet_ecdh, tablet_sign, phone_ecdh, phone_sign;
    for (hf_ece_keys *k : {&pc_ecdh, &pc_sign, &tablet_ecdh, &tablet_sign, &phone_ecdh, &phone_sign})
        assert_true(hf_ece_keys_new(k));
    std::string phone_key = published(phone_ecdh, phone_sign), payload, plain, device, key;
    const char *why = nullptr;
    assert_true(hf_e2e_seal(pc_sign, "pc", "tablet", published(tablet_ecdh, tablet_sign),
                            hf_e2e_approval("phone", phone_key), &payload, hf_e2e_kind::approval));
    assert_true(hf_e2e_is(payload));
    hf_e2e_kind kind = hf_e2e_kind::message;
    assert_true(hf_e2e_open(tablet_ecdh, "pc", "tablet", published(pc_ecdh, pc_sign), payload, &plain, &why, &kind));
    assert_true(kind == hf_e2e_kind::approval);
    assert_true(hf_e2e_approval_parse(plain, &device, &key));
    assert_string_equal(device.c_str(), "phone");
    assert_true(key == phone_key);
    // Its kind is signed: said to be a message, it does not verify (and
    // a message cannot be passed off as an approval).
    std::string relabelled = payload;
    relabelled[3] = char(hf_e2e_kind::message);
    assert_false(hf_e2e_open(tablet_ecdh, "pc", "tablet", published(pc_ecdh, pc_sign), relabelled, &plain, &why));
    assert_false(hf_e2e_approval_parse("phone", &device, &key));
    assert_false(hf_e2e_approval_parse(hf_e2e_approval("phone", "short"), &device, &key));
    relabelled[3] = 3; // no such kind
    assert_false(hf_e2e_is(relabelled));
}

void a_p256_signature_verifies_with_its_key_only(void **)
{
    hf_ece_keys a, b;
    assert_true(hf_ece_keys_new(&a) && hf_ece_keys_new(&b));
    std::string sig;
    assert_true(hf_p256_sign(a, "data", &sig));
    assert_int_equal(sig.size(), 64);
    assert_true(hf_p256_verify(a.public_key, "data", sig));
    assert_false(hf_p256_verify(b.public_key, "data", sig));
    assert_false(hf_p256_verify(a.public_key, "other", sig));
    assert_false(hf_p256_verify(a.public_key, "data", sig.substr(1)));
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decrypts_rfc_example),
        cmocka_unit_test(encrypts_rfc_example),
        cmocka_unit_test(round_trip_with_fresh_keys),
        cmocka_unit_test(refuses_what_is_not_for_it),
        cmocka_unit_test(end_to_end_opens_only_for_its_target_and_its_sender),
        cmocka_unit_test(an_approval_is_not_a_message),
        cmocka_unit_test(a_p256_signature_verifies_with_its_key_only),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
