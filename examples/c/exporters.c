/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exporters from C: the events of a small agent run written as an ATOF JSON Lines file, and the run's
 * ATIF v1.7 trajectory (docs/exporters.md).
 *
 * Build: cc -std=c99 -Iinclude examples/c/exporters.c -Lbuild -lnemorelay -lpthread -o exporters
 * Run:   ./exporters [OUTDIR]    (default: a new directory under /tmp)
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "nemo_relay.h"

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

/* A provider that answers at once with an OpenAI Chat completion. */
static nemo_relay_status_t provider(nemo_relay_token_t *token, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    static const char resp[] =
        "{\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"It is 18 C in Paris.\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":8}}";
    return nemo_relay_complete(token, NEMO_RELAY_OK, resp, sizeof resp - 1);
}

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    if (status != NEMO_RELAY_OK) fprintf(stderr, "call failed: %s\n", nemo_relay_status_str(status));
}

/* Creates an exporter from a JSON configuration. */
static nemo_relay_exporter_t *exporter(nemo_relay_status_t (*make)(nemo_relay_exporter_t **,
                                                                   const nemo_relay_exporter_options_t *),
                                       const char *config) {
    nemo_relay_exporter_options_t opts;
    CHECK(nemo_relay_exporter_options_init(&opts, NEMO_RELAY_EXPORTER_OPTIONS_VERSION));
    opts.config_json = config;
    opts.config_len = strlen(config);
    nemo_relay_exporter_t *x = NULL;
    CHECK(make(&x, &opts));
    return x;
}

int main(int argc, char **argv) {
    char tmp[] = "/tmp/nemo-relay-example-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    if (!dir) return 1;

    nemo_relay_runtime_t *rt;
    CHECK(nemo_relay_runtime_new(&rt, NULL));

    char config[1024];
    snprintf(config, sizeof config, "{\"output_directory\":\"%s\",\"filename\":\"events.jsonl\"}", dir);
    nemo_relay_exporter_t *jsonl = exporter(nemo_relay_atof_exporter_new, config);
    CHECK(nemo_relay_exporter_register(jsonl, rt, "jsonl"));
    nemo_relay_exporter_t *atif = exporter(
        nemo_relay_atif_exporter_new,
        "{\"session_id\":\"weather-session\",\"agent_name\":\"weather-agent\",\"agent_version\":\"1.0.0\"}");
    CHECK(nemo_relay_exporter_register(atif, rt, "atif"));

    nemo_relay_scope_t *agent;
    CHECK(nemo_relay_scope_begin(&agent, rt, NULL, "weather-agent", NEMO_RELAY_SCOPE_AGENT, NULL));
    static const char request[] = "{\"headers\":{},\"content\":{\"model\":\"gpt-4o-mini\",\"messages\":"
                                  "[{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"}]}}";
    nemo_relay_callback_t p = {provider, NULL, NULL};
    nemo_relay_done_t d = {on_done, NULL, NULL};
    CHECK(nemo_relay_llm_execute(NULL, rt, NULL, "openai", request, sizeof request - 1, NULL, &p, &d));
    CHECK(nemo_relay_scope_end(rt, NULL, agent, NULL));
    nemo_relay_scope_free(agent);

    /* Shutdown waits (bounded) for the queued events, then closes the file. */
    CHECK(nemo_relay_exporter_shutdown(jsonl, 5000000000LL));
    char *path, *trajectory;
    size_t path_len, trajectory_len;
    CHECK(nemo_relay_exporter_path(&path, &path_len, jsonl));
    CHECK(nemo_relay_atif_exporter_export(&trajectory, &trajectory_len, atif, 5000000000LL));
    printf("ATOF JSON Lines: %s\nATIF trajectory: %s\n", path, trajectory);

    nemo_relay_free(path);
    nemo_relay_free(trajectory);
    nemo_relay_exporter_free(jsonl);
    nemo_relay_exporter_free(atif);
    nemo_relay_runtime_free(rt);
    return 0;
}
