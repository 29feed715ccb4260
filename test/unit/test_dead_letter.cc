// Unit tests of a dead-letter entry (core/common/dead_letter.h): what it
// keeps of the original reads back whole, it never collapses or expires,
// and a payload that is not an entry, or is cut short, does not decode.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "core/common/dead_letter.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

const std::string payload = std::string("https://example.org/\0\xff", 22);

hf_store_msg original()
{
    hf_store_msg m{};
    m.seq = 41;
    m.from = "pc";
    m.msg_id = 1ull << 62;
    m.collapse_key = "tabs";
    m.payload = reinterpret_cast<const uint8_t *>(payload.data());
    m.payload_len = payload.size();
    m.stored_at_ms = 1796598883401;
    m.expires_at_ms = 1796685283401;
    return m;
}

hf_store_msg entry_of(const std::string &entry, uint64_t seq)
{
    hf_store_msg m = original();
    m.seq = seq;
    m.collapse_key = nullptr;
    m.payload = reinterpret_cast<const uint8_t *>(entry.data());
    m.payload_len = entry.size();
    return m;
}

void an_entry_reads_back_whole(void **)
{
    hf_store_msg m = original();
    std::string entry = hf_dead_letter_encode(&m, 3, "refused by the device: bad_field (3): not a URL", 1796598883420);
    hf_store_msg stored = entry_of(entry, 7);
    hf_dead_letter e;
    assert_true(hf_dead_letter_decode(&stored, &e));
    assert_int_equal(e.seq, 7);
    assert_string_equal(e.from.c_str(), "pc");
    assert_true(e.msg_id == 1ull << 62);
    assert_int_equal(e.code, 3);
    assert_string_equal(e.reason.c_str(), "refused by the device: bad_field (3): not a URL");
    assert_true(e.dead_at_ms == 1796598883420);
    assert_true(e.stored_at_ms == 1796598883401);
    assert_true(e.expires_at_ms == 1796685283401);
    assert_string_equal(e.collapse_key.c_str(), "tabs");
    assert_true(e.payload == payload);
}

void the_request_neither_collapses_nor_expires(void **)
{
    hf_store_msg m = original();
    std::string queue = hf_dead_letter_queue("phone");
    assert_string_equal(queue.c_str(), "phone~dead");
    std::string entry = hf_dead_letter_encode(&m, 2, "too large", 1);
    hf_store_enqueue_req req = hf_dead_letter_request("alice", queue, &m, entry);
    assert_null(req.collapse_key);
    assert_string_equal(req.device, "phone~dead");
    assert_string_equal(req.from, "pc");
    assert_true(req.msg_id == m.msg_id);
    assert_true(req.expires_at_ms == hf_dead_letter_expiry_ms);
    assert_true(hf_dead_letter_expiry_ms < (1ull << 53));
    assert_int_equal(req.payload_len, entry.size());
}

void what_is_not_an_entry_does_not_decode(void **)
{
    hf_dead_letter e;
    std::string plain = "just a message";
    hf_store_msg m = entry_of(plain, 1);
    assert_false(hf_dead_letter_decode(&m, &e));
    hf_store_msg o = original();
    std::string entry = hf_dead_letter_encode(&o, 3, "why", 5);
    // Cut anywhere inside its header: never read past the end.
    size_t header = entry.size() - payload.size();
    for (size_t len = 0; len < header; len++) {
        std::string cut = entry.substr(0, len);
        hf_store_msg c = entry_of(cut, 1);
        assert_false(hf_dead_letter_decode(&c, &e));
    }
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_entry_reads_back_whole),
        cmocka_unit_test(the_request_neither_collapses_nor_expires),
        cmocka_unit_test(what_is_not_an_entry_does_not_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
