/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small agent loop over libnemorelay: an agent scope, a managed LLM call whose provider answers
 * at once, a second one whose provider answers later from another thread, a tool call, and a
 * subscriber that prints every event as a JSON line.
 *
 * Build: cc -std=c99 -Iinclude examples/c/agent.c -Lbuild -lnemorelay -lpthread -o agent
 */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        nemo_relay_status_t rc_ = (call);                                                          \
        if (rc_ != NEMO_RELAY_OK) {                                                                \
            fprintf(stderr, "%s failed: %s: %s\n", #call, nemo_relay_status_str(rc_),              \
                    nemo_relay_last_error_message());                                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* Subscriber: runs on its own delivery thread; prints the canonical JSON line. */
static void print_event(const char *json, size_t len, void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&print_lock);
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
    pthread_mutex_unlock(&print_lock);
}

/* Provider answering at once. */
static nemo_relay_status_t provider_now(nemo_relay_token_t *token, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    static const char resp[] = "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"message\":"
                               "{\"role\":\"assistant\",\"content\":\"Use the weather tool.\"},"
                               "\"finish_reason\":\"stop\"}]}";
    return nemo_relay_complete(token, NEMO_RELAY_OK, resp, sizeof resp - 1);
}

/* Provider answering later, from another thread: it returns PENDING and completes the token there. */
static void *complete_later(void *arg) {
    static const char resp[] = "{\"id\":\"chatcmpl-2\",\"choices\":[{\"index\":0,\"message\":"
                               "{\"role\":\"assistant\",\"content\":\"It is sunny in Paris.\"},"
                               "\"finish_reason\":\"stop\"}]}";
    nemo_relay_complete((nemo_relay_token_t *)arg, NEMO_RELAY_OK, resp, sizeof resp - 1);
    return NULL;
}

static nemo_relay_status_t provider_later(nemo_relay_token_t *token, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    pthread_t *worker = (pthread_t *)ud;
    if (pthread_create(worker, NULL, complete_later, token) != 0) return NEMO_RELAY_E_CALLBACK;
    return NEMO_RELAY_PENDING;
}

static nemo_relay_status_t weather_tool(nemo_relay_token_t *token, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    static const char result[] = "{\"result\":{\"city\":\"Paris\",\"temp_c\":18},\"annotation\":{\"source\":\"cache\"}}";
    return nemo_relay_complete(token, NEMO_RELAY_OK, result, sizeof result - 1);
}

/* Done callbacks record the outcome; with a deferred provider they run on the worker thread. */
struct outcome {
    nemo_relay_status_t status;
    char text[512];
};

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct outcome *o = (struct outcome *)ud;
    o->status = status;
    if (len >= sizeof o->text) len = sizeof o->text - 1;
    memcpy(o->text, json, len);
    o->text[len] = 0;
}

int main(void) {
    if (nemo_relay_version_number() / 1000000 != NEMO_RELAY_VERSION_MAJOR) {
        fprintf(stderr, "header %s does not match library %s\n", NEMO_RELAY_VERSION_STRING, nemo_relay_version());
        return 1;
    }
    nemo_relay_runtime_t *rt = NULL;
    CHECK(nemo_relay_runtime_new(&rt, NULL));
    CHECK(nemo_relay_subscriber_register(rt, NULL, "stdout", print_event, NULL, NULL));

    nemo_relay_scope_options_t so;
    CHECK(nemo_relay_scope_options_init(&so, NEMO_RELAY_SCOPE_OPTIONS_VERSION));
    static const char input[] = "{\"task\":\"weather in Paris\"}";
    so.payload = input;
    so.payload_len = sizeof input - 1;
    nemo_relay_scope_t *agent = NULL;
    CHECK(nemo_relay_scope_begin(&agent, rt, NULL, "weather-agent", NEMO_RELAY_SCOPE_AGENT, &so));

    static const char request[] = "{\"headers\":{\"authorization\":\"Bearer sk-secret\"},\"content\":"
                                  "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}]}}";
    nemo_relay_llm_options_t lo;
    CHECK(nemo_relay_llm_options_init(&lo, NEMO_RELAY_LLM_OPTIONS_VERSION));
    lo.model_name = "gpt-4o-mini";

    /* 1. Synchronous provider: the whole call, done callback included, runs inside this call. */
    struct outcome first = {0, ""};
    nemo_relay_callback_t now = {provider_now, NULL, NULL};
    nemo_relay_done_t done1 = {on_done, &first, NULL};
    CHECK(nemo_relay_llm_execute(NULL, rt, NULL, "openai", request, sizeof request - 1, &lo, &now, &done1));
    if (first.status != NEMO_RELAY_OK) return 1;

    /* 2. Tool call. */
    struct outcome tool = {0, ""};
    nemo_relay_tool_options_t to;
    CHECK(nemo_relay_tool_options_init(&to, NEMO_RELAY_TOOL_OPTIONS_VERSION));
    to.tool_call_id = "call_1";
    nemo_relay_callback_t tfn = {weather_tool, NULL, NULL};
    nemo_relay_done_t tdone = {on_done, &tool, NULL};
    static const char args[] = "{\"city\":\"Paris\"}";
    CHECK(nemo_relay_tool_execute(NULL, rt, NULL, "get_weather", args, sizeof args - 1, &to, &tfn, &tdone));

    /* 3. Deferred provider: the call finishes on the worker thread that completes the token. */
    pthread_t worker;
    struct outcome second = {-100, ""};
    nemo_relay_callback_t later = {provider_later, &worker, NULL};
    nemo_relay_done_t done2 = {on_done, &second, NULL};
    CHECK(nemo_relay_llm_execute(NULL, rt, NULL, "openai", request, sizeof request - 1, &lo, &later, &done2));
    pthread_join(worker, NULL);
    if (second.status != NEMO_RELAY_OK) return 1;

    so.payload = NULL;
    so.payload_len = 0;
    CHECK(nemo_relay_scope_end(rt, NULL, agent, &so));
    nemo_relay_scope_free(agent);
    CHECK(nemo_relay_flush(rt, -1));
    nemo_relay_runtime_free(rt);

    fprintf(stderr, "llm #1: %s\ntool: %s\nllm #2 (deferred): %s\n", first.text, tool.text, second.text);
    return 0;
}
