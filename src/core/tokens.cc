#include "core/tokens.h"

#include "proto/clock.h"

int hf_tokens_verify(hf_daemon *d, std::string_view token, hf_token_claims *claims)
{
    return hf_token_verify(token, d->cfg.token_keys.data(), d->cfg.token_keys.size(), hf_wall_ms() / 1000,
                           uint64_t(d->cfg.token_clock_skew_ms) / 1000, claims);
}
