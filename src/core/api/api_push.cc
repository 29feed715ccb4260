// Web Push (docs/push.md): the push resources application servers POST
// to, RFC 8030 with RFC 8292's VAPID, and UnifiedPush's discovery GET.
// A push is a message from "+<app>" (push_message.h) through the same
// router and store as any: queued, acknowledged and kept while the device
// is away. Its body is the application server's aes128gcm ciphertext,
// passed through as it came: the relay cannot read it.
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include <strings.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/api/api_call.h"
#include "core/common/jwt.h"
#include "core/server/push_endpoint.h"
#include "core/server/enqueue_arg.h"
#include "core/server/push_message.h"
#include "core/server/router.h"
#include "proto/clock.h"
#include "proto/ece.h"
#include "proto/token.h"

namespace
{

// RFC 8292, section 2: a VAPID JWT's exp at most a day ahead.
const uint64_t vapid_max_ahead_s = 24 * 3600;
// RFC 8030, section 5.4: a Topic is at most 32 base64url characters.
const size_t topic_max = 32;
// Subscriptions whose rate is followed at once; past it, the buckets
// start again full (a burst more for each, once).
const size_t push_buckets_max = 100000;

// One push while the store and the router are asked.
struct push_call {
    hf_api_call *call;
    std::string id; // the subscription's, from the endpoint
    std::string body, topic, vapid;
    uint64_t ttl_s = 0, urgency = HF_URGENCY_NORMAL;
    uint64_t msg_id = 0;
    std::string location; // where the push can be cancelled: /push/message/<sealed>
};

const char *header(hf_api_call *call, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(call->req), name);
}

// The origin of push.url (RFC 6454: scheme, host and port), the aud a
// VAPID JWT must name.
std::string origin_of(const std::string &url)
{
    size_t path = url.find('/', 8);
    std::string origin = url.substr(0, path);
    if (origin.size() > 4 && origin.compare(origin.size() - 4, 4, ":443") == 0)
        origin.resize(origin.size() - 4);
    return origin;
}

// "vapid t=<JWT>, k=<key>" (RFC 8292, section 3): false if it is not one.
bool read_vapid(const char *authorization, std::string *jwt, std::string *key)
{
    if (!authorization || strncasecmp(authorization, "vapid ", 6) != 0)
        return false;
    std::string params = authorization + 6, key_text;
    size_t at = 0;
    while (at < params.size()) {
        size_t end = params.find(',', at);
        if (end == std::string::npos)
            end = params.size();
        std::string param = params.substr(at, end - at);
        size_t first = param.find_first_not_of(" \t"), last = param.find_last_not_of(" \t");
        param = first == std::string::npos ? "" : param.substr(first, last - first + 1);
        if (param.compare(0, 2, "t=") == 0)
            *jwt = param.substr(2);
        else if (param.compare(0, 2, "k=") == 0)
            key_text = param.substr(2);
        at = end + 1;
    }
    while (!key_text.empty() && key_text.back() == '=')
        key_text.pop_back();
    return !jwt->empty() && hf_base64url_decode(key_text, key);
}

// The headers of a push, checked: false once the call is answered.
bool read_headers(push_call *p)
{
    hf_api_call *call = p->call;
    const hf_config &cfg = *call->api->cfg;
    const char *encoding = header(call, "Content-Encoding");
    if (!encoding || strcasecmp(encoding, "aes128gcm") != 0) {
        hf_api_fail(call, 415, "unsupported_encoding",
                    "a push needs \"Content-Encoding: aes128gcm\": its body encrypted to the subscription's keys "
                    "(RFC 8291)");
        return false;
    }
    const char *ttl = header(call, "TTL");
    char *end = nullptr;
    errno = 0;
    unsigned long long ttl_s = ttl && *ttl && strspn(ttl, "0123456789") == strlen(ttl) ? strtoull(ttl, &end, 10) : 0;
    if (!ttl || !*ttl || strspn(ttl, "0123456789") != strlen(ttl) || errno != 0) {
        hf_api_fail(call, 400, "bad_ttl", "a push needs a TTL header: how many seconds it may wait (RFC 8030, 5.2)");
        return false;
    }
    // Kept for at most limits.max_ttl, and a push that may not wait at
    // all is still given a second to reach a device online now.
    p->ttl_s = std::max<uint64_t>(1, std::min<uint64_t>(ttl_s, uint64_t(cfg.max_ttl_ms) / 1000));
    if (const char *urgency = header(call, "Urgency")) {
        const char *names[] = {"very-low", "low", "normal", "high"};
        p->urgency = 4;
        for (uint64_t u = 0; u < 4; u++)
            if (strcasecmp(urgency, names[u]) == 0)
                p->urgency = u;
        if (p->urgency == 4) {
            hf_api_fail(call, 400, "bad_urgency", "Urgency must be very-low, low, normal or high (RFC 8030, 5.3)");
            return false;
        }
    }
    if (const char *topic = header(call, "Topic")) {
        // Characters of the base64url alphabet: a name, not encoded bytes.
        p->topic = topic;
        const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        if (p->topic.empty() || p->topic.size() > topic_max ||
            p->topic.find_first_not_of(alphabet) != std::string::npos) {
            hf_api_fail(call, 400, "bad_topic", "Topic must be 1-32 base64url characters (RFC 8030, 5.4)");
            return false;
        }
    }
    evbuffer *in = evhttp_request_get_input_buffer(call->req);
    size_t len = evbuffer_get_length(in);
    if (len > size_t(cfg.push_max_body)) {
        hf_api_fail(call, 413, "body_too_large",
                    "the push body is " + std::to_string(len) + " bytes; push.max_body is " +
                        std::to_string(cfg.push_max_body));
        return false;
    }
    p->body.assign(reinterpret_cast<const char *>(evbuffer_pullup(in, -1)), len);
    return true;
}

// An answer from the router: 201 with where the message is.
void answered(void *arg, const hf_send_outcome *o)
{
    auto *p = static_cast<push_call *>(arg);
    hf_api_call *call = p->call;
    if (o->status == HF_SEND_REJECTED) {
        hf_api_fail(call, hf_api_status_of(o->code), hf_err_name(o->code), o->text, o->retry_ms);
    } else {
        if (call->req) {
            evkeyvalq *out = evhttp_request_get_output_headers(call->req);
            std::string ttl = std::to_string(p->ttl_s);
            evhttp_add_header(out, "Location", p->location.c_str());
            evhttp_add_header(out, "TTL", ttl.c_str());
        }
        hf_api_reply(call, 201,
                     json_pack("{s:s, s:s}", "status", o->status == HF_SEND_DELIVERED ? "delivered" : "stored", "id",
                               std::to_string(p->msg_id).c_str()));
    }
    delete p;
}

// RFC 8292, section 4: a subscription made with an application server's
// key takes pushes signed with that key only.
bool vapid_holds(push_call *p, const hf_subscription &sub)
{
    if (sub.vapid_key.empty())
        return true;
    hf_api_call *call = p->call;
    std::string jwt, key, why;
    if (!read_vapid(header(call, "Authorization"), &jwt, &key)) {
        hf_api_fail(call, 401, "unauthorized",
                    "this subscription takes pushes signed by its application server: send \"Authorization: vapid "
                    "t=<JWT>, k=<key>\" (RFC 8292)");
        return false;
    }
    if (key != sub.vapid_key) {
        hf_api_fail(call, 403, "forbidden", "k is not the key this subscription was made with");
        return false;
    }
    if (!hf_jwt_verify_vapid(jwt, key, origin_of(call->api->cfg->push_url), hf_wall_ms() / 1000, vapid_max_ahead_s,
                             &why)) {
        hf_api_fail(call, 401, "unauthorized", "the VAPID JWT is refused: " + why);
        return false;
    }
    return true;
}

void records_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *p = static_cast<push_call *>(arg);
    hf_api_call *call = p->call;
    if (status != HF_STORE_OK) {
        hf_api_fail_store(call, status);
        delete p;
        return;
    }
    hf_subscription sub;
    bool found = false;
    for (const hf_subscription &one : hf_subscriptions_of(records, count))
        if (one.id == p->id) {
            sub = one;
            found = true;
        }
    if (!found) {
        hf_api_fail(call, 410, "gone", "the device unsubscribed: this push resource is no more");
        delete p;
        return;
    }
    if (!vapid_holds(p, sub)) {
        delete p;
        return;
    }
    hf_api *api = call->api;
    p->msg_id = api->next_msg_id++;
    std::string from = hf_push_from(sub.app), payload = hf_push_payload(p->urgency, p->body);
    std::string collapse = hf_push_collapse(sub.app, p->topic, p->msg_id);
    p->location = "/push/message/" +
                  hf_push_seal(api->cfg->push_key, {"message", call->account, call->device, sub.app, collapse});
    hf_send_request req{call->account, from, call->device, p->msg_id, collapse, payload, true, p->ttl_s, true};
    hf_router_submit(api->server->router, &req, answered, p);
}

void revocation_read(void *arg, int status, uint64_t, int revoked)
{
    auto *p = static_cast<push_call *>(arg);
    hf_api_call *call = p->call;
    if (status != HF_STORE_OK) {
        hf_api_fail_store(call, status);
        delete p;
    } else if (revoked) {
        hf_api_fail(call, 410, "gone", "the device was revoked: its subscriptions are no more");
        delete p;
    } else {
        call->api->server->store(&hf_store_ops::records, call->account.c_str(), call->device.c_str(), records_read, p);
    }
}

// A cancel's enqueue: the API call waits for it to be durable.
struct cancel_arg : hf_enqueue_arg {
    hf_api_call *call;
};

bool cancel_applied(hf_enqueue_arg *, uint64_t)
{
    return true;
}

void cancelled(void *arg, int status, uint64_t, int)
{
    auto *cancel = static_cast<cancel_arg *>(static_cast<hf_enqueue_arg *>(arg));
    hf_api_call *call = cancel->call;
    delete cancel;
    if (status != HF_STORE_OK && status != HF_STORE_DUPLICATE)
        return hf_api_fail_store(call, status);
    hf_api_reply(call, 204, json_object()); // libevent sends no body with a 204
}

// RFC 8030, section 7.3: DELETE on a push's Location. Its collapse key
// takes a push expired already, which replaces it if the device has not
// acknowledged it, and which no fetch returns: the push is gone, or was
// delivered before. Either way 204.
void cancel(hf_api_call *call, const std::string &sealed)
{
    hf_api *api = call->api;
    std::vector<std::string> parts;
    if (!hf_push_unseal(api->cfg->push_key, sealed, 5, &parts) || parts[0] != "message") {
        hf_api_fail(call, 404, "not_found", "no such push message");
        return;
    }
    call->account = parts[1];
    call->device = parts[2];
    if (hf_api_send_home(call))
        return;
    std::string from = hf_push_from(parts[3]);
    uint64_t now = hf_wall_ms();
    hf_store_enqueue_req req{call->account.c_str(),
                             call->device.c_str(),
                             from.c_str(),
                             api->next_msg_id++,
                             parts[4].c_str(),
                             nullptr,
                             0,
                             now,
                             now};
    auto *arg = new cancel_arg;
    arg->applied = cancel_applied;
    arg->call = call;
    api->server->store(&hf_store_ops::enqueue, &req, cancelled, static_cast<hf_enqueue_arg *>(arg));
}

} // namespace

void hf_api_push_counted(hf_api_call *call, int status)
{
    if (evhttp_request_get_command(call->req) == EVHTTP_REQ_GET)
        return; // UnifiedPush's discovery: no push
    hf_push_outcome o = status == 201                    ? hf_push_outcome::accepted
                        : status == 204                  ? hf_push_outcome::cancelled
                        : status == 413                  ? hf_push_outcome::too_large
                        : status == 401 || status == 403 ? hf_push_outcome::unauthorized
                        : status == 410                  ? hf_push_outcome::gone
                        : status == 429                  ? hf_push_outcome::rate_limited
                        : status == 404                  ? hf_push_outcome::not_found
                        : status >= 500                  ? hf_push_outcome::failed
                                                         : hf_push_outcome::bad_request;
    call->api->server->stats->pushes[size_t(o)]++;
}

void hf_api_push(hf_api_call *call, const std::vector<std::string> &segments)
{
    hf_api *api = call->api;
    const hf_config &cfg = *api->cfg;
    call->route = "push";
    evhttp_cmd_type method = evhttp_request_get_command(call->req);
    if (!cfg.push_key.empty() && segments.size() == 3 && segments[1] == "message") {
        if (method == EVHTTP_REQ_DELETE)
            return cancel(call, segments[2]);
        evhttp_add_header(evhttp_request_get_output_headers(call->req), "Allow", "DELETE");
        return hf_api_fail(call, 405, "method_not_allowed", "a push's Location takes DELETE (cancels the push)");
    }
    std::string id;
    if (cfg.push_key.empty() || segments.size() != 2 ||
        !hf_push_endpoint_open(cfg.push_key, segments[1], &call->account, &call->device, &id)) {
        hf_api_fail(call, 404, "not_found", "no such push resource");
        return;
    }
    if (method == EVHTTP_REQ_GET) {
        // UnifiedPush's discovery: this endpoint takes its pushes.
        hf_api_reply(call, 200, json_pack("{s:{s:i}}", "unifiedpush", "version", 1));
        return;
    }
    if (method != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(call->req), "Allow", "GET, POST");
        hf_api_fail(call, 405, "method_not_allowed", "a push resource takes POST (a push) and GET");
        return;
    }
    if (hf_api_send_home(call))
        return;
    auto *p = new push_call{call, id, {}, {}, {}, 0, HF_URGENCY_NORMAL, 0, {}};
    if (!read_headers(p)) {
        delete p;
        return;
    }
    if (api->push_buckets.size() > push_buckets_max)
        api->push_buckets.clear();
    uint64_t wait_ms = 0;
    if (!hf_token_bucket_take(&api->push_buckets[id], uint64_t(cfg.push_rate), uint64_t(cfg.push_burst), hf_mono_ms(),
                              &wait_ms)) {
        hf_api_fail(call, 429, "rate_limited", "this push resource is past push.rate", wait_ms > 0 ? wait_ms : 1);
        delete p;
        return;
    }
    if (!api->server->store.has(&hf_store_ops::revocation)) {
        revocation_read(p, HF_STORE_OK, 0, 0);
        return;
    }
    api->server->store(&hf_store_ops::revocation, call->account.c_str(), call->device.c_str(), revocation_read, p);
}
