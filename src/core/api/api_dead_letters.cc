// The dead-letter routes: what a device could not take
// (core/common/dead_letter.h), for one device or every device of an
// account. GET lists the entries (without their payloads); POST .../retry
// sends each again to its device through the router, from its original
// sender with a new id (the original id is taken, and the device may have
// seen it), and removes those the router took; POST .../purge removes
// them all.
#include "core/api/api_call.h"
#include "core/common/dead_letter.h"
#include "core/server/router.h"
#include "proto/clock.h"
#include "proto/frame.h"

namespace
{

enum class action { list, retry, purge };

// A call across the devices it names, one device at a time.
struct dead_letter_call {
    hf_api_call *call = nullptr;
    action what = action::list;
    std::vector<std::string> devices;
    size_t at = 0;            // the device being worked on
    std::string queue;        // its dead-letter queue
    json_t *listed = nullptr; // list: every entry so far
    uint64_t done = 0;        // retried or purged
    uint64_t left = 0;        // retry: what stays in the lists
    std::string first_error;  // retry: why the first one that stays did
    // retry: the current device's entries and what the router said of each
    std::vector<hf_dead_letter> entries;
    std::vector<std::string> payloads;
    std::vector<int> outcomes; // -1 while unanswered, else an hf_err code
    size_t unanswered = 0;
};

void next_device(dead_letter_call *d);

hf_server *server_of(const dead_letter_call *d)
{
    return d->call->api->server;
}

void finish(dead_letter_call *d)
{
    json_t *body = json_pack("{s:s}", "account", d->call->account.c_str());
    if (!d->call->device.empty())
        json_object_set_new(body, "device", json_string(d->call->device.c_str()));
    if (d->what == action::list) {
        json_object_set(body, "dead_letters", d->listed);
    } else {
        json_object_set_new(body, d->what == action::retry ? "retried" : "purged", json_integer(json_int_t(d->done)));
        if (d->what == action::retry) {
            json_object_set_new(body, "left", json_integer(json_int_t(d->left)));
            json_object_set_new(body, "error", d->left ? json_string(d->first_error.c_str()) : json_null());
        }
    }
    hf_api_reply(d->call, 200, body);
    json_decref(d->listed);
    delete d;
}

// A store call's answer that ends the route. True once d is answered.
bool ended(dead_letter_call *d, int status)
{
    if (d->call->req && status == HF_STORE_OK)
        return false;
    if (!d->call->req)
        hf_api_reply(d->call, 503, json_object());
    else
        hf_api_fail_store(d->call, status);
    json_decref(d->listed);
    delete d;
    return true;
}

json_t *entry_json(const std::string &device, const hf_dead_letter &e)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I}", "device", device.c_str(), "seq",
                          json_int_t(e.seq), "from", e.from.c_str(), "id", std::to_string(e.msg_id).c_str(), "code",
                          e.code, "error", hf_err_name(e.code), "reason", e.reason.c_str(), "dead_at_ms",
                          json_int_t(e.dead_at_ms), "stored_at_ms", json_int_t(e.stored_at_ms), "expires_at_ms",
                          json_int_t(e.expires_at_ms), "size", json_int_t(e.payload.size()));
    json_object_set_new(o, "collapse", e.collapse_key.empty() ? json_null() : json_string(e.collapse_key.c_str()));
    return o;
}

void removed(void *arg, int status)
{
    auto *d = static_cast<dead_letter_call *>(arg);
    if (ended(d, status))
        return;
    if (d->what == action::retry)
        d->at++;
    next_device(d); // purge: the same device again, until its list is empty
}

// Removes the device's entries up to seq (0: none) and goes on.
void remove_upto(dead_letter_call *d, uint64_t seq)
{
    if (seq == 0) {
        d->at++;
        next_device(d);
        return;
    }
    server_of(d)->store(&hf_store_ops::ack, d->call->account.c_str(), d->queue.c_str(), seq, removed, d);
}

// Every retried entry answered: the leading run the router took goes.
void retries_answered(dead_letter_call *d)
{
    uint64_t upto = 0;
    size_t i = 0;
    for (; i < d->entries.size() && d->outcomes[i] == HF_OK; i++)
        upto = d->entries[i].seq;
    d->done += i;
    d->left += d->entries.size() - i;
    if (i < d->entries.size() && d->first_error.empty())
        d->first_error = hf_err_name(d->outcomes[i]);
    d->entries.clear();
    d->payloads.clear();
    remove_upto(d, upto);
}

struct retry_slot {
    dead_letter_call *d;
    size_t index;
};

void retry_answered(void *arg, const hf_send_outcome *o)
{
    auto *slot = static_cast<retry_slot *>(arg);
    dead_letter_call *d = slot->d;
    d->outcomes[slot->index] = o->status == HF_SEND_REJECTED ? o->code : HF_OK;
    delete slot;
    if (--d->unanswered == 0)
        retries_answered(d);
}

void retry_all(dead_letter_call *d)
{
    const std::string &device = d->devices[d->at];
    d->outcomes.assign(d->entries.size(), -1);
    d->unanswered = d->entries.size() + 1; // this function's own, last
    for (size_t i = 0; i < d->entries.size(); i++) {
        const hf_dead_letter &e = d->entries[i];
        hf_send_request req{d->call->account, e.from, device, d->call->api->next_msg_id++, e.collapse_key,
                            e.payload,        false,  0,      !e.collapse_key.empty()};
        hf_router_submit(server_of(d)->router, &req, retry_answered, new retry_slot{d, i});
    }
    if (--d->unanswered == 0)
        retries_answered(d);
}

void fetched(void *arg, int status, const hf_store_msg *msgs, size_t count)
{
    auto *d = static_cast<dead_letter_call *>(arg);
    if (ended(d, status))
        return;
    const std::string &device = d->devices[d->at];
    if (d->what == action::purge) {
        d->done += count;
        remove_upto(d, count ? msgs[count - 1].seq : 0);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        hf_dead_letter e;
        if (!hf_dead_letter_decode(&msgs[i], &e)) {
            // Not in this server's format: left as it is, and so is every
            // entry after it (a retry removes a leading run).
            hf_log(HF_LOG_ERROR, "%s/%s: dead letter seq %llu does not decode; left in the list",
                   d->call->account.c_str(), device.c_str(), (unsigned long long)msgs[i].seq);
            if (d->what == action::list)
                continue;
            d->left += count - i;
            if (d->first_error.empty())
                d->first_error = "undecodable";
            break;
        }
        if (d->what == action::list) {
            json_array_append_new(d->listed, entry_json(device, e));
            continue;
        }
        d->payloads.emplace_back(e.payload);
        d->entries.push_back(std::move(e));
    }
    if (d->what == action::list) {
        d->at++;
        next_device(d);
        return;
    }
    // The views into the store's messages are gone after this callback.
    for (size_t i = 0; i < d->entries.size(); i++)
        d->entries[i].payload = d->payloads[i];
    retry_all(d);
}

void next_device(dead_letter_call *d)
{
    if (d->at == d->devices.size()) {
        finish(d);
        return;
    }
    const hf_config &cfg = *server_of(d)->cfg;
    d->queue = hf_dead_letter_queue(d->devices[d->at]);
    server_of(d)->store(&hf_store_ops::fetch, d->call->account.c_str(), d->queue.c_str(), uint64_t(0),
                        uint32_t(cfg.queue_max_messages), uint64_t(cfg.queue_max_bytes),
                        hf_expiry_now(&server_of(d)->expiry_clock), fetched, d);
}

void devices_listed(void *arg, int status, const char *const *devices, size_t count)
{
    auto *d = static_cast<dead_letter_call *>(arg);
    if (ended(d, status))
        return;
    d->devices.assign(devices, devices + count);
    if (!hf_api_devices_known(d->call, d->devices)) {
        json_decref(d->listed);
        delete d;
        return;
    }
    if (!d->call->device.empty())
        d->devices = {d->call->device};
    next_device(d);
}

void start(hf_api_call *call, action what)
{
    if (what != action::list && !hf_api_no_fields(call))
        return;
    auto *d = new dead_letter_call;
    d->call = call;
    d->what = what;
    d->listed = json_array();
    call->api->server->store(&hf_store_ops::list_devices, call->account.c_str(), devices_listed, d);
}

} // namespace

void hf_api_dead_letters(hf_api_call *call)
{
    start(call, action::list);
}

void hf_api_retry_dead_letters(hf_api_call *call)
{
    start(call, action::retry);
}

void hf_api_purge_dead_letters(hf_api_call *call)
{
    start(call, action::purge);
}
