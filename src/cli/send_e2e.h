// handoff send --e2e (send_e2e.cc).
#pragma once
#include <cstdint>
#include <string>

#include "cli/cli.h"

struct cli_e2e_send {
    std::string to, payload, collapse;
    uint32_t ttl_s = 0;
};

// Runs the send to its end: the exit status.
int cli_send_e2e(cli_common *common, const cli_e2e_send &send, double timeout_s);
