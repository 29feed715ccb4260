// Checking a device token against the configured keys and clock skew.
#pragma once
#include <string_view>

#include "core/daemon.h"
#include "proto/token.h"

int hf_tokens_verify(hf_daemon *d, std::string_view token, hf_token_claims *claims);
