// Daemon logging: stderr or syslog, with levels. Every line that reports a
// problem should say what to do about it.
#pragma once
#include <cstdarg>

#include "handoff/module.h" // enum hf_log_level

// The logger is process-wide: set once from the config, and on SIGHUP.
// json: one JSON object a line (log.format = "json"). On stderr, when
// stderr is the journal (systemd's JOURNAL_STREAM names it), each line
// starts with its syslog priority, <3> to <7>, and no timestamp (the
// journal stamps it), so journalctl -p warning shows what it should.
void hf_log_setup(int level, bool use_syslog, int facility, bool json);
void hf_log_set_level(int level);
bool hf_log_enabled(int level);
void hf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hf_vlog(int level, const char *prefix, const char *fmt, va_list ap);
// hf_host_api.log for modules: their lines, prefixed with the module's name.
void hf_module_log(void *host, int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// "error", "warning", "info", "debug" -> level; -1 if none.
int hf_log_level_from_name(const char *name);
// "daemon", "local0".."local7", "user" -> LOG_* facility; -1 if none.
int hf_log_facility_from_name(const char *name);
