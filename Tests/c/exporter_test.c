/* SPDX-License-Identifier: Apache-2.0 */
/* The exporter ABI as a C client uses it: ATOF JSON Lines files (byte-identical to subscriber lines,
 * append/overwrite, errors), ATIF trajectories (live and from the reference's golden events), handle
 * misuse, and a process killed with SIGKILL mid-run leaving only whole lines.
 *
 * Usage: exporter_test [ATIF_CASES_DIR]   (cases written by Tests/c/run.sh from Tests/vectors) */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

/* ---- small helpers --------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    if (len) *len = got;
    return buf;
}

static nemo_relay_status_t new_atof(nemo_relay_exporter_t **out, const char *config) {
    nemo_relay_exporter_options_t o;
    nemo_relay_exporter_options_init(&o, NEMO_RELAY_EXPORTER_OPTIONS_VERSION);
    o.config_json = config;
    o.config_len = strlen(config);
    return nemo_relay_atof_exporter_new(out, &o);
}

static nemo_relay_status_t new_atif(nemo_relay_exporter_t **out, const char *config) {
    nemo_relay_exporter_options_t o;
    nemo_relay_exporter_options_init(&o, NEMO_RELAY_EXPORTER_OPTIONS_VERSION);
    o.config_json = config;
    o.config_len = config ? strlen(config) : 0;
    return nemo_relay_atif_exporter_new(out, &o);
}

/* Every line a plain subscriber received, concatenated as JSON Lines. */
static struct {
    char *buf;
    size_t len, cap;
    size_t count;
} seen;

static void collect(const char *json, size_t len, void *ud) {
    (void)ud;
    if (seen.len + len + 1 > seen.cap) {
        seen.cap = (seen.len + len + 1) * 2;
        seen.buf = realloc(seen.buf, seen.cap);
    }
    memcpy(seen.buf + seen.len, json, len);
    seen.len += len;
    seen.buf[seen.len++] = '\n';
    seen.count++;
}

static nemo_relay_status_t provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"id\":\"r1\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                                                   "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
                                                   "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
                                                   "\"completion_tokens\":1}}"));
}

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json, (void)len;
    *(nemo_relay_status_t *)ud = status;
}

/* An agent with a mark and one managed OpenAI Chat call. */
static void run_agent(nemo_relay_runtime_t *rt) {
    nemo_relay_scope_t *agent = NULL;
    EXPECT(nemo_relay_scope_begin(&agent, rt, NULL, "agent", NEMO_RELAY_SCOPE_AGENT, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, NULL, "plan-ready", NULL) == NEMO_RELAY_OK);
    nemo_relay_status_t result = -99;
    nemo_relay_callback_t p = {provider, NULL, NULL};
    nemo_relay_done_t d = {on_done, &result, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "openai",
                                  S("{\"headers\":{},\"content\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                    "\"content\":\"hello\"}]}}"),
                                  NULL, &p, &d) == NEMO_RELAY_OK);
    EXPECT(result == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, NULL, agent, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_free(agent);
}

/* ---- ATOF file sink --------------------------------------------------------------------------- */

static void test_atof_file(const char *dir) {
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, NULL, NULL) == NEMO_RELAY_OK);

    char config[1024];
    snprintf(config, sizeof config,
             "{\"output_directory\":\"%s\",\"filename\":\"events.jsonl\",\"mode\":\"overwrite\"}", dir);
    nemo_relay_exporter_t *x = NULL;
    EXPECT(new_atof(&x, config) == NEMO_RELAY_OK);
    char *path = NULL;
    size_t path_len = 0;
    EXPECT(nemo_relay_exporter_path(&path, &path_len, x) == NEMO_RELAY_OK);
    char expected_path[1100];
    snprintf(expected_path, sizeof expected_path, "%s/events.jsonl", dir);
    EXPECT(path && strcmp(path, expected_path) == 0);

    EXPECT(nemo_relay_exporter_register(x, rt, "atof") == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_register(x, rt, "atof") == NEMO_RELAY_E_ALREADY_EXISTS);
    EXPECT(strcmp(nemo_relay_last_error_message(), "already exists: atof subscriber already exists") == 0);
    EXPECT(nemo_relay_exporter_register(x, rt, "collect") == NEMO_RELAY_E_ALREADY_EXISTS);
    run_agent(rt);
    EXPECT(nemo_relay_flush(rt, 10000000000LL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_flush(x, 10000000000LL) == NEMO_RELAY_OK);

    size_t n = 0;
    char *file = read_file(path, &n);
    EXPECT(file != NULL);
    EXPECT(seen.count == 5);
    EXPECT(file && n == seen.len && memcmp(file, seen.buf, n) == 0);

    char *diag = NULL;
    size_t diag_len = 0;
    EXPECT(nemo_relay_exporter_diagnostics(&diag, &diag_len, x) == NEMO_RELAY_OK);
    char want[64];
    snprintf(want, sizeof want, "\"events_written\":%zu", seen.count);
    EXPECT(diag && strstr(diag, want) != NULL);
    EXPECT(diag && strstr(diag, "\"registrations\":[\"atof\"]") != NULL);
    nemo_relay_free(diag);

    bool removed = false;
    EXPECT(nemo_relay_exporter_deregister(&removed, x, rt, "atof") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_exporter_deregister(&removed, x, rt, "atof") == NEMO_RELAY_OK && !removed);
    EXPECT(nemo_relay_exporter_shutdown(x, 5000000000LL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_shutdown(x, 5000000000LL) == NEMO_RELAY_OK);
    nemo_relay_exporter_free(x);

    /* Append keeps what is there; overwrite truncates at creation. */
    snprintf(config, sizeof config, "{\"output_directory\":\"%s\",\"filename\":\"events.jsonl\"}", dir);
    EXPECT(new_atof(&x, config) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_register(x, rt, "again") == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, NULL, "appended", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_shutdown(x, 5000000000LL) == NEMO_RELAY_OK);
    nemo_relay_exporter_free(x);
    size_t n2 = 0;
    char *file2 = read_file(path, &n2);
    EXPECT(file2 && n2 > n && memcmp(file2, file, n) == 0 && strstr(file2 + n, "\"name\":\"appended\""));
    snprintf(config, sizeof config,
             "{\"output_directory\":\"%s\",\"filename\":\"events.jsonl\",\"mode\":\"overwrite\"}", dir);
    EXPECT(new_atof(&x, config) == NEMO_RELAY_OK);
    size_t n3 = 99;
    free(read_file(path, &n3));
    EXPECT(n3 == 0);
    nemo_relay_exporter_free(x);

    free(file);
    free(file2);
    nemo_relay_free(path);
    nemo_relay_runtime_free(rt);
    free(seen.buf);
    memset(&seen, 0, sizeof seen);
}

/* ---- errors and misuse ------------------------------------------------------------------------ */

static void test_errors(const char *dir) {
    nemo_relay_exporter_t *x = NULL;
    nemo_relay_exporter_options_t o;
    EXPECT(nemo_relay_exporter_options_init(NULL, 1) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_exporter_options_init(&o, 99) == NEMO_RELAY_E_VERSION);
    EXPECT(nemo_relay_exporter_options_init(&o, 1) == NEMO_RELAY_OK && o.config_json == NULL);
    o.version = 42;
    EXPECT(nemo_relay_atof_exporter_new(&x, &o) == NEMO_RELAY_E_VERSION);
    EXPECT(nemo_relay_atof_exporter_new(NULL, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(new_atof(&x, "{\"mode\":") == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(new_atof(&x, "[1]") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(new_atof(&x, "{\"sink_type\":\"socket\"}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: sink_type must be 'file' or 'stream'") == 0);
    EXPECT(new_atof(&x, "{\"outputdir\":\"x\"}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(new_atof(&x, "{\"sink_type\":\"stream\"}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: stream sink requires url") == 0);
    EXPECT(new_atof(&x, "{\"output_directory\":\"/proc/none\",\"filename\":\"f.jsonl\"}") == NEMO_RELAY_E_INTERNAL);
    EXPECT(strncmp(nemo_relay_last_error_message(), "failed to open ATOF output file \"/proc/none/f.jsonl\": ",
                   54) == 0);
    char config[1024];
    snprintf(config, sizeof config, "{\"output_directory\":\"%s\",\"filename\":\"../escape.jsonl\"}", dir);
    EXPECT(new_atof(&x, config) == NEMO_RELAY_E_INTERNAL);
    EXPECT(strstr(nemo_relay_last_error_message(), "must be a confined relative file path") != NULL);
    EXPECT(new_atif(&x, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(new_atif(&x, "{\"session_id\":\"s\"}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_atif_exporter_new(&x, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);

    /* Dead, foreign and NULL handles. */
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_flush(NULL, 0) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_exporter_register((nemo_relay_exporter_t *)rt, rt, "x") == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_exporter_register((nemo_relay_exporter_t *)(uintptr_t)0x19, rt, "x") == NEMO_RELAY_E_MISUSE);
    snprintf(config, sizeof config, "{\"output_directory\":\"%s\",\"filename\":\"m.jsonl\"}", dir);
    EXPECT(new_atof(&x, config) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_register(x, NULL, "x") == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_exporter_register(x, rt, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    char *out = NULL;
    size_t len = 0;
    EXPECT(nemo_relay_atif_exporter_export(&out, &len, x, 0) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_atif_exporter_clear(x) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_exporter_diagnostics(NULL, NULL, x) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_exporter_register(x, rt, "x") == NEMO_RELAY_OK);
    nemo_relay_exporter_free(x);
    /* Freed: the handle is dead, the registration is gone, nothing crashes. */
    EXPECT(nemo_relay_exporter_flush(x, 0) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_exporter_shutdown(x, 0) == NEMO_RELAY_E_MISUSE);
    nemo_relay_exporter_free(x);
    nemo_relay_exporter_free(NULL);
    EXPECT(nemo_relay_mark(rt, NULL, "after-free", NULL) == NEMO_RELAY_OK);
    bool removed = true;
    EXPECT(nemo_relay_subscriber_deregister(&removed, rt, NULL, "x") == NEMO_RELAY_OK && !removed);
    /* A stream sink to a dead port is created fine; its failure surfaces at flush, not at emission. */
    EXPECT(new_atof(&x, "{\"sink_type\":\"stream\",\"url\":\"http://127.0.0.1:9/e\",\"timeout_millis\":200,"
                        "\"max_attempts\":1}") == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_path(&out, &len, x) == NEMO_RELAY_E_NOT_FOUND);
    EXPECT(nemo_relay_exporter_register(x, rt, "dead") == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, NULL, "lost", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_flush(x, 10000000000LL) == NEMO_RELAY_E_INTERNAL);
    EXPECT(strstr(nemo_relay_last_error_message(), "dropped 1 event(s)") != NULL);
    EXPECT(nemo_relay_exporter_shutdown(x, 1000000000LL) == NEMO_RELAY_E_INTERNAL);
    nemo_relay_exporter_free(x);
    nemo_relay_runtime_free(rt);
}

/* ---- ATIF --------------------------------------------------------------------------------------- */

static void test_atif_live(void) {
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, NULL, NULL) == NEMO_RELAY_OK);
    static const char config[] = "{\"session_id\":\"s-1\",\"agent_name\":\"agent\",\"agent_version\":\"0.1\"}";
    nemo_relay_exporter_t *x = NULL;
    EXPECT(new_atif(&x, config) == NEMO_RELAY_OK);
    char *empty = NULL;
    size_t empty_len = 0;
    EXPECT(nemo_relay_atif_exporter_export(&empty, &empty_len, x, -1) == NEMO_RELAY_OK);
    EXPECT(empty && strcmp(empty, "{\"schema_version\":\"ATIF-v1.7\",\"session_id\":\"s-1\",\"trajectory_id\":"
                                  "\"s-1\",\"agent\":{\"name\":\"agent\",\"version\":\"0.1\"},\"steps\":[],"
                                  "\"final_metrics\":{\"total_steps\":0}}") == 0);
    nemo_relay_free(empty);
    EXPECT(nemo_relay_exporter_register(x, rt, "atif") == NEMO_RELAY_OK);
    run_agent(rt);
    char *traj = NULL;
    size_t traj_len = 0;
    EXPECT(nemo_relay_atif_exporter_export(&traj, &traj_len, x, 10000000000LL) == NEMO_RELAY_OK);
    EXPECT(traj && strstr(traj, "\"source\":\"user\",\"message\":\"hello\"") != NULL);
    EXPECT(traj && strstr(traj, "\"source\":\"agent\",\"message\":\"hi\"") != NULL);

    /* The pure function over the same events gives the same bytes. */
    EXPECT(nemo_relay_flush(rt, 10000000000LL) == NEMO_RELAY_OK);
    char *array = malloc(seen.len + 2);
    size_t a = 0;
    array[a++] = '[';
    for (size_t i = 0; i < seen.len; i++) array[a++] = seen.buf[i] == '\n' ? ',' : seen.buf[i];
    array[a - 1] = ']';
    char *pure = NULL;
    size_t pure_len = 0;
    EXPECT(nemo_relay_atif_trajectory(&pure, &pure_len, array, a, config, strlen(config)) == NEMO_RELAY_OK);
    EXPECT(pure && traj && pure_len == traj_len && memcmp(pure, traj, traj_len) == 0);
    nemo_relay_free(pure);
    pure = NULL;
    EXPECT(nemo_relay_atif_trajectory(&pure, &pure_len, S("{}"), config, strlen(config)) ==
           NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_atif_trajectory(&pure, &pure_len, S("[1,\"x\",null,{}]"), config, strlen(config)) ==
           NEMO_RELAY_OK);

    /* clear drops what was collected; the registration stays. */
    EXPECT(nemo_relay_atif_exporter_clear(x) == NEMO_RELAY_OK);
    char *after = NULL;
    size_t after_len = 0;
    EXPECT(nemo_relay_atif_exporter_export(&after, &after_len, x, -1) == NEMO_RELAY_OK);
    EXPECT(after && strstr(after, "\"steps\":[]") != NULL);
    nemo_relay_free(after);
    EXPECT(nemo_relay_exporter_shutdown(x, -1) == NEMO_RELAY_OK);
    nemo_relay_exporter_free(x);
    nemo_relay_free(traj);
    nemo_relay_free(pure);
    free(array);
    nemo_relay_runtime_free(rt);
    free(seen.buf);
    memset(&seen, 0, sizeof seen);
}

/* Golden cases from the reference: DIR/NAME.events.json, NAME.config.json, NAME.expected.json. */
static void test_atif_golden(const char *dir) {
    DIR *d = opendir(dir);
    EXPECT(d != NULL);
    if (!d) return;
    int cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *dot = strstr(e->d_name, ".events.json");
        if (!dot) continue;
        char base[512], path[1024];
        snprintf(base, sizeof base, "%.*s", (int)(dot - e->d_name), e->d_name);
        size_t ev_len = 0, cfg_len = 0, exp_len = 0;
        snprintf(path, sizeof path, "%s/%s.events.json", dir, base);
        char *events = read_file(path, &ev_len);
        snprintf(path, sizeof path, "%s/%s.config.json", dir, base);
        char *config = read_file(path, &cfg_len);
        snprintf(path, sizeof path, "%s/%s.expected.json", dir, base);
        char *expected = read_file(path, &exp_len);
        char *out = NULL;
        size_t out_len = 0;
        nemo_relay_status_t st = nemo_relay_atif_trajectory(&out, &out_len, events, ev_len, config, cfg_len);
        int same = st == NEMO_RELAY_OK && out_len == exp_len && memcmp(out, expected, exp_len) == 0;
        if (!same) fprintf(stderr, "ATIF golden case %s differs\n", base);
        EXPECT(same);
        cases++;
        nemo_relay_free(out);
        free(events), free(config), free(expected);
    }
    closedir(d);
    printf("ATIF golden cases: %d\n", cases);
    EXPECT(cases >= 20);
}

/* ---- OpenTelemetry ------------------------------------------------------------------------------ */

static nemo_relay_status_t new_otel(nemo_relay_exporter_t **out, const char *config) {
    nemo_relay_exporter_options_t o;
    nemo_relay_exporter_options_init(&o, NEMO_RELAY_EXPORTER_OPTIONS_VERSION);
    o.config_json = config;
    o.config_len = config ? strlen(config) : 0;
    return nemo_relay_otel_exporter_new(out, &o);
}

static void test_otel_file(const char *dir) {
    nemo_relay_exporter_t *x = NULL;
    EXPECT(new_otel(&x, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(new_otel(&x, "{\"type\":\"bogus\",\"endpoint\":\"http://127.0.0.1:4318\"}") ==
           NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(),
                  "invalid argument: type must be 'full', 'gen_ai', or 'openinference', got \"bogus\"") == 0);
    EXPECT(new_otel(&x, "{\"type\":\"full\",\"endpoint\":\"http://example.com:4318\"}") ==
           NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strstr(nemo_relay_last_error_message(), "require HTTPS") != NULL);
    EXPECT(new_otel(&x, "{\"type\":\"full\",\"endpoint\":\"https://example.com:4318\"}") ==
           NEMO_RELAY_E_INVALID_ARGUMENT);

    char config[1024];
    snprintf(config, sizeof config,
             "{\"type\":\"gen_ai\",\"output_directory\":\"%s\",\"filename\":\"spans.jsonl\","
             "\"service_name\":\"c-test\"}",
             dir);
    EXPECT(new_otel(&x, config) == NEMO_RELAY_OK);
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_exporter_register(x, rt, "otel") == NEMO_RELAY_OK);
    run_agent(rt);
    EXPECT(nemo_relay_exporter_flush(x, 10000000000LL) == NEMO_RELAY_OK);
    char path[1100];
    snprintf(path, sizeof path, "%s/spans.jsonl", dir);
    size_t n = 0;
    char *file = read_file(path, &n);
    EXPECT(file && strstr(file, "\"resourceSpans\"") != NULL);
    EXPECT(file && strstr(file, "\"stringValue\":\"c-test\"") != NULL);
    EXPECT(file && strstr(file, "\"name\":\"invoke_agent agent\"") != NULL);
    EXPECT(file && n > 0 && file[n - 1] == '\n');
    char *diag = NULL;
    size_t diag_len = 0;
    EXPECT(nemo_relay_exporter_diagnostics(&diag, &diag_len, x) == NEMO_RELAY_OK);
    EXPECT(diag && strstr(diag, "\"kind\":\"otel\"") && strstr(diag, "\"spans_exported\":2"));
    nemo_relay_free(diag);
    EXPECT(nemo_relay_exporter_shutdown(x, 5000000000LL) == NEMO_RELAY_OK);
    nemo_relay_exporter_free(x);
    free(file);
    nemo_relay_runtime_free(rt);
}

/* ---- crash safety ------------------------------------------------------------------------------- */

static void test_sigkill(const char *dir) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"output_directory\":\"%s\",\"filename\":\"killed.jsonl\",\"mode\":\"overwrite\"}", dir);
    pid_t pid = fork();
    if (pid == 0) {
        nemo_relay_runtime_t *rt = NULL;
        nemo_relay_exporter_t *x = NULL;
        if (nemo_relay_runtime_new(&rt, NULL) != NEMO_RELAY_OK || new_atof(&x, config) != NEMO_RELAY_OK ||
            nemo_relay_exporter_register(x, rt, "atof") != NEMO_RELAY_OK)
            _exit(2);
        nemo_relay_mark_options_t mo;
        nemo_relay_mark_options_init(&mo, NEMO_RELAY_MARK_OPTIONS_VERSION);
        mo.data = "{\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
        mo.data_len = strlen(mo.data);
        for (;;) nemo_relay_mark(rt, NULL, "tick", &mo);
    }
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char path[1100];
    snprintf(path, sizeof path, "%s/killed.jsonl", dir);
    /* The kill may land inside a write(2), leaving a torn last event (no newline); appending to the file
     * again drops it, so every line of the file is a whole event. */
    nemo_relay_exporter_t *again = NULL;
    snprintf(config, sizeof config, "{\"output_directory\":\"%s\",\"filename\":\"killed.jsonl\"}", dir);
    EXPECT(new_atof(&again, config) == NEMO_RELAY_OK);
    nemo_relay_exporter_free(again);
    size_t n = 0;
    char *file = read_file(path, &n);
    EXPECT(file != NULL && n > 0);
    if (!file) return;
    EXPECT(file[n - 1] == '\n');
    size_t lines = 0, bad = 0;
    for (char *line = file; line < file + n;) {
        char *nl = memchr(line, '\n', (size_t)(file + n - line));
        if (!nl) {
            bad++;
            break;
        }
        char *summary = NULL;
        size_t slen = 0;
        /* Any JSON parser will do: the chunk summary parses its input and fails on malformed JSON. */
        if (nemo_relay_chunk_summary(&summary, &slen, line, (size_t)(nl - line), 0) != NEMO_RELAY_OK) bad++;
        nemo_relay_free(summary);
        lines++;
        line = nl + 1;
    }
    printf("SIGKILL mid-run: %zu whole lines, %zu bad\n", lines, bad);
    EXPECT(lines > 10);
    EXPECT(bad == 0);
    free(file);
}

int main(int argc, char **argv) {
    char dir[] = "/tmp/nemo-relay-exporter-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    test_atof_file(dir);
    test_errors(dir);
    test_atif_live();
    test_otel_file(dir);
    if (argc > 1) test_atif_golden(argv[1]);
    test_sigkill(dir);
    return expect_summary();
}
