// handoffd.conf: one declarative table of keys (name, type, default,
// bounds, help). Parsing, `handoffd -t`, and the man page check all read it.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "handoff/module.h"
#include "proto/token.h"

enum class hf_role { standalone, server, allocator };

// A key of a module's group as written, kept until the module's own table
// can check it.
struct hf_raw_setting {
    std::string name;
    std::string text;
    bool is_string = false;
    int line = 0;
};

struct hf_module_settings {
    std::string module;              // module name: "memory", "fixed"
    std::vector<hf_raw_setting> raw; // keys given in the group, besides `module`
};

struct hf_config {
    std::string path; // the file it came from
    hf_role role = hf_role::standalone;
    std::string server_id;
    std::string module_dir;

    std::string listen_device;
    std::string listen_allocator;
    std::string listen_websocket;
    std::string websocket_path;
    std::string websocket_advertise;
    std::string websocket_allocate_path;
    std::vector<std::string> websocket_origins;
    int64_t websocket_max_request = 0;
    std::string advertise;

    std::string tls_certificate;
    std::string tls_key;
    std::string tls_min_version;

    std::vector<hf_token_key> token_keys;
    int64_t token_clock_skew_ms = 0;

    int64_t max_frame = 0;
    int64_t max_fields = 0;
    int64_t handshake_timeout_ms = 0;
    int64_t hello_timeout_ms = 0;
    int64_t max_ttl_ms = 0;
    int64_t queue_max_messages = 0;
    int64_t queue_max_bytes = 0;
    int64_t max_connections = 0;
    int64_t max_connections_per_address = 0;
    int64_t frame_rate = 0, frame_burst = 0;
    int64_t send_rate = 0, send_burst = 0;
    int64_t max_devices_per_account = 0;
    int64_t limit_log_interval_ms = 0;
    std::string tls_ciphers;
    std::string tls_ciphersuites;
    std::string tls_ticket_key_file;

    int64_t window = 0;
    int64_t default_ttl_ms = 0;
    int64_t ack_wait_ms = 0;
    int64_t ack_batch_ms = 0;
    int64_t dedup_window_ms = 0;
    int64_t dedup_ids = 0;
    int64_t store_retry_ms = 0;
    int64_t max_attempts = 0;
    std::string unknown_devices; // "store" or "reject"
    int64_t expire_interval_ms = 0;

    int64_t backoff_base_ms = 0;
    int64_t backoff_cap_ms = 0;

    std::string cluster_key_file;
    std::string cluster_key; // its contents: authenticates servers to allocators
    std::vector<std::string> register_allocators;
    std::string register_ca;
    int64_t register_weight = 0;
    int64_t answer_count = 0;
    int64_t refresh_interval_ms = 0;
    int64_t drain_timeout_ms = 0;
    int64_t presence_ttl_ms = 0;

    std::string metrics_listen;
    std::string log_level;
    std::string log_target;
    std::string log_facility;

    // Module groups; their own keys are checked against the module's table
    // once it is loaded (hf_config_apply_module_settings).
    hf_module_settings store;
    hf_module_settings heartbeat;
    std::vector<hf_setting_value> store_values;
    std::vector<hf_setting_value> heartbeat_values;
    std::deque<std::string> module_strings; // storage behind STRING values (stable addresses)
};

// Reads and checks the file. On failure returns false and sets *err to
// "file:line: message".
bool hf_config_load(const char *path, hf_config *cfg, std::string *err);

// Checks the keys of a module's group against its settings table and fills
// the resolved values (defaults for keys not given).
bool hf_config_apply_module_settings(hf_config *cfg, hf_module_settings *group, const hf_module_info *info,
                                     std::vector<hf_setting_value> *values, std::string *err);

// SIGHUP: copies from fresh into running every key that takes effect
// without a restart (limits, timeouts, token keys, log level); listeners,
// roles, modules and the store's quotas keep their running values.
void hf_config_apply_reload(const hf_config &fresh, hf_config *running);

// Every key the parser accepts, with its type, default and help, for the
// documentation check.
struct hf_config_key_doc {
    std::string name;
    std::string type;
    std::string default_value;
    std::string help;
};
std::vector<hf_config_key_doc> hf_config_key_docs(void);
