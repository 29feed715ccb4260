#include "core/server/device_keys.h"

#include <cstring>

#include "core/common/log.h"
#include "core/server/server.h"
#include "core/server/session.h"

namespace
{

const char record_name[] = "keys";

// One publication: the device's records read, then its keys written if
// they changed. The HELLO's connection may be gone by then: the keys
// were the device's all the same.
struct publish_job {
    hf_server *srv;
    std::string account, device, key;
};

void written(void *arg, int status)
{
    auto *job = static_cast<publish_job *>(arg);
    if (status != HF_STORE_OK)
        hf_log(HF_LOG_WARNING,
               "store: keeping the published keys of %s/%s failed (status %d); its next HELLO "
               "tries again",
               job->account.c_str(), job->device.c_str(), status);
    else
        hf_log(HF_LOG_INFO, "%s/%s published new keys", job->account.c_str(), job->device.c_str());
    delete job;
}

void records_read(void *arg, int status, const hf_store_record *records, size_t count)
{
    auto *job = static_cast<publish_job *>(arg);
    if (status != HF_STORE_OK || hf_keys_of(records, count) == job->key) {
        delete job;
        return;
    }
    job->srv->store(&hf_store_ops::record_put, job->account.c_str(), job->device.c_str(), record_name,
                    reinterpret_cast<const uint8_t *>(job->key.data()), job->key.size(), written, job);
}

} // namespace

bool hf_keys_enabled(const hf_server *srv)
{
    return srv->store.has(&hf_store_ops::records) && srv->store.has(&hf_store_ops::record_put);
}

void hf_keys_publish(hf_session *s, const std::string &key)
{
    if (!hf_keys_enabled(s->srv))
        return;
    auto *job = new publish_job{s->srv, s->account, s->device, key};
    s->srv->store(&hf_store_ops::records, job->account.c_str(), job->device.c_str(), records_read, job);
}

void hf_keys_forget(hf_server *srv, const std::string &account, const std::string &device)
{
    if (hf_keys_enabled(srv))
        srv->store(&hf_store_ops::record_put, account.c_str(), device.c_str(), record_name, nullptr, 0,
                   hf_server_store_done, const_cast<char *>("dropping a revoked device's keys"));
}

std::string hf_keys_of(const hf_store_record *records, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(records[i].name, record_name) == 0)
            return std::string(reinterpret_cast<const char *>(records[i].value), records[i].value_len);
    return "";
}
