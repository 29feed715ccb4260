#include "core/server/store_ack.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/common/log.h"
#include "core/conn/conn.h"
#include "core/server/server.h"

namespace
{

// One checked acknowledgement on its way: the seqs it covers, (after, upto].
struct checked_ack {
    hf_session *session; // its connection's ref held
    uint64_t after, upto;
};

void checked(void *arg, int status, uint64_t forked_seq)
{
    auto *call = static_cast<checked_ack *>(arg);
    hf_session *s = call->session;
    hf_conn *c = s->conn;
    if (status == HF_STORE_OK || status == HF_STORE_FORKED) {
        uint64_t kept = status == HF_STORE_FORKED ? forked_seq - 1 : call->upto;
        while (!s->acked_unstored.empty() && s->acked_unstored.front().seq <= kept)
            s->acked_unstored.pop_front();
    } else {
        // Said again with the next acknowledgement, its messages with it.
        hf_server_store_done(const_cast<char *>("ack"), status);
        s->store_acked_upto = std::min(s->store_acked_upto, call->after);
    }
    if (status == HF_STORE_FORKED && hf_conn_is_open(c)) {
        s->srv->stats->seq_mismatches++;
        hf_log(HF_LOG_WARNING,
               "%s/%s acknowledged seq %llu, which the store holds as another message than it was sent (the "
               "store's seqs forked: a Redis failover); the store kept it, and the device is cut so that it "
               "fetches again from there",
               s->account.c_str(), s->device.c_str(), (unsigned long long)forked_seq);
        hf_conn_fail(c, HF_ERR_STORE_UNAVAILABLE,
                     "the store holds other messages from seq " + std::to_string(forked_seq) +
                         " than this connection was sent (a store failover): connect again to be sent them");
    }
    delete call;
    hf_conn_unref(c);
}

} // namespace

void hf_store_ack(hf_session *s, uint64_t upto)
{
    hf_server *srv = s->srv;
    if (!srv->store.has(&hf_store_ops::ack_sent)) {
        s->store_acked_upto = upto;
        srv->store(&hf_store_ops::ack, s->account.c_str(), s->device.c_str(), upto, hf_server_store_done,
                   const_cast<char *>("ack"));
        return;
    }
    // Those the acknowledgements still out carry stay until answered, and
    // are not sent again unless one fails.
    std::vector<hf_store_sent> sent;
    for (const hf_sent_message &m : s->acked_unstored) {
        if (m.seq > upto)
            break;
        if (m.seq > s->store_acked_upto)
            sent.push_back(hf_store_sent{m.seq, m.from.c_str(), m.msg_id});
    }
    hf_conn_ref(s->conn); // released by checked
    auto *call = new checked_ack{s, s->store_acked_upto, upto};
    s->store_acked_upto = upto;
    srv->store(&hf_store_ops::ack_sent, s->account.c_str(), s->device.c_str(), upto, sent.data(), sent.size(), checked,
               call);
}
