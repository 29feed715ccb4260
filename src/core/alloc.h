// The allocator role: answers ALLOC_REQ with an ordered list of connection
// servers. In this release the list is the standalone daemon's own device
// address; the multi-server allocator ranks registered servers.
#pragma once
#include "core/daemon.h"

struct hf_conn;

void hf_alloc_on_frame(hf_conn *c, const hf_msg *m);
