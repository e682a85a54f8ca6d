/* SPDX-License-Identifier: Apache-2.0 */
/* The tiny harness shared by the C client tests: EXPECT counts, reports with the last error, and
 * EXPECT_SUMMARY prints the closing "N passed, M failed" line and yields the exit status. The counters
 * are atomic: callbacks on library threads use EXPECT too (ThreadSanitizer checks the tests). */
#ifndef NEMO_RELAY_TEST_EXPECT_H
#define NEMO_RELAY_TEST_EXPECT_H

#include <stdio.h>

#include "nemo_relay.h"

static int passed, failed;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            __atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED);                                      \
        } else {                                                                                   \
            __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED);                                      \
            fprintf(stderr, "%s:%d: expectation failed: %s (last error: %s)\n", __FILE__, __LINE__,\
                    #cond, nemo_relay_last_error_message());                                      \
        }                                                                                          \
    } while (0)

/* A string literal as the `json, len` pair the C API takes. */
#define S(lit) lit, (sizeof lit - 1)

/* Prints the closing line and returns the process exit status. */
static int expect_summary(void) {
    int p = __atomic_load_n(&passed, __ATOMIC_RELAXED), f = __atomic_load_n(&failed, __ATOMIC_RELAXED);
    printf("%d passed, %d failed\n", p, f);
    return f == 0 ? 0 : 1;
}

#endif
