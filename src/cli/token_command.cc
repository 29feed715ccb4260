// handoff token: mints a device token from a secret file, hf1 or (with
// --format jwt) an HS256 JSON Web Token.
#include <getopt.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "proto/clock.h"
#include "proto/token.h"
#include "proto/units.h"

int cli_token(int argc, char **argv)
{
    enum { opt_secret_file = 256, opt_account, opt_device, opt_ttl, opt_key_id, opt_format };
    static const struct option options[] = {
        {"secret-file", required_argument, nullptr, opt_secret_file},
        {"account", required_argument, nullptr, opt_account},
        {"device", required_argument, nullptr, opt_device},
        {"ttl", required_argument, nullptr, opt_ttl},
        {"key-id", required_argument, nullptr, opt_key_id},
        {"format", required_argument, nullptr, opt_format},
        {nullptr, 0, nullptr, 0},
    };
    std::string secret_file, ttl_text = "24h", format = "hf1";
    hf_token_claims claims;
    claims.key_id = "k1";
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", options, nullptr)) != -1) {
        switch (ch) {
        case opt_secret_file:
            secret_file = optarg;
            break;
        case opt_account:
            claims.account = optarg;
            break;
        case opt_device:
            claims.device = optarg;
            break;
        case opt_ttl:
            ttl_text = optarg;
            break;
        case opt_key_id:
            claims.key_id = optarg;
            break;
        case opt_format:
            format = optarg;
            break;
        default:
            return cli_usage;
        }
    }
    if (secret_file.empty() || claims.account.empty() || claims.device.empty()) {
        fprintf(stderr, "handoff token: --secret-file, --account and --device are required\n");
        return cli_usage;
    }
    if (format != "hf1" && format != "jwt") {
        fprintf(stderr, "handoff token: --format is hf1 or jwt\n");
        return cli_usage;
    }
    int64_t ttl_ms = 0;
    if (!hf_parse_duration(ttl_text.c_str(), &ttl_ms) || ttl_ms < 1000) {
        fprintf(stderr, "handoff token: --ttl wants a duration with a unit, like 30m, 24h or 7d\n");
        return cli_usage;
    }
    std::ifstream in(secret_file);
    if (!in) {
        fprintf(stderr, "handoff token: cannot read %s\n", secret_file.c_str());
        return cli_usage;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string secret = ss.str();
    // The daemon trims trailing whitespace the same way.
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' '))
        secret.pop_back();
    claims.issued_at_ms = hf_wall_ms();
    claims.expires_at = claims.issued_at_ms / 1000 + uint64_t(ttl_ms / 1000);
    std::string token;
    int rc = format == "jwt" ? hf_token_mint_jwt(&claims, secret, &token) : hf_token_mint(&claims, secret, &token);
    if (rc != HF_OK) {
        fprintf(stderr, "handoff token: account, device and key id must be 1-64 of A-Z a-z 0-9 . _ - @, "
                        "and the secret must not be empty\n");
        return cli_usage;
    }
    printf("%s\n", token.c_str());
    return cli_ok;
}
