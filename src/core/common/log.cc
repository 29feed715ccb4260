#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <syslog.h>

#include "core/common/log.h"

namespace
{

struct log_settings {
    int level = HF_LOG_INFO;
    bool use_syslog = false;
};

log_settings settings;

const char *level_names[] = {"error", "warning", "info", "debug"};
const int syslog_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

} // namespace

void hf_log_setup(int level, bool use_syslog, int facility)
{
    if (settings.use_syslog && !use_syslog)
        closelog();
    settings.level = level;
    settings.use_syslog = use_syslog;
    if (use_syslog)
        openlog("handoffd", LOG_PID | LOG_NDELAY, facility);
}

void hf_log_set_level(int level)
{
    settings.level = level;
}

bool hf_log_enabled(int level)
{
    return level <= settings.level;
}

void hf_vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
    if (!hf_log_enabled(level))
        return;
    char line[1024];
    int n = 0;
    if (prefix)
        n = snprintf(line, sizeof line, "%s: ", prefix);
    vsnprintf(line + n, sizeof line - size_t(n), fmt, ap);
    if (settings.use_syslog) {
        syslog(syslog_priorities[level], "%s", line);
        return;
    }
    char stamp[32];
    time_t now = time(nullptr);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime_r(&now, &tm));
    fprintf(stderr, "%sZ %s %s\n", stamp, level_names[level], line);
}

void hf_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hf_vlog(level, nullptr, fmt, ap);
    va_end(ap);
}

int hf_log_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int hf_log_facility_from_name(const char *name)
{
    static const struct {
        const char *name;
        int facility;
    } facilities[] = {
        {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
        {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
        {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
    };
    for (const auto &f : facilities)
        if (strcmp(name, f.name) == 0)
            return f.facility;
    return -1;
}

void hf_module_log(void *, int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hf_vlog(level, module, fmt, ap);
    va_end(ap);
}
