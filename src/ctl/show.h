// handoffctl's output for people: one command's successful JSON answer as
// lines and a table (--json prints the answer itself instead).
#pragma once
#include <jansson.h>

#include <cstdio>

void ctl_show(const char *command, json_t *answer, FILE *out);
