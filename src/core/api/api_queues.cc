// The queue routes: what an account holds against its quota
// (limits.account_max_messages and limits.account_max_bytes), queue by
// queue, and a purge of the queues of devices that never connected, which
// a sender can fill with made-up device names while unknown_devices is
// "store". GET .../queues lists every queue that holds anything; POST
// .../queues/purge with {"never_connected": true} empties those.
#include <algorithm>
#include <cstring>
#include <set>

#include "core/api/api_call.h"
#include "core/common/dead_letter.h"
#include "core/server/queue_purge.h"

namespace
{

// One queue of the account, as the store holds it.
struct queue_row {
    std::string queue;  // the store's name: a device's, or its dead letters' (device~dead)
    std::string device; // whose it is
    bool dead_letters = false;
    bool never_connected = false;
    uint64_t messages = 0, bytes = 0;
};

struct queues_call {
    hf_api_call *call = nullptr;
    bool purge = false;
    std::set<std::string> known; // the account's devices that connected
    std::vector<queue_row> rows;
    size_t waiting = 0, at = 0;
    int failed = HF_STORE_OK;
    uint64_t purged = 0;
    json_t *purged_rows = nullptr;
};

hf_server *server_of(const queues_call *q)
{
    return q->call->api->server;
}

void finish(queues_call *q, int status, json_t *body)
{
    hf_api_reply(q->call, status, body);
    json_decref(q->purged_rows);
    delete q;
}

// A store's answer that ends the call: the API closed, or the store failed.
bool ended(queues_call *q, int status)
{
    if (!q->call->req) {
        finish(q, 503, json_object());
        return true;
    }
    if (status != HF_STORE_OK) {
        hf_api_fail_store(q->call, status);
        json_decref(q->purged_rows);
        delete q;
        return true;
    }
    return false;
}

// ---- the list ------------------------------------------------------------

void list_answer(queues_call *q)
{
    const hf_config &cfg = *server_of(q)->cfg;
    std::sort(q->rows.begin(), q->rows.end(), [](const queue_row &a, const queue_row &b) { return a.queue < b.queue; });
    json_t *queues = json_array();
    uint64_t messages = 0, bytes = 0;
    for (const queue_row &r : q->rows) {
        if (r.messages == 0)
            continue; // emptied since the store named it
        messages += r.messages;
        bytes += r.bytes;
        json_array_append_new(queues, json_pack("{s:s, s:b, s:b, s:I, s:I}", "device", r.device.c_str(), "dead_letters",
                                                r.dead_letters, "never_connected", r.never_connected, "messages",
                                                json_int_t(r.messages), "bytes", json_int_t(r.bytes)));
    }
    finish(q, 200,
           json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "account", q->call->account.c_str(), "messages",
                     json_int_t(messages), "bytes", json_int_t(bytes), "max_messages",
                     json_int_t(cfg.account_max_messages), "max_bytes", json_int_t(cfg.account_max_bytes), "queues",
                     queues));
}

struct row_slot {
    queues_call *q;
    size_t index;
};

void row_done(queues_call *q)
{
    if (--q->waiting > 0)
        return;
    if (q->failed != HF_STORE_OK)
        ended(q, q->failed);
    else
        list_answer(q);
}

void row_read(void *arg, int status, const hf_store_device_state *st)
{
    auto *slot = static_cast<row_slot *>(arg);
    queues_call *q = slot->q;
    if (status != HF_STORE_OK) {
        q->failed = status;
    } else {
        q->rows[slot->index].messages = st->queue_messages;
        q->rows[slot->index].bytes = st->queue_bytes;
    }
    delete slot;
    row_done(q);
}

void describe_rows(queues_call *q)
{
    q->waiting = q->rows.size() + 1; // the last answer, or this function, finishes
    for (size_t i = 0; i < q->rows.size(); i++)
        server_of(q)->store(&hf_store_ops::device_state, q->call->account.c_str(), q->rows[i].queue.c_str(), row_read,
                            new row_slot{q, i});
    row_done(q);
}

// ---- the purge -----------------------------------------------------------

void purge_next(queues_call *q);

void row_purged(void *arg, int status, uint64_t purged)
{
    auto *q = static_cast<queues_call *>(arg);
    if (ended(q, status))
        return;
    const queue_row &r = q->rows[q->at++];
    q->purged += purged;
    json_array_append_new(q->purged_rows, json_pack("{s:s, s:b, s:I}", "device", r.device.c_str(), "dead_letters",
                                                    r.dead_letters, "messages", json_int_t(purged)));
    purge_next(q);
}

void purge_next(queues_call *q)
{
    while (q->at < q->rows.size() && !q->rows[q->at].never_connected)
        q->at++;
    if (q->at < q->rows.size()) {
        hf_queue_purge(server_of(q), q->call->account, q->rows[q->at].queue, row_purged, q);
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:O}", "account", q->call->account.c_str(), "messages", json_int_t(q->purged),
                             "purged", q->purged_rows);
    finish(q, 200, body);
}

// ---- both ----------------------------------------------------------------

void queued_listed(void *arg, int status, const char *const *queues, size_t count)
{
    auto *q = static_cast<queues_call *>(arg);
    if (ended(q, status))
        return;
    size_t suffix = strlen(hf_dead_letter_suffix);
    for (size_t i = 0; i < count; i++) {
        queue_row r;
        r.queue = r.device = queues[i];
        if (r.device.size() > suffix && r.device.compare(r.device.size() - suffix, suffix, hf_dead_letter_suffix) == 0)
            r.device.resize(r.device.size() - suffix), r.dead_letters = true;
        r.never_connected = q->known.count(r.device) == 0;
        q->rows.push_back(std::move(r));
    }
    if (q->purge)
        purge_next(q);
    else
        describe_rows(q);
}

void devices_listed(void *arg, int status, const char *const *devices, size_t count)
{
    auto *q = static_cast<queues_call *>(arg);
    if (ended(q, status))
        return;
    q->known.insert(devices, devices + count);
    server_of(q)->store(&hf_store_ops::queued_devices, q->call->account.c_str(), queued_listed, q);
}

void start(hf_api_call *call, bool purge)
{
    hf_server *srv = call->api->server;
    if (!srv->store.has(&hf_store_ops::queued_devices) || !srv->store.has(&hf_store_ops::device_state)) {
        hf_api_fail(call, 501, "not_supported",
                    "the store module does not list an account's queues (an older module?)");
        return;
    }
    auto *q = new queues_call;
    q->call = call;
    q->purge = purge;
    q->purged_rows = json_array();
    srv->store(&hf_store_ops::list_devices, call->account.c_str(), devices_listed, q);
}

} // namespace

void hf_api_list_queues(hf_api_call *call)
{
    start(call, false);
}

void hf_api_purge_queues(hf_api_call *call)
{
    json_t *never_connected = call->body ? json_object_get(call->body, "never_connected") : nullptr;
    if (!json_is_true(never_connected) || json_object_size(call->body) != 1) {
        hf_api_fail(call, 400, "bad_field",
                    "say which queues to purge: {\"never_connected\": true} (the queues of devices that never "
                    "connected) is the one choice");
        return;
    }
    start(call, true);
}
