// A module built for an ABI version the daemon does not speak, to test
// that the loader refuses it with a clear line.
#include "handoff/module.h"

extern "C" int handoff_module_version(int, const int *)
{
    return 99;
}

extern "C" int handoff_module_init(const hf_host_api *, hf_module_info *info)
{
    info->abi_version = 99;
    info->kind = HF_MODULE_STORE;
    info->name = "badabi";
    return 0;
}
