#include "core/alloc.h"

#include "core/conn.h"
#include "core/log.h"
#include "core/tokens.h"

void hf_alloc_on_frame(hf_conn *c, const hf_msg *m)
{
    hf_daemon *d = c->d;
    if (m->type != HF_MSG_ALLOC_REQ) {
        hf_conn_fail(c, HF_ERR_UNEXPECTED_TYPE,
                     std::string(hf_msg_type_name(m->type)) + " sent to the allocator; it answers ALLOC_REQ only");
        return;
    }
    hf_token_claims claims;
    int rc = hf_tokens_verify(d, m->token, &claims);
    if (rc != HF_OK) {
        hf_conn_fail(c, rc, std::string("token refused: ") + hf_err_text(rc));
        return;
    }
    hf_msg resp;
    resp.type = HF_MSG_ALLOC_RESP;
    resp.addresses[0] = d->cfg.advertise;
    resp.address_count = 1;
    resp.version = HF_PROTOCOL_VERSION;
    resp.backoff_base_ms = uint64_t(d->cfg.backoff_base_ms);
    resp.backoff_cap_ms = uint64_t(d->cfg.backoff_cap_ms);
    for (unsigned tag : {HF_TAG_ADDRESS, HF_TAG_VERSION, HF_TAG_BACKOFF_BASE_MS, HF_TAG_BACKOFF_CAP_MS})
        hf_msg_set(&resp, tag);
    hf_conn_send(c, &resp);
    d->stats.alloc_answers++;
    hf_log(HF_LOG_DEBUG, "allocator: %s/%s -> %s", claims.account.c_str(), claims.device.c_str(),
           d->cfg.advertise.c_str());
    hf_conn_close(c, "answered");
}
