/* SPDX-License-Identifier: Apache-2.0 */
/* Operational logging (docs/logging.md) from C: invalid environments are refused with the reference's
 * texts, a configuration file's sinks receive the records of their level (file sinks buffered until
 * shutdown), rotation keeps the configured number of files, and a runtime without a log callback writes
 * its diagnostics to the operational log. Process-wide state: this test runs in a process of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"

static char dir[256];

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void clear_env(void) {
    unsetenv("NEMO_RELAY_LOG");
    unsetenv("NEMO_RELAY_LOG_STDERR");
    unsetenv("NEMO_RELAY_LOG_STDERR_FORMAT");
    unsetenv("NEMO_RELAY_LOG_CONFIG_PATH");
}

static void test_invalid_environments(void) {
    static const struct {
        const char *name, *value, *message;
    } cases[] = {
        {"NEMO_RELAY_LOG", "", "failed to initialize NeMo Relay operational logging: invalid argument: NEMO_RELAY_LOG must "
                               "not be empty when set"},
        {"NEMO_RELAY_LOG", "off", "failed to initialize NeMo Relay operational logging: invalid argument: invalid logging "
                                  "level 'off'; expected error, warn, info, debug, or trace"},
        {"NEMO_RELAY_LOG_STDERR_FORMAT", "xml", "failed to initialize NeMo Relay operational logging: invalid argument: "
                                                "invalid logging format 'xml'; expected human or jsonl"},
        {"NEMO_RELAY_LOG_CONFIG_PATH", "relative.toml", "failed to initialize NeMo Relay operational logging: invalid "
                                                        "argument: logging configuration path must be absolute: "
                                                        "relative.toml"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env();
        setenv(cases[i].name, cases[i].value, 1);
        EXPECT(nemo_relay_logging_init() == NEMO_RELAY_E_INVALID_ARGUMENT);
        EXPECT(strcmp(nemo_relay_last_error_message(), cases[i].message) == 0);
    }
    clear_env();
    /* Nothing is configured: records are dropped, emitting still validates its input. */
    EXPECT(nemo_relay_log_emit("error", "t", NULL, "dropped", NULL, 0) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_log_emit("loud", "t", NULL, "m", NULL, 0) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: invalid log level") == 0);
    EXPECT(nemo_relay_log_emit("info", "t", NULL, "m", S("[1]")) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: log fields must be an object") == 0);
    EXPECT(nemo_relay_log_emit(NULL, "t", NULL, "m", NULL, 0) == NEMO_RELAY_E_INVALID_ARGUMENT);
}

static nemo_relay_status_t bad_injector(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, "5", 1);
}

static void ignore_event(const char *json, size_t len, void *ud) { (void)json, (void)len, (void)ud; }

static void test_file_sinks(void) {
    char config[512], jsonl[300], human[300], rotated[300], text[2048];
    snprintf(config, sizeof config, "%s/logging.toml", dir);
    snprintf(jsonl, sizeof jsonl, "%s/sub/relay.jsonl", dir);
    snprintf(human, sizeof human, "%s/human.log", dir);
    snprintf(rotated, sizeof rotated, "%s/rot.jsonl", dir);
    snprintf(text, sizeof text,
             "[logging]\nlevel = \"debug\"\nstderr_enabled = false\nflush_interval_millis = 0\n\n"
             "[[logging.sinks]]\npath = \"%s\"\nlevel = \"debug\"\n\n"
             "[[logging.sinks]]\npath = \"%s\"\nformat = \"human\"\nlevel = \"warn\"\n\n"
             "[[logging.sinks]]\npath = \"%s\"\nlevel = \"debug\"\nmax_file_size_bytes = 300\nretained_files = 2\n",
             jsonl, human, rotated);
    write_file(config, text);
    clear_env();
    setenv("NEMO_RELAY_LOG_CONFIG_PATH", config, 1);
    EXPECT(nemo_relay_logging_init() == NEMO_RELAY_OK);
    EXPECT(nemo_relay_logging_init() == NEMO_RELAY_OK); /* a configuration is in force: no-op */
    EXPECT(file_size(jsonl) == 0);                      /* created (with its directory), buffered */
    EXPECT(nemo_relay_log_emit("debug", "c.test", "step", "debug record", S("{\"n\":1}")) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_log_emit("warning", "c.test", NULL, "warn record", NULL, 0) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_log_emit("trace", "c.test", NULL, "below every level", NULL, 0) == NEMO_RELAY_OK);
    for (int i = 0; i < 6; i++) EXPECT(nemo_relay_log_emit("info", "rot", NULL, "rotation filler", NULL, 0) == NEMO_RELAY_OK);

    /* A runtime without a log callback: an invalid injector result becomes a warn record. */
    nemo_relay_runtime_t *rt = NULL;
    nemo_relay_stack_t *st = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_new(&st, NULL) == NEMO_RELAY_OK);
    nemo_relay_callback_t inj = {bad_injector, NULL, NULL};
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "sink", ignore_event, NULL, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_METADATA_INJECTOR, "five", 0, 0, &inj) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, st, "m", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(rt, 5000000000LL) == NEMO_RELAY_OK);
    nemo_relay_stack_free(st);
    nemo_relay_runtime_free(rt);

    EXPECT(file_size(jsonl) == 0); /* flush_interval_millis = 0: nothing written before shutdown */
    nemo_relay_logging_shutdown();
    nemo_relay_logging_shutdown(); /* twice is fine */
    EXPECT(nemo_relay_log_emit("error", "c.test", NULL, "after shutdown", NULL, 0) == NEMO_RELAY_OK);

    char *j = slurp(jsonl);
    EXPECT(j != NULL && strstr(j, "\"event\":\"logging_initialized\",\"fields\":{\"file_sink_count\":3}") != NULL);
    EXPECT(j != NULL && strstr(j, "\"event\":\"step\",\"fields\":{\"n\":1},\"level\":\"debug\",\"message\":\"debug record\"") != NULL);
    EXPECT(j != NULL && strstr(j, "\"level\":\"warn\",\"message\":\"warn record\"") != NULL);
    EXPECT(j != NULL && strstr(j, "Event metadata injector 'five' returned invalid metadata: number") != NULL);
    EXPECT(j != NULL && strstr(j, "\"target\":\"nemo_relay.runtime\"") != NULL);
    EXPECT(j != NULL && strstr(j, "\"event\":\"logging_shutdown_started\"") != NULL);
    EXPECT(j != NULL && strstr(j, "below every level") == NULL && strstr(j, "after shutdown") == NULL);
    char *h = slurp(human);
    EXPECT(h != NULL && strstr(h, " WARN root=") != NULL && strstr(h, " target=c.test warn record\n") != NULL);
    EXPECT(h != NULL && strstr(h, "debug record") == NULL && strstr(h, "logging_initialized") == NULL);
    char r1[320], r2[320], r3[320];
    snprintf(r1, sizeof r1, "%s/rot.1.jsonl", dir);
    snprintf(r2, sizeof r2, "%s/rot.2.jsonl", dir);
    snprintf(r3, sizeof r3, "%s/rot.3.jsonl", dir);
    EXPECT(file_size(rotated) > 0 && file_size(rotated) <= 300);
    EXPECT(file_size(r1) > 0 && file_size(r1) <= 300 && file_size(r2) > 0 && file_size(r2) <= 300);
    EXPECT(file_size(r3) == -1);

    /* A new configuration after shutdown; a sink that cannot be opened fails the whole configuration. */
    snprintf(text, sizeof text, "[logging]\n[[logging.sinks]]\npath = \"%s/logging.toml/x.jsonl\"\n", dir);
    write_file(config, text);
    EXPECT(nemo_relay_logging_init() == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strstr(nemo_relay_last_error_message(), "failed to open logging sink") != NULL);
    clear_env();
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/nemo-relay-logging-test-%d", (int)getpid());
    mkdir(dir, 0755);
    test_invalid_environments();
    test_file_sinks();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return expect_summary();
}
