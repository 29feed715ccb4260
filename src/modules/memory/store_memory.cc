// store_memory: per-device queues in process memory. For tests and --dev;
// everything is lost when the daemon stops. Completions run synchronously.
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "handoff/module.h"
#include "modules/common/dedup.h"
#include "modules/common/local_presence.h"

namespace
{

struct stored_msg {
    std::string from;
    uint64_t msg_id;
    std::string collapse_key;
    std::string payload;
    uint64_t stored_at_ms;
    uint64_t expires_at_ms;
};

// What every queue of one account holds together (its quota's count).
struct account_usage {
    uint64_t messages = 0, bytes = 0;
};

struct device_queue {
    account_usage *account = nullptr; // its account's, in memory_store.accounts
    uint64_t next_seq = 1;
    uint64_t acked_upto = 0;
    uint64_t bytes = 0;
    std::map<uint64_t, stored_msg> messages; // by seq
    std::unordered_map<std::string, uint64_t> collapse_seqs;
    std::unordered_map<std::string, std::string> sender_ids; // from -> its dedup record (dedup.h)
};

struct memory_store {
    const hf_host_api *host;
    hf_store_params params;
    std::unordered_map<std::string, device_queue> queues; // account '\0' device
    std::unordered_map<std::string, std::set<std::string>> account_devices;
    // Accounts by name; a node's address stays put, so queues point into it.
    std::unordered_map<std::string, account_usage> accounts;
    hf_local_presence presence;
    std::unordered_map<std::string, hf_store_device_state> revocations;          // account '\0' device
    std::unordered_map<std::string, std::map<std::string, std::string>> records; // account '\0' device
};

std::string device_key(const char *account, const char *device)
{
    std::string key = account;
    key.push_back('\0');
    key += device;
    return key;
}

void remove_message(device_queue *q, std::map<uint64_t, stored_msg>::iterator it)
{
    if (!it->second.collapse_key.empty()) {
        auto c = q->collapse_seqs.find(it->second.collapse_key);
        if (c != q->collapse_seqs.end() && c->second == it->first)
            q->collapse_seqs.erase(c);
    }
    q->bytes -= it->second.payload.size();
    q->account->messages--;
    q->account->bytes -= it->second.payload.size();
    q->messages.erase(it);
}

// Forgets the records of senders silent for the dedup window.
void forget_silent_senders(memory_store *s, device_queue *q, uint64_t now_ms)
{
    for (auto it = q->sender_ids.begin(); it != q->sender_ids.end();) {
        const std::string &r = it->second;
        if (hf_dedup_last_ms(reinterpret_cast<const uint8_t *>(r.data()), r.size()) + s->params.dedup_window_ms <=
            now_ms)
            it = q->sender_ids.erase(it);
        else
            ++it;
    }
}

int store_open(const hf_host_api *host, const hf_store_params *params, const hf_setting_value *, void **store, char *,
               size_t)
{
    // Said at every start: a config that picked memory by accident must not
    // find out from a restart that emptied every queue.
    host->log(host->host, HF_LOG_WARNING, "memory",
              "store memory keeps queues in this process only: every stored message is lost when it stops or "
              "crashes (use store.module = \"lmdb\" or \"redis\" for durable queues)");
    auto *s = new memory_store;
    s->host = host;
    s->params = *params;
    *store = s;
    return 0;
}

void store_close(void *store)
{
    delete static_cast<memory_store *>(store);
}

void store_enqueue(void *store, const hf_store_enqueue_req *req, hf_store_enqueue_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    device_queue &q = s->queues[device_key(req->account, req->device)];
    if (!q.account)
        q.account = &s->accounts[req->account];
    std::string &sender = q.sender_ids[req->from];
    auto *record = reinterpret_cast<const uint8_t *>(sender.data());
    if (hf_dedup_seen(record, sender.size(), req->msg_id)) {
        cb(arg, HF_STORE_DUPLICATE, 0, hf_dedup_last_seq(record, sender.size()) <= q.acked_upto);
        return;
    }
    bool collapsing = req->collapse_key && *req->collapse_key;
    auto older = collapsing ? q.collapse_seqs.find(req->collapse_key) : q.collapse_seqs.end();
    size_t freed_bytes = 0, freed_count = 0;
    if (older != q.collapse_seqs.end()) {
        auto it = q.messages.find(older->second);
        if (it != q.messages.end())
            freed_bytes = it->second.payload.size(), freed_count = 1;
    }
    if (q.messages.size() - freed_count >= s->params.queue_max_messages ||
        q.bytes - freed_bytes + req->payload_len > s->params.queue_max_bytes) {
        cb(arg, HF_STORE_QUEUE_FULL, 0, 0);
        return;
    }
    if (q.account->messages - freed_count >= s->params.account_max_messages ||
        q.account->bytes - freed_bytes + req->payload_len > s->params.account_max_bytes) {
        cb(arg, HF_STORE_ACCOUNT_FULL, 0, 0);
        return;
    }
    if (freed_count)
        remove_message(&q, q.messages.find(older->second));

    uint64_t seq = q.next_seq++;
    stored_msg &m = q.messages[seq];
    m.from = req->from;
    m.msg_id = req->msg_id;
    m.payload.assign(reinterpret_cast<const char *>(req->payload), req->payload_len);
    m.stored_at_ms = req->stored_at_ms;
    m.expires_at_ms = req->expires_at_ms;
    q.bytes += req->payload_len;
    q.account->messages++;
    q.account->bytes += req->payload_len;
    if (collapsing) {
        m.collapse_key = req->collapse_key;
        q.collapse_seqs[m.collapse_key] = seq;
    }
    hf_dedup_accept(&sender, s->params.dedup_ids, req->msg_id, seq, s->host->now_ms(s->host->host));
    cb(arg, HF_STORE_OK, seq, 0);
}

void store_fetch(void *store, const char *account, const char *device, uint64_t after_seq, uint32_t max_count,
                 uint64_t max_bytes, uint64_t now_ms, hf_store_fetch_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    auto qit = s->queues.find(device_key(account, device));
    if (qit == s->queues.end()) {
        cb(arg, HF_STORE_OK, nullptr, 0);
        return;
    }
    device_queue &q = qit->second;
    std::vector<hf_store_msg> out;
    uint64_t bytes = 0;
    auto it = q.messages.upper_bound(after_seq);
    while (it != q.messages.end() && out.size() < max_count) {
        if (it->second.expires_at_ms <= now_ms) {
            auto dead = it++;
            remove_message(&q, dead);
            continue;
        }
        const stored_msg &m = it->second;
        if (!out.empty() && bytes + m.payload.size() > max_bytes)
            break;
        bytes += m.payload.size();
        out.push_back(hf_store_msg{
            it->first, m.from.c_str(), m.msg_id, m.collapse_key.empty() ? nullptr : m.collapse_key.c_str(),
            reinterpret_cast<const uint8_t *>(m.payload.data()), m.payload.size(), m.stored_at_ms, m.expires_at_ms});
        ++it;
    }
    cb(arg, HF_STORE_OK, out.data(), out.size());
}

void store_ack(void *store, const char *account, const char *device, uint64_t upto_seq, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    auto qit = s->queues.find(device_key(account, device));
    if (qit != s->queues.end()) {
        device_queue &q = qit->second;
        while (!q.messages.empty() && q.messages.begin()->first <= upto_seq)
            remove_message(&q, q.messages.begin());
        if (upto_seq > q.acked_upto)
            q.acked_upto = upto_seq;
    }
    cb(arg, HF_STORE_OK);
}

void store_add_device(void *store, const char *account, const char *device, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    s->account_devices[account].insert(device);
    cb(arg, HF_STORE_OK);
}

void store_list_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    std::vector<const char *> names;
    auto it = s->account_devices.find(account);
    if (it != s->account_devices.end())
        for (const std::string &d : it->second)
            names.push_back(d.c_str());
    cb(arg, HF_STORE_OK, names.data(), names.size());
}

void store_expire(void *store, uint64_t now_ms, void (*cb)(void *, int, uint64_t), void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    uint64_t expired = 0;
    for (auto &entry : s->queues) {
        device_queue &q = entry.second;
        for (auto it = q.messages.begin(); it != q.messages.end();) {
            auto cur = it++;
            if (cur->second.expires_at_ms <= now_ms) {
                remove_message(&q, cur);
                expired++;
            }
        }
        forget_silent_senders(s, &q, now_ms);
    }
    cb(arg, HF_STORE_OK, expired);
}

void store_queued_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    std::string prefix = device_key(account, "");
    std::vector<const char *> names;
    for (const auto &entry : s->queues)
        if (!entry.second.messages.empty() && entry.first.compare(0, prefix.size(), prefix) == 0)
            names.push_back(entry.first.c_str() + prefix.size());
    cb(arg, HF_STORE_OK, names.data(), names.size());
}

void store_depth(void *store, void (*cb)(void *, int, uint64_t), void *arg)
{
    uint64_t messages = 0;
    for (const auto &entry : static_cast<memory_store *>(store)->queues)
        messages += entry.second.messages.size();
    cb(arg, HF_STORE_OK, messages);
}

// What the queues and dedup records hold, without the containers' own
// overhead; no limit but the daemon's memory.
void store_usage(void *store, void (*cb)(void *, int, uint64_t, uint64_t), void *arg)
{
    uint64_t bytes = 0;
    for (const auto &entry : static_cast<memory_store *>(store)->queues) {
        const device_queue &q = entry.second;
        bytes += entry.first.size() + q.bytes + q.messages.size() * sizeof(stored_msg);
        for (const auto &sender : q.sender_ids)
            bytes += sender.first.size() + sender.second.size();
    }
    cb(arg, HF_STORE_OK, bytes, 0);
}

void store_device_state(void *store, const char *account, const char *device, hf_store_state_cb cb, void *arg)
{
    auto *s = static_cast<memory_store *>(store);
    std::string key = device_key(account, device);
    hf_store_device_state state{};
    auto revoked = s->revocations.find(key);
    if (revoked != s->revocations.end())
        state = revoked->second;
    auto q = s->queues.find(key);
    if (q != s->queues.end()) {
        state.queue_messages = q->second.messages.size();
        state.queue_bytes = q->second.bytes;
    }
    hf_local_presence_state(&s->presence, account, device, &state);
    cb(arg, HF_STORE_OK, &state);
}

void store_set_revocation(void *store, const char *account, const char *device, uint64_t not_before_ms, int revoked,
                          hf_store_done_cb cb, void *arg)
{
    hf_store_device_state &r = static_cast<memory_store *>(store)->revocations[device_key(account, device)];
    r.not_before_ms = not_before_ms;
    r.revoked = revoked;
    cb(arg, HF_STORE_OK);
}

void store_revocation(void *store, const char *account, const char *device, void (*cb)(void *, int, uint64_t, int),
                      void *arg)
{
    auto &revocations = static_cast<memory_store *>(store)->revocations;
    auto it = revocations.find(device_key(account, device));
    if (it == revocations.end())
        cb(arg, HF_STORE_OK, 0, 0);
    else
        cb(arg, HF_STORE_OK, it->second.not_before_ms, it->second.revoked);
}

void store_record_put(void *store, const char *account, const char *device, const char *name, const uint8_t *value,
                      size_t value_len, hf_store_done_cb cb, void *arg)
{
    auto &records = static_cast<memory_store *>(store)->records;
    std::string key = device_key(account, device);
    if (value)
        records[key][name].assign(reinterpret_cast<const char *>(value), value_len);
    else if (auto it = records.find(key); it != records.end() && it->second.erase(name) && it->second.empty())
        records.erase(it);
    cb(arg, HF_STORE_OK);
}

void store_records(void *store, const char *account, const char *device, hf_store_records_cb cb, void *arg)
{
    auto &records = static_cast<memory_store *>(store)->records;
    std::vector<hf_store_record> out;
    if (auto it = records.find(device_key(account, device)); it != records.end())
        for (const auto &[name, value] : it->second)
            out.push_back({name.c_str(), reinterpret_cast<const uint8_t *>(value.data()), value.size()});
    cb(arg, HF_STORE_OK, out.data(), out.size());
}

const hf_store_ops memory_ops = {
    sizeof(hf_store_ops),
    store_open,
    store_close,
    store_enqueue,
    store_fetch,
    store_ack,
    store_add_device,
    store_list_devices,
    store_expire,
    local_presence_set<memory_store>,
    local_presence_clear<memory_store>,
    local_presence_lookup<memory_store>,
    local_notify<memory_store>,
    store_depth,
    store_usage,
    store_device_state,
    store_set_revocation,
    local_kick<memory_store>,
    nullptr, // watch: one server sees every change itself
    store_revocation,
    nullptr, // each_device: nothing outlives the process to move
    nullptr, // move_device
    nullptr, // check: no settings
    nullptr, // health: always
    0,       // one process's, nothing shared or kept
    store_queued_devices,
    nullptr, // ack_sent: one writer numbers each queue: its seqs cannot fork
    nullptr, // format: each server's own, nothing to agree on with others
    nullptr, // presence_refresh: no other server to take a device's presence
    store_record_put,
    store_records,
};

} // namespace

HF_MODULE_DECLARE(HF_MODULE_STORE, "memory", "per-device queues in process memory; lost on restart", nullptr, 0,
                  &memory_ops)
