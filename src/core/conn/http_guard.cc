#include "core/conn/http_guard.h"

#include <sys/socket.h>

#include <event2/event.h>

namespace
{

// The SSL objects' slot for the guard that counts their connection.
void release_tls(void *, void *guard, CRYPTO_EX_DATA *, int, long, void *)
{
    if (guard)
        static_cast<hf_http_guard *>(guard)->open--;
}

int tls_slot(void)
{
    static const int slot = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, release_tls);
    return slot;
}

// Whether one more is within the cap: counted if so, a hit of the limit
// if not.
bool admit(hf_http_guard *guard)
{
    if (guard->open >= guard->max_connections) {
        hf_limit_hit(guard->limits, guard->limit, "new HTTP connection closed");
        return false;
    }
    guard->open++;
    return true;
}

// Lets go of the plain connections evhttp has let go of: bufferevent_free
// (and evhttp's reset of a failed connection) empties a bufferevent's
// callbacks, and the ref held here is then the last one, which closes it.
void sweep(hf_http_guard *guard)
{
    auto &held = guard->plain;
    size_t kept = 0;
    for (bufferevent *bev : held) {
        bufferevent_event_cb events = nullptr;
        bufferevent_getcb(bev, nullptr, nullptr, &events, nullptr);
        if (events) {
            held[kept++] = bev;
        } else {
            bufferevent_decref(bev);
            guard->open--;
        }
    }
    held.resize(kept);
}

// Run once evhttp has given the socket to the bufferevent (right after
// asking for it): the peer reads end of stream, and evhttp frees it.
void shut(evutil_socket_t, short, void *arg)
{
    auto *bev = static_cast<bufferevent *>(arg);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    bufferevent_decref(bev);
}

} // namespace

bufferevent *hf_http_guard_plain(event_base *base, void *arg)
{
    auto *guard = static_cast<hf_http_guard *>(arg);
    sweep(guard);
    bufferevent *socket = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!socket)
        return nullptr;
    if (!admit(guard)) {
        bufferevent_incref(socket);
        if (event_base_once(base, -1, EV_TIMEOUT, shut, socket, nullptr) != 0)
            bufferevent_decref(socket);
        return socket;
    }
    bufferevent_incref(socket);
    guard->plain.push_back(socket);
    return socket;
}

void hf_http_guard_release(hf_http_guard *guard)
{
    for (bufferevent *bev : guard->plain)
        bufferevent_decref(bev);
    guard->plain.clear();
    guard->open = 0;
}

hf_http_guard::~hf_http_guard()
{
    hf_http_guard_release(this);
}

bool hf_http_guard_admit_tls(hf_http_guard *guard, SSL *ssl)
{
    if (tls_slot() < 0 || !admit(guard))
        return false;
    SSL_set_ex_data(ssl, tls_slot(), guard);
    return true;
}

void hf_http_guard_limits(evhttp *http, size_t max_headers, size_t max_body, int timeout_s)
{
    evhttp_set_max_headers_size(http, ev_ssize_t(max_headers));
    evhttp_set_max_body_size(http, ev_ssize_t(max_body));
    evhttp_set_timeout(http, timeout_s);
}
