#include "handoff/protocol.h"

namespace
{

struct named_code {
    const char *name;
    const char *text;
};

// Indexed by enum hf_err.
const named_code err_names[HF_ERR_MAX + 1] = {
    {"ok", "no error"},
    {"bad_frame", "malformed frame"},
    {"frame_too_large", "frame larger than the peer's max_frame"},
    {"bad_field", "field value malformed or out of range"},
    {"missing_field", "required field missing"},
    {"duplicate_field", "field given twice"},
    {"unknown_critical", "unknown field in a critical frame"},
    {"unexpected_type", "message type not allowed here"},
    {"unsupported_version", "no protocol version in common"},
    {"bad_token", "token malformed or signature wrong"},
    {"token_expired", "token expired"},
    {"unknown_key", "token signed with an unknown key id"},
    {"forbidden", "target belongs to another account"},
    {"bad_target", "target is not a valid device name"},
    {"no_target", "account has no other device"},
    {"queue_full", "target device's queue is full"},
    {"store_full", "store is out of space"},
    {"store_unavailable", "store cannot be reached"},
    {"ttl_too_long", "ttl exceeds the server's ceiling"},
    {"rate_limited", "sending too fast"},
    {"too_many_connections", "connection limit reached"},
    {"timeout", "peer was silent too long"},
    {"replaced", "same device connected again elsewhere"},
    {"shutting_down", "server is shutting down"},
    {"internal", "internal server error"},
    {"bad_ack", "acknowledgement for a message not delivered"},
    {"too_many_fields", "too many fields in one frame"},
    {"auth_failed", "registration key refused"},
    {"need_more", "incomplete input"},
    {"no_server", "no connection server is available"},
    {"payload_too_large", "payload larger than the server's max_payload"},
    {"unknown_device", "the target device has never connected"},
    {"revoked", "the device was revoked; a token minted after it is restored is needed"},
    {"disconnected", "an operator disconnected the device"},
    {"wrong_server", "this server does not hold the account; ask the allocator"},
    {"account_full", "the target's account holds as much as its quota allows"},
    {"too_many_subscriptions", "the device holds as many push subscriptions as push.max_subscriptions allows"},
};

const char *type_names[HF_MSG_TYPE_MAX + 1] = {
    "UNKNOWN",      "ALLOC_REQ",    "ALLOC_RESP", "HELLO",       "WELCOME",      "PING",  "PONG",
    "SEND",         "SEND_ACK",     "DELIVER",    "DELIVER_ACK", "GOAWAY",       "ERROR", "REGISTER",
    "REGISTER_ACK", "PRESENCE_REQ", "PRESENCE",   "SUBSCRIBE",   "SUBSCRIPTION", "WAKE",  "WAKE_ACK",
};

} // namespace

const char *hf_err_name(int code)
{
    return code >= 0 && code <= HF_ERR_MAX ? err_names[code].name : "unknown";
}

const char *hf_err_text(int code)
{
    return code >= 0 && code <= HF_ERR_MAX ? err_names[code].text : "unknown error";
}

const char *hf_msg_type_name(int type)
{
    return type > 0 && type <= HF_MSG_TYPE_MAX ? type_names[type] : type_names[0];
}
