// Moving between allocators and servers: the list, the next address,
// backoff with full jitter, the attempt deadlines (claims 4-6).
#pragma once
#include <event2/util.h>

#include "client/client_state.h"

namespace hf_clientlib
{

// Closes the current link (and its timers' deadlines).
void drop_link(hf_client *c);

// Lets go of the server that sent GOAWAY, and of its unacknowledged DELIVERs.
void drop_old_link(hf_client *c);

// Asks the next allocator of this round; backs off when all failed.
void allocate(hf_client *c);

// Connects to the next server on the list; backs off at its end.
void connect_next_server(hf_client *c);

// A link failed, for code (an hf_err or an hf_client_error): an
// allocator's -> the next allocator; a server's -> the next server on the
// list (claims 4-6 of the design). The failure is the client's last
// error; a permanent one stops the client once the round fails.
void link_failed(hf_client *c, int code, const char *why);

// The client's link failure for a link's.
int error_of(hf_link_failure failure);

// One frame on the current link, if there is one.
void send_frame(hf_client *c, const hf_msg *m);

// PRESENCE_REQ on the current link, following if c->presence_follow;
// for_application: its answer is the application's (presence_cb), else
// the key file's (e2e.cc). Answers come in the order asked.
void send_presence_req(hf_client *c, bool for_application);

// The step timer: a backoff ends, or an attempt or a PONG is overdue.
void on_step_timer(evutil_socket_t, short, void *arg);

} // namespace hf_clientlib
