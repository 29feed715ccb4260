// Wake-ups' pure parts (docs/wake.md): the endpoint policy (no SSRF),
// routes as the API and WAKE give them, Retry-After, the providers'
// error bodies, and the JWTs the daemon signs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>

#include "core/wake/apns_wake.h"
#include "core/wake/endpoint_policy.h"
#include "core/wake/fcm_wake.h"
#include "core/wake/jwt_sign.h"
#include "core/wake/wake_result.h"
#include "core/wake/wake_route.h"
#include "core/wake/webpush_wake.h"
#include "proto/token.h"

namespace
{

bool public_v4(const char *text)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, text, &a.sin_addr);
    return hf_address_public(reinterpret_cast<sockaddr *>(&a));
}

bool public_v6(const char *text)
{
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &a.sin6_addr);
    return hf_address_public(reinterpret_cast<sockaddr *>(&a));
}

void only_public_addresses_are_public(void **)
{
    for (const char *v4 : {"8.8.8.8", "1.1.1.1", "142.250.0.1"})
        assert_true(public_v4(v4));
    for (const char *v4 : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                           "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1"})
        assert_false(public_v4(v4));
    assert_true(public_v4("172.32.0.1")); // just past 172.16/12
    assert_true(public_v6("2a00:1450:4001::1"));
    for (const char *v6 : {"::1", "::", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "2001:db8::1", "::ffff:127.0.0.1",
                           "::ffff:10.0.0.1", "64:ff9b::a00:1"})
        assert_false(public_v6(v6));
    assert_true(public_v6("::ffff:8.8.8.8"));
}

void endpoints_are_https_or_listed_at_a_boundary(void **)
{
    std::vector<std::string> allowed = {"http://127.0.0.1", "http://push.local:8090/"};
    bool listed;
    assert_string_equal(hf_endpoint_problem("https://push.example.net/x", {}, &listed).c_str(), "");
    assert_false(listed);
    assert_true(hf_endpoint_problem("http://push.example.net/x", {}, &listed).find("https") != std::string::npos);
    assert_string_equal(hf_endpoint_problem("http://127.0.0.1:8090/x", allowed, &listed).c_str(), "");
    assert_true(listed);
    assert_string_equal(hf_endpoint_problem("http://127.0.0.1/x", allowed, &listed).c_str(), "");
    assert_string_equal(hf_endpoint_problem("http://127.0.0.1", allowed, &listed).c_str(), "");
    // Not a boundary: another host.
    assert_false(hf_endpoint_problem("http://127.0.0.1.evil.example/x", allowed, &listed).empty());
    assert_false(hf_endpoint_problem("http://127.0.0.10/x", allowed, &listed).empty());
    // A user name sends the request elsewhere, listed or not.
    assert_false(hf_endpoint_problem("http://127.0.0.1:80@10.0.0.1/x", allowed, &listed).empty());
    assert_false(hf_endpoint_problem("https://a@push.example.net/x", {}, &listed).empty());
    assert_false(hf_endpoint_problem("https:///x", {}, &listed).empty());
    assert_false(hf_endpoint_problem("push.example.net", {}, &listed).empty());
    assert_string_equal(hf_endpoint_problem("http://push.local:8090/a", allowed, &listed).c_str(), "");
    assert_false(hf_endpoint_problem("http://push.local:8091/a", allowed, &listed).empty());
}

const char p256dh[] = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";

void routes_parse_and_print_back(void **)
{
    hf_wake_route r;
    std::string err;
    std::string webpush = std::string("{\"webpush\":{\"endpoint\":\"https://p.example/1\",\"expirationTime\":null,") +
                          "\"keys\":{\"p256dh\":\"" + p256dh + "\",\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}}";
    assert_true(hf_wake_route_parse(webpush, &r, &err));
    assert_true(r.provider == hf_wake_provider::webpush);
    assert_int_equal(r.p256dh.size(), 65);
    assert_int_equal(r.auth.size(), 16);
    hf_wake_route again;
    assert_true(hf_wake_route_parse(hf_wake_route_json(r), &again, &err));
    assert_true(again.endpoint == r.endpoint && again.p256dh == r.p256dh && again.auth == r.auth);
    assert_true(hf_wake_route_parse("{\"apns\":{\"token\":\"" + std::string(64, 'a') +
                                        "\",\"topic\":\"org.example\",\"environment\":\"development\"}}",
                                    &r, &err));
    assert_true(r.provider == hf_wake_provider::apns && r.sandbox);
    assert_true(hf_wake_route_parse("{\"fcm\":{\"token\":\"abc:DEF-123\"}}", &r, &err));
    assert_string_equal(hf_wake_record_name(r.provider).c_str(), "wake:fcm");
    for (const std::string &bad : std::initializer_list<std::string>{
             "", "[]", "{}", "{\"fcm\":{}}", "{\"fcm\":{\"token\":\"a b\"}}", "{\"gcm\":{\"token\":\"a\"}}",
             "{\"fcm\":{\"token\":\"a\"},\"apns\":{}}", "{\"apns\":{\"token\":\"xyz\",\"topic\":\"t\"}}",
             "{\"apns\":{\"token\":\"" + std::string(64, '0') + "\",\"topic\":\"t\",\"environment\":\"qa\"}}",
             "{\"webpush\":{\"endpoint\":\"https://p.example/1\",\"keys\":{\"p256dh\":\"AAAA\",\"auth\":\"x\"}}}"})
        assert_false(hf_wake_route_parse(bad, &r, &err));
    // Records of another kind, or damaged, are no routes.
    std::string value = hf_wake_route_json(again);
    hf_store_record records[] = {{"push:news", reinterpret_cast<const uint8_t *>("x"), 1},
                                 {"wake:fcm", reinterpret_cast<const uint8_t *>(value.data()), value.size()},
                                 {"wake:webpush", reinterpret_cast<const uint8_t *>(value.data()), value.size()},
                                 {"wake:apns", reinterpret_cast<const uint8_t *>("{"), 1}};
    auto routes = hf_wake_routes_of(records, 4);
    assert_int_equal(routes.size(), 1); // the webpush one, under its own name
    assert_true(routes[0].provider == hf_wake_provider::webpush);
}

void retry_after_is_seconds_or_a_date(void **)
{
    assert_int_equal(hf_retry_after_ms("", 0), 0);
    assert_int_equal(hf_retry_after_ms("120", 0), 120000);
    assert_int_equal(hf_retry_after_ms("soon", 0), 0);
    // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
    assert_int_equal(hf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 - 5000), 5000);
    assert_int_equal(hf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 + 5000), 0);
    hf_http_response r;
    hf_wake_result out;
    r.status = 503;
    r.headers = {{"retry-after", "7"}};
    assert_true(hf_wake_common_outcome(r, 0, &out));
    assert_true(out.outcome == hf_wake_outcome::retry && out.retry_after_ms == 7000);
    r.status = 0;
    r.refused = true;
    assert_true(hf_wake_common_outcome(r, 0, &out));
    assert_true(out.outcome == hf_wake_outcome::failed);
    r.refused = false;
    assert_true(hf_wake_common_outcome(r, 0, &out) && out.outcome == hf_wake_outcome::retry);
    r.status = 410;
    assert_false(hf_wake_common_outcome(r, 0, &out));
}

void provider_error_bodies_are_read(void **)
{
    assert_string_equal(
        hf_fcm_error_code("{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"details\":[{\"@type\":\"t\","
                          "\"errorCode\":\"UNREGISTERED\"}]}}")
            .c_str(),
        "UNREGISTERED");
    assert_string_equal(hf_fcm_error_code("{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}").c_str(),
                        "UNAUTHENTICATED");
    assert_string_equal(hf_fcm_error_code("not json").c_str(), "");
    assert_string_equal(hf_apns_reason("{\"reason\":\"BadDeviceToken\"}").c_str(), "BadDeviceToken");
    assert_string_equal(hf_apns_reason("").c_str(), "");
    assert_string_equal(hf_url_origin("https://push.example.net:8443/wpush/v2/abc?x").c_str(),
                        "https://push.example.net:8443");
}

void signed_jwts_verify(void **)
{
    std::string pem = hf_p256_pem_new(), err;
    hf_ece_keys keys;
    assert_true(hf_p256_from_pem(pem, &keys, &err));
    std::string jwt = hf_jwt_sign_es256(keys, "{\"alg\":\"ES256\"}", "{\"aud\":\"https://p.example\"}");
    size_t dot = jwt.rfind('.');
    std::string sig;
    assert_true(hf_base64url_decode(jwt.substr(dot + 1), &sig));
    assert_true(hf_p256_verify(keys.public_key, jwt.substr(0, dot), sig));
    assert_false(hf_p256_from_pem("not pem", &keys, &err));
    std::string rs;
    assert_false(hf_jwt_sign_rs256(pem, "{}", "{}", &rs, &err)); // an EC key is not RSA
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_public_addresses_are_public),
        cmocka_unit_test(endpoints_are_https_or_listed_at_a_boundary),
        cmocka_unit_test(routes_parse_and_print_back),
        cmocka_unit_test(retry_after_is_seconds_or_a_date),
        cmocka_unit_test(provider_error_bodies_are_read),
        cmocka_unit_test(signed_jwts_verify),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
