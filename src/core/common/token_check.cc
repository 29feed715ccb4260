#include "core/common/token_check.h"

#include "proto/clock.h"

int hf_token_check(const hf_config *cfg, std::string_view token, hf_token_claims *claims)
{
    return hf_token_verify(token, cfg->token_keys.data(), cfg->token_keys.size(), hf_wall_ms() / 1000,
                           uint64_t(cfg->token_clock_skew_ms) / 1000, claims);
}
