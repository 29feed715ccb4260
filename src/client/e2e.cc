#include "client/e2e.h"

#include <cstdio>
#include <cstring>

#include "client/events.h"
#include "client/failover.h"
#include "proto/device_key.h"
#include "proto/e2e.h"
#include "proto/utf8.h"

namespace hf_clientlib
{

namespace
{

std::string published_key(const hf_client *c, const std::string &device)
{
    auto found = c->peer_keys.find(device);
    return found == c->peer_keys.end() ? std::string() : found->second;
}

void save_keys(hf_client *c)
{
    std::string err;
    if (!hf_key_file_save(*c->keys, &err))
        trace(c, "key file: %s", err.c_str());
}

// The key file's trust in device's published key (copied to *key): a new
// key is written down, a changed one told to the application.
int trust(hf_client *c, const std::string &device, std::string *key)
{
    *key = published_key(c, device);
    bool changed = false;
    int state = hf_key_file_trust(c->keys.get(), device, *key, &changed);
    if (changed)
        save_keys(c);
    if (state == HF_KEY_CHANGED && c->key_change_cb)
        c->key_change_cb(c->user, device.c_str(), hf_device_key_fingerprint(*key).c_str());
    return state;
}

std::string changed_key_text(hf_client *c, const std::string &device, const std::string &key)
{
    return "the key of " + device + " changed (fingerprint now " + hf_device_key_fingerprint(key) + ", trusted " +
           hf_device_key_fingerprint(c->keys->peers[device].key) + "): compare it with the fingerprint " + device +
           " shows, then verify it";
}

bool can_ask(const hf_client *c)
{
    return c->state == HF_CLIENT_CONNECTED && (c->server_features & HF_FEATURE_PRESENCE);
}

// One PRESENCE answer for the key file at a time: it lists the account's
// devices and their keys as they are now.
void ask_keys(hf_client *c)
{
    for (bool application : c->presence_askers)
        if (!application)
            return;
    c->account_devices.clear();
    send_presence_req(c, false);
}

void tell_result(hf_client *c, uint64_t id, int status, int code, const char *text)
{
    if (c->cb.on_send_result)
        c->cb.on_send_result(c->user, id, status, code, text);
}

void refuse_send(hf_client *c, const e2e_send &s, int code, const std::string &why)
{
    trace(c, "end-to-end send %llu to %s: %s; nothing was sent", (unsigned long long)s.id, s.to.c_str(), why.c_str());
    tell_result(c, s.id, HF_SEND_REJECTED, code, why.c_str());
}

// One sealed copy per target, or the send refused whole before any goes.
void run_send(hf_client *c, const e2e_send &s)
{
    const std::string &self = c->device_name;
    std::vector<std::pair<std::string, std::string>> targets; // device, its key
    std::string left_out;
    bool listed = false;
    for (const std::string &device : c->account_devices) {
        if (s.to == "*" ? device == self || device == s.except : device != s.to)
            continue;
        listed = true;
        std::string key;
        int state = trust(c, device, &key);
        if (state == HF_KEY_NONE && s.to == "*") {
            // Never set up for them, or revoked: its keys went.
            left_out += (left_out.empty() ? "" : "; ") + device + " published no keys: not sent to it";
            continue;
        }
        if (state == HF_KEY_NONE)
            return refuse_send(c, s, HF_CLIENT_ERR_NO_KEYS,
                               device + " published no keys: it takes no end-to-end messages");
        if (state == HF_KEY_CHANGED)
            return refuse_send(c, s, HF_CLIENT_ERR_KEY_CHANGED, changed_key_text(c, device, key));
        targets.emplace_back(device, key);
    }
    if (!listed)
        return refuse_send(c, s, HF_ERR_BAD_TARGET,
                           s.to == "*" ? "the account has no other device" : "the account has no device " + s.to);
    if (targets.empty())
        return refuse_send(c, s, HF_CLIENT_ERR_NO_KEYS, "no other device of the account published keys");
    hf_ece_keys signing{c->keys->signing_private_key, c->keys->signing_public_key};
    std::vector<std::string> copies(targets.size());
    for (size_t i = 0; i < targets.size(); i++) {
        if (!hf_e2e_seal(signing, self, targets[i].first, targets[i].second, s.plaintext, &copies[i],
                         s.approval ? hf_e2e_kind::approval : hf_e2e_kind::message))
            return refuse_send(c, s, HF_CLIENT_ERR_NO_KEYS, "cannot encrypt to " + targets[i].first);
        if (copies[i].size() > c->max_payload)
            return refuse_send(c, s, HF_ERR_PAYLOAD_TOO_LARGE, "payload over the server's max_payload");
    }
    e2e_tally &tally = c->e2e_tallies[s.id];
    tally.text = left_out;
    for (size_t i = 0; i < targets.size(); i++) {
        uint64_t copy_id = 0;
        if (hf_client_send(c, targets[i].first.c_str(), copies[i].data(), copies[i].size(), s.ttl_s,
                           s.collapse.empty() ? nullptr : s.collapse.c_str(), &copy_id) != 0)
            break; // stopped meanwhile: the copies queued are answered
        tally.unanswered++;
        c->e2e_copy_of[copy_id] = s.id;
    }
    if (tally.unanswered == 0) {
        c->e2e_tallies.erase(s.id);
        refuse_send(c, s, HF_ERR_BAD_TARGET, "the client stopped");
    }
}

void deliver(hf_client *c, const hf_client_message *msg)
{
    if (c->cb.on_message)
        c->cb.on_message(c->user, msg);
}

// Refused to the dead letters: it will not open later either.
void refuse(hf_client *c, const hf_client_message *msg, const std::string &why)
{
    trace(c, "%s %s (id %llu): %s; refused", msg->app ? "a push for app" : "a message from",
          msg->app ? msg->app : msg->from, (unsigned long long)msg->id, why.c_str());
    hf_client_refuse(c, msg->seq, HF_ERR_BAD_FIELD, why.c_str());
    if (c->refused_cb)
        c->refused_cb(c->user, msg->from, msg->id, why.c_str());
}

// An approval from a device this one trusts: the device it names is
// verified with the key it names.
void take_approval(hf_client *c, const hf_client_message *msg, const std::string &plaintext)
{
    std::string device, key;
    if (!hf_e2e_approval_parse(plaintext, &device, &key))
        return refuse(c, msg, "not an approval: no device and key");
    if (device != c->device_name) {
        c->keys->peers[device] = {key, "verified"};
        save_keys(c);
        trace(c, "%s approved %s's key (fingerprint %s): verified", msg->from, device.c_str(),
              hf_device_key_fingerprint(key).c_str());
    }
    hf_client_ack(c, msg->seq);
}

// Opens msg with the key file and hands it on, or refuses it.
void take(hf_client *c, const hf_client_message *msg)
{
    std::string plaintext, why;
    if (msg->app) {
        if (!c->keys->apps.count(msg->app))
            return deliver(c, msg); // subscribed with other keys: as it came
        if (!hf_key_file_open_push(*c->keys, msg->app, msg->payload, msg->payload_len, &plaintext, &why))
            return refuse(c, msg, why);
    } else if (msg->e2e) {
        std::string key;
        int state = trust(c, msg->from, &key);
        if (state == HF_KEY_NONE)
            return refuse(c, msg, std::string(msg->from) + " published no keys");
        if (state == HF_KEY_CHANGED)
            return refuse(c, msg, changed_key_text(c, msg->from, key));
        hf_ece_keys ecdh{c->keys->private_key, c->keys->public_key};
        const char *reason = nullptr;
        hf_e2e_kind kind = hf_e2e_kind::message;
        if (!hf_e2e_open(ecdh, msg->from, c->device_name, key,
                         std::string_view(reinterpret_cast<const char *>(msg->payload), msg->payload_len), &plaintext,
                         &reason, &kind))
            return refuse(c, msg, reason);
        if (kind == hf_e2e_kind::approval)
            return take_approval(c, msg, plaintext);
    } else {
        return deliver(c, msg);
    }
    hf_client_message opened = *msg;
    opened.payload = reinterpret_cast<const uint8_t *>(plaintext.data());
    opened.payload_len = plaintext.size();
    opened.opened = 1;
    deliver(c, &opened);
}

void take_held(hf_client *c)
{
    std::vector<held_message> held;
    held.swap(c->held);
    for (const held_message &h : held) {
        if (h.link != c->link && h.link != c->old_link)
            continue; // its server is gone: the next one delivers it again
        hf_client_message msg{h.from.c_str(),
                              h.seq,
                              h.id,
                              reinterpret_cast<const uint8_t *>(h.payload.data()),
                              h.payload.size(),
                              h.stored_at_ms,
                              h.app.empty() ? nullptr : h.app.c_str(),
                              h.urgency,
                              h.e2e,
                              0};
        c->delivering_link = h.link;
        take(c, &msg);
        c->delivering_link = nullptr;
    }
}

// What waits for the account's keys asks for them, or fails if this
// server cannot say them.
void want_keys(hf_client *c)
{
    if ((c->e2e_waiting.empty() && c->held.empty()) || c->state != HF_CLIENT_CONNECTED)
        return;
    if (can_ask(c)) {
        ask_keys(c);
        return;
    }
    std::vector<e2e_send> waiting;
    waiting.swap(c->e2e_waiting);
    for (const e2e_send &s : waiting)
        refuse_send(c, s, HF_CLIENT_ERR_NO_KEYS, "this server does not offer presence, which relays the keys");
    take_held(c);
}

} // namespace

void e2e_arrived(hf_client *c, hf_link *l, const hf_client_message *msg)
{
    bool key_unknown = msg->e2e && !msg->app && !c->peer_keys.count(msg->from);
    if (c->held.empty() && !(key_unknown && can_ask(c)))
        return take(c, msg);
    c->held.push_back({l, msg->from, msg->app ? msg->app : "",
                       std::string(reinterpret_cast<const char *>(msg->payload), msg->payload_len), msg->seq, msg->id,
                       msg->stored_at_ms, msg->urgency, msg->e2e});
    ask_keys(c);
}

void e2e_connected(hf_client *c)
{
    want_keys(c);
}

void e2e_keys_read(hf_client *c)
{
    std::vector<e2e_send> waiting;
    waiting.swap(c->e2e_waiting);
    for (const e2e_send &s : waiting)
        run_send(c, s);
    take_held(c);
}

void message_answered(hf_client *c, uint64_t id, int status, int code, const char *text)
{
    auto copy = c->e2e_copy_of.find(id);
    if (copy == c->e2e_copy_of.end())
        return tell_result(c, id, status, code, text);
    uint64_t send_id = copy->second;
    c->e2e_copy_of.erase(copy);
    e2e_tally &tally = c->e2e_tallies[send_id];
    if (status == HF_SEND_STORED)
        tally.stored = true;
    else if (status != HF_SEND_DELIVERED && !tally.code) {
        // The first refusal is what the application hears.
        tally.code = code ? code : HF_ERR_INTERNAL;
        tally.text = text ? text : "";
    }
    if (--tally.unanswered > 0)
        return;
    e2e_tally done = std::move(tally);
    c->e2e_tallies.erase(send_id);
    tell_result(c, send_id,
                done.code     ? HF_SEND_REJECTED
                : done.stored ? HF_SEND_STORED
                              : HF_SEND_DELIVERED,
                done.code, done.text.c_str());
}

void keys_subscribed(hf_client *c, const std::string &app, const std::string &endpoint)
{
    // The same endpoint as before keeps its auth secret: the application
    // server may hold it already.
    hf_key_file_app &k = c->keys->apps[app];
    if (k.endpoint != endpoint || k.auth.size() != HF_PUSH_AUTH_LEN) {
        uint8_t unused_private[HF_PUSH_PRIVATE_KEY_LEN], unused_public[HF_PUSH_PUBLIC_KEY_LEN], auth[HF_PUSH_AUTH_LEN];
        if (hf_push_keys_new(unused_private, unused_public, auth) != 0) {
            trace(c, "no random bytes for %s's auth secret", app.c_str());
            c->keys->apps.erase(app);
            return;
        }
        k.auth.assign(reinterpret_cast<char *>(auth), sizeof auth);
    }
    k.endpoint = endpoint;
}

void keys_subscription_done(hf_client *c, const std::string &app, bool removed)
{
    if (removed)
        c->keys->apps.erase(app);
    save_keys(c);
}

} // namespace hf_clientlib

using namespace hf_clientlib;

extern "C" {

int hf_client_use_keys(hf_client *c, const char *path)
{
    auto keys = std::make_unique<hf_key_file>();
    std::string err;
    if (!path || !hf_key_file_open(path, keys.get(), &err)) {
        c->last_error = HF_CLIENT_ERR_KEY_FILE;
        c->last_error_text = path ? err : "no key file named";
        return -1;
    }
    c->device_key = hf_key_file_device_key(*keys);
    c->fingerprint = hf_device_key_fingerprint(c->device_key);
    c->keys = std::move(keys);
    return 0;
}

const char *hf_client_fingerprint(const hf_client *c)
{
    return c->fingerprint.c_str();
}

int hf_keys_fingerprint(const char *path, char fingerprint[HF_FINGERPRINT_SIZE], char *err, size_t err_len)
{
    hf_key_file keys;
    std::string why;
    if (!path || !hf_key_file_open(path, &keys, &why)) {
        snprintf(err, err_len, "%s", path ? why.c_str() : "no key file named");
        return -1;
    }
    snprintf(fingerprint, HF_FINGERPRINT_SIZE, "%s", hf_device_key_fingerprint(hf_key_file_device_key(keys)).c_str());
    return 0;
}

const char *hf_key_state_name(int state)
{
    static const char *const names[] = {"none", "new", "trusted", "verified", "changed"};
    return state >= HF_KEY_NONE && state <= HF_KEY_CHANGED ? names[state] : "unknown";
}

int hf_client_key_state(hf_client *c, const char *device, char fingerprint[HF_FINGERPRINT_SIZE])
{
    if (!c->keys || !device)
        return -1;
    std::string key;
    int state = trust(c, device, &key);
    if (fingerprint)
        snprintf(fingerprint, HF_FINGERPRINT_SIZE, "%s", key.empty() ? "" : hf_device_key_fingerprint(key).c_str());
    return state;
}

int hf_client_verify_device(hf_client *c, const char *device, const char *fingerprint)
{
    if (!c->keys || !device || !fingerprint)
        return -1;
    std::string key = published_key(c, device);
    if (key.empty() || hf_device_key_fingerprint(key) != fingerprint)
        return -1;
    c->keys->peers[device] = {key, "verified"};
    std::string err;
    if (!hf_key_file_save(*c->keys, &err)) {
        c->last_error = HF_CLIENT_ERR_KEY_FILE;
        c->last_error_text = err;
        return -1;
    }
    return 0;
}

int hf_client_approve_device(hf_client *c, const char *device, const char *fingerprint, uint64_t *id)
{
    if (c->state != HF_CLIENT_CONNECTED || hf_client_verify_device(c, device, fingerprint) != 0)
        return -1;
    uint64_t send_id = c->next_id++;
    c->e2e_waiting.push_back(
        {send_id, "*", hf_e2e_approval(device, published_key(c, device)), "", 0, true, std::string(device)});
    if (id)
        *id = send_id;
    want_keys(c);
    return 0;
}

int hf_client_send_e2e(hf_client *c, const char *to, const void *payload, size_t len, uint32_t ttl_s,
                       const char *collapse, uint64_t *id)
{
    if (!c->keys || !to || !*to || c->state == HF_CLIENT_STOPPED)
        return -1;
    if (len + HF_E2E_OVERHEAD > c->max_payload)
        return HF_ERR_PAYLOAD_TOO_LARGE;
    if (!hf_utf8_valid(to) || (collapse && !hf_utf8_valid(collapse)))
        return HF_ERR_BAD_TARGET;
    uint64_t send_id = c->next_id++;
    c->e2e_waiting.push_back({send_id, to, std::string(static_cast<const char *>(payload), len),
                              collapse ? collapse : "", ttl_s, false, ""});
    if (id)
        *id = send_id;
    want_keys(c);
    return 0;
}

void hf_client_on_key_change(hf_client *c, hf_client_key_change_cb cb)
{
    c->key_change_cb = cb;
}

void hf_client_on_refused(hf_client *c, hf_client_refused_cb cb)
{
    c->refused_cb = cb;
}

int hf_client_push_keys(const hf_client *c, const char *app, uint8_t p256dh[HF_PUSH_PUBLIC_KEY_LEN],
                        uint8_t auth[HF_PUSH_AUTH_LEN])
{
    if (!c->keys || !app)
        return -1;
    auto found = c->keys->apps.find(app);
    if (found == c->keys->apps.end() || found->second.auth.size() != HF_PUSH_AUTH_LEN)
        return -1;
    memcpy(p256dh, c->keys->public_key.data(), HF_PUSH_PUBLIC_KEY_LEN);
    memcpy(auth, found->second.auth.data(), HF_PUSH_AUTH_LEN);
    return 0;
}

} // extern "C"
