// HTTPS requests from the daemon to push providers (Web Push services,
// FCM, APNs), on libcurl's multi interface driven by the worker's
// libevent loop: HTTP/1.1 or HTTP/2 (APNs requires it), no redirects
// followed, answers bounded, and every connection checked against the
// endpoint policy (endpoint_policy.h) before it is made.
#pragma once
#include <event2/event.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

struct hf_http_client;

struct hf_http_request {
    std::string method = "POST";
    std::string url;
    std::vector<std::string> headers; // "Name: value"
    std::string body;
    bool http2 = false;  // HTTP/2 over TLS only (APNs); otherwise HTTP/1.1
    bool checked = true; // the endpoint policy applies (off for the operator's own provider hosts)
};

struct hf_http_response {
    long status = 0;                                          // 0: no answer (error says why)
    std::string error;                                        // the transport's failure, or the policy's refusal
    bool refused = false;                                     // the endpoint policy refused it: nothing was sent
    std::string body;                                         // at most the client's max_response bytes
    std::vector<std::pair<std::string, std::string>> headers; // names lowercased

    // A header's value, or "".
    std::string header(const std::string &name) const;
};

typedef void (*hf_http_done_cb)(void *arg, const hf_http_response *response);

struct hf_http_options {
    std::string ca_file;                      // "": the system's
    std::vector<std::string> allow_endpoints; // wake.allow_endpoints
    long timeout_ms = 10000;
    size_t max_response = 16384;
};

// A client on base; NULL if libcurl cannot start.
hf_http_client *hf_http_client_new(event_base *base, const hf_http_options &options);
// Frees it; requests still out are answered first (status 0, "the daemon
// is stopping"), and must not send more.
void hf_http_client_free(hf_http_client *client);

// Sends request; done hears the answer once, from the loop (never from
// inside this call).
void hf_http_send(hf_http_client *client, const hf_http_request &request, hf_http_done_cb done, void *arg);

// Requests out now.
size_t hf_http_in_flight(const hf_http_client *client);
