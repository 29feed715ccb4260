// Checking a device token against the configured keys and clock skew.
#pragma once
#include <string_view>

#include "core/common/config.h"
#include "proto/token.h"

int hf_token_check(const hf_config *cfg, std::string_view token, hf_token_claims *claims);
