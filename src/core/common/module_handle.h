// A loaded module's ops table and the instance it opened, carried
// together: store(&hf_store_ops::ack, ...) calls ops->ack(instance, ...).
#pragma once
#include <cstddef>

#include "handoff/module.h"

// Whether a module's ops table reaches member: a table built against an
// older header ends before the members appended since (module.h,
// "Compatibility within version 1"). Only the member's place is taken
// from the table, not its value.
template <typename Ops, typename Member>
bool hf_ops_reach(const Ops *ops, Member Ops::*member)
{
    const char *at = reinterpret_cast<const char *>(&(ops->*member));
    return ops->size >= size_t(at - reinterpret_cast<const char *>(ops)) + sizeof(Member);
}

// Whether a module's table reaches the optional op and sets it.
template <typename Ops, typename Op>
bool hf_ops_has(const Ops *ops, Op Ops::*op)
{
    return hf_ops_reach(ops, op) && ops->*op != nullptr;
}

template <typename Ops>
struct hf_module_handle {
    const Ops *ops = nullptr;
    void *instance = nullptr;

    template <typename Op, typename... Args>
    auto operator()(Op Ops::*op, Args... args) const
    {
        return (ops->*op)(instance, args...);
    }
    // For the optional ops: those a module may leave null, or predate.
    template <typename Op>
    bool has(Op Ops::*op) const
    {
        return hf_ops_has(ops, op);
    }
};

using hf_store = hf_module_handle<hf_store_ops>;
using hf_heartbeat = hf_module_handle<hf_heartbeat_ops>;
