#include "core/server/queue_purge.h"

#include "core/server/server.h"

namespace
{

// Most rounds (each takes a whole queue's worth, so one is the rule).
const int purge_rounds_max = 16;

struct purge {
    hf_server *srv;
    std::string account, queue;
    void (*done)(void *, int, uint64_t);
    void *arg;
    uint64_t purged = 0;
    int rounds = 0;
};

void finish(purge *p, int status)
{
    p->done(p->arg, status, p->purged);
    delete p;
}

void next_round(purge *p);

void acked(void *arg, int status)
{
    auto *p = static_cast<purge *>(arg);
    if (status != HF_STORE_OK)
        finish(p, status);
    else
        next_round(p);
}

void fetched(void *arg, int status, const hf_store_msg *msgs, size_t count)
{
    auto *p = static_cast<purge *>(arg);
    if (status != HF_STORE_OK || count == 0 || ++p->rounds > purge_rounds_max) {
        finish(p, status);
        return;
    }
    p->purged += count;
    p->srv->store(&hf_store_ops::ack, p->account.c_str(), p->queue.c_str(), msgs[count - 1].seq, acked, p);
}

void next_round(purge *p)
{
    const hf_config &cfg = *p->srv->cfg;
    p->srv->store(&hf_store_ops::fetch, p->account.c_str(), p->queue.c_str(), uint64_t(0),
                  uint32_t(cfg.queue_max_messages), uint64_t(cfg.queue_max_bytes), hf_expiry_now(&p->srv->expiry_clock),
                  fetched, p);
}

} // namespace

void hf_queue_purge(hf_server *srv, const std::string &account, const std::string &queue,
                    void (*done)(void *arg, int status, uint64_t purged), void *arg)
{
    next_round(new purge{srv, account, queue, done, arg});
}
