// Unit tests of the pure protocol layer: varints, frame headers, messages.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

#include <string>

#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/varint.h"

namespace
{

const uint8_t *bytes(const std::string &s)
{
    return reinterpret_cast<const uint8_t *>(s.data());
}

// Decodes a whole frame held in s.
int decode_frame(const std::string &s, hf_msg *m, hf_decode_error *err, size_t max_body = HF_DEFAULT_MAX_FRAME)
{
    hf_frame_header hdr;
    int rc = hf_frame_header_parse(bytes(s), s.size(), max_body, &hdr);
    if (rc != HF_OK)
        return rc;
    assert_int_equal(hdr.header_len + hdr.body_len, s.size());
    hf_decode_limits limits;
    limits.max_body = max_body;
    return hf_msg_decode(hdr.type, hdr.flags, bytes(s) + hdr.header_len, hdr.body_len, &limits, m, err);
}

// A frame built by hand: type, flags, then raw body bytes.
std::string raw_frame(uint8_t type, uint8_t flags, const std::string &body)
{
    std::string out;
    hf_frame_header_put(&out, type, flags, body.size());
    return out + body;
}

void varint_round_trip(void **)
{
    const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    for (uint64_t v : values) {
        std::string s;
        hf_varint_put(&s, v);
        assert_int_equal(s.size(), hf_varint_size(v));
        uint64_t got = 0;
        size_t used = 0;
        assert_int_equal(hf_varint_get(bytes(s), s.size(), &got, &used), HF_OK);
        assert_int_equal(used, s.size());
        assert_true(got == v);
    }
}

void varint_truncated(void **)
{
    std::string s;
    hf_varint_put(&s, 300);
    uint64_t v;
    size_t used;
    assert_int_equal(hf_varint_get(bytes(s), 1, &v, &used), HF_ERR_NEED_MORE);
    assert_int_equal(hf_varint_get(bytes(s), 0, &v, &used), HF_ERR_NEED_MORE);
}

void varint_overlong(void **)
{
    uint64_t v;
    size_t used;
    std::string eleven(10, '\x80');
    eleven.push_back('\x01');
    assert_int_equal(hf_varint_get(bytes(eleven), eleven.size(), &v, &used), HF_ERR_BAD_FRAME);
    // Ten bytes whose last carries more than bit 63 overflow.
    std::string overflow(9, '\xff');
    overflow.push_back('\x02');
    assert_int_equal(hf_varint_get(bytes(overflow), overflow.size(), &v, &used), HF_ERR_BAD_FRAME);
    // 0x80 0x00 spells zero in two bytes: not minimal.
    const uint8_t padded[] = {0x80, 0x00};
    assert_int_equal(hf_varint_get(padded, 2, &v, &used), HF_ERR_BAD_FRAME);
}

void frame_header_incremental(void **)
{
    hf_msg m;
    m.type = HF_MSG_SEND;
    m.to = "phone";
    m.id = 7;
    std::string payload(300, 'x');
    m.payload = payload;
    hf_msg_set(&m, HF_TAG_TO);
    hf_msg_set(&m, HF_TAG_ID);
    hf_msg_set(&m, HF_TAG_PAYLOAD);
    std::string frame;
    assert_int_equal(hf_msg_encode(&m, &frame), HF_OK);
    hf_frame_header hdr;
    // Every prefix shorter than the header asks for more bytes.
    for (size_t n = 0; n < 4; n++)
        assert_int_equal(hf_frame_header_parse(bytes(frame), n, HF_DEFAULT_MAX_FRAME, &hdr), HF_ERR_NEED_MORE);
    assert_int_equal(hf_frame_header_parse(bytes(frame), 4, HF_DEFAULT_MAX_FRAME, &hdr), HF_OK);
    assert_int_equal(hdr.type, HF_MSG_SEND);
    assert_int_equal(hdr.header_len, 4);
    assert_int_equal(hdr.header_len + hdr.body_len, frame.size());
}

void frame_too_large(void **)
{
    std::string frame = raw_frame(HF_MSG_PING, 0, std::string(100, '\0'));
    hf_frame_header hdr;
    assert_int_equal(hf_frame_header_parse(bytes(frame), frame.size(), 99, &hdr), HF_ERR_FRAME_TOO_LARGE);
    assert_int_equal(hf_frame_header_parse(bytes(frame), frame.size(), 100, &hdr), HF_OK);
}

void frame_reserved_flags(void **)
{
    std::string frame = raw_frame(HF_MSG_PING, 0x80, "");
    hf_frame_header hdr;
    assert_int_equal(hf_frame_header_parse(bytes(frame), frame.size(), 100, &hdr), HF_ERR_BAD_FRAME);
    // The message decoder refuses them too, whoever calls it (found by
    // fuzzing: test/fuzz/corpus/message/regression-reserved-flags).
    hf_msg m;
    hf_decode_error err;
    hf_decode_limits limits;
    const uint8_t body[] = {0x05, 0x01, 0x01};
    assert_int_equal(hf_msg_decode(HF_MSG_PING, 0x05, body, sizeof body, &limits, &m, &err), HF_ERR_BAD_FRAME);
}

void round_trip_every_type(void **)
{
    for (int type = 1; type <= HF_MSG_TYPE_MAX; type++) {
        hf_msg m;
        m.type = uint8_t(type);
        // Fill every field the decoder will accept for this type by probing:
        // encode refuses fields the schema does not allow.
        std::string scratch;
        for (unsigned tag = 1; tag <= HF_TAG_MAX; tag++) {
            hf_msg probe = m;
            hf_msg_set(&probe, tag);
            if (tag == HF_TAG_ADDRESS) {
                probe.addresses[0] = "127.0.0.1:7401";
                probe.addresses[1] = "[::1]:7401";
                probe.address_count = 2;
            }
            scratch.clear();
            if (hf_msg_encode(&probe, &scratch) == HF_OK)
                m = probe;
        }
        m.token = "hf1.abc.def";
        m.to = "*";
        m.from = "pc";
        m.payload = std::string_view("\0\1\2", 3);
        m.text = "héllo";
        m.server_id = "s1";
        m.key = "k";
        m.account = "alice";
        m.device = "phone";
        m.collapse = "bookmarks";
        m.id = UINT64_MAX;
        m.seq = 1234567;
        m.heartbeat_ms = 30000;
        std::string frame;
        assert_int_equal(hf_msg_encode(&m, &frame), HF_OK);
        hf_msg back;
        hf_decode_error err;
        assert_int_equal(decode_frame(frame, &back, &err), HF_OK);
        assert_int_equal(back.type, type);
        assert_true(back.present == m.present);
        if (hf_msg_has(&m, HF_TAG_PAYLOAD))
            assert_true(back.payload == m.payload);
        if (hf_msg_has(&m, HF_TAG_ID))
            assert_true(back.id == UINT64_MAX);
        if (hf_msg_has(&m, HF_TAG_TEXT))
            assert_true(back.text == "héllo");
        if (hf_msg_has(&m, HF_TAG_ADDRESS)) {
            assert_int_equal(back.address_count, 2);
            assert_true(back.addresses[1] == "[::1]:7401");
        }
        std::string again;
        assert_int_equal(hf_msg_encode(&back, &again), HF_OK);
        assert_true(again == frame);
    }
}

void encode_refuses_foreign_field(void **)
{
    hf_msg m;
    m.type = HF_MSG_PING;
    m.payload = "x";
    hf_msg_set(&m, HF_TAG_PAYLOAD);
    std::string out;
    assert_int_equal(hf_msg_encode(&m, &out), HF_ERR_BAD_FIELD);
}

// Body helpers: one field with a raw value.
std::string field(unsigned tag, const std::string &value)
{
    std::string s;
    hf_varint_put(&s, tag);
    hf_varint_put(&s, value.size());
    return s + value;
}

std::string uint_field(unsigned tag, uint64_t v)
{
    std::string value;
    hf_varint_put(&value, v);
    return field(tag, value);
}

void field_past_frame(void **)
{
    std::string body = uint_field(HF_TAG_UPTO, 5);
    body.push_back(char(HF_TAG_PAYLOAD));
    body.push_back(10); // promises ten bytes
    body += "abc";      // has three
    hf_msg m;
    hf_decode_error err;
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, body), &m, &err), HF_ERR_BAD_FRAME);
}

void truncated_tag_varint(void **)
{
    std::string body = uint_field(HF_TAG_UPTO, 5) + "\x80";
    hf_msg m;
    hf_decode_error err;
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, body), &m, &err), HF_ERR_BAD_FRAME);
}

void unknown_tags(void **)
{
    std::string body = uint_field(HF_TAG_UPTO, 5) + field(60, "future") + field(HF_TAG_PAYLOAD, "not here");
    hf_msg m;
    hf_decode_error err;
    // Skipped when not critical, both the unknown tag and a known tag this
    // type does not use.
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, body), &m, &err), HF_OK);
    assert_int_equal(m.upto, 5);
    assert_false(hf_msg_has(&m, HF_TAG_PAYLOAD));
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, HF_FLAG_CRITICAL, body), &m, &err),
                     HF_ERR_UNKNOWN_CRITICAL);
    assert_int_equal(err.code, HF_ERR_UNKNOWN_CRITICAL);
}

void empty_fields(void **)
{
    hf_msg m;
    hf_decode_error err;
    // An empty integer is malformed.
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, field(HF_TAG_UPTO, "")), &m, &err),
                     HF_ERR_BAD_FIELD);
    assert_int_equal(err.tag, HF_TAG_UPTO);
    // An empty payload is a valid (empty) message.
    std::string body = field(HF_TAG_TO, "pc") + uint_field(HF_TAG_ID, 1) + field(HF_TAG_PAYLOAD, "");
    assert_int_equal(decode_frame(raw_frame(HF_MSG_SEND, 0, body), &m, &err), HF_OK);
    assert_true(m.payload.empty());
    // An empty body lacks required fields.
    assert_int_equal(decode_frame(raw_frame(HF_MSG_SEND, 0, ""), &m, &err), HF_ERR_MISSING_FIELD);
    assert_int_equal(err.tag, HF_TAG_ID);
    // An integer with a padded varint inside its field is malformed.
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, field(HF_TAG_UPTO, "\x85\x00")), &m, &err),
                     HF_ERR_BAD_FIELD);
    // An integer field longer than its varint is malformed.
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, field(HF_TAG_UPTO, "\x05\x05")), &m, &err),
                     HF_ERR_BAD_FIELD);
}

void duplicate_fields(void **)
{
    std::string body = uint_field(HF_TAG_UPTO, 5) + uint_field(HF_TAG_UPTO, 6);
    hf_msg m;
    hf_decode_error err;
    assert_int_equal(decode_frame(raw_frame(HF_MSG_DELIVER_ACK, 0, body), &m, &err), HF_ERR_DUPLICATE_FIELD);
    assert_int_equal(err.tag, HF_TAG_UPTO);
    assert_string_equal(hf_decode_error_text(&err).c_str(), "field given twice: field 24 (upto)");
}

void bad_strings(void **)
{
    hf_msg m;
    hf_decode_error err;
    std::string nul = field(HF_TAG_TOKEN, std::string("a\0b", 3));
    assert_int_equal(decode_frame(raw_frame(HF_MSG_HELLO, 0, nul), &m, &err), HF_ERR_BAD_FIELD);
    const char *bad_utf8[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"};
    for (const char *s : bad_utf8) {
        assert_int_equal(decode_frame(raw_frame(HF_MSG_HELLO, 0, field(HF_TAG_TOKEN, s)), &m, &err), HF_ERR_BAD_FIELD);
    }
}

void too_many_fields(void **)
{
    std::string body;
    for (int i = 0; i < HF_DEFAULT_MAX_FIELDS + 1; i++)
        body += field(61, "");
    hf_msg m;
    hf_decode_error err;
    assert_int_equal(decode_frame(raw_frame(HF_MSG_PING, 0, body), &m, &err), HF_ERR_TOO_MANY_FIELDS);
    std::string addresses;
    for (int i = 0; i < HF_MAX_ADDRESSES + 1; i++)
        addresses += field(HF_TAG_ADDRESS, "h:1");
    assert_int_equal(decode_frame(raw_frame(HF_MSG_ALLOC_RESP, 0, addresses), &m, &err), HF_ERR_TOO_MANY_FIELDS);
}

void unknown_type(void **)
{
    hf_msg m;
    hf_decode_error err;
    assert_int_equal(decode_frame(raw_frame(99, 0, ""), &m, &err), HF_ERR_UNEXPECTED_TYPE);
}

void documented_example_bytes(void **)
{
    // The SEND example of docs/protocol.md, byte for byte.
    hf_msg m;
    m.type = HF_MSG_SEND;
    m.to = "phone";
    m.id = 1;
    m.payload = "hi";
    hf_msg_set(&m, HF_TAG_TO);
    hf_msg_set(&m, HF_TAG_ID);
    hf_msg_set(&m, HF_TAG_PAYLOAD);
    std::string out;
    assert_int_equal(hf_msg_encode(&m, &out), HF_OK);
    const uint8_t expected[] = {0x07, 0x00, 0x0e, 0x05, 0x01, 0x01, 0x06, 0x05, 'p',
                                'h',  'o',  'n',  'e',  0x0b, 0x02, 'h',  'i'};
    assert_int_equal(out.size(), sizeof expected);
    assert_memory_equal(out.data(), expected, sizeof expected);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_round_trip),
        cmocka_unit_test(varint_truncated),
        cmocka_unit_test(varint_overlong),
        cmocka_unit_test(frame_header_incremental),
        cmocka_unit_test(frame_too_large),
        cmocka_unit_test(frame_reserved_flags),
        cmocka_unit_test(round_trip_every_type),
        cmocka_unit_test(encode_refuses_foreign_field),
        cmocka_unit_test(field_past_frame),
        cmocka_unit_test(truncated_tag_varint),
        cmocka_unit_test(unknown_tags),
        cmocka_unit_test(empty_fields),
        cmocka_unit_test(duplicate_fields),
        cmocka_unit_test(bad_strings),
        cmocka_unit_test(too_many_fields),
        cmocka_unit_test(unknown_type),
        cmocka_unit_test(documented_example_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
