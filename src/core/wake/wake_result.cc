#include "core/wake/wake_result.h"

#include <ctime>

const char *hf_wake_outcome_name(hf_wake_outcome outcome)
{
    static const char *const names[] = {"sent", "gone", "retry", "failed"};
    return names[int(outcome)];
}

uint64_t hf_retry_after_ms(const std::string &value, uint64_t now_ms)
{
    if (value.empty())
        return 0;
    if (value.find_first_not_of("0123456789") == std::string::npos)
        return value.size() > 9 ? 0 : std::stoull(value) * 1000;
    tm when{};
    const char *end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &when);
    if (!end || *end)
        return 0;
    uint64_t at_ms = uint64_t(timegm(&when)) * 1000;
    return at_ms > now_ms ? at_ms - now_ms : 0;
}

bool hf_wake_common_outcome(const hf_http_response &response, uint64_t now_ms, hf_wake_result *out)
{
    out->status = response.status;
    if (response.refused) {
        out->outcome = hf_wake_outcome::failed;
        out->detail = response.error;
        return true;
    }
    if (response.status != 0 && response.status != 429 && response.status < 500)
        return false;
    out->outcome = hf_wake_outcome::retry;
    out->detail = response.status ? "the provider answered " + std::to_string(response.status) : response.error;
    out->retry_after_ms = hf_retry_after_ms(response.header("retry-after"), now_ms);
    return true;
}

hf_wake_result hf_wake_provider_outcome(const hf_http_response &response, const std::string &reason, bool gone)
{
    hf_wake_result result;
    result.status = response.status;
    result.detail = std::to_string(response.status) + (reason.empty() ? "" : " " + reason);
    result.outcome = response.status >= 200 && response.status < 300 ? hf_wake_outcome::sent
                     : gone                                          ? hf_wake_outcome::gone
                                                                     : hf_wake_outcome::failed;
    return result;
}
