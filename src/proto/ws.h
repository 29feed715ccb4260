// WebSocket (RFC 6455) pieces without I/O: the opening handshake's request
// parsing and accept key, and the frame header. Browsers reach handoff over
// WebSocket; each binary message carries protocol frames (docs/protocol.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

enum hf_ws_opcode : uint8_t {
    HF_WS_CONTINUATION = 0x0,
    HF_WS_TEXT = 0x1,
    HF_WS_BINARY = 0x2,
    HF_WS_CLOSE = 0x8,
    HF_WS_PING = 0x9,
    HF_WS_PONG = 0xA
};

// Close status codes (RFC 6455 section 7.4.1).
enum hf_ws_close_code : uint16_t {
    HF_WS_CLOSE_NORMAL = 1000,
    HF_WS_CLOSE_GOING_AWAY = 1001,
    HF_WS_CLOSE_PROTOCOL_ERROR = 1002,
    HF_WS_CLOSE_UNSUPPORTED = 1003, // text messages: handoff speaks binary only
    HF_WS_CLOSE_POLICY = 1008,      // pings faster than limits.frame_rate
    HF_WS_CLOSE_TOO_BIG = 1009,
    HF_WS_CLOSE_TRY_AGAIN = 1013 // a connection limit: come back later
};

// The opening request, as far as the server needs it.
struct hf_ws_request {
    std::string method, path;
    std::string host, upgrade, connection, key, version, origin;
};

// Parses the request head (request line and headers, up to and without
// the blank line). False and *err (one line) when it is not HTTP/1.1.
bool hf_ws_parse_request(std::string_view head, hf_ws_request *req, std::string *err);

// Why a parsed request is not a WebSocket opening handshake, with the HTTP
// status to answer (400, 404, 405, 426); 0 and "" when it is one.
int hf_ws_check_request(const hf_ws_request *req, const std::string &path, std::string *why);

// True if the Connection header lists the "upgrade" token.
bool hf_ws_has_token(std::string_view list, std::string_view token);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string hf_ws_accept_key(std::string_view key);

struct hf_ws_frame_header {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;
};

// Parses a frame header from the first len bytes. HF_OK, HF_ERR_NEED_MORE,
// or HF_ERR_BAD_FRAME (reserved bits set, unknown opcode, a control frame
// fragmented or over 125 bytes, a non-minimal or 2^63+ length).
int hf_ws_frame_header_parse(const uint8_t *buf, size_t len, hf_ws_frame_header *hdr);

// XORs data with the mask, the first byte being at offset `at` of the payload.
void hf_ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t at);

// Appends a frame header with FIN set: unmasked (a server's), or with
// mask (4 bytes; a client's, whose payload must then be masked with it).
void hf_ws_frame_header_put(std::string *out, uint8_t opcode, uint64_t payload_len, const uint8_t *mask = nullptr);
