#include "core/allocator/allocation.h"

#include <openssl/crypto.h>

#include "core/common/log.h"
#include "core/allocator/rendezvous.h"
#include "core/common/token_check.h"
#include "proto/build.h"
#include "proto/clock.h"

namespace
{

// A registration lives this many refresh periods (x2 for integer math):
// one refresh may be late by half a period before the server drops out.
const uint64_t lapse_half_periods = 3;
// The registration connection itself is closed after this many silent
// refresh periods.
const uint64_t registrant_timeout_periods = 3;

uint64_t lapse_ms(const hf_allocator *a)
{
    return uint64_t(a->cfg->refresh_interval_ms) * lapse_half_periods / 2;
}

hf_allocator *allocator_of(const hf_conn *c)
{
    return static_cast<hf_allocator *>(c->handler_ctx);
}

// A connection that carries REGISTERs is marked by its owner pointer.
bool is_registrant(const hf_conn *c)
{
    return c->owner != nullptr;
}

void drop_lapsed(hf_allocator *a)
{
    uint64_t now = hf_mono_ms();
    for (auto it = a->servers.begin(); it != a->servers.end();) {
        if (it->second.expires_ms <= now) {
            hf_log(HF_LOG_WARNING, "allocator: server %s (%s) lapsed: no REGISTER for %llu ms; left out of answers",
                   it->first.c_str(), it->second.address.c_str(), (unsigned long long)lapse_ms(a));
            it = a->servers.erase(it);
        } else {
            ++it;
        }
    }
}

// The live servers that may take new devices; for browsers, those with a
// WebSocket listener, by their wss:// URL.
std::vector<hf_rendezvous_server> candidates(hf_allocator *a, bool browser = false)
{
    drop_lapsed(a);
    std::vector<hf_rendezvous_server> out;
    for (const auto &entry : a->servers)
        if (!entry.second.draining && (!browser || !entry.second.websocket_url.empty()))
            out.push_back(
                {entry.first, browser ? entry.second.websocket_url : entry.second.address, entry.second.weight});
    return out;
}

bool own_store(std::string_view store_format)
{
    return store_format == hf_store_format_own;
}

// Whether accounts are ranked over the cluster's members rather than its
// live servers: the allocator lists them (cluster.servers), and they keep
// stores of their own (a live one registered so). An account's messages
// and revocation are then on its one server, so its devices and API calls
// wait for that server rather than go to another.
bool homes_fixed(hf_allocator *a)
{
    if (a->cfg->cluster_servers.empty())
        return false;
    drop_lapsed(a);
    for (const auto &entry : a->servers)
        if (own_store(entry.second.store_format))
            return true;
    return false;
}

// The member an account belongs to with homes fixed: first by rendezvous
// over cluster.servers with their configured weights, up or not.
const hf_cluster_member &home_member(const hf_config &cfg, const std::string &account)
{
    std::vector<hf_rendezvous_server> members;
    for (const hf_cluster_member &m : cfg.cluster_servers)
        members.push_back({m.id, "", m.weight});
    return cfg.cluster_servers[hf_rendezvous_rank(account, members, 1)[0]];
}

// The workers as rendezvous candidates, named by their number (names + k,
// as hf_allocation_worker ranks them), so that an account ranks them
// alike whichever address is asked for.
std::vector<hf_rendezvous_server> worker_candidates(const std::string &names, const std::vector<std::string> &addresses)
{
    std::vector<hf_rendezvous_server> workers;
    for (size_t k = 0; k < addresses.size(); k++)
        if (!addresses[k].empty())
            workers.push_back({names + std::to_string(k), addresses[k], 1});
    return workers;
}

} // namespace

int hf_allocation_worker(const hf_config &cfg, const std::string &account)
{
    return hf_rendezvous_worker(account, cfg.worker_names, int(cfg.worker_addresses.size()));
}

std::string hf_allocation_worker_names(const hf_config &box)
{
    return box.role == hf_role::server ? box.server_id + "-w" : "w";
}

bool hf_allocation_addresses(hf_allocator *a, const std::string &account, bool browser, std::vector<std::string> *out,
                             std::string *why)
{
    *why = "no live server; are the servers registering?";
    const hf_config &cfg = *a->cfg;
    out->clear();
    if (cfg.role == hf_role::standalone && !cfg.worker_addresses.empty()) {
        // Workers: rendezvous over them, so an account's devices meet on
        // one. With a store each worker has to itself, only that worker
        // will do: its devices wait for it through a restart rather than
        // split the account over two stores.
        std::vector<hf_rendezvous_server> workers =
            worker_candidates(cfg.worker_names, browser ? cfg.worker_websocket_urls : cfg.worker_addresses);
        size_t count = cfg.worker_store_shared ? size_t(cfg.answer_count) : 1;
        for (size_t i : hf_rendezvous_rank(account, workers, count))
            out->push_back(workers[i].address);
        return !out->empty();
    }
    if (cfg.role == hf_role::standalone) {
        const std::string &own = browser ? cfg.websocket_advertise : cfg.advertise;
        if (!own.empty())
            out->push_back(own);
        return !out->empty();
    }
    if (homes_fixed(a)) {
        // Its one server only: a device sent anywhere else would find
        // neither its messages nor its revocation there.
        const hf_cluster_member &home = home_member(cfg, account);
        auto it = a->servers.find(home.id);
        const std::string *address = it == a->servers.end() || it->second.draining ? nullptr
                                     : browser                                     ? &it->second.websocket_url
                                                                                   : &it->second.address;
        if (address && !address->empty()) {
            out->push_back(*address);
            return true;
        }
        a->stats->alloc_home_away++;
        *why = "server " + home.id + ", which holds the account, is " +
               (it == a->servers.end() ? "not registered"
                : it->second.draining  ? "draining"
                                       : "without a WebSocket listener");
        return false;
    }
    std::vector<hf_rendezvous_server> servers = candidates(a, browser);
    // Ranked by account, so every device of the account gets this list.
    for (size_t i : hf_rendezvous_rank(account, servers, size_t(cfg.answer_count)))
        out->push_back(servers[i].address);
    return !out->empty();
}

namespace
{

void answer_alloc(hf_conn *c, const hf_token_claims &claims)
{
    hf_allocator *a = allocator_of(c);
    const hf_config &cfg = *a->cfg;
    std::vector<std::string> addresses;
    std::string why;
    if (!hf_allocation_addresses(a, claims.account, false, &addresses, &why)) {
        // With homes fixed, one server away is logged as it lapses: each
        // of its devices' retries is not a warning of its own.
        hf_log(a->servers.empty() ? HF_LOG_WARNING : HF_LOG_INFO, "allocator: no server to offer %s/%s: %s",
               claims.account.c_str(), claims.device.c_str(), why.c_str());
        std::string text = "no connection server is available (" + why + "); try again later"; // err views it
        hf_msg err = hf_msg_error(HF_ERR_NO_SERVER, text);
        hf_msg_add_retry(&err, uint64_t(cfg.backoff_base_ms));
        // The hints pace the fleet's retries even while nothing is up.
        hf_msg_add_backoff(&err, uint64_t(cfg.backoff_base_ms), uint64_t(cfg.backoff_cap_ms));
        hf_conn_send(c, &err);
        hf_conn_close(c, "no server to offer");
        return;
    }
    hf_msg resp = hf_msg_alloc_resp(addresses.data(), addresses.size(), uint64_t(cfg.backoff_base_ms),
                                    uint64_t(cfg.backoff_cap_ms));
    hf_conn_send(c, &resp);
    a->stats->alloc_answers++;
    hf_log(HF_LOG_DEBUG, "allocator: %s/%s -> %s%s", claims.account.c_str(), claims.device.c_str(),
           std::string(resp.addresses[0]).c_str(), resp.address_count > 1 ? ", ..." : "");
    hf_conn_close(c, "answered");
}

bool key_matches(const std::string &expected, std::string_view given)
{
    return expected.size() == given.size() && CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

bool api_url_valid(std::string_view url)
{
    return url.size() > 8 && url.substr(0, 8) == "https://" && url.find_first_of(" \t\r\n") == std::string_view::npos;
}

// REGISTER_ACK's peers, so that a server ranks an account as the
// allocator does: the servers offered to devices (live, not draining), or
// with homes fixed every member, each said to be live or away.
std::string peer_lines(hf_allocator *a)
{
    std::string lines;
    auto line = [&](const std::string &id, uint64_t weight, const std::string &api) {
        lines += id + " " + std::to_string(weight) + " " + (api.empty() ? "-" : api);
    };
    if (homes_fixed(a)) {
        for (const hf_cluster_member &m : a->cfg->cluster_servers) {
            auto it = a->servers.find(m.id);
            line(m.id, m.weight, it == a->servers.end() ? "" : it->second.api_url);
            lines += it == a->servers.end() ? " away\n" : " live\n";
        }
        return lines;
    }
    for (const hf_rendezvous_server &o : candidates(a)) {
        line(o.id, o.weight, a->servers[o.id].api_url);
        lines += "\n";
    }
    return lines;
}

// A REGISTER refused: logged (with what to check) and counted, and the
// server told why.
// The kind of a store format: what comes before its version.
std::string_view format_kind(std::string_view format)
{
    size_t space = format.rfind(' ');
    return space == std::string_view::npos ? format : format.substr(0, space);
}

// Why m's store cannot go with a live other server's: a shared store of
// the same kind written in another format, or, with cluster.servers
// (whose members' stores decide where accounts are), one server with a
// store of its own and one sharing a store. Empty if it can.
std::string store_conflict(const hf_allocator *a, const hf_msg *m)
{
    uint64_t now = hf_mono_ms();
    for (const auto &entry : a->servers) {
        const hf_registered_server &s = entry.second;
        if (entry.first == m->server_id || s.expires_ms <= now)
            continue;
        auto said = [&](std::string_view format) {
            return own_store(format) ? std::string("keeps a store of its own")
                                     : "writes the shared store as \"" + std::string(format) + "\"";
        };
        // A server that says nothing (from before store_format) is not
        // held against another.
        bool both_said = !m->store_format.empty() && !s.store_format.empty();
        bool other_version = both_said && s.store_format != m->store_format &&
                             format_kind(s.store_format) == format_kind(m->store_format);
        bool other_kind =
            both_said && !a->cfg->cluster_servers.empty() && own_store(m->store_format) != own_store(s.store_format);
        if (other_version || other_kind)
            return "it " + said(m->store_format) + ", and live server " + entry.first + " " + said(s.store_format);
    }
    return "";
}

void refuse_registration(hf_conn *c, const hf_msg *m, int code, const std::string &why, const char *check)
{
    hf_allocator *a = allocator_of(c);
    a->stats->registrations_refused++;
    hf_log(HF_LOG_WARNING, "allocator: REGISTER of %s from %s refused: %s; check %s", std::string(m->server_id).c_str(),
           c->peer, why.c_str(), check);
    hf_conn_fail(c, code, "registration refused: " + why);
}

// server_id's entry in cluster.servers; null if none.
const hf_cluster_member *member_of(const hf_config &cfg, std::string_view server_id)
{
    for (const hf_cluster_member &m : cfg.cluster_servers)
        if (m.id == server_id)
            return &m;
    return nullptr;
}

// Whether the REGISTER's key is its server's: with cluster.servers, that
// server's own key (so one server's key cannot register another); else
// the cluster's one key.
bool credential_holds(const hf_config &cfg, const hf_msg *m, std::string *why, const char **check)
{
    if (cfg.cluster_servers.empty()) {
        *check = "cluster.key_file on both sides";
        *why = "wrong key";
        return key_matches(cfg.cluster_key, m->key);
    }
    *check = "cluster.servers here and the server's cluster.key_file";
    if (const hf_cluster_member *known = member_of(cfg, m->server_id)) {
        *why = "wrong key for this server";
        return key_matches(known->secret, m->key);
    }
    *why = "not a server of cluster.servers";
    return false;
}

void on_register(hf_conn *c, const hf_msg *m)
{
    hf_allocator *a = allocator_of(c);
    const hf_config &cfg = *a->cfg;
    if (cfg.role != hf_role::allocator) {
        hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE, "REGISTER sent to a daemon that is not in the allocator role");
        return;
    }
    // The name first: it is logged.
    if (!hf_name_valid(m->server_id) || m->address_count < 1 || m->address_count > 2 || m->addresses[0].empty()) {
        hf_conn_fail(c, HF_ERR_BAD_FIELD,
                     "REGISTER needs a server_id name, its device address and at most a wss:// URL after it");
        return;
    }
    std::string why;
    const char *check = "";
    if (!credential_holds(cfg, m, &why, &check)) {
        refuse_registration(c, m, HF_ERR_AUTH_FAILED, why, check);
        return;
    }
    // A weight is a share of every account: capped, so that no one
    // server can claim nearly all of them.
    if (hf_msg_has(m, HF_TAG_WEIGHT) && m->weight > uint64_t(cfg.cluster_max_weight)) {
        refuse_registration(c, m, HF_ERR_BAD_FIELD,
                            "weight " + std::to_string(m->weight) + " is past cluster.max_weight " +
                                std::to_string(cfg.cluster_max_weight),
                            "the server's register.weight and cluster.max_weight here");
        return;
    }
    // A mix of versions that cannot work together, refused during a
    // rolling upgrade rather than found by devices (a REGISTER without the
    // range is from a server that speaks version 1 only).
    if (!hf_msg_speaks_our_version(m)) {
        refuse_registration(c, m, HF_ERR_UNSUPPORTED_VERSION,
                            "it speaks protocol versions " + std::to_string(m->version_min) + ".." +
                                std::to_string(m->version_max) + ", and this allocator " +
                                std::to_string(HF_PROTOCOL_VERSION),
                            "that allocators and servers run handoffd releases that share a protocol version "
                            "(docs/operations.md, rolling upgrades)");
        return;
    }
    // Servers that share a store must write it alike: one of the same kind
    // of store in another version is refused while the other lives.
    if (std::string conflict = store_conflict(a, m); !conflict.empty()) {
        refuse_registration(c, m, HF_ERR_UNSUPPORTED_VERSION, conflict,
                            "that the servers of the old store format have stopped before those of the new one start, "
                            "and that the servers of cluster.servers all share a store or all keep their own "
                            "(docs/operations.md)");
        return;
    }
    // With stores of their own, the allocators rank the members by the
    // weights they list, up or not; a server that claims another would be
    // ranked one way here and another way by itself.
    uint64_t weight = hf_msg_has(m, HF_TAG_WEIGHT) && m->weight > 0 ? m->weight : 1;
    if (const hf_cluster_member *member = member_of(cfg, m->server_id);
        member && own_store(m->store_format) && weight != member->weight) {
        refuse_registration(c, m, HF_ERR_BAD_FIELD,
                            "weight " + std::to_string(weight) + " is not its cluster.servers weight " +
                                std::to_string(member->weight) +
                                " (with stores of their own an account's server is "
                                "fixed by the members' listed weights)",
                            "the server's register.weight and its weight in cluster.servers here");
        return;
    }
    if (hf_msg_has(m, HF_TAG_API) && !api_url_valid(m->api)) {
        hf_conn_fail(c, HF_ERR_BAD_FIELD, "REGISTER's api must be an https:// URL with no space in it");
        return;
    }
    std::string id(m->server_id);
    auto [it, is_new] = a->servers.try_emplace(id);
    hf_registered_server &s = it->second;
    bool was_draining = s.draining;
    s.address = m->addresses[0];
    s.websocket_url = m->address_count > 1 ? std::string(m->addresses[1]) : "";
    s.api_url = m->api;
    s.store_format = m->store_format;
    s.weight = weight;
    s.load = m->load;
    s.draining = m->draining != 0;
    s.expires_ms = hf_mono_ms() + lapse_ms(a);
    s.conn = c;
    if (!is_registrant(c)) {
        c->owner = a; // any non-null mark
        hf_conn_set_ready(c, uint64_t(cfg.refresh_interval_ms) * registrant_timeout_periods);
    }
    if (is_new)
        hf_log(HF_LOG_INFO, "allocator: server %s registered at %s (weight %llu%s%s)", id.c_str(), s.address.c_str(),
               (unsigned long long)s.weight,
               own_store(s.store_format) ? ", a store of its own"
               : s.store_format.empty()  ? ""
                                         : ", shared store ",
               own_store(s.store_format) ? "" : s.store_format.c_str());
    if (is_new && own_store(s.store_format) && cfg.cluster_servers.empty())
        hf_log(HF_LOG_WARNING,
               "allocator: server %s keeps a store of its own, and this allocator lists no cluster.servers: while a "
               "server is away its accounts are offered another, which has neither their messages nor their "
               "revocations (list the servers in cluster.servers; docs/operations.md)",
               id.c_str());
    if (s.draining && !was_draining)
        hf_log(HF_LOG_INFO, "allocator: server %s is draining; no longer offered", id.c_str());

    std::string peers = peer_lines(a);
    hf_msg ack = hf_msg_register_ack(uint64_t(cfg.refresh_interval_ms), peers);
    // The other live servers: where a draining server can send its
    // devices (none with homes fixed: they wait for it).
    std::vector<std::string> others;
    if (!homes_fixed(a))
        for (const hf_rendezvous_server &o : candidates(a))
            if (o.id != id)
                others.push_back(o.address);
    hf_msg_add_addresses(&ack, others.data(), others.size());
    hf_conn_send(c, &ack);
}

void on_frame(hf_conn *c, const hf_msg *m)
{
    if (is_registrant(c) && m->type != HF_MSG_REGISTER) {
        hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE, "a registration connection carries REGISTER only");
        return;
    }
    if (m->type == HF_MSG_REGISTER) {
        on_register(c, m);
        return;
    }
    if (m->type != HF_MSG_ALLOC_REQ) {
        hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE,
                     std::string(hf_msg_type_name(m->type)) + " sent to the allocator; it answers ALLOC_REQ only");
        return;
    }
    hf_token_claims claims;
    std::string why;
    int rc = hf_token_check(allocator_of(c)->cfg, m->token, &claims, &why);
    if (rc != HF_OK) {
        hf_conn_fail(c, rc, "token refused: " + why);
        return;
    }
    // Checked after the token, in the same order as HELLO.
    if (!hf_msg_speaks_our_version(m)) {
        hf_conn_fail(c, HF_ERR_UNSUPPORTED_VERSION, "this allocator speaks protocol version 1 only");
        return;
    }
    answer_alloc(c, claims);
}

// A registration connection closed: its server is gone from answers.
void on_closed(hf_conn *c)
{
    if (!is_registrant(c))
        return;
    hf_allocator *a = allocator_of(c);
    for (auto it = a->servers.begin(); it != a->servers.end();) {
        if (it->second.conn == c) {
            // A server that said it drains leaves as it said: no warning.
            hf_log(it->second.draining ? HF_LOG_INFO : HF_LOG_WARNING,
                   "allocator: server %s (%s) disconnected%s; left out of answers", it->first.c_str(),
                   it->second.address.c_str(), it->second.draining ? " after its drain" : "");
            it = a->servers.erase(it);
        } else {
            ++it;
        }
    }
}

} // namespace

const hf_conn_handler hf_allocation_handler = {
    nullptr, on_frame, on_closed, nullptr, nullptr, "no ALLOC_REQ within limits.hello_timeout",
};
