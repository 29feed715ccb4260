// Shared by every module in this tree: each speaks exactly ABI version 1.
#pragma once
#include "handoff/module.h"

extern "C" int handoff_module_version(int count, const int *versions)
{
    for (int i = 0; i < count; i++)
        if (versions[i] == HF_MODULE_ABI_VERSION)
            return HF_MODULE_ABI_VERSION;
    return -1;
}
