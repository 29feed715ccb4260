#pragma once
#include <string_view>

// True if s is well-formed UTF-8 (no overlongs, no surrogates, nothing past
// U+10FFFF) and holds no NUL, as every string field must.
bool hf_utf8_valid(std::string_view s);
