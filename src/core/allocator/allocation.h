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
// URLs of those with a WebSocket listener. False if there are none.
bool hf_allocation_addresses(hf_allocator *a, const std::string &account, bool browser, std::vector<std::string> *out);

// workers = N: the worker an account's devices are sent to first (its
// home, where its own store is), by rendezvous over the workers.
int hf_allocation_worker(const hf_config &cfg, const std::string &account);
