// Durations and sizes as people write them in configs and on command lines.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

// Parses "250ms", "30s", "5m", "2h", "7d" into milliseconds.
bool hf_parse_duration(const char *text, int64_t *ms);
// Parses "4096", "64k", "1m", "2g" (powers of 1024) into bytes.
bool hf_parse_size(const char *text, int64_t *bytes);
// Appends the items of a comma-separated list ("a:1, b:2") to out,
// spaces around each trimmed, empty ones skipped.
void hf_split_list(const std::string &text, std::vector<std::string> *out);
