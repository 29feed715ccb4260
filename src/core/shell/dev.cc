#include "core/shell/dev.h"
#include "core/wake/jwt_sign.h"
#include "proto/token.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace
{

struct pkey_deleter {
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
struct x509_deleter {
    void operator()(X509 *x) const { X509_free(x); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

const long validity_days = 365;

bool exists(const std::string &path)
{
    return access(path.c_str(), F_OK) == 0;
}

bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext)
        return false;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

// A certificate for key, signed by signer (itself when issuer is null).
x509_ptr make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *signer, bool is_ca)
{
    x509_ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity_days * 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME *name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char *>(cn), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509 *issuer_cert = issuer ? issuer : cert.get();
    bool ok = is_ca ? add_ext(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE") &&
                          add_ext(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign")
                    : add_ext(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE") &&
                          add_ext(cert.get(), issuer_cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") &&
                          add_ext(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth");
    if (!ok || X509_sign(cert.get(), signer, EVP_sha256()) == 0)
        return nullptr;
    return cert;
}

bool write_pem(const std::string &path, X509 *cert, EVP_PKEY *key, std::string *err)
{
    FILE *f = fopen(path.c_str(), "w");
    if (!f) {
        *err = "cannot write " + path + ": " + strerror(errno);
        return false;
    }
    if (key)
        fchmod(fileno(f), 0600);
    bool ok =
        cert ? PEM_write_X509(f, cert) == 1 : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok)
        *err = "cannot write " + path;
    return ok;
}

bool write_text(const std::string &path, const std::string &text, mode_t mode, std::string *err)
{
    FILE *f = fopen(path.c_str(), "w");
    if (!f) {
        *err = "cannot write " + path + ": " + strerror(errno);
        return false;
    }
    fchmod(fileno(f), mode);
    bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = fclose(f) == 0 && ok;
    if (!ok)
        *err = "cannot write " + path;
    return ok;
}

bool make_certificates(const std::string &dir, std::string *err)
{
    pkey_ptr ca_key(EVP_EC_gen("P-256"));
    pkey_ptr server_key(EVP_EC_gen("P-256"));
    if (!ca_key || !server_key) {
        *err = "cannot generate EC keys";
        return false;
    }
    x509_ptr ca = make_cert(ca_key.get(), "handoff dev CA (throwaway)", nullptr, ca_key.get(), true);
    x509_ptr server = ca ? make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), false) : nullptr;
    if (!server) {
        *err = "cannot build the dev certificates";
        return false;
    }
    // The CA key is not kept: nothing else is ever signed with it.
    return write_pem(dir + "/ca.pem", ca.get(), nullptr, err) &&
           write_pem(dir + "/server.pem", server.get(), nullptr, err) &&
           write_pem(dir + "/server.key", nullptr, server_key.get(), err);
}

// 32 random bytes, as hex, in a file only its owner reads.
bool write_random_secret(const std::string &path, std::string *err)
{
    return write_text(path, hf_random_hex(32) + "\n", 0600, err);
}

std::string dev_config(int port_base, const std::string &store_path)
{
    char text[4096];
    snprintf(text, sizeof text,
             "# Written by `handoffd --dev`: a throwaway standalone relay on loopback.\n"
             "# See handoffd.conf(5) for every key.\n"
             "role = \"standalone\";\n"
             "server_id = \"dev\";\n"
             "listen = { allocator = \"127.0.0.1:%d\"; device = \"127.0.0.1:%d\";\n"
             "           websocket = \"127.0.0.1:%d\";  # browsers (docs/browser.md)\n"
             "           api = \"127.0.0.1:%d\"; };  # the HTTP API (docs/api.md)\n"
             "metrics = { listen = \"127.0.0.1:%d\"; };  # /metrics and /healthz\n"
             "api = { keys = ( { id = \"dev\"; secret_file = \"api.secret\"; scope = \"admin\"; } ); };\n"
             "# The browser demo's pages, as tools/web-demo serves them.\n"
             "websocket = { origins = [ \"http://127.0.0.1:%d\", \"http://localhost:%d\" ]; };\n"
             "tls = { certificate = \"server.pem\"; key = \"server.key\"; };\n"
             "tokens = { keys = ( { id = \"k1\"; secret_file = \"token.secret\"; } ); };\n"
             "# Web Push endpoints on the API listener (docs/push.md).\n"
             "push = { key_file = \"push.secret\"; };\n"
             "# Wake-ups through Web Push, signed with this VAPID key (docs/wake.md).\n"
             "wake = { vapid_key_file = \"wake-vapid.pem\"; };\n"
             "# Durable: acknowledged messages survive a crash (see docs/storage.md).\n"
             "store = { module = \"lmdb\"; path = \"%s\"; map_size = \"256m\"; };\n"
             "heartbeat = { module = \"fixed\"; interval = \"30s\"; };\n"
             "log = { level = \"info\"; };\n",
             port_base, port_base + 1, port_base + 3, port_base + 5, port_base + 2, port_base + 4, port_base + 4,
             store_path.c_str());
    return text;
}

} // namespace

bool hf_dev_prepare(const std::string &dir, int port_base, std::string *config, std::string *err)
{
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        *err = "cannot create " + dir + ": " + strerror(errno);
        return false;
    }
    if (!exists(dir + "/ca.pem") || !exists(dir + "/server.pem") || !exists(dir + "/server.key")) {
        if (!make_certificates(dir, err))
            return false;
    }
    for (const char *name : {"/token.secret", "/api.secret", "/push.secret"})
        if (!exists(dir + name) && !write_random_secret(dir + name, err))
            return false;
    if (!exists(dir + "/wake-vapid.pem") && !write_text(dir + "/wake-vapid.pem", hf_p256_pem_new(), 0600, err))
        return false;
    *config = dir + "/handoffd.conf";
    // The store's path is written absolute: modules see it as given.
    char *abs = realpath(dir.c_str(), nullptr);
    std::string store_path = std::string(abs ? abs : dir.c_str()) + "/store";
    free(abs);
    if (!exists(*config) && !write_text(*config, dev_config(port_base, store_path), 0644, err))
        return false;
    return true;
}

void hf_dev_print_howto(const std::string &dir, const hf_config &cfg, const std::string &client)
{
    std::string metrics = cfg.metrics_listen.empty() ? "off" : "http://" + cfg.metrics_listen + "/metrics";
    std::string browsers = cfg.listen_websocket.empty() ? "off" : "wss://" + cfg.listen_websocket;
    std::string api;
    if (!cfg.listen_api.empty())
        api = "A backend or an operator, over the HTTP API (docs/api.md):\n\n"
              "  handoffctl --url https://" +
              cfg.listen_api + " --ca " + dir + "/ca.pem --key-file " + dir + "/api.secret devices alice\n\n";
    printf("\nhandoff dev relay: allocator %s, devices %s, browsers %s, metrics %s, files in %s/\n"
           "Throwaway credentials: do not use them for anything real. Ctrl-C stops it.\n\n"
           "Try it from two more terminals:\n\n"
           "  export HANDOFF_ALLOCATOR=%s HANDOFF_CA=%s/ca.pem\n"
           "  # the phone listens:\n"
           "  %s listen --token \"$(%s token --secret-file %s/token.secret --account alice --device phone)\"\n"
           "  # the pc sends to it (or to '*', every other device of alice):\n"
           "  %s send --token \"$(%s token --secret-file %s/token.secret --account alice --device pc)\" \\\n"
           "      --to phone 'https://example.org/bookmarked'\n\n"
           "Browsers: tools/web-demo serves a bookmark list and prints a page address for a pc\n"
           "and a phone of alice.\n\n"
           "%s",
           cfg.listen_allocator.c_str(), cfg.listen_device.c_str(), browsers.c_str(), metrics.c_str(), dir.c_str(),
           cfg.listen_allocator.c_str(), dir.c_str(), client.c_str(), client.c_str(), dir.c_str(), client.c_str(),
           client.c_str(), dir.c_str(), api.c_str());
    fflush(stdout);
}
