#include "core/server/registration.h"

#include <sstream>

#include "core/common/log.h"
#include "proto/build.h"
#include "proto/clock.h"
#include "net/link.h"

struct hf_registration {
    hf_registrations *regs;
    std::string allocator;
    hf_link *link = nullptr;
    bool registered = false;    // a REGISTER_ACK came on this link
    bool reported_down = false; // logged once per outage, not per retry
    std::string last_error;     // why the last try failed
    uint32_t attempt = 0;
    hf_event_ptr timer; // next refresh, or next reconnect
    // The refresh interval the allocator asked for, and since when (mono
    // ms) a REGISTER of this link waits for its REGISTER_ACK (0: none).
    // An allocator silent for as long as it would take to lapse this
    // server (lapse_ms there) is no longer counted as accepting it: the
    // server is not ready, and the link starts again. Without it a server
    // cut off from every allocator said ready (the nemesis's partition of a
    // server from the allocators).
    uint64_t refresh_ms = 0;
    uint64_t unanswered_since_ms = 0;
};

void hf_registration_deleter::operator()(hf_registration *r) const
{
    hf_link_free(r->link);
    delete r;
}

namespace
{

// Reconnect backoff towards an allocator: quick first, then capped.
const uint64_t retry_base_ms = 200;
const uint64_t retry_cap_ms = 5000;

void arm(hf_registration *r, uint64_t ms)
{
    timeval tv = hf_timeval_ms(ms);
    event_add(r->timer.get(), &tv);
}

// What a store shared with other servers is written as, or "own":
// allocators refuse a mix of formats, and rank the accounts of servers
// with stores of their own over all the servers they list.
std::string store_format(hf_server *srv)
{
    if (!hf_store_is_shared(*srv->cfg))
        return std::string(hf_store_format_own);
    if (!srv->store.has(&hf_store_ops::format))
        return "";
    const char *format = srv->store(&hf_store_ops::format);
    return format ? format : "";
}

void send_register(hf_registration *r)
{
    hf_server *srv = r->regs->srv;
    const hf_config &cfg = *srv->cfg;
    std::string format = store_format(srv); // the frame views it
    hf_msg m =
        hf_msg_register(cfg.server_id, cfg.cluster_key, cfg.advertise, cfg.websocket_advertise, cfg.api_advertise,
                        format, uint64_t(cfg.register_weight), srv->conns->open, srv->stopping);
    hf_link_send(r->link, &m);
    if (!r->unanswered_since_ms)
        r->unanswered_since_ms = hf_mono_ms();
}

// How long a REGISTER may wait for its answer: as long as the allocator
// waits for a REGISTER before it lapses this server (1.5 intervals).
uint64_t answer_timeout_ms(const hf_registration *r)
{
    uint64_t refresh = r->refresh_ms ? r->refresh_ms : uint64_t(r->regs->srv->cfg->refresh_interval_ms);
    return refresh * 3 / 2;
}

void connect_allocator(hf_registration *r);

// The servers the API hands calls on to; a change is logged.
void take_peers(hf_server *srv, std::vector<hf_peer> peers)
{
    std::string was, now;
    for (const hf_peer &p : srv->peers)
        was += " " + p.id + (p.live ? "" : " (away)");
    for (const hf_peer &p : peers)
        now += " " + p.id + (p.live ? "" : " (away)");
    if (was != now)
        hf_log(HF_LOG_INFO, "register: the cluster's servers:%s", now.empty() ? " none" : now.c_str());
    srv->peers = std::move(peers);
}

// REGISTER_ACK's peers: a line "server_id weight api [state]" each ("-":
// no API; state "live" or "away" when the lines are the cluster's
// members, which *members says). Lines that do not parse are left out.
std::vector<hf_peer> peers_of(std::string_view text, bool *members)
{
    std::vector<hf_peer> peers;
    std::istringstream lines{std::string(text)};
    std::string line;
    *members = false;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        hf_peer p;
        std::string state;
        if (!(words >> p.id >> p.weight >> p.api_url) || p.weight == 0)
            continue;
        if (p.api_url == "-")
            p.api_url.clear();
        if (words >> state) {
            *members = true;
            p.live = state != "away";
        }
        peers.push_back(std::move(p));
    }
    return peers;
}

void retry_later(hf_registration *r, const char *why)
{
    hf_link_free(r->link);
    r->link = nullptr;
    r->registered = false;
    r->unanswered_since_ms = 0;
    r->last_error = why;
    if (!r->reported_down) {
        hf_log(HF_LOG_WARNING, "register: allocator %s: %s; retrying (devices cannot be sent here meanwhile)",
               r->allocator.c_str(), why);
        r->reported_down = true;
    }
    uint64_t delay = retry_base_ms << (r->attempt < 5 ? r->attempt : 5);
    r->attempt++;
    arm(r, delay < retry_cap_ms ? delay : retry_cap_ms);
}

void on_open(void *arg, hf_link *)
{
    send_register(static_cast<hf_registration *>(arg));
}

void on_frame(void *arg, hf_link *, const hf_msg *m)
{
    auto *r = static_cast<hf_registration *>(arg);
    hf_server *srv = r->regs->srv;
    if (m->type == HF_MSG_ERROR || (m->type == HF_MSG_REGISTER_ACK && m->code != HF_OK)) {
        std::string why = std::string("refused: ") + hf_err_name(int(m->code)) + ": " + std::string(m->text);
        if (m->code == HF_ERR_AUTH_FAILED)
            why += " (cluster.key_file must hold the same key here and on the allocator)";
        r->reported_down = false; // always say why a refusal happened
        retry_later(r, why.c_str());
        return;
    }
    if (m->type != HF_MSG_REGISTER_ACK) {
        retry_later(r, "unexpected frame from the allocator");
        return;
    }
    if (!r->registered || r->reported_down)
        hf_log(HF_LOG_INFO, "register: registered with allocator %s", r->allocator.c_str());
    r->registered = true;
    r->reported_down = false;
    r->attempt = 0;
    r->unanswered_since_ms = 0;
    r->refresh_ms = m->refresh_ms ? m->refresh_ms : uint64_t(srv->cfg->refresh_interval_ms);
    // The allocators agree on the live servers; the latest answer will do.
    srv->peer_addresses.assign(m->addresses, m->addresses + m->address_count);
    if (hf_msg_has(m, HF_TAG_PEERS))
        take_peers(srv, peers_of(m->peers, &srv->peers_are_members));
    arm(r, r->refresh_ms);
}

void on_close(void *arg, hf_link *, hf_link_failure, const char *why)
{
    retry_later(static_cast<hf_registration *>(arg), why);
}

const hf_link_callbacks callbacks = {on_open, on_frame, on_close};

void connect_allocator(hf_registration *r)
{
    std::string err;
    hf_link_target target;
    target.address = r->allocator;
    r->link = hf_link_open(r->regs->srv->conns->base, r->regs->tls_client, &target, HF_DEFAULT_MAX_FRAME, &callbacks, r,
                           &err);
    if (!r->link)
        retry_later(r, err.c_str());
    else
        arm(r, answer_timeout_ms(r)); // a connect into a partition hangs until the kernel gives up (minutes)
}

void on_timer(evutil_socket_t, short, void *arg)
{
    auto *r = static_cast<hf_registration *>(arg);
    if (r->link && r->registered) {
        uint64_t timeout = answer_timeout_ms(r);
        if (r->unanswered_since_ms && hf_mono_ms() - r->unanswered_since_ms >= timeout) {
            std::string why = "no answer to REGISTER within " + std::to_string(timeout) + " ms";
            retry_later(r, why.c_str());
            return;
        }
        send_register(r);
        arm(r, r->refresh_ms); // the next refresh, or the deadline of this one
    } else if (!r->link) {
        connect_allocator(r);
    } else {
        std::string why = "no REGISTER_ACK within " + std::to_string(answer_timeout_ms(r)) + " ms of connecting";
        retry_later(r, why.c_str());
    }
}

} // namespace

bool hf_registration_start(hf_registrations *regs, hf_server *srv, std::string *err)
{
    const hf_config &cfg = *srv->cfg;
    regs->srv = srv;
    regs->tls_client = hf_link_tls_ctx(cfg.register_ca.empty() ? nullptr : cfg.register_ca.c_str());
    if (!regs->tls_client) {
        *err = "register.ca " + cfg.register_ca + ": cannot read it as a PEM CA bundle";
        return false;
    }
    for (const std::string &address : cfg.register_allocators) {
        std::unique_ptr<hf_registration, hf_registration_deleter> r(new hf_registration);
        r->regs = regs;
        r->allocator = address;
        r->timer.reset(event_new(srv->conns->base, -1, 0, on_timer, r.get()));
        connect_allocator(r.get());
        regs->links.push_back(std::move(r));
    }
    return true;
}

void hf_registration_announce(hf_registrations *regs)
{
    for (const auto &r : regs->links)
        if (r->link && r->registered)
            send_register(r.get());
}

void hf_registration_stop(hf_registrations *regs)
{
    regs->links.clear();
    SSL_CTX_free(regs->tls_client);
    regs->tls_client = nullptr;
}

size_t hf_registration_accepted(const hf_registrations *regs, std::string *why)
{
    size_t accepted = 0;
    why->clear();
    for (const auto &r : regs->links) {
        if (r->registered) {
            accepted++;
            continue;
        }
        *why += (why->empty() ? "" : "; ") + r->allocator + ": " +
                (r->last_error.empty() ? std::string("not answered yet") : r->last_error);
    }
    return accepted;
}
