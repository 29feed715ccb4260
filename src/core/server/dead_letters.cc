#include "core/server/dead_letters.h"

#include <algorithm>

#include "core/common/dead_letter.h"
#include "core/common/log.h"
#include "core/conn/conn.h"
#include "core/server/server.h"
#include "core/server/store_ack.h"
#include "proto/clock.h"
#include "proto/frame.h"

namespace
{

void start_next(hf_session *s);

// A copy in the list is what the job waits for: the store may sync at once.
bool entry_applied(hf_enqueue_arg *, uint64_t)
{
    return true;
}

void take_entry(hf_dead_letter_job *job, const hf_store_msg *m)
{
    job->from = m->from ? m->from : "";
    job->msg_id = m->msg_id;
    job->stored_at_ms = m->stored_at_ms;
    job->entry = hf_dead_letter_encode(m, job->code, job->reason, hf_wall_ms());
    job->have_entry = true;
}

// Moved seqs the device's acknowledgements reached (every seq before one
// acknowledged) count as acknowledged.
void absorb_moved(hf_session *s)
{
    auto &moved = s->dead_lettered;
    size_t taken = 0;
    while (taken < moved.size() && moved[taken] <= s->acked_upto + 1) {
        s->acked_upto = std::max(s->acked_upto, moved[taken]);
        taken++;
    }
    moved.erase(moved.begin(), moved.begin() + long(taken));
}

// The front job is settled: moved (or found gone), or given up on with
// the connection.
void finish_front(hf_session *s, bool moved)
{
    hf_dead_letter_job &job = s->dead_letter_jobs.front();
    if (moved) {
        s->srv->stats->messages_dead_lettered++;
        hf_log(HF_LOG_WARNING,
               "%s/%s: message seq %llu (from %s, id %llu) moved to the device's dead letters: %s (list them "
               "with handoffctl dead-letters)",
               s->account.c_str(), s->device.c_str(), (unsigned long long)job.seq, job.from.c_str(),
               (unsigned long long)job.msg_id, job.reason.c_str());
    }
    s->dead_lettered.insert(std::upper_bound(s->dead_lettered.begin(), s->dead_lettered.end(), job.seq), job.seq);
    s->dead_letter_jobs.pop_front();
    hf_dead_letters_ack_store(s);
}

// The store failed: the message stays in the device's queue, and the job
// is tried again after delivery.store_retry.
void retry_later(hf_session *s, int status, const char *what)
{
    hf_server *srv = s->srv;
    hf_log(HF_LOG_WARNING, "store: %s for %s/%s's dead letters failed (status %d); trying again in %lld ms", what,
           s->account.c_str(), s->device.c_str(), status, (long long)srv->cfg->store_retry_ms);
    hf_server_retry_later(srv, &s->dead_letter_retry, s,
                          [](evutil_socket_t, short, void *arg) { start_next(static_cast<hf_session *>(arg)); });
}

// Every completion ends here: the next job starts, then the hold on the
// connection (and so on s) goes.
void settled(hf_session *s)
{
    hf_conn *c = s->conn;
    s->dead_letter_busy = false;
    start_next(s);
    hf_conn_unref(c);
}

void entry_added(void *arg, int status, uint64_t, int)
{
    auto *job = static_cast<hf_dead_letter_job *>(static_cast<hf_enqueue_arg *>(arg));
    hf_session *s = job->session;
    // A duplicate: an earlier connection moved it and ended before the
    // store heard the acknowledgement.
    if (status == HF_STORE_OK || status == HF_STORE_DUPLICATE)
        finish_front(s, true);
    else
        retry_later(s, status, "adding a message");
    settled(s);
}

void add_entry(hf_session *s, hf_dead_letter_job *job)
{
    std::string queue = hf_dead_letter_queue(s->device);
    hf_store_msg original{};
    original.from = job->from.c_str();
    original.msg_id = job->msg_id;
    original.stored_at_ms = job->stored_at_ms;
    hf_store_enqueue_req req = hf_dead_letter_request(s->account.c_str(), queue, &original, job->entry);
    s->srv->store(&hf_store_ops::enqueue, &req, entry_added, static_cast<hf_enqueue_arg *>(job));
}

void refused_read(void *arg, int status, const hf_store_msg *msgs, size_t count)
{
    auto *s = static_cast<hf_session *>(arg);
    hf_dead_letter_job &job = s->dead_letter_jobs.front();
    if (status != HF_STORE_OK) {
        retry_later(s, status, "reading a refused message");
        settled(s);
    } else if (count == 0 || msgs[0].seq != job.seq) {
        // Gone meanwhile: expired, or acknowledged by a newer connection.
        finish_front(s, false);
        settled(s);
    } else {
        take_entry(&job, &msgs[0]);
        add_entry(s, &job); // its completion settles
    }
}

void start_next(hf_session *s)
{
    if (s->dead_letter_busy || s->dead_letter_jobs.empty())
        return;
    if (!hf_conn_is_open(s->conn)) {
        // What is left stays in the device's queue for its next connection.
        s->dead_letter_jobs.clear();
        return;
    }
    hf_dead_letter_job &job = s->dead_letter_jobs.front();
    s->dead_letter_busy = true;
    hf_conn_ref(s->conn); // released by settled()
    if (job.have_entry)
        add_entry(s, &job);
    else
        s->srv->store(&hf_store_ops::fetch, s->account.c_str(), s->device.c_str(), job.seq - 1, uint32_t(1),
                      uint64_t(0), hf_expiry_now(&s->srv->expiry_clock), refused_read, s);
}

hf_dead_letter_job &new_job(hf_session *s, uint64_t seq, int code, const std::string &reason)
{
    hf_dead_letter_job &job = s->dead_letter_jobs.emplace_back();
    job.applied = entry_applied;
    job.session = s;
    job.seq = seq;
    job.code = code;
    job.reason = reason;
    return job;
}

} // namespace

void hf_dead_letters_move(hf_session *s, const hf_store_msg *m, int code, const std::string &reason)
{
    take_entry(&new_job(s, m->seq, code, reason), m);
    start_next(s);
}

void hf_dead_letters_refused(hf_session *s, uint64_t seq, int code, const std::string &reason)
{
    new_job(s, seq, code, reason);
    start_next(s);
}

void hf_dead_letters_ack_store(hf_session *s)
{
    absorb_moved(s);
    uint64_t upto = s->acked_upto;
    if (!s->dead_letter_jobs.empty())
        upto = std::min(upto, s->dead_letter_jobs.front().seq - 1);
    if (upto <= s->store_acked_upto)
        return;
    hf_store_ack(s, upto);
}
