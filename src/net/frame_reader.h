// Taking whole frames off a libevent input buffer, for the daemon's
// connections and for the outgoing links alike.
#pragma once
#include <event2/buffer.h>

#include <string>

#include "proto/msg.h"

// The frame at the head of in, decoded into *m. HF_OK: *frame_len is its
// size, to drain once *m (which points into in) is used. HF_ERR_NEED_MORE:
// not all of it is there yet. Any other code: the frame is bad, and *why
// says how ("frame body of N bytes exceeds max_frame M", "SEND: ...").
int hf_frame_next(evbuffer *in, const hf_decode_limits *limits, hf_msg *m, size_t *frame_len, std::string *why);
