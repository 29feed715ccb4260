#include "core/common/token_check.h"

#include "handoff/protocol.h"
#include "proto/clock.h"

int hf_token_check(const hf_config *cfg, std::string_view token, hf_token_claims *claims, std::string *why)
{
    uint64_t now_s = hf_wall_ms() / 1000, skew_s = uint64_t(cfg->token_clock_skew_ms) / 1000;
    if (hf_jwt_like(token))
        return hf_jwt_verify(token, cfg->jwt_keys, {now_s, skew_s, cfg->token_audience, cfg->token_issuer}, claims,
                             why);
    int rc = hf_token_verify(token, cfg->token_keys.data(), cfg->token_keys.size(), now_s, skew_s, claims);
    if (rc != HF_OK)
        *why = hf_err_text(rc);
    return rc;
}
