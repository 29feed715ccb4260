// Presence for devices (docs/protocol.md, "Presence"): a PRESENCE_REQ is
// answered with the account's devices and their online state, and a
// device that follows is told of every change, here or, through a shared
// store's watch, on another server.
#pragma once
#include <string>

#include "core/server/followers.h"
#include "proto/msg.h"

struct hf_server;

// A PRESENCE_REQ from s.
void hf_presence_request(hf_session *s, const hf_msg *m);

// A device of account came online or left (here, or as another server
// says): its account's followers hear of it, the device itself not.
void hf_presence_changed(hf_server *srv, const std::string &account, const std::string &device, bool online);

// s is going: it follows nothing any more.
void hf_presence_forget(hf_session *s);

// Renews this server's watch of every followed account in the store
// (with the presence refresh).
void hf_presence_renew_watches(hf_server *srv);
