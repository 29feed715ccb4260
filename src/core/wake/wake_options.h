// What the wake-up senders need (docs/wake.md), read once from the files
// the configuration names: the VAPID key, the FCM service account, the
// APNs signing key. config_check reads them for -t too, so that a bad
// file fails the check as it would fail the start.
#pragma once
#include <cstdint>
#include <string>

#include "core/wake/http_client.h"
#include "core/wake/wake_route.h"
#include "proto/ece.h"

struct hf_config;

// What the senders need, read from the configuration's files.
struct hf_wake_options {
    hf_ece_keys vapid; // wake.vapid_key_file; empty: no Web Push wake-ups
    std::string vapid_subject;
    // FCM: wake.fcm_credentials (a service account's JSON); empty: none.
    std::string fcm_project, fcm_client_email, fcm_private_key, fcm_token_uri, fcm_url;
    // APNs: wake.apns_key_file (.p8), key id and team id; empty: none.
    hf_ece_keys apns_key;
    std::string apns_key_id, apns_team_id, apns_url, apns_sandbox_url;
    uint32_t ttl_s = 3600;
    hf_http_options http;
};

// Reads the files cfg names into options; false with *err naming the key
// and what is wrong (config_check runs it for -t).
bool hf_wake_options_load(const hf_config &cfg, hf_wake_options *options, std::string *err);

// Whether options serve provider.
bool hf_wake_serves(const hf_wake_options &options, hf_wake_provider provider);
