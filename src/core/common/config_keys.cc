#include "core/common/config_keys.h"

namespace
{

constexpr int64_t day_ms = 86400000;

#define STR(name, def, member, help)                                                                                   \
    {                                                                                                                  \
        name, hf_key_type::string, def, 0, 0, nullptr, nullptr, &hf_config::member, help                               \
    }
#define CHOICE(name, def, choices, member, help)                                                                       \
    {                                                                                                                  \
        name, hf_key_type::choice, def, 0, 0, choices, nullptr, &hf_config::member, help                               \
    }
#define DUR(name, def, min, max, member, help)                                                                         \
    {                                                                                                                  \
        name, hf_key_type::duration, def, min, max, nullptr, &hf_config::member, nullptr, help                         \
    }
#define SIZE(name, def, min, max, member, help)                                                                        \
    {                                                                                                                  \
        name, hf_key_type::size, def, min, max, nullptr, &hf_config::member, nullptr, help                             \
    }
#define INT(name, def, min, max, member, help)                                                                         \
    {                                                                                                                  \
        name, hf_key_type::integer, def, min, max, nullptr, &hf_config::member, nullptr, help                          \
    }

} // namespace

const hf_key_spec hf_key_specs[] = {
    {"role", hf_key_type::choice, "standalone", 0, 0, "standalone|server|allocator", nullptr, nullptr,
     "standalone: allocator and server in one process; server: connection server that registers with "
     "allocators; allocator: answers devices with registered servers"},
    STR("server_id", "", server_id, "name of this server in logs and frames (default: host name)"),
    INT("workers", "1", 0, 1024, workers,
        "processes sharing the box's devices (0: one per core; 1: one process); worker k listens on the ports "
        "of listen.device, listen.websocket and metrics.listen plus k"),
    STR("modules.dir", "", module_dir,
        "where modules are loaded from (default: $HANDOFF_MODULE_DIR, else the installed module directory)"),
    STR("listen.device", "127.0.0.1:7401", listen_device, "TLS listener for devices, host:port"),
    STR("listen.allocator", "127.0.0.1:7400", listen_allocator, "TLS listener for address requests, host:port"),
    STR("listen.websocket", "", listen_websocket,
        "TLS listener for browsers (WebSocket), host:port; \"\" turns it off"),
    STR("websocket.path", "/handoff", websocket_path, "the path of the WebSocket endpoint"),
    {"websocket.origins", hf_key_type::string_list, "", 0, 0, nullptr, nullptr, nullptr,
     "web pages allowed to connect: [ \"https://app.example.org\", ... ], or [ \"*\" ] for any; a request "
     "without Origin (not a browser) is always allowed"},
    STR("websocket.advertise", "", websocket_advertise,
        "the URL browsers are given for this server (default: wss://listen.websocket + websocket.path)"),
    STR("websocket.allocate_path", "/allocate", websocket_allocate_path,
        "the path where browsers get server URLs over HTTPS (roles standalone and allocator)"),
    SIZE("websocket.max_request", "8k", 1024, 65536, websocket_max_request,
         "largest WebSocket opening request (request line and headers)"),
    STR("advertise", "", advertise, "device address handed out by the allocator (default: listen.device)"),
    STR("tls.certificate", "", tls_certificate, "PEM certificate chain of the listeners (required)"),
    STR("tls.key", "", tls_key, "PEM private key matching tls.certificate (required)"),
    CHOICE("tls.min_version", "1.2", "1.2|1.3", tls_min_version, "lowest TLS version accepted"),
    STR("tls.ciphers", "ECDHE+AESGCM:ECDHE+CHACHA20", tls_ciphers,
        "OpenSSL cipher list for TLS 1.2; the default is forward-secret AEAD suites only (no CBC: LUCKY13)"),
    STR("tls.ciphersuites", "", tls_ciphersuites, "OpenSSL ciphersuites for TLS 1.3 (default: OpenSSL's)"),
    STR("tls.ticket_key_file", "", tls_ticket_key_file,
        "file of 80 or more secret bytes that every server of a cluster shares, so a device resumes its TLS session "
        "on any of them (default: a random key per process)"),
    {"tokens.keys", hf_key_type::keyring, "", 0, 0, nullptr, nullptr, nullptr,
     "list of { id = \"k1\"; secret_file = \"token.secret\"; }: secrets that sign device tokens, hf1 and JWT "
     "HS256 (required); or { id = \"web\"; algorithm = \"ES256\"; public_key_file = \"web.pem\"; } for JWTs a "
     "backend signs (ES256, EdDSA, RS256); a JWT's kid names its entry"},
    STR("tokens.audience", "", token_audience, "a JWT's aud must name this (empty: aud is not checked)"),
    STR("tokens.issuer", "", token_issuer, "a JWT's iss must be this (empty: iss is not checked)"),
    DUR("tokens.clock_skew", "60s", 0, 3600000, token_clock_skew_ms, "how far past expiry a token is still accepted"),
    SIZE("limits.max_frame", "256k", 1024, 16 << 20, max_frame, "largest frame body accepted or sent"),
    SIZE("limits.hello_max_frame", "4k", 2048, 16 << 20, hello_max_frame,
         "largest frame body accepted before HELLO (or ALLOC_REQ, REGISTER), at most limits.max_frame: a peer not "
         "yet known cannot make the server hold limits.max_frame for it"),
    INT("limits.max_fields", "64", 8, 4096, max_fields, "most fields in one frame"),
    DUR("limits.handshake_timeout", "10s", 100, 300000, handshake_timeout_ms, "time allowed for the TLS handshake"),
    DUR("limits.hello_timeout", "10s", 100, 300000, hello_timeout_ms,
        "time allowed between the handshake and HELLO (or ALLOC_REQ)"),
    DUR("limits.max_ttl", "28d", 1000, 365 * day_ms, max_ttl_ms, "longest ttl a SEND may ask for"),
    INT("limits.queue_max_messages", "10000", 1, 100000000, queue_max_messages,
        "most messages waiting for one device; more are rejected with queue_full"),
    SIZE("limits.queue_max_bytes", "64m", 1024, int64_t(1) << 40, queue_max_bytes,
         "most payload bytes waiting for one device; more are rejected with queue_full"),
    INT("limits.account_max_messages", "100000", 1, 1000000000, account_max_messages,
        "most messages waiting for all of one account's devices together (their dead letters among them); more "
        "are rejected with account_full"),
    SIZE("limits.account_max_bytes", "1g", 1024, int64_t(1) << 42, account_max_bytes,
         "most payload bytes waiting for all of one account's devices together; more are rejected with "
         "account_full"),
    INT("limits.max_connections", "50000", 1, 10000000, max_connections,
        "most open connections in all; more are told too_many_connections (see limits.refusals)"),
    INT("limits.max_connections_per_address", "1000", 1, 10000000, max_connections_per_address,
        "most open connections from one source address; more are told too_many_connections"),
    INT("limits.ipv6_prefix", "64", 1, 128, ipv6_prefix,
        "an IPv6 source counts as its first this many bits for limits.max_connections_per_address (a /64 is "
        "commonly one subscriber's); IPv4, also mapped into IPv6, counts as its address"),
    INT("limits.refusals", "100", 0, 100000, refusals,
        "connections past a connection limit kept at one time to be told so (the TLS handshake and WebSocket "
        "upgrade, then ERROR too_many_connections with retry_ms); more are closed at once"),
    INT("limits.frame_rate", "2000", 1, 10000000, frame_rate,
        "frames a second one connection may send on average; beyond the burst: ERROR rate_limited and a close"),
    INT("limits.frame_burst", "4000", 1, 10000000, frame_burst, "frames one connection may send at once"),
    INT("limits.send_rate", "500", 1, 10000000, send_rate,
        "SENDs a second one device may make on average; beyond the burst: rejected rate_limited"),
    INT("limits.send_burst", "1000", 1, 10000000, send_burst, "SENDs one device may make at once"),
    INT("limits.max_unanswered_sends", "1024", 1, 1000000, max_unanswered_sends,
        "SENDs one connection may have waiting for their SEND_ACK (each holds its payload); more are rejected "
        "rate_limited with retry_ms"),
    INT("limits.max_devices_per_account", "100", 1, 1000000, max_devices_per_account,
        "most devices of one account online at once on this server"),
    DUR("log.limit_interval", "10s", 0, 3600000, limit_log_interval_ms,
        "a limit being reached is logged at most this often (with the count)"),
    INT("delivery.window", "64", 1, 65535, window, "most DELIVERs a device may leave unacknowledged"),
    DUR("delivery.default_ttl", "7d", 1000, 365 * day_ms, default_ttl_ms, "ttl of a SEND that gives none"),
    DUR("delivery.ack_wait", "2s", 0, 60000, ack_wait_ms,
        "how long SEND_ACK waits for an online target's acknowledgement before answering stored"),
    DUR("delivery.ack_batch", "1ms", 0, 1000, ack_batch_ms,
        "SEND_ACKs that targets' acknowledgements settle are gathered this long and sent together (0: at once)"),
    DUR("delivery.dedup_window", "1h", 1000, 7 * day_ms, dedup_window_ms,
        "how long a sender's recent ids to one target are remembered after its last message, to drop resends"),
    INT("delivery.dedup_ids", "1024", 64, 16384, dedup_ids,
        "how many of a sender's newest ids to one target are told apart from resends (rounded up to a power of "
        "two; the store keeps one bit each per sender and target)"),
    DUR("delivery.store_retry", "1s", 10, 600000, store_retry_ms,
        "retry_ms in a SEND_ACK rejected store_full or store_unavailable: when the sender should try again"),
    CHOICE("delivery.unknown_devices", "store", "store|reject", unknown_devices,
           "a SEND to a device of the account that has never connected: store (it waits for the device's first "
           "connection, until its ttl) or reject (SEND_ACK unknown_device: a typo makes no silent queue)"),
    DUR("delivery.expire_interval", "60s", 1000, day_ms, expire_interval_ms,
        "how often expired messages are swept from the store"),
    DUR("allocator.backoff_base", "1s", 10, 3600000, backoff_base_ms, "reconnect backoff base hinted to clients"),
    DUR("allocator.backoff_cap", "60s", 10, 3600000, backoff_cap_ms, "reconnect backoff cap hinted to clients"),
    STR("cluster.key_file", "", cluster_key_file,
        "file holding the key this server presents to allocators (required for role server); on an allocator "
        "without cluster.servers, the one key every server presents"),
    {"cluster.servers", hf_key_type::keyring, "", 0, 0, nullptr, nullptr, nullptr,
     "allocator: list of { id = \"s1\"; secret_file = \"s1.key\"; weight = 100; }, the servers it accepts, each with "
     "its own key (the server's cluster.key_file); a REGISTER for another id, or with another server's key, is "
     "refused. With stores of their own the servers are the cluster's members: an account belongs to the one "
     "ranked first by these weights (default 100) whether it is up or not"},
    INT("cluster.max_weight", "1000", 1, 1000000, cluster_max_weight,
        "allocator: largest register.weight a server may claim; a REGISTER past it is refused"),
    {"register.allocators", hf_key_type::string_list, "", 0, 0, nullptr, nullptr, nullptr,
     "allocators a server registers with: [ \"host:port\", ... ] (required for role server)"},
    STR("register.ca", "", register_ca, "CA bundle that signed the allocators' certificates (default: the system's)"),
    INT("register.weight", "100", 1, 1000000, register_weight, "this server's capacity relative to the others"),
    INT("allocator.answer_count", "3", 1, 16, answer_count, "most server addresses in one answer"),
    DUR("allocator.refresh_interval", "2s", 100, 60000, refresh_interval_ms,
        "how often servers refresh their registration; one missed by half an interval more lapses"),
    DUR("cluster.presence_ttl", "60s", 1000, 3600000, presence_ttl_ms,
        "how long a device's presence (which server holds it) lives in a shared store unless refreshed; "
        "refreshed every third of it"),
    DUR("drain.timeout", "10s", 0, 600000, drain_timeout_ms,
        "on SIGTERM, how long to wait for devices to move and in-flight acknowledgements to arrive"),
    STR("listen.api", "", listen_api,
        "HTTPS listener for the JSON API (docs/api.md), host:port, with the tls.* certificate; \"\" turns it off"),
    {"api.keys", hf_key_type::keyring, "", 0, 0, nullptr, nullptr, nullptr,
     "list of { id = \"backend\"; secret_file = \"api.secret\"; scope = \"send\"; }: the API's callers; "
     "scope send may post messages, tokens may mint device tokens, admin may do everything; accounts = [ "
     "\"alice\", \"team-*\" ] keeps a key to those accounts (required with listen.api)"},
    INT("api.rate", "100", 1, 10000000, api_rate,
        "requests a second one API key may make on average; beyond the burst: 429 rate_limited"),
    INT("api.burst", "200", 1, 10000000, api_burst, "requests one API key may make at once"),
    SIZE("api.max_body", "1m", 1024, 64 << 20, api_max_body, "largest request body the API reads; more is 413"),
    SIZE("api.max_unauthenticated_body", "4k", 0, 64 << 20, api_max_unauthenticated_body,
         "largest body read of a request whose head presents no api.keys secret; a larger one is answered 413 and "
         "its connection closed before the body is read"),
    INT("api.max_connections", "1000", 1, 1000000, api_max_connections,
        "most connections the HTTP API holds at once; a new one past it fails its TLS handshake"),
    SIZE("limits.http_max_headers", "16k", 1024, 1 << 20, http_max_headers,
         "largest request head (request line and headers) the API and metrics listeners read; more is refused "
         "and the connection closed"),
    CHOICE("api.audit", "changes", "changes|all", api_audit,
           "audit lines in the log (info): changes (revoke, restore, disconnect, drain, dead-letter retry and "
           "purge), or all (messages posted too): the key, what, the account and device, the answer"),
    STR("api.advertise", "", api_advertise,
        "https://host:port where the other servers of a cluster reach this server's API (default: listen.api's "
        "port on listen.api's host, or advertise's host when listen.api listens on every address)"),
    INT("api.idempotency_keys", "100000", 0, 100000000, api_idempotency_keys,
        "Idempotency-Keys of posted messages remembered (each for delivery.dedup_window, in memory, about 200 "
        "bytes and twice the key's length); past it the oldest are forgotten; 0 refuses the header"),
    DUR("api.token_max_ttl", "30d", 1000, 365 * day_ms, api_token_max_ttl_ms,
        "the longest ttl POST .../devices/{device}/tokens mints a device token for"),
    DUR("api.timeout", "10s", 100, 300000, api_timeout_ms,
        "how long the API waits for a request's headers and body, and keeps an idle connection"),
    STR("push.key_file", "", push_key_file,
        "Web Push (docs/push.md): a secret (16 bytes or more) that seals the endpoints this server hands out; "
        "servers behind one push.url share it. \"\" turns Web Push off; it needs listen.api"),
    STR("push.url", "", push_url,
        "https://host:port application servers reach the push endpoints at, on listen.api (default "
        "api.advertise)"),
    SIZE("push.max_body", "4096", 4096, 65536, push_max_body,
         "largest encrypted push body accepted (RFC 8030 asks for 4096); more is 413"),
    INT("push.rate", "10", 1, 1000000, push_rate,
        "pushes a second one subscription may take on average; beyond the burst: 429 with Retry-After"),
    INT("push.burst", "50", 1, 1000000, push_burst, "pushes one subscription may take at once"),
    INT("push.max_subscriptions", "16", 1, 1024, push_max_subscriptions,
        "Web Push subscriptions one device may hold (one per app); one more is refused too_many_subscriptions"),
    STR("wake.vapid_key_file", "", wake_vapid_key_file,
        "wake-ups through Web Push (docs/wake.md): the daemon's VAPID key, a P-256 private key in PEM (openssl "
        "ecparam -name prime256v1 -genkey); \"\" turns them off. GET /v1/wake/vapid gives its public key"),
    STR("wake.vapid_subject", "mailto:postmaster@localhost", wake_vapid_subject,
        "the VAPID sub claim: a mailto: or https: URL push services may contact about this daemon"),
    STR("wake.fcm_credentials", "", wake_fcm_credentials,
        "wake-ups through FCM: a service account's JSON key file (project_id, client_email, private_key, "
        "token_uri); \"\" turns them off"),
    STR("wake.fcm_url", "https://fcm.googleapis.com", wake_fcm_url, "where FCM HTTP v1 is reached (its messages:send)"),
    STR("wake.apns_key_file", "", wake_apns_key_file,
        "wake-ups through APNs: the .p8 signing key (token-based auth); \"\" turns them off"),
    STR("wake.apns_key_id", "", wake_apns_key_id, "the .p8 key's 10-character key id (required with the key)"),
    STR("wake.apns_team_id", "", wake_apns_team_id, "the Apple developer team id (required with the key)"),
    STR("wake.apns_url", "https://api.push.apple.com", wake_apns_url,
        "where APNs is reached for production device tokens"),
    STR("wake.apns_sandbox_url", "https://api.sandbox.push.apple.com", wake_apns_sandbox_url,
        "where APNs is reached for development device tokens"),
    {"wake.allow_endpoints", hf_key_type::string_list, "", 0, 0, nullptr, nullptr, nullptr,
     "URL prefixes wake-ups may go to although they are not https or do not resolve to public addresses: "
     "[ \"http://127.0.0.1:8090\" ] for a push service on loopback; every other endpoint must be https and "
     "public"},
    STR("wake.ca_file", "", wake_ca_file,
        "PEM bundle that verifies the push providers' certificates (default: the system's)"),
    DUR("wake.min_interval", "30s", 1000, day_ms, wake_min_interval_ms,
        "at most one wake-up per device in this long, until the device connects"),
    DUR("wake.ttl", "1h", 0, 28 * day_ms, wake_ttl_ms, "how long a provider keeps a wake-up it cannot deliver yet"),
    DUR("wake.timeout", "10s", 100, 300000, wake_timeout_ms, "a provider's answer must come within this"),
    INT("wake.rate", "60", 1, 1000000, wake_rate, "wake-ups one route may take per hour"),
    INT("wake.burst", "10", 1, 1000000, wake_burst, "wake-ups one route may take at once"),
    INT("wake.max_attempts", "5", 1, 100, wake_max_attempts,
        "tries of one wake-up (the first and its retries) before it is given up"),
    DUR("wake.retry_base", "1s", 100, 3600000, wake_retry_base_ms,
        "the first retry's delay; each next one doubles it (or waits the provider's Retry-After, if longer)"),
    DUR("wake.retry_cap", "5m", 1000, day_ms, wake_retry_cap_ms, "the longest delay between retries"),
    SIZE("wake.max_response", "16384", 1024, 1048576, wake_max_response,
         "the most of a provider's answer read; a longer one fails"),
    STR("metrics.listen", "127.0.0.1:7480", metrics_listen,
        "HTTP listener for /metrics (Prometheus), /livez, /readyz and /healthz; \"\" turns it off"),
    INT("metrics.max_connections", "64", 1, 100000, metrics_max_connections,
        "most connections the metrics listener holds at once, idle ones among them (per worker); one past it is "
        "closed before it is read"),
    CHOICE("log.level", "info", "error|warning|info|debug", log_level, "least severe level logged"),
    CHOICE("log.target", "stderr", "stderr|syslog", log_target,
           "where log lines go (stderr under systemd is the journal: each line carries its priority)"),
    CHOICE("log.format", "text", "text|json", log_format,
           "text: time, level and message; json: one object a line (time, level, module, message), for log "
           "shippers"),
    STR("log.facility", "daemon", log_facility, "syslog facility: daemon, user, local0..local7"),
    {"store.module", hf_key_type::string, "lmdb", 0, 0, nullptr, nullptr, nullptr,
     "store module (loads store_NAME.so); its own keys go in the same group. The default is durable: lmdb in "
     "store.path (/var/lib/handoff/lmdb unless set)"},
    {"heartbeat.module", hf_key_type::string, "fixed", 0, 0, nullptr, nullptr, nullptr,
     "heartbeat policy module (loads hb_NAME.so); its own keys go in the same group"},
};

#undef STR
#undef CHOICE
#undef DUR
#undef SIZE
#undef INT

const size_t hf_key_spec_count = sizeof hf_key_specs / sizeof hf_key_specs[0];
