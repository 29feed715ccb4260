#include "core/wake/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "core/common/event_ptr.h"
#include "core/wake/endpoint_policy.h"

namespace
{
struct transfer;
}

struct hf_http_client {
    event_base *base;
    hf_http_options options;
    CURLM *multi = nullptr;
    hf_event_ptr timer;
    std::set<transfer *> transfers; // every request not answered yet
};

namespace
{

struct transfer {
    hf_http_client *client;
    CURL *easy = nullptr;
    curl_slist *headers = nullptr;
    std::string body; // kept alive for CURLOPT_POSTFIELDS
    bool listed = false;
    std::string refused; // why the endpoint policy refused a connection
    hf_http_response response;
    bool truncated = false;
    hf_http_done_cb done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE] = "";
    hf_event_ptr refusal; // a request refused before it went, answered from the loop

    ~transfer()
    {
        if (easy) {
            curl_multi_remove_handle(client->multi, easy);
            curl_easy_cleanup(easy);
        }
        curl_slist_free_all(headers);
    }
};

// Answers t and lets it go.
void answer(hf_http_client *client, transfer *t)
{
    client->transfers.erase(t);
    std::unique_ptr<transfer> owned(t);
    t->done(t->arg, &t->response);
}

struct socket_watch {
    hf_event_ptr ev;
};

void finish(hf_http_client *client, transfer *t, CURLcode code)
{
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response.status);
    if (code != CURLE_OK) {
        t->response.status = 0;
        t->response.refused = !t->refused.empty();
        t->response.error = !t->refused.empty() ? t->refused
                            : t->truncated      ? "the answer is over wake.max_response"
                            : *t->errbuf        ? t->errbuf
                                                : curl_easy_strerror(code);
    }
    answer(client, t);
}

void check_done(hf_http_client *client)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(client->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer *t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char **>(&t));
        finish(client, t, msg->data.result);
    }
}

void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    auto *client = static_cast<hf_http_client *>(arg);
    int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(client->multi, fd, action, &running);
    check_done(client);
}

void on_timer(evutil_socket_t, short, void *arg)
{
    auto *client = static_cast<hf_http_client *>(arg);
    int running;
    curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(client);
}

int watch_socket(CURL *, curl_socket_t fd, int what, void *userp, void *socketp)
{
    auto *client = static_cast<hf_http_client *>(userp);
    auto *watch = static_cast<socket_watch *>(socketp);
    if (what == CURL_POLL_REMOVE) {
        delete watch;
        curl_multi_assign(client->multi, fd, nullptr);
        return 0;
    }
    if (!watch) {
        watch = new socket_watch;
        curl_multi_assign(client->multi, fd, watch);
    }
    short events = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    watch->ev.reset(event_new(client->base, fd, events, on_socket_event, client));
    event_add(watch->ev.get(), nullptr);
    return 0;
}

int set_timer(CURLM *, long timeout_ms, void *userp)
{
    auto *client = static_cast<hf_http_client *>(userp);
    if (timeout_ms < 0) {
        evtimer_del(client->timer.get());
        return 0;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(client->timer.get(), &tv);
    return 0;
}

// Every connection's address, before it is made: a listed endpoint may
// reach any, another only public ones (a name that resolves to a private
// address is refused here, after resolution, so DNS cannot smuggle one).
curl_socket_t open_socket(void *clientp, curlsocktype, curl_sockaddr *address)
{
    auto *t = static_cast<transfer *>(clientp);
    if (!t->listed && !hf_address_public(&address->addr)) {
        t->refused = "the endpoint resolves to an address that is not public (wake.allow_endpoints does not list it)";
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

size_t take_body(char *data, size_t size, size_t count, void *userp)
{
    auto *t = static_cast<transfer *>(userp);
    size_t len = size * count;
    if (t->response.body.size() + len > t->client->options.max_response) {
        t->truncated = true;
        return 0; // aborts the transfer
    }
    t->response.body.append(data, len);
    return len;
}

size_t take_header(char *data, size_t size, size_t count, void *userp)
{
    auto *t = static_cast<transfer *>(userp);
    size_t len = size * count;
    std::string line(data, len);
    size_t colon = line.find(':');
    if (colon == std::string::npos || t->response.headers.size() >= 64)
        return len;
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(tolower(c)); });
    while (!value.empty() && isspace(static_cast<unsigned char>(value.front())))
        value.erase(0, 1);
    while (!value.empty() && isspace(static_cast<unsigned char>(value.back())))
        value.pop_back();
    t->response.headers.emplace_back(name, value);
    return len;
}

// A request refused before it went: answered from the loop, as every
// answer is.
void refuse_soon(hf_http_client *client, transfer *t, const std::string &why)
{
    t->response.error = why;
    t->response.refused = true;
    t->refusal.reset(evtimer_new(
        client->base,
        [](evutil_socket_t, short, void *arg) {
            auto *t = static_cast<transfer *>(arg);
            answer(t->client, t);
        },
        t));
    timeval now{0, 0};
    evtimer_add(t->refusal.get(), &now);
}

} // namespace

std::string hf_http_response::header(const std::string &name) const
{
    for (const auto &[n, v] : headers)
        if (n == name)
            return v;
    return "";
}

hf_http_client *hf_http_client_new(event_base *base, const hf_http_options &options)
{
    static bool global_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!global_ready)
        return nullptr;
    auto *client = new hf_http_client{base, options, nullptr, {}, {}};
    client->multi = curl_multi_init();
    client->timer.reset(evtimer_new(base, on_timer, client));
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    // One connection per host carries many HTTP/2 streams (APNs asks it).
    curl_multi_setopt(client->multi, CURLMOPT_PIPELINING, long(CURLPIPE_MULTIPLEX));
    return client;
}

void hf_http_client_free(hf_http_client *client)
{
    if (!client)
        return;
    // Requests still out are answered: their callers own what rides on them.
    while (!client->transfers.empty()) {
        transfer *t = *client->transfers.begin();
        t->response = hf_http_response{};
        t->response.error = "the daemon is stopping";
        answer(client, t);
    }
    curl_multi_cleanup(client->multi);
    delete client;
}

void hf_http_send(hf_http_client *client, const hf_http_request &request, hf_http_done_cb done, void *arg)
{
    auto *t = new transfer;
    client->transfers.insert(t);
    t->client = client;
    t->done = done;
    t->arg = arg;
    t->listed = true;
    if (request.checked) {
        std::string problem = hf_endpoint_problem(request.url, client->options.allow_endpoints, &t->listed);
        if (!problem.empty())
            return refuse_soon(client, t, request.url + ": " + problem);
    }
    t->easy = curl_easy_init();
    t->body = request.body;
    CURL *e = t->easy;
    for (const std::string &h : request.headers)
        t->headers = curl_slist_append(t->headers, h.c_str());
    t->headers = curl_slist_append(t->headers, "Expect:"); // no 100-continue round trip
    curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "POST" || !t->body.empty()) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, long(t->body.size()));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, take_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, take_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, t->listed ? "http,https" : "https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, client->options.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(client->options.max_response));
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, request.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (!client->options.ca_file.empty())
        curl_easy_setopt(e, CURLOPT_CAINFO, client->options.ca_file.c_str());
    curl_multi_add_handle(client->multi, e);
}

size_t hf_http_in_flight(const hf_http_client *client)
{
    return client->transfers.size();
}
