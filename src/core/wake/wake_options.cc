#include "core/wake/wake_options.h"

#include <jansson.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "core/common/settings.h"
#include "core/wake/jwt_sign.h"

namespace
{

bool read_file(const std::string &path, std::string *out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    std::ostringstream text;
    text << in.rdbuf();
    *out = text.str();
    return true;
}

bool fail(std::string *err, const std::string &why)
{
    *err = why;
    return false;
}

bool read_key(const char *key, const std::string &path, hf_ece_keys *keys, std::string *err)
{
    std::string pem, why;
    if (!read_file(path, &pem))
        return fail(err, std::string(key) + ": cannot read " + path);
    if (!hf_p256_from_pem(pem, keys, &why))
        return fail(err, std::string(key) + ": " + path + ": " + why);
    return true;
}

// A service account's JSON key file, as the Firebase console gives it.
bool read_service_account(const std::string &path, hf_wake_options *options, std::string *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path.c_str(), 0, &jerr);
    if (!root)
        return fail(err, "wake.fcm_credentials: " + path + ": " + jerr.text);
    auto member = [root](const char *name) {
        const char *v = json_string_value(json_object_get(root, name));
        return std::string(v ? v : "");
    };
    options->fcm_project = member("project_id");
    options->fcm_client_email = member("client_email");
    options->fcm_private_key = member("private_key");
    options->fcm_token_uri = member("token_uri");
    json_decref(root);
    if (options->fcm_project.empty() || options->fcm_client_email.empty() || options->fcm_private_key.empty() ||
        options->fcm_token_uri.empty())
        return fail(err, "wake.fcm_credentials: " + path +
                             " is not a service account key: it needs project_id, client_email, private_key and "
                             "token_uri");
    std::string jwt, why;
    if (!hf_jwt_sign_rs256(options->fcm_private_key, "{}", "{}", &jwt, &why))
        return fail(err, "wake.fcm_credentials: " + path + ": private_key: " + why);
    return true;
}

std::string without_slash(std::string url)
{
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    return url;
}

} // namespace

bool hf_wake_options_load(const hf_config &cfg, hf_wake_options *options, std::string *err)
{
    if (!cfg.wake_vapid_key_file.empty() &&
        !read_key("wake.vapid_key_file", cfg.wake_vapid_key_file, &options->vapid, err))
        return false;
    options->vapid_subject = cfg.wake_vapid_subject;
    if (options->vapid_subject.compare(0, 7, "mailto:") != 0 && options->vapid_subject.compare(0, 8, "https://") != 0)
        return fail(err, "wake.vapid_subject: \"" + cfg.wake_vapid_subject + "\" must be a mailto: or https: URL");
    if (!cfg.wake_fcm_credentials.empty() && !read_service_account(cfg.wake_fcm_credentials, options, err))
        return false;
    options->fcm_url = without_slash(cfg.wake_fcm_url);
    if (!cfg.wake_apns_key_file.empty()) {
        if (!read_key("wake.apns_key_file", cfg.wake_apns_key_file, &options->apns_key, err))
            return false;
        if (cfg.wake_apns_key_id.empty() || cfg.wake_apns_team_id.empty())
            return fail(err, "wake.apns_key_file: needs wake.apns_key_id and wake.apns_team_id too (from Apple's "
                             "developer account)");
    }
    options->apns_key_id = cfg.wake_apns_key_id;
    options->apns_team_id = cfg.wake_apns_team_id;
    options->apns_url = without_slash(cfg.wake_apns_url);
    options->apns_sandbox_url = without_slash(cfg.wake_apns_sandbox_url);
    options->ttl_s = uint32_t(cfg.wake_ttl_ms / 1000);
    options->http.ca_file = cfg.wake_ca_file;
    options->http.allow_endpoints = cfg.wake_allow_endpoints;
    options->http.timeout_ms = long(cfg.wake_timeout_ms);
    options->http.max_response = size_t(cfg.wake_max_response);
    return true;
}

bool hf_wake_serves(const hf_wake_options &options, hf_wake_provider provider)
{
    switch (provider) {
    case hf_wake_provider::webpush:
        return !options.vapid.private_key.empty();
    case hf_wake_provider::fcm:
        return !options.fcm_private_key.empty();
    case hf_wake_provider::apns:
        return !options.apns_key.private_key.empty();
    }
    return false;
}
