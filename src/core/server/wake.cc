#include "core/server/wake.h"

#include <memory>
#include <unordered_map>

#include "core/conn/conn.h"
#include "core/conn/token_bucket.h"
#include "core/server/online.h"
#include "core/server/server.h"
#include "core/server/session.h"
#include "core/wake/endpoint_policy.h"
#include "proto/build.h"
#include "proto/clock.h"

namespace
{

// One sleeping device's wake-up: being sent, or sent at last_sent_ms
// (then another waits out wake.min_interval), or routes waiting to be
// tried again.
struct device_wake {
    hf_wake *w;
    std::string account, device;
    uint64_t last_sent_ms = 0; // monotonic; 0: none sent
    // When its records showed no route (monotonic; 0: not so): its next
    // messages within wake.min_interval do not read them again, so a
    // device without routes costs the store one read per interval, not
    // one per message.
    uint64_t routeless_ms = 0;
    bool reading = false; // its routes are being read
    size_t out = 0;       // wake-ups with their providers
    uint32_t attempt = 0; // tries so far of the routes in retry
    uint64_t retry_after_ms = 0;
    std::vector<hf_wake_route> retry;
    hf_event_ptr retry_timer; // goes with the device's state (it connected)
};

} // namespace

struct hf_wake {
    hf_server *srv;
    hf_wake_sender *sender;
    std::unordered_map<std::string, std::unique_ptr<device_wake>> devices; // by hf_online_key
    std::unordered_map<std::string, hf_token_bucket> buckets;              // by device key '\0' provider
    uint64_t stored_calls = 0;
    bool closing = false; // hf_wake_close: answers start nothing more
};

namespace
{

void count(hf_server *srv, hf_wake_provider provider, int outcome)
{
    srv->stats->wakeups[int(provider)][outcome]++;
}

device_wake *find(hf_wake *w, const std::string &key)
{
    auto it = w->devices.find(key);
    return it == w->devices.end() ? nullptr : it->second.get();
}

bool busy(const device_wake *d)
{
    return d->reading || d->out > 0 || !d->retry.empty();
}

// Devices whose last wake-up is older than wake.min_interval and that wait
// for nothing need no state: a new message wakes them at once anyway.
void prune(hf_wake *w, uint64_t now)
{
    auto min_interval = uint64_t(w->srv->cfg->wake_min_interval_ms);
    for (auto it = w->devices.begin(); it != w->devices.end();) {
        const device_wake *d = it->second.get();
        if (!busy(d) && now - std::max(d->last_sent_ms, d->routeless_ms) >= min_interval)
            it = w->devices.erase(it);
        else
            ++it;
    }
}

struct route_call {
    hf_wake *w;
    std::string key;
    hf_wake_route route;
};

void send_routes(hf_wake *w, device_wake *d, const std::string &key, std::vector<hf_wake_route> routes);

void retry_now(evutil_socket_t, short, void *arg)
{
    auto *d = static_cast<device_wake *>(arg);
    std::vector<hf_wake_route> routes;
    routes.swap(d->retry);
    send_routes(d->w, d, hf_device_key(d->account, d->device), routes);
}

// After a wake-up's last answer: the routes to retry are tried again
// once their delay has passed; a device with nothing sent and nothing to
// retry keeps no state.
void settle(hf_wake *w, const std::string &key)
{
    device_wake *d = find(w, key);
    if (!d || d->out > 0)
        return;
    if (d->retry.empty()) {
        if (d->last_sent_ms == 0 && d->routeless_ms == 0)
            w->devices.erase(key);
        return;
    }
    const hf_config *cfg = w->srv->cfg;
    uint64_t backoff = uint64_t(cfg->wake_retry_base_ms) << std::min<uint32_t>(d->attempt, 20);
    uint64_t delay = std::min<uint64_t>(std::max(backoff, d->retry_after_ms), uint64_t(cfg->wake_retry_cap_ms));
    d->attempt++;
    d->retry_after_ms = 0;
    d->retry_timer.reset(event_new(w->srv->conns->base, -1, 0, retry_now, d));
    hf_timeout_arm(w->srv->conns->timeouts, d->retry_timer.get(), delay);
}

// The provider says the app is gone from the device: its route goes;
// the message stays queued for when it connects.
void drop_gone(hf_server *srv, const std::string &account, const std::string &device, hf_wake_provider provider,
               const hf_wake_result &result)
{
    hf_log(HF_LOG_INFO, "%s/%s: the %s wake route is gone (%s): dropped", account.c_str(), device.c_str(),
           hf_wake_provider_name(provider), result.detail.c_str());
    hf_wake_drop_route(srv, account, device, provider, hf_server_store_done,
                       const_cast<char *>("dropping a gone wake route"));
}

void route_answered(void *arg, const hf_wake_result *result)
{
    std::unique_ptr<route_call> call(static_cast<route_call *>(arg));
    hf_wake *w = call->w;
    hf_server *srv = w->srv;
    if (w->closing)
        return;
    device_wake *d = find(w, call->key);
    const char *provider = hf_wake_provider_name(call->route.provider);
    count(srv, call->route.provider, int(result->outcome));
    switch (result->outcome) {
    case hf_wake_outcome::sent:
        if (d)
            d->last_sent_ms = hf_mono_ms();
        break;
    case hf_wake_outcome::gone: {
        size_t nul = call->key.find('\0');
        drop_gone(srv, call->key.substr(0, nul), call->key.substr(nul + 1), call->route.provider, *result);
        break;
    }
    case hf_wake_outcome::retry:
        if (d && d->attempt + 1 < uint32_t(srv->cfg->wake_max_attempts)) {
            d->retry.push_back(call->route);
            d->retry_after_ms = std::max(d->retry_after_ms, result->retry_after_ms);
        } else {
            hf_log(HF_LOG_WARNING, "wake-up through %s given up after %lld tries: %s", provider,
                   (long long)srv->cfg->wake_max_attempts, result->detail.c_str());
        }
        break;
    case hf_wake_outcome::failed:
        hf_log(HF_LOG_WARNING, "wake-up through %s failed: %s", provider, result->detail.c_str());
        break;
    }
    if (d) {
        d->out--;
        settle(w, call->key);
    }
}

void send_routes(hf_wake *w, device_wake *d, const std::string &key, std::vector<hf_wake_route> routes)
{
    hf_server *srv = w->srv;
    uint64_t now = hf_mono_ms(), wait_ms;
    for (const hf_wake_route &route : routes) {
        hf_token_bucket &bucket = w->buckets[key + '\0' + hf_wake_provider_name(route.provider)];
        // wake.rate is per hour: the bucket's clock ticks once every 3.6 s
        // (its rate is per thousand ticks).
        if (!hf_token_bucket_take(&bucket, uint64_t(srv->cfg->wake_rate), uint64_t(srv->cfg->wake_burst), now / 3600,
                                  &wait_ms)) {
            count(srv, route.provider, HF_WAKE_RATE_LIMITED);
            continue;
        }
        d->out++;
        hf_wake_send(w->sender, route, route_answered, new route_call{w, key, route});
    }
    settle(w, key);
}

struct read_call {
    hf_wake *w;
    std::string key;
};

void routes_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    std::unique_ptr<read_call> call(static_cast<read_call *>(arg));
    if (call->w->closing)
        return;
    device_wake *d = find(call->w, call->key);
    if (!d)
        return; // it connected meanwhile
    d->reading = false;
    std::vector<hf_wake_route> routes;
    if (status == HF_STORE_OK)
        routes = hf_wake_routes_of(records, count);
    else
        hf_log(HF_LOG_DEBUG, "wake-up of %s/%s: the store could not read its routes (status %d)", d->account.c_str(),
               d->device.c_str(), status);
    if (status == HF_STORE_OK && routes.empty())
        d->routeless_ms = hf_mono_ms();
    send_routes(call->w, d, call->key, routes);
}

} // namespace

hf_wake *hf_wake_new(hf_server *srv, hf_wake_sender *sender)
{
    return new hf_wake{srv, sender, {}, {}, 0};
}

void hf_wake_close(hf_wake *wake)
{
    if (wake)
        wake->closing = true;
}

void hf_wake_free(hf_wake *wake)
{
    if (!wake)
        return;
    wake->closing = true;
    hf_wake_sender_free(wake->sender);
    delete wake;
}

bool hf_wake_enabled(const hf_server *srv)
{
    return srv->wake && !srv->wake->closing && srv->store.has(&hf_store_ops::records) &&
           srv->store.has(&hf_store_ops::record_put);
}

std::string hf_wake_vapid_key(const hf_server *srv)
{
    return srv->wake ? hf_wake_sender_options(srv->wake->sender).vapid.public_key : "";
}

bool hf_wake_serves_provider(const hf_server *srv, hf_wake_provider provider)
{
    return srv->wake && hf_wake_serves(hf_wake_sender_options(srv->wake->sender), provider);
}

void hf_wake_stored(hf_server *srv, const std::string &account, const std::string &device)
{
    if (!hf_wake_enabled(srv))
        return;
    hf_wake *w = srv->wake;
    uint64_t now = hf_mono_ms();
    if (++w->stored_calls % 4096 == 0)
        prune(w, now);
    std::string key = hf_device_key(account, device);
    std::unique_ptr<device_wake> &slot = w->devices[key];
    if (!slot) {
        slot = std::make_unique<device_wake>();
        slot->w = w;
        slot->account = account;
        slot->device = device;
    }
    device_wake *d = slot.get();
    auto min_interval = uint64_t(srv->cfg->wake_min_interval_ms);
    if (d->routeless_ms && now - d->routeless_ms < min_interval)
        return; // no route a moment ago
    if (busy(d) || (d->last_sent_ms && now - d->last_sent_ms < min_interval)) {
        srv->stats->wakeups_coalesced++;
        return;
    }
    d->routeless_ms = 0;
    d->reading = true;
    srv->store(&hf_store_ops::records, account.c_str(), device.c_str(), routes_read, new read_call{w, key});
}

void hf_wake_connected(hf_server *srv, const std::string &account, const std::string &device)
{
    if (srv->wake)
        srv->wake->devices.erase(hf_device_key(account, device));
}

std::string hf_wake_route_problem(const hf_server *srv, std::string_view json, hf_wake_route *route, bool *unserved)
{
    std::string err;
    bool listed = false;
    *unserved = false;
    if (!hf_wake_route_parse(json, route, &err))
        return err;
    *unserved = !hf_wake_serves_provider(srv, route->provider);
    if (*unserved)
        return std::string("this server sends no wake-ups through ") + hf_wake_provider_name(route->provider) +
               " (its wake.* keys are not set)";
    if (route->provider == hf_wake_provider::webpush) {
        std::string problem = hf_endpoint_problem(route->endpoint, srv->cfg->wake_allow_endpoints, &listed);
        if (!problem.empty())
            return "webpush: endpoint " + route->endpoint + ": " + problem;
    }
    return "";
}

void hf_wake_set_route(hf_server *srv, const std::string &account, const std::string &device,
                       const hf_wake_route &route, void (*done)(void *arg, int status), void *arg)
{
    // A route set here counts at once (one set through another worker or
    // server, within wake.min_interval of a message that found none).
    if (srv->wake)
        srv->wake->devices.erase(hf_device_key(account, device));
    std::string name = hf_wake_record_name(route.provider), value = hf_wake_route_json(route);
    srv->store(&hf_store_ops::record_put, account.c_str(), device.c_str(), name.c_str(),
               reinterpret_cast<const uint8_t *>(value.data()), value.size(), done, arg);
}

void hf_wake_drop_route(hf_server *srv, const std::string &account, const std::string &device,
                        hf_wake_provider provider, void (*done)(void *arg, int status), void *arg)
{
    std::string name = hf_wake_record_name(provider);
    srv->store(&hf_store_ops::record_put, account.c_str(), device.c_str(), name.c_str(), nullptr, 0, done, arg);
}

namespace
{

// One WAKE while the store writes the route.
struct wake_call {
    hf_session *s; // its connection's ref is held
    uint64_t id;
};

void answer_wake(hf_session *s, uint64_t id, int code, const std::string &text)
{
    // The frame holds views: the key must outlive it.
    std::string vapid_key = code == HF_OK ? hf_wake_vapid_key(s->srv) : "";
    hf_msg ack = hf_msg_wake_ack(id, code, text, vapid_key);
    hf_conn_send(s->conn, &ack);
}

void route_written(void *arg, int status)
{
    std::unique_ptr<wake_call> call(static_cast<wake_call *>(arg));
    hf_session *s = call->s;
    s->wake_pending = false;
    if (hf_conn_is_open(s->conn)) {
        if (status == HF_STORE_OK)
            answer_wake(s, call->id, HF_OK, "");
        else
            answer_wake(s, call->id, HF_ERR_STORE_UNAVAILABLE, "the store could not keep the route; ask again");
    }
    hf_conn_unref(s->conn);
}

// Why a device's WAKE is refused, or "" (a route it sets is checked as the
// API checks one).
std::string wake_problem(hf_server *srv, const hf_msg *m, hf_wake_route *route, hf_wake_provider *provider)
{
    if (!hf_wake_enabled(srv))
        return "this server sends no wake-ups (no wake.* provider, or its store keeps no device records)";
    if (hf_msg_has(m, HF_TAG_ROUTE) && hf_msg_has(m, HF_TAG_PROVIDER))
        return "route and provider do not go together: set one route, or drop one provider's";
    if (hf_msg_has(m, HF_TAG_PROVIDER)) {
        if (!m->remove || !hf_wake_provider_from_name(m->provider, provider))
            return "provider (webpush, fcm or apns) goes with remove, to drop its route";
        return "";
    }
    bool unserved;
    return hf_msg_has(m, HF_TAG_ROUTE) ? hf_wake_route_problem(srv, m->route, route, &unserved) : "";
}

} // namespace

void hf_wake_request(hf_session *s, const hf_msg *m)
{
    if (!hf_session_request_admitted(s, m, s->wake_pending))
        return;
    hf_wake_route route;
    hf_wake_provider provider = hf_wake_provider::webpush;
    std::string problem = wake_problem(s->srv, m, &route, &provider);
    if (!problem.empty())
        return answer_wake(s, m->id, HF_ERR_BAD_FIELD, problem);
    if (!hf_msg_has(m, HF_TAG_ROUTE) && !hf_msg_has(m, HF_TAG_PROVIDER))
        return answer_wake(s, m->id, HF_OK, "");
    s->wake_pending = true;
    hf_conn_ref(s->conn);
    auto *call = new wake_call{s, m->id};
    if (hf_msg_has(m, HF_TAG_ROUTE))
        hf_wake_set_route(s->srv, s->account, s->device, route, route_written, call);
    else
        hf_wake_drop_route(s->srv, s->account, s->device, provider, route_written, call);
}

void hf_wake_forget(hf_server *srv, const std::string &account, const std::string &device)
{
    if (!srv->store.has(&hf_store_ops::record_put))
        return;
    for (auto provider : {hf_wake_provider::webpush, hf_wake_provider::fcm, hf_wake_provider::apns})
        hf_wake_drop_route(srv, account, device, provider, hf_server_store_done,
                           const_cast<char *>("dropping a revoked device's wake routes"));
}

namespace
{

struct trial_call {
    hf_server *srv;
    std::string account, device;
    hf_wake_trial_cb done;
    void *arg;
    std::vector<hf_wake_trial> trials;
    size_t out = 0;
};

struct trial_slot {
    trial_call *call;
    size_t index;
};

void trial_answered(void *arg, const hf_wake_result *result)
{
    std::unique_ptr<trial_slot> slot(static_cast<trial_slot *>(arg));
    trial_call *call = slot->call;
    hf_wake_trial &trial = call->trials[slot->index];
    trial.result = *result;
    count(call->srv, trial.provider, int(result->outcome));
    if (result->outcome == hf_wake_outcome::gone && !call->srv->wake->closing)
        drop_gone(call->srv, call->account, call->device, trial.provider, *result);
    if (--call->out > 0)
        return;
    std::unique_ptr<trial_call> owned(call);
    call->done(call->arg, HF_STORE_OK, call->trials);
}

void trial_routes_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *call = static_cast<trial_call *>(arg);
    std::vector<hf_wake_route> routes;
    if (status == HF_STORE_OK)
        routes = hf_wake_routes_of(records, count);
    if (status != HF_STORE_OK || routes.empty()) {
        std::unique_ptr<trial_call> owned(call);
        call->done(call->arg, status, call->trials);
        return;
    }
    call->trials.resize(routes.size());
    call->out = routes.size();
    for (size_t i = 0; i < routes.size(); i++)
        call->trials[i].provider = routes[i].provider;
    // Every send first (one may answer at once), then the answers.
    call->out++;
    for (size_t i = 0; i < routes.size(); i++)
        hf_wake_send(call->srv->wake->sender, routes[i], trial_answered, new trial_slot{call, i});
    if (--call->out == 0) {
        std::unique_ptr<trial_call> owned(call);
        call->done(call->arg, HF_STORE_OK, call->trials);
    }
}

} // namespace

void hf_wake_try(hf_server *srv, const std::string &account, const std::string &device, hf_wake_trial_cb done,
                 void *arg)
{
    srv->store(&hf_store_ops::records, account.c_str(), device.c_str(), trial_routes_read,
               new trial_call{srv, account, device, done, arg, {}, 0});
}
