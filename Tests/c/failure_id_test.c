/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Failure identities (nemo_relay_complete_failure, nemo_relay_last_error_id): the id a callback attaches
 * to its failure reaches the caller unchanged (LLM and tool calls, through an execution intercept that
 * re-raises it, pulled and callback-consumed streams), the per-thread slot is cleared and replaced by the
 * next call, and every id's destructor runs exactly once, whether the failure reached a caller or not
 * (100,000 failures: no growth).
 */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"

#define REQ "{\"headers\":{},\"content\":{\"m\":1}}"
#define FAILURE "{\"type\":\"ValueError\",\"message\":\"same text\"}"

/* ---- released ids ---- */

static long released;     /* how many destructors ran */
static long released_sum; /* the sum of their ids */

static void release_id(void *ud) {
    __atomic_fetch_add(&released, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&released_sum, (long)(intptr_t)ud, __ATOMIC_RELAXED);
}

static long released_now(void) { return __atomic_load_n(&released, __ATOMIC_RELAXED); }

/* Fails `t` with the id passed as user data. */
static nemo_relay_status_t fail_with_id(nemo_relay_token_t *t, uint64_t id) {
    nemo_relay_failure_id_t fid = {id, (void *)(intptr_t)id, release_id};
    EXPECT(nemo_relay_complete_failure(t, NEMO_RELAY_E_CALLBACK, S(FAILURE), &fid) == NEMO_RELAY_OK);
    return NEMO_RELAY_E_CALLBACK;
}

static nemo_relay_status_t failing_callback(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len;
    return fail_with_id(t, (uint64_t)(intptr_t)ud);
}

/* ---- outcomes seen by done callbacks ---- */

struct outcome {
    int calls;
    nemo_relay_status_t status;
    uint64_t id;
    char text[256];
};

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct outcome *o = (struct outcome *)ud;
    o->id = nemo_relay_last_error_id(); /* first thing: the failure's id */
    o->calls++;
    o->status = status;
    if (len >= sizeof o->text) len = sizeof o->text - 1;
    memcpy(o->text, json, len);
    o->text[len] = 0;
}

static void llm_call(nemo_relay_runtime_t *rt, uint64_t id, struct outcome *o) {
    nemo_relay_callback_t p = {failing_callback, (void *)(intptr_t)id, NULL};
    nemo_relay_done_t d = {on_done, o, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "p", S(REQ), NULL, &p, &d) == NEMO_RELAY_OK);
}

static void test_llm_and_tool_calls(nemo_relay_runtime_t *rt) {
    long before = released_now();
    struct outcome o = {0};
    llm_call(rt, 42, &o);
    EXPECT(o.calls == 1 && o.status == NEMO_RELAY_E_CALLBACK && o.id == 42);
    EXPECT(strcmp(o.text, "same text") == 0);
    EXPECT(nemo_relay_last_error_id() == 0); /* the slot held it only while `on_done` ran */
    EXPECT(released_now() == before + 1);

    struct outcome t = {0};
    nemo_relay_callback_t tool = {failing_callback, (void *)(intptr_t)43, NULL};
    nemo_relay_done_t d = {on_done, &t, NULL};
    EXPECT(nemo_relay_tool_execute(NULL, rt, NULL, "t", S("{}"), NULL, &tool, &d) == NEMO_RELAY_OK);
    EXPECT(t.calls == 1 && t.status == NEMO_RELAY_E_CALLBACK && t.id == 43);
    EXPECT(released_now() == before + 2);
}

static nemo_relay_status_t plain_failure(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    nemo_relay_complete(t, NEMO_RELAY_E_CALLBACK, S(FAILURE));
    return NEMO_RELAY_E_CALLBACK;
}

static void test_plain_failure_has_no_id(nemo_relay_runtime_t *rt) {
    struct outcome o = {0};
    nemo_relay_callback_t p = {plain_failure, NULL, NULL};
    nemo_relay_done_t d = {on_done, &o, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "p", S(REQ), NULL, &p, &d) == NEMO_RELAY_OK);
    EXPECT(o.calls == 1 && o.status == NEMO_RELAY_E_CALLBACK && o.id == 0);
}

/* ---- an execution intercept that sees the inner failure and re-raises it with its own id ---- */

struct relay {
    nemo_relay_token_t *token;
    uint64_t inner_id; /* what the intercept saw */
    uint64_t own_id;   /* 0: swallow the failure and answer OK */
};

static void relay_inner_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct relay *r = (struct relay *)ud;
    r->inner_id = nemo_relay_last_error_id();
    (void)json, (void)len;
    if (status == NEMO_RELAY_OK || r->own_id == 0) {
        nemo_relay_complete(r->token, NEMO_RELAY_OK, S("{\"recovered\":true}"));
        return;
    }
    fail_with_id(r->token, r->own_id);
}

static struct relay relay_state;

static nemo_relay_status_t relay_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    relay_state.token = t;
    nemo_relay_done_t d = {relay_inner_done, &relay_state, NULL};
    EXPECT(nemo_relay_token_next(t, S(REQ), &d) == NEMO_RELAY_OK);
    return NEMO_RELAY_PENDING;
}

static void test_nested(nemo_relay_runtime_t *rt) {
    nemo_relay_callback_t ic = {relay_intercept, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "relay", 0, 0, &ic) == NEMO_RELAY_OK);

    long before = released_now(), sum = __atomic_load_n(&released_sum, __ATOMIC_RELAXED);
    relay_state.own_id = 51;
    struct outcome o = {0};
    llm_call(rt, 50, &o);
    EXPECT(relay_state.inner_id == 50); /* the intercept saw the provider's failure */
    EXPECT(o.calls == 1 && o.status == NEMO_RELAY_E_CALLBACK && o.id == 51);
    EXPECT(released_now() == before + 2 && __atomic_load_n(&released_sum, __ATOMIC_RELAXED) == sum + 101);

    /* a failure that an intercept replaces reaches no caller: its destructor runs anyway */
    relay_state.own_id = 0;
    struct outcome r = {0};
    llm_call(rt, 52, &r);
    EXPECT(relay_state.inner_id == 52);
    EXPECT(r.calls == 1 && r.status == NEMO_RELAY_OK && r.id == 0);
    EXPECT(released_now() == before + 3);

    bool removed = false;
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_EXECUTION_INTERCEPT, "relay") == NEMO_RELAY_OK);
    EXPECT(removed);
}

/* ---- streams ---- */

static nemo_relay_status_t stream_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len;
    nemo_relay_producer_t *prod = NULL;
    EXPECT(nemo_relay_token_producer(&prod, t) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_push(prod, S("{\"delta\":\"a\"}")) == NEMO_RELAY_OK);
    nemo_relay_producer_free(prod);
    return fail_with_id(t, (uint64_t)(intptr_t)ud);
}

static nemo_relay_status_t take_chunk(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}

static void test_streams(nemo_relay_runtime_t *rt) {
    long before = released_now();
    nemo_relay_stream_t *s = NULL;
    nemo_relay_callback_t p = {stream_provider, (void *)(intptr_t)60, NULL};
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, NULL, "p", S(REQ), NULL, NULL, &p) == NEMO_RELAY_OK);
    char *out = NULL;
    size_t n = 0;
    EXPECT(nemo_relay_stream_next(&out, &n, s, -1) == NEMO_RELAY_OK && out != NULL);
    nemo_relay_free(out);
    EXPECT(nemo_relay_last_error_id() == 0);
    EXPECT(nemo_relay_stream_next(&out, &n, s, -1) == NEMO_RELAY_E_CALLBACK);
    EXPECT(nemo_relay_last_error_id() == 60);
    EXPECT(strstr(nemo_relay_last_error_message(), "same text") != NULL);
    EXPECT(nemo_relay_last_error_id() == 60); /* reading does not clear */
    /* the next call clears the slot; a later failure replaces it */
    EXPECT(nemo_relay_stream_close(s) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_last_error_id() == 0);
    EXPECT(nemo_relay_stream_next(&out, &n, s, -1) != NEMO_RELAY_OK);
    struct outcome o = {0};
    llm_call(rt, 61, &o);
    EXPECT(o.id == 61 && nemo_relay_last_error_id() == 0);
    nemo_relay_stream_free(s);
    EXPECT(nemo_relay_mark(rt, NULL, "clear", NULL) == NEMO_RELAY_OK); /* drops the slot's hold */
    EXPECT(released_now() == before + 2);

    /* a callback consumer's on_end reads the id */
    struct outcome end = {0};
    nemo_relay_stream_options_t so;
    EXPECT(nemo_relay_stream_options_init(&so, NEMO_RELAY_STREAM_OPTIONS_VERSION) == NEMO_RELAY_OK);
    so.on_chunk = (nemo_relay_callback_t){take_chunk, NULL, NULL};
    so.on_end = (nemo_relay_done_t){on_done, &end, NULL};
    nemo_relay_callback_t p2 = {stream_provider, (void *)(intptr_t)62, NULL};
    EXPECT(nemo_relay_llm_stream_execute(NULL, rt, NULL, "p", S(REQ), NULL, &so, &p2) == NEMO_RELAY_OK);
    EXPECT(end.calls == 1 && end.status == NEMO_RELAY_E_CALLBACK && end.id == 62);
    EXPECT(nemo_relay_mark(rt, NULL, "clear", NULL) == NEMO_RELAY_OK);
    EXPECT(released_now() == before + 3);

    /* a stream freed before its failure was read releases the id too */
    nemo_relay_callback_t p3 = {stream_provider, (void *)(intptr_t)63, NULL};
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, NULL, "p", S(REQ), NULL, NULL, &p3) == NEMO_RELAY_OK);
    nemo_relay_stream_free(s);
    EXPECT(nemo_relay_flush(rt, -1) == NEMO_RELAY_OK);
    for (int i = 0; i < 2000 && released_now() < before + 4; i++) usleep(1000);
    EXPECT(released_now() == before + 4);
}

/* ---- misuse: the id's destructor runs at once when the failure is not recorded ---- */

static nemo_relay_token_t *kept;
static nemo_relay_status_t keep_token(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json, (void)len, (void)ud;
    kept = t;
    return NEMO_RELAY_PENDING;
}

static void test_misuse(nemo_relay_runtime_t *rt) {
    long before = released_now();
    struct outcome o = {0};
    nemo_relay_callback_t p = {keep_token, NULL, NULL};
    nemo_relay_done_t d = {on_done, &o, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "p", S(REQ), NULL, &p, &d) == NEMO_RELAY_OK);
    nemo_relay_failure_id_t fid = {70, (void *)(intptr_t)70, release_id};
    EXPECT(nemo_relay_complete_failure(kept, NEMO_RELAY_OK, S("{}"), &fid) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(released_now() == before + 1);
    fid.id = 0;
    EXPECT(nemo_relay_complete_failure(kept, NEMO_RELAY_E_CALLBACK, S(FAILURE), &fid) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(released_now() == before + 2);
    EXPECT(o.calls == 0); /* still pending */
    fid.id = 71;
    EXPECT(nemo_relay_complete_failure(kept, NEMO_RELAY_E_CALLBACK, S(FAILURE), &fid) == NEMO_RELAY_OK);
    EXPECT(o.calls == 1 && o.id == 71);
    EXPECT(released_now() == before + 3);
    EXPECT(nemo_relay_complete_failure(kept, NEMO_RELAY_E_CALLBACK, S(FAILURE), &fid) == NEMO_RELAY_E_MISUSE);
    EXPECT(released_now() == before + 4);
    /* NULL id: as nemo_relay_complete */
    EXPECT(nemo_relay_complete_failure(kept, NEMO_RELAY_E_CALLBACK, S(FAILURE), NULL) == NEMO_RELAY_E_MISUSE);
    /* a NULL destructor is allowed */
    struct outcome q = {0};
    nemo_relay_done_t qd = {on_done, &q, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, NULL, "p", S(REQ), NULL, &p, &qd) == NEMO_RELAY_OK);
    nemo_relay_failure_id_t bare = {72, NULL, NULL};
    EXPECT(nemo_relay_complete_failure(kept, NEMO_RELAY_E_CALLBACK, S(FAILURE), &bare) == NEMO_RELAY_OK);
    EXPECT(q.calls == 1 && q.id == 72);
}

/* ---- many failures: every destructor runs, nothing is kept ---- */

static void test_many(nemo_relay_runtime_t *rt, int count) {
    long before = released_now();
    for (int i = 1; i <= count; i++) {
        struct outcome o = {0};
        llm_call(rt, (uint64_t)i, &o);
        if (o.id != (uint64_t)i) {
            EXPECT(o.id == (uint64_t)i);
            return;
        }
    }
    EXPECT(released_now() == before + count);
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 100000;
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_last_error_id() == 0);
    test_llm_and_tool_calls(rt);
    test_plain_failure_has_no_id(rt);
    test_nested(rt);
    test_streams(rt);
    test_misuse(rt);
    test_many(rt, count);
    nemo_relay_runtime_free(rt);
    return expect_summary();
}
