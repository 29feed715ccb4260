#include "core/server/push_message.h"

#include "proto/build.h"
#include "proto/token.h"

std::string hf_push_from(std::string_view app)
{
    return "+" + std::string(app);
}

std::string hf_push_payload(uint64_t urgency, std::string_view body)
{
    std::string out(1, char(urgency));
    out.append(body);
    return out;
}

std::string hf_push_collapse(std::string_view app, std::string_view topic, uint64_t id)
{
    unsigned char digest[32];
    hf_sha256(app, digest);
    std::string tag;
    hf_base64url_encode(std::string_view(reinterpret_cast<char *>(digest), 9), &tag);
    return "+" + tag + "/" + (topic.empty() ? "#" + std::to_string(id) : std::string(topic));
}

bool hf_push_deliver(hf_msg *m)
{
    if (m->payload.empty() || uint8_t(m->payload[0]) > HF_URGENCY_HIGH)
        return false;
    hf_msg_add_push(m, m->from.substr(1), uint8_t(m->payload[0]));
    m->payload.remove_prefix(1);
    if (hf_msg_has(m, HF_TAG_COLLAPSE))
        m->collapse = m->collapse.substr(m->collapse.find('/') + 1);
    // A push's own key is no topic (a topic has no '#'): not shown.
    if (hf_msg_has(m, HF_TAG_COLLAPSE) && (m->collapse.empty() || m->collapse[0] == '#'))
        m->present &= ~(uint64_t{1} << HF_TAG_COLLAPSE);
    return true;
}
