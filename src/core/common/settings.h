// What handoffd.conf holds, once parsed: struct hf_config and the parts
// it is made of. config.h reads it; config_keys.cc lists its keys.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "handoff/module.h"
#include "core/common/jwt.h"
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

// What an API key may call (api.keys' scope): "send" posts messages,
// "tokens" mints device tokens, "admin" does everything.
enum hf_api_scope : unsigned { hf_scope_send = 1, hf_scope_tokens = 2, hf_scope_admin = 7 };

// A key of the HTTP API (api.keys): callers send its secret as a bearer
// token.
struct hf_api_key {
    std::string id;
    std::string secret;
    unsigned scope = hf_scope_send; // the routes' scopes it holds
    // The accounts it may act on: names, or a prefix and "*" ("team-*");
    // empty: every account.
    std::vector<std::string> accounts;
};

// Whether key may act on account (api.keys' accounts).
bool hf_api_key_covers(const hf_api_key &key, const std::string &account);

// A server of the cluster as an allocator lists it (cluster.servers): its
// id, the key it registers with, and, for servers with stores of their
// own, the weight every allocator ranks it by whether it is up or not.
struct hf_cluster_member {
    std::string id;
    std::string secret;
    uint64_t weight = 100;
};

struct hf_config {
    std::string path; // the file it came from
    hf_role role = hf_role::standalone;
    std::string server_id;
    int64_t workers = 1;
    // Set for a worker process by the supervisor (core/box/supervisor.h),
    // never read from the file: which worker this is (-1: none), every
    // worker's device address and browser URL in order, and whether the
    // store is one all workers share (Redis) rather than one each.
    // worker_api_secret, with listen.api and stores of their own: worker 0
    // takes the API's calls and hands those for another worker's account
    // to it over loopback, proving itself with this (api_forward.cc).
    int worker_index = -1;
    std::vector<std::string> worker_addresses, worker_websocket_urls;
    std::string worker_names = "w"; // hf_allocation_worker_names
    bool worker_store_shared = false;
    std::string worker_api_secret;
    std::string module_dir;
    // Set by the config check from the store module (never read from the
    // file): its hf_store_ops.traits, and with HF_STORE_FOLDERS its `path`
    // setting as resolved (default or given).
    uint32_t store_traits = 0;
    std::string store_folder;

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

    std::vector<hf_token_key> token_keys; // secrets: hf1 tokens and HS256 JWTs
    std::vector<hf_jwt_key> jwt_keys;     // every key a JWT may name: the secrets, and public keys
    std::string token_audience, token_issuer;
    int64_t token_clock_skew_ms = 0;

    int64_t max_frame = 0;
    int64_t max_unanswered_sends = 0;
    int64_t ipv6_prefix = 0;
    int64_t hello_max_frame = 0;
    int64_t max_fields = 0;
    int64_t handshake_timeout_ms = 0;
    int64_t hello_timeout_ms = 0;
    int64_t max_ttl_ms = 0;
    int64_t queue_max_messages = 0;
    int64_t queue_max_bytes = 0;
    int64_t account_max_messages = 0;
    int64_t account_max_bytes = 0;
    int64_t max_connections = 0;
    int64_t max_connections_per_address = 0;
    int64_t refusals = 0;
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
    std::string unknown_devices; // "store" or "reject"
    int64_t expire_interval_ms = 0;

    int64_t backoff_base_ms = 0;
    int64_t backoff_cap_ms = 0;

    std::string cluster_key_file;
    std::string cluster_key; // its contents: authenticates servers to allocators
    // An allocator's servers, each with its own key (cluster.servers): a
    // REGISTER must name one of them and carry its key. Empty: any server
    // id with the one cluster key.
    std::vector<hf_cluster_member> cluster_servers;
    int64_t cluster_max_weight = 0;
    std::vector<std::string> register_allocators;
    std::string register_ca;
    int64_t register_weight = 0;
    int64_t answer_count = 0;
    int64_t refresh_interval_ms = 0;
    int64_t drain_timeout_ms = 0;
    int64_t presence_ttl_ms = 0;

    std::string metrics_listen;
    int64_t metrics_max_connections = 0;

    std::string listen_api;
    std::vector<hf_api_key> api_keys;
    int64_t api_rate = 0, api_burst = 0;
    int64_t api_max_body = 0;
    int64_t api_max_connections = 0;
    int64_t api_max_unauthenticated_body = 0;
    int64_t http_max_headers = 0;
    int64_t api_timeout_ms = 0;
    int64_t api_idempotency_keys = 0;
    int64_t api_token_max_ttl_ms = 0;
    std::string api_advertise; // "" without listen.api

    // Web Push (docs/push.md): off while push_key_file is "".
    std::string push_key_file;
    std::string push_key; // what seals endpoints: SHA-256 of the file's secret, 32 bytes
    std::string push_url; // endpoints' base, https://host:port (default api.advertise)
    int64_t push_max_body = 0;
    int64_t push_rate = 0, push_burst = 0;
    int64_t push_max_subscriptions = 0;

    // Wake-ups (docs/wake.md): each provider is off while its file is "".
    std::string wake_vapid_key_file, wake_vapid_subject;
    std::string wake_fcm_credentials, wake_fcm_url;
    std::string wake_apns_key_file, wake_apns_key_id, wake_apns_team_id, wake_apns_url, wake_apns_sandbox_url;
    std::vector<std::string> wake_allow_endpoints;
    std::string wake_ca_file;
    int64_t wake_min_interval_ms = 0, wake_ttl_ms = 0, wake_timeout_ms = 0;
    int64_t wake_rate = 0, wake_burst = 0, wake_max_attempts = 0;
    int64_t wake_retry_base_ms = 0, wake_retry_cap_ms = 0, wake_max_response = 0;
    std::string log_level;
    std::string log_target;
    std::string log_format;
    std::string api_audit;
    std::string log_facility;

    // Module groups; their own keys are checked against the module's table
    // once it is loaded (hf_config_apply_module_settings).
    hf_module_settings store;
    hf_module_settings heartbeat;
    std::vector<hf_setting_value> store_values;
    std::vector<hf_setting_value> heartbeat_values;
    std::deque<std::string> module_strings; // storage behind STRING values (stable addresses)
};
