// The allocator: answers ALLOC_REQ with an ordered list of connection
// servers. Standalone, the list is its own device address. In the
// allocator role it is the live registered servers, ranked for the
// device's account by weighted rendezvous hashing, draining ones left out;
// servers keep their registration alive with REGISTER.
#pragma once
#include "core/daemon.h"

struct hf_conn;

void hf_alloc_on_frame(hf_conn *c, const hf_msg *m);

// A registration connection closed: its server is gone from answers.
void hf_alloc_conn_closed(hf_conn *c);

// The servers to offer a device of account, best first (at most
// allocator.answer_count): device addresses, or for a browser the wss://
// URLs of those with a WebSocket listener. False if there are none.
bool hf_alloc_addresses(hf_daemon *d, const std::string &account, bool browser, std::vector<std::string> *out);
