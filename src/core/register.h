// Server role: registering with every configured allocator and keeping the
// registration fresh (address, weight, connection count, draining flag).
#pragma once
#include "core/daemon.h"

// Connects to each allocator in register.allocators. False and *err if the
// TLS client context cannot be built.
bool hf_register_start(hf_daemon *d, std::string *err);

// Sends a REGISTER at once on every registered link (the draining flag or
// the load changed).
void hf_register_announce(hf_daemon *d);

// Closes every registration link.
void hf_register_stop(hf_daemon *d);
