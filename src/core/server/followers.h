// Who follows an account's presence on this server (presence.h does the
// following).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

struct hf_session;

struct hf_presence {
    // Sessions following each account's presence, by account.
    std::unordered_map<std::string, std::vector<hf_session *>> followers;
};
