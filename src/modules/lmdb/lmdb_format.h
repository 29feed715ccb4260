// The LMDB store's format version: store.path/format (and each worker's
// folder's), a line "handoff-lmdb N", written when the environment is
// created. A handoffd refuses a newer format than it reads (handoffd -t and
// every start say so: exit 78), since reading it would misread records and
// lose them; it takes an older one up, one step at a time, each logged. A
// folder that has an environment and no file is format 0, from before
// versions: 0 -> 1 converts nothing and only records it.
#pragma once
#include <string>

namespace hf_lmdb
{

extern const int lmdb_format; // what this handoffd writes and reads

// The folder's format: 0 before versions, -1 with no environment at all.
// False, with *err, when the file cannot be read or parsed.
bool format_of(const std::string &folder, int *format, std::string *err);

// False, with *err, when a folder under root (root itself, or a worker's)
// holds a format newer than this handoffd's.
bool formats_readable(const std::string &root, std::string *err);

// Brings folder, whose format was `was` before its environment was opened
// (format_of), to lmdb_format: a new environment (-1) says it silently, an
// older format is taken up a step at a time, each logged through log.
// False, with *err, when it cannot.
bool format_up(const std::string &folder, int was, void (*log)(const char *line, void *arg), void *log_arg,
               std::string *err);

} // namespace hf_lmdb
