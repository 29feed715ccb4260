// Checking a device token, hf1 or JWT (core/common/jwt.h), against the
// configured keys, clock skew, audience and issuer; why says what failed.
#pragma once
#include <string_view>

#include "core/common/config.h"
#include "proto/token.h"

int hf_token_check(const hf_config *cfg, std::string_view token, hf_token_claims *claims, std::string *why);
