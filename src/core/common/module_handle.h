// A loaded module's ops table and the instance it opened, carried
// together: store(&hf_store_ops::ack, ...) calls ops->ack(instance, ...).
#pragma once
#include <cstddef>

#include "handoff/module.h"

// Whether a module's ops table reaches op and sets it: a table built
// against an older header ends before the ops appended since (module.h,
// "Compatibility within version 1"). Only the member's place is taken
// from the table before its size says the member is there.
template <typename Ops, typename Op>
bool hf_ops_has(const Ops *ops, Op Ops::*op)
{
    const char *member = reinterpret_cast<const char *>(&(ops->*op));
    size_t end = size_t(member - reinterpret_cast<const char *>(ops)) + sizeof(Op);
    return ops->size >= end && ops->*op != nullptr;
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
