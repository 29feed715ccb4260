#include "core/conn/http_guard.h"

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

} // namespace

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
