/* handoff wire protocol constants: message types, field tags, error codes.
 *
 * These numbers are stable: they travel on the wire and are specified in
 * docs/protocol.md and handoff-protocol(7). New values may be added; existing
 * ones never change meaning. */
#ifndef HANDOFF_PROTOCOL_H
#define HANDOFF_PROTOCOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HF_PROTOCOL_VERSION 1
#define HF_DEFAULT_MAX_FRAME (256u * 1024u)
/* What a DELIVER's other fields may take beside its payload: a SEND's
 * payload may be at most max_frame less this (WELCOME's max_payload), so
 * its DELIVER never exceeds the receiver's max_frame. */
#define HF_DELIVER_RESERVE 256u
/* What an end-to-end message's payload adds to its plaintext
 * (docs/protocol.md, "End-to-end messages"): "hfe" and its kind (4), the
 * signature (64) and RFC 8291's aes128gcm header, padding delimiter and
 * tag (86 + 1 + 16). */
#define HF_E2E_OVERHEAD 171u
/* Longest varint: 10 bytes carry 64 bits. */
#define HF_VARINT_MAX 10
/* type + flags + varint length. */
#define HF_FRAME_HEADER_MAX (2 + HF_VARINT_MAX)

/* Frame flags. Bits not listed here are reserved and must be zero. */
#define HF_FLAG_CRITICAL 0x01u /* receiver must know every tag in the body */
#define HF_FLAGS_KNOWN HF_FLAG_CRITICAL

enum hf_msg_type {
    HF_MSG_ALLOC_REQ = 1,
    HF_MSG_ALLOC_RESP = 2,
    HF_MSG_HELLO = 3,
    HF_MSG_WELCOME = 4,
    HF_MSG_PING = 5,
    HF_MSG_PONG = 6,
    HF_MSG_SEND = 7,
    HF_MSG_SEND_ACK = 8,
    HF_MSG_DELIVER = 9,
    HF_MSG_DELIVER_ACK = 10,
    HF_MSG_GOAWAY = 11,
    HF_MSG_ERROR = 12,
    HF_MSG_REGISTER = 13,
    HF_MSG_REGISTER_ACK = 14,
    HF_MSG_PRESENCE_REQ = 15, /* device -> server: the account's devices, and changes if `follow` */
    HF_MSG_PRESENCE = 16,     /* server -> device: one device's state, or the end of an answer */
    HF_MSG_SUBSCRIBE = 17,    /* device -> server: make, remove or list its Web Push subscriptions */
    HF_MSG_SUBSCRIPTION = 18, /* server -> device: one subscription, or the end of an answer */
    HF_MSG_WAKE = 19,         /* device -> server: set or drop its wake route of a provider, or ask */
    HF_MSG_WAKE_ACK = 20,     /* server -> device: the answer, with the daemon's VAPID key */
    HF_MSG_TYPE_MAX = 20
};

/* Field tags share one namespace across all message types: a tag means the
 * same thing and has the same kind wherever it appears. */
enum hf_tag {
    HF_TAG_TOKEN = 1,             /* string */
    HF_TAG_VERSION_MIN = 2,       /* uint */
    HF_TAG_VERSION_MAX = 3,       /* uint */
    HF_TAG_VERSION = 4,           /* uint */
    HF_TAG_ID = 5,                /* uint: client message id or ping nonce */
    HF_TAG_TO = 6,                /* string: device name or "*" */
    HF_TAG_FROM = 7,              /* string: sending device */
    HF_TAG_SEQ = 8,               /* uint: per-device queue sequence */
    HF_TAG_TTL = 9,               /* uint: seconds */
    HF_TAG_COLLAPSE = 10,         /* string */
    HF_TAG_PAYLOAD = 11,          /* bytes */
    HF_TAG_STATUS = 12,           /* uint: enum hf_send_status */
    HF_TAG_CODE = 13,             /* uint: enum hf_err */
    HF_TAG_TEXT = 14,             /* string */
    HF_TAG_HEARTBEAT_MS = 15,     /* uint */
    HF_TAG_TIMEOUT_MS = 16,       /* uint */
    HF_TAG_WINDOW = 17,           /* uint */
    HF_TAG_MAX_FRAME = 18,        /* uint */
    HF_TAG_ADDRESS = 19,          /* string, repeatable: host:port */
    HF_TAG_HEARTBEAT_MIN_MS = 20, /* uint */
    HF_TAG_HEARTBEAT_MAX_MS = 21, /* uint */
    HF_TAG_BACKOFF_BASE_MS = 22,  /* uint */
    HF_TAG_BACKOFF_CAP_MS = 23,   /* uint */
    HF_TAG_UPTO = 24,             /* uint */
    HF_TAG_STORED_AT_MS = 25,     /* uint: unix time in ms */
    HF_TAG_DELIVERED_COUNT = 26,  /* uint */
    HF_TAG_STORED_COUNT = 27,     /* uint */
    HF_TAG_REJECTED_COUNT = 28,   /* uint */
    HF_TAG_SERVER_ID = 29,        /* string */
    HF_TAG_KEY = 30,              /* string: shared registration key */
    HF_TAG_WEIGHT = 31,           /* uint */
    HF_TAG_LOAD = 32,             /* uint */
    HF_TAG_DRAINING = 33,         /* uint: 0 or 1 */
    HF_TAG_ACCOUNT = 34,          /* string */
    HF_TAG_DEVICE = 35,           /* string */
    HF_TAG_RETRY_MS = 36,         /* uint */
    HF_TAG_REFRESH_MS = 37,       /* uint */
    HF_TAG_MAX_PAYLOAD = 38,      /* uint */
    HF_TAG_FOLLOW = 39,           /* uint: 0 or 1 */
    HF_TAG_ONLINE = 40,           /* uint: 0 or 1 */
    HF_TAG_COUNT = 41,            /* uint */
    HF_TAG_FEATURES = 42,         /* uint: bit set of HF_FEATURE_* */
    HF_TAG_API = 43,              /* string: https:// URL of a server's HTTP API */
    HF_TAG_PEERS = 44,            /* string: the live servers, a line "server_id weight api" each */
    HF_TAG_STORE_FORMAT = 45,     /* string: REGISTER: the format of a store servers share ("handoff-redis 1") */
    HF_TAG_APP = 46,              /* string: the app a Web Push subscription (and its pushes) is for */
    HF_TAG_VAPID_KEY = 47,        /* bytes: an application server's P-256 public key, 65 bytes uncompressed */
    HF_TAG_ENDPOINT = 48,         /* string: a subscription's push resource, https:// URL */
    HF_TAG_URGENCY = 49,          /* uint: a push's Urgency, enum hf_urgency */
    HF_TAG_REMOVE = 50,           /* uint: 0 or 1 */
    HF_TAG_DEVICE_KEY = 51,       /* bytes: a device's public keys for end-to-end messages (ECDH, ECDSA; 130) */
    HF_TAG_E2E = 52,              /* uint: DELIVER: 1 if the payload has an end-to-end message's form */
    HF_TAG_ROUTE = 53,    /* string: WAKE: a wake route as JSON ({"webpush": ...}, {"fcm": ...}, {"apns": ...}) */
    HF_TAG_PROVIDER = 54, /* string: WAKE: the provider whose route goes (with remove) */
    HF_TAG_MAX = 54
};

/* What a server offers beyond version 1's core, in WELCOME's `features`. */
#define HF_FEATURE_PRESENCE 1u /* PRESENCE_REQ and PRESENCE */
#define HF_FEATURE_PUSH 2u     /* SUBSCRIBE and SUBSCRIPTION: Web Push subscriptions */
#define HF_FEATURE_KEYS 4u     /* HELLO's device_key is kept, and PRESENCE carries each device's */
#define HF_FEATURE_WAKE 8u     /* WAKE and WAKE_ACK: the device sets its own wake routes */

/* A push's Urgency (RFC 8030, section 5.3), in DELIVER's `urgency`. */
enum hf_urgency { HF_URGENCY_VERY_LOW = 0, HF_URGENCY_LOW = 1, HF_URGENCY_NORMAL = 2, HF_URGENCY_HIGH = 3 };

enum hf_send_status {
    HF_SEND_DELIVERED = 0, /* every target acknowledged it */
    HF_SEND_STORED = 1,    /* stored for every target not yet acknowledging */
    HF_SEND_REJECTED = 2   /* refused; HF_TAG_CODE says why; safe to resend */
};

/* Error codes: carried by ERROR frames and rejected SEND_ACKs. */
enum hf_err {
    HF_OK = 0,
    HF_ERR_BAD_FRAME = 1,
    HF_ERR_FRAME_TOO_LARGE = 2,
    HF_ERR_BAD_FIELD = 3,
    HF_ERR_MISSING_FIELD = 4,
    HF_ERR_DUPLICATE_FIELD = 5,
    HF_ERR_UNKNOWN_CRITICAL = 6,
    HF_ERR_UNEXPECTED_TYPE = 7,
    HF_ERR_UNSUPPORTED_VERSION = 8,
    HF_ERR_BAD_TOKEN = 9,
    HF_ERR_TOKEN_EXPIRED = 10,
    HF_ERR_UNKNOWN_KEY = 11,
    HF_ERR_FORBIDDEN = 12,
    HF_ERR_BAD_TARGET = 13,
    HF_ERR_NO_TARGET = 14,
    HF_ERR_QUEUE_FULL = 15,
    HF_ERR_STORE_FULL = 16,
    HF_ERR_STORE_UNAVAILABLE = 17,
    HF_ERR_TTL_TOO_LONG = 18,
    HF_ERR_RATE_LIMITED = 19,
    HF_ERR_TOO_MANY_CONNECTIONS = 20,
    HF_ERR_TIMEOUT = 21,
    HF_ERR_REPLACED = 22,
    HF_ERR_SHUTTING_DOWN = 23,
    HF_ERR_INTERNAL = 24,
    HF_ERR_BAD_ACK = 25,
    HF_ERR_TOO_MANY_FIELDS = 26,
    HF_ERR_AUTH_FAILED = 27,
    HF_ERR_NEED_MORE = 28,         /* decoder only: not enough bytes yet; never sent */
    HF_ERR_NO_SERVER = 29,         /* allocator has no live server to offer */
    HF_ERR_PAYLOAD_TOO_LARGE = 30, /* payload over the max_payload announced in WELCOME */
    HF_ERR_UNKNOWN_DEVICE = 31,    /* target never connected (delivery.unknown_devices = "reject") */
    HF_ERR_REVOKED = 32,           /* the device was revoked: its tokens are refused until it is restored */
    HF_ERR_DISCONNECTED = 33,      /* an operator cut the connection; the device may reconnect */
    HF_ERR_WRONG_SERVER = 34,      /* HELLO at a worker of a box that does not hold the account; ask the allocator */
    HF_ERR_ACCOUNT_FULL = 35,      /* the account's queues together hold limits.account_max_* */
    HF_ERR_TOO_MANY_SUBSCRIPTIONS = 36, /* the device holds push.max_subscriptions already */
    HF_ERR_MAX = 36
};

/* Stable short name of an error code ("queue_full"); "unknown" if none. */
const char *hf_err_name(int code);
/* One-line human explanation of an error code. */
const char *hf_err_text(int code);
/* Name of a message type ("SEND"); "UNKNOWN" if none. */
const char *hf_msg_type_name(int type);

#ifdef __cplusplus
}
#endif
#endif
