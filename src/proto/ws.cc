#include "proto/ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>

#include "handoff/protocol.h"

namespace
{

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++)
        if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

const char websocket_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

} // namespace

bool hf_ws_parse_request(std::string_view head, hf_ws_request *req, std::string *err)
{
    size_t eol = head.find('\n');
    std::string_view line = trim(head.substr(0, eol));
    size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1 || line.substr(sp2 + 1) != "HTTP/1.1") {
        *err = "not an HTTP/1.1 request line";
        return false;
    }
    req->method = std::string(line.substr(0, sp1));
    req->path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    while (eol != std::string_view::npos) {
        head.remove_prefix(eol + 1);
        eol = head.find('\n');
        std::string_view header = trim(head.substr(0, eol));
        if (header.empty())
            continue;
        size_t colon = header.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            *err = "a header line without a name";
            return false;
        }
        std::string_view name = header.substr(0, colon), value = trim(header.substr(colon + 1));
        // A value is echoed in answers (Origin): no control characters.
        for (char ch : value)
            if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') {
                *err = "a control character in a header value";
                return false;
            }
        struct {
            const char *name;
            std::string *into;
        } const wanted[] = {{"host", &req->host},
                            {"upgrade", &req->upgrade},
                            {"connection", &req->connection},
                            {"sec-websocket-key", &req->key},
                            {"sec-websocket-version", &req->version},
                            {"origin", &req->origin}};
        for (const auto &w : wanted)
            if (iequals(name, w.name))
                *w.into = std::string(value);
    }
    return true;
}

bool hf_ws_has_token(std::string_view list, std::string_view token)
{
    while (!list.empty()) {
        size_t comma = list.find(',');
        if (iequals(trim(list.substr(0, comma)), token))
            return true;
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

int hf_ws_check_request(const hf_ws_request *req, const std::string &path, std::string *why)
{
    std::string target = req->path.substr(0, req->path.find('?'));
    if (req->method != "GET") {
        *why = "method " + req->method + " (a WebSocket handshake is a GET)";
        return 405;
    }
    if (target != path) {
        *why = "no WebSocket endpoint at " + std::string(target) + " (it is at " + path + ")";
        return 404;
    }
    if (req->host.empty() || !iequals(req->upgrade, "websocket") || !hf_ws_has_token(req->connection, "upgrade")) {
        *why = "not a WebSocket upgrade (Host, Upgrade: websocket and Connection: Upgrade are required)";
        return 400;
    }
    if (req->version != "13") {
        *why = "Sec-WebSocket-Version " + req->version + " (only 13 is spoken)";
        return 426;
    }
    std::string decoded(EVP_DECODE_LENGTH(req->key.size()) + 1, '\0');
    int n = req->key.size() == 24 ? EVP_DecodeBlock(reinterpret_cast<unsigned char *>(decoded.data()),
                                                    reinterpret_cast<const unsigned char *>(req->key.data()), 24)
                                  : -1;
    // 16 bytes encode to 24 characters with two '=' of padding, which
    // EVP_DecodeBlock counts as 18.
    if (n != 18 || req->key.compare(22, 2, "==") != 0) {
        *why = "Sec-WebSocket-Key is not 16 bytes in base64";
        return 400;
    }
    why->clear();
    return 0;
}

std::string hf_ws_accept_key(std::string_view key)
{
    std::string input = std::string(key) + websocket_guid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char *>(input.data()), input.size(), digest);
    unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char *>(out), size_t(n));
}

int hf_ws_frame_header_parse(const uint8_t *buf, size_t len, hf_ws_frame_header *hdr)
{
    if (len < 2)
        return HF_ERR_NEED_MORE;
    hdr->fin = buf[0] & 0x80;
    hdr->opcode = buf[0] & 0x0f;
    hdr->masked = buf[1] & 0x80;
    if (buf[0] & 0x70)
        return HF_ERR_BAD_FRAME; // no extension was negotiated
    bool control = hdr->opcode & 0x8;
    if (hdr->opcode > HF_WS_BINARY && !(hdr->opcode >= HF_WS_CLOSE && hdr->opcode <= HF_WS_PONG))
        return HF_ERR_BAD_FRAME;
    uint64_t n = buf[1] & 0x7f;
    size_t pos = 2;
    if (n == 126) {
        if (len < 4)
            return HF_ERR_NEED_MORE;
        n = uint64_t(buf[2]) << 8 | buf[3];
        pos = 4;
        if (n < 126)
            return HF_ERR_BAD_FRAME;
    } else if (n == 127) {
        if (len < 10)
            return HF_ERR_NEED_MORE;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | buf[2 + i];
        pos = 10;
        if (n < 65536 || n >> 63)
            return HF_ERR_BAD_FRAME;
    }
    if (control && (!hdr->fin || n > 125))
        return HF_ERR_BAD_FRAME;
    if (hdr->masked) {
        if (len < pos + 4)
            return HF_ERR_NEED_MORE;
        for (int i = 0; i < 4; i++)
            hdr->mask[i] = buf[pos + size_t(i)];
        pos += 4;
    }
    hdr->payload_len = n;
    hdr->header_len = pos;
    return HF_OK;
}

void hf_ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t at)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(at + i) & 3];
}

void hf_ws_frame_header_put(std::string *out, uint8_t opcode, uint64_t payload_len, const uint8_t *mask)
{
    out->push_back(char(0x80 | opcode));
    char masked = mask ? char(0x80) : char(0);
    if (payload_len < 126) {
        out->push_back(char(masked | char(payload_len)));
    } else if (payload_len < 65536) {
        out->push_back(char(masked | 126));
        out->push_back(char(payload_len >> 8));
        out->push_back(char(payload_len & 0xff));
    } else {
        out->push_back(char(masked | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out->push_back(char((payload_len >> shift) & 0xff));
    }
    if (mask)
        out->append(reinterpret_cast<const char *>(mask), 4);
}
