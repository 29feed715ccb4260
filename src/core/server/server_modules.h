// The server part's modules, the store and the heartbeat policy: the host
// table (hf_host_api) they are opened with, and opening and closing them
// with the router. The store's calls reach the server part directly: new
// data to the devices' windows, a kick to the device's connection,
// presence to the followers, enqueue_applied to whoever enqueued. Only a
// fatal error goes on to the shell, through hf_server.fatal.
#pragma once
#include <string>

#include "core/server/server.h"

// Loads and opens the store and the heartbeat policy cfg names (cfg is
// srv->cfg; their settings are filled in), and makes the router.
// srv->conns must be set. False and *err on failure; hf_server_close
// undoes what was done.
bool hf_server_open(hf_server *srv, hf_config *cfg, std::string *err);

// Closes the store (which may still complete enqueues into the router),
// then the router and the policy, and unloads them.
void hf_server_close(hf_server *srv);
