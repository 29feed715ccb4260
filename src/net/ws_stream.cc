#include "net/ws_stream.h"

#include <event2/buffer.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "handoff/protocol.h"
#include "proto/frame.h"
#include "proto/ws.h"

struct hf_ws_stream {
    bufferevent *tls = nullptr; // the TLS bufferevent under the filter
    bool client = false;        // masks what it sends, refuses masked frames
    uint64_t max_message = 0;
    hf_ws_control_hook control_hook = nullptr;
    void *control_arg = nullptr;
    bool pong_owed = false;
    std::string pong_payload; // the latest ping's: one pong answers a read's pings (RFC 6455 section 5.5.3)
    bool in_message = false;  // a fragmented binary message has begun
    uint64_t message_len = 0;
    bool close_sent = false;
    bool done = false; // closed by the peer, or framing broken
};

namespace
{

// Outgoing messages gathered in one flush (see ws_output), handed down
// whole, so empty again after each: one buffer serves every stream of the
// reactor thread, and an idle connection holds none (issue 22).
evbuffer *gathered()
{
    static thread_local std::unique_ptr<evbuffer, void (*)(evbuffer *)> buffer{evbuffer_new(), evbuffer_free};
    return buffer.get();
}

// A client's frames are masked with a fresh key each (RFC 6455 section
// 5.3); a server's are not. Appends header and payload to out.
void put_frame(const hf_ws_stream *ws, std::string *out, uint8_t opcode, const void *payload, size_t len)
{
    uint8_t key[4];
    if (ws->client)
        RAND_bytes(key, sizeof key);
    hf_ws_frame_header_put(out, opcode, len, ws->client ? key : nullptr);
    size_t at = out->size();
    out->append(static_cast<const char *>(payload), len);
    if (ws->client)
        hf_ws_unmask(reinterpret_cast<uint8_t *>(out->data() + at), len, key, 0);
}

void send_control(hf_ws_stream *ws, uint8_t opcode, const void *payload, size_t len)
{
    std::string frame;
    put_frame(ws, &frame, opcode, payload, len);
    bufferevent_write(ws->tls, frame.data(), frame.size());
}

void close_with(hf_ws_stream *ws, uint16_t code, const char *why)
{
    if (!ws->close_sent) {
        uint8_t payload[2 + 64];
        payload[0] = uint8_t(code >> 8);
        payload[1] = uint8_t(code & 0xff);
        size_t n = std::min(strlen(why), sizeof payload - 2);
        memcpy(payload + 2, why, n);
        send_control(ws, HF_WS_CLOSE, payload, 2 + n);
        ws->close_sent = true;
    }
    ws->done = true;
}

// WebSocket frames in, the protocol's bytes out.
bufferevent_filter_result ws_input(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *arg)
{
    auto *ws = static_cast<hf_ws_stream *>(arg);
    bool produced = false;
    while (!ws->done) {
        uint8_t head[14];
        ev_ssize_t n = evbuffer_copyout(src, head, sizeof head);
        hf_ws_frame_header h;
        int rc = hf_ws_frame_header_parse(head, size_t(n < 0 ? 0 : n), &h);
        if (rc == HF_ERR_NEED_MORE)
            break;
        if (rc != HF_OK || h.masked == ws->client) {
            close_with(ws, HF_WS_CLOSE_PROTOCOL_ERROR,
                       rc != HF_OK  ? "bad frame header"
                       : ws->client ? "server frames must not be masked"
                                    : "client frames must be masked");
            break;
        }
        bool data = h.opcode == HF_WS_BINARY || h.opcode == HF_WS_CONTINUATION;
        if (h.opcode == HF_WS_TEXT) {
            close_with(ws, HF_WS_CLOSE_UNSUPPORTED, "binary messages only");
            break;
        }
        if (data && (h.opcode == HF_WS_CONTINUATION) != ws->in_message) {
            close_with(ws, HF_WS_CLOSE_PROTOCOL_ERROR, ws->in_message ? "message not finished" : "nothing to continue");
            break;
        }
        if (data && (ws->message_len + h.payload_len > ws->max_message)) {
            close_with(ws, HF_WS_CLOSE_TOO_BIG, "message larger than limits.max_frame");
            break;
        }
        if (evbuffer_get_length(src) < h.header_len + h.payload_len)
            break; // the whole frame first
        evbuffer_drain(src, h.header_len);
        size_t len = size_t(h.payload_len);
        uint8_t *payload = len ? evbuffer_pullup(src, ev_ssize_t(len)) : nullptr;
        if (h.masked)
            hf_ws_unmask(payload, len, h.mask, 0);
        if (data) {
            evbuffer_remove_buffer(src, dst, len);
            produced = produced || len > 0;
            ws->in_message = !h.fin;
            ws->message_len = h.fin ? 0 : ws->message_len + h.payload_len;
            continue;
        }
        if (h.opcode == HF_WS_PING) {
            if (ws->control_hook && !ws->control_hook(ws->control_arg)) {
                close_with(ws, HF_WS_CLOSE_POLICY, "pings faster than limits.frame_rate");
                break;
            }
            ws->pong_owed = true;
            ws->pong_payload.assign(reinterpret_cast<const char *>(payload), len);
        }
        if (h.opcode == HF_WS_CLOSE) {
            // Echo the peer's code (RFC 6455 section 5.5.1).
            uint16_t code = len >= 2 ? uint16_t(payload[0] << 8 | payload[1]) : uint16_t(HF_WS_CLOSE_NORMAL);
            close_with(ws, code, "");
        }
        evbuffer_drain(src, len);
    }
    if (ws->pong_owed && !ws->close_sent) {
        send_control(ws, HF_WS_PONG, ws->pong_payload.data(), ws->pong_payload.size());
        ws->pong_owed = false;
    }
    if (ws->done)
        evbuffer_drain(src, evbuffer_get_length(src));
    // BEV_OK when closed too, so the connection's read callback runs and
    // sees it.
    return produced || ws->done ? BEV_OK : BEV_NEED_MORE;
}

// The protocol's frames out, one binary message each. They are gathered
// first and handed down in one piece: the TLS layer below seals what each
// addition brings, so a piece per header would be a record per header.
bufferevent_filter_result ws_output(evbuffer *src, evbuffer *dst, ev_ssize_t, bufferevent_flush_mode, void *arg)
{
    auto *ws = static_cast<hf_ws_stream *>(arg);
    evbuffer *messages = gathered();
    bool produced = false;
    std::string header;
    for (;;) {
        size_t avail = evbuffer_get_length(src);
        uint8_t head[HF_FRAME_HEADER_MAX];
        ev_ssize_t n = evbuffer_copyout(src, head, std::min(avail, sizeof head));
        hf_frame_header hdr;
        // Our own frames: whole and well formed, whatever their size.
        if (n <= 0 || hf_frame_ready(head, size_t(n), avail, UINT64_MAX, &hdr) != HF_OK)
            break;
        size_t total = hdr.header_len + size_t(hdr.body_len);
        header.clear();
        if (ws->client) {
            // Masked: the bytes are copied; a server's move as they are.
            std::string plain(total, '\0');
            evbuffer_remove(src, plain.data(), total);
            put_frame(ws, &header, HF_WS_BINARY, plain.data(), total);
            evbuffer_add(messages, header.data(), header.size());
        } else {
            hf_ws_frame_header_put(&header, HF_WS_BINARY, total);
            evbuffer_add(messages, header.data(), header.size());
            evbuffer_remove_buffer(src, messages, total);
        }
        produced = true;
    }
    evbuffer_add_buffer(dst, messages);
    return produced ? BEV_OK : BEV_NEED_MORE;
}

void free_stream(void *arg)
{
    delete static_cast<hf_ws_stream *>(arg);
}

} // namespace

bufferevent *hf_ws_stream_new(bufferevent *tls, uint64_t max_message, hf_ws_stream **out, bool client)
{
    auto *ws = new hf_ws_stream;
    ws->tls = tls;
    ws->client = client;
    ws->max_message = max_message;
    bufferevent *filter = gathered()
                              ? bufferevent_filter_new(tls, ws_input, ws_output,
                                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, free_stream, ws)
                              : nullptr;
    if (!filter) {
        delete ws;
        return nullptr;
    }
    *out = ws;
    return filter;
}

void hf_ws_stream_set_control_hook(hf_ws_stream *ws, hf_ws_control_hook hook, void *arg)
{
    ws->control_hook = hook;
    ws->control_arg = arg;
}

bool hf_ws_stream_done(const hf_ws_stream *ws)
{
    return ws->done;
}

void hf_ws_stream_close(hf_ws_stream *ws, uint16_t code)
{
    if (!ws->close_sent)
        close_with(ws, code, "");
}
