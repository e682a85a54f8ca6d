/* SPDX-License-Identifier: Apache-2.0 */
/* Prints ns per operation for the hot paths of the C ABI. Numbers, not assertions. */
#include "nemo_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define S(lit) lit, (sizeof lit - 1)
#define REPORT(label, n, t0) printf("%-48s %10.0f ns/op\n", label, (now_ns() - (t0)) / (double)(n))

static nemo_relay_status_t provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"id\":\"r\",\"choices\":[]}"));
}

static nemo_relay_status_t pass_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    /* a request intercept that returns its input unchanged: {"request": ...} is a valid outcome */
    return nemo_relay_complete(t, NEMO_RELAY_OK, json, len);
}

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    if (status != NEMO_RELAY_OK) { fprintf(stderr, "call failed: %d\n", status); exit(1); }
    ++*(long *)ud;
}

static volatile long delivered;
static void sink(const char *json, size_t len, void *ud) { (void)json; (void)len; (void)ud; delivered++; }

/* A streaming provider that keeps its token and producer: the benchmark pushes the chunks itself. */
struct parked { nemo_relay_token_t *token; nemo_relay_producer_t *producer; };
static nemo_relay_status_t parking_stream_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct parked *p = ud;
    p->token = t;
    return nemo_relay_token_producer(&p->producer, t) == NEMO_RELAY_OK ? NEMO_RELAY_PENDING : NEMO_RELAY_E_INTERNAL;
}

static const char chunk[] = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,"
                            "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},"
                            "\"finish_reason\":null}]}";

/* Per chunk: nemo_relay_stream_push (parse, llm.chunk mark, buffer) plus nemo_relay_stream_next (copy
 * out) and nemo_relay_free; a new stream every 1000 chunks (its start and end included). */
static void bench_stream(nemo_relay_runtime_t *rt, nemo_relay_stack_t *st, const char *label, long n) {
    static const char req[] = "{\"headers\":{},\"content\":{\"model\":\"gpt-4o\",\"stream\":true,"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}}";
    struct parked p = {NULL, NULL};
    nemo_relay_callback_t prov = {parking_stream_provider, &p, NULL};
    nemo_relay_stream_t *s = NULL;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (i % 1000 == 0) {
            if (s) {
                nemo_relay_producer_free(p.producer);
                nemo_relay_complete(p.token, NEMO_RELAY_OK, "null", 4);
                nemo_relay_stream_free(s);
            }
            nemo_relay_llm_stream_execute(&s, rt, st, "openai", req, sizeof req - 1, NULL, NULL, &prov);
        }
        if (nemo_relay_stream_push(p.producer, chunk, sizeof chunk - 1) != NEMO_RELAY_OK) {
            fprintf(stderr, "push failed: %s\n", nemo_relay_last_error_message());
            exit(1);
        }
        char *out;
        size_t len;
        nemo_relay_stream_next(&out, &len, s, 0);
        nemo_relay_free(out);
    }
    nemo_relay_producer_free(p.producer);
    nemo_relay_complete(p.token, NEMO_RELAY_OK, "null", 4);
    nemo_relay_stream_free(s);
    REPORT(label, n, t0);
}

static const char request[] = "{\"headers\":{\"authorization\":\"Bearer x\"},\"content\":{\"model\":\"gpt-4o\","
                              "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}}";

static void bench_execute(nemo_relay_runtime_t *rt, nemo_relay_stack_t *st, const char *label, long n) {
    long ok = 0;
    nemo_relay_callback_t p = {provider, NULL, NULL};
    nemo_relay_done_t d = {on_done, &ok, NULL};
    double t0 = now_ns();
    for (long i = 0; i < n; i++) nemo_relay_llm_execute(NULL, rt, st, "openai", S(request), NULL, &p, &d);
    REPORT(label, n, t0);
    if (ok != n) { fprintf(stderr, "only %ld of %ld calls succeeded\n", ok, n); exit(1); }
}


/* A 20-message chat request (about 4 KB), built once. */
static char *chat_request(size_t *len) {
    static char buf[16384];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"headers\":{},\"content\":{\"model\":\"gpt-4o\",\"temperature\":0.2,\"messages\":[");
    for (int i = 0; i < 20; i++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s{\"role\":\"%s\",\"content\":\"Turn %d: The quick brown fox jumps over the lazy dog while the assistant reasons about the weather. The quick brown fox jumps over the lazy dog.\"}",
                              i ? "," : "", i % 2 ? "assistant" : "user", i);
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]}}");
    *len = n;
    return buf;
}

/* The same 20 turns as a request of another provider: `open` starts the body up to the turn list,
 * `turn` is one turn (printf: separator, role, index), `close` ends it. */
static char *provider_request(const char *open, const char *turn, const char *user, const char *assistant,
                              const char *close, size_t *len) {
    static char buf[16384];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", open);
    for (int i = 0; i < 20; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, turn, i ? "," : "", i % 2 ? assistant : user, i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", close);
    *len = n;
    return buf;
}

#define SENTENCE "The quick brown fox jumps over the lazy dog while the assistant reasons about the weather."

static void bench_codec(const char *id, const char *what, const char *req, size_t len, long n) {
    nemo_relay_codec_t *codec;
    if (nemo_relay_codec_builtin(&codec, id) != NEMO_RELAY_OK) { fprintf(stderr, "no codec %s\n", id); exit(1); }
    char label[96];
    char *ann = NULL;
    size_t ann_len = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        nemo_relay_free(ann);
        if (nemo_relay_codec_decode(&ann, &ann_len, codec, req, len) != NEMO_RELAY_OK) { fprintf(stderr, "%s decode failed\n", id); exit(1); }
    }
    snprintf(label, sizeof label, "codec decode via C, %s", what);
    REPORT(label, n, t0);
    char *out = NULL;
    size_t out_len = 0;
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        nemo_relay_free(out);
        if (nemo_relay_codec_encode(&out, &out_len, codec, ann, ann_len, req, len) != NEMO_RELAY_OK) { fprintf(stderr, "%s encode failed\n", id); exit(1); }
    }
    snprintf(label, sizeof label, "codec encode via C, %s", what);
    REPORT(label, n, t0);
    nemo_relay_free(out);
    nemo_relay_free(ann);
    nemo_relay_codec_free(codec);
}

static void bench_codecs(long n) {
    size_t len;
    const char *req = chat_request(&len);
    bench_codec("openai_chat", "20-message chat (~4 KB)", req, len, n);
    req = provider_request("{\"headers\":{},\"content\":{\"generationConfig\":{\"temperature\":0.2},\"contents\":[",
                           "%s{\"role\":\"%s\",\"parts\":[{\"text\":\"Turn %d: " SENTENCE "\"}]}", "user", "model",
                           "],\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\"}]}]}}", &len);
    bench_codec("gemini_generate_content", "20-turn Gemini", req, len, n);
    req = provider_request("{\"headers\":{},\"content\":{\"compartmentId\":\"c\",\"servingMode\":{\"servingType\":"
                           "\"ON_DEMAND\",\"modelId\":\"m\"},\"chatRequest\":{\"apiFormat\":\"GENERIC\",\"messages\":[",
                           "%s{\"role\":\"%s\",\"content\":[{\"type\":\"TEXT\",\"text\":\"Turn %d: " SENTENCE "\"}]}",
                           "USER", "ASSISTANT", "],\"maxTokens\":256}}}", &len);
    bench_codec("oci_genai", "20-message OCI GENERIC", req, len, n);
    req = provider_request("{\"headers\":{},\"content\":{\"modelId\":\"m\",\"inferenceConfig\":{\"maxTokens\":256},\"messages\":[",
                           "%s{\"role\":\"%s\",\"content\":[{\"text\":\"Turn %d: " SENTENCE "\"}]}", "user", "assistant",
                           "]}}", &len);
    bench_codec("bedrock_converse", "20-message Bedrock Converse", req, len, n);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    nemo_relay_runtime_t *rt;
    nemo_relay_stack_t *st;
    nemo_relay_runtime_new(&rt, NULL);
    nemo_relay_stack_new(&st, NULL);
    printf("NemoRelay %s, %ld iterations per row\n", nemo_relay_version(), n);

    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        nemo_relay_scope_t *s;
        nemo_relay_scope_begin(&s, rt, st, "step", NEMO_RELAY_SCOPE_FUNCTION, NULL);
        nemo_relay_scope_end(rt, st, s, NULL);
        nemo_relay_scope_free(s);
    }
    REPORT("scope begin+end+free (no subscriber)", n, t0);

    t0 = now_ns();
    for (long i = 0; i < n; i++) nemo_relay_mark(rt, st, "tick", NULL);
    REPORT("mark (no subscriber)", n, t0);

    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        nemo_relay_scope_t *h;
        nemo_relay_llm_call(&h, rt, st, "openai", S(request), NULL);
        nemo_relay_llm_call_end(rt, st, h, S("{\"ok\":true}"), NULL);
        nemo_relay_scope_free(h);
    }
    REPORT("manual llm_call+llm_call_end (no subscriber)", n, t0);

    bench_execute(rt, st, "managed llm_execute, no middleware", n);
    bench_stream(rt, st, "stream chunk push+next (no subscriber)", n);
    bench_codecs(n / 10);

    nemo_relay_callback_t ic = {pass_intercept, NULL, NULL};
    nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "pass", 0, 0, &ic);
    bench_execute(rt, st, "managed llm_execute, one request intercept", n);
    bool removed;
    nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "pass");

    nemo_relay_subscriber_register(rt, NULL, "sink", sink, NULL, NULL);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        nemo_relay_scope_t *s;
        nemo_relay_scope_begin(&s, rt, st, "step", NEMO_RELAY_SCOPE_FUNCTION, NULL);
        nemo_relay_scope_end(rt, st, s, NULL);
        nemo_relay_scope_free(s);
    }
    REPORT("scope begin+end+free (one subscriber)", n, t0);
    t0 = now_ns();
    for (long i = 0; i < n; i++) nemo_relay_mark(rt, st, "tick", NULL);
    REPORT("mark (one subscriber)", n, t0);
    nemo_relay_flush(rt, -1);
    bench_execute(rt, st, "managed llm_execute, one subscriber", n);
    nemo_relay_flush(rt, -1);
    bench_stream(rt, st, "stream chunk push+next (one subscriber)", n);
    t0 = now_ns();
    nemo_relay_flush(rt, -1);
    printf("%-48s %10.1f ms (%ld events delivered)\n", "flush after the last row", (now_ns() - t0) / 1e6, delivered);
    uint64_t dropped = 0;
    nemo_relay_dropped_events(&dropped, rt);
    printf("%-48s %10llu\n", "events dropped (queue full)", (unsigned long long)dropped);

    nemo_relay_stack_free(st);
    nemo_relay_runtime_free(rt);
    return 0;
}
