// Server role: registering with every configured allocator and keeping the
// registration fresh (address, weight, connection count, draining flag).
#pragma once
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "core/server/server.h"

struct hf_registration;
struct hf_registration_deleter {
    void operator()(hf_registration *r) const;
};

struct hf_registrations {
    hf_server *srv = nullptr;
    SSL_CTX *tls_client = nullptr;                                                // owned
    std::vector<std::unique_ptr<hf_registration, hf_registration_deleter>> links; // one per allocator
};

// Connects to each allocator in register.allocators. False and *err if the
// TLS client context cannot be built.
bool hf_registration_start(hf_registrations *regs, hf_server *srv, std::string *err);

// Sends a REGISTER at once on every registered link (the draining flag or
// the load changed).
void hf_registration_announce(hf_registrations *regs);

// Closes every registration link.
void hf_registration_stop(hf_registrations *regs);

// How many allocators accepted this server's last REGISTER; with none,
// *why says what each said (or that it is not reached).
size_t hf_registration_accepted(const hf_registrations *regs, std::string *why);
