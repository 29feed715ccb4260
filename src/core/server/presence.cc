#include "core/server/presence.h"

#include <algorithm>
#include <numeric>

#include "core/common/log.h"
#include "core/conn/conn.h"
#include "core/server/device_keys.h"
#include "core/server/online.h"
#include "core/server/server.h"
#include "core/server/session.h"
#include "proto/build.h"

namespace
{

// One PRESENCE_REQ's answer while the store is asked about each device.
struct presence_answer {
    hf_session *s; // its connection's ref is held
    uint64_t id;
    std::vector<std::string> names;
    std::vector<char> online;
    std::vector<std::string> keys; // each device's published keys, "" for none (device_keys.h)
    size_t waiting = 0;
    int failed = HF_STORE_OK;
};

void send_answer(presence_answer *a)
{
    hf_session *s = a->s;
    hf_conn *c = s->conn;
    s->presence_pending = false;
    if (hf_conn_is_open(c) && a->failed != HF_STORE_OK) {
        hf_conn_fail(c, HF_ERR_STORE_UNAVAILABLE, "cannot read the account's presence from the store; ask again");
    } else if (hf_conn_is_open(c)) {
        std::vector<size_t> order(a->names.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::sort(order.begin(), order.end(), [a](size_t x, size_t y) { return a->names[x] < a->names[y]; });
        for (size_t i : order) {
            hf_msg m = hf_msg_presence(a->id, a->names[i], a->online[i] != 0);
            if (!a->keys[i].empty())
                hf_msg_add_device_key(&m, a->keys[i]);
            hf_conn_send(c, &m);
        }
        hf_msg end = hf_msg_presence_end(a->id, a->names.size());
        hf_conn_send(c, &end);
    }
    hf_conn_unref(c);
    delete a;
}

struct lookup_slot {
    presence_answer *a;
    size_t index;
};

void looked_up(void *arg, int status, const char *server_id)
{
    auto *slot = static_cast<lookup_slot *>(arg);
    presence_answer *a = slot->a;
    if (status != HF_STORE_OK)
        a->failed = status;
    else
        a->online[slot->index] = server_id != nullptr;
    delete slot;
    if (--a->waiting == 0)
        send_answer(a);
}

void keys_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *slot = static_cast<lookup_slot *>(arg);
    presence_answer *a = slot->a;
    if (status != HF_STORE_OK)
        a->failed = status;
    else
        a->keys[slot->index] = hf_keys_of(records, count);
    delete slot;
    if (--a->waiting == 0)
        send_answer(a);
}

void listed(void *arg, int status, const char *const *devices, size_t count)
{
    auto *a = static_cast<presence_answer *>(arg);
    hf_server *srv = a->s->srv;
    if (status != HF_STORE_OK) {
        a->failed = status;
        send_answer(a);
        return;
    }
    a->names.assign(devices, devices + count);
    a->online.assign(count, 0);
    a->keys.assign(count, "");
    a->waiting = count + 1; // the last answer, or this function, sends it
    for (size_t i = 0; i < count; i++) {
        if (hf_keys_enabled(srv)) {
            a->waiting++;
            srv->store(&hf_store_ops::records, a->s->account.c_str(), a->names[i].c_str(), keys_read,
                       new lookup_slot{a, i});
        }
        if (hf_online_find(&srv->online, a->s->account, a->names[i])) {
            a->online[i] = 1;
            a->waiting--;
        } else {
            srv->store(&hf_store_ops::presence_lookup, a->s->account.c_str(), a->names[i].c_str(), looked_up,
                       new lookup_slot{a, i});
        }
    }
    if (--a->waiting == 0)
        send_answer(a);
}

void watch(hf_server *srv, const std::string &account)
{
    if (srv->store.has(&hf_store_ops::watch))
        srv->store(&hf_store_ops::watch, account.c_str(), srv->cfg->server_id.c_str(),
                   uint64_t(srv->cfg->presence_ttl_ms), hf_server_store_done, const_cast<char *>("presence watch"));
}

void follow(hf_session *s)
{
    if (s->following)
        return;
    s->following = true;
    hf_log(HF_LOG_DEBUG, "%s/%s follows presence", s->account.c_str(), s->device.c_str());
    std::vector<hf_session *> &list = s->srv->presence.followers[s->account];
    list.push_back(s);
    if (list.size() == 1)
        watch(s->srv, s->account);
}

} // namespace

void hf_presence_request(hf_session *s, const hf_msg *m)
{
    if (!hf_session_request_admitted(s, m, s->presence_pending))
        return;
    if (hf_msg_has(m, HF_TAG_FOLLOW) && m->follow)
        follow(s);
    else
        hf_presence_forget(s);
    s->presence_pending = true;
    hf_conn_ref(s->conn);
    s->srv->store(&hf_store_ops::list_devices, s->account.c_str(), listed, new presence_answer{s, m->id, {}, {}, {}});
}

void hf_presence_changed(hf_server *srv, const std::string &account, const std::string &device, bool online)
{
    auto found = srv->presence.followers.find(account);
    if (found == srv->presence.followers.end())
        return;
    hf_msg m = hf_msg_presence(0, device, online);
    for (hf_session *s : found->second)
        if (s->device != device && hf_conn_is_open(s->conn))
            hf_conn_send(s->conn, &m);
}

void hf_presence_forget(hf_session *s)
{
    if (!s->following)
        return;
    s->following = false;
    auto found = s->srv->presence.followers.find(s->account);
    if (found == s->srv->presence.followers.end())
        return;
    std::vector<hf_session *> &list = found->second;
    list.erase(std::remove(list.begin(), list.end(), s), list.end());
    if (list.empty())
        s->srv->presence.followers.erase(found); // the store's watch lapses by itself
}

void hf_presence_renew_watches(hf_server *srv)
{
    for (const auto &entry : srv->presence.followers)
        watch(srv, entry.first);
}
