/* libhandoff: what a device does, as a C API. See libhandoff(3).
 *
 * The client runs on a libevent event_base that the application owns and
 * drives (event_base_dispatch or its own loop). All callbacks run on that
 * loop; no threads are created. The client:
 *   1. asks an allocator (each configured one in turn) for server addresses;
 *   2. tries the addresses in the order given, the next on any failure;
 *   3. when all fail, backs off (exponential, full jitter, capped) and asks
 *      the allocators again;
 *   4. once connected, pings every granted interval; a ping unanswered
 *      within the ping timeout, a failed write or a GOAWAY closes the link
 *      and it moves on to the next address, resending every unacknowledged
 *      message with its original id (the server drops the duplicates). */
#ifndef HANDOFF_CLIENT_H
#define HANDOFF_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "handoff/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
typedef struct hf_client hf_client;

enum hf_client_state {
    HF_CLIENT_IDLE = 0,        /* created, not started */
    HF_CLIENT_ALLOCATING = 1,  /* asking an allocator for addresses */
    HF_CLIENT_CONNECTING = 2,  /* TLS + HELLO to one server address */
    HF_CLIENT_CONNECTED = 3,   /* WELCOME received; sending and receiving */
    HF_CLIENT_BACKING_OFF = 4, /* everything failed; waiting before asking again */
    HF_CLIENT_STOPPED = 5      /* stopped by the application, or refused for good (bad token) */
};

struct hf_client_options {
    const char *const *allocators; /* "host:port" of each allocator, tried in turn */
    size_t allocator_count;
    const char *ca_file;         /* PEM bundle to verify servers; NULL: the system's */
    const char *token;           /* device token (see handoff token) */
    uint32_t heartbeat_ms;       /* interval to ask for; 0: the server's choice */
    uint32_t connect_timeout_ms; /* per address: TCP + TLS + HELLO; 0: 5000 */
    uint32_t ping_timeout_ms;    /* PONG must come within; 0: 10000 (at most the interval) */
    uint32_t backoff_base_ms;    /* 0: 500, or the allocator's hint */
    uint32_t backoff_cap_ms;     /* 0: 30000, or the allocator's hint */
    const char *server_name;     /* name every server's certificate must carry; NULL: the host of each address */
};

struct hf_client_message {
    const char *from; /* sending device, NUL-terminated */
    uint64_t seq;     /* acknowledge with hf_client_ack(seq) */
    uint64_t id;      /* the sender's message id */
    const uint8_t *payload;
    size_t payload_len;
    uint64_t stored_at_ms; /* when the server took it, unix ms */
    /* Appended in libhandoff 0.3.0. A Web Push message (docs/push.md)
     * carries the app whose subscription it came through, and the payload
     * is the application server's aes128gcm body: hf_push_decrypt opens
     * it. NULL for a device's or a backend's message. */
    const char *app;
    int urgency; /* a push's Urgency, enum hf_urgency; HF_URGENCY_NORMAL otherwise */
    /* Appended in libhandoff 0.3.0: 1 if the payload has an end-to-end
     * message's form (docs/protocol.md, "End-to-end messages"): a hint;
     * only its verification with the sender's trusted keys says it is. */
    int e2e;
    /* Appended in libhandoff 0.4.0: 1 if the client opened the payload
     * with its key file (hf_client_use_keys) and payload is the
     * plaintext: a push for an app of the file, decrypted, or an
     * end-to-end message (e2e 1), verified against its sender's trusted
     * key and decrypted. */
    int opened;
};

struct hf_client_callbacks {
    /* Every state change, with a short reason ("connected to 127.0.0.1:7401"). */
    void (*on_state)(void *user, int state, const char *detail);
    /* A message arrived. Pointers are valid during the call only. The
     * message is redelivered until acknowledged (at-least-once). Once
     * acknowledged, a copy a server delivers again (the acknowledgement was
     * lost with a connection, or a second server sent it during a move) is
     * acknowledged by the client and not passed on; the newest 4096
     * acknowledged (from, id) pairs are remembered. */
    void (*on_message)(void *user, const struct hf_client_message *msg);
    /* The fate of hf_client_send's message: status is enum hf_send_status;
     * code and text explain a rejection (code is enum hf_err). */
    void (*on_send_result)(void *user, uint64_t id, int status, int code, const char *text);
    /* Answer to hf_client_ping: round trip in microseconds. */
    void (*on_pong)(void *user, uint64_t rtt_us);
    /* Optional trace of what the client is doing, one line at a time. */
    void (*on_trace)(void *user, const char *line);
};

/* Creates a client; copies what it needs from opts. NULL if opts are
 * invalid (no allocator, no token) or the CA file cannot be read. */
hf_client *hf_client_new(struct event_base *base, const struct hf_client_options *opts,
                         const struct hf_client_callbacks *callbacks, void *user);
/* Starts connecting. Returns 0. */
int hf_client_start(hf_client *c);
/* Queues a message to `to` (a device of the same account, or "*" for every
 * other device). ttl_s 0: the server's default; collapse NULL: none. The
 * message is kept and resent until a SEND_ACK answers it. Stores its id in
 * *id. Returns 0; -1 if stopped or `to` is empty; HF_ERR_PAYLOAD_TOO_LARGE
 * if len is over the max_payload the server announced (before any
 * WELCOME: the protocol's default); HF_ERR_BAD_TARGET if `to` is no
 * target. Such a message is never queued. */
int hf_client_send(hf_client *c, const char *to, const void *payload, size_t len, uint32_t ttl_s, const char *collapse,
                   uint64_t *id);
/* Acknowledges every message up to and including seq. Returns 0, or -1 if
 * not connected (the server will deliver them again; the copies of what
 * was delivered on the connection just lost are then not passed on). */
int hf_client_ack(hf_client *c, uint64_t seq);
/* Refuses the message seq, which the application cannot take (a payload it
 * cannot parse, say): every message before it is acknowledged, and the
 * server moves this one to the device's dead-letter list (it is not
 * delivered again; an operator lists, retries or purges it). code (nonzero,
 * an enum hf_err such as HF_ERR_BAD_FIELD) and text (may be NULL) say why.
 * Returns 0, or -1 as hf_client_ack does (the message then comes again). */
int hf_client_refuse(hf_client *c, uint64_t seq, int code, const char *text);
/* Measures a round trip; the answer comes to on_pong. -1 if not connected. */
int hf_client_ping(hf_client *c);
/* Closes the link and stops reconnecting. Unacknowledged sends are kept. */
void hf_client_stop(hf_client *c);
void hf_client_free(hf_client *c);
int hf_client_get_state(const hf_client *c);
/* Why the client failed last, when it is not a protocol code (enum hf_err,
 * from a server's or allocator's ERROR): the connection itself. */
enum hf_client_error {
    HF_CLIENT_ERR_CERTIFICATE = 100,   /* the certificate did not verify: ca_file is not the CA that signed it */
    HF_CLIENT_ERR_NAME_MISMATCH = 101, /* the certificate does not name the host (server_name?) */
    HF_CLIENT_ERR_REFUSED = 102,       /* connection refused: nothing listens at the address */
    HF_CLIENT_ERR_UNREACHABLE = 103,   /* no route to the host or network */
    HF_CLIENT_ERR_TIMED_OUT = 104,     /* no connection, answer or PONG in time */
    HF_CLIENT_ERR_RESET = 105,         /* the peer reset the connection */
    HF_CLIENT_ERR_CLOSED = 106,        /* the peer closed the connection */
    HF_CLIENT_ERR_TLS = 107,           /* another TLS failure */
    HF_CLIENT_ERR_BAD_FRAME = 108,     /* the peer sent a malformed frame */
    HF_CLIENT_ERR_OTHER = 109,         /* another socket error */
    /* Appended in libhandoff 0.4.0, for hf_client_send_e2e and the key
     * file (hf_client_use_keys): */
    HF_CLIENT_ERR_KEY_CHANGED = 110, /* a target's key changed since it was trusted: verify it first */
    HF_CLIENT_ERR_NO_KEYS = 111,     /* no target published keys, or the server relays none */
    HF_CLIENT_ERR_KEY_FILE = 112     /* the key file cannot be read or written, or is not one */
};
/* The last failure: its code (0: none yet; an enum hf_err or enum
 * hf_client_error) and, if text is not NULL, a sentence a person can act
 * on ("allocator 127.0.0.1:7400: connection refused"), valid until the
 * next call into the client. on_state's detail carries the same. */
int hf_client_last_error(const hf_client *c, const char **text);
/* Whether the client stops on this code instead of retrying (libhandoff(3)
 * lists them): a certificate that does not verify or name the host, and
 * bad_token, token_expired, unknown_key, revoked, unsupported_version. */
int hf_client_error_permanent(int code);
/* A code's stable name: hf_err_name's, or "certificate", "refused",
 * "key_changed", ... */
const char *hf_client_error_name(int code);
/* Presence (libhandoff(3), docs/protocol.md "Presence"): asks the server
 * which devices of the account are online. cb hears each device (device,
 * online 0 or 1, complete 0), then once (NULL, 0, complete 1): the answer
 * is whole. With follow, cb then hears every change (complete 0) as it
 * happens, and the client asks again after each reconnect; follow 0 stops
 * that. Returns 0; -1 if not connected, or if the server does not offer
 * presence (an older server). */
typedef void (*hf_client_presence_cb)(void *user, const char *device, int online, int complete);
int hf_client_presence(hf_client *c, int follow, hf_client_presence_cb cb);
/* Web Push subscriptions (docs/push.md, libhandoff(3)). With app, makes
 * that app's subscription (vapid_key: the application server's P-256
 * public key, 65 bytes, that must sign its pushes; NULL: any sender), or
 * with remove drops it; with app NULL, lists them. cb hears each
 * subscription (app, endpoint, vapid_key, complete 0), then once
 * (complete 1) with code 0, or why the server refused (code, an enum
 * hf_err, and text), or HF_ERR_DISCONNECTED if the connection ended
 * before the answer. The endpoint goes to the application server with the
 * device's own keys (hf_push_keys_new) as a PushSubscription. Returns 0;
 * -1 if not connected, if the server does not offer Web Push, or if a
 * request is already out. */
typedef void (*hf_client_subscription_cb)(void *user, const char *app, const char *endpoint, const uint8_t *vapid_key,
                                          size_t vapid_key_len, int complete, int code, const char *text);
int hf_client_subscribe(hf_client *c, const char *app, const uint8_t *vapid_key, size_t vapid_key_len, int remove,
                        hf_client_subscription_cb cb);
/* Wake routes (docs/wake.md): how the server wakes this device when a
 * message waits and the app is asleep. With route (JSON: {"webpush":
 * PushSubscriptionJSON}, {"fcm": {"token": ...}} or {"apns": {"token":
 * ..., "topic": ..., "environment": "production" | "development"}}), sets
 * this device's route of that provider; with drop_provider ("webpush",
 * "fcm" or "apns"), drops it; with neither, only asks. cb hears once: code
 * 0, or why the server refused (an enum hf_err, and text), or
 * HF_ERR_DISCONNECTED if the connection ended first; and the daemon's
 * VAPID key (65 bytes, NULL if it sends no Web Push wake-ups), the
 * applicationServerKey a push service subscription needs. Returns 0; -1
 * if not connected, if the server does not offer wake routes (WELCOME's
 * features lack HF_FEATURE_WAKE), or if a request is already out. */
typedef void (*hf_client_wake_cb)(void *user, int code, const char *text, const uint8_t *vapid_key,
                                  size_t vapid_key_len);
int hf_client_wake_route(hf_client *c, const char *route, const char *drop_provider, hf_client_wake_cb cb);
/* End-to-end keys (docs/protocol.md, "Device keys"): the device's public
 * keys, published with every HELLO: its P-256 ECDH key then its P-256
 * ECDSA key, 65 bytes each, uncompressed. Call before hf_client_start.
 * Returns 0, or -1 if len is not HF_DEVICE_KEYS_LEN. */
#define HF_DEVICE_KEYS_LEN 130
int hf_client_set_device_key(hf_client *c, const uint8_t *key, size_t len);
/* A peer's published keys, as the last presence answer gave them (the
 * server offers them when WELCOME's features have HF_FEATURE_KEYS):
 * copies HF_DEVICE_KEYS_LEN bytes to out and returns 0, or -1 if the
 * device published none. The server only relays keys: trust one on first
 * use and compare its fingerprint before trusting a changed one. */
int hf_client_device_key(const hf_client *c, const char *device, uint8_t out[HF_DEVICE_KEYS_LEN]);
/* This device's name, as the server's last WELCOME said it; "" before
 * any. */
const char *hf_client_device(const hf_client *c);
/* Web Push keys, made on the device and kept there (RFC 8291): a P-256
 * key pair for ECDH (the subscription's p256dh is public_key) and an auth
 * secret. Returns 0, or -1 if the random source fails. */
#define HF_PUSH_PRIVATE_KEY_LEN 32
#define HF_PUSH_PUBLIC_KEY_LEN 65
#define HF_PUSH_AUTH_LEN 16
int hf_push_keys_new(uint8_t private_key[HF_PUSH_PRIVATE_KEY_LEN], uint8_t public_key[HF_PUSH_PUBLIC_KEY_LEN],
                     uint8_t auth[HF_PUSH_AUTH_LEN]);
/* Decrypts a push's payload (an aes128gcm body, RFC 8188 and 8291) with
 * the device's keys. Returns 0 with *plaintext (malloc'd: free() it) and
 * *plaintext_len; -1 if it does not decrypt with these keys, and *why
 * (if not NULL) points at a static sentence. */
int hf_push_decrypt(const uint8_t private_key[HF_PUSH_PRIVATE_KEY_LEN],
                    const uint8_t public_key[HF_PUSH_PUBLIC_KEY_LEN], const uint8_t auth[HF_PUSH_AUTH_LEN],
                    const uint8_t *body, size_t body_len, uint8_t **plaintext, size_t *plaintext_len, const char **why);
/* End-to-end messages (libhandoff(3); docs/protocol.md, "End-to-end
 * messages"). The device's key file (JSON, mode 0600, the format of
 * handoff(1) --keys and of the JS client's PushKeys) holds its keys, each
 * Web Push app's auth secret and the keys of the account's other devices
 * as it trusts them; it is made, with new keys, if path does not exist.
 * Call before hf_client_start. From then on the client:
 *   - publishes the device's keys with every HELLO;
 *   - trusts a peer's key on first use, and keeps it in the file;
 *   - opens what arrives before on_message hears it (msg->opened): a
 *     push for an app of the file is decrypted; an end-to-end message is
 *     verified against its sender's trusted key and decrypted (while the
 *     sender's key is being read, it waits, and every message behind it
 *     too, so the order holds). One that does not open is refused to the
 *     dead letters (hf_client_refuse, HF_ERR_BAD_FIELD), told to
 *     hf_client_on_refused's cb, and a changed key to
 *     hf_client_on_key_change's;
 *   - applies another device's approval of a key (hf_client_approve_device)
 *     when the approving device is trusted: the key becomes verified;
 *   - keeps each app's auth secret and endpoint in the file when
 *     hf_client_subscribe makes or drops a subscription.
 * Returns 0; -1 if the file cannot be read or written, or is not a key
 * file (hf_client_last_error says why, with HF_CLIENT_ERR_KEY_FILE). */
int hf_client_use_keys(hf_client *c, const char *path);
/* A fingerprint as people compare it: the first 16 bytes of SHA-256 of
 * a device's published keys, as eight groups of four hex digits. */
#define HF_FINGERPRINT_SIZE 40 /* with its NUL */
/* This device's fingerprint; "" without a key file. */
const char *hf_client_fingerprint(const hf_client *c);
/* The fingerprint of the device whose key file is path (made, with new
 * keys, if it does not exist), without a client: for showing it before
 * connecting. Returns 0; -1 with why in err (err_len bytes at most). */
int hf_keys_fingerprint(const char *path, char fingerprint[HF_FINGERPRINT_SIZE], char *err, size_t err_len);
/* Where a peer's key stands against the key file. */
enum hf_key_state {
    HF_KEY_NONE = 0,     /* it published no key (never set up, or revoked) */
    HF_KEY_NEW = 1,      /* seen for the first time just now: trusted from now on */
    HF_KEY_TRUSTED = 2,  /* the key first seen (trust on first use) */
    HF_KEY_VERIFIED = 3, /* its fingerprint was compared, here or by an approving device */
    HF_KEY_CHANGED = 4   /* another key than the one trusted: refused until verified */
};
/* "none", "new", "trusted", "verified", "changed". */
const char *hf_key_state_name(int state);
/* device's published key (the last presence answer's) against the key
 * file: an enum hf_key_state, with its fingerprint copied to fingerprint
 * if not NULL ("" with none). A new key is trusted from now on and
 * written to the file. -1 without a key file. */
int hf_client_key_state(hf_client *c, const char *device, char fingerprint[HF_FINGERPRINT_SIZE]);
/* The user read fingerprint off device (its hf_client_fingerprint): if
 * device's published key (the last presence answer's) has it, the key
 * becomes verified in the key file, changed or not. Returns 0; -1 if it
 * does not (nothing changes), without a key file, or if the file cannot
 * be written. */
int hf_client_verify_device(hf_client *c, const char *device, const char *fingerprint);
/* As hf_client_verify_device, then tells every other device with keys of
 * the account: an end-to-end approval, signed by this device, naming
 * device and its key. A device that trusts this one takes the key as
 * verified (a reinstalled device is then accepted everywhere after one
 * comparison). The approvals are sent as hf_client_send_e2e's copies are;
 * on_send_result hears *id once. Returns 0, or -1 as
 * hf_client_verify_device does, or if not connected. */
int hf_client_approve_device(hf_client *c, const char *device, const char *fingerprint, uint64_t *id);
/* Sends payload end to end: reads the account's devices and their keys
 * (a presence answer; once connected, if not yet), then queues one copy
 * per target, each encrypted to its key and signed with this device's.
 * `to` is a device, or "*" for every other device that published keys
 * (one revoked has none: it gets nothing). on_send_result hears *id once:
 * HF_SEND_DELIVERED if every copy was delivered, HF_SEND_STORED if one
 * was stored, HF_SEND_REJECTED with the first refusal of a copy; or,
 * before any copy goes, HF_SEND_REJECTED with HF_CLIENT_ERR_KEY_CHANGED (a
 * target's key changed since it was trusted: the text names it and both
 * fingerprints; nothing was sent) or HF_CLIENT_ERR_NO_KEYS (the target,
 * or every other device, published none). Returns 0; -1 without a key
 * file or if stopped; otherwise as hf_client_send (a payload over
 * max_payload less HF_E2E_OVERHEAD is HF_ERR_PAYLOAD_TOO_LARGE). A
 * send to "*" that left out devices without keys says which in the
 * result's text. */
int hf_client_send_e2e(hf_client *c, const char *to, const void *payload, size_t len, uint32_t ttl_s,
                       const char *collapse, uint64_t *id);
/* Tells cb when a peer's published key is found changed (by a presence
 * answer read for an end-to-end send or message): its device and new
 * fingerprint. cb NULL: none. */
typedef void (*hf_client_key_change_cb)(void *user, const char *device, const char *fingerprint);
void hf_client_on_key_change(hf_client *c, hf_client_key_change_cb cb);
/* Tells cb of each message the key file did not open, and the client
 * refused to the dead letters: its sender (or "+app" for a push), id and
 * why. cb NULL: none (on_trace still says it). */
typedef void (*hf_client_refused_cb)(void *user, const char *from, uint64_t id, const char *why);
void hf_client_on_refused(hf_client *c, hf_client_refused_cb cb);
/* With a key file, app's Web Push keys as a PushSubscription carries them
 * (p256dh: the device's ECDH key; auth: the app's secret, made by
 * hf_client_subscribe). Returns 0, or -1 if the file has no such app. */
int hf_client_push_keys(const hf_client *c, const char *app, uint8_t p256dh[HF_PUSH_PUBLIC_KEY_LEN],
                        uint8_t auth[HF_PUSH_AUTH_LEN]);
/* Messages sent but not yet answered by a SEND_ACK. */
size_t hf_client_unacked(const hf_client *c);
const char *hf_client_state_name(int state);

#ifdef __cplusplus
}
#endif
#endif
