// handoffd: the handoff relay daemon. See handoffd(8).
#include <getopt.h>
#include <openssl/ssl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/common/config.h"
#include "core/shell/config_check.h"
#include "core/shell/daemon.h"
#include "core/box/detach.h"
#include "core/shell/dev.h"
#include "core/box/rehome.h"
#include "core/box/store_lock.h"
#include "core/box/supervisor.h"
#include "core/common/log.h"

namespace
{

// Exit statuses, as handoffd(8) lists them.
const int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_config = 78;

struct options {
    std::string config = HF_SYSCONFDIR "/handoff/handoffd.conf";
    bool foreground = false;
    bool check_only = false;
    std::string pidfile;
    bool dev = false;
    std::string dev_dir = "./handoff-dev";
    int port_base = 7400;
};

void usage(FILE *out)
{
    fprintf(out,
            "usage: handoffd [-f] [-c FILE] [-p PIDFILE]\n"
            "       handoffd -t [-c FILE]\n"
            "       handoffd --dev [--dev-dir DIR] [--port-base P]\n"
            "\n"
            "  -c, --config FILE    config file (default %s/handoff/handoffd.conf)\n"
            "  -f, --foreground     stay in the foreground\n"
            "  -t, --test           check the config and exit (errors as file:line: message)\n"
            "  -p, --pidfile FILE   write the process id to FILE\n"
            "      --dev            run a throwaway standalone relay on 127.0.0.1\n"
            "      --dev-dir DIR    where --dev keeps its files (default ./handoff-dev)\n"
            "      --port-base P    --dev ports: allocator P, devices P+1, metrics P+2, browsers P+3,\n"
            "                       HTTP API P+5\n"
            "                       (pages from http://127.0.0.1:P+4; default 7400)\n"
            "  -V, --version        print the version and exit\n"
            "  -h, --help           print this help and exit\n"
            "\n"
            "Signals: SIGHUP reloads certificates, token keys, limits and log level;\n"
            "SIGTERM and SIGINT stop (devices are sent GOAWAY first). See handoffd(8).\n",
            HF_SYSCONFDIR);
}

int parse_options(int argc, char **argv, options *o)
{
    enum { opt_dev = 256, opt_dev_dir, opt_port_base };
    static const struct option long_options[] = {
        {"config", required_argument, nullptr, 'c'},
        {"foreground", no_argument, nullptr, 'f'},
        {"test", no_argument, nullptr, 't'},
        {"pidfile", required_argument, nullptr, 'p'},
        {"version", no_argument, nullptr, 'V'},
        {"help", no_argument, nullptr, 'h'},
        {"dev", no_argument, nullptr, opt_dev},
        {"dev-dir", required_argument, nullptr, opt_dev_dir},
        {"port-base", required_argument, nullptr, opt_port_base},
        {nullptr, 0, nullptr, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:ftp:Vh", long_options, nullptr)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 't':
            o->check_only = true;
            break;
        case 'p':
            o->pidfile = optarg;
            break;
        case 'V':
            printf("handoffd %s (protocol %d, module ABI %d)\n", PACKAGE_VERSION, HF_PROTOCOL_VERSION,
                   HF_MODULE_ABI_VERSION);
            exit(exit_ok);
        case 'h':
            usage(stdout);
            exit(exit_ok);
        case opt_dev:
            o->dev = true;
            o->foreground = true;
            break;
        case opt_dev_dir:
            o->dev_dir = optarg;
            break;
        case opt_port_base: {
            char *end;
            long p = strtol(optarg, &end, 10);
            if (*end || p < 1 || p > 65531) {
                fprintf(stderr, "handoffd: --port-base wants a port from 1 to 65531, got \"%s\"\n", optarg);
                return exit_usage;
            }
            o->port_base = int(p);
            break;
        }
        default:
            usage(stderr);
            return exit_usage;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "handoffd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return exit_usage;
    }
    return exit_ok;
}

std::string client_path(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    if (!slash)
        return "handoff";
    return std::string(argv0, size_t(slash - argv0)) + "/handoff";
}

std::string absolute_path(const std::string &path)
{
    if (path.empty() || path[0] == '/')
        return path;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return path;
    return std::string(cwd) + "/" + path;
}

} // namespace

int main(int argc, char **argv)
{
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != exit_ok)
        return rc;
    if (o.dev) {
        std::string err;
        if (!hf_dev_prepare(o.dev_dir, o.port_base, &o.config, &err)) {
            fprintf(stderr, "handoffd: --dev: %s\n", err.c_str());
            return exit_failed;
        }
    }

    // A daemon in the background works in "/" and reloads later: relative
    // paths must not depend on where it was started.
    o.config = absolute_path(o.config);
    if (!o.pidfile.empty())
        o.pidfile = absolute_path(o.pidfile);

    auto d = std::make_unique<hf_daemon>();
    std::string err;
    // Every mistake in the config is found here, before anything binds or
    // touches the store: exit 78, which systemd does not restart.
    if (!hf_config_load(o.config.c_str(), &d->cfg, &err)) {
        fprintf(stderr, "%s\n", err.c_str());
        return exit_config;
    }
    if (!hf_config_check_whole(&d->cfg, &err)) {
        fprintf(stderr, "%s: %s\n", o.config.c_str(), err.c_str());
        return exit_config;
    }
    if (o.check_only) {
        printf("%s: ok\n", o.config.c_str());
        return exit_ok;
    }
    bool use_syslog = d->cfg.log_target == "syslog" || !o.foreground;
    hf_log_setup(hf_log_level_from_name(d->cfg.log_level.c_str()), use_syslog,
                 hf_log_facility_from_name(d->cfg.log_facility.c_str()), d->cfg.log_format == "json");
    int report_fd = -1;
    if (!o.foreground && (report_fd = hf_detach_begin(&err)) < 0) {
        fprintf(stderr, "handoffd: %s\n", err.c_str());
        return exit_failed;
    }

    // Before anything touches the store: a second daemon on it stops here.
    bool started = hf_store_lock(d->cfg, &err);
    if (int workers = hf_workers_wanted(d->cfg); started && workers > 1)
        return hf_supervise(d->cfg, workers, {o.pidfile, report_fd, use_syslog, hf_daemon_worker_main});

    // The store laid out for one process, should it have been a box's.
    started = started && hf_rehome(d->cfg, 1, &err) && hf_daemon_start(d.get(), &err);
    if (started && !o.pidfile.empty() && !hf_write_pidfile(o.pidfile)) {
        err =
            "cannot write pidfile " + o.pidfile + ": " + strerror(errno) + "; check the folder exists and is writable";
        started = false;
    }
    if (!started) {
        // Start-up errors go to the terminal (through the waiting parent when
        // detached) as well as to the log.
        if (report_fd >= 0)
            hf_detach_failed(report_fd, err);
        else
            fprintf(stderr, "handoffd: %s\n", err.c_str());
        if (use_syslog)
            hf_log(HF_LOG_ERROR, "%s", err.c_str());
        hf_daemon_shutdown(d.get());
        return exit_failed;
    }
    hf_detach_ready(report_fd);
    if (o.dev)
        hf_dev_print_howto(o.dev_dir, d->cfg, client_path(argv[0]));
    hf_daemon_run(d.get());
    hf_daemon_shutdown(d.get());
    if (!o.pidfile.empty())
        unlink(o.pidfile.c_str());
    return d->exit_status;
}
