/* handoff module ABI, version 1.
 *
 * A module is a shared object loaded with dlopen. The host calls, in order:
 *
 *   int handoff_module_version(int count, const int *versions);
 *       `versions` lists the ABI versions the host speaks. The module returns
 *       the one it picks, or -1 if it speaks none of them.
 *   int handoff_module_init(const struct hf_host_api *host, struct hf_module_info *info);
 *       The module fills `info` (kind, name, settings table, ops table) and
 *       returns 0. `info->abi_version` must be the version it picked.
 *
 * The host refuses a module whose version it does not speak, with a log line
 * naming both. Modules reach the daemon only through `hf_host_api`; they
 * never touch its internals. All callbacks run on the daemon's one reactor
 * thread: a module may call back synchronously or later, never from another
 * thread. A module may run work of its own on a thread (store_lmdb waits for
 * fsync on one) as long as its callbacks and host calls stay on the reactor.
 *
 * Compatibility within version 1: the tables only grow, at their ends, and
 * every member added after handoffd 0.1.0 is optional.
 * - An ops table says its size (`size`, as the module was built). The host
 *   uses an op only when the module's table reaches it and sets it, and
 *   refuses a table smaller than 0.1.0's (HF_STORE_OPS_V1_0_SIZE,
 *   HF_HEARTBEAT_OPS_V1_0_SIZE). So a module built against 0.1.0's header
 *   loads as it is into any later handoffd that speaks version 1
 *   (test/modules/hb_v1_0.c, built against that header, is loaded by
 *   01_connect).
 * - The host's table (hf_host_api) has no size: each member appended to it
 *   says the first handoffd that fills it in, and a module that calls one
 *   needs that handoffd or a later one.
 * - A change that is not an addition at an end is a new version. */
#ifndef HANDOFF_MODULE_H
#define HANDOFF_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HF_MODULE_ABI_VERSION 1

struct event_base;

enum hf_module_kind { HF_MODULE_STORE = 1, HF_MODULE_HEARTBEAT = 2 };

enum hf_log_level { HF_LOG_ERROR = 0, HF_LOG_WARNING = 1, HF_LOG_INFO = 2, HF_LOG_DEBUG = 3 };

/* A module's own config keys, parsed and checked by the host from the
 * module's group in handoffd.conf, and handed to the module already
 * resolved, in table order. */
enum hf_setting_type {
    HF_SETTING_INT = 1,      /* integer within [min, max] */
    HF_SETTING_DURATION = 2, /* string with unit ("250ms", "30s", "5m", "2h"); value in ms */
    HF_SETTING_SIZE = 3,     /* integer bytes or string with unit ("64k", "1m", "2g") */
    HF_SETTING_STRING = 4,
    HF_SETTING_BOOL = 5
};

struct hf_setting_spec {
    const char *name;
    int type;                  /* enum hf_setting_type */
    const char *default_value; /* as it would be written in the config */
    int64_t min, max;          /* bounds for INT, DURATION (ms) and SIZE */
    const char *help;          /* one line for handoffd.conf(5) */
};

struct hf_setting_value {
    int64_t number;     /* INT, DURATION (ms), SIZE (bytes), BOOL (0/1) */
    const char *string; /* STRING; owned by the host, valid while loaded */
};

struct hf_host_api {
    uint32_t abi_version;
    void *host; /* pass back as the first argument below */
    void (*log)(void *host, int level, const char *module, const char *fmt, ...)
#ifdef __GNUC__
        __attribute__((format(printf, 4, 5)))
#endif
        ;
    struct event_base *(*event_base)(void *host);
    uint64_t (*now_ms)(void *host); /* wall clock, unix ms */
    /* A store calls this when another server announces new data for a
     * device (see hf_store_ops.notify); with account and device NULL, when
     * such announcements may have been missed (a notification connection
     * that was down), and the host reads every device it holds again
     * (handoffd 0.2.0 and later). */
    void (*data_ready)(void *host, const char *account, const char *device);
    /* Optional for a store whose enqueue completes only once durable (a
     * batched sync): as soon as an enqueued message has its seq and
     * fetches see it, the store may say so, passing the enqueue's callback
     * argument. The host then counts the target's acknowledgement as
     * delivery at once; the enqueue's callback must still follow. Returns
     * nonzero when the sender's answer waits for that callback (the target
     * is not connected here), so the store should sync without delay. */
    int (*enqueue_applied)(void *host, void *enqueue_arg, uint64_t seq);
    /* A store calls this when another server asks this one to cut a
     * device's connection (see hf_store_ops.kick), with the error code
     * (protocol.h) the device is told. */
    void (*kick)(void *host, const char *account, const char *device, int code);
    /* A store calls this when another server says a device of an account
     * this server watches (hf_store_ops.watch) came online or left. */
    void (*presence_changed)(void *host, const char *account, const char *device, int online);
    /* A store calls this when it cannot go on without losing what it
     * acknowledged: a sync failed, so what the disk holds is unknown (the
     * kernel may have dropped the pages and will not say so again). The
     * store answers every write from then on HF_STORE_UNAVAILABLE; the host
     * logs why, stops and exits non-zero (status 74), so that a restart
     * reads again what is really on disk. Appended to ABI 1: a module that
     * calls it needs a host that fills it in (handoffd 0.2.0 and later). */
    void (*fatal)(void *host, const char *module, const char *why);
};

/* ---- store modules ---------------------------------------------------- */

enum hf_store_status {
    HF_STORE_OK = 0,
    HF_STORE_DUPLICATE = 1,   /* enqueue: (from, msg_id) already taken; seq is 0 or the original's */
    HF_STORE_QUEUE_FULL = 2,  /* per-device quota reached */
    HF_STORE_FULL = 3,        /* store out of space */
    HF_STORE_UNAVAILABLE = 4, /* backend unreachable; nothing was changed */
    HF_STORE_ERROR = 5,
    /* fetch: the next stored message does not decode (written by a newer
     * format, or damaged). The device's queue stops there; nothing is
     * deleted, and what came before it was returned by earlier fetches. */
    HF_STORE_UNDECODABLE = 6,
    /* enqueue: the account's quota (hf_store_params.account_max_*) is
     * reached: every queue of the account together holds that much.
     * Appended to ABI 1 (handoffd 0.2.0). */
    HF_STORE_ACCOUNT_FULL = 7,
    /* ack_sent: the store holds another message as a seq the device was
     * sent (its seqs forked), or none where it has numbered no such seq.
     * Appended to ABI 1 (handoffd 0.2.0). */
    HF_STORE_FORKED = 8,
    /* presence_refresh: the device's presence is another server's: it
     * connected there since. Appended to ABI 1 (handoffd 0.2.0). */
    HF_STORE_ELSEWHERE = 9
};

/* Limits every store honours, set by the host from its own config. */
struct hf_store_params {
    uint64_t queue_max_messages; /* per device */
    uint64_t queue_max_bytes;    /* per device, payload bytes */
    uint64_t dedup_window_ms;    /* how long a (device, from) pair's ids are remembered after its last message */
    const char *server_id;       /* this server's name (channels, presence) */
    /* How many of a sender's newest ids to one device are told apart from
     * resends: a power of two, at least 64. Stores keep a record of this
     * many bits per (device, from) pair, never one per message; see
     * docs/protocol.md, "Resends", for the rules. */
    uint64_t dedup_ids;
    /* Appended to ABI 1 (handoffd 0.2.0; a module that reads them needs
     * that host or a later one): what every queue of one account (its
     * devices' and their dead letters') may hold together, in messages
     * and payload bytes; an enqueue past either is answered
     * HF_STORE_ACCOUNT_FULL. A module whose ops table ends before
     * queued_devices does not enforce them, and the host says so. */
    uint64_t account_max_messages;
    uint64_t account_max_bytes;
};

struct hf_store_enqueue_req {
    const char *account;
    const char *device;       /* target device */
    const char *from;         /* sending device */
    uint64_t msg_id;          /* sender's id; (device, from, msg_id) is unique */
    const char *collapse_key; /* NULL for none */
    const uint8_t *payload;
    size_t payload_len;
    uint64_t stored_at_ms;
    uint64_t expires_at_ms;
};

/* A message as the host sent it to a device: its seq, sender and id
 * (hf_store_ops.ack_sent). */
struct hf_store_sent {
    uint64_t seq;
    const char *from;
    uint64_t msg_id;
};

struct hf_store_msg {
    uint64_t seq;
    const char *from;
    uint64_t msg_id;
    const char *collapse_key; /* NULL for none */
    const uint8_t *payload;
    size_t payload_len;
    uint64_t stored_at_ms;
    uint64_t expires_at_ms;
};

/* Completion callbacks. Pointers inside results are valid only during the
 * callback. `acked` (enqueue): for a duplicate, whether the original is
 * known to be acknowledged by the target (0 when the store cannot tell). */
typedef void (*hf_store_enqueue_cb)(void *arg, int status, uint64_t seq, int acked);
typedef void (*hf_store_fetch_cb)(void *arg, int status, const struct hf_store_msg *msgs, size_t count);
typedef void (*hf_store_done_cb)(void *arg, int status);
typedef void (*hf_store_devices_cb)(void *arg, int status, const char *const *devices, size_t count);
typedef void (*hf_store_each_device_cb)(void *arg, int status, const char *const *accounts, const char *const *devices,
                                        size_t count);
typedef void (*hf_store_presence_cb)(void *arg, int status, const char *server_id);

/* A small named value a device keeps with its server, such as a Web Push
 * subscription ("push:<app>"): hf_store_ops.record_put and records. The
 * host owns the names and the values' format; the store keeps bytes. */
struct hf_store_record {
    const char *name;
    const uint8_t *value;
    size_t value_len;
};
typedef void (*hf_store_records_cb)(void *arg, int status, const struct hf_store_record *records, size_t count);

/* What a store knows of one device (hf_store_ops.device_state). */
struct hf_store_device_state {
    const char *server_id;       /* the server holding it (as presence says), NULL when offline */
    uint64_t connected_since_ms; /* unix ms, while online; 0 when not known */
    uint64_t last_seen_ms;       /* when it last left, unix ms; 0 when not known */
    uint64_t queue_messages;     /* what its queue holds */
    uint64_t queue_bytes;        /* payload bytes */
    uint64_t not_before_ms;      /* tokens issued before this are refused; 0: none */
    int revoked;                 /* nonzero: every token is refused until it is restored */
};
typedef void (*hf_store_state_cb)(void *arg, int status, const struct hf_store_device_state *state);

struct hf_store_ops {
    size_t size; /* sizeof(struct hf_store_ops) as the module was built */
    int (*open)(const struct hf_host_api *host, const struct hf_store_params *params,
                const struct hf_setting_value *settings, void **store, char *err, size_t err_len);
    void (*close)(void *store);
    /* Appends to the device's queue with the next sequence number; with a
     * collapse key, first removes an unacknowledged message of that key. */
    void (*enqueue)(void *store, const struct hf_store_enqueue_req *req, hf_store_enqueue_cb cb, void *arg);
    /* Up to max_count messages with seq > after_seq, oldest first, skipping
     * (and dropping) those expired at now_ms; max_bytes bounds the payload
     * total but the first message is always returned. */
    void (*fetch)(void *store, const char *account, const char *device, uint64_t after_seq, uint32_t max_count,
                  uint64_t max_bytes, uint64_t now_ms, hf_store_fetch_cb cb, void *arg);
    /* Drops every message of the device with seq <= upto_seq. */
    void (*ack)(void *store, const char *account, const char *device, uint64_t upto_seq, hf_store_done_cb cb,
                void *arg);
    /* Records that a device belongs to an account (on every HELLO). */
    void (*add_device)(void *store, const char *account, const char *device, hf_store_done_cb cb, void *arg);
    void (*list_devices)(void *store, const char *account, hf_store_devices_cb cb, void *arg);
    /* Drops every message expired at now_ms; reports how many. */
    void (*expire)(void *store, uint64_t now_ms, void (*cb)(void *arg, int status, uint64_t expired), void *arg);
    /* Presence, for stores shared by several servers. */
    void (*presence_set)(void *store, const char *account, const char *device, const char *server_id, uint64_t ttl_ms,
                         hf_store_done_cb cb, void *arg);
    void (*presence_clear)(void *store, const char *account, const char *device, const char *server_id,
                           hf_store_done_cb cb, void *arg);
    void (*presence_lookup)(void *store, const char *account, const char *device, hf_store_presence_cb cb, void *arg);
    /* Tells server_id that the device has new data; that server's store
     * instance calls host->data_ready. */
    void (*notify)(void *store, const char *server_id, const char *account, const char *device);
    /* Optional (NULL, or absent in a module whose `size` ends before it):
     * how many messages the store holds for every device together, for the
     * queue-depth metric. A networked store may answer later. */
    void (*depth)(void *store, void (*cb)(void *arg, int status, uint64_t messages), void *arg);
    /* Optional, like depth: the bytes the store uses for everything it
     * keeps (queues, indexes, de-duplication) and the most it may use (0:
     * no limit it knows of), for the store-size metrics. */
    void (*usage)(void *store, void (*cb)(void *arg, int status, uint64_t used_bytes, uint64_t capacity_bytes),
                  void *arg);
    /* Optional, like depth (the HTTP API's revoke, restore and device list
     * need all three). The device's presence, queue and revocation. */
    void (*device_state)(void *store, const char *account, const char *device, hf_store_state_cb cb, void *arg);
    /* Records a revocation, durably: tokens of the device issued before
     * not_before_ms are refused, and with `revoked` every token is. */
    void (*set_revocation)(void *store, const char *account, const char *device, uint64_t not_before_ms, int revoked,
                           hf_store_done_cb cb, void *arg);
    /* Asks server_id to cut the device's connection with ERROR code; that
     * server's store instance calls host->kick. */
    void (*kick)(void *store, const char *server_id, const char *account, const char *device, int code);
    /* Optional, for stores shared by several servers: server_id follows
     * the account's presence for ttl_ms (renewed by calling again). When
     * presence_set makes a device of it online on another server, or
     * presence_clear takes it off, the store tells every such server
     * (host->presence_changed there). */
    void (*watch)(void *store, const char *account, const char *server_id, uint64_t ttl_ms, hf_store_done_cb cb,
                  void *arg);
    /* Optional: only the device's revocation (set_revocation's values; 0, 0
     * for none), read on every HELLO: cheaper than device_state. */
    void (*revocation)(void *store, const char *account, const char *device,
                       void (*cb)(void *arg, int status, uint64_t not_before_ms, int revoked), void *arg);
    /* Optional, for a store each worker of a box has to itself, whose
     * accounts move when `workers` changes: up to max (account, device)
     * pairs the store holds anything for, in the store's order, after the
     * pair (after_account, after_device) ("", "": from the first). Fewer
     * than max: there are no more. */
    void (*each_device)(void *store, const char *after_account, const char *after_device, uint32_t max,
                        hf_store_each_device_cb cb, void *arg);
    /* Optional, with each_device: moves everything the store holds for the
     * device (its record and revocation, its queue with its seqs, collapse
     * keys and de-duplication records) into `into`, an open instance of
     * the same module, replacing what `into` held for it; once that is
     * durable there, drops it here. Done again after a crash, it moves
     * what is still here. */
    void (*move_device)(void *store, void *into, const char *account, const char *device, hf_store_done_cb cb,
                        void *arg);
    /* Optional: the module's own rules on its settings (a value out of a
     * list, two settings that must agree), checked without opening
     * anything: by handoffd -t and before a start binds a port, so that a
     * mistake is a config error (exit 78). 0, or -1 with err. open() may
     * call it itself. */
    int (*check)(const struct hf_setting_value *settings, char *err, size_t err_len);
    /* Optional: 0 when the store can acknowledge writes as things stand,
     * else -1 with why (say a Redis Cluster whose slots have fewer
     * replicas than store.replicas asks). Answers at once from what the
     * store already knows; the host's readiness (/readyz) asks it. A store
     * that does not answer at all is found by the host's own probe. */
    int (*health)(void *store, char *why, size_t why_len);
    /* What the store is, so that the host names no store (0, or a table
     * that ends before it: neither). HF_STORE_SHARED: one store every
     * server and worker reads and writes (Redis): any of them takes any
     * account's messages, and nothing moves between them.
     * HF_STORE_FOLDERS: it keeps its data in files under its `path`
     * setting, a folder of each worker's (path/worker-k; path itself for
     * one process), and moves devices between folders with each_device
     * and move_device when `workers` changes; the host locks the folder
     * against a second daemon and removes a folder it emptied. */
    uint32_t traits;
    /* Optional (handoffd 0.2.0): the account's devices whose queue holds
     * anything, in any order, the dead letters' queues among them; a
     * device that never connected (no add_device) is listed too. With
     * it, the store enforces params.account_max_*. */
    void (*queued_devices)(void *store, const char *account, hf_store_devices_cb cb, void *arg);
    /* Optional (handoffd 0.2.0), for a store whose seqs can fork: a Redis
     * primary cut off from the others numbers on for a while, and the
     * replica promoted in its place numbers the same seqs with other
     * messages. As ack, but a message goes only if it is the one the host
     * sent as its seq: `sent` lists, ascending, the messages up to upto_seq
     * the device was sent since the last ack (a seq not listed goes as ack
     * drops it). At the first listed seq whose stored message has another
     * sender or id, or that the store has not numbered, it drops only the
     * seqs before it and answers HF_STORE_FORKED with that seq (forked_seq;
     * 0 otherwise). The host then has the device fetch again from there. */
    void (*ack_sent)(void *store, const char *account, const char *device, uint64_t upto_seq,
                     const struct hf_store_sent *sent, size_t count,
                     void (*cb)(void *arg, int status, uint64_t forked_seq), void *arg);
    /* Optional (handoffd 0.2.0), for a store servers share: what this
     * module writes it as, "<kind> <version>" ("handoff-redis 1"). A
     * server registers it, and an allocator refuses a server whose format
     * is of a live server's kind but another version. */
    const char *(*format)(void *store);
    /* Optional (handoffd 0.2.0), for a store servers share: as
     * presence_set, but only while the device's presence is server_id's
     * or has lapsed. HF_STORE_ELSEWHERE if another server's: the device
     * connected there since (an arrival's presence_set took it), and this
     * server's connection to it is stale. With HF_STORE_OK, lapsed is
     * nonzero if it had lapsed and was taken again: what was announced
     * for the device meanwhile went to no server. */
    void (*presence_refresh)(void *store, const char *account, const char *device, const char *server_id,
                             uint64_t ttl_ms, void (*cb)(void *arg, int status, int lapsed), void *arg);
    /* Optional (handoffd 0.3.0; Web Push needs both): sets the device's
     * record `name` to value, durably before cb, or with value NULL
     * removes it. A device's records move with it (move_device). */
    void (*record_put)(void *store, const char *account, const char *device, const char *name, const uint8_t *value,
                       size_t value_len, hf_store_done_cb cb, void *arg);
    /* Every record of the device, in name order. */
    void (*records)(void *store, const char *account, const char *device, hf_store_records_cb cb, void *arg);
};

#define HF_STORE_SHARED 1u
#define HF_STORE_FOLDERS 2u

/* ---- heartbeat policy modules ------------------------------------------ */

struct hf_heartbeat_ops {
    size_t size; /* sizeof(struct hf_heartbeat_ops) as the module was built */
    int (*open)(const struct hf_host_api *host, const struct hf_setting_value *settings, void **policy, char *err,
                size_t err_len);
    void (*close)(void *policy);
    /* Grants an interval for a device that asked for requested_ms (0: no
     * preference) and says how long the server waits before dropping it. */
    void (*negotiate)(void *policy, uint64_t requested_ms, uint64_t *granted_ms, uint64_t *timeout_ms);
    /* Optional (may be NULL): a PING arrived / a connection timed out. */
    void (*on_ping)(void *policy, uint64_t granted_ms);
    void (*on_timeout)(void *policy, uint64_t granted_ms);
    /* Optional (may be NULL for a fixed interval): the range a device may
     * probe within; sent in WELCOME so adaptive clients know it. */
    void (*bounds)(void *policy, uint64_t *min_ms, uint64_t *max_ms);
    /* Optional: as hf_store_ops.check. */
    int (*check)(const struct hf_setting_value *settings, char *err, size_t err_len);
};

/* Where handoffd 0.1.0's tables ended: a module built against its header
 * has a table of this size, and loads; the ops after it are absent. */
#define HF_STORE_OPS_V1_0_SIZE offsetof(struct hf_store_ops, check)
#define HF_HEARTBEAT_OPS_V1_0_SIZE offsetof(struct hf_heartbeat_ops, check)

/* ---- the table a module fills ------------------------------------------ */

struct hf_module_info {
    uint32_t abi_version;
    uint32_t kind; /* enum hf_module_kind */
    const char *name;
    const char *description;
    const struct hf_setting_spec *settings;
    size_t setting_count;
    const void *ops; /* struct hf_store_ops or struct hf_heartbeat_ops */
};

typedef int (*hf_module_version_fn)(int count, const int *versions);
typedef int (*hf_module_init_fn)(const struct hf_host_api *host, struct hf_module_info *info);

/* Declares the two entry points of a module that speaks ABI version 1, in
 * one line at the end of its source file:
 *
 *   HF_MODULE_DECLARE(HF_MODULE_STORE, "mine", "what it does", settings, setting_count, &my_ops)
 *
 * settings is an array of struct hf_setting_spec (NULL with count 0 for
 * none); the last argument points at the module's ops table. */
#ifdef __cplusplus
#define HF_MODULE_EXTERN_C extern "C"
#else
#define HF_MODULE_EXTERN_C
#endif
#define HF_MODULE_DECLARE(kind_, name_, description_, settings_, setting_count_, ops_)                                 \
    HF_MODULE_EXTERN_C int handoff_module_version(int count, const int *versions)                                      \
    {                                                                                                                  \
        for (int i = 0; i < count; i++)                                                                                \
            if (versions[i] == HF_MODULE_ABI_VERSION)                                                                  \
                return HF_MODULE_ABI_VERSION;                                                                          \
        return -1;                                                                                                     \
    }                                                                                                                  \
    HF_MODULE_EXTERN_C int handoff_module_init(const struct hf_host_api *host, struct hf_module_info *info)            \
    {                                                                                                                  \
        (void)host;                                                                                                    \
        info->abi_version = HF_MODULE_ABI_VERSION;                                                                     \
        info->kind = (kind_);                                                                                          \
        info->name = (name_);                                                                                          \
        info->description = (description_);                                                                            \
        info->settings = (settings_);                                                                                  \
        info->setting_count = (setting_count_);                                                                        \
        info->ops = (ops_);                                                                                            \
        return 0;                                                                                                      \
    }

#ifdef __cplusplus
}
#endif
#endif
