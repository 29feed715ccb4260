// Emptying one queue of the store (a device's, or its dead letters'):
// rounds of a fetch of what it holds and an acknowledgement of all of it,
// with the store's own ops, so that every store module can do it. Used by
// a revocation and by the API's purge of an account's queues.
#pragma once
#include <cstdint>
#include <string>

struct hf_server;

// Calls done(arg, status, purged) once the queue is empty, or after
// purge_rounds_max rounds (a queue written to as fast as it is emptied),
// or with the store's failure.
void hf_queue_purge(hf_server *srv, const std::string &account, const std::string &queue,
                    void (*done)(void *arg, int status, uint64_t purged), void *arg);
