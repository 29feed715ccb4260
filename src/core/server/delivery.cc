#include "core/server/delivery.h"

#include <algorithm>

#include "core/common/log.h"
#include "core/conn/conn.h"
#include "core/server/dead_letters.h"
#include "core/server/push_message.h"
#include "core/server/server.h"
#include "proto/build.h"
#include "proto/clock.h"
#include "proto/e2e.h"

namespace
{

// Bytes one fetch may bring into memory beyond its first message.
const uint64_t fetch_max_bytes = 1 << 20;

// Takes the seqs up to upto out of the window; returns how many. A store
// that checks what it drops is told them with the next acknowledgement.
size_t drop_inflight(hf_session *s, uint64_t upto)
{
    bool keep = s->srv->store.has(&hf_store_ops::ack_sent);
    size_t dropped = 0;
    while (s->inflight_head < s->inflight.size() && s->inflight[s->inflight_head].seq <= upto) {
        if (keep)
            s->acked_unstored.push_back(std::move(s->inflight[s->inflight_head]));
        s->inflight_head++;
        dropped++;
    }
    if (s->inflight_head == s->inflight.size()) {
        s->inflight.clear();
        s->inflight_head = 0;
    } else if (s->inflight_head > s->inflight.size() / 2) {
        s->inflight.erase(s->inflight.begin(), s->inflight.begin() + long(s->inflight_head));
        s->inflight_head = 0;
    }
    return dropped;
}

// The window's entry for seq, or null.
const hf_sent_message *sent_as(const hf_session *s, uint64_t seq)
{
    auto at = std::lower_bound(s->inflight.begin() + long(s->inflight_head), s->inflight.end(), seq,
                               [](const hf_sent_message &m, uint64_t v) { return m.seq < v; });
    return at != s->inflight.end() && at->seq == seq ? &*at : nullptr;
}

// False, sending nothing, when the DELIVER would pass max_frame.
bool send_deliver(hf_session *s, const hf_store_msg *sm)
{
    hf_msg m = hf_msg_deliver(sm->seq, sm->from,
                              std::string_view(reinterpret_cast<const char *>(sm->payload), sm->payload_len),
                              sm->stored_at_ms, sm->msg_id, sm->collapse_key ? sm->collapse_key : "");
    if (hf_push_is(m.from)) {
        if (!hf_push_deliver(&m))
            return false;
    } else if (hf_e2e_is(m.payload)) {
        m.e2e = 1; // a hint: the device's verification says whether it is one
        hf_msg_set(&m, HF_TAG_E2E);
    }
    uint64_t max_frame = uint64_t(s->srv->cfg->max_frame);
    if (sm->payload_len + HF_DELIVER_RESERVE > max_frame && hf_msg_body_size(&m) > max_frame)
        return false;
    hf_conn_send(s->conn, &m);
    return true;
}

void fetch_done(void *arg, int status, const hf_store_msg *msgs, size_t count)
{
    auto *s = static_cast<hf_session *>(arg);
    hf_conn *c = s->conn;
    hf_server *srv = s->srv;
    s->fetching = false;
    hf_histogram_observe(&srv->stats->store_fetch_seconds, hf_mono_us() - s->fetch_started_us);
    if (status == HF_STORE_UNDECODABLE) {
        // Written by a newer format, or damaged: the queue stops there,
        // and nothing is deleted, until someone looks (a newer handoffd,
        // or the operator). A new connection tries again.
        s->queue_stopped = true;
        srv->stats->queue_stops++;
        hf_log(HF_LOG_ERROR,
               "%s/%s: the stored message after seq %llu does not decode (a newer handoffd's format, or damage); "
               "the device's queue stops there and nothing is deleted: run the handoffd that wrote it, or see "
               "docs/storage.md",
               s->account.c_str(), s->device.c_str(), (unsigned long long)s->last_sent_seq);
    } else if (status != HF_STORE_OK) {
        // A store that is down (a Redis failover) comes back by itself;
        // the device's queue is read again then, not at its next event.
        hf_log(HF_LOG_WARNING, "store: fetch for %s/%s failed (status %d); trying again in %lld ms", s->account.c_str(),
               s->device.c_str(), status, (long long)srv->cfg->store_retry_ms);
        hf_server_retry_later(s->srv, &s->fetch_retry, s, [](evutil_socket_t, short, void *arg) {
            hf_delivery_pump(static_cast<hf_session *>(arg));
        });
    } else if (hf_conn_is_open(c)) {
        for (size_t i = 0; i < count; i++) {
            if (send_deliver(s, &msgs[i]))
                s->inflight.push_back(hf_sent_message{msgs[i].seq, msgs[i].from, msgs[i].msg_id});
            else
                hf_dead_letters_move(s, &msgs[i], HF_ERR_FRAME_TOO_LARGE,
                                     "its payload of " + std::to_string(msgs[i].payload_len) +
                                         " bytes makes a DELIVER larger than limits.max_frame " +
                                         std::to_string(srv->cfg->max_frame) + " (it was stored under a larger limit)");
            s->last_sent_seq = msgs[i].seq;
        }
        // A full batch may mean more is waiting.
        if (count > 0 && count == s->fetch_asked)
            s->fetch_again = true;
    }
    if (!s->in_fetch_call && s->fetch_again)
        hf_delivery_pump(s);
    hf_conn_unref(c);
}

} // namespace

void hf_delivery_pump(hf_session *s)
{
    hf_conn *c = s->conn;
    hf_server *srv = s->srv;
    if (s->fetching) {
        s->fetch_again = true;
        return;
    }
    if (s->revocation_unchecked)
        return; // its revocation check pumps once it passes
    if (srv->stopping)
        return; // draining: what is stored stays for the next connection
    if (s->queue_stopped)
        return; // at a message that does not decode
    hf_conn_ref(c);
    // Loop rather than recurse when the store completes synchronously.
    while (hf_conn_is_open(c) && !s->fetching) {
        size_t room = size_t(srv->cfg->window) - hf_session_inflight(s);
        if (room == 0)
            break;
        s->fetching = true;
        s->fetch_asked = uint32_t(room);
        s->fetch_again = false;
        s->in_fetch_call = true;
        hf_conn_ref(c); // released by fetch_done
        s->fetch_started_us = hf_mono_us();
        srv->store(&hf_store_ops::fetch, s->account.c_str(), s->device.c_str(), s->last_sent_seq, uint32_t(room),
                   fetch_max_bytes, hf_expiry_now(&srv->expiry_clock), fetch_done, s);
        s->in_fetch_call = false;
        if (!s->fetch_again)
            break;
    }
    hf_conn_unref(c);
}

size_t hf_delivery_take_ack(hf_session *s, uint64_t upto)
{
    size_t acked = drop_inflight(s, upto);
    if (acked == 0)
        return 0;
    s->acked_upto = upto;
    s->srv->stats->messages_delivered += acked;
    hf_dead_letters_ack_store(s);
    return acked;
}

bool hf_delivery_sent(const hf_session *s, uint64_t seq)
{
    return sent_as(s, seq) != nullptr;
}

bool hf_delivery_sent_as(const hf_session *s, uint64_t seq, const std::string &from, uint64_t msg_id)
{
    const hf_sent_message *m = sent_as(s, seq);
    return m && m->msg_id == msg_id && m->from == from;
}

bool hf_delivery_refuse(hf_session *s, uint64_t seq, int code, const std::string &text)
{
    if (!sent_as(s, seq))
        return false;
    if (seq > 1)
        hf_delivery_take_ack(s, seq - 1);
    drop_inflight(s, seq); // now the oldest there
    std::string reason = std::string("refused by the device: ") + hf_err_name(code) + " (" + std::to_string(code) + ")";
    if (!text.empty())
        reason += ": " + text;
    hf_dead_letters_refused(s, seq, code, reason);
    return true;
}
