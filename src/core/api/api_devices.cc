// The device routes: an account's devices with their presence and queues,
// and revoke, restore and disconnect. Each asks the store (shared by every
// server with Redis), and a device held by another server is cut there
// through the store's kick.
#include <algorithm>
#include <vector>

#include "core/api/api_call.h"
#include "core/common/dead_letter.h"
#include "core/common/event_ptr.h"
#include "core/server/device_keys.h"
#include "core/server/devices.h"
#include "core/server/queue_purge.h"
#include "core/server/wake.h"
#include "proto/clock.h"
#include "proto/device_key.h"
#include "proto/token.h"

namespace
{

// A device route's state across its store calls.
struct device_call {
    hf_api_call *call;
    void (*next)(device_call *); // once the device is known
    std::vector<std::string> names;
    std::vector<json_t *> states;               // the list: one per name
    std::vector<std::string> keys;              // each device's published keys (device_keys.h), "" for none
    std::vector<std::vector<std::string>> wake; // each device's wake routes' providers (wake.h)
    size_t waiting = 0;
    int failed = HF_STORE_OK;
    std::string server; // where the device is online, if anywhere
    uint64_t purged = 0;
    uint64_t not_before_ms = 0;
    // revoke: the device online on another server, which is asked again
    // to cut it until the store says it is gone (cut_checks so far).
    hf_event_ptr cut_check;
    int cut_checks = 0;
};

hf_server *server_of(const device_call *d)
{
    return d->call->api->server;
}

// Answers and frees d (with its call).
void finish(device_call *d, int status, json_t *body)
{
    hf_api_reply(d->call, status, body);
    for (json_t *s : d->states)
        json_decref(s);
    delete d;
}

void finish_failed(device_call *d, int store_status)
{
    hf_api_fail_store(d->call, store_status);
    for (json_t *s : d->states)
        json_decref(s);
    delete d;
}

// A store call's answer that ends the route: the API closed meanwhile
// (nothing more is asked), or the store failed. True once d is answered.
bool ended(device_call *d, int status)
{
    if (!d->call->req) {
        finish(d, 503, json_object());
        return true;
    }
    if (status != HF_STORE_OK) {
        finish_failed(d, status);
        return true;
    }
    return false;
}

json_t *state_json(const std::string &device, const hf_store_device_state *st)
{
    json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:b}", "device", device.c_str(), "online", st->server_id != nullptr,
                          "queue_messages", json_int_t(st->queue_messages), "queue_bytes", json_int_t(st->queue_bytes),
                          "revoked", st->revoked != 0);
    json_object_set_new(o, "server", st->server_id ? json_string(st->server_id) : json_null());
    json_object_set_new(o, "connected_since_ms",
                        st->connected_since_ms ? json_integer(json_int_t(st->connected_since_ms)) : json_null());
    json_object_set_new(o, "last_seen_ms", st->last_seen_ms ? json_integer(json_int_t(st->last_seen_ms)) : json_null());
    return o;
}

// ---- GET .../devices ----------------------------------------------------

void list_done(device_call *d)
{
    if (d->failed != HF_STORE_OK) {
        finish_failed(d, d->failed);
        return;
    }
    std::vector<size_t> order(d->names.size());
    for (size_t i = 0; i < order.size(); i++)
        order[i] = i;
    std::sort(order.begin(), order.end(), [d](size_t a, size_t b) { return d->names[a] < d->names[b]; });
    json_t *devices = json_array();
    for (size_t i : order) {
        // The keys its peers encrypt to and verify with, for a backend
        // that encrypts end to end, and their fingerprint to compare.
        std::string key;
        hf_base64url_encode(d->keys[i], &key);
        json_object_set_new(d->states[i], "device_key", d->keys[i].empty() ? json_null() : json_string(key.c_str()));
        json_object_set_new(d->states[i], "fingerprint",
                            d->keys[i].empty() ? json_null()
                                               : json_string(hf_device_key_fingerprint(d->keys[i]).c_str()));
        json_t *wake = json_array();
        for (const std::string &provider : d->wake[i])
            json_array_append_new(wake, json_string(provider.c_str()));
        json_object_set_new(d->states[i], "wake", wake);
        json_array_append(devices, d->states[i]);
    }
    finish(d, 200, json_pack("{s:s, s:o}", "account", d->call->account.c_str(), "devices", devices));
}

struct state_slot {
    device_call *d;
    size_t index;
};

void state_read(void *arg, int status, const hf_store_device_state *st)
{
    auto *slot = static_cast<state_slot *>(arg);
    device_call *d = slot->d;
    if (status != HF_STORE_OK)
        d->failed = status;
    else
        d->states[slot->index] = state_json(d->names[slot->index], st);
    delete slot;
    if (--d->waiting == 0)
        list_done(d);
}

void records_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *slot = static_cast<state_slot *>(arg);
    device_call *d = slot->d;
    if (status != HF_STORE_OK) {
        d->failed = status;
    } else {
        d->keys[slot->index] = hf_keys_of(records, count);
        for (const hf_wake_route &route : hf_wake_routes_of(records, count))
            d->wake[slot->index].push_back(hf_wake_provider_name(route.provider));
    }
    delete slot;
    if (--d->waiting == 0)
        list_done(d);
}

void describe_all(device_call *d)
{
    d->states.assign(d->names.size(), nullptr);
    d->keys.assign(d->names.size(), "");
    d->wake.assign(d->names.size(), {});
    bool records = server_of(d)->store.has(&hf_store_ops::records);
    d->waiting = d->names.size() * (records ? 2 : 1) + 1; // the last answer, or this function, finishes
    for (size_t i = 0; i < d->names.size(); i++) {
        server_of(d)->store(&hf_store_ops::device_state, d->call->account.c_str(), d->names[i].c_str(), state_read,
                            new state_slot{d, i});
        if (records)
            server_of(d)->store(&hf_store_ops::records, d->call->account.c_str(), d->names[i].c_str(), records_read,
                                new state_slot{d, i});
    }
    if (--d->waiting == 0)
        list_done(d);
}

void devices_listed(void *arg, int status, const char *const *devices, size_t count)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    d->names.assign(devices, devices + count);
    if (!hf_api_devices_known(d->call, d->names)) {
        delete d;
        return;
    }
    d->next(d);
}

// Every device route starts here: the account's devices, and the one the
// path names among them.
void start(hf_api_call *call, void (*next)(device_call *))
{
    hf_server *srv = call->api->server;
    if (!srv->store.has(&hf_store_ops::device_state) || !srv->store.has(&hf_store_ops::set_revocation) ||
        !srv->store.has(&hf_store_ops::kick)) {
        hf_api_fail(call, 501, "not_supported", "the store module does not keep device state (an older module?)");
        return;
    }
    auto *d = new device_call;
    d->call = call;
    d->next = next;
    srv->store(&hf_store_ops::list_devices, call->account.c_str(), devices_listed, d);
}

// ---- cutting a device ---------------------------------------------------

// Cuts the device here, or asks the server holding it.
void kick(device_call *d, int code)
{
    hf_server *srv = server_of(d);
    const char *account = d->call->account.c_str(), *device = d->call->device.c_str();
    hf_devices_kick(srv, account, device, code, hf_err_text(code));
    if (!d->server.empty() && d->server != srv->cfg->server_id)
        srv->store(&hf_store_ops::kick, d->server.c_str(), account, device, code);
}

void disconnect_found(void *arg, int status, const hf_store_device_state *st)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    d->server = st->server_id ? st->server_id : "";
    kick(d, HF_ERR_DISCONNECTED);
    json_t *body = json_pack("{s:s, s:b}", "device", d->call->device.c_str(), "was_online", !d->server.empty());
    json_object_set_new(body, "server", d->server.empty() ? json_null() : json_string(d->server.c_str()));
    finish(d, 200, body);
}

void disconnect(device_call *d)
{
    server_of(d)->store(&hf_store_ops::device_state, d->call->account.c_str(), d->call->device.c_str(),
                        disconnect_found, d);
}

// ---- revoke: record, cut, purge -----------------------------------------

// A device online on another server is cut there when that server hears
// the store's kick. The kick is a notice, not a write (Redis pub/sub): it
// is lost when the two servers' Redis nodes are cut off from each other,
// and the revoked device went on getting messages (test/nemesis, a Redis
// primary cut off from the others). So the revocation is complete only
// once the store no longer has the device online there, asked every
// cut_check_ms, the kick sent again each time; or once that server has
// left the cluster's live servers (it delivers nothing). Past
// cut_checks_max, the call fails 503: the revocation is recorded (every
// HELLO is refused), and a retry of the call sends the kick again.
const uint64_t cut_check_ms = 200;
const int cut_checks_max = 25;

void dead_letters_purged(void *arg, int status, uint64_t purged)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    d->purged += purged;
    json_t *body =
        json_pack("{s:s, s:b, s:I}", "device", d->call->device.c_str(), "revoked", 1, "purged", json_int_t(d->purged));
    json_object_set_new(body, "server", d->server.empty() ? json_null() : json_string(d->server.c_str()));
    finish(d, 200, body);
}

// The device's queue, then its dead letters.
void queue_purged(void *arg, int status, uint64_t purged)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    d->purged = purged;
    hf_queue_purge(server_of(d), d->call->account, hf_dead_letter_queue(d->call->device), dead_letters_purged, d);
}

void check_cut(device_call *d);

bool live_peer(const hf_server *srv, const std::string &server)
{
    return std::any_of(srv->peers.begin(), srv->peers.end(),
                       [&](const hf_peer &p) { return p.id == server && p.live; });
}

void cut_state_read(void *arg, int status, const hf_store_device_state *st)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    // With no allocator's list of live servers (servers sharing a store
    // alone), the store's word is all there is.
    const hf_server *srv = server_of(d);
    bool still_there = st->server_id && d->server == st->server_id && (srv->peers.empty() || live_peer(srv, d->server));
    if (!still_there) {
        hf_queue_purge(server_of(d), d->call->account, d->call->device, queue_purged, d);
        return;
    }
    if (++d->cut_checks > cut_checks_max) {
        hf_api_fail(d->call, 503, "device_not_cut",
                    "revocation recorded (the device's HELLOs are refused), but server " + d->server +
                        " has not cut its connection yet; call revoke again",
                    uint64_t(server_of(d)->cfg->store_retry_ms));
        for (json_t *s : d->states)
            json_decref(s);
        delete d;
        return;
    }
    kick(d, HF_ERR_REVOKED);
    check_cut(d);
}

void check_cut(device_call *d)
{
    if (!d->cut_check)
        d->cut_check.reset(event_new(
            d->call->api->base, -1, 0,
            [](evutil_socket_t, short, void *arg) {
                auto *d = static_cast<device_call *>(arg);
                server_of(d)->store(&hf_store_ops::device_state, d->call->account.c_str(), d->call->device.c_str(),
                                    cut_state_read, d);
            },
            d));
    timeval tv = hf_timeval_ms(cut_check_ms);
    event_add(d->cut_check.get(), &tv);
}

void revoke_found(void *arg, int status, const hf_store_device_state *st)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    d->server = st->server_id ? st->server_id : "";
    kick(d, HF_ERR_REVOKED);
    if (!d->server.empty() && d->server != server_of(d)->cfg->server_id)
        check_cut(d);
    else
        hf_queue_purge(server_of(d), d->call->account, d->call->device, queue_purged, d);
}

// Recorded first: the device's reconnect, wherever it lands, is refused.
void revocation_recorded(void *arg, int status)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    hf_keys_forget(server_of(d), d->call->account, d->call->device);
    hf_wake_forget(server_of(d), d->call->account, d->call->device);
    server_of(d)->store(&hf_store_ops::device_state, d->call->account.c_str(), d->call->device.c_str(), revoke_found,
                        d);
}

void revoke(device_call *d)
{
    server_of(d)->store(&hf_store_ops::set_revocation, d->call->account.c_str(), d->call->device.c_str(), hf_wall_ms(),
                        1, revocation_recorded, d);
}

// ---- restore ------------------------------------------------------------

void restored(void *arg, int status)
{
    auto *d = static_cast<device_call *>(arg);
    if (ended(d, status))
        return;
    finish(d, 200,
           json_pack("{s:s, s:b, s:I}", "device", d->call->device.c_str(), "revoked", 0, "not_before_ms",
                     json_int_t(d->not_before_ms)));
}

// Tokens issued from now on work; those before stay refused.
void restore(device_call *d)
{
    d->not_before_ms = hf_wall_ms();
    server_of(d)->store(&hf_store_ops::set_revocation, d->call->account.c_str(), d->call->device.c_str(),
                        d->not_before_ms, 0, restored, d);
}

} // namespace

bool hf_api_no_fields(hf_api_call *call)
{
    if (call->body && json_object_size(call->body) > 0) {
        hf_api_fail(call, 400, "unknown_field", "this route takes no fields; send an empty body or {}");
        return false;
    }
    return true;
}

bool hf_api_devices_known(hf_api_call *call, const std::vector<std::string> &devices)
{
    if (!call->device.empty() && std::find(devices.begin(), devices.end(), call->device) == devices.end()) {
        hf_api_fail(call, 404, hf_err_name(HF_ERR_UNKNOWN_DEVICE),
                    "account \"" + call->account + "\" has no device \"" + call->device + "\"");
        return false;
    }
    if (devices.empty()) {
        hf_api_fail(call, 404, "unknown_account",
                    "account \"" + call->account + "\" has no devices: none has connected");
        return false;
    }
    return true;
}

void hf_api_list_devices(hf_api_call *call)
{
    start(call, describe_all);
}

void hf_api_revoke(hf_api_call *call)
{
    if (hf_api_no_fields(call))
        start(call, revoke);
}

void hf_api_restore(hf_api_call *call)
{
    if (hf_api_no_fields(call))
        start(call, restore);
}

void hf_api_disconnect(hf_api_call *call)
{
    if (hf_api_no_fields(call))
        start(call, disconnect);
}
