/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streams a fake provider's chunks through a managed streaming LLM call.
 *
 * The provider answers later: it starts a thread that pushes OpenAI Chat chunks into its producer
 * (retrying when the consumer's buffer is full) and then completes its token. The main thread pulls
 * the chunks, prints the text, and a subscriber prints every event (llm start, one llm.chunk mark
 * per chunk, llm end with time_to_first_chunk and the finalizer's aggregate).
 *
 * Build: cc -std=c99 -Iinclude examples/c/stream.c -Lpath/to/lib -lnemorelay -lpthread
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const words[] = {"Hello", ", ", "streaming", " ", "world", "!"};
#define N_WORDS (sizeof words / sizeof words[0])

struct fake_provider {
    nemo_relay_token_t *token;
    nemo_relay_producer_t *producer;
    pthread_t thread;
};

static void pause_briefly(void) {
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    nanosleep(&ts, NULL);
}

static void *produce(void *arg) {
    struct fake_provider *p = arg;
    char chunk[256];
    for (size_t i = 0; i <= N_WORDS; i++) {
        int n = i < N_WORDS
                    ? snprintf(chunk, sizeof chunk,
                               "{\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
                               "\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}", words[i])
                    : snprintf(chunk, sizeof chunk,
                               "{\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
                               "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,"
                               "\"completion_tokens\":6,\"total_tokens\":11}}");
        nemo_relay_status_t rc;
        while ((rc = nemo_relay_stream_push(p->producer, chunk, (size_t)n)) == NEMO_RELAY_E_FULL) pause_briefly();
        if (rc != NEMO_RELAY_OK) break; /* closed by the consumer: stop producing */
        pause_briefly();
    }
    nemo_relay_producer_free(p->producer);
    nemo_relay_complete(p->token, NEMO_RELAY_OK, "null", 4);
    return NULL;
}

/* The provider callback: take the producer, push from a thread, answer later. */
static nemo_relay_status_t provider(nemo_relay_token_t *token, const char *request, size_t len, void *ud) {
    (void)request; (void)len;
    struct fake_provider *p = ud;
    p->token = token;
    if (nemo_relay_token_producer(&p->producer, token) != NEMO_RELAY_OK) return NEMO_RELAY_E_INTERNAL;
    pthread_create(&p->thread, NULL, produce, p);
    return NEMO_RELAY_PENDING;
}

/* Collector and finalizer: rebuild the non-streaming response shape from the chunks. */
static char text[256];
static nemo_relay_status_t collect(nemo_relay_token_t *token, const char *chunk, size_t len, void *ud) {
    (void)ud;
    const char *c = strstr(chunk, "\"content\":\"");
    if (c && (size_t)(c - chunk) < len) {
        c += strlen("\"content\":\"");
        const char *e = strchr(c, '"');
        strncat(text, c, (size_t)(e - c) < sizeof text - strlen(text) - 1 ? (size_t)(e - c) : 0);
    }
    return nemo_relay_complete(token, NEMO_RELAY_OK, "null", 4);
}

static nemo_relay_status_t finalize(nemo_relay_token_t *token, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"choices\":[{"
                     "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6,\"total_tokens\":11}}", text);
    return nemo_relay_complete(token, NEMO_RELAY_OK, resp, (size_t)n);
}

static void print_event(const char *json, size_t len, void *ud) {
    (void)ud;
    printf("event: %.*s\n", (int)len, json);
}

int main(void) {
    nemo_relay_runtime_t *rt;
    if (nemo_relay_runtime_new(&rt, NULL) != NEMO_RELAY_OK) return 1;
    nemo_relay_subscriber_register(rt, NULL, "print", print_event, NULL, NULL);

    nemo_relay_codec_t *codec;
    nemo_relay_codec_builtin(&codec, "openai_chat");
    nemo_relay_llm_options_t lo;
    nemo_relay_llm_options_init(&lo, NEMO_RELAY_LLM_OPTIONS_VERSION);
    lo.model_name = "gpt-4o";
    lo.attributes = NEMO_RELAY_LLM_STREAMING;
    lo.codec = codec;
    lo.response_codec = codec;

    nemo_relay_stream_options_t so;
    nemo_relay_stream_options_init(&so, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    so.buffer_capacity = 4;
    so.collector = (nemo_relay_callback_t){collect, NULL, NULL};
    so.finalizer = (nemo_relay_callback_t){finalize, NULL, NULL};

    static const char request[] = "{\"headers\":{\"authorization\":\"Bearer sk-demo\"},\"content\":{\"model\":\"gpt-4o\","
                                  "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}}";
    struct fake_provider fake;
    nemo_relay_callback_t prov = {provider, &fake, NULL};
    nemo_relay_stream_t *stream;
    if (nemo_relay_llm_stream_execute(&stream, rt, NULL, "openai", request, sizeof request - 1, &lo, &so, &prov) !=
        NEMO_RELAY_OK) {
        fprintf(stderr, "stream did not start: %s\n", nemo_relay_last_error_message());
        return 1;
    }

    int chunks = 0;
    for (;;) {
        char *chunk;
        size_t len;
        nemo_relay_status_t rc = nemo_relay_stream_next(&chunk, &len, stream, 1000000000LL /* 1 s */);
        if (rc == NEMO_RELAY_E_TIMEOUT) continue;
        if (rc != NEMO_RELAY_OK) {
            fprintf(stderr, "stream failed: %s\n", nemo_relay_last_error_message());
            return 1;
        }
        if (!chunk) break; /* clean end */
        chunks++;
        nemo_relay_free(chunk);
    }
    pthread_join(fake.thread, NULL);
    printf("%d chunks: %s\n", chunks, text);

    nemo_relay_stream_free(stream);
    nemo_relay_codec_free(codec);
    nemo_relay_flush(rt, -1);
    nemo_relay_runtime_free(rt);
    return chunks == (int)N_WORDS + 1 && strcmp(text, "Hello, streaming world!") == 0 ? 0 : 1;
}
