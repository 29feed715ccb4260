// Running in the background without losing start-up errors: the process
// forks before anything starts (LMDB, like other libraries, must not be
// used across a fork), and the parent waits on a pipe until the child says
// it serves (exit 0) or why it cannot (printed to stderr, exit 1). An init
// script thus gets a true exit status and the reason on the terminal.
#pragma once

#include <string>

// Forks and detaches. In the parent: never returns. In the child: returns
// the pipe to report on; -1 and *err when it cannot fork.
int hf_detach_begin(std::string *err);

// The child serves: tells the parent, and points stdio at /dev/null.
void hf_detach_ready(int report_fd);

// The child cannot start: the parent prints why and exits 1.
void hf_detach_failed(int report_fd, const std::string &why);

// Writes this process's id into path; false (errno set) if it cannot.
bool hf_write_pidfile(const std::string &path);
