#include "core/shell/daemon.h"

#include <event2/listener.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include "core/allocator/allocation.h"
#include "core/allocator/rendezvous.h"
#include "core/common/log.h"
#include "core/server/devices.h"
#include "core/server/server_modules.h"
#include "core/server/router.h"
#include "core/shell/metrics.h"
#include "proto/clock.h"

namespace
{

// EX_IOERR: the store's disk failed; systemd or the supervisor restarts it.
const int fatal_exit_status = 74;

void on_module_fatal(void *shell, const char *module, const char *why)
{
    auto *d = static_cast<hf_daemon *>(shell);
    hf_log(HF_LOG_ERROR, "%s: %s; stopping with exit status %d", module, why, fatal_exit_status);
    if (d->exit_status != 0)
        return;
    d->exit_status = fatal_exit_status;
    // A moment for the answers already written (store_unavailable) to go.
    timeval flush = hf_timeval_ms(100);
    event_base_loopexit(d->base.get(), &flush);
}

// The peer that holds account: first by rendezvous over the peers as the
// allocators last listed them, as they rank its devices. Null before any
// list came.
const hf_peer *cluster_home(const hf_daemon *d, const std::string &account)
{
    const std::vector<hf_peer> &peers = d->server.peers;
    std::vector<hf_rendezvous_server> servers;
    for (const hf_peer &p : peers)
        servers.push_back({p.id, p.api_url, p.weight});
    std::vector<size_t> ranked = hf_rendezvous_rank(account, servers, 1);
    return ranked.empty() ? nullptr : &peers[ranked[0]];
}

// hf_server.held_elsewhere: another worker of this box whose workers keep
// stores of their own, or another member of a cluster whose allocators
// list its members (cluster.servers, stores of their own).
bool held_elsewhere(void *shell, const std::string &account, std::string *where)
{
    auto *d = static_cast<hf_daemon *>(shell);
    if (d->cfg.worker_index >= 0 && !d->cfg.worker_store_shared) {
        int home = hf_allocation_worker(d->cfg, account);
        if (home >= 0 && home != d->cfg.worker_index) {
            *where = "worker " + std::to_string(home) + " (" + d->cfg.worker_addresses[size_t(home)] + ")";
            return true;
        }
    }
    if (d->server.peers_are_members) {
        const hf_peer *home = cluster_home(d, account);
        if (home && home->id != d->cfg.server_id) {
            *where = "server " + home->id + (home->live ? "" : ", away at the moment");
            return true;
        }
    }
    return false;
}

void accept_device(evconnlistener *, evutil_socket_t fd, sockaddr *addr, int, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    hf_conn_accept(&d->conns, fd, addr, &hf_devices_handler, &d->server);
}

void accept_allocator(evconnlistener *, evutil_socket_t fd, sockaddr *addr, int, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    hf_conn_accept(&d->conns, fd, addr, &hf_allocation_handler, &d->allocator);
}

void accept_websocket(evconnlistener *, evutil_socket_t fd, sockaddr *addr, int, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    hf_conn_accept(&d->conns, fd, addr, &hf_websocket_front_handler, &d->websocket_front);
}

void on_accept_error(evconnlistener *, void *)
{
    int e = EVUTIL_SOCKET_ERROR();
    hf_log(HF_LOG_WARNING, "accept failed: %s (out of file descriptors? raise LimitNOFILE / ulimit -n)",
           evutil_socket_error_to_string(e));
}

hf_listener_ptr listen_on(hf_daemon *d, const std::string &address, evconnlistener_cb cb, std::string *err)
{
    sockaddr_storage ss;
    int len = sizeof ss;
    if (evutil_parse_sockaddr_port(address.c_str(), reinterpret_cast<sockaddr *>(&ss), &len) != 0) {
        *err = "cannot parse listen address \"" + address + "\"; write host:port, e.g. 127.0.0.1:7401";
        return nullptr;
    }
    hf_listener_ptr l(evconnlistener_new_bind(d->base.get(), cb, d,
                                              LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
                                              reinterpret_cast<sockaddr *>(&ss), len));
    if (!l) {
        *err = "cannot listen on " + address + ": " + evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) +
               " (is another process using the port?)";
        return nullptr;
    }
    evconnlistener_set_error_cb(l.get(), on_accept_error);
    return l;
}

void on_expire_done(void *arg, int status, uint64_t expired)
{
    auto *d = static_cast<hf_daemon *>(arg);
    if (status == HF_STORE_OK)
        d->stats.messages_expired += expired;
}

void on_expire_timer(evutil_socket_t, short, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    d->server.store(&hf_store_ops::expire, hf_expiry_now(&d->server.expiry_clock), on_expire_done, d);
    hf_online_prune(&d->server.online);
}

// How often a draining daemon looks whether its devices have all left.
const uint64_t drain_poll_ms = 50;

void on_presence_timer(evutil_socket_t, short, void *arg)
{
    hf_devices_refresh_presence(&static_cast<hf_daemon *>(arg)->server);
}

// How long a drained daemon still runs to answer the scrapes it accepted.
const uint64_t scrape_grace_ms = 100;

// The end of a drain: the metrics socket is let go first (in a box the
// other workers' copies take the next scrapes), then the loop runs a
// moment more so a scrape already taken is answered, not cut.
void finish_drain(hf_daemon *d)
{
    hf_metrics_stop_listening(&d->metrics);
    timeval tv = hf_timeval_ms(scrape_grace_ms);
    event_base_loopexit(d->base.get(), &tv);
}

void on_stop_timer(evutil_socket_t, short, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    if (d->server.online.devices.empty()) {
        hf_log(HF_LOG_INFO, "drained: every device has left");
        finish_drain(d);
        return;
    }
    if (hf_mono_ms() >= d->stop_deadline_ms) {
        hf_log(HF_LOG_WARNING, "drain.timeout passed with %zu devices still connected; closing them",
               d->server.online.devices.size());
        finish_drain(d);
        return;
    }
    timeval tv = hf_timeval_ms(drain_poll_ms);
    event_add(d->stop_timer.get(), &tv);
}

// SIGTERM: tell the allocators we are draining (no new devices), tell
// every device to go elsewhere (GOAWAY, with the other servers we know),
// stop delivering, and wait until they have left or drain.timeout passes.
// Devices keep their connection until they are connected elsewhere, so
// acknowledgements in flight still arrive.
void begin_stop(hf_daemon *d)
{
    if (d->server.stopping)
        return;
    d->server.stopping = true;
    d->conns.going_away = true;
    d->stop_deadline_ms = hf_mono_ms() + uint64_t(d->cfg.drain_timeout_ms);
    hf_log(HF_LOG_INFO, "draining: telling %zu devices to go elsewhere (at most %lld ms)",
           d->server.online.devices.size(), (long long)d->cfg.drain_timeout_ms);
    hf_registration_announce(&d->registrations);
    d->device_listener.reset();
    d->allocator_listener.reset();
    d->websocket_listener.reset();
    hf_devices_goaway(&d->server);
    event_active(d->stop_timer.get(), EV_TIMEOUT, 0);
}

void reload(hf_daemon *d)
{
    hf_config fresh;
    std::string err;
    if (!hf_config_load(d->cfg.path.c_str(), &fresh, &err)) {
        hf_log(HF_LOG_ERROR, "reload refused, keeping the running config: %s", err.c_str());
        return;
    }
    hf_ssl_ctx_ptr tls = hf_tls_server_ctx(fresh, &err);
    if (!tls) {
        hf_log(HF_LOG_ERROR, "reload refused, keeping the running certificate: %s", err.c_str());
        return;
    }
    d->tls = std::move(tls); // new connections only; open ones keep theirs
    d->conns.tls = d->tls.get();
    hf_config &cfg = d->cfg;
    hf_config_apply_reload(fresh, &cfg);
    hf_conn_pool_apply_limits(&d->conns);
    hf_log_set_level(hf_log_level_from_name(cfg.log_level.c_str()));
    hf_log(HF_LOG_INFO,
           "reloaded %s: certificate, token keys, cluster servers, limits and log level "
           "(listeners, modules, window and queue quotas need a restart)",
           cfg.path.c_str());
}

// What GET /v1/status says of this server, or of the whole box with
// workers (the API adds the store's part).
json_t *api_status(void *shell)
{
    auto *d = static_cast<hf_daemon *>(shell);
    hf_metrics_sample s;
    int workers_up = 0;
    hf_metrics_totals(&d->metrics, &s, &workers_up);
    json_t *status = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I}", "server_id", d->cfg.server_id.c_str(), "role",
                               hf_role_name(d->cfg.role), "version", PACKAGE_VERSION, "draining", s.draining != 0,
                               "connections", json_int_t(s.connections), "online_devices", json_int_t(s.online_devices),
                               "sends_waiting", json_int_t(s.sends_waiting));
    if (d->box) {
        json_object_set_new(status, "workers", json_integer(hf_box_workers(d->box)));
        json_object_set_new(status, "workers_up", json_integer(workers_up));
    }
    return status;
}

// Where an API call for account goes (hf_api.home_port): here, or to its
// worker's loopback port, or nowhere while that worker is down.
int api_home_port(void *shell, const std::string &account, int *worker)
{
    auto *d = static_cast<hf_daemon *>(shell);
    *worker = hf_allocation_worker(d->cfg, account);
    if (*worker < 0 || *worker == d->cfg.worker_index)
        return 0;
    int port = hf_box_api_port(d->box, *worker);
    return port > 0 ? port : -1;
}

// Where an API call for account goes in a cluster of servers with stores
// of their own (hf_api.cluster_home): to the server the allocators' last
// list ranks first for it, as they rank it for its devices.
int api_cluster_home(void *shell, const std::string &account, std::string *api_url, std::string *why)
{
    auto *d = static_cast<hf_daemon *>(shell);
    const hf_peer *found = cluster_home(d, account);
    if (!found) {
        *why = "no allocator has listed the cluster's servers to this one yet, so the server that holds account \"" +
               account + "\" is not known (see /readyz)";
        return -1;
    }
    const hf_peer &home = *found;
    if (home.api_url == d->cfg.api_advertise)
        return 0; // this server, or another worker of its box (hf_api.home_port)
    if (!home.live) {
        *why = "server " + home.id + ", which holds account \"" + account +
               "\", is away (not registered with the allocators); try again later";
        return -1;
    }
    if (home.api_url.empty()) {
        *why = "server " + home.id + ", which holds account \"" + account + "\", has no HTTP API (listen.api)";
        return -1;
    }
    *api_url = home.api_url;
    return 1;
}

// The API's answer goes out first: a server without devices would stop
// within this reactor pass, before writing it.
const uint64_t api_drain_delay_ms = 100;

void api_drain(void *shell)
{
    auto *d = static_cast<hf_daemon *>(shell);
    timeval tv = hf_timeval_ms(api_drain_delay_ms);
    event_base_once(
        d->base.get(), -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void *arg) {
            auto *d = static_cast<hf_daemon *>(arg);
            if (d->box)
                kill(getppid(), SIGTERM); // the supervisor drains every worker
            else
                begin_stop(d);
        },
        d, &tv);
}

void on_signal(evutil_socket_t sig, short, void *arg)
{
    auto *d = static_cast<hf_daemon *>(arg);
    if (sig == SIGHUP)
        reload(d);
    else
        begin_stop(d);
}

} // namespace

namespace
{
bool start_server(hf_daemon *d, std::string *err);
void log_ready(hf_daemon *d);
} // namespace

namespace
{

// The reactor. With epoll's changelist, the read/write interest changes a
// connection makes within one loop pass (a bufferevent turns writing on
// and off as its output fills and drains) cost one epoll_ctl, or none if
// they cancel out, instead of one each. The daemon never dup()s a socket,
// which is the changelist's one caveat.
event_base *new_reactor(void)
{
    event_config *cfg = event_config_new();
    if (!cfg)
        return nullptr;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

// Each part gets the shared pieces it uses.
void wire_parts(hf_daemon *d)
{
    d->timeouts.base = d->base.get();
    hf_conn_pool &conns = d->conns;
    conns.base = d->base.get();
    conns.timeouts = &d->timeouts;
    conns.cfg = &d->cfg;
    conns.stats = &d->stats;
    hf_conn_pool_init(&conns);
    d->server.cfg = &d->cfg;
    d->server.stats = &d->stats;
    d->server.conns = &conns;
    d->server.shell = d;
    d->server.fatal = on_module_fatal;
    d->allocator.cfg = &d->cfg;
    d->allocator.stats = &d->stats;
    d->websocket_front.cfg = &d->cfg;
    d->websocket_front.stats = &d->stats;
    // Browsers: devices on servers, address requests on allocators.
    d->websocket_front.server = d->cfg.role != hf_role::allocator ? &d->server : nullptr;
    d->websocket_front.allocator = d->cfg.role != hf_role::server ? &d->allocator : nullptr;
    d->metrics.cfg = &d->cfg;
    d->metrics.stats = &d->stats;
    d->metrics.conns = &conns;
    d->metrics.server = &d->server;
    d->metrics.allocator = &d->allocator;
    d->metrics.api = &d->api;
    d->metrics.box = d->box;
    d->metrics.inherited_fd = d->inherited_metrics_fd;
    d->readiness.server = &d->server;
    d->readiness.registrations = d->cfg.role == hf_role::server ? &d->registrations : nullptr;
    d->metrics.readiness = d->cfg.role != hf_role::allocator ? &d->readiness : nullptr;
    d->api.cfg = &d->cfg;
    d->api.server = &d->server;
    d->api.conns = &conns;
    d->api.status = api_status;
    d->api.drain = api_drain;
    d->api.shell = d;
}

} // namespace

bool hf_daemon_start(hf_daemon *d, std::string *err)
{
    d->base.reset(new_reactor());
    if (!d->base) {
        *err = "cannot create the event loop";
        return false;
    }
    wire_parts(d);

    d->tls = hf_tls_server_ctx(d->cfg, err);
    if (!d->tls)
        return false;
    d->tls_aead.reset(hf_tls_aead_new());
    if (!d->tls_aead) {
        *err = "cannot create cipher contexts: out of memory";
        return false;
    }
    d->conns.tls = d->tls.get();
    d->conns.tls_aead = d->tls_aead.get();
    // Before the device listeners: once those accept (the kernel does so
    // before the loop runs), /healthz must answer too.
    if (!hf_metrics_start(&d->metrics, d->base.get(), err))
        return false;
    if (d->cfg.role != hf_role::allocator) {
        if (!start_server(d, err))
            return false;
        hf_readiness_start(&d->readiness, d->base.get());
    }
    if (d->cfg.role != hf_role::server) {
        if (d->inherited_allocator_fd >= 0)
            d->allocator_listener.reset(evconnlistener_new(d->base.get(), accept_allocator, d,
                                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
                                                           d->inherited_allocator_fd));
        else
            d->allocator_listener = listen_on(d, d->cfg.listen_allocator, accept_allocator, err);
        if (!d->allocator_listener) {
            if (err->empty())
                *err = "cannot listen on the allocator socket the supervisor opened";
            return false;
        }
    }
    if (!d->cfg.listen_websocket.empty() &&
        !(d->websocket_listener = listen_on(d, d->cfg.listen_websocket, accept_websocket, err)))
        return false;
    if (d->cfg.role != hf_role::allocator && !hf_api_start(&d->api, d->base.get(), err))
        return false;
    if (!d->cfg.worker_api_secret.empty()) {
        int port = 0;
        if (!hf_api_start_worker(&d->api, d->base.get(), &port, err))
            return false;
        hf_box_set_api_port(d->box, d->cfg.worker_index, port);
        d->api.home_port = api_home_port;
    }
    if (d->cfg.role == hf_role::server && !hf_store_is_shared(d->cfg))
        d->api.cluster_home = api_cluster_home;
    if (!hf_store_is_shared(d->cfg))
        d->server.held_elsewhere = held_elsewhere;
    if (d->cfg.role == hf_role::server && !hf_registration_start(&d->registrations, &d->server, err))
        return false;

    d->stop_timer.reset(event_new(d->base.get(), -1, 0, on_stop_timer, d));
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        d->signal_events.emplace_back(evsignal_new(d->base.get(), sig, on_signal, d));
        event_add(d->signal_events.back().get(), nullptr);
    }
    signal(SIGPIPE, SIG_IGN);
    log_ready(d);
    return true;
}

namespace
{

// The connection-server half: modules, the device listener, expiry.
bool start_server(hf_daemon *d, std::string *err)
{
    if (!hf_server_open(&d->server, &d->cfg, err))
        return false;
    d->device_listener = listen_on(d, d->cfg.listen_device, accept_device, err);
    if (!d->device_listener)
        return false;
    d->expire_timer.reset(event_new(d->base.get(), -1, EV_PERSIST, on_expire_timer, d));
    timeval tv = hf_timeval_ms(uint64_t(d->cfg.expire_interval_ms));
    event_add(d->expire_timer.get(), &tv);
    d->presence_timer.reset(event_new(d->base.get(), -1, EV_PERSIST, on_presence_timer, d));
    timeval ptv = hf_timeval_ms(uint64_t(d->cfg.presence_ttl_ms) / 3);
    event_add(d->presence_timer.get(), &ptv);
    return true;
}

void log_ready(hf_daemon *d)
{
    const char *browsers = d->websocket_listener ? ", browsers on " : "";
    const char *browsers_on = d->websocket_listener ? d->cfg.listen_websocket.c_str() : "";
    if (d->cfg.role == hf_role::allocator)
        hf_log(HF_LOG_INFO, "handoffd %s ready: allocator %s on %s%s%s", PACKAGE_VERSION, d->cfg.server_id.c_str(),
               d->cfg.listen_allocator.c_str(), browsers, browsers_on);
    else
        hf_log(HF_LOG_INFO, "handoffd %s ready: %s %s, devices on %s%s%s%s%s, store %s, heartbeat %s", PACKAGE_VERSION,
               hf_role_name(d->cfg.role), d->cfg.server_id.c_str(), d->cfg.listen_device.c_str(),
               d->allocator_listener ? ", allocator on " : "",
               d->allocator_listener ? d->cfg.listen_allocator.c_str() : "", browsers, browsers_on,
               d->cfg.store.module.c_str(), d->cfg.heartbeat.module.c_str());
}

} // namespace

void hf_daemon_run(hf_daemon *d)
{
    event_base_dispatch(d->base.get());
    hf_api_close(&d->api); // before the router lets go of the API's sends
    hf_registration_stop(&d->registrations);
    hf_conn_close_all(&d->conns);
    if (d->server.router)
        hf_router_release_all(d->server.router);
    hf_log(HF_LOG_INFO, "stopped");
}

void hf_daemon_shutdown(hf_daemon *d)
{
    d->signal_events.clear();
    d->readiness.probe_timer.reset();
    d->stop_timer.reset();
    d->expire_timer.reset();
    d->presence_timer.reset();
    d->device_listener.reset();
    d->allocator_listener.reset();
    d->websocket_listener.reset();
    d->metrics.http.reset();
    hf_http_guard_release(&d->metrics.guard);
    hf_registration_stop(&d->registrations);
    hf_server_close(&d->server);
    d->conns.flush_event.reset();
    d->tls.reset();
    d->base.reset();
}

int hf_daemon_worker_main(const hf_worker_start &start)
{
    auto d = std::make_unique<hf_daemon>();
    d->cfg = start.cfg;
    d->inherited_allocator_fd = start.allocator_fd;
    d->inherited_metrics_fd = start.metrics_fd;
    d->box = start.box;
    std::string err;
    bool started = hf_daemon_start(d.get(), &err);
    if (start.ready_fd >= 0) {
        std::string said = started ? std::string() : err;
        ssize_t ignored = write(start.ready_fd, said.data(), said.size());
        (void)ignored;
        close(start.ready_fd);
    }
    if (!started) {
        hf_log(HF_LOG_ERROR, "worker %d cannot start: %s", start.cfg.worker_index, err.c_str());
        hf_daemon_shutdown(d.get());
        return 1;
    }
    hf_daemon_run(d.get());
    hf_daemon_shutdown(d.get());
    return d->exit_status;
}
