#include <event2/event.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>

#include "bench/bench.h"
#include "core/allocator/rendezvous.h"
#include "proto/token.h"
#include "proto/clock.h"

const char *bench_next_source(bench_ctx *ctx)
{
    if (ctx->opt.sources.empty())
        return nullptr;
    return ctx->opt.sources[ctx->next_source++ % ctx->opt.sources.size()].c_str();
}

std::string bench_account(const bench_ctx *ctx, const std::string &base)
{
    if (ctx->opt.workers <= 0)
        return base;
    for (int n = 1;; n++) {
        std::string name = base + "." + std::to_string(n);
        if (hf_rendezvous_worker(name, "w", ctx->opt.workers) == ctx->opt.worker)
            return name;
    }
}

namespace
{

// An ES256 JWT: the signing input signed with the P-256 key, its DER
// signature turned into JWS's r and s of 32 bytes each.
std::string es256_token(EVP_PKEY *key, const hf_token_claims &claims)
{
    std::string token;
    hf_token_jwt_signing_input(&claims, "ES256", &token);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t len = sizeof der;
    bool signed_ok =
        EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestSign(md, der, &len, reinterpret_cast<const unsigned char *>(token.data()), token.size()) == 1;
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *sig = signed_ok ? d2i_ECDSA_SIG(nullptr, &p, long(len)) : nullptr;
    if (!sig)
        return "";
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    token.push_back('.');
    hf_base64url_encode(std::string_view(reinterpret_cast<const char *>(raw), sizeof raw), &token);
    return token;
}

} // namespace

bool bench_token_setup(bench_ctx *ctx)
{
    const std::string &format = ctx->opt.token_format;
    if (format != "hf1" && format != "jwt" && format != "es256") {
        fprintf(stderr, "handoff-bench: --token-format is hf1, jwt or es256\n");
        return false;
    }
    if ((format == "es256") != !ctx->opt.token_key.empty()) {
        fprintf(stderr, "handoff-bench: --token-key goes with --token-format es256, and only with it\n");
        return false;
    }
    if (format != "es256")
        return true;
    FILE *f = fopen(ctx->opt.token_key.c_str(), "r");
    ctx->token_key = f ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr;
    if (f)
        fclose(f);
    if (!ctx->token_key)
        fprintf(stderr, "handoff-bench: --token-key %s holds no PEM private key\n", ctx->opt.token_key.c_str());
    return ctx->token_key != nullptr;
}

std::string bench_token(const bench_ctx *ctx, const std::string &account, const std::string &device)
{
    hf_token_claims claims;
    claims.account = account;
    claims.device = device;
    claims.key_id = ctx->opt.key_id;
    claims.expires_at = uint64_t(time(nullptr)) + 86400;
    std::string token;
    if (ctx->opt.token_format == "es256")
        return es256_token(ctx->token_key, claims);
    if (ctx->opt.token_format == "jwt")
        hf_token_mint_jwt(&claims, ctx->secret, &token);
    else
        hf_token_mint(&claims, ctx->secret, &token);
    return token;
}

namespace
{

struct waiter {
    bool (*done)(void *);
    void *arg;
    bench_ctx *ctx;
};

void check(evutil_socket_t, short, void *p)
{
    auto *w = static_cast<waiter *>(p);
    if (w->done(w->arg))
        event_base_loopbreak(w->ctx->base);
}

void give_up(evutil_socket_t, short, void *base)
{
    event_base_loopbreak(static_cast<event_base *>(base));
}

} // namespace

// The time limit is an event of this call's own, freed with it: a
// loopexit would stay armed after a run that ended early and cut the next
// run short (a soak stopped at the connect's 120 s).
bool bench_run_until(bench_ctx *ctx, bool (*done)(void *), void *arg, double timeout_s)
{
    if (done(arg))
        return true;
    waiter w{done, arg, ctx};
    event *tick = event_new(ctx->base, -1, EV_PERSIST, check, &w);
    timeval every = {0, 10000};
    event_add(tick, &every);
    event *limit = event_new(ctx->base, -1, 0, give_up, ctx->base);
    timeval after = hf_timeval_s(timeout_s);
    event_add(limit, &after);
    event_base_dispatch(ctx->base);
    event_free(limit);
    event_free(tick);
    return done(arg);
}
