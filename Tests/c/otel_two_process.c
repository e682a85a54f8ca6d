/* SPDX-License-Identifier: Apache-2.0 */
/* Process A of the C -> Python "two processes, one trace" test (bindings/python/tests/test_otel.py,
 * test_c_to_python_one_trace): an OpenTelemetry exporter sends this process's spans to ENDPOINT; an
 * Agent scope "frontend" opens a manual LLM call "openai", the LLM call is captured as a propagation
 * context, and CHILD... (process B) runs with that context on its standard input while the call is
 * open. Then the call and the agent end and the exporter is flushed and shut down.
 *
 *     otel_two_process ENDPOINT CHILD [ARG...]
 *
 * Prints the context and the expectation summary on stdout; exits 0 when every expectation held. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

#define TIMEOUT_NS (30LL * 1000 * 1000 * 1000)

/* Runs argv[0] with `input` on its standard input; returns its exit status, or -1. */
static int run_child(char *const argv[], const char *input, size_t len) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[0]);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fds[1], input + off, len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fds[1]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ENDPOINT CHILD [ARG...]\n", argv[0]);
        return 2;
    }
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);

    char config[512];
    snprintf(config, sizeof config, "{\"type\":\"full\",\"endpoint\":\"%s\",\"service_name\":\"c-frontend\"}", argv[1]);
    nemo_relay_exporter_options_t o;
    nemo_relay_exporter_options_init(&o, NEMO_RELAY_EXPORTER_OPTIONS_VERSION);
    o.config_json = config;
    o.config_len = strlen(config);
    nemo_relay_exporter_t *otel = NULL;
    EXPECT(nemo_relay_otel_exporter_new(&otel, &o) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_register(otel, rt, "c-otel") == NEMO_RELAY_OK);

    nemo_relay_stack_t *stack = NULL;
    EXPECT(nemo_relay_stack_new(&stack, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_t *agent = NULL;
    EXPECT(nemo_relay_scope_begin(&agent, rt, stack, "frontend", NEMO_RELAY_SCOPE_AGENT, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_t *llm = NULL;
    EXPECT(nemo_relay_llm_call(&llm, rt, stack, "openai",
                               S("{\"headers\":{},\"content\":{\"model\":\"m\","
                                 "\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}}"),
                               NULL) == NEMO_RELAY_OK);

    /* The LLM call, named explicitly: a manual call is not the top of the stack. */
    char *context = NULL;
    size_t context_len = 0;
    EXPECT(nemo_relay_propagation_capture(&context, &context_len, stack, llm, NEMO_RELAY_PROPAGATION_ROOTED, NULL) ==
           NEMO_RELAY_OK);
    if (context != NULL) {
        printf("context %s\n", context);
        EXPECT(run_child(argv + 2, context, context_len) == 0);
    }
    nemo_relay_free(context);

    EXPECT(nemo_relay_llm_call_end(rt, stack, llm,
                                   S("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"done\"}}]}"),
                                   NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, stack, agent, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_free(llm);
    nemo_relay_scope_free(agent);
    nemo_relay_stack_free(stack);

    EXPECT(nemo_relay_exporter_flush(otel, TIMEOUT_NS) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_shutdown(otel, TIMEOUT_NS) == NEMO_RELAY_OK);
    nemo_relay_exporter_free(otel);
    nemo_relay_runtime_free(rt);
    return expect_summary();
}
