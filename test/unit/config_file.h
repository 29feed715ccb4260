// A config file for unit tests: in a fresh folder under /tmp, with a
// token secret beside it, TLS file names (not read by the tests) and
// body after them.
#pragma once
#include <stdlib.h>

#include <fstream>
#include <string>

static inline std::string hf_test_config_file(const std::string &body)
{
    char dir[] = "/tmp/handoff-config-XXXXXX";
    if (!mkdtemp(dir))
        return "";
    std::ofstream(std::string(dir) + "/token.secret") << "0123456789abcdef0123\n";
    std::string path = std::string(dir) + "/handoffd.conf";
    std::ofstream(path) << "tls = { certificate = \"c.pem\"; key = \"k.pem\"; };\n"
                           "tokens = { keys = ( { id = \"k1\"; secret_file = \"token.secret\"; } ); };\n"
                        << body;
    return path;
}
