// A loaded module's ops table and the instance it opened, carried
// together: store(&hf_store_ops::ack, ...) calls ops->ack(instance, ...).
#pragma once
#include "handoff/module.h"

template <typename Ops>
struct hf_module_handle {
    const Ops *ops = nullptr;
    void *instance = nullptr;

    template <typename Op, typename... Args>
    auto operator()(Op Ops::*op, Args... args) const
    {
        return (ops->*op)(instance, args...);
    }
    // For the optional ops: those a module may leave null.
    template <typename Op>
    bool has(Op Ops::*op) const
    {
        return ops->*op != nullptr;
    }
};

using hf_store = hf_module_handle<hf_store_ops>;
using hf_heartbeat = hf_module_handle<hf_heartbeat_ops>;
