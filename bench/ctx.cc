#include <event2/event.h>

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

std::string bench_token(const bench_ctx *ctx, const std::string &account, const std::string &device)
{
    hf_token_claims claims;
    claims.account = account;
    claims.device = device;
    claims.key_id = ctx->opt.key_id;
    claims.expires_at = uint64_t(time(nullptr)) + 86400;
    std::string token;
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
