/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming LLM calls through the C ABI: every row of the stream outcome table of docs/pipeline.md, the ways a
 * consumer can leave, back-pressure, callback consumers, stream intercepts and misuse. Each row's
 * events are normalised as the event vectors are (uuids and timestamps replaced by <uuid:N> and
 * <ts:N> in order of appearance, time_to_first_chunk by "<seconds>") and compared line by line.
 */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"

/* ---- collected events, normalised ---- */

#define MAX_EVENTS 64
static struct {
    pthread_mutex_t lock;
    int count;
    char *lines[MAX_EVENTS];
} ev = {PTHREAD_MUTEX_INITIALIZER, 0, {0}};

static void collect(const char *json, size_t len, void *ud) {
    (void)ud;
    pthread_mutex_lock(&ev.lock);
    if (ev.count < MAX_EVENTS) {
        char *l = malloc(len + 1);
        memcpy(l, json, len);
        l[len] = 0;
        ev.lines[ev.count++] = l;
    }
    pthread_mutex_unlock(&ev.lock);
}

static void reset_events(void) {
    for (int i = 0; i < ev.count; i++) free(ev.lines[i]);
    ev.count = 0;
}

struct names { char values[MAX_EVENTS * 4][48]; int n; };

static int placeholder(struct names *t, const char *v, size_t len) {
    for (int i = 0; i < t->n; i++)
        if (strlen(t->values[i]) == len && memcmp(t->values[i], v, len) == 0) return i + 1;
    if (len >= sizeof t->values[0]) len = sizeof t->values[0] - 1;
    memcpy(t->values[t->n], v, len);
    t->values[t->n][len] = 0;
    return ++t->n;
}

/* Rewrites one canonical line in place of `out`: string values of the uuid keys and `timestamp`
 * become placeholders, the number after `time_to_first_chunk` becomes "<seconds>". */
static void normalise(const char *in, char *out, size_t cap, struct names *uuids, struct names *stamps) {
    static const char *keys[] = {"\"parent_uuid\":\"", "\"propagation_root_uuid\":\"", "\"uuid\":\"",
                                 "\"timestamp\":\""};
    size_t o = 0;
    while (*in && o + 32 < cap) {
        int matched = 0;
        for (int k = 0; k < 4 && !matched; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(in, keys[k], kl) != 0) continue;
            const char *v = in + kl, *e = strchr(v, '"');
            if (!e) break;
            int n = placeholder(k == 3 ? stamps : uuids, v, (size_t)(e - v));
            o += (size_t)snprintf(out + o, cap - o, "%.*s<%s:%d>\"", (int)kl, in, k == 3 ? "ts" : "uuid", n);
            in = e + 1;
            matched = 1;
        }
        if (matched) continue;
        static const char ttfc[] = "\"time_to_first_chunk\":";
        if (strncmp(in, ttfc, sizeof ttfc - 1) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s\"<seconds>\"", ttfc);
            in += sizeof ttfc - 1;
            while (*in && strchr("0123456789.eE+-", *in)) in++;
            continue;
        }
        out[o++] = *in++;
    }
    out[o] = 0;
}

/* Compares the collected events with `expected` (NULL-terminated), after normalising. */
static int events_match(nemo_relay_runtime_t *rt, const char *const *expected, int line) {
    if (rt) nemo_relay_flush(rt, 10000000000LL);
    static struct names uuids, stamps;
    uuids.n = stamps.n = 0;
    int n = 0, ok = 1;
    pthread_mutex_lock(&ev.lock);
    for (; expected[n]; n++) {
        if (n >= ev.count) {
            fprintf(stderr, "line %d: missing event %d: %s\n", line, n, expected[n]);
            ok = 0;
            continue;
        }
        char got[8192];
        normalise(ev.lines[n], got, sizeof got, &uuids, &stamps);
        if (strcmp(got, expected[n]) != 0) {
            fprintf(stderr, "line %d: event %d\n  got      %s\n  expected %s\n", line, n, got, expected[n]);
            ok = 0;
        }
    }
    if (ev.count != n) {
        fprintf(stderr, "line %d: %d events, expected %d\n", line, ev.count, n);
        ok = 0;
    }
    pthread_mutex_unlock(&ev.lock);
    reset_events();
    return ok;
}
#define EXPECT_EVENTS(rt, ...)                                                                     \
    do {                                                                                           \
        static const char *const exp_[] = {__VA_ARGS__, NULL};                                     \
        EXPECT(events_match(rt, exp_, __LINE__));                                                  \
    } while (0)

/* Every call runs directly under the stack's root: the root is the first uuid of the start event
 * (<uuid:1>), the LLM span <uuid:2>, its chunk marks <uuid:3>... as in the Swift tests. */

/* ---- expected lines ---- */

#define START                                                                                      \
    "{\"atof_version\":\"0.1\",\"attributes\":[\"streaming\"],\"category\":\"llm\",\"category_profile\":"   \
    "{\"model_name\":\"gpt-4o\"},\"data\":{\"content\":{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"    \
    "\"model\":\"gpt-4o\"},\"headers\":{}},\"data_schema\":null,\"kind\":\"scope\",\"metadata\":null,"           \
    "\"name\":\"openai\",\"parent_uuid\":\"<uuid:1>\",\"propagation_root_uuid\":\"<uuid:1>\","              \
    "\"scope_category\":\"start\",\"timestamp\":\"<ts:1>\",\"uuid\":\"<uuid:2>\"}"
#define MARK(i, ts, u)                                                                             \
    "{\"atof_version\":\"0.1\",\"category\":null,\"category_profile\":null,\"data\":{\"choice_indices\":[0],"   \
    "\"chunk_index\":" #i ",\"event_type\":\"chat.completion.chunk\",\"provider\":\"openai_chat_completions\"}," \
    "\"data_schema\":null,\"kind\":\"mark\",\"metadata\":null,\"name\":\"llm.chunk\",\"parent_uuid\":\"<uuid:2>\"," \
    "\"propagation_root_uuid\":\"<uuid:1>\",\"timestamp\":\"<ts:" #ts ">\",\"uuid\":\"<uuid:" #u ">\"}"
#define END(profile, data, metadata, ts)                                                           \
    "{\"atof_version\":\"0.1\",\"attributes\":[\"streaming\"],\"category\":\"llm\",\"category_profile\":"   \
    "{\"model_name\":\"gpt-4o\"" profile "},\"data\":" data ",\"data_schema\":null,\"kind\":\"scope\","           \
    "\"metadata\":" metadata ",\"name\":\"openai\",\"parent_uuid\":\"<uuid:1>\","                          \
    "\"propagation_root_uuid\":\"<uuid:1>\",\"scope_category\":\"end\",\"timestamp\":\"<ts:" #ts ">\","     \
    "\"uuid\":\"<uuid:2>\"}"
#define TTFC ",\"time_to_first_chunk\":\"<seconds>\""
#define OK_MD "{\"otel.status_code\":\"OK\"}"
#define DROPPED_MD(reason)                                                                         \
    "{\"nemo_relay.stream.end_reason\":\"" reason "\",\"otel.status_code\":\"ERROR\","                   \
    "\"otel.status_description\":\"stream dropped before clean completion\"}"

/* ---- callbacks ---- */

static const char chunk_json[] =
    "{\"choices\":[{\"delta\":{\"content\":\"x\"},\"index\":0}],\"object\":\"chat.completion.chunk\"}";

/* Observers: the collector counts chunks (and can fail at one), the finalizer reports the count. */
struct observer {
    int collected, finalized, fail_collector_at, finalizer_fails;
};

static nemo_relay_status_t collector(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct observer *o = ud;
    if (o->collected == o->fail_collector_at)
        return nemo_relay_complete(t, NEMO_RELAY_E_CALLBACK, S("{\"type\":\"ValueError\",\"message\":\"bad chunk\"}"));
    o->collected++;
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}

static nemo_relay_status_t finalizer(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct observer *o = ud;
    o->finalized++;
    if (o->finalizer_fails) return nemo_relay_complete(t, NEMO_RELAY_E_CALLBACK, S("missing usage"));
    char buf[64];
    int n = snprintf(buf, sizeof buf, "{\"chunks\":%d}", o->collected);
    return nemo_relay_complete(t, NEMO_RELAY_OK, buf, (size_t)n);
}

static nemo_relay_stream_options_t observed(struct observer *o) {
    nemo_relay_stream_options_t so;
    nemo_relay_stream_options_init(&so, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    o->collected = o->finalized = o->finalizer_fails = 0;
    o->fail_collector_at = -1;
    so.collector.fn = collector;
    so.collector.user_data = o;
    so.finalizer.fn = finalizer;
    so.finalizer.user_data = o;
    return so;
}

/* A provider that pushes `chunks` chunks at once, then finishes (or fails when `fail`). */
struct plan {
    int chunks, fail;
    nemo_relay_status_t push_status[8];
};

static nemo_relay_status_t sync_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct plan *p = ud;
    nemo_relay_producer_t *prod = NULL;
    if (nemo_relay_token_producer(&prod, t) != NEMO_RELAY_OK) return NEMO_RELAY_E_INTERNAL;
    for (int i = 0; i < p->chunks; i++) p->push_status[i] = nemo_relay_stream_push(prod, S(chunk_json));
    nemo_relay_producer_free(prod);
    if (p->fail)
        return nemo_relay_complete(t, NEMO_RELAY_E_CALLBACK,
                                   S("{\"type\":\"ConnectionError\",\"message\":\"upstream reset\"}"));
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}

/* A provider that pushes `chunks` chunks, then keeps its token and producer for later. */
struct parked {
    int chunks;
    nemo_relay_token_t *token;
    nemo_relay_producer_t *producer;
    int cancel_calls, cancel_freed;
    nemo_relay_status_t cancel_status;
};

static void on_cancel(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct parked *p = ud;
    p->cancel_calls++;
    p->cancel_status = status;
}
static void on_cancel_free(void *ud) { ((struct parked *)ud)->cancel_freed++; }

static nemo_relay_status_t parking_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct parked *p = ud;
    p->token = t;
    nemo_relay_token_producer(&p->producer, t);
    nemo_relay_done_t c = {on_cancel, p, on_cancel_free};
    nemo_relay_producer_on_cancel(p->producer, &c);
    for (int i = 0; i < p->chunks; i++) nemo_relay_stream_push(p->producer, S(chunk_json));
    return NEMO_RELAY_PENDING;
}

static void *finish_parked(void *arg) {
    struct parked *p = arg;
    for (int i = 0; i < 2; i++) nemo_relay_stream_push(p->producer, S(chunk_json));
    nemo_relay_complete(p->token, NEMO_RELAY_OK, S("null"));
    return NULL;
}

/* Pulls a stream to its end; returns the number of chunks and the terminal status. */
static int pull_all(nemo_relay_stream_t *s, nemo_relay_status_t *end, char *msg, size_t msg_cap) {
    int n = 0;
    for (;;) {
        char *out = NULL;
        size_t len = 0;
        nemo_relay_status_t rc = nemo_relay_stream_next(&out, &len, s, 5000000000LL);
        if (rc == NEMO_RELAY_OK && out) {
            n++;
            nemo_relay_free(out);
            continue;
        }
        *end = rc;
        if (msg) snprintf(msg, msg_cap, "%s", nemo_relay_last_error_message());
        return n;
    }
}

/* Callback consumer that parks each chunk's token. */
struct consumer {
    int chunks, ends, freed;
    nemo_relay_status_t end_status;
    nemo_relay_token_t *parked;
};
static nemo_relay_status_t on_chunk(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct consumer *c = ud;
    c->chunks++;
    c->parked = t;
    return NEMO_RELAY_PENDING;
}
static void on_end(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct consumer *c = ud;
    c->ends++;
    c->end_status = status;
}
static void consumer_free(void *ud) { ((struct consumer *)ud)->freed++; }

/* Stream intercept: pushes its own first chunk, then runs the inner layers and ends with them. */
static void intercept_inner_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    nemo_relay_complete((nemo_relay_token_t *)ud, status, status == NEMO_RELAY_OK ? "null" : json,
                        status == NEMO_RELAY_OK ? 4 : len);
}
static nemo_relay_status_t stream_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len; (void)ud;
    nemo_relay_producer_t *prod = NULL;
    nemo_relay_token_producer(&prod, t);
    nemo_relay_stream_push(prod, S("{\"type\":\"intercept.hello\"}"));
    nemo_relay_producer_free(prod);
    nemo_relay_done_t d = {intercept_inner_done, t, NULL};
    nemo_relay_token_next(t, S("{\"headers\":{},\"content\":{\"inner\":true}}"), &d);
    return NEMO_RELAY_PENDING;
}

static const char request[] = "{\"headers\":{\"authorization\":\"Bearer x\"},\"content\":{\"model\":\"gpt-4o\","
                              "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}";

int main(void) {
    nemo_relay_runtime_t *rt = NULL;
    nemo_relay_stack_t *stack = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stack_new(&stack, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, NULL, NULL) == NEMO_RELAY_OK);

    nemo_relay_llm_options_t lo;
    nemo_relay_llm_options_init(&lo, NEMO_RELAY_LLM_OPTIONS_VERSION);
    lo.model_name = "gpt-4o";
    lo.attributes = NEMO_RELAY_LLM_STREAMING;
    lo.data = "{\"handle\":\"data\"}";
    lo.data_len = strlen(lo.data);

    struct observer obs;
    struct plan plan;
    nemo_relay_stream_t *s = NULL;
    nemo_relay_status_t end;
    char msg[512];
    nemo_relay_stream_options_t so;
    nemo_relay_callback_t prov = {sync_provider, &plan, NULL};

    /* Row: normal completion. */
    so = observed(&obs);
    memset(&plan, 0, sizeof plan);
    plan.chunks = 3;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_all(s, &end, NULL, 0) == 3 && end == NEMO_RELAY_OK);
    EXPECT(obs.collected == 3 && obs.finalized == 1);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), MARK(1, 3, 4), MARK(2, 4, 5),
                  END(TTFC, "{\"chunks\":3}", OK_MD, 5));

    /* Row: finalizer raises: OK, data null. */
    so = observed(&obs);
    obs.finalizer_fails = 1;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_all(s, &end, NULL, 0) == 3 && end == NEMO_RELAY_OK && obs.finalized == 1);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), MARK(1, 3, 4), MARK(2, 4, 5), END(TTFC, "null", OK_MD, 5));

    /* Row: provider raises mid-stream: chunks so far, then its error; ERROR end with the finalizer value. */
    so = observed(&obs);
    plan.chunks = 2;
    plan.fail = 1;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_all(s, &end, msg, sizeof msg) == 2 && end == NEMO_RELAY_E_CALLBACK);
    EXPECT(strcmp(msg, "internal error: ConnectionError: upstream reset") == 0);
    EXPECT(obs.finalized == 1);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), MARK(1, 3, 4),
                  END(TTFC, "{\"chunks\":2}",
                      "{\"error.type\":\"internal_error\",\"exception.type\":\"ConnectionError\","
                      "\"otel.status_code\":\"ERROR\",\"otel.status_description\":"
                      "\"internal error: ConnectionError: upstream reset\"}", 4));

    /* Row: collector raises: the consumer gets its error, the producer is told to stop. */
    so = observed(&obs);
    obs.fail_collector_at = 1;
    plan.chunks = 3;
    plan.fail = 0;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(plan.push_status[0] == NEMO_RELAY_OK && plan.push_status[1] == NEMO_RELAY_E_CANCELLED &&
           plan.push_status[2] == NEMO_RELAY_E_CANCELLED);
    EXPECT(pull_all(s, &end, msg, sizeof msg) == 1 && end == NEMO_RELAY_E_CALLBACK);
    EXPECT(strcmp(msg, "internal error: ValueError: bad chunk") == 0);
    EXPECT(obs.finalized == 1);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3),
                  END(TTFC, "{\"chunks\":1}",
                      "{\"error.type\":\"internal_error\",\"exception.type\":\"ValueError\","
                      "\"otel.status_code\":\"ERROR\",\"otel.status_description\":"
                      "\"internal error: ValueError: bad chunk\"}", 3));

    /* Row: the consumer stops reading without closing: the provider finishes on its own thread; OK. */
    struct parked pk;
    memset(&pk, 0, sizeof pk);
    pk.chunks = 1;
    nemo_relay_callback_t parkp = {parking_provider, &pk, NULL};
    so = observed(&obs);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &parkp) == NEMO_RELAY_OK);
    char *out = NULL;
    size_t out_len = 0;
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_OK && out && strcmp(out, chunk_json) == 0);
    nemo_relay_free(out);
    pthread_t th;
    pthread_create(&th, NULL, finish_parked, &pk);
    pthread_join(th, NULL);
    EXPECT(obs.finalized == 1 && pk.cancel_calls == 0 && pk.cancel_freed == 1);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), MARK(1, 3, 4), MARK(2, 4, 5),
                  END(TTFC, "{\"chunks\":3}", OK_MD, 5));
    EXPECT(nemo_relay_stream_close(s) == NEMO_RELAY_OK); /* after the end: nothing recorded */
    EXPECT(obs.finalized == 1);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, NULL);

    /* Row: the consumer closes early: producer cancelled, finalizer on partial state, dropped end. */
    memset(&pk, 0, sizeof pk);
    pk.chunks = 2;
    so = observed(&obs);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_OK && out);
    nemo_relay_free(out);
    EXPECT(nemo_relay_stream_close(s) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_close(s) == NEMO_RELAY_OK);
    EXPECT(pk.cancel_calls == 1 && pk.cancel_status == NEMO_RELAY_E_CANCELLED && pk.cancel_freed == 1);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_CANCELLED);
    EXPECT(nemo_relay_complete(pk.token, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_E_CANCELLED && out == NULL);
    EXPECT(obs.finalized == 1);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), MARK(1, 3, 4),
                  END(TTFC, "{\"chunks\":2}", DROPPED_MD("consumer_closed"), 4));

    /* Row: no chunks: OK, no time_to_first_chunk. */
    so = observed(&obs);
    plan.chunks = 0;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_OK && out == NULL && out_len == 0);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_OK && out == NULL);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(rt, START, END("", "{\"chunks\":0}", OK_MD, 2));

    /* Dropping a pulled stream without closing it ends it as consumer_released. */
    memset(&pk, 0, sizeof pk);
    pk.chunks = 1;
    so = observed(&obs);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &parkp) == NEMO_RELAY_OK);
    nemo_relay_stream_free(s);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_E_MISUSE);
    EXPECT(pk.cancel_calls == 1 && obs.finalized == 1);
    nemo_relay_producer_free(pk.producer);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), END(TTFC, "{\"chunks\":1}", DROPPED_MD("consumer_released"), 3));

    /* Back-pressure and a callback consumer: a parked chunk callback pauses delivery, pushes then
     * report NEMO_RELAY_E_FULL; failing a chunk's token closes the stream; on_end runs once. */
    struct consumer cons;
    memset(&cons, 0, sizeof cons);
    memset(&pk, 0, sizeof pk);
    so = observed(&obs);
    so.buffer_capacity = 1;
    so.on_chunk = (nemo_relay_callback_t){on_chunk, &cons, consumer_free};
    so.on_end = (nemo_relay_done_t){on_end, &cons, consumer_free};
    EXPECT(nemo_relay_llm_stream_execute(NULL, rt, stack, "openai", S(request), &lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_OK); /* delivered, parked */
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_OK); /* buffered */
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_FULL);
    EXPECT(cons.chunks == 1);
    EXPECT(nemo_relay_complete(cons.parked, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_OK);
    EXPECT(cons.chunks == 2);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_complete(cons.parked, NEMO_RELAY_E_CALLBACK, S("enough")) == NEMO_RELAY_OK);
    EXPECT(cons.ends == 1 && cons.end_status == NEMO_RELAY_E_CANCELLED && cons.chunks == 2);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_CANCELLED);
    EXPECT(obs.finalized == 1 && pk.cancel_calls == 1);
    nemo_relay_producer_free(pk.producer);
    EXPECT(cons.freed == 2);
    EXPECT_EVENTS(rt, START, MARK(0, 2, 3), MARK(1, 3, 4), MARK(2, 4, 5),
                  END(TTFC, "{\"chunks\":3}", DROPPED_MD("consumer_closed"), 5));

    /* A stream execution intercept pushes its own chunk, then runs the inner layers. Non-streaming
     * execution intercepts do not apply. */
    nemo_relay_callback_t si = {stream_intercept, NULL, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "hello", 0, 0, &si) == NEMO_RELAY_OK);
    so = observed(&obs);
    memset(&plan, 0, sizeof plan);
    plan.chunks = 1;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_OK && out && strstr(out, "intercept.hello"));
    nemo_relay_free(out);
    EXPECT(pull_all(s, &end, NULL, 0) == 1 && end == NEMO_RELAY_OK && obs.collected == 2);
    nemo_relay_stream_free(s);
    bool removed = false;
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "hello") == NEMO_RELAY_OK && removed);
    EXPECT(nemo_relay_flush(rt, -1) == NEMO_RELAY_OK);
    reset_events();

    /* Misuse and bad input. */
    EXPECT(nemo_relay_stream_options_init(&so, 9) == NEMO_RELAY_E_VERSION);
    EXPECT(nemo_relay_stream_options_init(NULL, 1) == NEMO_RELAY_E_INVALID_ARGUMENT);
    nemo_relay_stream_options_init(&so, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    EXPECT(nemo_relay_llm_stream_execute(NULL, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(s == NULL);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S("{nope"), &lo, &so, &prov) == NEMO_RELAY_E_INVALID_JSON);
    so.version = 5;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &prov) == NEMO_RELAY_E_VERSION);
    EXPECT(nemo_relay_stream_push(NULL, S(chunk_json)) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_stream_push((nemo_relay_producer_t *)rt, S(chunk_json)) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_stream_next(&out, &out_len, NULL, 0) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_stream_close((nemo_relay_stream_t *)stack) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_token_producer(&pk.producer, NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_producer_on_cancel(NULL, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    nemo_relay_stream_free(NULL);
    nemo_relay_producer_free(NULL);
    EXPECT(strcmp(nemo_relay_status_str(NEMO_RELAY_E_FULL), "NEMO_RELAY_E_FULL") == 0);
    /* A push after the provider completed its token. */
    memset(&pk, 0, sizeof pk);
    so = observed(&obs);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_complete(pk.token, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_stream_push(pk.producer, S("{bad")) == NEMO_RELAY_E_INVALID_JSON);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    nemo_relay_flush(rt, -1);
    reset_events();

    /* Freeing the runtime ends a running stream as runtime_shutdown before its final flush. */
    memset(&pk, 0, sizeof pk);
    pk.chunks = 1;
    so = observed(&obs);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), &lo, &so, &parkp) == NEMO_RELAY_OK);
    nemo_relay_runtime_free(rt);
    EXPECT(pk.cancel_calls == 1 && obs.finalized == 1);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_E_CANCELLED);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT_EVENTS(NULL, START, MARK(0, 2, 3), END(TTFC, "{\"chunks\":1}", DROPPED_MD("runtime_shutdown"), 3));

    nemo_relay_stack_free(stack);
    return expect_summary();
}
