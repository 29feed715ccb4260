#include "net/link.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/frame_reader.h"
#include "net/quiet_bio.h"
#include "net/ws_stream.h"
#include "proto/frame.h"
#include "proto/ws.h"

struct hf_link {
    bufferevent *bev = nullptr;    // what frames go through: tls, or the WebSocket filter over it
    bufferevent *tls = nullptr;    // the TLS bufferevent
    std::string websocket_request; // the upgrade to send once TLS is up; empty: none
    std::string websocket_accept;  // the Sec-WebSocket-Accept it must be answered with
    bool upgrading = false;        // waiting for the 101
    // Over WebSocket, the frames of one reactor pass go out together: the
    // filter makes each write a message and the TLS layer a record, so
    // one write per frame would be a record per frame.
    std::string pending;
    event *flush = nullptr;
    hf_link_callbacks cb{};
    void *arg = nullptr;
    size_t max_frame = 0;
    bool open = false;
    bool closed = false; // on_close was called or hf_link_free was
    int in_callback = 0;
    bool free_requested = false;
    std::string scratch;
    SSL_SESSION **session = nullptr; // the owner's slot, from hf_link_target
};

namespace
{

bool split_host_port(const std::string &address, std::string *host, std::string *port)
{
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
        return false;
    *host = address.substr(0, colon);
    *port = address.substr(colon + 1);
    if (host->size() > 2 && host->front() == '[' && host->back() == ']')
        *host = host->substr(1, host->size() - 2);
    return true;
}

void destroy(hf_link *l)
{
    if (l->flush)
        event_free(l->flush);
    if (l->bev) {
        SSL_set_app_data(bufferevent_openssl_get_ssl(l->tls), nullptr);
        bufferevent_free(l->bev); // a filter frees the TLS one under it
    }
    delete l;
}

// A ticket from the server: the link's owner keeps a copy of the latest.
// A copy, because OpenSSL marks the connection's own session not
// resumable when the connection is freed without a TLS shutdown (a server
// that died, a link its owner dropped), and a device must resume after
// exactly those.
int keep_session(SSL *ssl, SSL_SESSION *session)
{
    auto *l = static_cast<hf_link *>(SSL_get_app_data(ssl));
    SSL_SESSION *copy = l && l->session ? SSL_SESSION_dup(session) : nullptr;
    if (copy) {
        SSL_SESSION_free(*l->session);
        *l->session = copy;
    }
    return 0; // OpenSSL keeps what it gave
}

// Runs an owner callback; the owner may free the link inside it.
template <typename Fn>
bool call_owner(hf_link *l, Fn fn)
{
    l->in_callback++;
    fn();
    l->in_callback--;
    if (l->free_requested && l->in_callback == 0) {
        destroy(l);
        return false;
    }
    return !l->free_requested;
}

void close_with(hf_link *l, hf_link_failure failure, const char *why)
{
    if (l->closed)
        return;
    l->closed = true;
    bufferevent_disable(l->bev, EV_READ | EV_WRITE);
    call_owner(l, [&] { l->cb.on_close(l->arg, l, failure, why); });
}

hf_link_failure failure_of_errno(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return hf_link_failure::refused;
    case EHOSTUNREACH:
    case ENETUNREACH:
        return hf_link_failure::unreachable;
    case ETIMEDOUT:
        return hf_link_failure::timed_out;
    case ECONNRESET:
    case EPIPE:
        return hf_link_failure::reset;
    default:
        return hf_link_failure::other;
    }
}

void on_read(bufferevent *bev, void *arg);
void on_event(bufferevent *bev, short what, void *arg);

// The upgrade's answer: "101 Switching Protocols", and the frames go
// through a WebSocket filter from then on. False once the link is closed.
bool take_upgrade(hf_link *l, evbuffer *in)
{
    evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > 16384)
            close_with(l, hf_link_failure::bad_frame, "WebSocket upgrade: the answer's headers are too long");
        return false;
    }
    std::string head(size_t(end.pos), '\0');
    evbuffer_remove(in, head.data(), head.size());
    evbuffer_drain(in, 4);
    if (head.compare(0, 13, "HTTP/1.1 101 ") != 0) {
        std::string why = "WebSocket upgrade refused: " + head.substr(0, head.find('\r'));
        close_with(l, hf_link_failure::bad_frame, why.c_str());
        return false;
    }
    // The header's name in any case; its value (base64) exactly.
    std::string lower = head;
    for (char &ch : lower)
        ch = char(tolower(static_cast<unsigned char>(ch)));
    const std::string name = "\r\nsec-websocket-accept:";
    size_t at = lower.find(name);
    size_t value = at == std::string::npos ? at : head.find_first_not_of(' ', at + name.size());
    if (value == std::string::npos || head.compare(value, l->websocket_accept.size(), l->websocket_accept) != 0) {
        close_with(l, hf_link_failure::bad_frame, "WebSocket upgrade: no Sec-WebSocket-Accept for our key");
        return false;
    }
    hf_ws_stream *ws = nullptr;
    bufferevent *filter = hf_ws_stream_new(l->tls, l->max_frame + HF_FRAME_HEADER_MAX, &ws, true);
    if (!filter) {
        close_with(l, hf_link_failure::other, "out of memory");
        return false;
    }
    l->bev = filter;
    l->upgrading = false;
    bufferevent_setcb(filter, on_read, nullptr, on_event, l);
    bufferevent_enable(filter, EV_READ | EV_WRITE);
    l->open = true;
    return call_owner(l, [&] { l->cb.on_open(l->arg, l); });
}

void on_read(bufferevent *bev, void *arg)
{
    auto *l = static_cast<hf_link *>(arg);
    evbuffer *in = bufferevent_get_input(bev);
    if (l->upgrading && !take_upgrade(l, in))
        return;
    hf_decode_limits limits;
    limits.max_body = l->max_frame;
    while (!l->closed) {
        hf_msg m;
        size_t frame_len = 0;
        std::string why;
        int rc = hf_frame_next(in, &limits, &m, &frame_len, &why);
        if (rc == HF_ERR_NEED_MORE)
            return;
        if (rc != HF_OK) {
            why = "bad frame from the peer: " + why;
            close_with(l, hf_link_failure::bad_frame, why.c_str());
            return;
        }
        if (!call_owner(l, [&] { l->cb.on_frame(l->arg, l, &m); }))
            return;
        evbuffer_drain(in, frame_len);
    }
}

void on_event(bufferevent *, short what, void *arg)
{
    auto *l = static_cast<hf_link *>(arg);
    if (what & BEV_EVENT_CONNECTED) {
        if (!l->websocket_request.empty()) {
            l->upgrading = true;
            bufferevent_write(l->tls, l->websocket_request.data(), l->websocket_request.size());
            return;
        }
        l->open = true;
        call_owner(l, [&] { l->cb.on_open(l->arg, l); });
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        std::string why;
        hf_link_failure failure = hf_link_describe_failure(l->tls, &why);
        close_with(l, failure, why.c_str());
    }
}

// A non-blocking socket bound to source_ip with the port left to connect(),
// so that many sources each get the whole ephemeral port range.
evutil_socket_t bound_socket(const addrinfo *dest, const char *source_ip, std::string *err)
{
    addrinfo hints{}, *src = nullptr;
    hints.ai_family = dest->ai_family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(source_ip, "0", &hints, &src) != 0) {
        *err = std::string("bad source address \"") + source_ip + "\"";
        return -1;
    }
    evutil_socket_t fd = socket(dest->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (fd < 0 || bind(fd, src->ai_addr, src->ai_addrlen) != 0) {
        *err = std::string("cannot bind ") + source_ip + ": " + strerror(errno);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(src);
    return fd;
}

} // namespace

// What an error or EOF on the link means. OpenSSL's own reasons come
// first; an "error" of library 0 is bufferevent_openssl passing on
// SSL_ERROR_SYSCALL, whose cause is the socket's errno.
hf_link_failure hf_link_describe_failure(bufferevent *bev, std::string *why)
{
    unsigned long e = bufferevent_get_openssl_error(bev);
    // The socket's own error first: callbacks are deferred, and errno is
    // long gone by now.
    int sock_err = 0;
    socklen_t len = sizeof sock_err;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &sock_err, &len) != 0 || sock_err == 0)
        sock_err = EVUTIL_SOCKET_ERROR();
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        bool name = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
        *why = std::string(name ? "certificate name mismatch: " : "certificate verify failed: ") +
               X509_verify_cert_error_string(verify);
        return name ? hf_link_failure::name_mismatch : hf_link_failure::certificate;
    }
    if (e && ERR_GET_LIB(e) != 0) {
        char tls[256];
        ERR_error_string_n(e, tls, sizeof tls);
        *why = std::string("TLS failed: ") + tls;
        return hf_link_failure::tls;
    }
    if (sock_err != 0) {
        *why = evutil_socket_error_to_string(sock_err);
        return failure_of_errno(sock_err);
    }
    *why = e ? "the connection ended during the TLS handshake" : "closed by the peer";
    return hf_link_failure::closed;
}

hf_link *hf_link_open(event_base *base, SSL_CTX *tls, const hf_link_target *target, size_t max_frame,
                      const hf_link_callbacks *cb, void *arg, std::string *err)
{
    const std::string &address = target->address;
    const char *server_name = target->server_name;
    std::string host, port;
    if (!split_host_port(address, &host, &port)) {
        *err = "bad address \"" + address + "\"; expected host:port";
        return nullptr;
    }
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0) {
        *err = "cannot resolve " + address + ": " + gai_strerror(gai);
        return nullptr;
    }
    evutil_socket_t fd = -1;
    if (target->source_ip && (fd = bound_socket(res, target->source_ip, err)) < 0) {
        freeaddrinfo(res);
        return nullptr;
    }
    SSL *ssl = SSL_new(tls);
    // Verify the certificate names this host (or the name asked for): an
    // IP address or a DNS name.
    const std::string name = server_name && *server_name ? server_name : host;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
        SSL_set_tlsext_host_name(ssl, name.c_str());
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    }
    auto *l = new hf_link;
    l->cb = *cb;
    l->arg = arg;
    l->max_frame = max_frame;
    l->session = target->session;
    SSL_set_app_data(ssl, l);
    // A copy again (see keep_session); a stale one means a full handshake.
    SSL_SESSION *offer = l->session && *l->session ? SSL_SESSION_dup(*l->session) : nullptr;
    if (offer) {
        SSL_set_session(ssl, offer);
        SSL_SESSION_free(offer);
    }

    if (target->websocket_path) {
        unsigned char nonce[16];
        RAND_bytes(nonce, sizeof nonce);
        std::string key(24, '\0');
        EVP_EncodeBlock(reinterpret_cast<unsigned char *>(key.data()), nonce, sizeof nonce);
        l->websocket_request = std::string("GET ") + target->websocket_path + " HTTP/1.1\r\nHost: " + host +
                               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                               "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        l->websocket_accept = hf_ws_accept_key(key);
        l->flush = event_new(
            base, -1, 0,
            [](evutil_socket_t, short, void *arg) {
                auto *link = static_cast<hf_link *>(arg);
                if (!link->closed)
                    bufferevent_write(link->bev, link->pending.data(), link->pending.size());
                link->pending.clear();
            },
            l);
    }
    l->bev = l->tls = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
    bufferevent_setcb(l->bev, on_read, nullptr, on_event, l);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    // A failed connect is reported through on_event (deferred), like any
    // other failure, so the owner has one path for all of them.
    bufferevent_socket_connect(l->bev, res->ai_addr, int(res->ai_addrlen));
    freeaddrinfo(res);
    // Small frames answered at once: no Nagle delay behind a TLS record.
    int one = 1;
    fd = bufferevent_getfd(l->bev);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        // libevent gave the SSL a plain socket BIO when it set the fd; no
        // byte has moved yet (the handshake starts from the loop).
        if (BIO *quiet = hf_quiet_bio_new(fd))
            SSL_set_bio(ssl, quiet, quiet);
    }
    return l;
}

bool hf_link_send(hf_link *l, const hf_msg *m)
{
    if (l->closed || !l->open)
        return false;
    if (l->flush) {
        if (l->pending.empty())
            event_active(l->flush, EV_TIMEOUT, 0);
        return hf_msg_encode(m, &l->pending) == HF_OK;
    }
    l->scratch.clear();
    if (hf_msg_encode(m, &l->scratch) != HF_OK)
        return false;
    return bufferevent_write(l->bev, l->scratch.data(), l->scratch.size()) == 0;
}

void hf_link_free(hf_link *l)
{
    if (!l)
        return;
    l->closed = true;
    if (l->in_callback) {
        l->free_requested = true;
        bufferevent_disable(l->bev, EV_READ | EV_WRITE);
        return;
    }
    destroy(l);
}

SSL_CTX *hf_link_tls_ctx(const char *ca_file)
{
    SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
    if (!tls)
        return nullptr;
    SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
    SSL_CTX_set_mode(tls, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, nullptr);
    // No cache of OpenSSL's own: each link's owner keeps its session.
    SSL_CTX_set_session_cache_mode(tls, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(tls, keep_session);
    int ok = ca_file ? SSL_CTX_load_verify_locations(tls, ca_file, nullptr) : SSL_CTX_set_default_verify_paths(tls);
    if (ok != 1) {
        SSL_CTX_free(tls);
        ERR_clear_error();
        return nullptr;
    }
    return tls;
}
