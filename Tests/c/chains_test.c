/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Long middleware chains cost no stack when callbacks complete synchronously: each scenario runs on
 * a pthread with a 256 KiB stack, behind N (default 100000) entries of one middleware kind whose
 * callbacks answer at once, and checks the result, the order the entries ran in and the events.
 * A last scenario mixes in callbacks that answer later from another thread (PENDING) and checks the
 * chain still completes in order. Usage: chains_test [N]
 */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"

static long n_entries = 100000;
static const size_t thread_stack = 256 << 10;

/* ---- events ---- */

struct events {
    pthread_mutex_t lock;
    long count, guardrail, mark;
    int found; /* an event contained `needle` */
    char needle[64];
};
static struct events ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, {0}};

static void collect(const char *json, size_t len, void *ud) {
    (void)ud;
    pthread_mutex_lock(&ev.lock);
    ev.count++;
    if (memmem(json, len, "\"category\":\"guardrail\"", 22)) ev.guardrail++;
    if (memmem(json, len, "\"kind\":\"Mark\"", 13) || memmem(json, len, "\"kind\":\"mark\"", 13)) ev.mark++;
    if (ev.needle[0] && memmem(json, len, ev.needle, strlen(ev.needle))) ev.found = 1;
    pthread_mutex_unlock(&ev.lock);
}

static nemo_relay_runtime_t *fresh_runtime(const char *needle) {
    nemo_relay_runtime_options_t o;
    nemo_relay_runtime_options_init(&o, NEMO_RELAY_RUNTIME_OPTIONS_VERSION);
    o.subscriber_queue_capacity = 1u << 22;
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, &o) == NEMO_RELAY_OK);
    pthread_mutex_lock(&ev.lock);
    ev.count = ev.guardrail = ev.mark = 0;
    ev.found = 0;
    snprintf(ev.needle, sizeof ev.needle, "%s", needle ? needle : "");
    pthread_mutex_unlock(&ev.lock);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, NULL, NULL) == NEMO_RELAY_OK);
    return rt;
}

/* ---- counters the callbacks keep (one chain runs at a time) ---- */

static volatile long step;     /* entries run so far, in order */
static volatile long misorder; /* entries that did not see the previous entry's output */
static volatile long inner_done;
static volatile long args_step; /* tool request intercepts run so far */

/* True when `json` holds `"<key>":<value>}`, the output of the entry before. */
static int holds(const char *json, size_t len, const char *key, long value) {
    char want[64];
    int n = snprintf(want, sizeof want, "\"%s\":%ld}", key, value);
    return memmem(json, len, want, (size_t)n) != NULL;
}

static nemo_relay_status_t complete_fmt(nemo_relay_token_t *t, const char *fmt, long v) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, fmt, v);
    return nemo_relay_complete(t, NEMO_RELAY_OK, buf, (size_t)n);
}

static nemo_relay_status_t allow(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    step++;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}

static nemo_relay_status_t request_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (!holds(json, len, "n", step)) misorder++;
    step++;
    return complete_fmt(t, "{\"request\":{\"headers\":{},\"content\":{\"n\":%ld}}}", step);
}

static nemo_relay_status_t sanitize_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (!holds(json, len, "s", step)) misorder++;
    step++;
    return complete_fmt(t, "{\"headers\":{},\"content\":{\"s\":%ld}}", step);
}

static nemo_relay_status_t inject_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    step++;
    return complete_fmt(t, "{\"k\":%ld}", step);
}

static nemo_relay_status_t mark_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (!holds(json, len, "m", step)) misorder++;
    step++;
    return complete_fmt(t, "{\"data\":{\"m\":%ld},\"category_profile\":null,\"metadata\":null}", step);
}

static nemo_relay_status_t tool_args_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (!holds(json, len, "a", args_step)) misorder++;
    args_step++;
    return complete_fmt(t, "{\"a\":%ld}", args_step);
}

/* An execution intercept: runs the inner layers at once; their result completes its own token. */
static void finish_outer(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    inner_done++;
    nemo_relay_complete((nemo_relay_token_t *)ud, status, json, len);
}

static nemo_relay_status_t exec_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    step++;
    nemo_relay_done_t d = {finish_outer, t, NULL};
    nemo_relay_status_t rc = nemo_relay_token_next(t, (const char *)ud, strlen((const char *)ud), &d);
    return rc == NEMO_RELAY_OK ? NEMO_RELAY_PENDING : rc;
}

static nemo_relay_status_t provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    return complete_fmt(t, "{\"answer\":%ld}", step);
}

static nemo_relay_status_t tool(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "{\"result\":{\"got\":%.*s}}", (int)len, json);
    return nemo_relay_complete(t, NEMO_RELAY_OK, buf, (size_t)n);
}

/* ---- outcome of one managed call ---- */

struct outcome {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    nemo_relay_status_t status;
    char text[256];
};

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct outcome *o = (struct outcome *)ud;
    pthread_mutex_lock(&o->lock);
    o->calls++;
    o->status = status;
    if (len >= sizeof o->text) len = sizeof o->text - 1;
    memcpy(o->text, json, len);
    o->text[len] = 0;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static void wait_done(struct outcome *o) {
    pthread_mutex_lock(&o->lock);
    while (o->calls == 0) pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

static void register_n(nemo_relay_runtime_t *rt, int32_t kind, nemo_relay_callback_fn fn, void *ud, long n) {
    char name[32];
    long bad = 0;
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "e%07ld", i);
        nemo_relay_callback_t cb = {fn, ud, NULL};
        /* priority order equals registration order */
        if (nemo_relay_register(rt, NULL, kind, name, (int32_t)i, 0, &cb) != NEMO_RELAY_OK) bad++;
    }
    EXPECT(bad == 0);
}

/* ---- scenarios, each run on a small-stack thread ---- */

enum scenario { REQUEST, GUARDRAIL, EXECUTION, SANITIZE, INJECT, MARK, TOOL, ASYNC_MIX };
static const char *scenario_names[] = {"request intercepts",   "LLM conditional guardrails", "execution intercepts",
                                       "request sanitizers",   "metadata injectors",         "mark sanitizers",
                                       "tool execute chains",  "chains with late answers"};

struct run {
    enum scenario which;
    nemo_relay_runtime_t *rt;
    struct outcome out;
};

static const char exec_request[] = "{\"headers\":{},\"content\":{\"inner\":true}}";

static void llm_call(struct run *r, const char *request) {
    nemo_relay_callback_t p = {provider, NULL, NULL};
    nemo_relay_done_t d = {on_done, &r->out, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, r->rt, NULL, "chain", request, strlen(request), NULL, &p, &d) ==
           NEMO_RELAY_OK);
}

static void *run_scenario(void *arg) {
    struct run *r = (struct run *)arg;
    switch (r->which) {
    case REQUEST: case GUARDRAIL: case EXECUTION: case SANITIZE: case INJECT:
        llm_call(r, r->which == SANITIZE ? "{\"headers\":{},\"content\":{\"s\":0}}"
                                         : "{\"headers\":{},\"content\":{\"n\":0}}");
        break;
    case MARK: {
        nemo_relay_mark_options_t o;
        nemo_relay_mark_options_init(&o, NEMO_RELAY_MARK_OPTIONS_VERSION);
        o.data = "{\"m\":0}";
        o.data_len = 7;
        EXPECT(nemo_relay_mark(r->rt, NULL, "marked", &o) == NEMO_RELAY_OK);
        on_done(NEMO_RELAY_OK, S("null"), &r->out);
        break;
    }
    case TOOL: case ASYNC_MIX: {
        nemo_relay_callback_t tl = {tool, NULL, NULL};
        nemo_relay_done_t d = {on_done, &r->out, NULL};
        EXPECT(nemo_relay_tool_execute(NULL, r->rt, NULL, "t", S("{\"a\":0}"), NULL, &tl, &d) == NEMO_RELAY_OK);
        break;
    }
    }
    return NULL;
}

static void run_small_stack(struct run *r) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, thread_stack);
    pthread_t th;
    EXPECT(pthread_create(&th, &a, run_scenario, r) == 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&a);
    wait_done(&r->out);
    EXPECT(nemo_relay_flush(r->rt, 30000000000LL) == NEMO_RELAY_OK);
}

static void scenario(enum scenario which) {
    long n = n_entries;
    char needle[64] = "";
    switch (which) {
    case SANITIZE: snprintf(needle, sizeof needle, "\"s\":%ld}", n); break;
    case INJECT: snprintf(needle, sizeof needle, "\"k\":%ld", n); break;
    case MARK: snprintf(needle, sizeof needle, "\"m\":%ld}", n); break;
    default: break;
    }
    struct run r = {which, fresh_runtime(needle), {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}}};
    step = misorder = inner_done = args_step = 0;
    switch (which) {
    case REQUEST: register_n(r.rt, NEMO_RELAY_LLM_REQUEST_INTERCEPT, request_step, NULL, n); break;
    case GUARDRAIL: register_n(r.rt, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, allow, NULL, n); break;
    case EXECUTION:
        register_n(r.rt, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, exec_step, (void *)exec_request, n);
        break;
    case SANITIZE: register_n(r.rt, NEMO_RELAY_LLM_SANITIZE_REQUEST, sanitize_step, NULL, n); break;
    case INJECT: register_n(r.rt, NEMO_RELAY_METADATA_INJECTOR, inject_step, NULL, n); break;
    case MARK: register_n(r.rt, NEMO_RELAY_MARK_SANITIZE, mark_step, NULL, n); break;
    case TOOL:
        register_n(r.rt, NEMO_RELAY_TOOL_CONDITIONAL_EXECUTION, allow, NULL, n);
        register_n(r.rt, NEMO_RELAY_TOOL_REQUEST_INTERCEPT, tool_args_step, NULL, n);
        register_n(r.rt, NEMO_RELAY_TOOL_EXECUTION_INTERCEPT, exec_step, (void *)"{\"a\":\"inner\"}", n);
        break;
    case ASYNC_MIX: break;
    }
    run_small_stack(&r);
    fprintf(stderr, "   %s x %ld: status %d, %ld steps, %ld events\n", scenario_names[which], n, r.out.status, step,
            ev.count);
    EXPECT(r.out.calls == 1);
    EXPECT(r.out.status == NEMO_RELAY_OK);
    EXPECT(misorder == 0);
    char want[96];
    switch (which) {
    case REQUEST: /* the provider saw the last intercept's request */
        EXPECT(step == n);
        snprintf(want, sizeof want, "{\"answer\":%ld}", n);
        EXPECT(strcmp(r.out.text, want) == 0);
        EXPECT(ev.count == 2);
        break;
    case GUARDRAIL: /* a guardrail scope (start and end) per entry, then the LLM span */
        EXPECT(step == n);
        EXPECT(ev.guardrail == 2 * n);
        EXPECT(ev.count == 2 * n + 2);
        break;
    case EXECUTION: /* every layer ran inward and got its inner result back */
        EXPECT(step == n);
        EXPECT(inner_done == n);
        snprintf(want, sizeof want, "{\"answer\":%ld}", n);
        EXPECT(strcmp(r.out.text, want) == 0);
        EXPECT(ev.count == 2);
        break;
    case SANITIZE: /* the start event recorded the last sanitizer's request */
        EXPECT(step == n);
        EXPECT(ev.found);
        EXPECT(ev.count == 2);
        break;
    case INJECT: /* every injector ran for both events; the start event has the n-th value */
        EXPECT(step == 2 * n);
        EXPECT(ev.found);
        EXPECT(ev.count == 2);
        break;
    case MARK:
        EXPECT(step == n);
        EXPECT(ev.found);
        EXPECT(ev.count == 1);
        break;
    case TOOL: /* guardrails, then intercepts rewriting the args, then the execution onion */
        EXPECT(step == 2 * n);
        EXPECT(args_step == n);
        EXPECT(inner_done == n);
        EXPECT(strcmp(r.out.text, "{\"result\":{\"got\":{\"a\":\"inner\"}},\"annotation\":null}") == 0);
        EXPECT(ev.guardrail == 2 * n);
        EXPECT(ev.count == 2 * n + 2);
        break;
    case ASYNC_MIX: break;
    }
    if (r.out.status != NEMO_RELAY_OK) fprintf(stderr, "   outcome: %s\n", r.out.text);
    nemo_relay_runtime_free(r.rt);
}

/* ---- late answers: every third entry answers PENDING and completes from another thread ---- */

struct late {
    nemo_relay_token_t *token;
    char body[160];
    size_t len;
};

static void *complete_late(void *arg) {
    struct late *l = (struct late *)arg;
    usleep(200);
    if (nemo_relay_complete(l->token, NEMO_RELAY_OK, l->body, l->len) != NEMO_RELAY_OK) misorder++;
    free(l);
    return NULL;
}

static nemo_relay_status_t answer_maybe_later(nemo_relay_token_t *t, const char *body, size_t len) {
    if (step % 3 != 0) return nemo_relay_complete(t, NEMO_RELAY_OK, body, len);
    struct late *l = (struct late *)malloc(sizeof *l);
    l->token = t;
    memcpy(l->body, body, len);
    l->len = len;
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, thread_stack);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, complete_late, l) != 0) misorder++;
    pthread_attr_destroy(&a);
    return NEMO_RELAY_PENDING;
}

static nemo_relay_status_t late_guard(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    step++;
    return answer_maybe_later(t, S("null"));
}

static nemo_relay_status_t late_args(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (!holds(json, len, "a", args_step)) misorder++;
    step++;
    args_step++;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "{\"a\":%ld}", args_step);
    return answer_maybe_later(t, buf, (size_t)n);
}

static void late_scenario(long n) {
    struct run r = {ASYNC_MIX, fresh_runtime(NULL), {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}}};
    step = misorder = inner_done = args_step = 0;
    register_n(r.rt, NEMO_RELAY_TOOL_CONDITIONAL_EXECUTION, late_guard, NULL, n);
    register_n(r.rt, NEMO_RELAY_TOOL_REQUEST_INTERCEPT, late_args, NULL, n);
    run_small_stack(&r);
    fprintf(stderr, "   %s x %ld: status %d, %ld steps, %ld events\n", scenario_names[ASYNC_MIX], n, r.out.status,
            step, ev.count);
    EXPECT(r.out.calls == 1);
    EXPECT(r.out.status == NEMO_RELAY_OK);
    EXPECT(misorder == 0);
    EXPECT(step == 2 * n);
    char want[96];
    snprintf(want, sizeof want, "{\"result\":{\"got\":{\"a\":%ld}},\"annotation\":null}", n);
    EXPECT(strcmp(r.out.text, want) == 0);
    EXPECT(ev.guardrail == 2 * n);
    EXPECT(ev.count == 2 * n + 2);
    nemo_relay_runtime_free(r.rt);
}

int main(int argc, char **argv) {
    if (argc > 1) n_entries = atol(argv[1]);
    for (int s = REQUEST; s <= TOOL; s++) scenario((enum scenario)s);
    late_scenario(300);
    return expect_summary();
}
