// store_redis: queues, presence and "new data" notifications in Redis, so
// several servers share them: one Redis, or a Redis Cluster
// (redis_nodes.h routes by slot). A device's queue is a Redis stream;
// the key layout is in src/modules/redis/lua/README.md. Work is gathered per
// reactor pass: the pass's enqueues for one slot go in one script call
// (on a cluster that shows signs of failing over, once the slot's last
// one has answered: the passes meanwhile join it),
// its acknowledgements of one device in one, its notifications to one
// server in one PUBLISH, and everything a pass sends a node leaves in one
// write. A fetch is a plain XRANGE, or no read at all when this server's
// own writes are the end of the queue (the tail cache). While Redis is
// unreachable every operation completes with HF_STORE_UNAVAILABLE (never
// a false acknowledgement) and the connections come back with backoff.
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "handoff/module.h"
#include "modules/common/record.h"
#include "modules/redis/redis_format.h"
#include "modules/redis/redis_nodes.h"
#include "modules/redis/redis_slots.h"
#include "modules/redis/redis_lua.h"
#include "modules/common/tail_cache.h"
#include "proto/units.h"
#include "modules/redis/redis_store.h"
#include "modules/redis/redis_totals.h"
#include "modules/redis/redis_device_state.h"

namespace
{

using namespace hf_redis_store;

enum setting_index {
    address_setting,
    cluster_setting,
    password_setting,
    database_setting,
    prefix_setting,
    timeout_setting,
    replicas_setting,
    wait_timeout_setting,
    tail_cache_setting,
    setting_count
};

const hf_setting_spec settings[setting_count] = {
    {"address", HF_SETTING_STRING, "127.0.0.1:6379", 0, 0, "one Redis server, host:port"},
    {"cluster", HF_SETTING_STRING, "", 0, 0,
     "seed nodes of a Redis Cluster, host:port,host:port,...; when set, address is not used"},
    {"password", HF_SETTING_STRING, "", 0, 0, "password for AUTH (empty: none)"},
    {"database", HF_SETTING_INT, "0", 0, 1000, "database number for SELECT (one Redis only)"},
    {"prefix", HF_SETTING_STRING, "hf:", 0, 0, "prefix of every key and channel"},
    {"timeout", HF_SETTING_DURATION, "2s", 10, 60000,
     "how long an unanswered health PING may take before the connection is dropped"},
    {"replicas", HF_SETTING_INT, "-1", -1, 16,
     "replicas a message must reach before it is acknowledged stored (WAIT); -1: 1 on a cluster, 0 on one Redis"},
    {"wait_timeout", HF_SETTING_DURATION, "1s", 10, 60000,
     "how long an enqueue waits for its replicas before the sender is told store_unavailable"},
    {"tail_cache", HF_SETTING_SIZE, "16m", 0, int64_t(1) << 40,
     "memory for the messages this server just wrote, so their delivery reads nothing back (0: off)"},
};

void want_flush(redis_store *s)
{
    event_active(s->flush_event, EV_TIMEOUT, 0);
}

// ---- enqueue ---------------------------------------------------------

// The outcome of one message of a batch, until the WAIT behind it answers.
struct enqueue_result {
    int status = HF_STORE_ERROR;
    uint64_t seq = 0;
    int acked = 0;
    uint64_t replaced = 0; // the seq its collapse key replaced (0: none)
};

// A device batch's messages, each with its outcome, in the order the
// script answers them.
struct sent_enqueue {
    const std::string *dev;
    pending_enqueue item;
    enqueue_result result;
};

// The script's answer: a status digit per message, each device's first
// seq, and (message number, seq replaced) pairs. False when it has
// another shape.
bool read_enqueue_answer(const redisReply *r, std::vector<sent_enqueue> *sent)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len != sent->size() || r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[2]->type != REDIS_REPLY_ARRAY)
        return false;
    const char *digits = r->element[0]->str;
    const redisReply *firsts = r->element[1];
    size_t dev = 0;
    uint64_t next = 0;
    for (size_t i = 0; i < sent->size(); i++) {
        sent_enqueue &e = (*sent)[i];
        if (i == 0 || e.dev != (*sent)[i - 1].dev) {
            if (dev >= firsts->elements)
                return false;
            next = uint64_t(firsts->element[dev++]->integer);
        }
        enqueue_result &res = e.result;
        res.status = digits[i] == '0'   ? HF_STORE_OK
                     : digits[i] == '3' ? HF_STORE_QUEUE_FULL
                     : digits[i] == '4' ? HF_STORE_ACCOUNT_FULL
                                        : HF_STORE_DUPLICATE;
        res.acked = digits[i] == '2';
        if (res.status == HF_STORE_OK)
            res.seq = next++;
    }
    const redisReply *replaced = r->element[2];
    for (size_t k = 0; k + 1 < replaced->elements; k += 2) {
        size_t message = size_t(replaced->element[k]->integer);
        if (message >= 1 && message <= sent->size())
            (*sent)[message - 1].result.replaced = uint64_t(replaced->element[k + 1]->integer);
    }
    return true;
}

void send_enqueues(redis_store *s, enqueue_batch &b)
{
    std::vector<std::string> args = {
        std::to_string(s->host->now_ms(s->host->host)), std::to_string(s->params.dedup_ids),
        std::to_string(s->params.dedup_window_ms),      std::to_string(s->params.queue_max_messages),
        std::to_string(s->params.queue_max_bytes),      std::to_string(s->params.account_max_messages),
        std::to_string(s->params.account_max_bytes)};
    auto devs = std::make_shared<std::vector<std::string>>();
    auto sent = std::make_shared<std::vector<sent_enqueue>>();
    uint64_t topology = hf_redis_topology(s->nodes);
    devs->reserve(b.devs.size()); // sent points into it
    for (device_batch &d : b.devs) {
        args.push_back(d.dev);
        args.push_back(std::to_string(d.expires));
        args.push_back(std::move(d.blob));
        devs->push_back(std::move(d.dev));
        for (pending_enqueue &e : d.items)
            sent->push_back(sent_enqueue{&devs->back(), std::move(e), {}});
    }
    int slot = b.slot;
    hf_redis_script(
        s->nodes, b.slot, hf_redis_enqueue_lua, std::move(b.keys), std::move(args),
        [s, devs, sent, topology, slot](redisReply *r) {
            // The slot's next batch may go (redis_store.enqueues_out).
            if (--s->enqueues_out[slot] == 0 && s->enqueues.count(slot) && !s->closing)
                want_flush(s);
            if (!r) { // no durable step follows
                for (sent_enqueue &e : *sent)
                    e.item.cb(e.item.arg, HF_STORE_UNAVAILABLE, 0, 0);
                return;
            }
            if (!read_enqueue_answer(r, sent.get())) {
                bool oom = r->type == REDIS_REPLY_ERROR && strstr(r->str, "OOM");
                if (!oom)
                    s->host->log(s->host->host, HF_LOG_ERROR, "store_redis", "enqueue script failed: %s",
                                 r->type == REDIS_REPLY_ERROR ? r->str : "an answer of another shape");
                for (sent_enqueue &e : *sent)
                    e.result = enqueue_result{oom ? HF_STORE_FULL : HF_STORE_ERROR, 0, 0};
                return;
            }
            for (sent_enqueue &e : *sent) {
                if (e.result.status != HF_STORE_OK)
                    continue;
                // In message order: what it replaced may be one of this batch.
                // A tail holds only writes made under its topology
                // (read_marks): one made under another may be on a node
                // the slot has left.
                if (topology != s->tail_topology)
                    hf_tail_drop(&s->tail, *e.dev);
                else if (e.result.replaced)
                    hf_tail_remove(&s->tail, *e.dev, e.result.replaced);
                if (topology == s->tail_topology)
                    hf_tail_append(&s->tail, *e.dev, e.result.seq, std::move(e.item.record));
                // Fetches see it now; the sender's answer waits for the
                // WAIT behind it.
                if (s->replicas && s->host->enqueue_applied)
                    s->host->enqueue_applied(s->host->host, e.item.arg, e.result.seq);
            }
        },
        [s, devs, sent](bool replicated) { // devs: what sent points into
            for (sent_enqueue &e : *sent) {
                // Perhaps on a primary cut off from the others, whose
                // replica, promoted, numbers these seqs anew: the tail may
                // not keep it, or it would ignore the message the store
                // holds as its seq (docs/faults.md, N6).
                if (!replicated)
                    hf_tail_drop(&s->tail, *e.dev);
                // A duplicate's answer too: its original may not have
                // reached the replicas either.
                bool written = e.result.status == HF_STORE_OK || e.result.status == HF_STORE_DUPLICATE;
                int status = written && !replicated ? HF_STORE_UNAVAILABLE : e.result.status;
                e.item.cb(e.item.arg, status, status == HF_STORE_OK ? e.result.seq : 0, e.result.acked);
            }
        });
}

void store_enqueue(void *store, const hf_store_enqueue_req *req, hf_store_enqueue_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    if (s->closing) {
        cb(arg, HF_STORE_UNAVAILABLE, 0, 0);
        return;
    }
    // A cluster's scripts keep to one slot, so a pass has a batch per
    // slot; one Redis takes the whole pass in one.
    int slot = slot_of(s, req->account);
    enqueue_batch &b = s->enqueues[slot];
    if (b.keys.empty()) {
        b.slot = slot;
        int index = index_slot(s, slot);
        b.keys = {slot_key(s, index, "e"), slot_key(s, index, "n")};
    }
    std::string dev = dev_of(req->account, req->device);
    auto [at, added] = b.dev_index.emplace(dev, b.devs.size());
    if (added || b.devs[at->second].blob.size() >= entry_max_bytes) {
        for (const char *kind : {"q", "i", "c", "s", "x"})
            b.keys.push_back(key_of(s, req->account, kind, req->device));
        b.keys.push_back(key_of(s, req->account, "t"));
        b.keys.push_back(key_of(s, req->account, "k"));
        at->second = b.devs.size();
        b.devs.push_back(device_batch{std::move(dev), {}, req->expires_at_ms, {}});
    }
    device_batch &d = b.devs[at->second];
    size_t start = d.blob.size();
    d.blob.append(4, '\0'); // the length, once the record is there
    hf_record_append(&d.blob, req);
    uint32_t len = htobe32(uint32_t(d.blob.size() - start - 4));
    memcpy(&d.blob[start], &len, sizeof len);
    if (req->expires_at_ms < d.expires)
        d.expires = req->expires_at_ms;
    // The tail keeps its own copy; none when the cache is off.
    d.items.push_back(pending_enqueue{cb, arg, s->tail.budget ? d.blob.substr(start + 4) : std::string()});
    want_flush(s);
}

// ---- fetch -----------------------------------------------------------

// A stream entry's first seq: its id is "<last seq>-<first seq>".
uint64_t first_of_id(const redisReply *id)
{
    const char *dash = id->type == REDIS_REPLY_STRING ? strchr(id->str, '-') : nullptr;
    return dash ? strtoull(dash + 1, nullptr, 10) : 0;
}

// The fetch script's answer (src/modules/redis/lua/fetch.lua) into a batch; false
// when the batch filled before the messages read ran out. *last: the last
// seq read.
bool take_entries(const redisReply *r, uint64_t after_seq, hf_fetch_batch *b, uint64_t *last)
{
    const redisReply *entries = r->element[0], *dead = r->element[1];
    std::vector<uint64_t> dead_seqs;
    for (size_t i = 0; i < dead->elements; i++)
        dead_seqs.push_back(uint64_t(dead->element[i]->integer));
    std::sort(dead_seqs.begin(), dead_seqs.end());
    for (size_t i = 0; i + 1 < entries->elements; i += 2) {
        const redisReply *blob = entries->element[i + 1];
        auto *p = reinterpret_cast<const uint8_t *>(blob->str);
        size_t pos = 0;
        for (uint64_t seq = first_of_id(entries->element[i]); pos + 4 <= blob->len; seq++) {
            size_t len = (size_t(p[pos]) << 24) | (size_t(p[pos + 1]) << 16) | (size_t(p[pos + 2]) << 8) | p[pos + 3];
            if (pos + 4 + len > blob->len)
                break;
            bool skip = seq <= after_seq || std::binary_search(dead_seqs.begin(), dead_seqs.end(), seq);
            if (!skip && !b->take(seq, p + pos + 4, len))
                return false;
            *last = std::max(*last, seq);
            pos += 4 + len;
        }
    }
    return true;
}

// Devices with read marks past this are forgotten all at once (they
// left unacknowledged): their next acknowledgements are checked.
const size_t most_marked_devices = 100000;

void mark_read(redis_store *s, const std::string &dev, uint64_t last_seq, uint64_t topology)
{
    if (s->read_marks.size() >= most_marked_devices && !s->read_marks.count(dev))
        s->read_marks.clear();
    s->read_marks[dev].push_back(read_mark{last_seq, topology});
}

void store_fetch(void *store, const char *account, const char *device, uint64_t after_seq, uint32_t max_count,
                 uint64_t max_bytes, uint64_t now_ms, hf_store_fetch_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    std::string dev = dev_of(account, device);
    uint64_t topology = hf_redis_topology(s->nodes);
    if (topology != s->tail_topology) {
        hf_tail_clear(&s->tail); // written where the slots were then
        s->tail_topology = topology;
    }
    if (const hf_tail *tail = hf_tail_after(&s->tail, dev, after_seq)) {
        hf_fetch_batch b{max_count, max_bytes, now_ms, 0, {}, {}};
        for (const hf_tail_entry &e : tail->entries)
            if (!b.take(e.seq, e.record.data(), e.record.size()))
                break;
        if (!b.out.empty())
            mark_read(s, dev, b.out.back().seq, topology);
        cb(arg, b.status(), b.out.data(), b.out.size());
        return;
    }
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_fetch_lua,
                    {key_of(s, account, "q", device), key_of(s, account, "x", device)},
                    {std::to_string(after_seq), std::to_string(max_count), std::to_string(max_bytes)},
                    [s, dev, after_seq, max_count, max_bytes, now_ms, cb, arg, topology](redisReply *r) {
                        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
                            cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, nullptr, 0);
                            return;
                        }
                        hf_fetch_batch b{max_count, max_bytes, now_ms, 0, {}, {}};
                        uint64_t last = after_seq;
                        // A read that reached the end of the queue starts its tail.
                        bool same = topology == hf_redis_topology(s->nodes);
                        if (take_entries(r, after_seq, &b, &last) && r->element[2]->integer == 1 && same)
                            hf_tail_covered(&s->tail, dev, last + 1);
                        if (!b.out.empty())
                            mark_read(s, dev, b.out.back().seq, same ? topology : 0);
                        cb(arg, b.status(), b.out.data(), b.out.size());
                    });
}

// ---- acknowledgements ------------------------------------------------

// The topology under which every message up to upto was read (0: mixed,
// or not known); the marks they cover go.
uint64_t read_under(redis_store *s, const std::string &dev, uint64_t upto)
{
    auto found = s->read_marks.find(dev);
    if (found == s->read_marks.end())
        return 0;
    std::deque<read_mark> &marks = found->second;
    uint64_t under = marks.empty() ? 0 : marks.front().topology;
    for (const read_mark &m : marks) {
        if (m.topology != under)
            under = 0;
        if (m.last_seq >= upto)
            break;
    }
    while (!marks.empty() && marks.front().last_seq <= upto)
        marks.pop_front();
    if (marks.empty())
        s->read_marks.erase(found);
    return under;
}

void send_acks(redis_store *s, ack_batch &b)
{
    auto waiters = std::make_shared<std::vector<ack_waiter>>(std::move(b.waiters));
    // What each device was sent is checked only if its messages were
    // read under another topology than the one the call goes out under
    // (the slot's node may have changed between): the node that served
    // them drops them by seq alike.
    std::vector<std::string> args;
    for (size_t i = 0; i < b.upto.size(); i++) {
        args.push_back(std::to_string(b.upto[i]));
        args.push_back(b.devices[i]);
        args.push_back("");
    }
    auto sent = std::make_shared<std::vector<std::string>>(std::move(b.sent));
    auto prepare = [s, sent, read = std::move(b.read_under)](std::string *script_args) {
        uint64_t now = hf_redis_topology(s->nodes);
        for (size_t i = 0; i < read.size(); i++)
            script_args[3 * i + 2] = read[i] != 0 && read[i] == now ? std::string() : (*sent)[i];
    };
    std::vector<std::string> devs(b.upto.size());
    for (auto &[dev, at] : b.dev_index)
        devs[at] = dev;
    size_t devices = devs.size();
    hf_redis_script(
        s->nodes, b.slot, hf_redis_ack_lua, std::move(b.keys), std::move(args),
        [s, waiters, devs = std::move(devs), devices](redisReply *r) {
            int status = !r                                                           ? HF_STORE_UNAVAILABLE
                         : r->type != REDIS_REPLY_ARRAY || r->elements != devices + 1 ? HF_STORE_ERROR
                                                                                      : HF_STORE_OK;
            for (const ack_waiter &w : *waiters) {
                uint64_t forked = status == HF_STORE_OK ? uint64_t(r->element[w.device + 1]->integer) : 0;
                if (forked)
                    hf_tail_drop(&s->tail, devs[w.device]); // it may hold the other side's
                if (w.done)
                    w.done(w.arg, status);
                else
                    w.sent_done(w.arg, forked ? HF_STORE_FORKED : status, forked);
            }
        },
        nullptr, prepare);
}

// Appends what a device was sent as a seq, in ack.lua's layout.
void put_sent(std::string *blob, const hf_store_sent &m)
{
    size_t from_len = strlen(m.from);
    for (int shift = 56; shift >= 0; shift -= 8)
        blob->push_back(char(m.seq >> shift));
    blob->push_back(char((8 + from_len) >> 8));
    blob->push_back(char(8 + from_len));
    for (int shift = 56; shift >= 0; shift -= 8)
        blob->push_back(char(m.msg_id >> shift));
    blob->append(m.from, from_len);
}

void add_ack(redis_store *s, const char *account, const char *device, uint64_t upto_seq, const hf_store_sent *sent,
             size_t count, ack_waiter w)
{
    int slot = slot_of(s, account);
    ack_batch &b = s->acks[slot];
    if (b.keys.empty()) {
        b.slot = slot;
        b.keys.push_back(slot_key(s, index_slot(s, slot), "n"));
    }
    std::string dev = dev_of(account, device);
    uint64_t under = read_under(s, dev, upto_seq);
    auto [at, added] = b.dev_index.emplace(dev, b.upto.size());
    if (added) {
        for (const char *kind : {"q", "i", "c", "x"})
            b.keys.push_back(key_of(s, account, kind, device));
        b.keys.push_back(key_of(s, account, "t"));
        b.keys.push_back(key_of(s, account, "k"));
        b.upto.push_back(upto_seq);
        b.devices.push_back(device);
        b.sent.emplace_back();
        b.read_under.push_back(under);
    } else {
        if (upto_seq > b.upto[at->second])
            b.upto[at->second] = upto_seq;
        if (b.read_under[at->second] != under)
            b.read_under[at->second] = 0;
    }
    for (size_t i = 0; i < count; i++)
        put_sent(&b.sent[at->second], sent[i]);
    w.device = at->second;
    b.waiters.push_back(w);
    want_flush(s);
}

void store_ack(void *store, const char *account, const char *device, uint64_t upto_seq, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    if (s->closing)
        cb(arg, HF_STORE_UNAVAILABLE);
    else
        add_ack(s, account, device, upto_seq, nullptr, 0, ack_waiter{cb, nullptr, arg, 0});
}

void store_ack_sent(void *store, const char *account, const char *device, uint64_t upto_seq, const hf_store_sent *sent,
                    size_t count, void (*cb)(void *arg, int status, uint64_t forked_seq), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    if (s->closing)
        cb(arg, HF_STORE_UNAVAILABLE, 0);
    else
        add_ack(s, account, device, upto_seq, sent, count, ack_waiter{nullptr, cb, arg, 0});
}

// ---- notifications ---------------------------------------------------

void store_notify(void *store, const char *server_id, const char *account, const char *device)
{
    auto *s = static_cast<redis_store *>(store);
    std::string &body = s->notices[server_id];
    body.append(account).append("|").append(device).append("\n");
    want_flush(s);
}

// Another server wrote to devices held here ("A|D\n" each), asks to cut
// one ("!code|A|D\n"), or says a watched device came or left ("~1|A|D\n",
// "~0|A|D\n").
void on_notice(redis_store *s, const char *data, size_t len)
{
    if (!data) { // subscribed again: what other servers said meanwhile is lost
        hf_tail_clear(&s->tail);
        s->host->data_ready(s->host->host, nullptr, nullptr);
        return;
    }
    std::string body(data, len);
    size_t start = 0;
    while (start < body.size()) {
        size_t end = body.find('\n', start);
        if (end == std::string::npos)
            end = body.size();
        std::string dev = body.substr(start, end - start);
        size_t bar = dev.find('|');
        if (bar != std::string::npos && dev[0] == '~' && dev.size() > 3) {
            size_t second = dev.find('|', 3);
            if (second != std::string::npos)
                s->host->presence_changed(s->host->host, dev.substr(3, second - 3).c_str(),
                                          dev.substr(second + 1).c_str(), dev[1] == '1');
        } else if (bar != std::string::npos && dev[0] == '!') {
            size_t second = dev.find('|', bar + 1);
            if (second != std::string::npos)
                s->host->kick(s->host->host, dev.substr(bar + 1, second - bar - 1).c_str(),
                              dev.substr(second + 1).c_str(), atoi(dev.c_str() + 1));
        } else if (bar != std::string::npos) {
            hf_tail_drop(&s->tail, dev); // its queue grew where this cache did not see it
            s->host->data_ready(s->host->host, dev.substr(0, bar).c_str(), dev.substr(bar + 1).c_str());
        }
        start = end + 1;
    }
}

// The end of a reactor pass: what it gathered goes out.
void on_flush(evutil_socket_t, short, void *arg)
{
    auto *s = static_cast<redis_store *>(arg);
    bool one_at_a_time = s->cluster && hf_redis_unsettled(s->nodes);
    for (auto it = s->enqueues.begin(); it != s->enqueues.end();) {
        int &out = s->enqueues_out[it->first];
        if (one_at_a_time && out > 0) {
            ++it; // its last is unanswered (redis_store.enqueues_out)
            continue;
        }
        out++;
        enqueue_batch batch = std::move(it->second);
        it = s->enqueues.erase(it);
        send_enqueues(s, batch);
    }
    std::map<int, ack_batch> acks = std::move(s->acks);
    s->acks.clear();
    for (auto &[slot, batch] : acks)
        send_acks(s, batch);
    std::map<std::string, std::string> notices = std::move(s->notices);
    s->notices.clear();
    for (auto &[server, body] : notices) {
        body.pop_back(); // the last "\n"
        hf_redis_call(s->nodes, -1, {"PUBLISH", s->prefix + "n:" + server, body}, [](redisReply *) {});
    }
}

// ---- devices and presence --------------------------------------------

void store_add_device(void *store, const char *account, const char *device, hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    hf_redis_call(s->nodes, slot_of(s, account), {"SADD", key_of(s, account, "d"), device},
                  [cb, arg](redisReply *r) { done_status(cb, arg, r); });
}

// The device names in one of the account's sets: kind "d" (its devices)
// or "k" (those with a queue).
void list_set(redis_store *s, const char *account, const char *kind, hf_store_devices_cb cb, void *arg)
{
    hf_redis_call(s->nodes, slot_of(s, account), {"SMEMBERS", key_of(s, account, kind)}, [cb, arg](redisReply *r) {
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            cb(arg, r ? HF_STORE_ERROR : HF_STORE_UNAVAILABLE, nullptr, 0);
            return;
        }
        std::vector<const char *> names;
        for (size_t i = 0; i < r->elements; i++)
            names.push_back(r->element[i]->str);
        cb(arg, HF_STORE_OK, names.data(), names.size());
    });
}

void store_list_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    list_set(static_cast<redis_store *>(store), account, "d", cb, arg);
}

void store_queued_devices(void *store, const char *account, hf_store_devices_cb cb, void *arg)
{
    list_set(static_cast<redis_store *>(store), account, "k", cb, arg);
}

// A presence script's answer: the servers watching the account (from
// element first on), each told the change (a notice line), this one not
// (it saw it itself).
void tell_watchers(redis_store *s, const redisReply *r, const std::string &line, size_t first = 0)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || s->closing)
        return;
    for (size_t i = first; i < r->elements; i++) {
        std::string server(r->element[i]->str, r->element[i]->len);
        if (server != s->server_id) {
            s->notices[server].append(line).append("\n");
            want_flush(s);
        }
    }
}

void store_presence_set(void *store, const char *account, const char *device, const char *server_id, uint64_t ttl_ms,
                        hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    // The device (re)connected here: what other servers did to its queue
    // while it was elsewhere is not in this server's tail.
    hf_tail_drop(&s->tail, dev_of(account, device));
    std::string dev = dev_of(account, device);
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_presence_set_lua,
                    {key_of(s, account, "p", device), key_of(s, account, "w")},
                    {server_id, std::to_string(ttl_ms), std::to_string(s->host->now_ms(s->host->host))},
                    [s, cb, arg, dev](redisReply *r) {
                        tell_watchers(s, r, "~1|" + dev);
                        done_status(cb, arg, r);
                    });
}

void store_presence_refresh(void *store, const char *account, const char *device, const char *server_id,
                            uint64_t ttl_ms, void (*cb)(void *arg, int status, int lapsed), void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    std::string dev = dev_of(account, device);
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_presence_refresh_lua,
                    {key_of(s, account, "p", device), key_of(s, account, "w")},
                    {server_id, std::to_string(ttl_ms), std::to_string(s->host->now_ms(s->host->host))},
                    [s, cb, arg, dev](redisReply *r) {
                        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
                            r->element[0]->type != REDIS_REPLY_STRING) {
                            cb(arg, !r ? HF_STORE_UNAVAILABLE : HF_STORE_ERROR, 0);
                            return;
                        }
                        std::string said(r->element[0]->str, r->element[0]->len);
                        if (said == "elsewhere") {
                            cb(arg, HF_STORE_ELSEWHERE, 0);
                            return;
                        }
                        tell_watchers(s, r, "~1|" + dev, 1); // after the word
                        cb(arg, HF_STORE_OK, said == "set");
                    });
}

void store_presence_clear(void *store, const char *account, const char *device, const char *server_id,
                          hf_store_done_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    std::string dev = dev_of(account, device);
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_presence_clear_lua,
                    {key_of(s, account, "p", device), key_of(s, account, "l", device), key_of(s, account, "w")},
                    {server_id, std::to_string(s->host->now_ms(s->host->host))}, [s, cb, arg, dev](redisReply *r) {
                        tell_watchers(s, r, "~0|" + dev);
                        done_status(cb, arg, r);
                    });
}

void store_presence_lookup(void *store, const char *account, const char *device, hf_store_presence_cb cb, void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    hf_redis_call(s->nodes, slot_of(s, account), {"GET", key_of(s, account, "p", device)}, [cb, arg](redisReply *r) {
        if (!r) {
            cb(arg, HF_STORE_UNAVAILABLE, nullptr);
            return;
        }
        std::string id = r->type == REDIS_REPLY_STRING ? presence_server(std::string(r->str, r->len)) : "";
        cb(arg, HF_STORE_OK, id.empty() ? nullptr : id.c_str());
    });
}

void store_watch(void *store, const char *account, const char *server_id, uint64_t ttl_ms, hf_store_done_cb cb,
                 void *arg)
{
    auto *s = static_cast<redis_store *>(store);
    uint64_t now = s->host->now_ms(s->host->host);
    hf_redis_script(s->nodes, slot_of(s, account), hf_redis_watch_lua, {key_of(s, account, "w")},
                    {server_id, std::to_string(now + ttl_ms), std::to_string(now)},
                    [cb, arg](redisReply *r) { done_status(cb, arg, r); });
}

// Asked of the server holding the device, with the notices: "!code|A|D".
void store_kick(void *store, const char *server_id, const char *account, const char *device, int code)
{
    auto *s = static_cast<redis_store *>(store);
    s->notices[server_id]
        .append("!" + std::to_string(code) + "|")
        .append(account)
        .append("|")
        .append(device)
        .append("\n");
    want_flush(s);
}

// ---- open and close --------------------------------------------------

// The nodes the settings name: one address, or a cluster's seeds. 0, or
// -1 with err.
int seeds_of(const hf_setting_value *values, hf_redis_nodes_config *config, char *err, size_t err_len)
{
    std::string cluster = values[cluster_setting].string;
    config->cluster = !cluster.empty();
    if (config->cluster)
        hf_split_list(cluster, &config->seeds);
    else
        config->seeds.push_back(values[address_setting].string);
    for (const std::string &seed : config->seeds) {
        std::string h;
        int p;
        if (!hf_redis_split_address(seed, &h, &p)) {
            snprintf(err, err_len, "store.%s \"%s\": expected host:port", config->cluster ? "cluster" : "address",
                     seed.c_str());
            return -1;
        }
    }
    if (config->seeds.empty()) {
        snprintf(err, err_len, "store.cluster: no host:port in \"%s\"", cluster.c_str());
        return -1;
    }
    return 0;
}

// The nodes and how to reach them. 0, or -1 with err.
int connection_of(const hf_setting_value *values, hf_redis_nodes_config *config, char *err, size_t err_len)
{
    if (seeds_of(values, config, err, err_len) != 0)
        return -1;
    config->password = values[password_setting].string;
    config->database = values[database_setting].number;
    config->timeout_ms = uint64_t(values[timeout_setting].number);
    return 0;
}

int store_health(void *store, char *why, size_t why_len)
{
    std::string said;
    if (hf_redis_nodes_healthy(static_cast<redis_store *>(store)->nodes, &said))
        return 0;
    snprintf(why, why_len, "%s", said.c_str());
    return -1;
}

// The settings' own rules, and then the store format the keys are in
// (redis_format.h): a newer one is a config error.
int store_check(const hf_setting_value *values, char *err, size_t err_len)
{
    hf_redis_nodes_config config;
    if (connection_of(values, &config, err, err_len) != 0)
        return -1;
    return format_check(config, values[prefix_setting].string, err, err_len);
}

int store_open(const hf_host_api *host, const hf_store_params *params, const hf_setting_value *values, void **store,
               char *err, size_t err_len)
{
    hf_redis_nodes_config config;
    if (connection_of(values, &config, err, err_len) != 0)
        return -1;
    auto *s = new redis_store;
    s->host = host;
    s->params = *params;
    s->server_id = params->server_id ? params->server_id : "";
    s->prefix = values[prefix_setting].string;
    s->cluster = config.cluster;
    s->tail.budget = size_t(values[tail_cache_setting].number);
    s->tail.per_device = tail_per_device;
    int64_t replicas = values[replicas_setting].number;
    config.replicas = s->replicas = uint64_t(replicas < 0 ? (config.cluster ? 1 : 0) : replicas);
    config.wait_timeout_ms = uint64_t(values[wait_timeout_setting].number);
    config.channel = s->prefix + "n:" + s->server_id;
    s->flush_event = event_new(host->event_base(host->host), -1, 0, on_flush, s);
    s->nodes = hf_redis_nodes_open(host, config, [s](const char *data, size_t len) { on_notice(s, data, len); });
    format_record(s);
    *store = s;
    return 0;
}

void store_close(void *store)
{
    auto *s = static_cast<redis_store *>(store);
    // What the pass gathered goes to the nodes, which answer it null as
    // they close: every caller is answered, those waiting behind a slot's
    // unanswered enqueue too.
    s->enqueues_out.clear();
    on_flush(-1, 0, s);
    s->closing = true;
    hf_redis_nodes_close(s->nodes);
    event_free(s->flush_event);
    if (s->format_retry)
        event_free(s->format_retry);
    delete s;
}

const hf_store_ops redis_ops = {
    sizeof(hf_store_ops),
    store_open,
    store_close,
    store_enqueue,
    store_fetch,
    store_ack,
    store_add_device,
    store_list_devices,
    store_expire,
    store_presence_set,
    store_presence_clear,
    store_presence_lookup,
    store_notify,
    store_depth,
    store_usage,
    store_device_state,
    store_set_revocation,
    store_kick,
    store_watch,
    store_revocation,
    nullptr, // each_device: every worker shares the store, nothing moves
    nullptr, // move_device
    store_check,
    store_health,
    HF_STORE_SHARED,
    store_queued_devices,
    store_ack_sent,
    format_name,
    store_presence_refresh,
    store_record_put,
    store_records,
};

} // namespace

HF_MODULE_DECLARE(HF_MODULE_STORE, "redis",
                  "queues, presence and notifications in Redis or a Redis Cluster, shared by several servers", settings,
                  setting_count, &redis_ops)
