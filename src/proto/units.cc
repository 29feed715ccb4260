#include "proto/units.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

bool hf_parse_duration(const char *text, int64_t *ms)
{
    char *end = nullptr;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0)
        return false;
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    for (const auto &u : units) {
        if (strcmp(end, u.unit) == 0) {
            if (v > INT64_MAX / u.ms)
                return false;
            *ms = v * u.ms;
            return true;
        }
    }
    return false;
}

bool hf_parse_size(const char *text, int64_t *bytes)
{
    char *end = nullptr;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0)
        return false;
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'm' || *end == 'M')
        shift = 20;
    else if (*end == 'g' || *end == 'G')
        shift = 30;
    else if (*end)
        return false;
    if (shift && end[1])
        return false;
    if (v > (INT64_MAX >> shift))
        return false;
    *bytes = int64_t(v) << shift;
    return true;
}

void hf_split_list(const std::string &text, std::vector<std::string> *out)
{
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos)
            comma = text.size();
        size_t first = text.find_first_not_of(' ', start), last = text.find_last_not_of(' ', comma - 1);
        if (first < comma && last != std::string::npos && last >= first)
            out->push_back(text.substr(first, last - first + 1));
        start = comma + 1;
    }
}
