// Unit tests of the daemon's TLS layer (net/tls_stream over
// net/tls_record) against a real OpenSSL client on the other end of a
// socket pair: data both ways in many records after the session tickets,
// a KeyUpdate the client asks to be answered, close_notify both ways, a
// forged record, an oversized one, TLS 1.2 held by OpenSSL, and a resumed
// session. After an OpenSSL handshake, a raw TLS 1.3 client (our own
// record functions, with the client's secrets from its key log) sends what
// OpenSSL never would: runs of KeyUpdates, split and malformed ones,
// content past 2^14, warning alerts, and keys kept past their limit.
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <cstring>

#include <string>
#include <vector>

#include "net/tls_record.h"
#include "net/tls_stream.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

namespace
{

// libevent's allocations, counted, and failed on demand: the allocation
// after the next allocs_left ones fails (once); -1, none.
int allocs_left = -1, allocs_made = 0;

bool fail_this_alloc(void)
{
    allocs_made++;
    if (allocs_left < 0)
        return false;
    return allocs_left-- == 0;
}

void *counted_malloc(size_t n)
{
    return fail_this_alloc() ? nullptr : malloc(n);
}

void *counted_realloc(void *p, size_t n)
{
    return fail_this_alloc() ? nullptr : realloc(p, n);
}

// A throwaway self-signed P-256 certificate, made in memory.
SSL_CTX *server_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_num_tickets(ctx, 2);
    hf_tls_stream_prepare(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

// The client's traffic secrets, from its key log.
struct client_secrets {
    uint8_t client[HF_TLS_MAX_SECRET], server[HF_TLS_MAX_SECRET];
    size_t client_len = 0, server_len = 0;
};
client_secrets logged;

void hex_into(const char *hex, uint8_t *out, size_t *len)
{
    *len = 0;
    while (*len < HF_TLS_MAX_SECRET && hex[2 * *len] && hex[2 * *len + 1]) {
        out[*len] =
            uint8_t(OPENSSL_hexchar2int(uint8_t(hex[2 * *len])) << 4 | OPENSSL_hexchar2int(uint8_t(hex[2 * *len + 1])));
        ++*len;
    }
}

void client_keylog(const SSL *, const char *line)
{
    const char *hex = strrchr(line, ' ');
    if (!hex)
        return;
    if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0)
        hex_into(hex + 1, logged.client, &logged.client_len);
    else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
        hex_into(hex + 1, logged.server, &logged.server_len);
}

struct fixture {
    event_base *base = nullptr;
    SSL_CTX *server_tls = nullptr;
    SSL_CTX *client_tls = nullptr;
    hf_tls_aead *aead = nullptr;
    bufferevent *server = nullptr;
    hf_tls_stream *stream = nullptr;
    SSL *client = nullptr;
    int client_fd = -1;
    std::string server_got;  // what the server's reader drained
    short server_events = 0; // EOF / ERROR seen by the server's owner
    bool server_connected = false;
};

void on_server_read(bufferevent *bev, void *arg)
{
    auto *f = static_cast<fixture *>(arg);
    evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    f->server_got.append(reinterpret_cast<const char *>(evbuffer_pullup(in, ev_ssize_t(n))), n);
    evbuffer_drain(in, n);
}

void on_server_event(bufferevent *, short what, void *arg)
{
    auto *f = static_cast<fixture *>(arg);
    if (what & BEV_EVENT_CONNECTED)
        f->server_connected = true;
    else
        f->server_events |= what;
}

// A new connection: server stream on one end of a socket pair, an OpenSSL
// client (capped at max_version, offering session if not null) on the other.
void connect_pair(fixture *f, int max_version, SSL_SESSION *session)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    evutil_make_socket_nonblocking(fds[1]);
    f->server = hf_tls_stream_accept(f->base, fds[0], f->server_tls, f->aead, &f->stream);
    assert_non_null(f->server);
    bufferevent_setcb(f->server, on_server_read, nullptr, on_server_event, f);
    bufferevent_enable(f->server, EV_READ | EV_WRITE);
    f->client_fd = fds[1];
    f->client = SSL_new(f->client_tls);
    SSL_set_max_proto_version(f->client, max_version);
    SSL_set_fd(f->client, fds[1]);
    SSL_set_connect_state(f->client);
    if (session)
        SSL_set_session(f->client, session);
    f->server_got.clear();
    f->server_events = 0;
    f->server_connected = false;
}

void disconnect(fixture *f)
{
    if (f->server) {
        hf_tls_stream_stop(f->stream);
        bufferevent_free(f->server);
    }
    f->server = nullptr;
    SSL_free(f->client);
    f->client = nullptr;
    if (f->client_fd >= 0)
        close(f->client_fd);
    f->client_fd = -1;
}

int setup(void **state)
{
    auto *f = new fixture;
    f->base = event_base_new();
    f->server_tls = server_ctx();
    f->client_tls = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_keylog_callback(f->client_tls, client_keylog);
    f->aead = hf_tls_aead_new();
    *state = f;
    return 0;
}

int teardown(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    disconnect(f);
    event_base_free(f->base); // the streams' last frees, which wipe their keys in aead
    hf_tls_aead_free(f->aead);
    SSL_CTX_free(f->server_tls);
    SSL_CTX_free(f->client_tls);
    delete f;
    return 0;
}

// Runs the server's reactor and the client's step in turn until done()
// holds; fails after a bounded number of turns.
template <typename Step>
void pump(fixture *f, Step step)
{
    for (int turn = 0; turn < 20000; turn++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (step())
            return;
    }
    fail_msg("the exchange did not finish");
}

void handshake(fixture *f)
{
    pump(f, [f] {
        int rc = SSL_do_handshake(f->client);
        if (rc != 1)
            assert_int_equal(SSL_get_error(f->client, rc), SSL_ERROR_WANT_READ);
        return rc == 1 && f->server_connected;
    });
}

void client_write(fixture *f, const std::string &data)
{
    size_t at = 0;
    pump(f, [&] {
        if (at == data.size())
            return true;
        int n = SSL_write(f->client, data.data() + at, int(data.size() - at));
        if (n > 0)
            at += size_t(n);
        else
            assert_int_equal(SSL_get_error(f->client, n), SSL_ERROR_WANT_WRITE);
        return at == data.size();
    });
}

// Reads until want bytes came; returns them.
std::string client_read(fixture *f, size_t want)
{
    std::string got;
    pump(f, [&] {
        char buf[16384];
        int n = SSL_read(f->client, buf, sizeof buf);
        if (n > 0)
            got.append(buf, size_t(n));
        else
            assert_int_equal(SSL_get_error(f->client, n), SSL_ERROR_WANT_READ);
        return got.size() >= want;
    });
    return got;
}

// The next thing the client reads is the server's close_notify.
void client_reads_close_notify(fixture *f)
{
    char buf[16];
    int n = SSL_read(f->client, buf, sizeof buf);
    assert_int_equal(n, 0);
    assert_int_equal(SSL_get_error(f->client, n), SSL_ERROR_ZERO_RETURN);
}

void wait_server_got(fixture *f, size_t want)
{
    pump(f, [f, want] { return f->server_got.size() >= want; });
}

void wait_server_event(fixture *f, short what)
{
    pump(f, [f, what] { return (f->server_events & what) != 0; });
}

std::string pattern(size_t len, char seed)
{
    std::string s(len, '\0');
    for (size_t i = 0; i < len; i++)
        s[i] = char(seed + i * 7 % 251);
    return s;
}

// Both ways, in many records; the server's first record follows its
// session tickets, so its sequence numbers start after them. Each way
// carries more than the socket pair's buffer holds: the server's reads
// stop at their budget and go on in the next pass, and its writes wait
// for the kernel's room.
void test_detached_carries_data_both_ways(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    assert_true(hf_tls_stream_detached(f->stream));
    assert_false(hf_tls_stream_resumed(f->stream));
    std::string up = pattern(600000, 'a');
    client_write(f, up);
    wait_server_got(f, up.size());
    assert_true(f->server_got == up);
    std::string down = pattern(1000000, 'z');
    bufferevent_write(f->server, down.data(), down.size());
    // Written while the kernel's buffer is still full: it waits its turn.
    bufferevent_write(f->server, "tail", 4);
    down += "tail";
    assert_true(client_read(f, down.size()) == down);
    assert_string_equal(hf_tls_stream_error(f->stream), "");
}

// The key log lines the server's OpenSSL hands out, for the test below.
std::vector<std::string> server_log;

void capture_server_keylog(const SSL *, const char *line)
{
    server_log.push_back(line);
}

// Moves what one side's OpenSSL wrote into the other's input.
size_t move_bytes(BIO *from, BIO *into, std::string *copy = nullptr)
{
    char buf[16384];
    size_t moved = 0;
    int n;
    while ((n = BIO_read(from, buf, sizeof buf)) > 0) {
        BIO_write(into, buf, n);
        if (copy)
            copy->append(buf, size_t(n));
        moved += size_t(n);
    }
    return moved;
}

// What the detach takes from OpenSSL that is no stable API (tls_stream.cc:
// keylog and handshake_done). Should an OpenSSL upgrade change either,
// this says which, where otherwise connections would quietly stay with
// OpenSSL or break.
void test_openssl_behaves_as_the_detach_expects(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    SSL_CTX *ctx = server_ctx(); // two session tickets
    SSL_CTX_set_keylog_callback(ctx, capture_server_keylog);
    server_log.clear();
    SSL *server = SSL_new(ctx), *client = SSL_new(f->client_tls);
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    SSL_set_bio(server, s_in, s_out);
    SSL_set_bio(client, c_in, c_out);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
    std::string last_step;
    int done = 0;
    for (int turn = 0; turn < 10 && done != 1; turn++) {
        SSL_do_handshake(client);
        move_bytes(c_out, s_in);
        done = SSL_do_handshake(server);
        last_step.clear();
        move_bytes(s_out, c_in, &last_step);
    }
    assert_int_equal(done, 1);
    assert_int_equal(SSL_version(server), TLS1_3_VERSION);
    int secrets = 0;
    for (const std::string &line : server_log)
        secrets += line.rfind("CLIENT_TRAFFIC_SECRET_0 ", 0) == 0 || line.rfind("SERVER_TRAFFIC_SECRET_0 ", 0) == 0;
    if (secrets != 2)
        fail_msg("OpenSSL no longer hands both TLS 1.3 traffic secrets to the key log callback by the end of the "
                 "server's handshake (%d of 2): tls_stream.cc's keylog needs another source",
                 secrets);
    // The step that ended the handshake wrote the session tickets alone,
    // as whole records under the server's application key.
    size_t records = 0, at = 0;
    while (at + 5 <= last_step.size() && uint8_t(last_step[at]) == 23) {
        at += 5 + (size_t(uint8_t(last_step[at + 3])) << 8 | uint8_t(last_step[at + 4]));
        records++;
    }
    if (at != last_step.size() || records != 2)
        fail_msg("OpenSSL's last handshake step no longer writes exactly its two session tickets as whole records "
                 "(%zu records, %zu of %zu bytes): handshake_done's records_after would start the server's sequence "
                 "numbers wrong",
                 records, at, last_step.size());
    SSL_free(server);
    SSL_free(client);
    SSL_CTX_free(ctx);
}

void test_key_update_is_answered(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    client_write(f, "before");
    assert_int_equal(SSL_key_update(f->client, SSL_KEY_UPDATE_REQUESTED), 1);
    client_write(f, "after");
    wait_server_got(f, 11);
    assert_string_equal(f->server_got.c_str(), "beforeafter");
    // Our answer came under the old key and the reply under the new one:
    // the client opens both.
    bufferevent_write(f->server, "reply", 5);
    assert_string_equal(client_read(f, 5).c_str(), "reply");
    client_write(f, "again");
    wait_server_got(f, 16);
    assert_int_equal(f->server_events, 0);
}

void test_close_notify_comes_after_the_data(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    assert_int_equal(SSL_write(f->client, "last words", 10), 10);
    SSL_shutdown(f->client);
    wait_server_event(f, BEV_EVENT_EOF);
    assert_string_equal(f->server_got.c_str(), "last words");
    assert_false(f->server_events & BEV_EVENT_ERROR);
    client_reads_close_notify(f); // ours answered it: a clean close both ways
}

void test_shutdown_sends_close_notify(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    bufferevent_write(f->server, "bye", 3);
    pump(f, [f] { return hf_tls_stream_unsent(f->stream) == 0; });
    hf_tls_stream_shutdown(f->stream);
    assert_string_equal(client_read(f, 3).c_str(), "bye");
    client_reads_close_notify(f);
}

void test_forged_record_is_refused(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    client_write(f, "genuine");
    uint8_t forged[HF_TLS_HEADER + 40] = {HF_TLS_APPLICATION_DATA, 3, 3, 0, 40};
    assert_int_equal(write(f->client_fd, forged, sizeof forged), ssize_t(sizeof forged));
    wait_server_event(f, BEV_EVENT_ERROR);
    assert_string_equal(f->server_got.c_str(), "genuine");
    assert_non_null(strstr(hf_tls_stream_error(f->stream), "authentication"));
    // The client hears why: a bad_record_mac alert.
    char buf[16];
    ERR_clear_error();
    int n = SSL_read(f->client, buf, sizeof buf);
    assert_true(n <= 0);
    assert_int_equal(SSL_get_error(f->client, n), SSL_ERROR_SSL);
    ERR_clear_error();
}

void test_oversized_record_is_refused(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    uint8_t header[HF_TLS_HEADER] = {HF_TLS_APPLICATION_DATA, 3, 3, 0x48, 0x01}; // 2^14 + 2049
    assert_int_equal(write(f->client_fd, header, sizeof header), ssize_t(sizeof header));
    wait_server_event(f, BEV_EVENT_ERROR);
    assert_non_null(strstr(hf_tls_stream_error(f->stream), "longer than TLS allows"));
}

void test_tls12_stays_with_openssl(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_2_VERSION, nullptr);
    handshake(f);
    assert_false(hf_tls_stream_detached(f->stream));
    std::string up = pattern(40000, 'q');
    client_write(f, up);
    wait_server_got(f, up.size());
    assert_true(f->server_got == up);
    bufferevent_write(f->server, "held", 4);
    assert_string_equal(client_read(f, 4).c_str(), "held");
    SSL_shutdown(f->client);
    wait_server_event(f, BEV_EVENT_EOF);
}

// A held connection gives back the buffers of a large frame once idle,
// and a closed one leaves no key schedule in the shared contexts.
void test_idle_connections_keep_no_buffers_or_keys(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_2_VERSION, nullptr);
    handshake(f);
    std::string up = pattern(60000, 'u');
    client_write(f, up);
    wait_server_got(f, up.size());
    bufferevent_write(f->server, up.data(), up.size());
    assert_true(client_read(f, up.size()) == up);
    pump(f, [f] { return hf_tls_stream_unsent(f->stream) == 0; });
    assert_true(hf_tls_stream_held_buffers(f->stream) <= 2 * 4096);
    disconnect(f);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    client_write(f, "keyed");
    wait_server_got(f, 5);
    assert_false(hf_tls_aead_idle(f->aead));
    disconnect(f);
    event_base_loop(f->base, EVLOOP_NONBLOCK); // the filter's deferred free
    assert_true(hf_tls_aead_idle(f->aead));
}

void test_resumed_session_is_detached_too(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    handshake(f);
    bufferevent_write(f->server, "x", 1);
    client_read(f, 1); // and the tickets before it
    // A copy: freeing a connection without a shutdown spoils its own session.
    SSL_SESSION *session = SSL_SESSION_dup(SSL_get_session(f->client));
    assert_non_null(session);
    disconnect(f);
    connect_pair(f, TLS1_3_VERSION, session);
    handshake(f);
    SSL_SESSION_free(session);
    assert_true(hf_tls_stream_resumed(f->stream));
    assert_true(hf_tls_stream_detached(f->stream));
    client_write(f, "resumed");
    wait_server_got(f, 7);
    bufferevent_write(f->server, "yes", 3);
    assert_string_equal(client_read(f, 3).c_str(), "yes");
}

// A raw TLS 1.3 client on the OpenSSL client's socket once its handshake
// is done: it seals and opens records itself, so it can send anything.
struct raw_client {
    hf_tls_aead *aead = nullptr;
    hf_tls_suite suite;
    hf_tls_traffic tx, rx;
    std::string pending; // bytes read and not yet a whole record
    int alert = -1;      // the last alert's description
    bool eof = false;
    int key_updates = 0; // the server's, followed
};

void raw_start(fixture *f, raw_client *r)
{
    handshake(f);
    assert_true(hf_tls_stream_detached(f->stream));
    r->aead = hf_tls_aead_new();
    assert_true(hf_tls_suite_find(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(f->client)), &r->suite));
    assert_int_equal(logged.client_len, r->suite.hash_len);
    assert_true(hf_tls_traffic_init(r->aead, &r->tx, &r->suite, logged.client, 0));
    assert_true(hf_tls_traffic_init(r->aead, &r->rx, &r->suite, logged.server, 0));
}

void raw_stop(raw_client *r)
{
    hf_tls_aead_free(r->aead);
}

// One record of content type with data, sealed; appended to wire.
void raw_seal(raw_client *r, std::string *wire, uint8_t type, const std::string &data)
{
    std::string record(data.size() + HF_TLS_SEAL_OVERHEAD, '\0');
    assert_true(hf_tls_seal(r->aead, &r->tx, &r->suite, type, reinterpret_cast<const uint8_t *>(data.data()),
                            data.size(), reinterpret_cast<uint8_t *>(&record[0])));
    *wire += record;
}

void raw_write(fixture *f, const std::string &wire)
{
    size_t at = 0;
    pump(f, [&] {
        ssize_t n = write(f->client_fd, wire.data() + at, wire.size() - at);
        if (n > 0)
            at += size_t(n);
        return at == wire.size();
    });
}

const std::string key_update_not_requested("\x18\x00\x00\x01\x00", 5);
const std::string key_update_requested("\x18\x00\x00\x01\x01", 5);

// Reads and opens what the server sent until done() holds: application
// data into *got, KeyUpdates followed (and counted), tickets skipped.
template <typename Done>
void raw_read(fixture *f, raw_client *r, std::string *got, Done done)
{
    pump(f, [&] {
        char buf[65536];
        ssize_t n = read(f->client_fd, buf, sizeof buf);
        if (n > 0)
            r->pending.append(buf, size_t(n));
        if (n == 0)
            r->eof = true;
        while (r->pending.size() >= HF_TLS_HEADER) {
            size_t len = HF_TLS_HEADER + size_t(uint8_t(r->pending[3]) << 8 | uint8_t(r->pending[4]));
            if (r->pending.size() < len)
                break;
            std::string plain(len, '\0');
            size_t plain_len = 0;
            uint8_t type = 0;
            assert_true(hf_tls_open(r->aead, &r->rx, &r->suite, reinterpret_cast<const uint8_t *>(r->pending.data()),
                                    len, reinterpret_cast<uint8_t *>(&plain[0]), &plain_len,
                                    &type) == hf_tls_open_result::ok);
            r->pending.erase(0, len);
            if (type == HF_TLS_APPLICATION_DATA)
                got->append(plain, 0, plain_len);
            else if (type == HF_TLS_ALERT && plain_len == 2)
                r->alert = uint8_t(plain[1]);
            else if (type == HF_TLS_HANDSHAKE && plain[0] == 24) {
                r->key_updates++;
                assert_true(hf_tls_traffic_update(r->aead, &r->rx, &r->suite));
            }
        }
        return done();
    });
}

// The server answers after what came: data both ways under the keys both
// sides now hold.
void raw_still_talks(fixture *f, raw_client *r)
{
    std::string wire;
    raw_seal(r, &wire, HF_TLS_APPLICATION_DATA, "ping");
    size_t before = f->server_got.size();
    raw_write(f, wire);
    wait_server_got(f, before + 4);
    bufferevent_write(f->server, "pong", 4);
    std::string got;
    raw_read(f, r, &got, [&] { return got.size() >= 4; });
    assert_string_equal(got.c_str(), "pong");
    assert_int_equal(f->server_events, 0);
}

// The server refused with this alert and closed.
void raw_refused(fixture *f, raw_client *r, int alert, const char *why)
{
    std::string got;
    raw_read(f, r, &got, [&] { return r->eof; });
    assert_int_equal(r->alert, alert);
    wait_server_event(f, BEV_EVENT_ERROR);
    assert_non_null(strstr(hf_tls_stream_error(f->stream), why));
}

void test_key_update_run_is_answered_once(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    std::string wire;
    for (int i = 0; i < 10; i++) {
        raw_seal(&r, &wire, HF_TLS_HANDSHAKE, key_update_requested);
        assert_true(hf_tls_traffic_update(r.aead, &r.tx, &r.suite));
    }
    raw_write(f, wire);
    raw_still_talks(f, &r);
    assert_int_equal(r.key_updates, 1);
    raw_stop(&r);
}

void test_key_update_flood_is_refused(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    std::string wire;
    for (int i = 0; i < 40; i++) {
        raw_seal(&r, &wire, HF_TLS_HANDSHAKE, key_update_not_requested);
        assert_true(hf_tls_traffic_update(r.aead, &r.tx, &r.suite));
    }
    raw_write(f, wire);
    raw_refused(f, &r, 10, "KeyUpdates without application data");
    raw_stop(&r);
}

bool refuse_control(void *)
{
    return false;
}

void test_key_update_costs_a_frame(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    hf_tls_stream_set_control_hook(f->stream, refuse_control, nullptr);
    std::string wire;
    raw_seal(&r, &wire, HF_TLS_HANDSHAKE, key_update_not_requested);
    raw_write(f, wire);
    raw_refused(f, &r, 10, "limits.frame_rate");
    raw_stop(&r);
}

void test_split_key_update_is_accepted(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    std::string wire;
    raw_seal(&r, &wire, HF_TLS_HANDSHAKE, key_update_requested.substr(0, 2));
    raw_seal(&r, &wire, HF_TLS_HANDSHAKE, key_update_requested.substr(2));
    assert_true(hf_tls_traffic_update(r.aead, &r.tx, &r.suite));
    raw_write(f, wire);
    raw_still_talks(f, &r);
    assert_int_equal(r.key_updates, 1);
    raw_stop(&r);
}

void test_bad_key_updates_get_their_alerts(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    struct {
        std::string msg;
        int alert;
        const char *why;
    } cases[] = {
        {std::string("\x18\x00\x00\x01\x02", 5), 47, "request_update 2"},
        {std::string("\x18\x00\x00\x02\x00\x00", 6), 50, "wrong length"},
        {std::string("\x04\x00\x00\x01\x00", 5), 10, "unexpected post-handshake message"},
    };
    for (const auto &c : cases) {
        connect_pair(f, TLS1_3_VERSION, nullptr);
        raw_client r;
        raw_start(f, &r);
        std::string wire;
        raw_seal(&r, &wire, HF_TLS_HANDSHAKE, c.msg);
        raw_write(f, wire);
        raw_refused(f, &r, c.alert, c.why);
        raw_stop(&r);
        disconnect(f);
    }
}

void test_content_past_2_14_gets_record_overflow(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    std::string wire;
    raw_seal(&r, &wire, HF_TLS_APPLICATION_DATA, std::string(HF_TLS_MAX_PLAIN + 1, 'x'));
    raw_write(f, wire);
    raw_refused(f, &r, 22, "longer than 2^14");
    raw_stop(&r);
}

void test_warning_alert_does_not_end_the_connection(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    std::string wire;
    raw_seal(&r, &wire, HF_TLS_ALERT, std::string("\x01\x5a", 2)); // warning, user_canceled
    raw_write(f, wire);
    raw_still_talks(f, &r);
    raw_stop(&r);
}

void test_no_key_update_after_close_notify(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    hf_tls_stream_shutdown(f->stream);
    std::string got;
    raw_read(f, &r, &got, [&] { return r.alert == 0; });
    std::string wire;
    raw_seal(&r, &wire, HF_TLS_HANDSHAKE, key_update_requested);
    raw_write(f, wire);
    raw_read(f, &r, &got, [&] { return r.eof; });
    assert_int_equal(r.key_updates, 0);
    raw_stop(&r);
}

void test_keys_change_at_their_usage_limit(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    connect_pair(f, TLS1_3_VERSION, nullptr);
    raw_client r;
    raw_start(f, &r);
    hf_tls_stream_set_key_limits(f->stream, 8, 20);
    // Ours: 30 records down, a KeyUpdate of ours every 8.
    std::string down = pattern(30 * HF_TLS_MAX_PLAIN, 'k');
    bufferevent_write(f->server, down.data(), down.size());
    std::string got;
    raw_read(f, &r, &got, [&] { return got.size() >= down.size(); });
    assert_true(got == down);
    assert_true(r.key_updates >= 3);
    // The peer's: past 8 records the server asks for its next key, and
    // refuses a key used for 20.
    int asked_before = r.key_updates;
    std::string wire;
    for (int i = 0; i < 10; i++)
        raw_seal(&r, &wire, HF_TLS_APPLICATION_DATA, "x");
    raw_write(f, wire);
    raw_read(f, &r, &got, [&] { return r.key_updates > asked_before; });
    wire.clear();
    for (int i = 0; i < 10; i++)
        raw_seal(&r, &wire, HF_TLS_APPLICATION_DATA, "y");
    raw_write(f, wire);
    raw_refused(f, &r, 10, "AEAD usage limit");
    raw_stop(&r);
}

// The last libevent allocations an accept makes (after
// bufferevent_filter_new's, which libevent itself does not survive all
// of: the reader's event_new, evbuffer_add_cb's, event_add's), failed in
// turn: one the stream cannot do without closes the socket and frees what
// the accept made, once. The reader's freed the stream twice before (a
// crash in the loop, or ASan's double free).
bufferevent *accept_failing(fixture *f, int fail_at, int *fd)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    hf_tls_stream *stream = nullptr;
    allocs_left = fail_at;
    bufferevent *bev = hf_tls_stream_accept(f->base, fds[0], f->server_tls, f->aead, &stream);
    allocs_left = -1;
    close(fds[1]);
    *fd = fds[0];
    return bev;
}

void test_a_failed_allocation_at_accept_is_undone(void **state)
{
    auto *f = static_cast<fixture *>(*state);
    int fd = -1;
    allocs_made = 0;
    bufferevent *bev = accept_failing(f, -1, &fd);
    int allocs = allocs_made;
    assert_non_null(bev);
    bufferevent_free(bev);
    int refused = 0;
    for (int k = allocs - 4; k < allocs; k++) {
        if ((bev = accept_failing(f, k, &fd))) {
            bufferevent_free(bev);
            continue;
        }
        refused++;
        event_base_loop(f->base, EVLOOP_NONBLOCK); // bufferevents are freed by the loop
        assert_int_equal(fcntl(fd, F_GETFD), -1);  // closed by the failed accept
    }
    assert_true(refused >= 1);
}

} // namespace

int main(void)
{
    // Before libevent allocates anything.
    event_set_mem_functions(counted_malloc, counted_realloc, free);
    signal(SIGPIPE, SIG_IGN); // as the daemon does: a closed peer is an error code, not a signal
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_openssl_behaves_as_the_detach_expects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detached_carries_data_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_update_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_notify_comes_after_the_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_sends_close_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_record_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_record_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls12_stays_with_openssl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resumed_session_is_detached_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connections_keep_no_buffers_or_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_update_run_is_answered_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_update_flood_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_update_costs_a_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_key_update_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_updates_get_their_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_past_2_14_gets_record_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warning_alert_does_not_end_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_key_update_after_close_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_change_at_their_usage_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_allocation_at_accept_is_undone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
