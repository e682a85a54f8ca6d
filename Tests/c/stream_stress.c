/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stress test of streaming LLM calls: THREADS threads each run STREAMS streams of CHUNKS chunks on one
 * runtime with two subscribers attached. Consumers take turns reading everything, closing early,
 * dropping the stream without closing, and stopping reading while the provider finishes later.
 *
 * Checks: every start event is matched by exactly one end event, the finalizer ran once per stream,
 * no event was dropped, every callback's user data was freed, and resident memory after the run is
 * within MEMORY_BOUND_MB of what it was after the first tenth of the streams.
 *
 * Usage: stream_stress [streams_per_thread] (default 1000).
 */
#define _POSIX_C_SOURCE 200809L
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define CHUNKS 50
#define MEMORY_BOUND_MB 32

/* Under a sanitizer freed memory sits in quarantine, so resident size says nothing about leaks
 * (LeakSanitizer checks those instead): the memory bound is checked only in plain builds. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHECK_MEMORY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CHECK_MEMORY 0
#endif
#endif
#ifndef CHECK_MEMORY
#define CHECK_MEMORY 1
#endif

static long streams_per_thread = 1000;

static long starts, ends, marks, finalized, cancels, freed, errors;
#define ADD(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void counting_subscriber(const char *json, size_t len, void *ud) {
    (void)ud;
    if (memmem(json, len, "\"name\":\"llm.chunk\"", 18)) {
        ADD(marks, 1);
    } else if (memmem(json, len, "\"scope_category\":\"start\"", 24)) {
        ADD(starts, 1);
    } else if (memmem(json, len, "\"scope_category\":\"end\"", 22)) {
        ADD(ends, 1);
    }
}

static void quiet_subscriber(const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
}

static void free_ud(void *ud) {
    (void)ud;
    ADD(freed, 1);
}

static const char chunk[] = "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
                            "{\"content\":\"token\"},\"finish_reason\":null}]}";
static const char request[] = "{\"headers\":{},\"content\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                              "\"content\":\"hi\"}]}}";

/* Per-stream provider state: pushes `now` chunks inside the callback, the rest later. */
struct job {
    int now;
    nemo_relay_token_t *token;
    nemo_relay_producer_t *producer;
};

static void on_cancel(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    if (status == NEMO_RELAY_E_CANCELLED) ADD(cancels, 1);
}

static nemo_relay_status_t provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct job *j = ud;
    if (nemo_relay_token_producer(&j->producer, t) != NEMO_RELAY_OK) return NEMO_RELAY_E_INTERNAL;
    j->token = t;
    nemo_relay_done_t c = {on_cancel, NULL, free_ud};
    nemo_relay_producer_on_cancel(j->producer, &c);
    for (int i = 0; i < j->now; i++)
        if (nemo_relay_stream_push(j->producer, chunk, sizeof chunk - 1) != NEMO_RELAY_OK) ADD(errors, 1);
    if (j->now == CHUNKS) {
        nemo_relay_producer_free(j->producer);
        j->producer = NULL;
        return nemo_relay_complete(t, NEMO_RELAY_OK, "null", 4);
    }
    return NEMO_RELAY_PENDING;
}

/* Pushes the remaining chunks and completes; pushes after a close report NEMO_RELAY_E_CANCELLED. */
static void finish_job(struct job *j, int expect_open) {
    for (int i = j->now; i < CHUNKS; i++) {
        nemo_relay_status_t rc = nemo_relay_stream_push(j->producer, chunk, sizeof chunk - 1);
        if (rc != (expect_open ? NEMO_RELAY_OK : NEMO_RELAY_E_CANCELLED)) ADD(errors, 1);
    }
    nemo_relay_status_t rc = nemo_relay_complete(j->token, NEMO_RELAY_OK, "null", 4);
    if (rc != (expect_open ? NEMO_RELAY_OK : NEMO_RELAY_E_MISUSE)) ADD(errors, 1);
    nemo_relay_producer_free(j->producer);
}

static nemo_relay_status_t finalizer(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    ADD(finalized, 1);
    return nemo_relay_complete(t, NEMO_RELAY_OK, "{\"done\":true}", 13);
}

static nemo_relay_status_t collector(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, "null", 4);
}

static int read_n(nemo_relay_stream_t *s, int n) {
    int got = 0;
    for (; got < n; got++) {
        char *out = NULL;
        size_t len = 0;
        if (nemo_relay_stream_next(&out, &len, s, 0) != NEMO_RELAY_OK || !out) break;
        nemo_relay_free(out);
    }
    return got;
}

static nemo_relay_runtime_t *rt;

static void run_one(nemo_relay_stack_t *stack, long i) {
    nemo_relay_stream_options_t so;
    nemo_relay_stream_options_init(&so, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    so.buffer_capacity = 64;
    so.collector = (nemo_relay_callback_t){collector, NULL, free_ud};
    so.finalizer = (nemo_relay_callback_t){finalizer, NULL, free_ud};
    int mode = (int)(i % 4);
    struct job j = {mode == 0 ? CHUNKS : CHUNKS / 2, NULL, NULL};
    nemo_relay_callback_t prov = {provider, &j, free_ud};
    nemo_relay_stream_t *s = NULL;
    if (nemo_relay_llm_stream_execute(&s, rt, stack, "openai", request, sizeof request - 1, NULL, &so, &prov) !=
        NEMO_RELAY_OK) {
        ADD(errors, 1);
        return;
    }
    switch (mode) {
    case 0: /* reads everything */
        if (read_n(s, CHUNKS + 1) != CHUNKS) ADD(errors, 1);
        break;
    case 1: /* closes early, then the provider tries to go on */
        read_n(s, 5);
        nemo_relay_stream_close(s);
        finish_job(&j, 0);
        break;
    case 2: /* drops the stream without closing it */
        read_n(s, 5);
        nemo_relay_stream_free(s);
        s = NULL;
        finish_job(&j, 0);
        break;
    case 3: /* stops reading; the provider finishes anyway */
        read_n(s, 3);
        finish_job(&j, 1);
        break;
    }
    nemo_relay_stream_free(s);
}

static long resident_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static pthread_barrier_t warm;
static long rss_after_warmup;

static void *worker(void *arg) {
    (void)arg;
    nemo_relay_stack_t *stack;
    nemo_relay_stack_new(&stack, NULL);
    long warmup = streams_per_thread / 10;
    for (long i = 0; i < streams_per_thread; i++) {
        if (i == warmup) {
            /* Everyone finished the first tenth: measure the baseline once. */
            if (pthread_barrier_wait(&warm) == PTHREAD_BARRIER_SERIAL_THREAD) {
                nemo_relay_flush(rt, -1);
                rss_after_warmup = resident_kb();
            }
            pthread_barrier_wait(&warm);
        }
        run_one(stack, i);
        if (i % 100 == 99) nemo_relay_flush(rt, -1);
    }
    nemo_relay_stack_free(stack);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) streams_per_thread = atol(argv[1]);
    if (streams_per_thread < 10) streams_per_thread = 10;
    nemo_relay_runtime_options_t ro;
    nemo_relay_runtime_options_init(&ro, NEMO_RELAY_RUNTIME_OPTIONS_VERSION);
    nemo_relay_runtime_new(&rt, &ro);
    nemo_relay_subscriber_register(rt, NULL, "count", counting_subscriber, NULL, NULL);
    nemo_relay_subscriber_register(rt, NULL, "quiet", quiet_subscriber, NULL, NULL);

    pthread_barrier_init(&warm, NULL, THREADS);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    nemo_relay_flush(rt, -1);
    long rss_end = resident_kb();
    uint64_t dropped = 0;
    nemo_relay_dropped_events(&dropped, rt);
    nemo_relay_runtime_free(rt);

    long total = THREADS * streams_per_thread;
    /* Marks: mode 0 and 3 push every chunk, modes 1 and 2 half of them before the close. */
    long expected_marks = 0;
    for (long i = 0; i < streams_per_thread; i++) expected_marks += (i % 4 == 0 || i % 4 == 3) ? CHUNKS : CHUNKS / 2;
    expected_marks *= THREADS;
    long expected_cancels = 0;
    for (long i = 0; i < streams_per_thread; i++) expected_cancels += (i % 4 == 1 || i % 4 == 2);
    expected_cancels *= THREADS;
    long growth_kb = rss_end - rss_after_warmup;
    printf("streams %ld x %d chunks on %d threads: starts %ld, ends %ld, marks %ld/%ld, finalizer calls %ld, "
           "cancel notices %ld/%ld, user data freed %ld/%ld, dropped %llu, errors %ld\n",
           total, CHUNKS, THREADS, GET(starts), GET(ends), GET(marks), expected_marks, GET(finalized), GET(cancels),
           expected_cancels, GET(freed), total * 4, (unsigned long long)dropped, GET(errors));
    printf("resident memory: %ld KB after the first tenth, %ld KB at the end (growth %ld KB, bound %d MB%s)\n",
           rss_after_warmup, rss_end, growth_kb, MEMORY_BOUND_MB, CHECK_MEMORY ? "" : ", not checked under a sanitizer");
    int ok = GET(starts) == total && GET(ends) == total && GET(marks) == expected_marks &&
             GET(finalized) == total && GET(cancels) == expected_cancels && GET(freed) == total * 4 &&
             dropped == 0 && GET(errors) == 0 && (!CHECK_MEMORY || growth_kb < MEMORY_BOUND_MB * 1024L);
    printf("%s\n", ok ? "stress: OK" : "stress: FAILED");
    return ok ? 0 : 1;
}
