// `handoffd --dev`: a throwaway CA, server certificate, token secret and
// config in one folder, so a first try needs no set-up.
#pragma once
#include <string>

// Writes what is missing in dir (reusing what is there) and returns the
// config path in *config. False and *err on failure.
bool hf_dev_prepare(const std::string &dir, int port_base, std::string *config, std::string *err);

// Prints the commands to try against the dev relay.
void hf_dev_print_howto(const std::string &dir, int port_base, const std::string &client_path);
