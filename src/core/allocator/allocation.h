// The allocator: answers ALLOC_REQ with an ordered list of connection
// servers. Standalone, the list is its own device address. In the
// allocator role it is the live registered servers, ranked for the
// device's account by weighted rendezvous hashing, draining ones left out;
// servers keep their registration alive with REGISTER.
#pragma once
#include <string>
#include <vector>

#include "core/allocator/allocator.h"
#include "core/conn/conn.h"

// The handler of allocator connections; its context is the hf_allocator.
extern const hf_conn_handler hf_allocation_handler;

// The servers to offer a device of account, best first (at most
// allocator.answer_count): device addresses, or for a browser the wss://
// URLs of those with a WebSocket listener. With cluster.servers and
// stores of their own, only the account's one server, while it is up.
// False if there are none, with why.
bool hf_allocation_addresses(hf_allocator *a, const std::string &account, bool browser, std::vector<std::string> *out,
                             std::string *why);

// workers = N: the worker an account's devices are sent to first (its
// home, where its own store is), by rendezvous over the workers.
int hf_allocation_worker(const hf_config &cfg, const std::string &account);

// What a box's workers are named in that rendezvous, from the box's
// config: "w" (w0, w1, ...) when its own allocator part ranks them; in
// role server, their server_ids (server_id-w0, ...), which the cluster's
// allocators rank among the other servers, so that the worker a device is
// offered is the one that holds its account.
std::string hf_allocation_worker_names(const hf_config &box);
