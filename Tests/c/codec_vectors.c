/* SPDX-License-Identifier: Apache-2.0 */
/* Runs the codec golden vectors through the C entry points: every built-in codec by its id, the
 * decode, encode and decode_response calls a C client makes. Input and results are the plain line files
 * of Tests/support/codec_cases.py, which writes the cases and then checks the results against the
 * vectors structurally.
 *
 * Usage: codec_vectors CASES_FILE RESULTS_FILE */
#include <stdlib.h>
#include <string.h>

#include "expect.h"

/* Reads one line without its newline into *buf (grown as needed); returns its length or -1 at the end. */
static long read_line(FILE *f, char **buf, size_t *cap) {
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        if (n + 1 >= *cap) {
            *cap = *cap ? *cap * 2 : 4096;
            *buf = realloc(*buf, *cap);
            if (!*buf) abort();
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0) return -1;
    if (!*buf) {
        *cap = 16;
        *buf = malloc(*cap);
        if (!*buf) abort();
    }
    (*buf)[n] = '\0';
    return (long)n;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: codec_vectors CASES_FILE RESULTS_FILE\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    FILE *out = fopen(argv[2], "w");
    if (!in || !out) {
        perror("codec_vectors");
        return 2;
    }
    char *header = NULL, *first = NULL, *second = NULL;
    size_t header_cap = 0, first_cap = 0, second_cap = 0;
    int cases = 0;
    for (;;) {
        if (read_line(in, &header, &header_cap) < 0) break;
        long first_len = read_line(in, &first, &first_cap);
        long second_len = read_line(in, &second, &second_cap);
        EXPECT(first_len >= 0 && second_len >= 0);
        if (first_len < 0 || second_len < 0) break;
        char *op = strchr(header, '\t');
        char *name = op ? strchr(op + 1, '\t') : NULL;
        EXPECT(op && name);
        if (!op || !name) break;
        *op++ = '\0';
        *name++ = '\0';

        nemo_relay_codec_t *codec = NULL;
        EXPECT(nemo_relay_codec_builtin(&codec, header) == NEMO_RELAY_OK);
        if (!codec) break;
        char *result = NULL;
        size_t result_len = 0;
        nemo_relay_status_t st;
        if (strcmp(op, "decode") == 0) {
            st = nemo_relay_codec_decode(&result, &result_len, codec, first, (size_t)first_len);
        } else if (strcmp(op, "encode") == 0) {
            st = nemo_relay_codec_encode(&result, &result_len, codec, first, (size_t)first_len, second,
                                         (size_t)second_len);
        } else {
            st = nemo_relay_codec_decode_response(&result, &result_len, codec, first, (size_t)first_len);
        }
        if (st == NEMO_RELAY_OK) {
            EXPECT(result != NULL && strlen(result) == result_len && memchr(result, '\n', result_len) == NULL);
            fprintf(out, "%s\tOK\t%s\n", name, result ? result : "");
        } else {
            /* A failure leaves no result and a per-thread message. */
            EXPECT(result == NULL && nemo_relay_last_error_message()[0] != '\0');
            fprintf(out, "%s\tERR\t%d\n", name, (int)st);
        }
        nemo_relay_free(result);
        nemo_relay_codec_free(codec);
        cases++;
    }
    free(header), free(first), free(second);
    fclose(in);
    fclose(out);
    EXPECT(cases > 300);
    printf("codec_vectors: %d cases run\n", cases);
    return expect_summary();
}
