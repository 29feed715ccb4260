// Where the daemon may send a wake-up (docs/wake.md, "No SSRF"): a Web
// Push endpoint comes from whoever set the route, so the daemon must not
// become a way to reach the machines behind it. An endpoint is https and
// resolves to public addresses only, unless wake.allow_endpoints lists it
// (a URL prefix, such as "http://127.0.0.1:8090" for a push service on
// loopback). Pure code, unit-tested in test_wake.
#pragma once
#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

// Whether url starts with one of prefixes at a boundary: the prefix ends
// with '/', or the url goes on with '/', ':', '?' or ends there. So
// "http://127.0.0.1" allows "http://127.0.0.1:8090/x" but not
// "http://127.0.0.1.example.net/".
bool hf_endpoint_allowed(std::string_view url, const std::vector<std::string> &prefixes);

// Whether an address is one the public internet routes: not loopback,
// private (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10), multicast,
// unspecified, documentation or reserved; an IPv4-mapped IPv6 address is
// judged as its IPv4 address.
bool hf_address_public(const sockaddr *address);

// Why the daemon will not send to url ("" if it will): a user name in
// it (always refused: "https://allowed@elsewhere/" goes elsewhere), or,
// unless prefixes list it, not https or no host. *listed says whether
// prefixes list it: then any address will do, otherwise only public ones.
std::string hf_endpoint_problem(std::string_view url, const std::vector<std::string> &prefixes, bool *listed);
