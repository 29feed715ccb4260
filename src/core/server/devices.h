// Device connections: HELLO, the frames of a device online here (PING,
// SEND, DELIVER_ACK), and going offline; and what the shell asks of the
// server part as a whole (presence refresh, a store's word that a queue
// has data, the GOAWAY of a drain).
#pragma once
#include "core/conn/conn.h"
#include "core/server/server.h"

// The handler of device connections; its context is the hf_server.
extern const hf_conn_handler hf_devices_handler;

// Renews every online device's presence in the store (a shared store
// forgets a dead server's devices when this stops). A device another
// server has taken since is cut here (replaced), and one whose presence
// had lapsed is read again.
void hf_devices_refresh_presence(hf_server *srv);

// The store says a device has new data: delivered if it is online here
// (account null: any device may have, and every one online here is read).
void hf_devices_data_ready(hf_server *srv, const char *account, const char *device);

// Draining: tells every device online here to go elsewhere, naming the
// other servers the allocators listed.
void hf_devices_goaway(hf_server *srv);

// Cuts the device's connection here, if it has one, with ERROR code: a
// revocation (revoked) or an operator's disconnect (disconnected).
void hf_devices_kick(hf_server *srv, const char *account, const char *device, int code, const char *why);
