#include "modules/redis/redis_nodes.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "handoff/module.h"
#include "modules/redis/redis_slots.h"
#include "proto/clock.h"

namespace
{

// Reconnect backoff: quick first, then capped.
const uint64_t retry_base_ms = 100;
const uint64_t retry_cap_ms = 5000;
// A cluster's slot map is read again this often, and at once after a
// redirection, a lost node or CLUSTERDOWN.
const uint64_t map_refresh_ms = 5000;
// MOVED and ASK hops one call may take, and how often it is sent again
// after TRYAGAIN (a slot half moved) or CLUSTERDOWN (a failover), this far
// apart; then it gives up and its caller answers store_unavailable.
const int max_redirects = 5;
const int max_retries = 10;
// How long after the last sign of a failover a slot's writes go one at a
// time (hf_redis_unsettled): a failover's refusals come and go for about
// cluster-node-timeout and the promotion after it.
const uint64_t unsettled_ms = 10000;
const uint64_t retry_gap_ms = 50;

struct node;

// One call in flight.
struct call {
    hf_redis_nodes *n = nullptr;
    int slot = -1;
    node *fixed = nullptr;        // sent to this node, not by slot
    const char *script = nullptr; // an EVALSHA's text, for NOSCRIPT
    std::vector<std::string> args;
    hf_redis_reply_fn on_reply;
    hf_redis_durable_fn on_durable;
    hf_redis_prepare_fn prepare; // a script's, on its args after the keys
    size_t first_arg = 0;        // where those args start in args
    int redirects = 0, retries = 0;
    std::string ask_address; // ASKING first, there, once
    node *ran_on = nullptr;
    uint64_t made = 0;    // the nodes' count of calls when it was made: its place in its slot's order
    bool counted = false; // in its slot's in_flight
};

// A slot's calls run in the order they were made: a pass's enqueues
// behind the pass's before them, a device's messages in the order sent.
// Calls are sent at once while nothing of the slot waits; a call answered
// TRYAGAIN or CLUSTERDOWN waits out a pause (timer), a call redirected
// waits for the calls still out to the node it left, and every call made
// meanwhile waits behind them. held is kept in the order the calls were
// made and sent, all of it, when nothing of the slot is out and the pause
// is over. Without it the nemesis saw a sender's message seq'd after its
// next one (a Redis primary cut off from the others: 69 in one run):
// each retry had a timer of its own, and fresh calls went first.
struct slot_order {
    hf_redis_nodes *n = nullptr;
    int slot = -1;
    std::deque<call *> held;
    event *timer = nullptr; // the pause after TRYAGAIN or CLUSTERDOWN
    int in_flight = 0;      // sent to in_flight_to, not answered yet
    node *in_flight_to = nullptr;
};

struct node {
    hf_redis_nodes *n = nullptr;
    std::string address, host;
    int port = 0;
    bool subscriber = false; // the notification connection
    redisAsyncContext *ac = nullptr;
    bool ready = false; // connecting or connected, AUTH/SELECT queued first
    bool wanted = true; // in the slot map (or a seed while there is none): keep it connected
    bool retry_pending = false;
    uint32_t attempt = 0;
    event *retry_timer = nullptr;
    bool reported_down = false;
    bool ping_out = false;
    std::vector<hf_redis_durable_fn> unwaited;     // durable calls answered since the last WAIT went
    std::unordered_set<const char *> scripts_sent; // on this connection, whole (EVAL) once
};

} // namespace

struct hf_redis_nodes {
    const hf_host_api *host = nullptr;
    hf_redis_nodes_config config;
    hf_redis_message_fn on_message;
    std::unordered_map<std::string, std::unique_ptr<node>> nodes; // by address: primaries, seeds
    std::vector<node *> owner = std::vector<node *>(hf_redis_slot_count, nullptr);
    bool mapped = false;
    node sub;
    bool refreshing = false;
    bool closing = false;
    bool said_unreached = false; // the one warning while no seed of a cluster answers
    event *health_timer = nullptr, *refresh_timer = nullptr, *wait_event = nullptr;
    // By slot (-1: calls sent to any node); an entry stays once made (at
    // most one a slot), so a call costs a lookup, not an insert and erase.
    std::unordered_map<int, slot_order> slots;
    uint64_t calls_made = 0;
    uint64_t topology = 1;        // hf_redis_topology
    uint64_t troubled_ms = 0;     // monotonic: the last sign of a failover (hf_redis_unsettled)
    std::vector<call *> unmapped; // calls waiting for a cluster's first slot map
    event *unmapped_timer = nullptr;
    std::unordered_map<const char *, std::string> shas; // script text -> its SHA-1, hex
    // What keeps durable calls from being acknowledged, for readiness
    // (empty: nothing known): a cluster's slots with fewer replicas than
    // config.replicas, and the last WAIT that fell short (cleared by one
    // that did not).
    std::string too_few_replicas, wait_short;
};

namespace
{

// A sign that the cluster may be failing over: a node lost or silent, a
// slot's primary changed, a call redirected or refused for the while.
void troubled(hf_redis_nodes *n)
{
    n->troubled_ms = hf_mono_ms();
}

void connect_node(node *nd);
void send_call(call *c);

void on_reconnect_timer(evutil_socket_t, short, void *arg)
{
    auto *nd = static_cast<node *>(arg);
    nd->retry_pending = false;
    connect_node(nd);
}

void log_at(hf_redis_nodes *n, int level, const char *fmt, const std::string &a, const std::string &b)
{
    n->host->log(n->host->host, level, "store_redis", fmt, a.c_str(), b.c_str());
}

node *node_at(hf_redis_nodes *n, const std::string &address)
{
    auto it = n->nodes.find(address);
    if (it != n->nodes.end())
        return it->second.get();
    auto nd = std::make_unique<node>();
    nd->n = n;
    nd->address = address;
    if (!hf_redis_split_address(address, &nd->host, &nd->port))
        return nullptr;
    nd->retry_timer = event_new(n->host->event_base(n->host->host), -1, 0, on_reconnect_timer, nd.get());
    node *out = nd.get();
    n->nodes.emplace(address, std::move(nd));
    connect_node(out);
    return out;
}

node *any_ready(hf_redis_nodes *n)
{
    for (auto &[address, nd] : n->nodes)
        if (nd->ready && nd->wanted)
            return nd.get();
    for (auto &[address, nd] : n->nodes)
        if (nd->ready)
            return nd.get();
    return nullptr;
}

void on_slots(redisAsyncContext *, void *r, void *privdata)
{
    auto *from = static_cast<node *>(privdata);
    hf_redis_nodes *n = from->n;
    n->refreshing = false;
    if (n->closing || !r)
        return;
    hf_redis_slot_map map;
    std::string err;
    if (!hf_redis_map_from_slots(static_cast<redisReply *>(r), from->address, &map, &err)) {
        log_at(n, HF_LOG_ERROR, "Redis Cluster %s: %s; is store.cluster a cluster's nodes?", from->address, err);
        return;
    }
    for (auto &[address, nd] : n->nodes)
        nd->wanted = false;
    std::vector<node *> by_index;
    for (const std::string &address : map.addresses) {
        node *nd = node_at(n, address);
        if (nd)
            nd->wanted = true;
        by_index.push_back(nd);
    }
    bool moved = false;
    for (int slot = 0; slot < hf_redis_slot_count; slot++) {
        int index = map.owner[size_t(slot)];
        node *owner = index < 0 ? nullptr : by_index[size_t(index)];
        moved |= owner != n->owner[size_t(slot)];
        n->owner[size_t(slot)] = owner;
    }
    if (moved) {
        n->topology++;
        if (n->mapped)
            troubled(n); // the first map is no sign of a failover
    }
    if (!n->mapped)
        n->host->log(n->host->host, HF_LOG_INFO, "store_redis", "Redis Cluster: %zu primaries, slot map read from %s",
                     map.addresses.size(), from->address.c_str());
    std::string too_few;
    if (map.fewest_replicas < n->config.replicas)
        too_few = "Redis Cluster slots " + std::to_string(map.fewest_start) + "-" + std::to_string(map.fewest_end) +
                  " have " + std::to_string(map.fewest_replicas) + " replicas and store.replicas asks " +
                  std::to_string(n->config.replicas) +
                  ": every send to them is refused store_unavailable (give each primary a replica, or set "
                  "store.replicas = 0 and accept losing what a primary had not passed on)";
    if (!too_few.empty() && too_few != n->too_few_replicas)
        n->host->log(n->host->host, HF_LOG_ERROR, "store_redis", "%s", too_few.c_str());
    n->too_few_replicas = too_few;
    n->mapped = true;
    for (auto &[address, nd] : n->nodes)
        if (nd->wanted && !nd->ac && !nd->retry_pending)
            connect_node(nd.get());
    std::vector<call *> parked = std::move(n->unmapped);
    n->unmapped.clear();
    event_del(n->unmapped_timer);
    for (call *c : parked)
        send_call(c);
}

// Reads the slot map again from any node that answers (one read at a time).
void refresh_map(hf_redis_nodes *n)
{
    if (!n->config.cluster || n->refreshing || n->closing)
        return;
    node *from = any_ready(n);
    if (!from)
        return; // the next node to connect asks
    n->refreshing = true;
    if (redisAsyncCommand(from->ac, on_slots, from, "CLUSTER SLOTS") != REDIS_OK)
        n->refreshing = false;
}

void schedule_reconnect(node *nd, const char *why)
{
    hf_redis_nodes *n = nd->n;
    troubled(n);
    nd->ready = false;
    nd->ac = nullptr;
    nd->ping_out = false;
    if (n->config.cluster && !n->mapped && !nd->reported_down) {
        // A cluster not reached yet says so once, not once per seed.
        if (!n->said_unreached) {
            std::string seeds;
            for (const std::string &seed : n->config.seeds)
                seeds += (seeds.empty() ? "" : ", ") + seed;
            log_at(n, HF_LOG_WARNING,
                   "Redis Cluster: no seed node answers (%s: %s); senders get store_unavailable until one does "
                   "(retrying)",
                   seeds, why);
            n->said_unreached = true;
        }
        nd->reported_down = true;
    }
    if (!nd->reported_down) {
        log_at(n, HF_LOG_WARNING, "Redis %s%s: senders get store_unavailable until it is back (retrying)", nd->address,
               std::string(nd->subscriber ? " (notifications): " : ": ") + why);
        nd->reported_down = true;
    }
    if (n->closing || !nd->wanted)
        return;
    uint64_t delay = retry_base_ms << (nd->attempt < 6 ? nd->attempt : 6);
    nd->attempt++;
    if (delay > retry_cap_ms)
        delay = retry_cap_ms;
    timeval tv = hf_timeval_ms(delay);
    nd->retry_pending = true;
    event_add(nd->retry_timer, &tv);
    refresh_map(n); // a cluster may have promoted a replica
}

void on_message(redisAsyncContext *ac, void *r, void *privdata)
{
    auto *n = static_cast<hf_redis_nodes *>(privdata);
    auto *reply = static_cast<redisReply *>(r);
    if (n->closing || !reply)
        return;
    // A SUBSCRIBE refused (NOAUTH, a node loading): connect again.
    if (reply->type == REDIS_REPLY_ERROR) {
        log_at(n, HF_LOG_WARNING, "Redis %s (notifications): %s; subscribing again", n->sub.address, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    // ["message", channel, body], or ["subscribe", channel, count] once
    // subscribed: what was published before is missed.
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
        return;
    if (strcmp(reply->element[0]->str, "subscribe") == 0)
        n->on_message(nullptr, 0);
    else if (strcmp(reply->element[0]->str, "message") == 0)
        n->on_message(reply->element[2]->str, reply->element[2]->len);
}

void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    auto *reply = static_cast<redisReply *>(r);
    if (!reply || reply->type != REDIS_REPLY_ERROR)
        return;
    auto *nd = static_cast<node *>(privdata);
    log_at(nd->n, HF_LOG_ERROR, "Redis %s refused AUTH: %s; check store.password", nd->address, reply->str);
    nd->reported_down = true; // said why; the retry loop stays quiet
    redisAsyncDisconnect(ac);
}

void on_connect(const redisAsyncContext *ac, int status)
{
    auto *nd = static_cast<node *>(ac->data);
    if (!nd)
        return;
    if (status != REDIS_OK) {
        schedule_reconnect(nd, ac->errstr);
        return;
    }
    hf_redis_nodes *n = nd->n;
    nd->attempt = 0;
    n->topology++; // another process may be behind the address now
    if (nd->reported_down)
        log_at(n, HF_LOG_INFO, "Redis %s is back%s", nd->address, nd->subscriber ? " (notifications)" : "");
    nd->reported_down = false;
    if (!nd->subscriber && n->config.cluster && !n->mapped)
        refresh_map(n);
}

void on_disconnect(const redisAsyncContext *ac, int status)
{
    auto *nd = static_cast<node *>(ac->data);
    if (!nd)
        return; // closed by hf_redis_nodes_close
    schedule_reconnect(nd, status == REDIS_OK ? "connection closed" : ac->errstr);
}

// The notification connection goes to the one Redis, or to any node of
// a cluster: its nodes pass PUBLISH on to one another.
void pick_subscriber_address(hf_redis_nodes *n)
{
    node *to = n->config.cluster ? any_ready(n) : nullptr;
    n->sub.address = to ? to->address : n->config.seeds[0];
    hf_redis_split_address(n->sub.address, &n->sub.host, &n->sub.port);
}

void connect_node(node *nd)
{
    hf_redis_nodes *n = nd->n;
    if (nd->subscriber)
        pick_subscriber_address(n);
    redisAsyncContext *ac = redisAsyncConnect(nd->host.c_str(), nd->port);
    if (!ac || ac->err) {
        std::string why = ac ? ac->errstr : "out of memory";
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(nd, why.c_str());
        return;
    }
    ac->data = nd;
    nd->ac = ac;
    nd->scripts_sent.clear(); // a new connection may be to a Redis that never saw them
    redisLibeventAttach(ac, n->host->event_base(n->host->host));
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    // hiredis keeps what is sent before the connection is up and writes it
    // in order once it is: AUTH and SELECT first, then calls at once (a
    // failed connect answers them with null).
    if (!n->config.password.empty())
        redisAsyncCommand(ac, on_auth, nd, "AUTH %b", n->config.password.data(), n->config.password.size());
    if (nd->subscriber)
        redisAsyncCommand(ac, on_message, n, "SUBSCRIBE %b", n->config.channel.data(), n->config.channel.size());
    else if (n->config.database && !n->config.cluster)
        redisAsyncCommand(ac, nullptr, nullptr, "SELECT %lld", (long long)n->config.database);
    nd->ready = true;
}

// A Redis that hangs (no answers, no close) is treated as down: hiredis
// 0.14 has no command timeout of its own.
void on_pong(redisAsyncContext *, void *, void *privdata)
{
    static_cast<node *>(privdata)->ping_out = false;
}

void check_health(node *nd)
{
    if (!nd->ready)
        return;
    if (nd->ping_out) {
        // Closed now: redisAsyncDisconnect would wait for the replies still
        // out, which a Redis that hangs (stopped, or across a partition)
        // never sends, and the calls waited with it until the Redis came
        // back (the nemesis saw a server's connection held through a
        // partition, and its readiness drop after the heal). The pending
        // calls are answered null (unavailable); the reconnect is ours.
        nd->ping_out = false;
        redisAsyncContext *ac = nd->ac;
        ac->data = nullptr; // on_disconnect leaves it to us
        nd->ready = false;
        redisAsyncFree(ac);
        schedule_reconnect(nd, "no answer within store.timeout");
        return;
    }
    if (!nd->subscriber && redisAsyncCommand(nd->ac, on_pong, nd, "PING") == REDIS_OK)
        nd->ping_out = true;
}

void on_health(evutil_socket_t, short, void *arg)
{
    auto *n = static_cast<hf_redis_nodes *>(arg);
    for (auto &[address, nd] : n->nodes)
        check_health(nd.get());
}

void finish(call *c, redisReply *r)
{
    hf_redis_nodes *n = c->n;
    std::unique_ptr<call> owned(c);
    c->on_reply(r); // while closing, null: the caller's state is released
    if (n->closing)
        return;
    if (!r || !c->on_durable)
        return;
    if (n->config.replicas == 0) {
        c->on_durable(true);
        return;
    }
    c->ran_on->unwaited.push_back(std::move(c->on_durable));
    event_active(n->wait_event, EV_TIMEOUT, 0);
}

// The slot's order, made on first use.
slot_order &order_of(hf_redis_nodes *n, int slot)
{
    slot_order &o = n->slots[slot];
    o.n = n;
    o.slot = slot;
    return o;
}

// Sends the slot's held calls, in order, once nothing of it is out and
// no pause runs.
void release_if_idle(hf_redis_nodes *n, int slot)
{
    slot_order &o = order_of(n, slot);
    if (o.in_flight > 0 || o.timer || o.held.empty())
        return;
    std::deque<call *> held;
    held.swap(o.held);
    for (call *c : held)
        send_call(c);
}

void on_pause_over(evutil_socket_t, short, void *arg)
{
    auto *o = static_cast<slot_order *>(arg);
    event_free(o->timer);
    o->timer = nullptr;
    release_if_idle(o->n, o->slot);
}

// c waits in its slot's order.
void hold(call *c)
{
    slot_order &o = order_of(c->n, c->slot);
    auto at = std::upper_bound(o.held.begin(), o.held.end(), c, [](call *a, call *b) { return a->made < b->made; });
    o.held.insert(at, c);
}

// Holds c, to be sent again after a pause with the slot's other held
// calls, or gives up.
void retry_later(call *c, uint64_t ms)
{
    if (++c->retries > max_retries) {
        finish(c, nullptr);
        return;
    }
    hold(c);
    slot_order &o = order_of(c->n, c->slot);
    if (!o.timer) {
        o.timer = event_new(c->n->host->event_base(c->n->host->host), -1, 0, on_pause_over, &o);
        timeval tv = hf_timeval_ms(ms);
        event_add(o.timer, &tv);
    }
}

bool starts_with(const redisReply *r, const char *prefix)
{
    return strncmp(r->str, prefix, strlen(prefix)) == 0;
}

void take_reply(call *c, redisReply *reply);

void on_call_reply(redisAsyncContext *, void *r, void *privdata)
{
    auto *c = static_cast<call *>(privdata);
    hf_redis_nodes *n = c->n;
    int slot = c->slot;
    bool counted = c->counted;
    if (counted) {
        c->counted = false;
        order_of(n, slot).in_flight--;
    }
    take_reply(c, static_cast<redisReply *>(r));
    if (counted)
        release_if_idle(n, slot);
}

void take_reply(call *c, redisReply *reply)
{
    hf_redis_nodes *n = c->n;
    if (!reply || reply->type != REDIS_REPLY_ERROR || n->closing) {
        if (!reply) {
            troubled(n);
            refresh_map(n);
        }
        finish(c, reply);
        return;
    }
    hf_redis_redirect to;
    bool redirect = hf_redis_parse_redirect(reply->str, reply->len, &to);
    if (redirect || starts_with(reply, "TRYAGAIN") || starts_with(reply, "CLUSTERDOWN"))
        troubled(n);
    if (redirect && !c->fixed) {
        if (++c->redirects > max_redirects) {
            finish(c, nullptr);
            return;
        }
        if (to.ask) {
            c->ask_address = to.address;
        } else {
            n->owner[size_t(to.slot)] = node_at(n, to.address);
            n->topology++;
            refresh_map(n);
        }
        send_call(c);
    } else if (starts_with(reply, "NOSCRIPT") && c->script) { // SCRIPT FLUSH since
        c->args[0] = "EVAL";
        c->args[1] = c->script;
        c->script = nullptr;
        send_call(c);
    } else if (starts_with(reply, "TRYAGAIN")) {
        retry_later(c, retry_gap_ms);
    } else if (starts_with(reply, "CLUSTERDOWN")) {
        refresh_map(n);
        retry_later(c, retry_gap_ms * 4);
    } else {
        finish(c, reply);
    }
}

// A cluster whose slot map is not read yet (the store just opened) holds
// calls for up to `timeout`, rather than refusing the first sends.
void on_unmapped_timeout(evutil_socket_t, short, void *arg)
{
    auto *n = static_cast<hf_redis_nodes *>(arg);
    std::vector<call *> parked = std::move(n->unmapped);
    n->unmapped.clear();
    for (call *c : parked)
        finish(c, nullptr);
}

void send_call(call *c)
{
    hf_redis_nodes *n = c->n;
    if (n->closing) {
        finish(c, nullptr);
        return;
    }
    if (!n->mapped && !c->fixed) {
        if (n->unmapped.empty()) {
            timeval tv = hf_timeval_ms(n->config.timeout_ms);
            event_add(n->unmapped_timer, &tv);
        }
        n->unmapped.push_back(c);
        return;
    }
    node *to = c->fixed;
    bool asking = !c->ask_address.empty();
    if (asking)
        to = node_at(n, c->ask_address);
    else if (!to)
        to = c->slot >= 0 ? n->owner[size_t(c->slot)] : any_ready(n);
    c->ask_address.clear();
    if (!to || !to->ready) {
        refresh_map(n); // a cluster may serve the slot elsewhere by now
        finish(c, nullptr);
        return;
    }
    if (!c->fixed && !asking && c->slot >= 0) {
        slot_order &order = order_of(n, c->slot);
        if (!order.held.empty() || order.timer || (order.in_flight > 0 && order.in_flight_to != to)) {
            hold(c);
            return;
        }
        order.in_flight++;
        order.in_flight_to = to;
        c->counted = true;
    }
    // A script goes whole the first time on each connection, by its SHA-1
    // after that. Were the first EVALSHA answered NOSCRIPT, it would go
    // again behind calls sent since, which then run first: a pass's
    // enqueues overtaking the one before, its messages out of order.
    if (c->script && to->scripts_sent.insert(c->script).second) {
        c->args[0] = "EVAL";
        c->args[1] = c->script;
    }
    if (c->prepare)
        c->prepare(c->args.data() + c->first_arg);
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const std::string &a : c->args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    c->ran_on = to;
    if (asking)
        redisAsyncCommand(to->ac, nullptr, nullptr, "ASKING");
    if (redisAsyncCommandArgv(to->ac, on_call_reply, c, int(argv.size()), argv.data(), lens.data()) != REDIS_OK)
        on_call_reply(to->ac, nullptr, c); // counted out of its slot's order, and answered
}

// The durable calls of one node that one WAIT answers.
struct wait_batch {
    hf_redis_nodes *n;
    std::vector<hf_redis_durable_fn> calls;
};

void on_wait(redisAsyncContext *, void *r, void *privdata)
{
    std::unique_ptr<wait_batch> batch(static_cast<wait_batch *>(privdata));
    auto *reply = static_cast<redisReply *>(r);
    hf_redis_nodes *n = batch->n;
    bool replicated = reply && reply->type == REDIS_REPLY_INTEGER && uint64_t(reply->integer) >= n->config.replicas;
    if (replicated)
        n->wait_short.clear();
    else
        n->wait_short =
            "a WAIT for store.replicas = " + std::to_string(n->config.replicas) + " reached " +
            (reply && reply->type == REDIS_REPLY_INTEGER ? std::to_string(reply->integer) : std::string("no Redis")) +
            " within store.wait_timeout: senders are told store_unavailable";
    for (hf_redis_durable_fn &fn : batch->calls)
        fn(replicated);
}

// End of a reactor pass that answered durable calls: one WAIT per node
// for all of them.
void on_wait_event(evutil_socket_t, short, void *arg)
{
    auto *n = static_cast<hf_redis_nodes *>(arg);
    for (auto &[address, nd] : n->nodes) {
        if (nd->unwaited.empty())
            continue;
        auto *batch = new wait_batch{n, std::move(nd->unwaited)};
        nd->unwaited.clear();
        if (!nd->ready ||
            redisAsyncCommand(nd->ac, on_wait, batch, "WAIT %llu %llu", (unsigned long long)n->config.replicas,
                              (unsigned long long)n->config.wait_timeout_ms) != REDIS_OK)
            on_wait(nullptr, nullptr, batch);
    }
}

void on_refresh_timer(evutil_socket_t, short, void *arg)
{
    refresh_map(static_cast<hf_redis_nodes *>(arg));
}

const std::string &script_sha(hf_redis_nodes *n, const char *script)
{
    std::string &hex = n->shas[script];
    if (hex.empty()) {
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1(reinterpret_cast<const unsigned char *>(script), strlen(script), digest);
        static const char digits[] = "0123456789abcdef";
        for (unsigned char byte : digest) {
            hex.push_back(digits[byte >> 4]);
            hex.push_back(digits[byte & 15]);
        }
    }
    return hex;
}

call *new_call(hf_redis_nodes *n, int slot, std::vector<std::string> args, hf_redis_reply_fn on_reply,
               hf_redis_durable_fn on_durable)
{
    auto *c = new call;
    c->n = n;
    c->slot = slot;
    c->made = ++n->calls_made;
    c->args = std::move(args);
    c->on_reply = std::move(on_reply);
    c->on_durable = std::move(on_durable);
    return c;
}

} // namespace

hf_redis_nodes *hf_redis_nodes_open(const hf_host_api *host, const hf_redis_nodes_config &config,
                                    hf_redis_message_fn on_message)
{
    auto *n = new hf_redis_nodes;
    n->host = host;
    n->config = config;
    n->on_message = std::move(on_message);
    event_base *base = host->event_base(host->host);
    for (const std::string &seed : config.seeds) {
        node *nd = node_at(n, seed);
        if (nd && !config.cluster)
            std::fill(n->owner.begin(), n->owner.end(), nd);
    }
    n->mapped = !config.cluster;
    if (!config.channel.empty()) {
        n->sub.n = n;
        n->sub.subscriber = true;
        n->sub.retry_timer = event_new(base, -1, 0, on_reconnect_timer, &n->sub);
        connect_node(&n->sub);
    }
    n->health_timer = event_new(base, -1, EV_PERSIST, on_health, n);
    timeval health = hf_timeval_ms(config.timeout_ms);
    event_add(n->health_timer, &health);
    n->wait_event = event_new(base, -1, 0, on_wait_event, n);
    n->unmapped_timer = event_new(base, -1, 0, on_unmapped_timeout, n);
    if (config.cluster) {
        n->refresh_timer = event_new(base, -1, EV_PERSIST, on_refresh_timer, n);
        timeval refresh = hf_timeval_ms(map_refresh_ms);
        event_add(n->refresh_timer, &refresh);
    }
    return n;
}

void hf_redis_nodes_close(hf_redis_nodes *n)
{
    // Every call still out is answered null, so that its caller lets go
    // of what it holds (a connection waiting for a fetch).
    n->closing = true;
    std::unordered_map<int, slot_order> slots = std::move(n->slots);
    n->slots.clear();
    for (auto &[slot, order] : slots) {
        if (order.timer)
            event_free(order.timer);
        for (call *c : order.held)
            finish(c, nullptr);
    }
    std::vector<call *> unmapped = std::move(n->unmapped);
    for (call *c : unmapped)
        finish(c, nullptr);
    event_free(n->unmapped_timer);
    std::vector<node *> all;
    for (auto &[address, nd] : n->nodes)
        all.push_back(nd.get());
    if (!n->config.channel.empty())
        all.push_back(&n->sub);
    for (node *nd : all) {
        event_free(nd->retry_timer);
        if (nd->ac) {
            nd->ac->data = nullptr;
            redisAsyncFree(nd->ac); // pending callbacks run with null, and see closing
            nd->ac = nullptr;
        }
        nd->ready = false;
    }
    on_wait_event(-1, 0, n); // durable calls answered: not replicated
    event_free(n->health_timer);
    event_free(n->wait_event);
    if (n->refresh_timer)
        event_free(n->refresh_timer);
    delete n;
}

void hf_redis_call(hf_redis_nodes *n, int slot, std::vector<std::string> args, hf_redis_reply_fn on_reply,
                   hf_redis_durable_fn on_durable)
{
    send_call(new_call(n, slot, std::move(args), std::move(on_reply), std::move(on_durable)));
}

void hf_redis_script(hf_redis_nodes *n, int slot, const char *script, std::vector<std::string> keys,
                     std::vector<std::string> args, hf_redis_reply_fn on_reply, hf_redis_durable_fn on_durable,
                     hf_redis_prepare_fn prepare)
{
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(script_sha(n, script));
    argv.push_back(std::to_string(keys.size()));
    for (std::vector<std::string> *part : {&keys, &args})
        argv.insert(argv.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
    call *c = new_call(n, slot, std::move(argv), std::move(on_reply), std::move(on_durable));
    c->script = script;
    c->prepare = std::move(prepare);
    c->first_arg = 3 + keys.size();
    send_call(c);
}

bool hf_redis_unsettled(const hf_redis_nodes *n)
{
    return n->troubled_ms && hf_mono_ms() - n->troubled_ms < unsettled_ms;
}

uint64_t hf_redis_topology(const hf_redis_nodes *n)
{
    return n->topology;
}

void hf_redis_call_each(hf_redis_nodes *n, const std::vector<std::string> &args, hf_redis_reply_fn each,
                        std::function<void()> done)
{
    std::set<node *> primaries(n->owner.begin(), n->owner.end());
    primaries.erase(nullptr);
    auto left = std::make_shared<size_t>(primaries.size());
    if (primaries.empty()) {
        done();
        return;
    }
    for (node *nd : primaries) {
        call *c = new_call(
            n, -1, args,
            [each, done, left](redisReply *r) {
                each(r);
                if (--*left == 0)
                    done();
            },
            nullptr);
        c->fixed = nd;
        send_call(c);
    }
}

bool hf_redis_nodes_mapped(const hf_redis_nodes *n)
{
    return n->mapped;
}

bool hf_redis_nodes_healthy(const hf_redis_nodes *n, std::string *why)
{
    *why = !n->too_few_replicas.empty() ? n->too_few_replicas : n->wait_short;
    return why->empty();
}
