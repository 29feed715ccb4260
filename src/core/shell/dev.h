// `handoffd --dev`: a throwaway CA, server certificate, token secret and
// config in one folder, so a first try needs no set-up.
#pragma once
#include <string>

#include "core/common/config.h"

// Writes what is missing in dir (reusing what is there) and returns the
// config path in *config. False and *err on failure.
bool hf_dev_prepare(const std::string &dir, int port_base, std::string *config, std::string *err);

// Prints the commands to try against the dev relay, with the addresses of
// the config it runs (a reused folder's config may name other ports than
// --port-base).
void hf_dev_print_howto(const std::string &dir, const hf_config &cfg, const std::string &client_path);
