#include "core/api/head_scan.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <strings.h>

#include <cstdlib>
#include <vector>

#include "proto/token.h"

// One connection's: where its request heads have got to.
struct hf_head_scan {
    bufferevent *bev;
    const hf_head_limits *limits;
    std::string head;     // the request head read so far
    uint64_t to_skip = 0; // body bytes of the last head still to come
    bool lost = false;    // past what it can follow (a chunked body, an oversized head): scans no more
};

namespace
{

// The value of header `name` in a request head ("" if absent).
std::string header(const std::string &head, const char *name)
{
    size_t name_len = strlen(name);
    for (size_t line = head.find("\r\n"); line != std::string::npos && line + 2 < head.size();
         line = head.find("\r\n", line + 2)) {
        size_t start = line + 2;
        if (head.compare(start, 2, "\r\n") == 0)
            break;
        if (strncasecmp(head.c_str() + start, name, name_len) == 0 && head[start + name_len] == ':') {
            size_t value = head.find_first_not_of(" \t", start + name_len + 1);
            size_t end = head.find("\r\n", start);
            return value < end ? head.substr(value, end - value) : "";
        }
    }
    return "";
}

// A whole head: the connection's body limit for its request, and how much
// body follows it.
void take_head(hf_head_scan *scan)
{
    const hf_head_limits *l = scan->limits;
    std::string authorization = header(scan->head, "Authorization");
    bool known = hf_api_key_of(l->cfg, authorization.c_str()) != nullptr;
    // A push carries no API key: its body is held to the push limit.
    bool push = l->push > 0 && scan->head.compare(0, 11, "POST /push/") == 0;
    void *conn = nullptr;
    bufferevent_getcb(scan->bev, nullptr, nullptr, nullptr, &conn);
    if (conn)
        evhttp_connection_set_max_body_size(static_cast<evhttp_connection *>(conn),
                                            ev_ssize_t(known  ? l->authenticated
                                                       : push ? l->push
                                                              : l->unauthenticated));
    if (strcasestr(header(scan->head, "Transfer-Encoding").c_str(), "chunked"))
        scan->lost = true; // its end is in the chunks; evhttp holds it to the limit just set
    scan->to_skip = strtoull(header(scan->head, "Content-Length").c_str(), nullptr, 10);
    scan->head.clear();
}

void take(hf_head_scan *scan, const char *data, size_t len)
{
    size_t max_head = size_t(scan->limits->cfg->http_max_headers);
    while (len > 0 && !scan->lost) {
        if (scan->to_skip > 0) {
            size_t n = size_t(std::min<uint64_t>(scan->to_skip, len));
            scan->to_skip -= n;
            data += n;
            len -= n;
            continue;
        }
        // Blank lines between requests are no part of a head.
        if (scan->head.empty() && (*data == '\r' || *data == '\n')) {
            data++;
            len--;
            continue;
        }
        size_t searched = scan->head.size() >= 3 ? scan->head.size() - 3 : 0;
        size_t room = max_head + 1 - scan->head.size();
        size_t n = std::min(len, room);
        scan->head.append(data, n);
        size_t end = scan->head.find("\r\n\r\n", searched);
        if (end == std::string::npos) {
            if (scan->head.size() > max_head)
                scan->lost = true; // evhttp refuses the head itself
            return;
        }
        // What follows the head is its body, or the next request.
        size_t rest = scan->head.size() - (end + 4);
        scan->head.resize(end + 4);
        data += n - rest;
        len -= n - rest;
        take_head(scan);
    }
}

// Called as the connection's input grows, before evhttp reads what came.
void on_input(evbuffer *buf, const evbuffer_cb_info *info, void *arg)
{
    auto *scan = static_cast<hf_head_scan *>(arg);
    if (info->n_added == 0 || scan->lost)
        return;
    size_t len = evbuffer_get_length(buf);
    evbuffer_ptr at;
    if (info->n_added > len || evbuffer_ptr_set(buf, &at, len - info->n_added, EVBUFFER_PTR_SET) != 0) {
        scan->lost = true;
        return;
    }
    std::vector<char> added(info->n_added);
    if (evbuffer_copyout_from(buf, &at, added.data(), added.size()) != ev_ssize_t(added.size())) {
        scan->lost = true;
        return;
    }
    take(scan, added.data(), added.size());
}

// The SSL objects' slot for their connection's scanner, freed with them
// (with the bufferevent, whose input it watches).
void free_scan(void *, void *scan, CRYPTO_EX_DATA *, int, long, void *)
{
    delete static_cast<hf_head_scan *>(scan);
}

int scan_slot(void)
{
    static const int slot = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_scan);
    return slot;
}

} // namespace

void hf_head_scan_start(bufferevent *bev, SSL *ssl, const hf_head_limits *limits)
{
    auto *scan = new hf_head_scan{bev, limits, {}, 0, false};
    if (scan_slot() < 0 || !evbuffer_add_cb(bufferevent_get_input(bev), on_input, scan)) {
        delete scan;
        return;
    }
    SSL_set_ex_data(ssl, scan_slot(), scan);
}

bool hf_secret_matches(const char *presented, const std::string &secret)
{
    unsigned char a[32], b[32];
    hf_sha256(presented, a);
    hf_sha256(secret, b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

const hf_api_key *hf_api_key_of(const hf_config *cfg, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return nullptr;
    const hf_api_key *found = nullptr;
    for (const hf_api_key &key : cfg->api_keys)
        if (hf_secret_matches(authorization + 7, key.secret))
            found = &key;
    return found;
}
