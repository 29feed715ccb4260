#include "client/key_file.h"

#include <jansson.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "handoff/client.h"
#include "proto/token.h"
#include "proto/whole_file.h"

namespace
{

std::string encoded(const std::string &raw)
{
    std::string out;
    hf_base64url_encode(raw, &out);
    return out;
}

// A member's base64url bytes of length len; false if absent or not that.
bool take_bytes(json_t *object, const char *name, size_t len, std::string *out)
{
    const char *text = json_string_value(json_object_get(object, name));
    return text && hf_base64url_decode(text, out) && out->size() == len;
}

// A new P-256 pair into private_key and public_key; false if the random
// source fails.
bool make_pair(std::string *private_key, std::string *public_key)
{
    uint8_t priv[HF_PUSH_PRIVATE_KEY_LEN], pub[HF_PUSH_PUBLIC_KEY_LEN], unused[HF_PUSH_AUTH_LEN];
    if (hf_push_keys_new(priv, pub, unused) != 0)
        return false;
    private_key->assign(reinterpret_cast<char *>(priv), sizeof priv);
    public_key->assign(reinterpret_cast<char *>(pub), sizeof pub);
    return true;
}

// Reads path into keys; a file that does not exist is no keys yet.
bool load(const std::string &path, hf_key_file *keys, std::string *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path.c_str(), JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (access(path.c_str(), F_OK) != 0 && errno == ENOENT)
            return true;
        *err = path + ": not a key file: " + jerr.text;
        return false;
    }
    bool ok = json_integer_value(json_object_get(root, "version")) == 1 &&
              take_bytes(root, "private_key", HF_PUSH_PRIVATE_KEY_LEN, &keys->private_key) &&
              take_bytes(root, "public_key", HF_PUSH_PUBLIC_KEY_LEN, &keys->public_key);
    // A file from before the signing pair gets one when it is opened.
    if (ok && json_object_get(root, "signing_private_key"))
        ok = take_bytes(root, "signing_private_key", HF_PUSH_PRIVATE_KEY_LEN, &keys->signing_private_key) &&
             take_bytes(root, "signing_public_key", HF_PUSH_PUBLIC_KEY_LEN, &keys->signing_public_key);
    const char *app;
    json_t *entry;
    json_object_foreach(json_object_get(root, "apps"), app, entry)
    {
        hf_key_file_app &k = keys->apps[app];
        const char *endpoint = json_string_value(json_object_get(entry, "endpoint"));
        ok = ok && take_bytes(entry, "auth", HF_PUSH_AUTH_LEN, &k.auth);
        k.endpoint = endpoint ? endpoint : "";
    }
    const char *device;
    json_object_foreach(json_object_get(root, "peers"), device, entry)
    {
        hf_key_file_peer &peer = keys->peers[device];
        const char *state = json_string_value(json_object_get(entry, "state"));
        ok = ok && take_bytes(entry, "key", HF_DEVICE_KEYS_LEN, &peer.key) && state;
        peer.state = state ? state : "";
    }
    json_decref(root);
    if (!ok)
        *err = path + ": not a handoff key file (version 1, with private_key, public_key and each app's auth)";
    return ok;
}

} // namespace

bool hf_key_file_save(const hf_key_file &keys, std::string *err)
{
    json_t *apps = json_object();
    for (const auto &[app, k] : keys.apps)
        json_object_set_new(apps, app.c_str(),
                            json_pack("{s:s, s:s}", "auth", encoded(k.auth).c_str(), "endpoint", k.endpoint.c_str()));
    json_t *peers = json_object();
    for (const auto &[device, peer] : keys.peers)
        json_object_set_new(peers, device.c_str(),
                            json_pack("{s:s, s:s}", "key", encoded(peer.key).c_str(), "state", peer.state.c_str()));
    json_t *root = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o}", "version", 1, "private_key",
                             encoded(keys.private_key).c_str(), "public_key", encoded(keys.public_key).c_str(),
                             "signing_private_key", encoded(keys.signing_private_key).c_str(), "signing_public_key",
                             encoded(keys.signing_public_key).c_str(), "apps", apps, "peers", peers);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text) {
        *err = "out of memory";
        return false;
    }
    bool ok = hf_write_whole_file(keys.path, std::string(text) + "\n", 0600, err);
    free(text);
    return ok;
}

bool hf_key_file_open(const std::string &path, hf_key_file *keys, std::string *err)
{
    keys->path = path;
    if (!load(path, keys, err))
        return false;
    bool made = false;
    for (auto [priv, pub] : {std::pair{&keys->private_key, &keys->public_key},
                             std::pair{&keys->signing_private_key, &keys->signing_public_key}}) {
        if (!priv->empty())
            continue;
        if (!make_pair(priv, pub)) {
            *err = "cannot make a key pair: no random bytes";
            return false;
        }
        made = true;
    }
    return !made || hf_key_file_save(*keys, err);
}

std::string hf_key_file_device_key(const hf_key_file &keys)
{
    return keys.public_key + keys.signing_public_key;
}

int hf_key_file_trust(hf_key_file *keys, const std::string &device, const std::string &key, bool *changed)
{
    if (key.empty())
        return HF_KEY_NONE;
    auto found = keys->peers.find(device);
    if (found == keys->peers.end()) {
        keys->peers[device] = {key, "trusted"};
        *changed = true;
        return HF_KEY_NEW;
    }
    if (found->second.key != key)
        return HF_KEY_CHANGED;
    return found->second.state == "verified" ? HF_KEY_VERIFIED : HF_KEY_TRUSTED;
}

bool hf_key_file_open_push(const hf_key_file &keys, const char *app, const uint8_t *body, size_t len,
                           std::string *plaintext, std::string *why)
{
    auto found = keys.apps.find(app);
    if (keys.private_key.empty() || found == keys.apps.end()) {
        *why = std::string("the key file has no keys for app \"") + app + "\"";
        return false;
    }
    uint8_t *out = nullptr;
    size_t out_len = 0;
    const char *reason = nullptr;
    if (hf_push_decrypt(reinterpret_cast<const uint8_t *>(keys.private_key.data()),
                        reinterpret_cast<const uint8_t *>(keys.public_key.data()),
                        reinterpret_cast<const uint8_t *>(found->second.auth.data()), body, len, &out, &out_len,
                        &reason) != 0) {
        *why = reason ? reason : "does not decrypt";
        return false;
    }
    plaintext->assign(reinterpret_cast<char *>(out), out_len);
    free(out);
    return true;
}
