/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exercises every export of nemo_relay.h as an outside C client would: success paths, the
 * completion protocol (now, later from another thread, twice, after cancellation) and misuse
 * (NULL, freed and foreign handles, invalid JSON, wrong versions, out-of-order ends).
 */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

/* ---- event collection ---- */

struct events {
    pthread_mutex_t lock;
    int count;
    char buf[1 << 16];
    size_t used;
};

static void collect(const char *json, size_t len, void *ud) {
    struct events *e = (struct events *)ud;
    pthread_mutex_lock(&e->lock);
    e->count++;
    if (e->used + len + 2 < sizeof e->buf) {
        memcpy(e->buf + e->used, json, len);
        e->used += len;
        e->buf[e->used++] = '\n';
        e->buf[e->used] = 0;
    }
    pthread_mutex_unlock(&e->lock);
}

struct batches {
    pthread_mutex_t lock;
    size_t events, newlines, calls;
};

static void collect_batch(const char *jsonl, size_t len, size_t count, void *ud) {
    struct batches *b = (struct batches *)ud;
    pthread_mutex_lock(&b->lock);
    b->calls++;
    b->events += count;
    for (size_t i = 0; i < len; i++) b->newlines += jsonl[i] == '\n';
    pthread_mutex_unlock(&b->lock);
}

static int freed_count;
static void count_free(void *p) {
    (void)p;
    __sync_fetch_and_add(&freed_count, 1);
}

/* ---- callbacks ---- */

static nemo_relay_status_t echo_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"ok\":true,\"big\":18446744073709551615}"));
}

static nemo_relay_status_t failing_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    nemo_relay_complete(t, NEMO_RELAY_E_CALLBACK, S("{\"type\":\"ConnectionError\",\"message\":\"upstream timeout\"}"));
    return NEMO_RELAY_E_CALLBACK;
}

static nemo_relay_status_t empty_error_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    nemo_relay_complete(t, NEMO_RELAY_E_CALLBACK, S("{\"type\":\"ValueError\",\"message\":\"\"}"));
    return NEMO_RELAY_E_CALLBACK;
}

static nemo_relay_status_t lazy_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)t; (void)json; (void)len; (void)ud;
    return NEMO_RELAY_OK; /* forgot to complete: a failure */
}

static nemo_relay_token_t *parked;
static nemo_relay_status_t parking_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    parked = t;
    return NEMO_RELAY_PENDING;
}

static void *complete_parked(void *arg) {
    (void)arg;
    usleep(1000);
    nemo_relay_status_t rc = nemo_relay_complete(parked, NEMO_RELAY_OK, S("{\"late\":1}"));
    return (void *)(intptr_t)rc;
}

struct outcome {
    volatile int calls;
    nemo_relay_status_t status;
    char text[1024];
};

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct outcome *o = (struct outcome *)ud;
    o->calls++;
    o->status = status;
    if (len >= sizeof o->text) len = sizeof o->text - 1;
    memcpy(o->text, json, len);
    o->text[len] = 0;
}

static nemo_relay_status_t reject_secret(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (memmem(json, len, "secret", 6)) return nemo_relay_complete(t, NEMO_RELAY_OK, S("\"mentions a secret\""));
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}

/* Execution intercept calling next twice, returning the second result. */
struct twice { nemo_relay_token_t *token; int seen; };
static void twice_inner_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct twice *tw = (struct twice *)ud;
    tw->seen++;
    if (tw->seen == 2) nemo_relay_complete(tw->token, status, json, len);
}
static nemo_relay_status_t twice_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    static struct twice tw;
    tw.token = t;
    tw.seen = 0;
    /* input is {"name","request","context"}; pass the request inward untouched via a fixed request */
    (void)json; (void)len;
    nemo_relay_done_t d = {twice_inner_done, &tw, NULL};
    nemo_relay_token_next(t, S("{\"headers\":{},\"content\":{\"n\":1}}"), &d);
    nemo_relay_token_next(t, S("{\"headers\":{},\"content\":{\"n\":2}}"), &d);
    return NEMO_RELAY_PENDING;
}

static nemo_relay_status_t tool_ok(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "{\"result\":%.*s}", (int)len, json);
    return nemo_relay_complete(t, NEMO_RELAY_OK, buf, (size_t)n);
}


static nemo_relay_status_t add_header_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK,
        S("{\"request\":{\"headers\":{\"x-tenant\":\"t1\"},\"content\":{\"messages\":[]}},"
          "\"pending_marks\":[{\"name\":\"tagged\",\"severity\":\"info\"}]}"));
}

static nemo_relay_status_t upper_args(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"q\":\"REWRITTEN\"}"));
}

static int log_lines;
static void on_log(int32_t level, const char *msg, size_t len, void *ud) {
    (void)level; (void)msg; (void)len; (void)ud;
    __sync_fetch_and_add(&log_lines, 1);
}

static nemo_relay_status_t failing_sanitizer(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)t; (void)json; (void)len; (void)ud;
    return NEMO_RELAY_E_CALLBACK;
}

/* A custom codec whose decode annotates {"messages": [], "custom": true} and whose encode keeps the original. */
static nemo_relay_status_t custom_decode(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"messages\":[],\"custom\":true}"));
}
static nemo_relay_status_t custom_encode(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    const char *orig = strstr(json, "\"original\":");
    if (!orig) return NEMO_RELAY_E_CALLBACK;
    orig += strlen("\"original\":");
    size_t n = (size_t)(json + len - orig) - 1; /* drop the enclosing object's closing brace */
    return nemo_relay_complete(t, NEMO_RELAY_OK, orig, n);
}

static nemo_relay_runtime_t *exit_rt;
static struct events exit_ev = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, 0};
static void flush_at_exit(void) {
    /* flush is safe from an atexit handler; it must not hang */
    if (nemo_relay_flush(exit_rt, 2000000000LL) != NEMO_RELAY_OK) _exit(3);
    nemo_relay_runtime_free(exit_rt);
}

static void slow_collect(const char *json, size_t len, void *ud) {
    (void)json, (void)len;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ++*(int *)ud;
}

/* Regression: a huge timeout is a deadline far away, not one that already passed (it overflowed). */
static void test_huge_timeouts(void) {
    nemo_relay_runtime_t *rt = NULL;
    int delivered = 0;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "slow", slow_collect, &delivered, NULL) == NEMO_RELAY_OK);
    for (int i = 0; i < 3; i++) EXPECT(nemo_relay_mark(rt, NULL, "m", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(rt, INT64_MAX) == NEMO_RELAY_OK);
    EXPECT(delivered == 3);
    EXPECT(nemo_relay_flush(rt, INT64_MAX - 1) == NEMO_RELAY_OK);
    nemo_relay_runtime_free(rt);
}

/* Regression: a scope handle of runtime A used on runtime B is refused (A would see a start with no end). */
static void test_foreign_scopes(void) {
    nemo_relay_runtime_t *a = NULL, *b = NULL;
    EXPECT(nemo_relay_runtime_new(&a, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_runtime_new(&b, NULL) == NEMO_RELAY_OK);
    nemo_relay_stack_t *sa = NULL, *sb = NULL;
    EXPECT(nemo_relay_stack_new(&sa, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_new(&sb, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_t *scope_a = NULL, *child = NULL;
    EXPECT(nemo_relay_scope_begin(&scope_a, a, sa, "a", NEMO_RELAY_SCOPE_AGENT, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(b, sa, scope_a, NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(strcmp(nemo_relay_last_error_message(), "misuse: scope handle belongs to another runtime") == 0);
    nemo_relay_scope_options_t so;
    nemo_relay_scope_options_init(&so, NEMO_RELAY_SCOPE_OPTIONS_VERSION);
    so.parent = scope_a;
    EXPECT(nemo_relay_scope_begin(&child, b, sb, "child", NEMO_RELAY_SCOPE_FUNCTION, &so) == NEMO_RELAY_E_MISUSE);
    EXPECT(child == NULL);
    nemo_relay_mark_options_t mo;
    nemo_relay_mark_options_init(&mo, NEMO_RELAY_MARK_OPTIONS_VERSION);
    mo.parent = scope_a;
    EXPECT(nemo_relay_mark(b, sb, "m", &mo) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_subscriber_register(b, scope_a, "s", collect, NULL, NULL) == NEMO_RELAY_E_MISUSE);
    /* A stack's implicit root belongs to no runtime; the owning runtime still works. */
    nemo_relay_scope_t *root = NULL;
    EXPECT(nemo_relay_scope_current(&root, sb) == NEMO_RELAY_OK);
    so.parent = root;
    EXPECT(nemo_relay_scope_begin(&child, b, sb, "child", NEMO_RELAY_SCOPE_FUNCTION, &so) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(b, sb, child, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(a, sa, scope_a, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_free(child);
    nemo_relay_scope_free(root);
    nemo_relay_scope_free(scope_a);
    nemo_relay_stack_free(sa);
    nemo_relay_stack_free(sb);
    nemo_relay_runtime_free(a);
    nemo_relay_runtime_free(b);
}

/* Regression: handle values are not small guessable integers. */
static void test_guessed_handles(void) {
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    for (uintptr_t guess = 1; guess < 4096; guess++) nemo_relay_runtime_free((nemo_relay_runtime_t *)guess);
    EXPECT(nemo_relay_mark(rt, NULL, "still alive", NULL) == NEMO_RELAY_OK);
    EXPECT((uintptr_t)rt >= ((uintptr_t)1 << 28));
    nemo_relay_runtime_free(rt);
}

/* Regression: JSON object keys are bytes; canonically equivalent keys never merge (issue 13, item 5). */
static void test_keys_are_bytes(void) {
    static struct events ev;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.lock, NULL);
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "keys", collect, &ev, NULL) == NEMO_RELAY_OK);
    nemo_relay_mark_options_t mo;
    nemo_relay_mark_options_init(&mo, NEMO_RELAY_MARK_OPTIONS_VERSION);
    /* "\u00e9" escaped, and "e" + U+0301 as raw UTF-8, then "-0". */
    mo.data = "{\"\\u00e9\":1,\"e\xcc\x81\":2,\"z\":-0}";
    mo.data_len = strlen(mo.data);
    EXPECT(nemo_relay_mark(rt, NULL, "keys", &mo) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(rt, -1) == NEMO_RELAY_OK);
    EXPECT(strstr(ev.buf, "\"data\":{\"e\xcc\x81\":2,\"z\":-0.0,\"\xc3\xa9\":1}") != NULL);
    nemo_relay_runtime_free(rt);
}

static nemo_relay_status_t never_answers(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)t, (void)json, (void)len, (void)ud;
    return NEMO_RELAY_PENDING; /* and never completes the token */
}

/* Regression: a standalone codec call with a custom codec that never answers no longer blocks forever
 * (issue 13, item 9): it returns NEMO_RELAY_E_TIMEOUT after 10 s. */
static void test_codec_that_never_answers(void) {
    nemo_relay_codec_callbacks_t cc;
    memset(&cc, 0, sizeof cc);
    cc.version = NEMO_RELAY_CODEC_CALLBACKS_VERSION;
    cc.decode = (nemo_relay_callback_t){never_answers, NULL, NULL};
    cc.encode = (nemo_relay_callback_t){never_answers, NULL, NULL};
    nemo_relay_codec_t *codec = NULL;
    EXPECT(nemo_relay_codec_new(&codec, "silent", &cc) == NEMO_RELAY_OK);
    char *out = NULL;
    size_t len = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    EXPECT(nemo_relay_codec_decode(&out, &len, codec, S("{\"headers\":{},\"content\":{}}")) == NEMO_RELAY_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    EXPECT(strstr(nemo_relay_last_error_message(), "did not answer within 10 s") != NULL);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    EXPECT(took >= 9.5 && took < 30);
    EXPECT(out == NULL);
    nemo_relay_codec_free(codec);
}

#if !defined(__SANITIZE_ADDRESS__)
static void quiet_subscriber(const char *json, size_t len, void *ud) { (void)json, (void)len, (void)ud; }
#endif

/* Regression (issue 13, item 2): when a subscriber's delivery thread cannot be created, registration
 * fails with a status instead of leaving a subscriber whose events silently vanish. Runs in a child
 * process whose address space is capped so thread stacks run out (not under AddressSanitizer, which
 * needs a huge address space of its own). */
static void test_thread_exhaustion(void) {
#if defined(__SANITIZE_ADDRESS__)
    return;
#else
    pid_t pid = fork();
    if (pid == 0) {
        nemo_relay_runtime_t *rt = NULL;
        if (nemo_relay_runtime_new(&rt, NULL) != NEMO_RELAY_OK) _exit(2);
        struct rlimit lim = {(rlim_t)1 << 30, (rlim_t)1 << 30}; /* 1 GiB: room for ~100 8 MiB stacks */
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
        for (int i = 0; i < 4000; i++) {
            char name[32];
            snprintf(name, sizeof name, "s%d", i);
            nemo_relay_status_t st = nemo_relay_subscriber_register(rt, NULL, name, quiet_subscriber, NULL, NULL);
            if (st == NEMO_RELAY_OK) continue;
            _exit(st == NEMO_RELAY_E_INTERNAL &&
                          strstr(nemo_relay_last_error_message(), "cannot start the delivery thread") != NULL
                      ? 0
                      : 4);
        }
        _exit(5); /* every registration claimed success: some of them cannot deliver */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
}

/* The fork() contract (docs/abi.md, "fork()"): a child that creates a new runtime gets a working one (its
 * subscriber's delivery thread runs and flush returns), while the parent's runtime keeps delivering. */
static void test_fork_child_makes_a_new_runtime(void) {
    nemo_relay_runtime_t *parent_rt = NULL;
    static struct events parent_ev = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, 0};
    EXPECT(nemo_relay_runtime_new(&parent_rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(parent_rt, NULL, "p", collect, &parent_ev, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(parent_rt, NULL, "before-fork", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(parent_rt, 10000000000LL) == NEMO_RELAY_OK);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        static struct events child_ev = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, 0};
        nemo_relay_runtime_t *rt = NULL;
        if (nemo_relay_runtime_new(&rt, NULL) != NEMO_RELAY_OK) _exit(2);
        if (nemo_relay_subscriber_register(rt, NULL, "c", collect, &child_ev, NULL) != NEMO_RELAY_OK) _exit(3);
        if (nemo_relay_mark(rt, NULL, "in-child", NULL) != NEMO_RELAY_OK) _exit(4);
        if (nemo_relay_flush(rt, 10000000000LL) != NEMO_RELAY_OK) _exit(5);
        pthread_mutex_lock(&child_ev.lock);
        int ok = child_ev.count == 1 && strstr(child_ev.buf, "in-child") != NULL;
        pthread_mutex_unlock(&child_ev.lock);
        nemo_relay_runtime_free(rt);
        _exit(ok ? 0 : 6);
    }
    EXPECT(pid > 0);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT(nemo_relay_mark(parent_rt, NULL, "after-fork", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(parent_rt, 10000000000LL) == NEMO_RELAY_OK);
    pthread_mutex_lock(&parent_ev.lock);
    EXPECT(parent_ev.count == 2 && strstr(parent_ev.buf, "after-fork") != NULL);
    pthread_mutex_unlock(&parent_ev.lock);
    nemo_relay_runtime_free(parent_rt);
}

static int shutdown_frees;
static nemo_relay_status_t parks_forever(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)t, (void)json, (void)len, (void)ud;
    return NEMO_RELAY_PENDING; /* never completed by the provider */
}
static void shutdown_free(void *ud) {
    (void)ud;
    shutdown_frees++;
}
static void record_status(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json, (void)len;
    *(nemo_relay_status_t *)ud = status;
}

/* Regression (issue 13, item 9): freeing a runtime with managed calls still pending ends them: their end
 * events are recorded, their done callbacks run with NEMO_RELAY_E_CANCELLED and their user data is freed. */
static void test_pending_calls_at_runtime_free(void) {
    static struct events ev;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.lock, NULL);
    shutdown_frees = 0;
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "ends", collect, &ev, NULL) == NEMO_RELAY_OK);
    nemo_relay_status_t llm_status = -99, tool_status = -99;
    nemo_relay_callback_t provider = {parks_forever, NULL, shutdown_free};
    nemo_relay_done_t llm_done = {record_status, &llm_status, shutdown_free};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "parked-llm", S("{\"headers\":{},\"content\":{}}"), NULL,
                                  &provider, &llm_done) == NEMO_RELAY_OK);
    nemo_relay_callback_t tool = {parks_forever, NULL, shutdown_free};
    nemo_relay_done_t tool_done = {record_status, &tool_status, shutdown_free};
    EXPECT(nemo_relay_tool_execute(NULL, rt, NULL, "parked-tool", S("{}"), NULL, &tool, &tool_done) ==
           NEMO_RELAY_OK);
    EXPECT(llm_status == -99 && tool_status == -99);
    nemo_relay_runtime_free(rt);
    EXPECT(llm_status == NEMO_RELAY_E_CANCELLED);
    EXPECT(tool_status == NEMO_RELAY_E_CANCELLED);
    EXPECT(shutdown_frees == 4);
    EXPECT(strstr(ev.buf, "\"name\":\"parked-llm\",") != NULL);
    const char *llm_end = strstr(ev.buf, "\"scope_category\":\"end\"");
    EXPECT(llm_end != NULL);
    int ends = 0;
    for (const char *p = ev.buf; (p = strstr(p, "\"scope_category\":\"end\"")) != NULL; p++) ends++;
    EXPECT(ends == 2);
}

/* ---- nemo_relay_token_on_cancel ---- */

/* One notice's record: how often `fn` and `user_data_free` ran, in which order, and what `fn` got. */
struct notice {
    int fired, freed, order_fired, order_freed, order_done;
    nemo_relay_status_t status;
    char text[128];
};
static int notice_clock;
static void notice_fn(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct notice *n = (struct notice *)ud;
    __atomic_fetch_add(&n->fired, 1, __ATOMIC_SEQ_CST);
    n->order_fired = ++notice_clock;
    n->status = status;
    if (len >= sizeof n->text) len = sizeof n->text - 1;
    memcpy(n->text, json, len);
    n->text[len] = 0;
}
static void notice_free(void *ud) {
    struct notice *n = (struct notice *)ud;
    __atomic_fetch_add(&n->freed, 1, __ATOMIC_SEQ_CST);
    n->order_freed = ++notice_clock;
}
static void notice_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json, (void)len;
    struct notice *n = (struct notice *)ud;
    n->status = status;
    n->order_done = ++notice_clock;
}

static nemo_relay_token_t *parked_intercept;
static nemo_relay_status_t parking_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    parked_intercept = t;
    return NEMO_RELAY_PENDING;
}

static struct notice abandoned_next;
static nemo_relay_status_t abandoning_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    /* Starts the inner layers (the provider parks), then answers without waiting for them. */
    EXPECT(nemo_relay_token_next(t, S("{\"headers\":{},\"content\":{}}"),
                                 &(nemo_relay_done_t){notice_done, &abandoned_next, NULL}) == NEMO_RELAY_OK);
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"short\":1}"));
}

static nemo_relay_token_t *race_token;
static void *race_complete(void *arg) {
    (void)arg;
    return (void *)(intptr_t)nemo_relay_complete(race_token, NEMO_RELAY_OK, S("{}"));
}
static void *race_cancel(void *arg) {
    nemo_relay_call_cancel((nemo_relay_call_t *)arg);
    return NULL;
}

/* The general cancellation notice: the caller's cancellation, a completion (never notified), the
 * runtime freed, a closed stream, an already-cancelled token, misuse, and a cancel racing a completion. */
static void test_token_on_cancel(void) {
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    const char req[] = "{\"headers\":{},\"content\":{}}";

    /* 1. The caller cancels: the notice runs once, before the done callback, then its destructor. */
    {
        struct notice n = {0}, late = {0};
        struct notice done_rec = {0};
        nemo_relay_call_t *call = NULL;
        nemo_relay_callback_t provider = {parking_provider, NULL, NULL};
        nemo_relay_done_t done = {notice_done, &done_rec, NULL};
        parked = NULL;
        EXPECT(nemo_relay_llm_execute(&call, rt, NULL, "cancelled", S(req), NULL, &provider, &done) == NEMO_RELAY_OK);
        EXPECT(parked != NULL);
        nemo_relay_done_t notice = {notice_fn, &n, notice_free};
        EXPECT(nemo_relay_token_on_cancel(parked, &notice) == NEMO_RELAY_OK);
        EXPECT(n.fired == 0 && n.freed == 0);
        EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_OK);
        EXPECT(n.fired == 1 && n.freed == 1);
        EXPECT(n.status == NEMO_RELAY_E_CANCELLED && strcmp(n.text, "cancelled") == 0);
        EXPECT(done_rec.status == NEMO_RELAY_E_CANCELLED);
        EXPECT(n.order_fired < done_rec.order_done && n.order_fired < n.order_freed);
        /* Already cancelled (not yet completed): a new notice runs at once, on this thread. */
        nemo_relay_done_t again = {notice_fn, &late, notice_free};
        EXPECT(nemo_relay_token_on_cancel(parked, &again) == NEMO_RELAY_OK);
        EXPECT(late.fired == 1 && late.freed == 1 && late.status == NEMO_RELAY_E_CANCELLED);
        EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_OK);
        EXPECT(n.fired == 1);
        EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{}")) == NEMO_RELAY_E_MISUSE);
        nemo_relay_call_free(call);
    }

    /* 2. The token completes: the notice never runs, its destructor does; later notices are refused. */
    {
        struct notice n = {0}, after = {0};
        struct notice done_rec = {0};
        nemo_relay_call_t *call = NULL;
        nemo_relay_callback_t provider = {parking_provider, NULL, NULL};
        nemo_relay_done_t done = {notice_done, &done_rec, NULL};
        EXPECT(nemo_relay_llm_execute(&call, rt, NULL, "completed", S(req), NULL, &provider, &done) == NEMO_RELAY_OK);
        nemo_relay_done_t notice = {notice_fn, &n, notice_free};
        EXPECT(nemo_relay_token_on_cancel(parked, &notice) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{\"ok\":1}")) == NEMO_RELAY_OK);
        EXPECT(done_rec.status == NEMO_RELAY_OK);
        EXPECT(n.fired == 0 && n.freed == 1);
        EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_OK); /* finished: nothing happens */
        EXPECT(n.fired == 0);
        nemo_relay_done_t late = {notice_fn, &after, notice_free};
        EXPECT(nemo_relay_token_on_cancel(parked, &late) == NEMO_RELAY_E_MISUSE);
        EXPECT(after.fired == 0 && after.freed == 1);
        nemo_relay_call_free(call);
    }

    /* 3. Misuse: NULL notice, NULL fn (its user data is freed), bad token (freed at once). */
    {
        struct notice n = {0};
        EXPECT(nemo_relay_token_on_cancel(NULL, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
        nemo_relay_done_t no_fn = {NULL, &n, notice_free};
        EXPECT(nemo_relay_token_on_cancel(NULL, &no_fn) == NEMO_RELAY_E_INVALID_ARGUMENT);
        EXPECT(n.freed == 1);
        nemo_relay_done_t notice = {notice_fn, &n, notice_free};
        EXPECT(nemo_relay_token_on_cancel(NULL, &notice) == NEMO_RELAY_E_MISUSE);
        EXPECT(nemo_relay_token_on_cancel((nemo_relay_token_t *)(uintptr_t)0x12345, &notice) == NEMO_RELAY_E_MISUSE);
        EXPECT(n.fired == 0 && n.freed == 3);
    }

    /* 4. An execution intercept's token and the provider's are both revoked by the caller's cancel;
     *    several notices on one token run in the order added. */
    {
        struct notice a = {0}, b = {0}, done_rec = {0};
        EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "park", 0, 0,
                                   &(nemo_relay_callback_t){parking_intercept, NULL, NULL}) == NEMO_RELAY_OK);
        nemo_relay_call_t *call = NULL;
        nemo_relay_callback_t provider = {echo_provider, NULL, NULL};
        nemo_relay_done_t done = {notice_done, &done_rec, NULL};
        parked_intercept = NULL;
        EXPECT(nemo_relay_llm_execute(&call, rt, NULL, "intercepted", S(req), NULL, &provider, &done) == NEMO_RELAY_OK);
        EXPECT(parked_intercept != NULL);
        EXPECT(nemo_relay_token_on_cancel(parked_intercept, &(nemo_relay_done_t){notice_fn, &a, notice_free}) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_token_on_cancel(parked_intercept, &(nemo_relay_done_t){notice_fn, &b, notice_free}) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_OK);
        EXPECT(a.fired == 1 && b.fired == 1 && a.order_fired < b.order_fired);
        EXPECT(a.freed == 1 && b.freed == 1 && done_rec.status == NEMO_RELAY_E_CANCELLED);
        bool removed = false;
        EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "park") == NEMO_RELAY_OK);
        EXPECT(removed);
        nemo_relay_call_free(call);
    }

    /* 4b. An execution intercept that settles without waiting for `next` abandons the inner layers:
     *     the provider's pending token is revoked and `next`'s done reports the cancellation. */
    {
        struct notice n = {0}, done_rec = {0};
        memset(&abandoned_next, 0, sizeof abandoned_next);
        EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "abandon", 0, 0,
                                   &(nemo_relay_callback_t){abandoning_intercept, NULL, NULL}) == NEMO_RELAY_OK);
        parked = NULL;
        nemo_relay_callback_t provider = {parking_provider, NULL, NULL};
        nemo_relay_done_t done = {notice_done, &done_rec, NULL};
        EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "abandoned", S(req), NULL, &provider, &done) == NEMO_RELAY_OK);
        EXPECT(parked != NULL);
        /* The intercept already settled: its inner layers were revoked before the notice was asked for,
         * so the notice runs at once. */
        EXPECT(nemo_relay_token_on_cancel(parked, &(nemo_relay_done_t){notice_fn, &n, notice_free}) == NEMO_RELAY_OK);
        EXPECT(n.fired == 1 && n.freed == 1);
        EXPECT(abandoned_next.status == NEMO_RELAY_E_CANCELLED);
        EXPECT(done_rec.status == NEMO_RELAY_OK);
        EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{}")) == NEMO_RELAY_E_MISUSE);
        bool removed = false;
        EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "abandon") == NEMO_RELAY_OK);
        EXPECT(removed);
    }

    /* 5. A stream closed early revokes its provider's token (push then reports the cancellation). */
    {
        struct notice n = {0};
        parked = NULL;
        nemo_relay_stream_t *stream = NULL;
        nemo_relay_callback_t provider = {parking_provider, NULL, NULL};
        EXPECT(nemo_relay_llm_stream_execute(&stream, rt, NULL, "streamed", S(req), NULL, NULL, &provider) ==
               NEMO_RELAY_OK);
        EXPECT(parked != NULL);
        nemo_relay_producer_t *producer = NULL;
        EXPECT(nemo_relay_token_producer(&producer, parked) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_token_on_cancel(parked, &(nemo_relay_done_t){notice_fn, &n, notice_free}) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_stream_close(stream) == NEMO_RELAY_OK);
        EXPECT(n.fired == 1 && n.freed == 1 && n.status == NEMO_RELAY_E_CANCELLED);
        EXPECT(nemo_relay_stream_push(producer, S("{}")) == NEMO_RELAY_E_CANCELLED);
        EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_E_MISUSE);
        nemo_relay_producer_free(producer);
        nemo_relay_stream_free(stream);
    }

    /* 6. A cancel racing a completion: exactly one wins; the notice runs only if the cancel did. */
    for (int i = 0; i < 200; i++) {
        struct notice n = {0}, done_rec = {0};
        nemo_relay_call_t *call = NULL;
        nemo_relay_callback_t provider = {parking_provider, NULL, NULL};
        nemo_relay_done_t done = {notice_done, &done_rec, NULL};
        EXPECT(nemo_relay_tool_execute(&call, rt, NULL, "race", S("{}"), NULL, &provider, &done) == NEMO_RELAY_OK);
        race_token = parked;
        EXPECT(nemo_relay_token_on_cancel(race_token, &(nemo_relay_done_t){notice_fn, &n, notice_free}) == NEMO_RELAY_OK);
        pthread_t a, b;
        void *rc = NULL;
        pthread_create(&a, NULL, race_complete, NULL);
        pthread_create(&b, NULL, race_cancel, call);
        pthread_join(a, &rc);
        pthread_join(b, NULL);
        int completed = (nemo_relay_status_t)(intptr_t)rc == NEMO_RELAY_OK;
        EXPECT(__atomic_load_n(&n.fired, __ATOMIC_SEQ_CST) == (completed ? 0 : 1));
        EXPECT(__atomic_load_n(&n.freed, __ATOMIC_SEQ_CST) == 1);
        nemo_relay_call_free(call);
    }
    nemo_relay_runtime_free(rt);

    /* 7. The runtime is freed while a tool waits: the tool's token is revoked. */
    {
        struct notice n = {0}, done_rec = {0};
        EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
        nemo_relay_callback_t tool = {parking_provider, NULL, NULL};
        nemo_relay_done_t done = {notice_done, &done_rec, NULL};
        parked = NULL;
        EXPECT(nemo_relay_tool_execute(NULL, rt, NULL, "at-exit", S("{}"), NULL, &tool, &done) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_token_on_cancel(parked, &(nemo_relay_done_t){notice_fn, &n, notice_free}) == NEMO_RELAY_OK);
        nemo_relay_runtime_free(rt);
        EXPECT(n.fired == 1 && n.freed == 1 && done_rec.status == NEMO_RELAY_E_CANCELLED);
        EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{\"result\":1}")) == NEMO_RELAY_E_MISUSE);
    }
}

/* The annotated-request queries: the reference's answers for an Anthropic tool round; bad input. */
static void test_annotated_request_queries(void) {
    char *out = NULL;
    size_t len = 0;
    EXPECT(nemo_relay_annotated_request_queries(
               &out, &len,
               S("{\"instructions\":[{\"type\":\"text\",\"text\":\"Be \"},{\"type\":\"text\",\"text\":\"brief.\"}],"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
                 "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"w\",\"input\":{}}]},"
                 "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"sun\"}]}]}")) ==
           NEMO_RELAY_OK);
    EXPECT(out != NULL && strcmp(out, "{\"system_prompt\":\"Be \",\"last_user_message\":\"Weather?\",\"has_tool_calls\":true}") == 0);
    nemo_relay_free(out);
    out = NULL;
    EXPECT(nemo_relay_annotated_request_queries(&out, &len, S("[]")) == NEMO_RELAY_E_INVALID_ARGUMENT && out == NULL);
    EXPECT(nemo_relay_annotated_request_queries(&out, &len, S("{\"messages\":")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(nemo_relay_annotated_request_queries(&out, &len, NULL, 0) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_annotated_request_queries(NULL, NULL, S("{}")) == NEMO_RELAY_E_INVALID_ARGUMENT);
}

/* 0.9: the built-in codec list (every id and alias opens a codec) and the annotated-field check. */
static void test_codec_list_and_annotated_check(void) {
    char *out = NULL;
    size_t len = 0;
    EXPECT(nemo_relay_codec_builtin_list(&out, &len) == NEMO_RELAY_OK);
    EXPECT(out != NULL && strstr(out, "{\"id\":\"oci_genai\",\"aliases\":[\"oci_genai_chat\"]}") != NULL);
    EXPECT(out != NULL && strncmp(out, "[{\"id\":\"openai_chat\",\"aliases\":[]},", 35) == 0);
    const char *ids[] = {"openai_chat", "openai_responses", "anthropic_messages", "gemini_generate_content",
                         "oci_genai", "oci_genai_chat", "bedrock_converse"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        EXPECT(out != NULL && strstr(out, ids[i]) != NULL);
        nemo_relay_codec_t *c = NULL;
        EXPECT(nemo_relay_codec_builtin(&c, ids[i]) == NEMO_RELAY_OK && c != NULL);
        nemo_relay_codec_free(c);
    }
    nemo_relay_free(out);
    out = NULL;
    EXPECT(nemo_relay_codec_builtin_list(NULL, &len) == NEMO_RELAY_E_INVALID_ARGUMENT);

    EXPECT(nemo_relay_annotated_request_check(&out, &len, S("{\"max_output_tokens\":-1}"), 0) == NEMO_RELAY_OK);
    EXPECT(out != NULL && strcmp(out, "{\"error\":{\"kind\":\"overflow_error\","
                                      "\"message\":\"can't convert negative int to unsigned\"}}") == 0);
    nemo_relay_free(out);
    out = NULL;
    EXPECT(nemo_relay_annotated_request_check(&out, &len, S("{\"model\":\"m\",\"params\":{\"temperature\":1,\"stop\":\"x\"}}"),
                                              NEMO_RELAY_ANNOTATED_CHECK_CONSTRUCT) == NEMO_RELAY_OK);
    EXPECT(out != NULL && strcmp(out, "{\"fields\":{\"model\":\"m\",\"params\":{\"temperature\":1.0,\"stop\":[\"x\"]}}}") == 0);
    nemo_relay_free(out);
    out = NULL;
    EXPECT(nemo_relay_annotated_request_check(&out, &len, S("{\"api_specific\":{}}"), NEMO_RELAY_ANNOTATED_CHECK_CONSTRUCT) ==
           NEMO_RELAY_OK);
    EXPECT(out != NULL && strcmp(out, "{\"error\":{\"kind\":\"value_error\",\"message\":\"invalid api_specific: expected a "
                                      "tagged request object: missing field `api`\"}}") == 0);
    nemo_relay_free(out);
    out = NULL;
    EXPECT(nemo_relay_annotated_request_check(&out, &len, S("[]"), 0) == NEMO_RELAY_E_INVALID_ARGUMENT && out == NULL);
    EXPECT(nemo_relay_annotated_request_check(&out, &len, S("{}"), 2) == NEMO_RELAY_E_INVALID_ARGUMENT && out == NULL);
    EXPECT(nemo_relay_annotated_request_check(&out, &len, S("{\"x\":"), 0) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(nemo_relay_annotated_request_check(&out, &len, NULL, 0, 0) == NEMO_RELAY_E_INVALID_ARGUMENT);
}

/* Issue 13 #7: events of one stack keep their emission order while a sanitizer answers later, and an
 * event emitted inside the sanitizer (nemo_relay_token_enter) goes right after the event it runs for. */
static nemo_relay_token_t *order_parked;
static nemo_relay_status_t order_sanitizer(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    static const char fields[] = "{\"data\":null,\"category_profile\":null,\"metadata\":null}";
    if (memmem(json, len, S("\"name\":\"outer\"")) != NULL && order_parked == NULL) {
        order_parked = t;
        return NEMO_RELAY_PENDING;
    }
    return nemo_relay_complete(t, NEMO_RELAY_OK, fields, sizeof fields - 1);
}

static void test_event_order_with_a_late_sanitizer(void) {
    static struct events ev;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.lock, NULL);
    order_parked = NULL;
    nemo_relay_runtime_t *rt = NULL;
    nemo_relay_stack_t *st = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_new(&st, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "order", collect, &ev, NULL) == NEMO_RELAY_OK);
    nemo_relay_callback_t san = {order_sanitizer, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_MARK_SANITIZE, "late", 0, 0, &san) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, st, "outer", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, st, "later", NULL) == NEMO_RELAY_OK);
    EXPECT(order_parked != NULL);
    /* A flush waits for the event inside its sanitizer: here it times out. */
    EXPECT(nemo_relay_flush(rt, 50000000LL) == NEMO_RELAY_E_TIMEOUT);
    EXPECT(ev.count == 0); /* "later" waits for "outer" */
    /* The sanitizer goes on later and emits inside itself. */
    EXPECT(nemo_relay_token_enter(order_parked) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, st, "nested", NULL) == NEMO_RELAY_OK);
    nemo_relay_token_leave(NULL); /* not the entered token: nothing happens */
    nemo_relay_token_leave(order_parked);
    nemo_relay_token_leave(order_parked); /* an extra leave is harmless */
    static const char fields[] = "{\"data\":null,\"category_profile\":null,\"metadata\":null}";
    nemo_relay_token_t *t = order_parked;
    EXPECT(nemo_relay_complete(t, NEMO_RELAY_OK, fields, sizeof fields - 1) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_token_enter(t) == NEMO_RELAY_E_MISUSE); /* completed */
    EXPECT(nemo_relay_token_enter(NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_flush(rt, 10000000000LL) == NEMO_RELAY_OK);
    EXPECT(ev.count == 3);
    const char *outer = strstr(ev.buf, "\"name\":\"outer\"");
    const char *nested = strstr(ev.buf, "\"name\":\"nested\"");
    const char *later = strstr(ev.buf, "\"name\":\"later\"");
    EXPECT(outer != NULL && nested != NULL && later != NULL && outer < nested && nested < later);
    nemo_relay_stack_free(st);
    nemo_relay_runtime_free(rt);
}

/* The hostile-input catalogue, C side (issue 13): what JSON cannot carry, names that are not UTF-8,
 * numbers out of range, the nesting limit, a 100 MB payload in bounded time, and a subscriber
 * and a user_data_free calling back into the library. */
static nemo_relay_status_t mark_with_data(nemo_relay_runtime_t *rt, const char *data, size_t len) {
    nemo_relay_mark_options_t mo;
    EXPECT(nemo_relay_mark_options_init(&mo, NEMO_RELAY_MARK_OPTIONS_VERSION) == NEMO_RELAY_OK);
    mo.data = data;
    mo.data_len = len;
    return nemo_relay_mark(rt, NULL, "m", &mo);
}

static nemo_relay_runtime_t *reentrant_rt;
static int reentrant_marks;
static void reentrant_subscriber(const char *json, size_t len, void *ud) {
    (void)ud;
    if (memmem(json, len, S("\"name\":\"outer\"")) != NULL) {
        /* From the delivery thread: emit, and flush (returns at once instead of deadlocking). */
        reentrant_marks += nemo_relay_mark(reentrant_rt, NULL, "from-subscriber", NULL) == NEMO_RELAY_OK;
        reentrant_marks += nemo_relay_flush(reentrant_rt, -1) == NEMO_RELAY_OK;
    }
}
static int reentrant_free_rc = -1;
static void reentrant_free(void *ud) {
    (void)ud;
    /* Runs when the lane's delivery thread ends: calling back into the library must not deadlock. */
    reentrant_free_rc = nemo_relay_flush(reentrant_rt, 1000000000LL);
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_hostile_inputs(void) {
    static struct events ev;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.lock, NULL);
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "hostile", collect, &ev, NULL) == NEMO_RELAY_OK);

    /* invalid-utf8: names and JSON text must be UTF-8 */
    EXPECT(nemo_relay_mark(rt, NULL, "a\xff", NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_mark(rt, NULL, "\xc0\x80", NULL) == NEMO_RELAY_E_INVALID_ARGUMENT); /* overlong NUL */
    EXPECT(mark_with_data(rt, S("[\"\xed\xa0\x80\"]")) == NEMO_RELAY_E_INVALID_JSON);   /* encoded surrogate */
    /* nan-infinity: not JSON */
    EXPECT(mark_with_data(rt, S("{\"x\":NaN}")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(mark_with_data(rt, S("[Infinity]")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(mark_with_data(rt, S("[-Infinity]")) == NEMO_RELAY_E_INVALID_JSON);
    /* lone-surrogates and nul-in-strings inside JSON text */
    EXPECT(mark_with_data(rt, S("[\"\\ud800\"]")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(mark_with_data(rt, S("[\"a\\u0000b\"]")) == NEMO_RELAY_OK);
    EXPECT(mark_with_data(rt, "[\"a\0b\"]", 7) == NEMO_RELAY_E_INVALID_JSON); /* a raw NUL is a control character */
    /* huge-numbers: out of double range is refused; large integers become the nearest double */
    EXPECT(mark_with_data(rt, S("[1e400]")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(mark_with_data(rt, S("[-1e400]")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(mark_with_data(rt, S("{\"tiny\":1e-400,\"u64\":18446744073709551615,\"big\":123456789012345678901234567890}")) ==
           NEMO_RELAY_OK);
    /* deep-nesting: 512 levels are accepted, 513 refused */
    char deep[2 * 513];
    memset(deep, '[', 512);
    memset(deep + 512, ']', 512);
    EXPECT(mark_with_data(rt, deep, 2 * 512) == NEMO_RELAY_OK);
    memset(deep, '[', 513);
    memset(deep + 513, ']', 513);
    EXPECT(mark_with_data(rt, deep, 2 * 513) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(strstr(nemo_relay_last_error_message(), "nesting too deep") != NULL);
    EXPECT(nemo_relay_flush(rt, 10000000000LL) == NEMO_RELAY_OK);
    EXPECT(strstr(ev.buf, "\"u64\":18446744073709551615") != NULL);
    EXPECT(strstr(ev.buf, "\"a\\u0000b\"") != NULL);

    /* huge-payloads: a 100 MB string crosses and is delivered in seconds */
    size_t big = (size_t)100 << 20;
    char *p = malloc(big + 2);
    EXPECT(p != NULL);
    if (p != NULL) {
        p[0] = '"';
        memset(p + 1, 'x', big);
        p[big + 1] = '"';
        double t = seconds_now();
        EXPECT(mark_with_data(rt, p, big + 2) == NEMO_RELAY_OK);
        EXPECT(nemo_relay_flush(rt, 60000000000LL) == NEMO_RELAY_OK);
        EXPECT(seconds_now() - t < 60.0);
        free(p);
    }
    nemo_relay_runtime_free(rt);

    /* re-entrancy: a subscriber emitting and flushing, a user_data_free flushing */
    EXPECT(nemo_relay_runtime_new(&reentrant_rt, NULL) == NEMO_RELAY_OK);
    reentrant_marks = 0;
    EXPECT(nemo_relay_subscriber_register(reentrant_rt, NULL, "reentrant", reentrant_subscriber, NULL, reentrant_free) ==
           NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(reentrant_rt, NULL, "outer", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(reentrant_rt, 10000000000LL) == NEMO_RELAY_OK);
    EXPECT(reentrant_marks == 2);
    bool removed = false;
    EXPECT(nemo_relay_subscriber_deregister(&removed, reentrant_rt, NULL, "reentrant") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_flush(reentrant_rt, 10000000000LL) == NEMO_RELAY_OK);
    for (int i = 0; i < 1000 && reentrant_free_rc == -1; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    EXPECT(reentrant_free_rc == NEMO_RELAY_OK);
    nemo_relay_runtime_free(reentrant_rt);

    /* registration-in-flight: middleware and subscribers come and go while a managed call waits */
    static struct events late;
    memset(&late, 0, sizeof late);
    pthread_mutex_init(&late.lock, NULL);
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    nemo_relay_status_t st = -99;
    parked = NULL;
    nemo_relay_callback_t prov = {parking_provider, NULL, NULL};
    nemo_relay_done_t dn = {record_status, &st, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "in-flight", S("{\"headers\":{},\"content\":{}}"), NULL, &prov,
                                  &dn) == NEMO_RELAY_OK);
    EXPECT(parked != NULL && st == -99);
    nemo_relay_callback_t ic = {add_header_intercept, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "added-late", 0, 0, &ic) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "added-late", collect, &late, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "added-late") == NEMO_RELAY_OK &&
           removed);
    EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{\"late\":true}")) == NEMO_RELAY_OK);
    EXPECT(st == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(rt, 10000000000LL) == NEMO_RELAY_OK);
    /* The subscriber registered while the call waited sees its end event. */
    EXPECT(strstr(late.buf, "\"name\":\"in-flight\"") != NULL && strstr(late.buf, "\"scope_category\":\"end\"") != NULL);
    nemo_relay_runtime_free(rt);
}

int main(void) {
    test_token_on_cancel();
    test_hostile_inputs();
    test_event_order_with_a_late_sanitizer();
    test_annotated_request_queries();
    test_codec_list_and_annotated_check();
    test_pending_calls_at_runtime_free();
    test_thread_exhaustion();
    test_fork_child_makes_a_new_runtime();
    test_codec_that_never_answers();
    test_keys_are_bytes();
    test_guessed_handles();
    test_huge_timeouts();
    test_foreign_scopes();
    /* versions and errors */
    EXPECT(strcmp(nemo_relay_version(), NEMO_RELAY_VERSION_STRING) == 0);
    EXPECT(nemo_relay_version_number() == NEMO_RELAY_VERSION_NUMBER);
    EXPECT(strcmp(nemo_relay_status_str(NEMO_RELAY_E_NOT_FOUND), "NEMO_RELAY_E_NOT_FOUND") == 0);
    EXPECT(strcmp(nemo_relay_status_str(9999), "NEMO_RELAY_E_UNKNOWN") == 0);
    EXPECT(nemo_relay_last_error_message() != NULL);
    nemo_relay_free(NULL);

    /* options */
    nemo_relay_runtime_options_t ro;
    EXPECT(nemo_relay_runtime_options_init(&ro, 99) == NEMO_RELAY_E_VERSION);
    EXPECT(nemo_relay_runtime_options_init(NULL, 1) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_runtime_options_init(&ro, NEMO_RELAY_RUNTIME_OPTIONS_VERSION) == NEMO_RELAY_OK);
    ro.subscriber_queue_capacity = 4096;
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(NULL, &ro) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_runtime_new(&rt, &ro) == NEMO_RELAY_OK && rt != NULL);
    ro.version = 7;
    nemo_relay_runtime_t *bad = NULL;
    EXPECT(nemo_relay_runtime_new(&bad, &ro) == NEMO_RELAY_E_VERSION);
    EXPECT(strstr(nemo_relay_last_error_message(), "version") != NULL);
    EXPECT(nemo_relay_last_error_message()[0] != 0);
    EXPECT(nemo_relay_version_number() > 0 && nemo_relay_last_error_message() != NULL);

    struct events ev;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.lock, NULL);
    freed_count = 0;
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, &ev, count_free) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, &ev, count_free) == NEMO_RELAY_E_ALREADY_EXISTS);
    EXPECT(strcmp(nemo_relay_last_error_message(), "already exists: collect subscriber already exists") == 0);
    EXPECT(freed_count == 1); /* the rejected registration's user data was freed */
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "nofn", NULL, NULL, count_free) == NEMO_RELAY_E_INVALID_ARGUMENT);

    /* batched subscriber: JSON Lines, one call per batch (own runtime, so the collector above stays small) */
    static struct batches bt = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    nemo_relay_runtime_t *brt = NULL;
    EXPECT(nemo_relay_runtime_new(&brt, NULL) == NEMO_RELAY_OK);
    freed_count = 0;
    EXPECT(nemo_relay_subscriber_register_batch(brt, NULL, "batched", collect_batch, &bt, count_free) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register_batch(brt, NULL, "batched", collect_batch, &bt, NULL) == NEMO_RELAY_E_ALREADY_EXISTS);
    EXPECT(nemo_relay_subscriber_register_batch(brt, NULL, "nofn", NULL, NULL, count_free) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(freed_count == 1);
    for (int i = 0; i < 200; i++) nemo_relay_mark(brt, NULL, "burst", NULL);
    EXPECT(nemo_relay_flush(brt, -1) == NEMO_RELAY_OK);
    EXPECT(bt.events == 200 && bt.newlines == 200 && bt.calls >= 4 && bt.calls <= 200);
    nemo_relay_runtime_free(brt);
    /* the subscriber's user data is freed once its delivery thread has finished (asynchronously) */
    for (int i = 0; i < 2000 && __sync_fetch_and_add(&freed_count, 0) < 2; i++) usleep(1000);
    EXPECT(freed_count == 2);

    /* stacks */
    nemo_relay_stack_t *stack = NULL, *child = NULL, *def = NULL;
    EXPECT(nemo_relay_stack_new(&stack, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_thread_default(&def) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_set_thread_default(stack) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_set_thread_default(NULL) == NEMO_RELAY_OK);

    /* scopes */
    nemo_relay_scope_options_t so;
    EXPECT(nemo_relay_scope_options_init(&so, NEMO_RELAY_SCOPE_OPTIONS_VERSION) == NEMO_RELAY_OK);
    so.metadata = "{\"session_id\":\"s-1\"}";
    so.metadata_len = strlen(so.metadata);
    so.payload = "{\"task\":1}";
    so.payload_len = strlen(so.payload);
    nemo_relay_scope_t *agent = NULL, *fn = NULL, *root = NULL;
    EXPECT(nemo_relay_scope_begin(&agent, rt, stack, "agent", NEMO_RELAY_SCOPE_AGENT, &so) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_begin(&fn, rt, stack, "fn", 99, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_scope_begin(&fn, rt, stack, NULL, NEMO_RELAY_SCOPE_FUNCTION, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    so.payload = "{bad json";
    so.payload_len = strlen(so.payload);
    EXPECT(nemo_relay_scope_begin(&fn, rt, stack, "fn", NEMO_RELAY_SCOPE_FUNCTION, &so) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(strstr(nemo_relay_last_error_message(), "byte") != NULL);
    so.payload = "\"\xff\"";
    so.payload_len = 3;
    EXPECT(nemo_relay_scope_begin(&fn, rt, stack, "fn", NEMO_RELAY_SCOPE_FUNCTION, &so) == NEMO_RELAY_E_INVALID_JSON);
    so.payload = NULL;
    so.payload_len = 0;
    so.metadata = NULL;
    so.metadata_len = 0;
    so.attributes = NEMO_RELAY_SCOPE_PARALLEL;
    EXPECT(nemo_relay_scope_begin(&fn, rt, stack, "fn", NEMO_RELAY_SCOPE_FUNCTION, &so) == NEMO_RELAY_OK);
    /* fork: the child sees the parent's scopes as parents */
    EXPECT(nemo_relay_stack_new(&child, stack) == NEMO_RELAY_OK);

    char *info = NULL;
    size_t info_len = 0;
    EXPECT(nemo_relay_scope_info(&info, &info_len, fn) == NEMO_RELAY_OK);
    EXPECT(info && strstr(info, "\"name\":\"fn\"") && strstr(info, "\"ended\":false"));
    nemo_relay_free(info);
    EXPECT(nemo_relay_scope_current(&root, stack) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_info(&info, &info_len, root) == NEMO_RELAY_OK && strstr(info, "\"name\":\"fn\""));
    nemo_relay_free(info);
    nemo_relay_scope_free(root);

    /* mark */
    nemo_relay_mark_options_t mo;
    EXPECT(nemo_relay_mark_options_init(&mo, NEMO_RELAY_MARK_OPTIONS_VERSION) == NEMO_RELAY_OK);
    mo.parent = agent;
    mo.severity = NEMO_RELAY_SEVERITY_WARN;
    mo.data = "{\"k\":1}";
    mo.data_len = 7;
    EXPECT(nemo_relay_mark(rt, stack, "checkpoint", &mo) == NEMO_RELAY_OK);
    mo.severity = 42;
    EXPECT(nemo_relay_mark(rt, stack, "checkpoint", &mo) == NEMO_RELAY_E_INVALID_ARGUMENT);

    /* misuse: parent before child, unknown handles */
    EXPECT(nemo_relay_scope_end(rt, stack, agent, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: scope handle is not at the top of the stack") == 0);
    EXPECT(nemo_relay_scope_end(rt, child, fn, NULL) == NEMO_RELAY_E_NOT_FOUND);
    EXPECT(nemo_relay_scope_end(NULL, stack, fn, NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_scope_end(rt, stack, NULL, NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_scope_end(rt, (nemo_relay_stack_t *)rt, fn, NULL) == NEMO_RELAY_E_MISUSE); /* foreign */
    so.payload = "{\"docs\":3}";
    so.payload_len = strlen(so.payload);
    EXPECT(nemo_relay_scope_end(rt, stack, fn, &so) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, stack, fn, &so) == NEMO_RELAY_E_NOT_FOUND); /* twice */
    EXPECT(strcmp(nemo_relay_last_error_message(), "not found: scope handle not found") == 0);
    EXPECT(nemo_relay_scope_info(&info, &info_len, fn) == NEMO_RELAY_OK && strstr(info, "\"ended\":true"));
    nemo_relay_free(info);
    nemo_relay_scope_free(fn);
    EXPECT(nemo_relay_scope_info(&info, &info_len, fn) == NEMO_RELAY_E_MISUSE); /* freed */
    nemo_relay_scope_free(fn);                                                  /* double free: ignored */

    /* LLM: managed, synchronous provider */
    nemo_relay_llm_options_t lo;
    EXPECT(nemo_relay_llm_options_init(&lo, NEMO_RELAY_LLM_OPTIONS_VERSION) == NEMO_RELAY_OK);
    lo.model_name = "gpt-4o";
    struct outcome out;
    memset(&out, 0, sizeof out);
    nemo_relay_callback_t prov = {echo_provider, NULL, count_free};
    nemo_relay_done_t done = {on_done, &out, NULL};
    static const char req[] = "{\"headers\":{\"Authorization\":\"Bearer x\"},\"content\":{\"messages\":[]}}";
    freed_count = 0;
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK && strstr(out.text, "18446744073709551615"));
    EXPECT(freed_count == 1);
    /* start failures: done not called, destructors run */
    memset(&out, 0, sizeof out);
    freed_count = 0;
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S("{nope"), &lo, &prov, &done) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(out.calls == 0 && freed_count == 1);
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, NULL, &done) == NEMO_RELAY_E_INVALID_ARGUMENT);

    /* provider failure carries the callback's text; status E_CALLBACK */
    memset(&out, 0, sizeof out);
    nemo_relay_callback_t failp = {failing_provider, NULL, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &failp, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_CALLBACK && strcmp(out.text, "upstream timeout") == 0);
    /* an empty failure message reaches done as an empty, valid buffer */
    memset(&out, 0, sizeof out);
    nemo_relay_callback_t emptyp = {empty_error_provider, NULL, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &emptyp, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_CALLBACK && out.text[0] == 0);
    /* OK without completing is a failure */
    memset(&out, 0, sizeof out);
    nemo_relay_callback_t lazyp = {lazy_provider, NULL, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &lazyp, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_CALLBACK);

    /* deferred completion from another thread, then completing twice */
    memset(&out, 0, sizeof out);
    nemo_relay_callback_t parkp = {parking_provider, NULL, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &parkp, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 0);
    pthread_t th;
    void *thread_rc = NULL;
    pthread_create(&th, NULL, complete_parked, NULL);
    pthread_join(th, &thread_rc);
    EXPECT((intptr_t)thread_rc == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK && strstr(out.text, "late"));
    EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{}")) == NEMO_RELAY_E_MISUSE);

    /* cancellation of a pending call */
    memset(&out, 0, sizeof out);
    nemo_relay_call_t *call = NULL;
    EXPECT(nemo_relay_llm_execute(&call, rt, stack, "openai", S(req), &lo, &parkp, &done) == NEMO_RELAY_OK);
    EXPECT(call != NULL && out.calls == 0);
    EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_CANCELLED);
    EXPECT(nemo_relay_complete(parked, NEMO_RELAY_OK, S("{}")) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_OK); /* already finished: nothing happens */
    nemo_relay_call_free(call);
    EXPECT(nemo_relay_call_cancel(call) == NEMO_RELAY_E_MISUSE);

    /* conditional guardrail rejection */
    nemo_relay_callback_t guard = {reject_secret, NULL, count_free};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "no-secrets", 1, 0, &guard) == NEMO_RELAY_OK);
    freed_count = 0;
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "no-secrets", 1, 0, &guard) == NEMO_RELAY_E_ALREADY_EXISTS);
    EXPECT(freed_count == 1);
    EXPECT(nemo_relay_register(rt, NULL, 77, "x", 1, 0, &guard) == NEMO_RELAY_E_INVALID_ARGUMENT);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S("{\"headers\":{},\"content\":\"a secret\"}"), &lo, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_GUARDRAIL_REJECTED &&
           strcmp(out.text, "guardrail rejected: mentions a secret") == 0);
    bool removed = false;
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "no-secrets") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "no-secrets") == NEMO_RELAY_OK && !removed);

    /* scope-local execution intercept calling next twice */
    nemo_relay_callback_t twice = {twice_intercept, NULL, NULL};
    EXPECT(nemo_relay_register(rt, agent, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "twice", 0, 0, &twice) == NEMO_RELAY_OK);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK);
    /* a token without a next step */
    EXPECT(nemo_relay_token_next(NULL, S("{}"), &done) == NEMO_RELAY_E_INVALID_ARGUMENT);


    /* chain helpers */
    nemo_relay_callback_t hdr = {add_header_intercept, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "hdr", 5, NEMO_RELAY_BREAK_CHAIN, &hdr) == NEMO_RELAY_OK);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_request_intercepts(rt, stack, "openai", S(req), &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK && strstr(out.text, "x-tenant") && strstr(out.text, "\"tagged\""));
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "hdr") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "no-secrets", 1, 0, &guard) == NEMO_RELAY_OK);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_conditional_execution(rt, stack, S("{\"headers\":{},\"content\":\"secret\"}"), &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_GUARDRAIL_REJECTED);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_conditional_execution(rt, stack, S("{\"headers\":{},\"content\":\"fine\"}"), &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK && strcmp(out.text, "null") == 0);
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "no-secrets") == NEMO_RELAY_OK && removed);
    nemo_relay_callback_t up = {upper_args, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_TOOL_REQUEST_INTERCEPT, "up", 0, 0, &up) == NEMO_RELAY_OK);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_tool_request_intercepts(rt, stack, "search", S("{\"q\":\"x\"}"), &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && strcmp(out.text, "{\"q\":\"REWRITTEN\"}") == 0);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_tool_conditional_execution(rt, stack, "search", S("{}"), &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK);
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_TOOL_REQUEST_INTERCEPT, "up") == NEMO_RELAY_OK && removed);
    freed_count = 0;
    EXPECT(nemo_relay_tool_request_intercepts(NULL, stack, "search", S("{}"), &(nemo_relay_done_t){on_done, &out, count_free}) == NEMO_RELAY_E_MISUSE);
    EXPECT(freed_count == 1);

    /* log sink receives diagnostics (a failing sanitizer) */
    log_lines = 0;
    EXPECT(nemo_relay_runtime_set_log_callback(rt, on_log, NULL, NULL) == NEMO_RELAY_OK);
    nemo_relay_callback_t badsan = {failing_sanitizer, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_SANITIZE_REQUEST, "bad", 0, 0, &badsan) == NEMO_RELAY_OK);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(out.status == NEMO_RELAY_OK && log_lines >= 1);
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_SANITIZE_REQUEST, "bad") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_runtime_set_log_callback(rt, NULL, NULL, NULL) == NEMO_RELAY_OK);

    /* a custom codec in a managed call, and the built-in one with a content edit rejected */
    nemo_relay_codec_callbacks_t cc;
    memset(&cc, 0, sizeof cc);
    cc.version = NEMO_RELAY_CODEC_CALLBACKS_VERSION;
    cc.decode = (nemo_relay_callback_t){custom_decode, NULL, count_free};
    cc.encode = (nemo_relay_callback_t){custom_encode, NULL, count_free};
    nemo_relay_codec_t *custom = NULL;
    EXPECT(nemo_relay_codec_new(&custom, "framework", &cc) == NEMO_RELAY_OK);
    lo.codec = custom;
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S(req), &lo, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK);
    nemo_relay_codec_t *chat = NULL;
    EXPECT(nemo_relay_codec_builtin(&chat, "openai_chat") == NEMO_RELAY_OK);
    lo.codec = chat;
    lo.response_codec = chat;
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "hdr", 5, 0, &hdr) == NEMO_RELAY_OK);
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai", S("{\"headers\":{},\"content\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}"), &lo, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_E_INVALID_ARGUMENT &&
           strstr(out.text, "changed request.content while a request codec is active"));
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_REQUEST_INTERCEPT, "hdr") == NEMO_RELAY_OK && removed);
    lo.codec = NULL;
    lo.response_codec = NULL;
    freed_count = 0;
    nemo_relay_codec_free(custom);
    EXPECT(freed_count == 2);
    nemo_relay_codec_free(chat);

    /* flush from an atexit handler */
    EXPECT(nemo_relay_runtime_new(&exit_rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(exit_rt, NULL, "late", collect, &exit_ev, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(exit_rt, NULL, "at-exit", NULL) == NEMO_RELAY_OK);
    atexit(flush_at_exit);

    /* manual LLM lifecycle */
    nemo_relay_scope_t *llm = NULL;
    EXPECT(nemo_relay_llm_call(&llm, rt, stack, "manual", S(req), &lo) == NEMO_RELAY_OK);
    nemo_relay_llm_end_options_t le;
    EXPECT(nemo_relay_llm_end_options_init(&le, NEMO_RELAY_LLM_END_OPTIONS_VERSION) == NEMO_RELAY_OK);
    le.metadata = "{\"phase\":\"end\"}";
    le.metadata_len = strlen(le.metadata);
    EXPECT(nemo_relay_llm_call_end(rt, stack, llm, S("{\"done\":true}"), &le) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_llm_call_end(rt, stack, agent, S("{}"), &le) == NEMO_RELAY_E_INVALID_ARGUMENT);
    nemo_relay_scope_free(llm);

    /* tools */
    nemo_relay_tool_options_t to;
    EXPECT(nemo_relay_tool_options_init(&to, NEMO_RELAY_TOOL_OPTIONS_VERSION) == NEMO_RELAY_OK);
    to.tool_call_id = "call_1";
    to.attributes = NEMO_RELAY_TOOL_REMOTE;
    nemo_relay_callback_t tool = {tool_ok, NULL, NULL};
    memset(&out, 0, sizeof out);
    EXPECT(nemo_relay_tool_execute(NULL, rt, stack, "echo", S("{\"q\":1}"), &to, &tool, &done) == NEMO_RELAY_OK);
    EXPECT(out.calls == 1 && out.status == NEMO_RELAY_OK && strstr(out.text, "\"result\":{\"q\":1}"));
    nemo_relay_scope_t *th_tool = NULL;
    EXPECT(nemo_relay_tool_call(&th_tool, rt, stack, "manual_tool", S("{\"q\":1}"), &to) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_tool_call_end(rt, stack, th_tool, S("{\"result\":\"done\"}"), NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_tool_call_end(rt, stack, th_tool, S("[1]"), NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    nemo_relay_scope_free(th_tool);

    /* scope-local subscriber on the agent, then end the agent */
    struct events local;
    memset(&local, 0, sizeof local);
    pthread_mutex_init(&local.lock, NULL);
    EXPECT(nemo_relay_subscriber_register(rt, agent, "local", collect, &local, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_mark(rt, stack, "inside", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, stack, agent, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_register(rt, agent, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "late", 0, 0, &twice) == NEMO_RELAY_E_NOT_FOUND);
    EXPECT(strncmp(nemo_relay_last_error_message(), "not found: scope ", 17) == 0);
    EXPECT(nemo_relay_mark(rt, stack, "outside", NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_flush(rt, 5000000000LL) == NEMO_RELAY_OK);
    EXPECT(local.count == 2); /* the mark inside and the agent's own end */
    nemo_relay_scope_free(agent);

    /* root cannot be ended */
    EXPECT(nemo_relay_scope_current(&root, stack) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, stack, root, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: root scope cannot be removed") == 0);
    nemo_relay_scope_free(root);

    /* events: scope starts/ends, marks, llm and tool pairs were delivered as JSON lines */
    EXPECT(nemo_relay_flush(rt, -1) == NEMO_RELAY_OK);
    EXPECT(ev.count >= 20);
    EXPECT(strstr(ev.buf, "\"attributes\":[\"parallel\"]") != NULL);
    EXPECT(strstr(ev.buf, "\"nemo_relay.log.severity\":\"warn\"") != NULL);
    EXPECT(strstr(ev.buf, "Bearer") == NULL); /* credentials never reach events */
    EXPECT(strstr(ev.buf, "\"otel.status_description\":\"LLM execution cancelled\"") != NULL);
    EXPECT(strstr(ev.buf, "\"exception.type\":\"ConnectionError\"") != NULL);
    EXPECT(strstr(ev.buf, "\"rejection_reason\":\"mentions a secret\"") != NULL);
    EXPECT(strstr(ev.buf, "\"attributes\":[\"remote\"]") != NULL);
    uint64_t dropped = 1;
    EXPECT(nemo_relay_dropped_events(&dropped, rt) == NEMO_RELAY_OK && dropped == 0);
    EXPECT(nemo_relay_subscriber_deregister(&removed, rt, NULL, "collect") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_subscriber_deregister(&removed, rt, NULL, "collect") == NEMO_RELAY_OK && !removed);

    nemo_relay_stack_free(child);
    nemo_relay_stack_free(def);
    nemo_relay_stack_free(stack);
    nemo_relay_stack_free(stack);
    nemo_relay_runtime_free(rt);
    nemo_relay_runtime_free(rt);
    EXPECT(nemo_relay_flush(rt, 0) == NEMO_RELAY_E_MISUSE);

    return expect_summary();
}
