/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for one built-in codec through the C entry points (built by Tests/fuzz/run.sh with
 * -DFUZZ_CODEC='"<id>"'). Each input is used as:
 *   - a request body: decode, then encode the annotation back with and without an edit, and decode again;
 *   - an annotated request, encoded onto a fixed original request;
 *   - a provider response: decode_response;
 *   - a streaming chunk: chunk_summary.
 * Every call must return a documented status with a message, never crash, hang or leak; an unedited
 * annotation must encode back and decode to the same annotation. */
#include "nemo_relay.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_CODEC
#error "build with -DFUZZ_CODEC='\"openai_chat\"' (or another built-in codec id)"
#endif

static nemo_relay_codec_t *codec;

/* A grow-only byte buffer for the request texts. */
typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

#define PUTS(b, lit) put((b), lit, sizeof lit - 1)

static void die(const char *what, nemo_relay_status_t st) {
    fprintf(stderr, "codec_fuzz(%s): %s: %s (%s)\n", FUZZ_CODEC, what, nemo_relay_status_str(st),
            nemo_relay_last_error_message() ? nemo_relay_last_error_message() : "(no message)");
    abort();
}

/* A failing call must use one of the statuses a codec documents, and say why. */
static void expect_failure_status(const char *what, nemo_relay_status_t st, char *out) {
    if (out) die("a failed call returned output", st);
    switch (st) {
    case NEMO_RELAY_E_INVALID_ARGUMENT:
    case NEMO_RELAY_E_INVALID_JSON:
    case NEMO_RELAY_E_INTERNAL: break;
    default: die(what, st);
    }
    const char *m = nemo_relay_last_error_message();
    if (!m || !*m) die("a failure without a message", st);
}

/* Checks a successful call's output: NUL-terminated at out_len, no embedded NUL. */
static void expect_output(const char *what, char *out, size_t len) {
    if (!out) die(what, NEMO_RELAY_OK);
    if (out[len] != 0 || strlen(out) != len) die("output length does not match its text", NEMO_RELAY_OK);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    nemo_relay_status_t st = nemo_relay_codec_builtin(&codec, FUZZ_CODEC);
    if (st != NEMO_RELAY_OK) die("nemo_relay_codec_builtin", st);
    return 0;
}

/* Inserts a user message at the front of the annotation's "messages" array (the serializer writes
 * compact JSON, so the key is spelled exactly so), giving the encoder a real edit to write back. */
static int edit(const char *ann, size_t len, buf_t *b) {
    static const char key[] = "\"messages\":[";
    const char *at = NULL;
    for (size_t i = 0; i + sizeof key - 1 <= len; i++) {
        if (memcmp(ann + i, key, sizeof key - 1) == 0) {
            at = ann + i + sizeof key - 1;
            break;
        }
    }
    if (!at) return 0;
    b->n = 0;
    put(b, ann, (size_t)(at - ann));
    PUTS(b, "{\"role\":\"user\",\"content\":\"fuzz edit\"}");
    if (*at != ']') PUTS(b, ",");
    put(b, at, len - (size_t)(at - ann));
    return 1;
}

/* A fixed original request for the annotated-request leg: the smallest request each codec decodes. */
static const char original[] =
    "{\"headers\":{\"x-fuzz\":\"1\"},\"content\":{\"model\":\"m\",\"max_tokens\":16,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"input\":\"hi\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static buf_t req, edited;
    char *out = NULL, *back = NULL, *again = NULL;
    size_t out_len = 0, back_len = 0, again_len = 0;
    nemo_relay_status_t st;

    /* 1. The input as a request body. */
    req.n = 0;
    PUTS(&req, "{\"headers\":{\"x-fuzz\":\"1\"},\"content\":");
    put(&req, data, size);
    PUTS(&req, "}");
    st = nemo_relay_codec_decode(&out, &out_len, codec, req.p, req.n);
    if (st != NEMO_RELAY_OK) {
        expect_failure_status("decode", st, out);
    } else {
        expect_output("decode", out, out_len);
        st = nemo_relay_codec_encode(&back, &back_len, codec, out, out_len, req.p, req.n);
        if (st != NEMO_RELAY_OK) die("encode of an unedited annotation", st);
        expect_output("encode", back, back_len);
        st = nemo_relay_codec_decode(&again, &again_len, codec, back, back_len);
        if (st != NEMO_RELAY_OK) die("decode of an encoded request", st);
        if (again_len != out_len || memcmp(again, out, out_len) != 0) {
            fprintf(stderr, "first:  %s\nsecond: %s\n", out, again);
            die("decode(encode(decode(x))) != decode(x)", st);
        }
        nemo_relay_free(back);
        nemo_relay_free(again);
        back = again = NULL;
        if (edit(out, out_len, &edited)) {
            st = nemo_relay_codec_encode(&back, &back_len, codec, edited.p, edited.n, req.p, req.n);
            if (st != NEMO_RELAY_OK) {
                expect_failure_status("encode of an edited annotation", st, back);
            } else {
                expect_output("encode of an edited annotation", back, back_len);
                st = nemo_relay_codec_decode(&again, &again_len, codec, back, back_len);
                if (st != NEMO_RELAY_OK) die("decode of an edited, encoded request", st);
                nemo_relay_free(again);
                nemo_relay_free(back);
                back = again = NULL;
            }
        }
        nemo_relay_free(out);
        out = NULL;
    }

    /* 2. The input as an annotated request written onto a fixed original. */
    st = nemo_relay_codec_encode(&out, &out_len, codec, (const char *)data, size, original, sizeof original - 1);
    if (st != NEMO_RELAY_OK) {
        expect_failure_status("encode of the input as an annotation", st, out);
    } else {
        expect_output("encode of the input as an annotation", out, out_len);
        nemo_relay_free(out);
        out = NULL;
    }

    /* 3. The input as a provider response. */
    st = nemo_relay_codec_decode_response(&out, &out_len, codec, (const char *)data, size);
    if (st != NEMO_RELAY_OK) {
        expect_failure_status("decode_response", st, out);
    } else {
        expect_output("decode_response", out, out_len);
        nemo_relay_free(out);
        out = NULL;
    }

    /* 4. The input as a streaming chunk. */
    st = nemo_relay_chunk_summary(&out, &out_len, (const char *)data, size, (uint64_t)size);
    if (st != NEMO_RELAY_OK) {
        expect_failure_status("chunk_summary", st, out);
    } else {
        expect_output("chunk_summary", out, out_len);
        nemo_relay_free(out);
    }
    return 0;
}
