/* A heartbeat policy built against handoffd 0.1.0's module.h (its copy
 * beside this file), in C: its ops table ends where 0.1.0's did, before
 * the ops appended since. 01_connect loads it into this handoffd. It
 * grants 42 s whatever a device asks, so a test can tell it answered. */
#include "module_v1_0.h"

static int policy_open(const struct hf_host_api *host, const struct hf_setting_value *settings, void **policy,
                       char *err, size_t err_len)
{
    (void)host;
    (void)settings;
    (void)err;
    (void)err_len;
    *policy = (void *)&policy_open;
    return 0;
}

static void policy_close(void *policy)
{
    (void)policy;
}

static void negotiate(void *policy, uint64_t requested_ms, uint64_t *granted_ms, uint64_t *timeout_ms)
{
    (void)policy;
    (void)requested_ms;
    *granted_ms = 42000;
    *timeout_ms = 2 * 42000 + 5000;
}

static const struct hf_heartbeat_ops ops = {
    sizeof(struct hf_heartbeat_ops), policy_open, policy_close, negotiate, NULL, NULL, NULL};

HF_MODULE_DECLARE(HF_MODULE_HEARTBEAT, "v1_0", "a heartbeat policy built against handoffd 0.1.0's module.h", NULL, 0,
                  &ops)
