#include "core/wake/wake_sender.h"

#include "core/wake/apns_wake.h"
#include "core/wake/fcm_wake.h"
#include "core/wake/webpush_wake.h"

struct hf_wake_sender {
    hf_wake_options options;
    hf_http_client *http;
    hf_webpush_wake webpush;
    hf_fcm_wake fcm;
    hf_apns_wake apns;
};

hf_wake_sender *hf_wake_sender_new(event_base *base, const hf_wake_options &options)
{
    hf_http_client *http = hf_http_client_new(base, options.http);
    if (!http)
        return nullptr;
    auto *s = new hf_wake_sender{options, http, {}, {}, {}};
    s->webpush.options = s->fcm.options = s->apns.options = &s->options;
    s->webpush.http = s->fcm.http = s->apns.http = http;
    return s;
}

void hf_wake_sender_free(hf_wake_sender *sender)
{
    if (!sender)
        return;
    hf_http_client_free(sender->http);
    delete sender;
}

const hf_wake_options &hf_wake_sender_options(const hf_wake_sender *sender)
{
    return sender->options;
}

void hf_wake_send(hf_wake_sender *sender, const hf_wake_route &route, hf_wake_done_cb done, void *arg)
{
    if (!hf_wake_serves(sender->options, route.provider)) {
        hf_wake_result result;
        result.detail = std::string("this server sends no wake-ups through ") + hf_wake_provider_name(route.provider) +
                        " (its wake.* key is not set)";
        return done(arg, &result);
    }
    switch (route.provider) {
    case hf_wake_provider::webpush:
        return hf_webpush_wake_send(&sender->webpush, route, done, arg);
    case hf_wake_provider::fcm:
        return hf_fcm_wake_send(&sender->fcm, route, done, arg);
    case hf_wake_provider::apns:
        return hf_apns_wake_send(&sender->apns, route, done, arg);
    }
}
