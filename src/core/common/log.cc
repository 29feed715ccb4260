#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/common/log.h"

namespace
{

struct log_settings {
    int level = HF_LOG_INFO;
    bool use_syslog = false;
    bool json = false;
    bool journal = false; // stderr is the journal's stream
};

log_settings settings;

const char *level_names[] = {"error", "warning", "info", "debug"};
const int syslog_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

// Whether stderr is the stream JOURNAL_STREAM ("device:inode") names.
bool stderr_is_journal()
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           st.st_dev == dev && st.st_ino == ino;
}

// line as a JSON string's contents.
std::string json_escaped(const char *line)
{
    std::string out;
    for (const char *p = line; *p; p++) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\')
            out += '\\', out += char(c);
        else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else
            out += char(c);
    }
    return out;
}

} // namespace

void hf_log_setup(int level, bool use_syslog, int facility, bool json)
{
    if (settings.use_syslog && !use_syslog)
        closelog();
    settings.level = level;
    settings.use_syslog = use_syslog;
    settings.json = json;
    settings.journal = !use_syslog && stderr_is_journal();
    if (use_syslog)
        openlog("handoffd", LOG_PID | LOG_NDELAY, facility);
}

namespace
{

void write_stderr(int level, const char *prefix, const char *message)
{
    char stamp[32] = "";
    if (!settings.journal || settings.json) {
        time_t now = time(nullptr);
        struct tm tm;
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    }
    char priority[8] = "";
    if (settings.journal)
        snprintf(priority, sizeof priority, "<%d>", syslog_priorities[level]);
    if (settings.json)
        fprintf(stderr, "%s{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"message\":\"%s\"}\n", priority, stamp,
                level_names[level], prefix ? prefix : "handoffd", json_escaped(message).c_str());
    else if (settings.journal)
        fprintf(stderr, "%s%s%s%s\n", priority, prefix ? prefix : "", prefix ? ": " : "", message);
    else
        fprintf(stderr, "%s %s %s%s%s\n", stamp, level_names[level], prefix ? prefix : "", prefix ? ": " : "", message);
}

} // namespace

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
    char message[1024];
    vsnprintf(message, sizeof message, fmt, ap);
    if (settings.use_syslog) {
        syslog(syslog_priorities[level], "%s%s%s", prefix ? prefix : "", prefix ? ": " : "", message);
        return;
    }
    write_stderr(level, prefix, message);
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
