#include "bench/measure.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "proto/clock.h"

void bench_latency_add(bench_latency *l, uint64_t us)
{
    l->samples_us.push_back(uint32_t(std::min<uint64_t>(us, UINT32_MAX)));
}

void bench_latency_report(bench_latency *l, bench_report *r)
{
    std::vector<uint32_t> &s = l->samples_us;
    if (s.empty())
        return;
    std::sort(s.begin(), s.end());
    auto at = [&](double q) { return double(s[std::min(s.size() - 1, size_t(q * double(s.size())))]) / 1000.0; };
    bench_report_number(r, "p50_ms", at(0.50), "ms", 3);
    bench_report_number(r, "p90_ms", at(0.90), "ms", 3);
    bench_report_number(r, "p99_ms", at(0.99), "ms", 3);
    bench_report_number(r, "p999_ms", at(0.999), "ms", 3);
    bench_report_number(r, "max_ms", double(s.back()) / 1000.0, "ms", 3);
}

namespace
{

FILE *open_proc(int pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    return fopen(path, "r");
}

} // namespace

uint64_t bench_status_kib(int pid, const char *field)
{
    FILE *f = open_proc(pid, "status");
    if (!f)
        return 0;
    char line[256];
    size_t n = strlen(field);
    uint64_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':' && sscanf(line + n + 1, " %lu kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

uint64_t bench_rss_kib(int pid)
{
    return bench_status_kib(pid, "VmRSS");
}

uint64_t bench_open_fds(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    uint64_t count = 0;
    while (const dirent *e = readdir(dir))
        count += e->d_name[0] != '.';
    closedir(dir);
    return count;
}

uint64_t bench_cpu_us(int pid)
{
    FILE *f = open_proc(pid, "stat");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    // Fields after the command name, which may hold spaces: state is 3rd,
    // utime 14th and stime 15th.
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 0;
    return uint64_t(utime + stime) * 1000000 / uint64_t(sysconf(_SC_CLK_TCK));
}

void bench_stamp(std::string *payload, uint64_t size)
{
    payload->assign(std::max<uint64_t>(size, 8), 'x');
    uint64_t now = hf_mono_us();
    memcpy(payload->data(), &now, 8);
}

uint64_t bench_stamp_age_us(const void *payload, size_t len)
{
    if (len < 8)
        return 0;
    uint64_t sent;
    memcpy(&sent, payload, 8);
    return hf_mono_us() - sent;
}

uint64_t bench_cpu_us_sum(const std::vector<int> &pids)
{
    uint64_t sum = 0;
    for (int pid : pids)
        sum += bench_cpu_us(pid);
    return sum;
}
