// Unit tests of the WebSocket handshake and frame header (RFC 6455).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

#include <string>

#include "handoff/protocol.h"
#include "proto/ws.h"

namespace
{

const char good_request[] = "GET /handoff?v=1 HTTP/1.1\r\n"
                            "Host: relay.example\r\n"
                            "Upgrade: WebSocket\r\n"
                            "Connection: keep-alive, Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n"
                            "Origin: https://app.example\r\n";

// The example of RFC 6455 section 1.3.
void accept_key(void **)
{
    assert_string_equal(hf_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==").c_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

void request_is_parsed_and_checked(void **)
{
    hf_ws_request req;
    std::string err, why;
    assert_true(hf_ws_parse_request(good_request, &req, &err));
    assert_string_equal(req.path.c_str(), "/handoff?v=1");
    assert_string_equal(req.origin.c_str(), "https://app.example");
    assert_int_equal(hf_ws_check_request(&req, "/handoff", &why), 0);
    assert_int_equal(hf_ws_check_request(&req, "/other", &why), 404);
    req.version = "8";
    assert_int_equal(hf_ws_check_request(&req, "/handoff", &why), 426);
    req.version = "13";
    req.key = "c2hvcnQ=";
    assert_int_equal(hf_ws_check_request(&req, "/handoff", &why), 400);
    req.key = "dGhlIHNhbXBsZSBub25jZQ==";
    req.connection = "keep-alive";
    assert_int_equal(hf_ws_check_request(&req, "/handoff", &why), 400);
    req.connection = "upgrade";
    req.method = "POST";
    assert_int_equal(hf_ws_check_request(&req, "/handoff", &why), 405);
    assert_false(hf_ws_parse_request("GET / HTTP/1.0\r\n", &req, &err));
    assert_false(hf_ws_parse_request("GET / HTTP/1.1\r\nno colon here\r\n", &req, &err));
    assert_false(hf_ws_parse_request("GET / HTTP/1.1\r\nOrigin: a\rSet-Cookie: x\r\n", &req, &err));
}

void frame_headers(void **)
{
    hf_ws_frame_header h;
    const uint8_t masked_hello[] = {0x82, 0x85, 1, 2, 3, 4};
    assert_int_equal(hf_ws_frame_header_parse(masked_hello, 1, &h), HF_ERR_NEED_MORE);
    assert_int_equal(hf_ws_frame_header_parse(masked_hello, 5, &h), HF_ERR_NEED_MORE);
    assert_int_equal(hf_ws_frame_header_parse(masked_hello, 6, &h), HF_OK);
    assert_true(h.fin && h.masked);
    assert_int_equal(h.opcode, HF_WS_BINARY);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(h.header_len, 6);
    const uint8_t len16[] = {0x02, 0x7e, 0x01, 0x00};
    assert_int_equal(hf_ws_frame_header_parse(len16, 4, &h), HF_OK);
    assert_false(h.fin);
    assert_int_equal(h.payload_len, 256);
    const uint8_t short16[] = {0x82, 0x7e, 0x00, 0x10}; // 16 in the 16-bit form
    assert_int_equal(hf_ws_frame_header_parse(short16, 4, &h), HF_ERR_BAD_FRAME);
    const uint8_t rsv[] = {0xc2, 0x00};
    assert_int_equal(hf_ws_frame_header_parse(rsv, 2, &h), HF_ERR_BAD_FRAME);
    const uint8_t opcode3[] = {0x83, 0x00};
    assert_int_equal(hf_ws_frame_header_parse(opcode3, 2, &h), HF_ERR_BAD_FRAME);
    const uint8_t fragmented_ping[] = {0x09, 0x00};
    assert_int_equal(hf_ws_frame_header_parse(fragmented_ping, 2, &h), HF_ERR_BAD_FRAME);
    const uint8_t big_ping[] = {0x89, 0x7e, 0x00, 0x80};
    assert_int_equal(hf_ws_frame_header_parse(big_ping, 4, &h), HF_ERR_BAD_FRAME);
}

void put_and_unmask(void **)
{
    std::string out;
    hf_ws_frame_header_put(&out, HF_WS_BINARY, 5);
    hf_ws_frame_header_put(&out, HF_WS_BINARY, 300);
    hf_ws_frame_header_put(&out, HF_WS_CLOSE, 70000);
    const uint8_t want[] = {0x82, 5, 0x82, 126, 1, 44, 0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70};
    assert_int_equal(out.size(), sizeof want);
    assert_memory_equal(out.data(), want, sizeof want);
    uint8_t data[] = {'a' ^ 1, 'b' ^ 2, 'c' ^ 3, 'd' ^ 4, 'e' ^ 1};
    const uint8_t mask[4] = {1, 2, 3, 4};
    hf_ws_unmask(data, 2, mask, 0);
    hf_ws_unmask(data + 2, 3, mask, 2); // a payload unmasked in two pieces
    assert_memory_equal(data, "abcde", 5);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_key),
        cmocka_unit_test(request_is_parsed_and_checked),
        cmocka_unit_test(frame_headers),
        cmocka_unit_test(put_and_unmask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
