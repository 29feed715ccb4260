// Building the messages the daemon and the client send: each builder sets
// the fields and marks them present, so no caller writes hf_msg_set runs.
#pragma once
#include <string_view>

#include "proto/msg.h"

// ERROR(code, text).
hf_msg hf_msg_error(int code, std::string_view text);

// GOAWAY(code, text): go elsewhere (hf_msg_add_addresses says where).
hf_msg hf_msg_goaway(int code, std::string_view text);

// DELIVER of a stored message; collapse empty: none.
hf_msg hf_msg_deliver(uint64_t seq, std::string_view from, std::string_view payload, uint64_t stored_at_ms, uint64_t id,
                      std::string_view collapse);

// SEND_ACK(id, status); the hf_msg_add_ calls below add its other fields.
hf_msg hf_msg_send_ack(uint64_t id, hf_send_status status);

// code and text: why it was refused, or what went wrong.
void hf_msg_add_reason(hf_msg *m, int code, std::string_view text);

// retry_ms: when to try again.
void hf_msg_add_retry(hf_msg *m, uint64_t retry_ms);

// A SEND_ACK's per-target outcome counts.
void hf_msg_add_counts(hf_msg *m, uint64_t delivered, uint64_t stored, uint64_t rejected);

// backoff_base_ms and backoff_cap_ms: how a fleet paces its reconnects.
void hf_msg_add_backoff(hf_msg *m, uint64_t base_ms, uint64_t cap_ms);

// The addresses (at most HF_MAX_ADDRESSES of them), in order; none: no field.
void hf_msg_add_addresses(hf_msg *m, const std::string *addresses, size_t count);
