// The table of handoffd.conf's keys (name, type, default, bounds, help)
// that config.cc parses by, and the man page check reads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/common/settings.h"

enum class hf_key_type { string, choice, duration, size, integer, keyring, string_list };

struct hf_key_spec {
    const char *name;
    hf_key_type type;
    const char *default_value;
    int64_t min, max;
    const char *choices; // for choice: "a|b|c"
    int64_t hf_config::*number;
    std::string hf_config::*text;
    const char *help;
};

extern const hf_key_spec hf_key_specs[];
extern const size_t hf_key_spec_count;

static inline std::span<const hf_key_spec> hf_key_table(void)
{
    return {hf_key_specs, hf_key_spec_count};
}
