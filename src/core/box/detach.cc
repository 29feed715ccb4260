#include "core/box/detach.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace
{

const char ready_word[] = "ready";

// Waits for the child's word: "ready", or a message, or nothing (it died).
[[noreturn]] void parent_wait(int read_fd, pid_t child)
{
    std::string said;
    char buf[512];
    ssize_t n;
    while ((n = read(read_fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        said.append(buf, size_t(n));
    }
    if (said == ready_word)
        _exit(0);
    if (said.empty()) {
        int status = 0;
        waitpid(child, &status, 0);
        fprintf(stderr, "handoffd: the background process ended before it was ready (%s %d); see syslog\n",
                WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else {
        fprintf(stderr, "handoffd: %s\n", said.c_str());
    }
    _exit(1);
}

void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= size_t(n);
    }
}

} // namespace

int hf_detach_begin(std::string *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *err = std::string("cannot detach: pipe: ") + strerror(errno);
        return -1;
    }
    pid_t child = fork();
    if (child < 0) {
        *err = std::string("cannot detach: fork: ") + strerror(errno);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (child > 0) {
        close(fds[1]);
        parent_wait(fds[0], child);
    }
    close(fds[0]);
    setsid();
    // Paths were made absolute before, so the working folder no longer
    // matters; "/" keeps the daemon from holding a mount busy.
    if (chdir("/") != 0)
        _exit(1);
    return fds[1];
}

void hf_detach_ready(int report_fd)
{
    if (report_fd < 0)
        return;
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
        if (null_fd > STDERR_FILENO)
            close(null_fd);
    }
    write_all(report_fd, ready_word, sizeof ready_word - 1);
    close(report_fd);
}

void hf_detach_failed(int report_fd, const std::string &why)
{
    if (report_fd < 0)
        return;
    write_all(report_fd, why.data(), why.size());
    close(report_fd);
}

bool hf_write_pidfile(const std::string &path)
{
    FILE *f = fopen(path.c_str(), "w");
    if (!f)
        return false;
    fprintf(f, "%ld\n", long(getpid()));
    return fclose(f) == 0;
}
