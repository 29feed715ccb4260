// Unit tests of store_redis's cluster routing: key slots agree with Redis
// Cluster's (the values of its specification), hash tags pick the part
// hashed, every slot has a tag of its own, CLUSTER SLOTS replies become a
// map (read by hiredis's own parser from RESP text), and redirections
// are read or refused.
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cstring>
#include <set>
#include <string>

#include "modules/redis/redis_slots.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

void slots_are_redis_clusters(void **)
{
    // CRC16-XMODEM's check value is 0x31C3.
    assert_int_equal(hf_redis_key_slot("123456789"), 0x31C3);
    assert_int_equal(hf_redis_key_slot("foo"), 12182);
    assert_int_equal(hf_redis_key_slot("bar"), 5061);
    assert_int_equal(hf_redis_key_slot(""), 0);
}

void a_hash_tag_picks_what_is_hashed(void **)
{
    assert_int_equal(hf_redis_key_slot("{user1000}.following"), hf_redis_key_slot("{user1000}.followers"));
    assert_int_equal(hf_redis_key_slot("hf:{alice}q:phone"), hf_redis_key_slot("alice"));
    // The first {...} counts, and only when it is not empty.
    assert_int_equal(hf_redis_key_slot("foo{bar}{zap}"), hf_redis_key_slot("bar"));
    assert_int_equal(hf_redis_key_slot("foo{}{bar}"), hf_redis_key_slot("foo{}{bar}", 10));
    assert_int_not_equal(hf_redis_key_slot("foo{}{bar}"), hf_redis_key_slot("bar"));
    assert_int_equal(hf_redis_key_slot("foo{{bar}}zap"), hf_redis_key_slot("{bar"));
    assert_int_equal(hf_redis_key_slot("foo{bar"), hf_redis_key_slot("foo{bar", 7));
}

void every_slot_has_a_tag(void **)
{
    const std::vector<std::string> &tags = hf_redis_slot_tags();
    assert_int_equal(tags.size(), hf_redis_slot_count);
    std::set<std::string> distinct(tags.begin(), tags.end());
    assert_int_equal(distinct.size(), hf_redis_slot_count);
    for (int slot = 0; slot < hf_redis_slot_count; slot++) {
        assert_true(tags[size_t(slot)].size() <= 8);
        assert_int_equal(hf_redis_key_slot("hf:{" + tags[size_t(slot)] + "}e"), slot);
    }
}

// A reply as hiredis parses it from the wire.
redisReply *parse(const std::string &resp)
{
    redisReader *reader = redisReaderCreate();
    redisReaderFeed(reader, resp.data(), resp.size());
    void *reply = nullptr;
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    redisReaderFree(reader);
    assert_non_null(reply);
    return static_cast<redisReply *>(reply);
}

void cluster_slots_make_a_map(void **)
{
    // Two ranges on 7000, one on 7001 with a replica; 7001 answered with
    // an empty host: the node asked.
    redisReply *r = parse("*3\r\n"
                          "*3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                          "*4\r\n:5461\r\n:10922\r\n*3\r\n$0\r\n\r\n:7001\r\n$2\r\nid\r\n"
                          "*3\r\n$9\r\n127.0.0.1\r\n:7004\r\n$2\r\nid\r\n"
                          "*3\r\n:10923\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n");
    hf_redis_slot_map map;
    std::string err;
    assert_true(hf_redis_map_from_slots(r, "127.0.0.1:7001", &map, &err));
    freeReplyObject(r);
    assert_int_equal(map.addresses.size(), 2);
    assert_string_equal(map.addresses[size_t(map.owner[0])].c_str(), "127.0.0.1:7000");
    assert_string_equal(map.addresses[size_t(map.owner[5461])].c_str(), "127.0.0.1:7001");
    assert_string_equal(map.addresses[size_t(map.owner[10922])].c_str(), "127.0.0.1:7001");
    assert_string_equal(map.addresses[size_t(map.owner[16383])].c_str(), "127.0.0.1:7000");
}

void missing_slots_have_no_owner(void **)
{
    redisReply *r = parse("*1\r\n*3\r\n:0\r\n:99\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n");
    hf_redis_slot_map map;
    std::string err;
    assert_true(hf_redis_map_from_slots(r, "127.0.0.1:7000", &map, &err));
    freeReplyObject(r);
    assert_int_equal(map.owner[99], 0);
    assert_int_equal(map.owner[100], -1);
    assert_int_equal(hf_redis_map_assign(&map, 100, "127.0.0.1:7002"), 1);
    assert_int_equal(map.owner[100], 1);
}

void odd_replies_are_refused(void **)
{
    hf_redis_slot_map map;
    std::string err;
    const char *bad[] = {
        "-ERR This instance has cluster support disabled\r\n", "*1\r\n:5\r\n",
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n", "*1\r\n*3\r\n:9\r\n:3\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:3\r\n*1\r\n$1\r\nh\r\n",
    };
    for (const char *resp : bad) {
        redisReply *r = parse(resp);
        assert_false(hf_redis_map_from_slots(r, "h:1", &map, &err));
        assert_false(err.empty());
        freeReplyObject(r);
    }
    assert_false(hf_redis_map_from_slots(nullptr, "h:1", &map, &err));
}

void redirections_are_read(void **)
{
    hf_redis_redirect to;
    const char moved[] = "MOVED 3999 127.0.0.1:6381";
    assert_true(hf_redis_parse_redirect(moved, strlen(moved), &to));
    assert_false(to.ask);
    assert_int_equal(to.slot, 3999);
    assert_string_equal(to.address.c_str(), "127.0.0.1:6381");
    const char ask[] = "ASK 16383 ::1:7000";
    assert_true(hf_redis_parse_redirect(ask, strlen(ask), &to));
    assert_true(to.ask);
    assert_int_equal(to.slot, 16383);
    assert_string_equal(to.address.c_str(), "::1:7000");
    for (const char *other :
         {"TRYAGAIN Multiple keys request during rehashing of slot", "CLUSTERDOWN The cluster is down",
          "MOVED 16384 h:1", "MOVED x h:1", "MOVED 5 h", "ASK 5 h:0", "ERR wrong"})
        assert_false(hf_redis_parse_redirect(other, strlen(other), &to));
}

void addresses_split(void **)
{
    std::string host;
    int port;
    assert_true(hf_redis_split_address("127.0.0.1:6379", &host, &port));
    assert_string_equal(host.c_str(), "127.0.0.1");
    assert_int_equal(port, 6379);
    for (const char *bad : {"127.0.0.1", ":6379", "h:", "h:70000", "h:6x"})
        assert_false(hf_redis_split_address(bad, &host, &port));
}

} // namespace

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test(slots_are_redis_clusters),    cmocka_unit_test(a_hash_tag_picks_what_is_hashed),
        cmocka_unit_test(every_slot_has_a_tag),        cmocka_unit_test(cluster_slots_make_a_map),
        cmocka_unit_test(missing_slots_have_no_owner), cmocka_unit_test(odd_replies_are_refused),
        cmocka_unit_test(redirections_are_read),       cmocka_unit_test(addresses_split),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
