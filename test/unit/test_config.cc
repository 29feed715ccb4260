// Unit tests of the config table: units, file:line errors, module keys,
// and that every key is documented where operators look.
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config_file.h"
#include "core/common/config.h"
#include "proto/units.h"

// Last: cmocka's fail() macro would clash with iostream's fail().
// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

std::string read_file(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string srcdir(void)
{
    const char *dir = getenv("HF_SRCDIR");
    return dir ? dir : ".";
}

void units(void **)
{
    int64_t v = 0;
    assert_true(hf_parse_duration("250ms", &v) && v == 250);
    assert_true(hf_parse_duration("30s", &v) && v == 30000);
    assert_true(hf_parse_duration("5m", &v) && v == 300000);
    assert_true(hf_parse_duration("2h", &v) && v == 7200000);
    assert_true(hf_parse_duration("7d", &v) && v == 604800000);
    assert_false(hf_parse_duration("30", &v));
    assert_false(hf_parse_duration("s", &v));
    assert_false(hf_parse_duration("-1s", &v));
    assert_false(hf_parse_duration("1w", &v));
    assert_true(hf_parse_size("4096", &v) && v == 4096);
    assert_true(hf_parse_size("64k", &v) && v == 65536);
    assert_true(hf_parse_size("1m", &v) && v == 1048576);
    assert_true(hf_parse_size("2G", &v) && v == 2147483648LL);
    assert_false(hf_parse_size("1kb", &v));
    assert_false(hf_parse_size("k", &v));
    std::vector<std::string> items;
    hf_split_list(" 127.0.0.1:7000, 127.0.0.1:7001,,  ,h:1", &items);
    assert_int_equal(items.size(), 3);
    assert_string_equal(items[0].c_str(), "127.0.0.1:7000");
    assert_string_equal(items[1].c_str(), "127.0.0.1:7001");
    assert_string_equal(items[2].c_str(), "h:1");
    items.clear();
    hf_split_list("", &items);
    assert_true(items.empty());
}

void defaults_and_values(void **)
{
    std::string path = hf_test_config_file("delivery = { window = 9; ack_wait = \"250ms\"; };\n");
    hf_config cfg;
    std::string err;
    assert_true(hf_config_load(path.c_str(), &cfg, &err));
    assert_int_equal(cfg.window, 9);
    assert_int_equal(cfg.ack_wait_ms, 250);
    assert_int_equal(cfg.max_frame, 256 * 1024);
    assert_int_equal(cfg.default_ttl_ms, 7LL * 86400000);
    assert_string_equal(cfg.listen_device.c_str(), "127.0.0.1:7401");
    assert_string_equal(cfg.advertise.c_str(), "127.0.0.1:7401");
    assert_int_equal(cfg.token_keys.size(), 1);
    assert_string_equal(cfg.token_keys[0].secret.c_str(), "0123456789abcdef0123");
    // Relative paths resolve against the config's folder.
    std::string dir = path.substr(0, path.rfind('/'));
    assert_string_equal(cfg.tls_certificate.c_str(), (dir + "/c.pem").c_str());
}

void errors_name_file_and_line(void **)
{
    hf_config cfg;
    std::string err;
    std::string path = hf_test_config_file("delivery = {\n  window = 0;\n};\n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_string_equal(err.c_str(), (path + ":4: delivery.window: value 0 out of range [1, 65535]").c_str());
    path = hf_test_config_file("limitz = { max_frame = \"1m\"; };\n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_string_equal(err.c_str(), (path + ":3: unknown key \"limitz.max_frame\" (see handoffd.conf(5))").c_str());
    path = hf_test_config_file("role = \"allocator2\";\n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_non_null(strstr(err.c_str(), ":3: role: \"allocator2\" is not one of standalone|server"));
    path = hf_test_config_file("log = { level = \"info\" \n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_non_null(strstr(err.c_str(), path.c_str()));
}

// cluster.servers: each entry's weight (default 100), ranged and capped
// by cluster.max_weight, with errors that give the entry's form.
void cluster_member_weights(void **)
{
    const std::string allocator = "role = \"allocator\"; listen = { allocator = \"127.0.0.1:1\"; };\n";
    const std::string ring = "cluster = { servers = ( { id = \"s1\"; secret_file = \"token.secret\"; }, "
                             "{ id = \"s2\"; secret_file = \"token.secret\"; weight = ";
    hf_config cfg;
    std::string err;
    std::string path = hf_test_config_file(allocator + ring + "300; } ); };\n");
    assert_true(hf_config_load(path.c_str(), &cfg, &err));
    assert_int_equal(cfg.cluster_servers.size(), 2);
    assert_int_equal(cfg.cluster_servers[0].weight, 100);
    assert_int_equal(cfg.cluster_servers[1].weight, 300);
    path = hf_test_config_file(allocator + ring + "0; } ); };\n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_non_null(strstr(err.c_str(), "cluster.servers: weight 0 of \"s2\" is not 1 to 1000000"));
    path = hf_test_config_file(allocator + ring + "\"heavy\"; } ); };\n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_non_null(strstr(err.c_str(), "weight = 100; } (weight optional)"));
    path = hf_test_config_file(allocator + ring + "2000; } ); };\n");
    assert_false(hf_config_load(path.c_str(), &cfg, &err));
    assert_non_null(strstr(err.c_str(), "weight 2000 of \"s2\" is past cluster.max_weight 1000"));
}

void module_settings(void **)
{
    static const hf_setting_spec specs[] = {
        {"interval", HF_SETTING_DURATION, "30s", 1000, 60000, "x"},
        {"name", HF_SETTING_STRING, "dflt", 0, 0, "x"},
    };
    hf_module_info info{HF_MODULE_ABI_VERSION, HF_MODULE_HEARTBEAT, "t", "", specs, 2, nullptr};
    std::string path = hf_test_config_file("heartbeat = { module = \"t\"; interval = \"45s\"; };\n");
    hf_config cfg;
    std::string err;
    assert_true(hf_config_load(path.c_str(), &cfg, &err));
    std::vector<hf_setting_value> values;
    assert_true(hf_config_apply_module_settings(&cfg, &cfg.heartbeat, &info, &values, &err));
    assert_int_equal(values[0].number, 45000);
    assert_string_equal(values[1].string, "dflt");
    path = hf_test_config_file("heartbeat = { module = \"t\"; interval = \"2m\"; };\n");
    assert_true(hf_config_load(path.c_str(), &cfg, &err));
    assert_false(hf_config_apply_module_settings(&cfg, &cfg.heartbeat, &info, &values, &err));
    assert_non_null(strstr(err.c_str(), ":3: heartbeat.interval: value 2m out of range"));
}

void reload_takes_limits_not_quotas(void **)
{
    hf_config running, fresh;
    std::string err;
    assert_true(hf_config_load(hf_test_config_file("").c_str(), &running, &err));
    assert_true(hf_config_load(hf_test_config_file("limits = { send_rate = 7; queue_max_messages = 5; "
                                                   "account_max_messages = 6; };\n"
                                                   "delivery = { window = 3; ack_wait = \"1s\"; };\n"
                                                   "log = { level = \"debug\"; };\n")
                                   .c_str(),
                               &fresh, &err));
    hf_config_apply_reload(fresh, &running);
    assert_int_equal(running.send_rate, 7);
    assert_int_equal(running.ack_wait_ms, 1000);
    assert_string_equal(running.log_level.c_str(), "debug");
    // The store's quota and the window need a restart.
    assert_int_equal(running.queue_max_messages, 10000);
    assert_int_equal(running.account_max_messages, 100000);
    assert_int_equal(running.window, 64);
}

// Every key the parser accepts is in handoffd.conf(5) and etc/handoffd.conf.
void keys_are_documented(void **)
{
    std::string man = read_file(srcdir() + "/man/handoffd.conf.5");
    std::string example = read_file(srcdir() + "/etc/handoffd.conf");
    assert_false(man.empty());
    for (const hf_config_key_doc &key : hf_config_key_docs()) {
        if (man.find(".B " + key.name + "\n") == std::string::npos) {
            fprintf(stderr, "handoffd.conf(5) lacks key %s\n", key.name.c_str());
            fail();
        }
        std::string leaf = key.name.substr(key.name.rfind('.') + 1);
        if (example.find(leaf + " = ") == std::string::npos) {
            fprintf(stderr, "etc/handoffd.conf lacks key %s\n", key.name.c_str());
            fail();
        }
    }
}

// The same for the keys of every module built here.
void module_keys_are_documented(void **)
{
    std::string man = read_file(srcdir() + "/man/handoffd.conf.5");
    const char *module_dir = getenv("HANDOFF_MODULE_DIR");
    assert_non_null(module_dir);
    for (const char *file : {"store_memory.so", "store_lmdb.so", "store_redis.so", "hb_fixed.so", "hb_adaptive.so"}) {
        void *handle = dlopen((std::string(module_dir) + "/" + file).c_str(), RTLD_NOW | RTLD_LOCAL);
        assert_non_null(handle);
        auto init = reinterpret_cast<hf_module_init_fn>(dlsym(handle, "handoff_module_init"));
        hf_module_info info{};
        assert_int_equal(init(nullptr, &info), 0);
        const char *group = info.kind == HF_MODULE_STORE ? "store." : "heartbeat.";
        for (size_t i = 0; i < info.setting_count; i++) {
            std::string key = group + std::string(info.settings[i].name);
            if (man.find(".B " + key + "\n") == std::string::npos) {
                fprintf(stderr, "handoffd.conf(5) lacks module key %s\n", key.c_str());
                fail();
            }
        }
        dlclose(handle);
    }
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(units),
        cmocka_unit_test(defaults_and_values),
        cmocka_unit_test(errors_name_file_and_line),
        cmocka_unit_test(cluster_member_weights),
        cmocka_unit_test(module_settings),
        cmocka_unit_test(reload_takes_limits_not_quotas),
        cmocka_unit_test(keys_are_documented),
        cmocka_unit_test(module_keys_are_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
