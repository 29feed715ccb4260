// POST /v1/accounts/{account}/devices/{device}/tokens: a device token for
// a backend that would rather not mint its own: {"ttl": "24h", "format":
// "jwt" | "hf1"}, answered {"token", "format", "expires_at_ms"}. Signed
// with the first tokens.keys entry that has a secret.
#include <cstring>

#include "core/api/api_call.h"
#include "proto/clock.h"
#include "proto/token.h"
#include "proto/units.h"

void hf_api_mint_token(hf_api_call *call)
{
    const hf_config &cfg = *call->api->cfg;
    if (cfg.token_keys.empty()) {
        hf_api_fail(call, 409, "no_secret",
                    "tokens.keys has no entry with a secret_file here: this server verifies tokens it cannot mint");
        return;
    }
    const char *name;
    json_t *value;
    if (call->body)
        json_object_foreach(call->body, name, value) if (strcmp(name, "ttl") != 0 && strcmp(name, "format") != 0)
        {
            hf_api_fail(call, 400, "bad_field", std::string("unknown field \"") + name + "\"; a token has ttl, format");
            return;
        }
    json_t *ttl = call->body ? json_object_get(call->body, "ttl") : nullptr;
    json_t *format = call->body ? json_object_get(call->body, "format") : nullptr;
    int64_t ttl_ms = 24 * 3600 * 1000;
    if (ttl && (!json_is_string(ttl) || !hf_parse_duration(json_string_value(ttl), &ttl_ms) || ttl_ms < 1000 ||
                ttl_ms > cfg.api_token_max_ttl_ms)) {
        hf_api_fail(call, 400, "bad_field",
                    "\"ttl\" is a duration with a unit (\"30m\", \"24h\"), from 1s to api.token_max_ttl (" +
                        std::to_string(cfg.api_token_max_ttl_ms / 1000) + " s)");
        return;
    }
    std::string form = format ? (json_is_string(format) ? json_string_value(format) : "?") : "jwt";
    if (form != "jwt" && form != "hf1") {
        hf_api_fail(call, 400, "bad_field", "\"format\" is \"jwt\" (the default) or \"hf1\"");
        return;
    }
    hf_token_claims claims;
    claims.account = call->account;
    claims.device = call->device;
    claims.key_id = cfg.token_keys[0].id;
    claims.issued_at_ms = hf_wall_ms();
    claims.expires_at = (claims.issued_at_ms + uint64_t(ttl_ms)) / 1000;
    std::string token;
    int rc = form == "jwt" ? hf_token_mint_jwt(&claims, cfg.token_keys[0].secret, &token)
                           : hf_token_mint(&claims, cfg.token_keys[0].secret, &token);
    if (rc != HF_OK) {
        hf_api_fail(call, 400, "bad_field", "a device's name never starts with @");
        return;
    }
    hf_api_reply(call, 200,
                 json_pack("{s:s, s:s, s:I}", "token", token.c_str(), "format", form.c_str(), "expires_at_ms",
                           json_int_t(claims.expires_at * 1000)));
}
