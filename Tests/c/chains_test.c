/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Long middleware chains cost no stack when callbacks complete synchronously: each scenario runs on
 * a pthread with a 256 KiB stack, behind N (default 100000) entries of one middleware kind whose
 * callbacks answer at once, and checks the result, the order the entries ran in and the events.
 * Every chain kind is covered: LLM guardrails, request intercepts, execution intercepts, stream execution
 * intercepts, request and response sanitizers; tool guardrails, request intercepts, execution intercepts
 * and sanitizers; mark, scope-start and scope-end sanitizers; metadata injectors.
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
static volatile long resp_step; /* response-side sanitizers run so far */

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

/* An LLM response sanitizer: in {"response": {"answer": k}, ...}, out {"answer": k + 1}. */
static nemo_relay_status_t response_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)ud;
    if (!holds(json, len, "answer", resp_step)) misorder++;
    resp_step++;
    return complete_fmt(t, "{\"answer\":%ld}", resp_step);
}

/* A tool request sanitizer: in {"tool_name", "args": {"q": k}}, out the payload {"q": k + 1}. */
static nemo_relay_status_t tool_request_sanitize_step(nemo_relay_token_t *t, const char *json, size_t len,
                                                      void *ud) {
    (void)ud;
    if (!holds(json, len, "q", step)) misorder++;
    step++;
    return complete_fmt(t, "{\"q\":%ld}", step);
}

/* A tool response sanitizer: the first sees the tool's result, each later one {"z": k}; out {"z": k + 1}. */
static nemo_relay_status_t tool_response_sanitize_step(nemo_relay_token_t *t, const char *json, size_t len,
                                                       void *ud) {
    (void)ud;
    if (resp_step == 0 ? !holds(json, len, "q", 0) : !holds(json, len, "z", resp_step)) misorder++;
    resp_step++;
    return complete_fmt(t, "{\"z\":%ld}", resp_step);
}

/* A stream execution intercept: runs the inner layers into its own output; their end completes its token. */
static void finish_stream_layer(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    inner_done++;
    nemo_relay_complete((nemo_relay_token_t *)ud, status, status == NEMO_RELAY_OK ? "null" : json,
                        status == NEMO_RELAY_OK ? 4 : len);
}

static nemo_relay_status_t stream_step(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    step++;
    nemo_relay_done_t d = {finish_stream_layer, t, NULL};
    nemo_relay_status_t rc = nemo_relay_token_next(t, S("{\"headers\":{},\"content\":{\"inner\":true}}"), &d);
    return rc == NEMO_RELAY_OK ? NEMO_RELAY_PENDING : rc;
}

/* The stream provider: three chunks, then the end. */
static nemo_relay_status_t stream_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)len; (void)ud;
    if (!strstr(json, "\"inner\":true")) misorder++;
    nemo_relay_producer_t *prod = NULL;
    if (nemo_relay_token_producer(&prod, t) != NEMO_RELAY_OK) return NEMO_RELAY_E_CALLBACK;
    for (int i = 0; i < 3; i++) {
        char chunk[64];
        int n = snprintf(chunk, sizeof chunk, "{\"type\":\"chunk\",\"i\":%d}", i);
        if (nemo_relay_stream_push(prod, chunk, (size_t)n) != NEMO_RELAY_OK) misorder++;
    }
    nemo_relay_producer_free(prod);
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
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

enum scenario {
    REQUEST, GUARDRAIL, EXECUTION, SANITIZE, INJECT, MARK, TOOL,
    RESPONSE_SANITIZE, TOOL_SANITIZE, SCOPE_SANITIZE, STREAM_EXECUTION, ASYNC_MIX
};
static const char *scenario_names[] = {
    "request intercepts",  "LLM conditional guardrails", "execution intercepts",     "request sanitizers",
    "metadata injectors",  "mark sanitizers",            "tool execute chains",      "response sanitizers",
    "tool sanitizers",     "scope start and end sanitizers", "stream execution intercepts",
    "chains with late answers"};

struct run {
    enum scenario which;
    nemo_relay_runtime_t *rt;
    struct outcome out;
    long chunks; /* chunks the stream consumer read */
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
    case REQUEST: case GUARDRAIL: case EXECUTION: case SANITIZE: case INJECT: case RESPONSE_SANITIZE:
        llm_call(r, r->which == SANITIZE ? "{\"headers\":{},\"content\":{\"s\":0}}"
                                         : "{\"headers\":{},\"content\":{\"n\":0}}");
        break;
    case SCOPE_SANITIZE: {
        nemo_relay_scope_options_t o;
        nemo_relay_scope_options_init(&o, NEMO_RELAY_SCOPE_OPTIONS_VERSION);
        o.payload = "{\"m\":0}";
        o.payload_len = 7;
        nemo_relay_scope_t *scope = NULL;
        EXPECT(nemo_relay_scope_begin(&scope, r->rt, NULL, "scoped", NEMO_RELAY_SCOPE_FUNCTION, &o) == NEMO_RELAY_OK);
        /* the end sanitizers continue from the value the start sanitizers reached */
        char end_payload[32];
        int n = snprintf(end_payload, sizeof end_payload, "{\"m\":%ld}", step);
        nemo_relay_scope_options_init(&o, NEMO_RELAY_SCOPE_OPTIONS_VERSION);
        o.payload = end_payload;
        o.payload_len = (size_t)n;
        EXPECT(nemo_relay_scope_end(r->rt, NULL, scope, &o) == NEMO_RELAY_OK);
        nemo_relay_scope_free(scope);
        on_done(NEMO_RELAY_OK, S("null"), &r->out);
        break;
    }
    case STREAM_EXECUTION: {
        nemo_relay_callback_t p = {stream_provider, NULL, NULL};
        nemo_relay_stream_t *s = NULL;
        EXPECT(nemo_relay_llm_stream_execute(&s, r->rt, NULL, "chain", S("{\"headers\":{},\"content\":{}}"), NULL,
                                             NULL, &p) == NEMO_RELAY_OK);
        nemo_relay_status_t st;
        for (;;) {
            char *out = NULL;
            size_t out_len = 0;
            st = nemo_relay_stream_next(&out, &out_len, s, -1);
            if (st != NEMO_RELAY_OK || !out) break;
            r->chunks++;
            nemo_relay_free(out);
        }
        nemo_relay_stream_free(s);
        on_done(st, S("null"), &r->out);
        break;
    }
    case MARK: {
        nemo_relay_mark_options_t o;
        nemo_relay_mark_options_init(&o, NEMO_RELAY_MARK_OPTIONS_VERSION);
        o.data = "{\"m\":0}";
        o.data_len = 7;
        EXPECT(nemo_relay_mark(r->rt, NULL, "marked", &o) == NEMO_RELAY_OK);
        on_done(NEMO_RELAY_OK, S("null"), &r->out);
        break;
    }
    case TOOL: case ASYNC_MIX: case TOOL_SANITIZE: {
        nemo_relay_callback_t tl = {tool, NULL, NULL};
        nemo_relay_done_t d = {on_done, &r->out, NULL};
        const char *args = r->which == TOOL_SANITIZE ? "{\"q\":0}" : "{\"a\":0}";
        EXPECT(nemo_relay_tool_execute(NULL, r->rt, NULL, "t", args, 7, NULL, &tl, &d) == NEMO_RELAY_OK);
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
    case RESPONSE_SANITIZE: snprintf(needle, sizeof needle, "\"answer\":%ld}", n); break;
    case TOOL_SANITIZE: snprintf(needle, sizeof needle, "\"z\":%ld}", n); break;
    case SCOPE_SANITIZE: snprintf(needle, sizeof needle, "\"m\":%ld}", 2 * n); break;
    default: break;
    }
    struct run r = {which, fresh_runtime(needle), {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}},
                    0};
    step = misorder = inner_done = args_step = resp_step = 0;
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
    case RESPONSE_SANITIZE: register_n(r.rt, NEMO_RELAY_LLM_SANITIZE_RESPONSE, response_step, NULL, n); break;
    case TOOL_SANITIZE:
        register_n(r.rt, NEMO_RELAY_TOOL_SANITIZE_REQUEST, tool_request_sanitize_step, NULL, n);
        register_n(r.rt, NEMO_RELAY_TOOL_SANITIZE_RESPONSE, tool_response_sanitize_step, NULL, n);
        break;
    case SCOPE_SANITIZE:
        register_n(r.rt, NEMO_RELAY_SCOPE_START_SANITIZE, mark_step, NULL, n);
        register_n(r.rt, NEMO_RELAY_SCOPE_END_SANITIZE, mark_step, NULL, n);
        break;
    case STREAM_EXECUTION:
        register_n(r.rt, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, stream_step, NULL, n);
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
    case RESPONSE_SANITIZE: /* the end event recorded the last sanitizer's payload; the caller got the provider's */
        EXPECT(resp_step == n);
        EXPECT(ev.found);
        EXPECT(strcmp(r.out.text, "{\"answer\":0}") == 0);
        EXPECT(ev.count == 2);
        break;
    case TOOL_SANITIZE: /* each chain saw its previous entry's payload; the end event has the last one */
        EXPECT(step == n);
        EXPECT(resp_step == n);
        EXPECT(ev.found);
        EXPECT(strcmp(r.out.text, "{\"result\":{\"got\":{\"q\":0}},\"annotation\":null}") == 0);
        EXPECT(ev.count == 2);
        break;
    case SCOPE_SANITIZE: /* n start sanitizers, then n end sanitizers continuing the count */
        EXPECT(step == 2 * n);
        EXPECT(ev.found);
        EXPECT(ev.count == 2);
        break;
    case STREAM_EXECUTION: /* every layer ran inward; the chunks reached the consumer; every layer ended */
        EXPECT(step == n);
        EXPECT(inner_done == n);
        EXPECT(r.chunks == 3);
        EXPECT(ev.count == 2 + 3);
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
    struct run r = {ASYNC_MIX, fresh_runtime(NULL), {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}},
                    0};
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
    for (int s = REQUEST; s <= STREAM_EXECUTION; s++) scenario((enum scenario)s);
    late_scenario(300);
    return expect_summary();
}
