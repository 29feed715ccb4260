// Durations and sizes as people write them in configs and on command lines.
#pragma once
#include <cstdint>

// Parses "250ms", "30s", "5m", "2h", "7d" into milliseconds.
bool hf_parse_duration(const char *text, int64_t *ms);
// Parses "4096", "64k", "1m", "2g" (powers of 1024) into bytes.
bool hf_parse_size(const char *text, int64_t *bytes);
