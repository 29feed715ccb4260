// A socket BIO whose writes never raise SIGPIPE. OpenSSL's socket BIO
// writes with write(2): writing to a connection the peer has reset raises
// SIGPIPE, whose default action kills the process. A library must not
// change its application's signal handling, so libhandoff's links write
// with send(2) and MSG_NOSIGNAL instead; the write then fails with EPIPE
// and the link closes like on any other network error.
#pragma once
#include <openssl/bio.h>

// A BIO chain for fd (not closed when freed), or NULL if out of memory.
BIO *hf_quiet_bio_new(int fd);
