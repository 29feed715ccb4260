// handoffctl's output for people: one command's successful JSON answer as
// lines and a table (--json prints the answer itself instead).
#pragma once
#include <jansson.h>

#include <cstdio>

// False when the answer, although the call succeeded, says something
// failed (a wake-test whose wake-up was not sent): handoffctl exits 1.
bool ctl_show(const char *command, json_t *answer, FILE *out);
