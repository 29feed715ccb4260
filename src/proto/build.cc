#include "proto/build.h"

#include <initializer_list>

namespace
{

hf_msg of_type(uint8_t type)
{
    hf_msg m;
    m.type = type;
    return m;
}

// Marks every tag of the list present.
void mark(hf_msg *m, std::initializer_list<unsigned> tags)
{
    for (unsigned tag : tags)
        hf_msg_set(m, tag);
}

} // namespace

hf_msg hf_msg_error(int code, std::string_view text)
{
    hf_msg m = of_type(HF_MSG_ERROR);
    hf_msg_add_reason(&m, code, text);
    return m;
}

hf_msg hf_msg_goaway(int code, std::string_view text)
{
    hf_msg m = of_type(HF_MSG_GOAWAY);
    hf_msg_add_reason(&m, code, text);
    return m;
}

hf_msg hf_msg_deliver(uint64_t seq, std::string_view from, std::string_view payload, uint64_t stored_at_ms, uint64_t id,
                      std::string_view collapse)
{
    hf_msg m = of_type(HF_MSG_DELIVER);
    m.seq = seq;
    m.from = from;
    m.payload = payload;
    m.stored_at_ms = stored_at_ms;
    m.id = id;
    mark(&m, {HF_TAG_SEQ, HF_TAG_FROM, HF_TAG_PAYLOAD, HF_TAG_STORED_AT_MS, HF_TAG_ID});
    if (!collapse.empty()) {
        m.collapse = collapse;
        mark(&m, {HF_TAG_COLLAPSE});
    }
    return m;
}

hf_msg hf_msg_send_ack(uint64_t id, hf_send_status status)
{
    hf_msg m = of_type(HF_MSG_SEND_ACK);
    m.id = id;
    m.status = status;
    mark(&m, {HF_TAG_ID, HF_TAG_STATUS});
    return m;
}

void hf_msg_add_reason(hf_msg *m, int code, std::string_view text)
{
    m->code = uint64_t(code);
    m->text = text;
    mark(m, {HF_TAG_CODE, HF_TAG_TEXT});
}

void hf_msg_add_retry(hf_msg *m, uint64_t retry_ms)
{
    m->retry_ms = retry_ms;
    hf_msg_set(m, HF_TAG_RETRY_MS);
}

void hf_msg_add_counts(hf_msg *m, uint64_t delivered, uint64_t stored, uint64_t rejected)
{
    m->delivered_count = delivered;
    m->stored_count = stored;
    m->rejected_count = rejected;
    mark(m, {HF_TAG_DELIVERED_COUNT, HF_TAG_STORED_COUNT, HF_TAG_REJECTED_COUNT});
}

void hf_msg_add_backoff(hf_msg *m, uint64_t base_ms, uint64_t cap_ms)
{
    m->backoff_base_ms = base_ms;
    m->backoff_cap_ms = cap_ms;
    mark(m, {HF_TAG_BACKOFF_BASE_MS, HF_TAG_BACKOFF_CAP_MS});
}

void hf_msg_add_addresses(hf_msg *m, const std::string *addresses, size_t count)
{
    for (size_t i = 0; i < count && m->address_count < HF_MAX_ADDRESSES; i++)
        m->addresses[m->address_count++] = addresses[i];
    if (m->address_count)
        hf_msg_set(m, HF_TAG_ADDRESS);
}

hf_msg hf_msg_hello(std::string_view token, uint64_t heartbeat_ms)
{
    hf_msg m = of_type(HF_MSG_HELLO);
    m.token = token;
    m.version_min = m.version_max = HF_PROTOCOL_VERSION;
    mark(&m, {HF_TAG_TOKEN, HF_TAG_VERSION_MIN, HF_TAG_VERSION_MAX});
    if (heartbeat_ms)
        hf_msg_add_heartbeat(&m, heartbeat_ms);
    return m;
}

hf_msg hf_msg_alloc_req(std::string_view token)
{
    hf_msg m = of_type(HF_MSG_ALLOC_REQ);
    m.token = token;
    mark(&m, {HF_TAG_TOKEN});
    return m;
}

hf_msg hf_msg_send(std::string_view to, uint64_t id, std::string_view payload, uint64_t ttl_s,
                   std::string_view collapse)
{
    hf_msg m = of_type(HF_MSG_SEND);
    m.to = to;
    m.id = id;
    m.payload = payload;
    mark(&m, {HF_TAG_TO, HF_TAG_ID, HF_TAG_PAYLOAD});
    if (ttl_s) {
        m.ttl = ttl_s;
        mark(&m, {HF_TAG_TTL});
    }
    if (!collapse.empty()) {
        m.collapse = collapse;
        mark(&m, {HF_TAG_COLLAPSE});
    }
    return m;
}

hf_msg hf_msg_ping(uint64_t id)
{
    hf_msg m = of_type(HF_MSG_PING);
    m.id = id;
    mark(&m, {HF_TAG_ID});
    return m;
}

hf_msg hf_msg_deliver_ack(uint64_t upto)
{
    hf_msg m = of_type(HF_MSG_DELIVER_ACK);
    m.upto = upto;
    mark(&m, {HF_TAG_UPTO});
    return m;
}

hf_msg hf_msg_deliver_refusal(uint64_t seq, int code, std::string_view text)
{
    hf_msg m = hf_msg_deliver_ack(seq);
    hf_msg_add_reason(&m, code, text);
    return m;
}

void hf_msg_add_heartbeat(hf_msg *m, uint64_t heartbeat_ms)
{
    m->heartbeat_ms = heartbeat_ms;
    mark(m, {HF_TAG_HEARTBEAT_MS});
}

hf_msg hf_msg_welcome(uint64_t heartbeat_ms, uint64_t timeout_ms, uint64_t window, uint64_t max_frame,
                      uint64_t max_payload, std::string_view server_id, std::string_view account,
                      std::string_view device)
{
    hf_msg m = of_type(HF_MSG_WELCOME);
    m.version = HF_PROTOCOL_VERSION;
    m.heartbeat_ms = heartbeat_ms;
    m.timeout_ms = timeout_ms;
    m.window = window;
    m.max_frame = max_frame;
    m.max_payload = max_payload;
    m.server_id = server_id;
    m.account = account;
    m.device = device;
    mark(&m, {HF_TAG_VERSION, HF_TAG_HEARTBEAT_MS, HF_TAG_TIMEOUT_MS, HF_TAG_WINDOW, HF_TAG_MAX_FRAME,
              HF_TAG_MAX_PAYLOAD, HF_TAG_SERVER_ID, HF_TAG_ACCOUNT, HF_TAG_DEVICE});
    return m;
}

void hf_msg_add_bounds(hf_msg *m, uint64_t min_ms, uint64_t max_ms)
{
    m->heartbeat_min_ms = min_ms;
    m->heartbeat_max_ms = max_ms;
    mark(m, {HF_TAG_HEARTBEAT_MIN_MS, HF_TAG_HEARTBEAT_MAX_MS});
}

void hf_msg_add_features(hf_msg *m, uint64_t features)
{
    m->features = features;
    mark(m, {HF_TAG_FEATURES});
}

hf_msg hf_msg_subscribe(uint64_t id, std::string_view app, std::string_view vapid_key, bool remove)
{
    hf_msg m = of_type(HF_MSG_SUBSCRIBE);
    m.id = id;
    mark(&m, {HF_TAG_ID});
    if (!app.empty()) {
        m.app = app;
        mark(&m, {HF_TAG_APP});
    }
    if (!vapid_key.empty()) {
        m.vapid_key = vapid_key;
        mark(&m, {HF_TAG_VAPID_KEY});
    }
    if (remove) {
        m.remove = 1;
        mark(&m, {HF_TAG_REMOVE});
    }
    return m;
}

hf_msg hf_msg_wake(uint64_t id, std::string_view route, std::string_view provider)
{
    hf_msg m = of_type(HF_MSG_WAKE);
    m.id = id;
    mark(&m, {HF_TAG_ID});
    if (!route.empty()) {
        m.route = route;
        mark(&m, {HF_TAG_ROUTE});
    }
    if (!provider.empty()) {
        m.provider = provider;
        m.remove = 1;
        mark(&m, {HF_TAG_PROVIDER, HF_TAG_REMOVE});
    }
    return m;
}

hf_msg hf_msg_wake_ack(uint64_t id, int code, std::string_view text, std::string_view vapid_key)
{
    hf_msg m = of_type(HF_MSG_WAKE_ACK);
    m.id = id;
    mark(&m, {HF_TAG_ID});
    if (code != HF_OK)
        hf_msg_add_reason(&m, code, text);
    if (!vapid_key.empty()) {
        m.vapid_key = vapid_key;
        mark(&m, {HF_TAG_VAPID_KEY});
    }
    return m;
}

hf_msg hf_msg_subscription(uint64_t id, std::string_view app, std::string_view endpoint, std::string_view vapid_key)
{
    hf_msg m = of_type(HF_MSG_SUBSCRIPTION);
    m.id = id;
    m.app = app;
    m.endpoint = endpoint;
    mark(&m, {HF_TAG_ID, HF_TAG_APP, HF_TAG_ENDPOINT});
    if (!vapid_key.empty()) {
        m.vapid_key = vapid_key;
        mark(&m, {HF_TAG_VAPID_KEY});
    }
    return m;
}

hf_msg hf_msg_subscription_end(uint64_t id, uint64_t count, int code, std::string_view text)
{
    hf_msg m = of_type(HF_MSG_SUBSCRIPTION);
    m.id = id;
    m.count = count;
    mark(&m, {HF_TAG_ID, HF_TAG_COUNT});
    if (code != HF_OK)
        hf_msg_add_reason(&m, code, text);
    return m;
}

void hf_msg_add_push(hf_msg *m, std::string_view app, uint64_t urgency)
{
    m->app = app;
    m->urgency = urgency;
    mark(m, {HF_TAG_APP, HF_TAG_URGENCY});
}

hf_msg hf_msg_presence_req(uint64_t id, bool follow)
{
    hf_msg m = of_type(HF_MSG_PRESENCE_REQ);
    m.id = id;
    m.follow = follow ? 1 : 0;
    mark(&m, {HF_TAG_ID, HF_TAG_FOLLOW});
    return m;
}

hf_msg hf_msg_presence(uint64_t id, std::string_view device, bool online)
{
    hf_msg m = of_type(HF_MSG_PRESENCE);
    m.device = device;
    m.online = online ? 1 : 0;
    mark(&m, {HF_TAG_DEVICE, HF_TAG_ONLINE});
    if (id) {
        m.id = id;
        mark(&m, {HF_TAG_ID});
    }
    return m;
}

void hf_msg_add_device_key(hf_msg *m, std::string_view key)
{
    m->device_key = key;
    mark(m, {HF_TAG_DEVICE_KEY});
}

hf_msg hf_msg_presence_end(uint64_t id, uint64_t count)
{
    hf_msg m = of_type(HF_MSG_PRESENCE);
    m.id = id;
    m.count = count;
    mark(&m, {HF_TAG_ID, HF_TAG_COUNT});
    return m;
}

hf_msg hf_msg_pong(const hf_msg *ping)
{
    hf_msg m = of_type(HF_MSG_PONG);
    if (hf_msg_has(ping, HF_TAG_ID)) {
        m.id = ping->id;
        mark(&m, {HF_TAG_ID});
    }
    return m;
}

void hf_msg_add_grant(hf_msg *m, uint64_t heartbeat_ms, uint64_t timeout_ms)
{
    m->heartbeat_ms = heartbeat_ms;
    m->timeout_ms = timeout_ms;
    mark(m, {HF_TAG_HEARTBEAT_MS, HF_TAG_TIMEOUT_MS});
}

hf_msg hf_msg_alloc_resp(const std::string *addresses, size_t count, uint64_t backoff_base_ms, uint64_t backoff_cap_ms)
{
    hf_msg m = of_type(HF_MSG_ALLOC_RESP);
    hf_msg_add_addresses(&m, addresses, count);
    m.version = HF_PROTOCOL_VERSION;
    mark(&m, {HF_TAG_VERSION});
    hf_msg_add_backoff(&m, backoff_base_ms, backoff_cap_ms);
    return m;
}

hf_msg hf_msg_register(std::string_view server_id, std::string_view key, std::string_view address,
                       std::string_view websocket_url, std::string_view api_url, std::string_view store_format,
                       uint64_t weight, uint64_t load, bool draining)
{
    hf_msg m = of_type(HF_MSG_REGISTER);
    m.server_id = server_id;
    m.key = key;
    m.addresses[m.address_count++] = address;
    // The second address, if any, is the wss:// URL for browsers.
    if (!websocket_url.empty())
        m.addresses[m.address_count++] = websocket_url;
    m.weight = weight;
    m.load = load;
    m.draining = draining ? 1 : 0;
    // The protocol versions the server speaks with devices: an allocator
    // sends none of its devices to a server that does not speak its own.
    m.version_min = m.version_max = HF_PROTOCOL_VERSION;
    mark(&m, {HF_TAG_SERVER_ID, HF_TAG_KEY, HF_TAG_ADDRESS, HF_TAG_WEIGHT, HF_TAG_LOAD, HF_TAG_DRAINING,
              HF_TAG_VERSION_MIN, HF_TAG_VERSION_MAX});
    if (!api_url.empty()) {
        m.api = api_url;
        mark(&m, {HF_TAG_API});
    }
    if (!store_format.empty()) {
        m.store_format = store_format;
        mark(&m, {HF_TAG_STORE_FORMAT});
    }
    return m;
}

hf_msg hf_msg_register_ack(uint64_t refresh_ms, std::string_view peers)
{
    hf_msg m = of_type(HF_MSG_REGISTER_ACK);
    m.code = HF_OK;
    m.refresh_ms = refresh_ms;
    m.peers = peers;
    mark(&m, {HF_TAG_CODE, HF_TAG_REFRESH_MS, HF_TAG_PEERS});
    return m;
}
