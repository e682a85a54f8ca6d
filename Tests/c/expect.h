/* SPDX-License-Identifier: Apache-2.0 */
/* The tiny harness shared by the C client tests: EXPECT counts, reports with the last error, and
 * EXPECT_SUMMARY prints the closing "N passed, M failed" line and yields the exit status. */
#ifndef NEMO_RELAY_TEST_EXPECT_H
#define NEMO_RELAY_TEST_EXPECT_H

#include <stdio.h>

#include "nemo_relay.h"

static int passed, failed;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: expectation failed: %s (last error: %s)\n", __FILE__, __LINE__,\
                    #cond, nemo_relay_last_error_message());                                      \
        }                                                                                          \
    } while (0)

/* A string literal as the `json, len` pair the C API takes. */
#define S(lit) lit, (sizeof lit - 1)

/* Prints the closing line and returns the process exit status. */
static int expect_summary(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
