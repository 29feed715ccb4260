// Prometheus text at http://metrics.listen/metrics and a liveness check at
// /healthz, on the daemon's own loop (libevent's evhttp). Every metric is
// listed in handoffd(8).
#pragma once
#include <string>

#include "core/daemon.h"

// Opens the metrics listener unless metrics.listen is empty.
bool hf_metrics_start(hf_daemon *d, std::string *err);

// The whole /metrics page.
std::string hf_metrics_render(hf_daemon *d);
