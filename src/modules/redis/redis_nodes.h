// The Redis connections of store_redis: one Redis, or the primaries of a
// Redis Cluster. Each node has one pipelined connection (hiredis's async
// API on the daemon's reactor: what a reactor pass sends to a node goes
// out in one write) and one more subscribes to this server's
// notification channel. A call goes to the node serving its slot;
// MOVED, ASK, TRYAGAIN and CLUSTERDOWN are followed with a refreshed
// slot map and bounded retries, and a node that is down answers at once
// with a null reply (the store says store_unavailable, never a false
// stored). A durable call is answered only after a WAIT for `replicas`
// replicas, sent once per reactor pass per node behind every durable call
// of that pass.
#ifndef HANDOFF_MODULES_REDIS_NODES_H
#define HANDOFF_MODULES_REDIS_NODES_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct hf_host_api;
struct redisReply;
struct hf_redis_nodes;

struct hf_redis_nodes_config {
    std::vector<std::string> seeds; // "host:port": the one Redis, or some nodes of a cluster
    bool cluster = false;
    std::string password;
    int64_t database = 0;       // SELECT, one Redis only
    uint64_t timeout_ms = 2000; // connect timeout; an unanswered health PING drops the connection
    uint64_t replicas = 0;      // WAIT for this many replicas behind durable calls
    uint64_t wait_timeout_ms = 1000;
    std::string channel; // notification channel to SUBSCRIBE to (empty: none)
};

// A reply, or null: the node is unreachable (or the call gave up).
using hf_redis_reply_fn = std::function<void(redisReply *)>;
// After a durable call's reply (not null): whether the WAIT behind it
// reached the replicas asked for.
using hf_redis_durable_fn = std::function<void(bool replicated)>;
// A message on the notification channel; null data once subscribed
// (again): messages published until then were missed.
using hf_redis_message_fn = std::function<void(const char *data, size_t len)>;

hf_redis_nodes *hf_redis_nodes_open(const hf_host_api *host, const hf_redis_nodes_config &config,
                                    hf_redis_message_fn on_message);
void hf_redis_nodes_close(hf_redis_nodes *n);

// Sends args to the node serving slot (-1: any node, for commands of no
// key such as PUBLISH). With on_durable, the call is durable: on_reply
// runs when it is answered, on_durable once its WAIT is.
void hf_redis_call(hf_redis_nodes *n, int slot, std::vector<std::string> args, hf_redis_reply_fn on_reply,
                   hf_redis_durable_fn on_durable = nullptr);

// Runs a Lua script by its SHA-1 (EVALSHA), so a call costs its
// arguments on the wire and not the script's text, which Redis would also
// hash on every EVAL; a node that does not know the script yet (a
// restart, a failover, a new node) answers NOSCRIPT, and then it goes
// once with EVAL, which also teaches it. prepare, if given, may change the
// script's args (after its keys) each time the call is sent, the last
// thing before it goes: a call held behind others, or redirected, is sent
// later, and perhaps to another node, than it was made.
using hf_redis_prepare_fn = std::function<void(std::string *args)>;
void hf_redis_script(hf_redis_nodes *n, int slot, const char *script, std::vector<std::string> keys,
                     std::vector<std::string> args, hf_redis_reply_fn on_reply,
                     hf_redis_durable_fn on_durable = nullptr, hf_redis_prepare_fn prepare = nullptr);

// Whether the cluster showed a sign of failing over in the last 10 s (a
// node lost or silent, the slot map changed, a call redirected or
// answered TRYAGAIN or CLUSTERDOWN): a write refused for the while and
// sent again could then be overtaken by one pipelined behind it.
bool hf_redis_unsettled(const hf_redis_nodes *n);

// Counts the changes of which node serves what: a slot's primary changed
// in the map or by a redirect, or a node (re)connected. Calls made and
// answered under one count reached the node the slot had throughout.
uint64_t hf_redis_topology(const hf_redis_nodes *n);

// Sends args to every primary: each runs with each node's reply (null for
// one that did not answer), then done once after the last.
void hf_redis_call_each(hf_redis_nodes *n, const std::vector<std::string> &args, hf_redis_reply_fn each,
                        std::function<void()> done);

// Whether a cluster is being served: a slot map (or the one Redis) is known.
bool hf_redis_nodes_mapped(const hf_redis_nodes *n);

// False, with *why, when durable calls cannot be acknowledged as things
// stand: a cluster's slots with fewer replicas than asked, or the last
// WAIT fell short.
bool hf_redis_nodes_healthy(const hf_redis_nodes *n, std::string *why);

#endif
