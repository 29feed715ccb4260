// See quiet_bio.h: a filter over OpenSSL's socket BIO that writes itself
// and leaves reads and controls to the socket BIO below.
#include "net/quiet_bio.h"

#include <sys/socket.h>

#include <cerrno>

namespace
{

int quiet_write(BIO *b, const char *in, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send(int(BIO_get_fd(BIO_next(b), nullptr)), in, size_t(len), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return int(n);
}

int quiet_read(BIO *b, char *out, int len)
{
    BIO_clear_retry_flags(b);
    int n = BIO_read(BIO_next(b), out, len);
    BIO_copy_next_retry(b);
    return n;
}

long quiet_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    BIO *next = BIO_next(b);
    return next ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

int quiet_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD *make_method()
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "socket without SIGPIPE");
    if (m && (!BIO_meth_set_write(m, quiet_write) || !BIO_meth_set_read(m, quiet_read) ||
              !BIO_meth_set_ctrl(m, quiet_ctrl) || !BIO_meth_set_create(m, quiet_create))) {
        BIO_meth_free(m);
        m = nullptr;
    }
    return m;
}

} // namespace

BIO *hf_quiet_bio_new(int fd)
{
    static BIO_METHOD *method = make_method(); // for the process's life
    BIO *socket = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *quiet = method ? BIO_new(method) : nullptr;
    if (!socket || !quiet) {
        BIO_free(socket);
        BIO_free(quiet);
        return nullptr;
    }
    return BIO_push(quiet, socket);
}
