/* SPDX-License-Identifier: Apache-2.0 */
/* Resident memory over N managed LLM calls (one subscriber that keeps up, one request intercept): prints
 * the RSS after each tenth of the calls, so growth shows as a rising column. Numbers, not assertions.
 *   rss [calls]   (default 1,000,000) */
#include "nemo_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define S(lit) lit, (sizeof lit - 1)

static nemo_relay_status_t provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"id\":\"r\",\"choices\":[]}"));
}
static nemo_relay_status_t pass_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, json, len);
}
static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    if (status != NEMO_RELAY_OK) { fprintf(stderr, "call failed: %d\n", status); exit(1); }
    ++*(long *)ud;
}
static void sink(const char *json, size_t len, void *ud) { (void)json; (void)len; (void)ud; }

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    if (n < 10) n = 10;
    static const char request[] = "{\"headers\":{},\"content\":{\"model\":\"gpt-4o\","
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}}";
    nemo_relay_runtime_t *rt = NULL;
    nemo_relay_stack_t *st = NULL;
    if (nemo_relay_runtime_new(&rt, NULL) != NEMO_RELAY_OK || nemo_relay_stack_new(&st, NULL) != NEMO_RELAY_OK) {
        fprintf(stderr, "setup failed: %s\n", nemo_relay_last_error_message());
        return 1;
    }
    nemo_relay_callback_t ic = {pass_intercept, NULL, NULL};
    nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "pass", 0, 0, &ic);
    nemo_relay_subscriber_register(rt, NULL, "sink", sink, NULL, NULL);
    long ok = 0;
    nemo_relay_callback_t p = {provider, NULL, NULL};
    nemo_relay_done_t d = {on_done, &ok, NULL};
    printf("C: RSS over %ld managed llm_execute calls (one request intercept, one subscriber)\n", n);
    printf("%12s %10s\n", "calls", "RSS MB");
    printf("%12d %10.1f\n", 0, rss_mb());
    for (int tenth = 1; tenth <= 10; tenth++) {
        for (long i = 0; i < n / 10; i++) nemo_relay_llm_execute(NULL, rt, st, "openai", S(request), NULL, &p, &d);
        nemo_relay_flush(rt, -1);
        printf("%12ld %10.1f\n", tenth * (n / 10), rss_mb());
    }
    if (ok != n / 10 * 10) { fprintf(stderr, "only %ld calls succeeded\n", ok); return 1; }
    nemo_relay_stack_free(st);
    nemo_relay_runtime_free(rt);
    return 0;
}
