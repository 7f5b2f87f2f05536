/*
 * fuzz_check.h - the fuzz targets' invariant check: a violation names
 * itself on stderr and aborts, which libFuzzer reports as a crash with the
 * input that caused it.
 */
#ifndef XSPROXY_FUZZ_CHECK_H
#define XSPROXY_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
