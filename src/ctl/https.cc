#include "ctl/https.h"

#include "net/link.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace
{

struct exchange {
    ctl_response *response;
    bufferevent *bev;
    event_base *base;
    bool done = false;
};

void on_done(evhttp_request *req, void *arg)
{
    auto *x = static_cast<exchange *>(arg);
    x->done = true;
    event_base_loopexit(x->base, nullptr); // the connection would stay open, kept alive
    if (!req || evhttp_request_get_response_code(req) == 0) {
        std::string why;
        hf_link_describe_failure(x->bev, &why);
        x->response->error = why;
        return;
    }
    x->response->status = evhttp_request_get_response_code(req);
    evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    x->response->body.assign(reinterpret_cast<const char *>(evbuffer_pullup(in, -1)), len);
}

// "https://host:port" -> host, port. False if it is not one.
bool split_url(const std::string &url, std::string *host, int *port)
{
    const std::string scheme = "https://";
    if (url.compare(0, scheme.size(), scheme) != 0)
        return false;
    std::string rest = url.substr(scheme.size());
    while (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos) {
        *host = rest;
        *port = 443;
    } else {
        *host = rest.substr(0, colon);
        *port = atoi(rest.c_str() + colon + 1);
    }
    return !host->empty() && *port > 0 && *port < 65536 && host->find('/') == std::string::npos;
}

// A plain TCP connect first, so that "nothing listens there" is said as
// the socket says it (evhttp's own connect loses the error).
bool reachable(const std::string &host, int port, int timeout_s, std::string *err)
{
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (gai != 0) {
        *err = "cannot resolve " + host + ": " + gai_strerror(gai);
        return false;
    }
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    timeval tv{timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bool ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
    if (!ok)
        *err = std::string("cannot connect: ") + strerror(errno);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return ok;
}

struct ctx_deleter {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct base_deleter {
    void operator()(event_base *b) const { event_base_free(b); }
};

} // namespace

bool ctl_https(const ctl_request &request, ctl_response *response)
{
    std::string host;
    int port = 0;
    if (!split_url(request.url, &host, &port)) {
        response->error = "--url \"" + request.url + "\": expected https://HOST:PORT";
        return false;
    }
    if (!reachable(host, port, request.timeout_s, &response->error))
        return false;
    std::unique_ptr<SSL_CTX, ctx_deleter> ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (request.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get()) != 1
                                : SSL_CTX_load_verify_locations(ctx.get(), request.ca_file.c_str(), nullptr) != 1) {
        response->error = "cannot read the CA bundle " + (request.ca_file.empty() ? "of the system" : request.ca_file);
        return false;
    }
    SSL *ssl = SSL_new(ctx.get());
    // The certificate must name the host: an address as an IP SAN.
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
    std::unique_ptr<event_base, base_deleter> base(event_base_new());
    bufferevent *bev = bufferevent_openssl_socket_new(base.get(), -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    evhttp_connection *conn =
        evhttp_connection_base_bufferevent_new(base.get(), nullptr, bev, host.c_str(), uint16_t(port));
    evhttp_connection_set_timeout(conn, request.timeout_s);
    evhttp_connection_set_retries(conn, 0);
    exchange x{response, bev, base.get()};
    evhttp_request *req = evhttp_request_new(on_done, &x);
    evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Host", host.c_str());
    evhttp_add_header(headers, "Authorization", ("Bearer " + request.secret).c_str());
    if (!request.idempotency_key.empty())
        evhttp_add_header(headers, "Idempotency-Key", request.idempotency_key.c_str());
    evhttp_add_header(headers, "Accept", "application/json");
    if (!request.body.empty()) {
        evhttp_add_header(headers, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), request.body.data(), request.body.size());
    }
    evhttp_cmd_type method = request.method == "GET" ? EVHTTP_REQ_GET : EVHTTP_REQ_POST;
    if (evhttp_make_request(conn, req, method, request.path.c_str()) != 0) {
        response->error = "cannot send the request";
        evhttp_connection_free(conn);
        return false;
    }
    event_base_dispatch(base.get());
    evhttp_connection_free(conn);
    return x.done && response->status != 0;
}
