// One HTTPS request to the HTTP API, on a reactor of its own: libevent's
// evhttp client over OpenSSL, the server's certificate verified against a
// CA bundle (or the system's) and the URL's host.
#pragma once
#include <string>

struct ctl_request {
    std::string url;             // https://host:port (no path)
    std::string ca_file;         // "" for the system's bundle
    std::string secret;          // the bearer token
    std::string method;          // "GET" or "POST"
    std::string path;            // "/v1/..."
    std::string body;            // JSON, or "" for none
    std::string idempotency_key; // sent as Idempotency-Key unless ""
    int timeout_s = 30;
};

struct ctl_response {
    int status = 0;    // HTTP status; 0 when no answer came
    std::string body;  // as sent
    std::string error; // why no answer came
};

// Sends the request and waits for its answer. False (and response->error)
// when it could not be sent or no answer came.
bool ctl_https(const ctl_request &request, ctl_response *response);
