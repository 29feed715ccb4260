#include "net/tls_stream.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "net/tls_openssl.h"
#include "net/tls_record.h"

namespace
{

enum class tls_phase { handshake, detached, held, failed };

// Alert descriptions we send (RFC 8446 section 6).
enum : uint8_t {
    ALERT_CLOSE_NOTIFY = 0,
    ALERT_UNEXPECTED_MESSAGE = 10,
    ALERT_BAD_RECORD_MAC = 20,
    ALERT_RECORD_OVERFLOW = 22,
    ALERT_ILLEGAL_PARAMETER = 47,
    ALERT_DECODE_ERROR = 50,
    ALERT_INTERNAL_ERROR = 80,
    ALERT_NONE = 255, // fail() without an alert: the peer's fatal alert ended it
};

const uint8_t ALERT_LEVEL_WARNING = 1;
const uint8_t HANDSHAKE_KEY_UPDATE = 24;
const size_t KEY_UPDATE_LEN = 5; // type, 24-bit length 1, request_update

// KeyUpdates in a row with no application data between them before the
// connection is refused (BoringSSL's limit).
const uint32_t max_key_update_run = 32;
// A post-handshake message in pieces is kept up to this; a KeyUpdate is 5.
const size_t max_handshake_buffer = 64;
// Records under one key before we change ours, or ask the peer to change
// its (RFC 8446 section 5.5: about 2^24.5 full records per AES-GCM key),
// and the peer's records under one key past which it is refused.
const uint64_t default_rekey_after = uint64_t(1) << 23;
const uint64_t default_peer_key_limit = 23726566; // 2^24.5
// Bytes waiting for the kernel past which the peer's input is not read
// until they drain to half of it: a peer that does not read cannot make
// the daemon queue answers without bound.
const size_t max_unsent = 4 << 20;

} // namespace

struct hf_tls_stream {
    bufferevent *raw = nullptr; // the socket's: it writes when the kernel's buffer was full, never reads
    bufferevent *top = nullptr; // the filter over it
    event *reader = nullptr;    // our reads of the socket (see on_readable)
    hf_tls_aead *aead = nullptr;
    tls_phase phase = tls_phase::handshake;
    std::unique_ptr<hf_tls_openssl> openssl; // null once detached
    hf_tls_suite suite;
    hf_tls_traffic rx, tx;
    bool resumed = false;
    bool shut = false;
    std::string error;
    std::string handshake_bytes; // a post-handshake message not yet whole
    uint32_t key_update_run = 0; // KeyUpdates since the last application data
    bool update_owed = false;    // the peer asked for our KeyUpdate: sent once per read
    bool asked_peer_update = false;
    uint64_t rekey_after = default_rekey_after;
    uint64_t peer_key_limit = default_peer_key_limit;
    bool reading_paused = false; // max_unsent reached
    bool stopped = false;        // hf_tls_stream_stop: never read again
    hf_tls_control_hook control_hook = nullptr;
    void *control_arg = nullptr;

    ~hf_tls_stream()
    {
        if (reader)
            event_free(reader);
        hf_tls_aead_forget(aead, rx.key_id);
        hf_tls_aead_forget(aead, tx.key_id);
        OPENSSL_cleanse(&rx, sizeof rx);
        OPENSSL_cleanse(&tx, sizeof tx);
    }
};

namespace
{

evutil_socket_t fd_of(const hf_tls_stream *t)
{
    return bufferevent_getfd(t->raw);
}

// Hands the socket what is queued, now rather than on the reactor's next
// turn; drop_rest drops what it does not take (the last bytes before a
// shutdown). The socket bufferevent freezes its output's start so that
// only it drains it; it is thawed for this moment.
void write_now(hf_tls_stream *t, bool drop_rest)
{
    evbuffer *out = bufferevent_get_output(t->raw);
    evbuffer_unfreeze(out, 1);
    while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd_of(t)) > 0) {
    }
    if (drop_rest)
        evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_freeze(out, 1);
}

// Writes go to the kernel at once, from the pass that made them: the
// socket bufferevent would wait for the next pass and toggle its write
// interest (two epoll_ctl calls) for every flush. It takes over only when
// the kernel's buffer is full: bytes queued before this push (waiting_before)
// are waiting for room, and the new ones wait behind them without a try
// that would only meet EAGAIN.
void push(hf_tls_stream *t, size_t waiting_before)
{
    if (waiting_before > 0)
        return; // the socket bufferevent's write interest is on since then
    write_now(t, false);
    if (evbuffer_get_length(bufferevent_get_output(t->raw)) == 0)
        bufferevent_disable(t->raw, EV_WRITE);
    else
        bufferevent_enable(t->raw, EV_WRITE);
}

void send_raw(hf_tls_stream *t, const void *data, size_t len)
{
    evbuffer *out = bufferevent_get_output(t->raw);
    size_t waiting = evbuffer_get_length(out);
    evbuffer_add(out, data, len);
    push(t, waiting);
}

// Moves what OpenSSL wrote to the socket; returns how many records it was.
size_t take_openssl_output(hf_tls_stream *t)
{
    char *data = nullptr;
    long len = BIO_get_mem_data(t->openssl->wbio, &data);
    size_t records = 0;
    for (long at = 0; at + long(HF_TLS_HEADER) <= len; records++)
        at += long(HF_TLS_HEADER) + (uint8_t(data[at + 3]) << 8 | uint8_t(data[at + 4]));
    if (len > 0)
        send_raw(t, data, size_t(len));
    (void)BIO_reset(t->openssl->wbio);
    return records;
}

void send_alert(hf_tls_stream *t, uint8_t description)
{
    if (t->phase != tls_phase::detached)
        return;
    const uint8_t alert[2] = {description == ALERT_CLOSE_NOTIFY ? uint8_t(1) : uint8_t(2), description};
    uint8_t record[2 + HF_TLS_SEAL_OVERHEAD];
    if (hf_tls_seal(t->aead, &t->tx, &t->suite, HF_TLS_ALERT, alert, sizeof alert, record))
        send_raw(t, record, sizeof record);
}

// A TLS error: the alert goes out now, the owner hears BEV_EVENT_ERROR
// after the data that came before it, and the rest is dropped.
void fail(hf_tls_stream *t, uint8_t alert, const std::string &why)
{
    if (t->phase == tls_phase::failed)
        return;
    t->error = why;
    if (t->phase == tls_phase::detached && alert != ALERT_NONE && !t->shut)
        send_alert(t, alert);
    else if (t->openssl)
        take_openssl_output(t); // the alert OpenSSL wrote
    t->phase = tls_phase::failed;
    // The alert, then our FIN: the peer reads why before the end, and the
    // owner lingers reading what still comes, so no reset destroys it.
    write_now(t, false);
    shutdown(fd_of(t), SHUT_WR);
    t->shut = true;
    bufferevent_trigger_event(t->top, BEV_EVENT_ERROR | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

void send_close_notify(hf_tls_stream *t)
{
    if (t->phase == tls_phase::detached) {
        send_alert(t, ALERT_CLOSE_NOTIFY);
    } else if (t->phase == tls_phase::held) {
        SSL_shutdown(t->openssl->ssl);
        take_openssl_output(t);
    }
    t->shut = true;
}

// The peer's close_notify: ours answers it (a clean close both ways), and
// nothing more is read or written.
void peer_closed(hf_tls_stream *t)
{
    if (!t->shut) {
        send_close_notify(t);
        write_now(t, false);
    }
    t->phase = tls_phase::failed;
    bufferevent_trigger_event(t->top, BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

// The handshake is done: detach from OpenSSL if the connection is TLS 1.3
// with a suite we know and both secrets arrived; hold on to it otherwise.
// records_after counts the records OpenSSL wrote in its last step (the
// session tickets), all of them under the server's application key.
void handshake_done(hf_tls_stream *t, size_t records_after)
{
    hf_tls_openssl *side = t->openssl.get();
    t->resumed = SSL_session_reused(side->ssl) == 1;
    const SSL_CIPHER *cipher = SSL_get_current_cipher(side->ssl);
    t->phase = tls_phase::held;
    SSL_SESSION *session = SSL_get_session(side->ssl);
    bool plain_records = session &&
                         SSL_SESSION_get_max_fragment_length(session) == TLSEXT_max_fragment_length_DISABLED &&
                         SSL_get_early_data_status(side->ssl) != SSL_EARLY_DATA_ACCEPTED;
    if (SSL_version(side->ssl) == TLS1_3_VERSION && cipher && plain_records &&
        hf_tls_suite_find(SSL_CIPHER_get_protocol_id(cipher), &t->suite) &&
        side->client_secret_len == t->suite.hash_len && side->server_secret_len == t->suite.hash_len &&
        BIO_ctrl_pending(side->rbio) == 0 && SSL_pending(side->ssl) == 0 &&
        hf_tls_traffic_init(t->aead, &t->rx, &t->suite, side->client_secret, 0) &&
        hf_tls_traffic_init(t->aead, &t->tx, &t->suite, side->server_secret, records_after)) {
        t->phase = tls_phase::detached;
        t->openssl.reset();
    }
    bufferevent_trigger_event(t->top, BEV_EVENT_CONNECTED, BEV_TRIG_DEFER_CALLBACKS);
    // Frames written before the handshake ended waited in the filter.
    bufferevent_flush(t->top, EV_WRITE, BEV_NORMAL);
}

// Feeds OpenSSL until its handshake is done, never past the end of the
// record at hand: what follows the client's Finished is ours to open.
// Partial records go in as they come, so that OpenSSL judges a bad header
// at once rather than after waiting for the length it claims.
void feed_handshake(hf_tls_stream *t, evbuffer *src)
{
    hf_tls_openssl *side = t->openssl.get();
    while (t->phase == tls_phase::handshake) {
        size_t avail = evbuffer_get_length(src);
        size_t len = avail < side->record_left ? avail : side->record_left;
        if (side->record_left == 0) {
            uint8_t header[HF_TLS_HEADER];
            if (evbuffer_copyout(src, header, sizeof header) < ev_ssize_t(sizeof header))
                return;
            len = sizeof header;
            side->record_left = size_t(header[3] << 8 | header[4]) + sizeof header;
        }
        if (len == 0)
            return;
        BIO_write(side->rbio, evbuffer_pullup(src, ev_ssize_t(len)), int(len));
        evbuffer_drain(src, len);
        side->record_left -= len;
        ERR_clear_error();
        int rc = SSL_do_handshake(side->ssl);
        size_t records = take_openssl_output(t);
        if (rc == 1)
            handshake_done(t, records);
        else if (SSL_get_error(side->ssl, rc) != SSL_ERROR_WANT_READ)
            fail(t, ALERT_INTERNAL_ERROR, hf_tls_openssl_error("handshake failed"));
    }
}

// Seals one record of our own (a KeyUpdate) into out, ahead of whatever
// is sealed after it.
bool seal_into(hf_tls_stream *t, evbuffer *out, uint8_t type, const uint8_t *data, size_t len)
{
    evbuffer_iovec space;
    if (evbuffer_reserve_space(out, ev_ssize_t(len + HF_TLS_SEAL_OVERHEAD), &space, 1) < 1 ||
        !hf_tls_seal(t->aead, &t->tx, &t->suite, type, data, len, static_cast<uint8_t *>(space.iov_base)))
        return false;
    space.iov_len = len + HF_TLS_SEAL_OVERHEAD;
    evbuffer_commit_space(out, &space, 1);
    return true;
}

// Our KeyUpdate, under the old key; then the new one. request: the peer
// is asked to change its key too.
bool send_key_update(hf_tls_stream *t, bool request)
{
    const uint8_t msg[KEY_UPDATE_LEN] = {HANDSHAKE_KEY_UPDATE, 0, 0, 1, request ? uint8_t(1) : uint8_t(0)};
    if (!seal_into(t, bufferevent_get_output(t->raw), HF_TLS_HANDSHAKE, msg, sizeof msg) ||
        !hf_tls_traffic_update(t->aead, &t->tx, &t->suite)) {
        fail(t, ALERT_INTERNAL_ERROR, "cannot update the write key");
        return false;
    }
    if (request)
        t->asked_peer_update = true;
    return true;
}

// One KeyUpdate from the peer (RFC 8446 section 4.6.3): its next key. A
// request for ours is owed, and answered once for a whole run of them
// (at the end of the read), never after our close_notify.
void on_key_update(hf_tls_stream *t, uint8_t request_update)
{
    if (request_update > 1) {
        fail(t, ALERT_ILLEGAL_PARAMETER, "KeyUpdate with request_update " + std::to_string(request_update));
        return;
    }
    if (++t->key_update_run > max_key_update_run) {
        fail(t, ALERT_UNEXPECTED_MESSAGE,
             "more than " + std::to_string(max_key_update_run) + " KeyUpdates without application data");
        return;
    }
    if (t->control_hook && !t->control_hook(t->control_arg)) {
        fail(t, ALERT_UNEXPECTED_MESSAGE, "KeyUpdates faster than limits.frame_rate allows");
        return;
    }
    if (!hf_tls_traffic_update(t->aead, &t->rx, &t->suite)) {
        fail(t, ALERT_INTERNAL_ERROR, "cannot update the read key");
        return;
    }
    t->asked_peer_update = false;
    if (request_update == 1 && !t->shut)
        t->update_owed = true;
}

// A handshake record's content. Only KeyUpdate may follow a server's
// handshake; a message may come in pieces over several records, but one
// that changes the key must end its record (section 5.1).
void on_post_handshake(hf_tls_stream *t, const uint8_t *data, size_t len)
{
    t->handshake_bytes.append(reinterpret_cast<const char *>(data), len);
    std::string &buf = t->handshake_bytes;
    while (t->phase == tls_phase::detached && buf.size() >= 4) {
        auto *msg = reinterpret_cast<const uint8_t *>(buf.data());
        if (msg[0] != HANDSHAKE_KEY_UPDATE) {
            fail(t, ALERT_UNEXPECTED_MESSAGE, "unexpected post-handshake message " + std::to_string(msg[0]));
            return;
        }
        if (msg[1] != 0 || msg[2] != 0 || msg[3] != 1) {
            fail(t, ALERT_DECODE_ERROR, "KeyUpdate of a wrong length");
            return;
        }
        if (buf.size() < KEY_UPDATE_LEN)
            break;
        uint8_t request_update = msg[4];
        buf.erase(0, KEY_UPDATE_LEN);
        if (!buf.empty()) {
            fail(t, ALERT_UNEXPECTED_MESSAGE, "data after a KeyUpdate in its record");
            return;
        }
        on_key_update(t, request_update);
    }
    if (buf.size() > max_handshake_buffer)
        fail(t, ALERT_UNEXPECTED_MESSAGE, "post-handshake message too long");
}

// Alerts: close_notify ends the connection cleanly; a warning
// (user_canceled, say) is noted and the connection goes on; any other ends
// it, with no alert of ours after the peer's.
void on_alert(hf_tls_stream *t, const uint8_t *alert, size_t len)
{
    if (len != 2)
        fail(t, ALERT_DECODE_ERROR, "malformed alert");
    else if (alert[1] == ALERT_CLOSE_NOTIFY)
        peer_closed(t);
    else if (alert[0] != ALERT_LEVEL_WARNING)
        fail(t, ALERT_NONE, "the peer sent alert " + std::to_string(alert[1]));
}

// After a read: the KeyUpdate a run of requests owes, and our side of the
// AEAD usage limit on the peer's key (ask for its next; refuse it past
// the limit).
void after_records(hf_tls_stream *t)
{
    if (t->phase != tls_phase::detached)
        return;
    if (t->rx.seq >= t->peer_key_limit) {
        fail(t, ALERT_UNEXPECTED_MESSAGE, "the peer kept its key past the AEAD usage limit");
        return;
    }
    bool ask = t->rx.seq >= t->rekey_after && !t->asked_peer_update && !t->shut;
    if (t->update_owed || ask) {
        t->update_owed = false;
        size_t waiting = evbuffer_get_length(bufferevent_get_output(t->raw));
        if (send_key_update(t, ask))
            push(t, waiting);
    }
}

// Opens every whole record in src; returns whether any data came out.
bool open_records(hf_tls_stream *t, evbuffer *src, evbuffer *dst)
{
    bool produced = false;
    while (t->phase == tls_phase::detached) {
        uint8_t header[HF_TLS_HEADER];
        if (evbuffer_copyout(src, header, sizeof header) < ev_ssize_t(sizeof header))
            break;
        size_t body = size_t(header[3] << 8 | header[4]);
        if (body > HF_TLS_MAX_BODY) {
            fail(t, ALERT_RECORD_OVERFLOW, "record longer than TLS allows");
            break;
        }
        size_t len = HF_TLS_HEADER + body;
        if (evbuffer_get_length(src) < len)
            break;
        evbuffer_iovec space;
        if (evbuffer_reserve_space(dst, ev_ssize_t(body), &space, 1) < 1) {
            fail(t, ALERT_INTERNAL_ERROR, "out of memory");
            break;
        }
        auto *plain = static_cast<uint8_t *>(space.iov_base);
        size_t plain_len = 0;
        uint8_t type = 0;
        hf_tls_open_result rc = hf_tls_open(t->aead, &t->rx, &t->suite, evbuffer_pullup(src, ev_ssize_t(len)), len,
                                            plain, &plain_len, &type);
        evbuffer_drain(src, len);
        if (rc == hf_tls_open_result::bad_mac) {
            fail(t, ALERT_BAD_RECORD_MAC, "a record failed authentication");
        } else if (rc == hf_tls_open_result::overflow) {
            fail(t, ALERT_RECORD_OVERFLOW, "record content longer than 2^14 bytes");
        } else if (rc == hf_tls_open_result::bad_record) {
            fail(t, ALERT_UNEXPECTED_MESSAGE, "malformed record");
        } else if (type != HF_TLS_HANDSHAKE && !t->handshake_bytes.empty()) {
            fail(t, ALERT_UNEXPECTED_MESSAGE, "a handshake message interleaved with other records");
        } else if (type == HF_TLS_APPLICATION_DATA) {
            t->key_update_run = 0;
            space.iov_len = plain_len;
            evbuffer_commit_space(dst, &space, 1);
            produced = produced || plain_len > 0;
        } else if (type == HF_TLS_HANDSHAKE) {
            on_post_handshake(t, plain, plain_len);
        } else if (type == HF_TLS_ALERT) {
            on_alert(t, plain, plain_len);
        } else {
            fail(t, ALERT_UNEXPECTED_MESSAGE, "unexpected record type " + std::to_string(type));
        }
    }
    after_records(t);
    return produced;
}

// OpenSSL's own record layer, for connections it keeps.
bool read_held(hf_tls_stream *t, evbuffer *src, evbuffer *dst)
{
    size_t len = evbuffer_get_length(src);
    if (len > 0)
        BIO_write(t->openssl->rbio, evbuffer_pullup(src, ev_ssize_t(len)), int(len));
    evbuffer_drain(src, len);
    bool produced = false;
    for (;;) {
        evbuffer_iovec space;
        if (evbuffer_reserve_space(dst, HF_TLS_MAX_PLAIN, &space, 1) < 1) {
            fail(t, ALERT_INTERNAL_ERROR, "out of memory");
            break;
        }
        ERR_clear_error();
        int n = SSL_read(t->openssl->ssl, space.iov_base, int(space.iov_len));
        if (n > 0) {
            space.iov_len = size_t(n);
            evbuffer_commit_space(dst, &space, 1);
            produced = true;
            continue;
        }
        int e = SSL_get_error(t->openssl->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN)
            peer_closed(t);
        else if (e != SSL_ERROR_WANT_READ)
            fail(t, ALERT_INTERNAL_ERROR, hf_tls_openssl_error("TLS error"));
        break;
    }
    if (t->openssl) {
        take_openssl_output(t);
        hf_tls_openssl_release_idle(t->openssl.get());
    }
    return produced;
}

bufferevent_filter_result on_input(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *arg)
{
    auto *t = static_cast<hf_tls_stream *>(arg);
    if (t->phase == tls_phase::handshake)
        feed_handshake(t, src);
    bool produced = false;
    if (t->phase == tls_phase::detached)
        produced = open_records(t, src, dst);
    else if (t->phase == tls_phase::held)
        produced = read_held(t, src, dst);
    if (t->phase == tls_phase::failed)
        evbuffer_drain(src, evbuffer_get_length(src));
    return produced ? BEV_OK : BEV_NEED_MORE;
}

bufferevent_filter_result on_output(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *arg)
{
    auto *t = static_cast<hf_tls_stream *>(arg);
    if (t->phase == tls_phase::handshake)
        return BEV_NEED_MORE; // sent once the handshake is done
    if (t->phase == tls_phase::failed || t->shut) {
        evbuffer_drain(src, evbuffer_get_length(src));
        return BEV_NEED_MORE;
    }
    bool produced = false;
    size_t waiting = evbuffer_get_length(dst);
    while (size_t avail = evbuffer_get_length(src)) {
        size_t len = avail < HF_TLS_MAX_PLAIN ? avail : HF_TLS_MAX_PLAIN;
        const uint8_t *plain = evbuffer_pullup(src, ev_ssize_t(len));
        if (t->phase == tls_phase::held) {
            ERR_clear_error();
            if (SSL_write(t->openssl->ssl, plain, int(len)) <= 0) {
                fail(t, ALERT_INTERNAL_ERROR, hf_tls_openssl_error("TLS write failed"));
                break;
            }
            take_openssl_output(t);
        } else {
            // Our key's usage limit: the next one, announced under this one.
            if (t->tx.seq >= t->rekey_after && !send_key_update(t, false))
                break;
            if (!seal_into(t, dst, HF_TLS_APPLICATION_DATA, plain, len)) {
                fail(t, ALERT_INTERNAL_ERROR, "cannot seal a record");
                break;
            }
        }
        evbuffer_drain(src, len);
        produced = true;
    }
    if (t->phase == tls_phase::held)
        hf_tls_openssl_release_idle(t->openssl.get());
    if (t->phase == tls_phase::failed)
        evbuffer_drain(src, evbuffer_get_length(src));
    else if (produced)
        push(t, waiting);
    return produced ? BEV_OK : BEV_NEED_MORE;
}

// Our reads, not the socket bufferevent's: libevent 2.1 asks FIONREAD
// before each read and then reads at most 4 KiB, one read per pass. This
// reads until the socket is drained (a short read) or read_budget is
// taken, then lets the filter open all of it at once. The budget bounds a
// pass: at 256 KiB one sender's SENDs to "*" made passes of 80,000 queue
// writes, and the fan-out benchmark took twice the CPU per delivery.
// A chunk fills one 16 KiB allocation with libevent's chain header (it
// rounds chains up to a power of two), small enough for jemalloc's thread
// cache: 64 KiB chunks cost the fan-out benchmark 15% more CPU.
const size_t read_chunk = 16 * 1024 - 256;
const size_t read_budget = 4 * read_chunk;

// The output drained: reading goes on once it is down to half the cap.
void on_output_drained(evbuffer *out, const evbuffer_cb_info *info, void *arg)
{
    auto *t = static_cast<hf_tls_stream *>(arg);
    if (t->reading_paused && !t->stopped && info->n_deleted > 0 && evbuffer_get_length(out) <= max_unsent / 2) {
        t->reading_paused = false;
        event_add(t->reader, nullptr);
    }
}

void on_readable(evutil_socket_t fd, short, void *arg)
{
    auto *t = static_cast<hf_tls_stream *>(arg);
    if (evbuffer_get_length(bufferevent_get_output(t->raw)) > max_unsent) {
        t->reading_paused = true;
        event_del(t->reader);
        return;
    }
    evbuffer *in = bufferevent_get_input(t->raw);
    evbuffer_unfreeze(in, 0); // the socket bufferevent keeps its end for itself
    short ended = 0;
    size_t taken = 0;
    while (taken < read_budget) {
        evbuffer_iovec space;
        if (evbuffer_reserve_space(in, ev_ssize_t(read_chunk), &space, 1) < 1) {
            ended = BEV_EVENT_ERROR;
            break;
        }
        ssize_t n = recv(fd, space.iov_base, read_chunk, 0);
        if (n > 0) {
            space.iov_len = size_t(n);
            evbuffer_commit_space(in, &space, 1);
            taken += size_t(n);
            if (size_t(n) < read_chunk)
                break;
        } else if (n == 0) {
            ended = BEV_EVENT_EOF;
            break;
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                ended = BEV_EVENT_ERROR;
            break;
        }
    }
    evbuffer_freeze(in, 0);
    if (taken > 0)
        bufferevent_trigger(t->raw, EV_READ, 0); // the filter's turn: on_input
    if (ended) {
        event_del(t->reader);
        bufferevent_trigger_event(t->top, short(ended | BEV_EVENT_READING), BEV_TRIG_DEFER_CALLBACKS);
    }
}

void free_stream(void *arg)
{
    delete static_cast<hf_tls_stream *>(arg);
}

} // namespace

void hf_tls_stream_prepare(SSL_CTX *ctx)
{
    SSL_CTX_set_keylog_callback(ctx, hf_tls_openssl_keylog);
}

bufferevent *hf_tls_stream_accept(event_base *base, evutil_socket_t fd, SSL_CTX *ctx, hf_tls_aead *aead,
                                  hf_tls_stream **stream)
{
    auto t = std::make_unique<hf_tls_stream>();
    t->aead = aead;
    if (!(t->openssl = hf_tls_openssl_accept(ctx))) {
        evutil_closesocket(fd);
        return nullptr;
    }
    t->raw = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!t->raw) {
        evutil_closesocket(fd);
        return nullptr;
    }
    t->top = bufferevent_filter_new(t->raw, on_input, on_output, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
                                    free_stream, t.get());
    if (!t->top) {
        bufferevent_free(t->raw);
        return nullptr;
    }
    t->reader = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, t.get());
    if (!t->reader || !evbuffer_add_cb(bufferevent_get_output(t->raw), on_output_drained, t.get())) {
        // The filter owns the stream now: freeing it (in the loop) frees
        // the stream (free_stream), its reader, and the socket's bufferevent.
        bufferevent_free(t.release()->top);
        return nullptr;
    }
    bufferevent_disable(t->raw, EV_READ);
    event_add(t->reader, nullptr);
    *stream = t.release();
    return (*stream)->top;
}

bool hf_tls_stream_resumed(const hf_tls_stream *t)
{
    return t->resumed;
}

bool hf_tls_stream_detached(const hf_tls_stream *t)
{
    return !t->openssl;
}

size_t hf_tls_stream_held_buffers(const hf_tls_stream *t)
{
    return t->openssl ? hf_tls_openssl_held_buffers(t->openssl.get()) : 0;
}

const char *hf_tls_stream_error(const hf_tls_stream *t)
{
    return t->error.c_str();
}

size_t hf_tls_stream_unsent(const hf_tls_stream *t)
{
    return evbuffer_get_length(bufferevent_get_output(t->top)) + evbuffer_get_length(bufferevent_get_output(t->raw));
}

void hf_tls_stream_stop(hf_tls_stream *t)
{
    t->stopped = true;
    event_del(t->reader);
}

void hf_tls_stream_set_control_hook(hf_tls_stream *t, hf_tls_control_hook hook, void *arg)
{
    t->control_hook = hook;
    t->control_arg = arg;
}

void hf_tls_stream_set_key_limits(hf_tls_stream *t, uint64_t rekey_after, uint64_t peer_key_limit)
{
    t->rekey_after = rekey_after;
    t->peer_key_limit = peer_key_limit;
}

void hf_tls_stream_shutdown(hf_tls_stream *t)
{
    if (t->shut)
        return;
    send_close_notify(t);
    write_now(t, true);
    shutdown(fd_of(t), SHUT_WR);
}
