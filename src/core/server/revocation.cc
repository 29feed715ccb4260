#include "core/server/revocation.h"

#include "core/common/log.h"
#include "core/conn/conn.h"
#include "core/server/delivery.h"
#include "core/server/server.h"
#include "core/server/session.h"

namespace
{

struct check {
    hf_session *s; // its connection's ref is held
    void (*done)(hf_session *, hf_revocation_verdict);
};

// What a revocation leaves of a token: refused while the device is
// revoked, and if issued before its not_before (a token without
// issued_at_ms counts as issued at 0).
bool token_revoked(uint64_t not_before_ms, int revoked, uint64_t issued_at_ms)
{
    return revoked || issued_at_ms < not_before_ms;
}

void revocation_read(void *arg, int status, uint64_t not_before_ms, int revoked)
{
    auto *c = static_cast<check *>(arg);
    hf_conn *conn = c->s->conn;
    if (hf_conn_is_open(conn))
        c->done(c->s, status != HF_STORE_OK                                       ? hf_revocation_verdict::unknown
                      : token_revoked(not_before_ms, revoked, c->s->issued_at_ms) ? hf_revocation_verdict::revoked
                                                                                  : hf_revocation_verdict::admitted);
    delete c;
    hf_conn_unref(conn);
}

void rechecked(hf_session *s, hf_revocation_verdict verdict)
{
    switch (verdict) {
    case hf_revocation_verdict::revoked:
        hf_conn_fail(s->conn, HF_ERR_REVOKED, std::string("token refused: ") + hf_err_text(HF_ERR_REVOKED));
        break;
    case hf_revocation_verdict::admitted:
        s->revocation_unchecked = false;
        hf_log(HF_LOG_INFO, "%s/%s: the store answered; its revocation is checked", s->account.c_str(),
               s->device.c_str());
        hf_delivery_pump(s);
        break;
    case hf_revocation_verdict::unknown:
        hf_revocation_recheck_later(s);
        break;
    }
}

} // namespace

void hf_revocation_check(hf_session *s, void (*done)(hf_session *, hf_revocation_verdict))
{
    hf_conn_ref(s->conn);
    s->srv->store(&hf_store_ops::revocation, s->account.c_str(), s->device.c_str(), revocation_read,
                  new check{s, done});
}

void hf_revocation_recheck_later(hf_session *s)
{
    hf_server *srv = s->srv;
    if (!s->revocation_retry)
        s->revocation_retry.reset(event_new(
            srv->conns->base, -1, 0,
            [](evutil_socket_t, short, void *arg) {
                auto *session = static_cast<hf_session *>(arg);
                if (hf_conn_is_open(session->conn))
                    hf_revocation_check(session, rechecked);
            },
            s));
    hf_timeout_arm(srv->conns->timeouts, s->revocation_retry.get(), uint64_t(srv->cfg->store_retry_ms));
}
