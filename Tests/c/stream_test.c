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

/* ---- transforming stream intercepts (nemo_relay_token_next_stream) ---- */

static const char request[] = "{\"headers\":{\"authorization\":\"Bearer x\"},\"content\":{\"model\":\"gpt-4o\","
                              "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}";

static const char inner_request[] = "{\"headers\":{},\"content\":{\"inner\":true}}";

/* Upper-cases the value of the first `"content":"` member in place (a chunk's delta text). */
static void upper_content(char *c) {
    char *p = strstr(c, "\"content\":\"");
    if (!p) return;
    for (p += 11; *p && *p != '"'; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
}

enum xform_mode { XF_UPPER, XF_DUP, XF_DROP_ADD, XF_STOP_EARLY, XF_FINISH_EARLY, XF_SWALLOW, XF_THREAD, XF_PARK, XF_CALLBACK };

/* One transforming intercept: how it transforms, and what it saw of its inner stream. */
struct xform {
    enum xform_mode mode;
    int read, pushes_failed, cb_freed;
    nemo_relay_status_t inner_end, complete_rc;
    char inner_msg[256];
    nemo_relay_token_t *token;
    nemo_relay_producer_t *producer;
    nemo_relay_stream_t *inner;
    pthread_t thread;
};

static void xf_push(struct xform *x, const char *c, size_t len) {
    if (nemo_relay_stream_push(x->producer, c, len) != NEMO_RELAY_OK) x->pushes_failed++;
}

/* Reads the inner stream to its end (or until the mode stops), pushing what the mode says; then
 * completes the intercept's token: with the inner failure, or OK. */
static void xf_run(struct xform *x) {
    nemo_relay_status_t rc;
    int n = 0;
    for (;;) {
        char *c = NULL;
        size_t cl = 0;
        rc = nemo_relay_stream_next(&c, &cl, x->inner, 5000000000LL);
        if (rc != NEMO_RELAY_OK || !c) break;
        x->read++;
        switch (x->mode) {
        case XF_DUP:
            xf_push(x, c, cl);
            xf_push(x, c, cl);
            break;
        case XF_DROP_ADD:
            if (n % 2 == 0) xf_push(x, c, cl);
            break;
        default:
            upper_content(c);
            xf_push(x, c, cl);
        }
        nemo_relay_free(c);
        n++;
        if (x->mode == XF_STOP_EARLY) {
            EXPECT(nemo_relay_stream_close(x->inner) == NEMO_RELAY_OK);
            break;
        }
        if (x->mode == XF_FINISH_EARLY) {
            nemo_relay_producer_free(x->producer);
            x->complete_rc = nemo_relay_complete(x->token, NEMO_RELAY_OK, S("null"));
            return; /* the inner stream stays with the test */
        }
    }
    x->inner_end = rc;
    snprintf(x->inner_msg, sizeof x->inner_msg, "%s", rc == NEMO_RELAY_OK ? "" : nemo_relay_last_error_message());
    if (x->mode == XF_DROP_ADD) {
        char buf[64];
        int m = snprintf(buf, sizeof buf, "{\"type\":\"summary\",\"count\":%d}", n);
        xf_push(x, buf, (size_t)m);
    }
    if (x->mode == XF_SWALLOW && rc != NEMO_RELAY_OK) xf_push(x, S("{\"type\":\"fallback\"}"));
    nemo_relay_stream_free(x->inner);
    x->inner = NULL;
    nemo_relay_producer_free(x->producer);
    if (rc != NEMO_RELAY_OK && x->mode != XF_SWALLOW && x->mode != XF_STOP_EARLY)
        x->complete_rc = nemo_relay_complete(x->token, rc, x->inner_msg, strlen(x->inner_msg));
    else
        x->complete_rc = nemo_relay_complete(x->token, NEMO_RELAY_OK, S("null"));
}

static void *xf_thread(void *arg) {
    xf_run(arg);
    return NULL;
}

/* Inner callback consumer: transforms each chunk into the intercept's producer; the end completes it. */
static nemo_relay_status_t xf_on_chunk(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    struct xform *x = ud;
    char *c = malloc(len + 1);
    memcpy(c, json, len);
    c[len] = 0;
    upper_content(c);
    x->read++;
    xf_push(x, c, len);
    free(c);
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}
static void xf_on_end(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    struct xform *x = ud;
    x->inner_end = status;
    nemo_relay_producer_free(x->producer);
    x->complete_rc = nemo_relay_complete(x->token, status, status == NEMO_RELAY_OK ? "null" : json,
                                         status == NEMO_RELAY_OK ? 4 : len);
}
static void xf_free(void *ud) { ((struct xform *)ud)->cb_freed++; }

static nemo_relay_status_t xform_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct xform *x = ud;
    x->token = t;
    EXPECT(nemo_relay_token_producer(&x->producer, t) == NEMO_RELAY_OK);
    nemo_relay_stream_options_t io;
    nemo_relay_stream_options_init(&io, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    if (x->mode == XF_PARK) io.buffer_capacity = 1;
    if (x->mode == XF_CALLBACK) {
        io.on_chunk = (nemo_relay_callback_t){xf_on_chunk, x, xf_free};
        io.on_end = (nemo_relay_done_t){xf_on_end, x, xf_free};
    }
    nemo_relay_status_t rc =
        nemo_relay_token_next_stream(x->mode == XF_CALLBACK ? NULL : &x->inner, t, S(inner_request), &io);
    EXPECT(rc == NEMO_RELAY_OK);
    if (rc != NEMO_RELAY_OK) return rc;
    switch (x->mode) {
    case XF_CALLBACK: /* the inner end completes the token */
    case XF_PARK:     /* the test drives both ends */
        return NEMO_RELAY_PENDING;
    case XF_THREAD:
        pthread_create(&x->thread, NULL, xf_thread, x);
        return NEMO_RELAY_PENDING;
    default:
        xf_run(x);
        return NEMO_RELAY_OK;
    }
}

/* Misuse of nemo_relay_token_next_stream, from a provider's and an intercept's token. */
struct misuse {
    nemo_relay_status_t provider_rc, collector_rc, null_out_rc, bad_json_rc, null_req_rc, after_rc;
    int freed;
    nemo_relay_token_t *token;
};
static void misuse_free(void *ud) { ((struct misuse *)ud)->freed++; }
static nemo_relay_status_t misuse_provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct misuse *m = ud;
    nemo_relay_stream_t *inner = NULL;
    m->provider_rc = nemo_relay_token_next_stream(&inner, t, S(inner_request), NULL);
    EXPECT(inner == NULL);
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}
static nemo_relay_status_t misuse_intercept(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct misuse *m = ud;
    nemo_relay_stream_t *inner = NULL;
    nemo_relay_stream_options_t io;
    nemo_relay_stream_options_init(&io, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    io.collector = (nemo_relay_callback_t){collector, m, misuse_free};
    m->collector_rc = nemo_relay_token_next_stream(&inner, t, S(inner_request), &io);
    m->null_out_rc = nemo_relay_token_next_stream(NULL, t, S(inner_request), NULL);
    m->bad_json_rc = nemo_relay_token_next_stream(&inner, t, S("{nope"), NULL);
    m->null_req_rc = nemo_relay_token_next_stream(&inner, t, NULL, 0, NULL);
    EXPECT(inner == NULL);
    /* The plain next still works beside it: the inner chunks flow straight to the output. */
    nemo_relay_done_t d = {intercept_inner_done, t, NULL};
    EXPECT(nemo_relay_token_next(t, S(inner_request), &d) == NEMO_RELAY_OK);
    m->token = t;
    return NEMO_RELAY_PENDING;
}

/* Events collected since the last reset that contain `needle` (after a flush). */
static int count_events(nemo_relay_runtime_t *rt, const char *needle) {
    if (rt) nemo_relay_flush(rt, 10000000000LL);
    int n = 0;
    pthread_mutex_lock(&ev.lock);
    for (int i = 0; i < ev.count; i++)
        if (strstr(ev.lines[i], needle)) n++;
    pthread_mutex_unlock(&ev.lock);
    return n;
}

/* One start, `marks` llm.chunk marks and one end whose metadata contains `end_md`; resets the events. */
static int one_call(nemo_relay_runtime_t *rt, int marks, const char *end_md) {
    int ok = count_events(rt, "\"scope_category\":\"start\"") == 1 &&
             count_events(NULL, "\"scope_category\":\"end\"") == 1 &&
             count_events(NULL, "\"llm.chunk\"") == marks && count_events(NULL, end_md) == 1 &&
             count_events(NULL, "") == marks + 2;
    if (!ok) {
        pthread_mutex_lock(&ev.lock);
        for (int i = 0; i < ev.count; i++) fprintf(stderr, "  event %d: %s\n", i, ev.lines[i]);
        pthread_mutex_unlock(&ev.lock);
    }
    reset_events();
    return ok;
}

/* Pulls every chunk of `s` into `got` (each counted when it contains `want`); returns the chunk count. */
static int pull_counting(nemo_relay_stream_t *s, const char *want, int *matching, nemo_relay_status_t *end,
                         char *msg, size_t cap) {
    int n = 0;
    *matching = 0;
    for (;;) {
        char *out = NULL;
        size_t len = 0;
        nemo_relay_status_t rc = nemo_relay_stream_next(&out, &len, s, 5000000000LL);
        if (rc == NEMO_RELAY_OK && out) {
            n++;
            if (strstr(out, want)) (*matching)++;
            nemo_relay_free(out);
            continue;
        }
        *end = rc;
        if (msg) snprintf(msg, cap, "%s", nemo_relay_last_error_message());
        return n;
    }
}

/* The collector of the transform rows: counts the chunks whose delta was upper-cased. */
static nemo_relay_status_t upper_collector(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    int *n = ud;
    char *c = malloc(len + 1);
    memcpy(c, json, len);
    c[len] = 0;
    if (strstr(c, "\"content\":\"X\"")) (*n)++;
    free(c);
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
}

static void transform_tests(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack, const nemo_relay_llm_options_t *lo) {
    struct plan plan;
    struct parked pk;
    struct xform x, y;
    nemo_relay_stream_t *s = NULL;
    nemo_relay_status_t end;
    char msg[512];
    int upper = 0, matching = 0, collected_upper = 0;
    bool removed = false;
    char *out = NULL;
    size_t out_len = 0;
    nemo_relay_callback_t prov = {sync_provider, &plan, NULL};
    nemo_relay_callback_t parkp = {parking_provider, &pk, NULL};
    nemo_relay_callback_t xi = {xform_intercept, &x, NULL};
    nemo_relay_callback_t yi = {xform_intercept, &y, NULL};
    nemo_relay_stream_options_t so;
    nemo_relay_stream_options_init(&so, NEMO_RELAY_STREAM_OPTIONS_VERSION);
    so.collector = (nemo_relay_callback_t){upper_collector, &collected_upper, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "xform", 0, 0, &xi) == NEMO_RELAY_OK);

    /* Each inner chunk upper-cased: the consumer, the collector and the marks see the output. */
    memset(&plan, 0, sizeof plan);
    memset(&x, 0, sizeof x);
    plan.chunks = 3;
    x.mode = XF_UPPER;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, NULL, 0) == 3 && upper == 3 && end == NEMO_RELAY_OK);
    EXPECT(x.read == 3 && x.inner_end == NEMO_RELAY_OK && x.complete_rc == NEMO_RELAY_OK && x.pushes_failed == 0);
    EXPECT(collected_upper == 3);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 3, OK_MD));

    /* Dropping every other chunk and adding one at the end. */
    memset(&x, 0, sizeof x);
    x.mode = XF_DROP_ADD;
    plan.chunks = 4;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "\"type\":\"summary\",\"count\":4", &matching, &end, NULL, 0) == 3 && matching == 1);
    EXPECT(end == NEMO_RELAY_OK && x.read == 4);
    nemo_relay_stream_free(s);
    EXPECT(count_events(rt, "\"provider\":\"unknown\"") == 1); /* the added chunk's mark */
    EXPECT(one_call(rt, 3, OK_MD));

    /* The inner layers fail: the intercept reads their chunks, then their failure, and passes it on. */
    memset(&x, 0, sizeof x);
    x.mode = XF_UPPER;
    plan.chunks = 2;
    plan.fail = 1;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, msg, sizeof msg) == 2 && upper == 2);
    EXPECT(end == NEMO_RELAY_E_CALLBACK && strstr(msg, "ConnectionError: upstream reset"));
    EXPECT(x.inner_end == NEMO_RELAY_E_CALLBACK && strcmp(x.inner_msg, "internal error: ConnectionError: upstream reset") == 0);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 2, "\"otel.status_code\":\"ERROR\""));

    /* ... or replaces it with a chunk of its own and ends cleanly. */
    memset(&x, 0, sizeof x);
    x.mode = XF_SWALLOW;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "fallback", &matching, &end, NULL, 0) == 3 && matching == 1 && end == NEMO_RELAY_OK);
    EXPECT(x.inner_end == NEMO_RELAY_E_CALLBACK);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 3, OK_MD));
    plan.fail = 0;

    /* Stopping early: closing the inner stream cancels the inner provider only; the call ends OK. */
    memset(&x, 0, sizeof x);
    memset(&pk, 0, sizeof pk);
    x.mode = XF_STOP_EARLY;
    pk.chunks = 2;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(pk.cancel_calls == 1 && pk.cancel_status == NEMO_RELAY_E_CANCELLED && pk.cancel_freed == 1);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_CANCELLED);
    EXPECT(nemo_relay_complete(pk.token, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_E_MISUSE);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, NULL, 0) == 1 && upper == 1 && end == NEMO_RELAY_OK);
    EXPECT(x.read == 1 && x.complete_rc == NEMO_RELAY_OK);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 1, OK_MD));

    /* Finishing without closing the inner stream cancels it too; its handle stays valid. */
    memset(&x, 0, sizeof x);
    memset(&pk, 0, sizeof pk);
    x.mode = XF_FINISH_EARLY;
    pk.chunks = 2;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(x.complete_rc == NEMO_RELAY_OK && pk.cancel_calls == 1);
    EXPECT(nemo_relay_stream_next(&out, &out_len, x.inner, 0) == NEMO_RELAY_OK && out); /* the unread chunk */
    nemo_relay_free(out);
    EXPECT(nemo_relay_stream_next(&out, &out_len, x.inner, 0) == NEMO_RELAY_E_CANCELLED && out == NULL);
    EXPECT(nemo_relay_token_next_stream(&y.inner, x.token, S(inner_request), NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    nemo_relay_stream_free(x.inner);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, NULL, 0) == 1 && end == NEMO_RELAY_OK);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 1, OK_MD));

    /* Back-pressure: the inner stream buffers at most its buffer_capacity unread chunks. */
    memset(&x, 0, sizeof x);
    memset(&pk, 0, sizeof pk);
    x.mode = XF_PARK;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_FULL);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_E_TIMEOUT); /* nothing pushed outward yet */
    EXPECT(nemo_relay_stream_next(&out, &out_len, x.inner, 0) == NEMO_RELAY_OK && out);
    upper_content(out);
    EXPECT(nemo_relay_stream_push(x.producer, out, out_len) == NEMO_RELAY_OK);
    nemo_relay_free(out);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_complete(pk.token, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_next(&out, &out_len, x.inner, 0) == NEMO_RELAY_OK && out);
    nemo_relay_free(out);
    EXPECT(nemo_relay_stream_next(&out, &out_len, x.inner, 0) == NEMO_RELAY_OK && out == NULL); /* clean end */
    EXPECT(nemo_relay_complete(x.token, NEMO_RELAY_OK, S("null")) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, NULL, 0) == 1 && upper == 1 && end == NEMO_RELAY_OK);
    nemo_relay_stream_free(x.inner);
    nemo_relay_producer_free(x.producer);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 1, OK_MD));

    /* The inner stream read through callbacks (on_chunk, on_end) instead of pulled. */
    memset(&x, 0, sizeof x);
    x.mode = XF_CALLBACK;
    plan.chunks = 3;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, NULL, 0) == 3 && upper == 3 && end == NEMO_RELAY_OK);
    EXPECT(x.read == 3 && x.inner_end == NEMO_RELAY_OK && x.complete_rc == NEMO_RELAY_OK && x.cb_freed == 2);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 3, OK_MD));

    /* Nested: the outer intercept upper-cases what the inner one, doubling each chunk, yields. */
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    x.mode = XF_UPPER;
    y.mode = XF_DUP;
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "dup", 1, 0, &yi) == NEMO_RELAY_OK);
    collected_upper = 0;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &prov) == NEMO_RELAY_OK);
    EXPECT(pull_counting(s, "\"content\":\"X\"", &upper, &end, NULL, 0) == 6 && upper == 6 && end == NEMO_RELAY_OK);
    EXPECT(y.read == 3 && x.read == 6 && collected_upper == 6);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 6, OK_MD));
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "dup") == NEMO_RELAY_OK && removed);

    /* The consumer closes while the intercept (on its own thread) reads the inner stream: the
     * cancellation reaches the inner provider and the intercept's read; one dropped end. */
    memset(&x, 0, sizeof x);
    memset(&pk, 0, sizeof pk);
    x.mode = XF_THREAD;
    pk.chunks = 1;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, &so, &parkp) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 5000000000LL) == NEMO_RELAY_OK && out && strstr(out, "\"X\""));
    nemo_relay_free(out);
    EXPECT(nemo_relay_stream_close(s) == NEMO_RELAY_OK);
    pthread_join(x.thread, NULL);
    /* A call is cancelled innermost first: the reader thread may see its inner stream cancelled and
     * complete the intercept's token before the intercept's own cancellation reaches it (OK, harmless:
     * the stream already ended as dropped), or after (E_MISUSE). */
    EXPECT(x.inner_end == NEMO_RELAY_E_CANCELLED &&
           (x.complete_rc == NEMO_RELAY_E_MISUSE || x.complete_rc == NEMO_RELAY_OK));
    EXPECT(pk.cancel_calls == 1);
    EXPECT(nemo_relay_stream_push(pk.producer, S(chunk_json)) == NEMO_RELAY_E_CANCELLED);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT(one_call(rt, 1, "\"nemo_relay.stream.end_reason\":\"consumer_closed\""));

    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "xform") == NEMO_RELAY_OK && removed);

    /* Misuse: not a stream intercept's token, a collector, no out_inner, bad request, a completed token. */
    struct misuse m;
    memset(&m, 0, sizeof m);
    nemo_relay_callback_t mp = {misuse_provider, &m, NULL};
    nemo_relay_callback_t mi = {misuse_intercept, &m, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "misuse", 0, 0, &mi) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, NULL, &mp) == NEMO_RELAY_OK);
    EXPECT(m.provider_rc == NEMO_RELAY_E_INVALID_ARGUMENT && m.collector_rc == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(m.freed == 1 && m.null_out_rc == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(m.bad_json_rc == NEMO_RELAY_E_INVALID_JSON && m.null_req_rc == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_OK && out == NULL); /* ended by `done` */
    EXPECT(nemo_relay_token_next_stream(&x.inner, m.token, S(inner_request), NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(strcmp(nemo_relay_last_error_message(), "invalid argument: execution continuation is no longer active") == 0);
    nemo_relay_stream_free(s);
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "misuse") == NEMO_RELAY_OK && removed);
    EXPECT(one_call(rt, 0, OK_MD));
}

/* Freeing the runtime while an intercept reads its inner stream cancels both streams. */
static void transform_shutdown_test(nemo_relay_stack_t *stack, const nemo_relay_llm_options_t *lo) {
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_subscriber_register(rt, NULL, "collect", collect, NULL, NULL) == NEMO_RELAY_OK);
    struct xform x;
    struct parked pk;
    memset(&x, 0, sizeof x);
    memset(&pk, 0, sizeof pk);
    x.mode = XF_THREAD;
    pk.chunks = 1;
    nemo_relay_callback_t xi = {xform_intercept, &x, NULL};
    nemo_relay_callback_t parkp = {parking_provider, &pk, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT, "xform", 0, 0, &xi) == NEMO_RELAY_OK);
    nemo_relay_stream_t *s = NULL;
    char *out = NULL;
    size_t out_len = 0;
    EXPECT(nemo_relay_llm_stream_execute(&s, rt, stack, "openai", S(request), lo, NULL, &parkp) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 5000000000LL) == NEMO_RELAY_OK && out);
    nemo_relay_free(out);
    nemo_relay_runtime_free(rt);
    pthread_join(x.thread, NULL);
    EXPECT(x.inner_end == NEMO_RELAY_E_CANCELLED && pk.cancel_calls == 1);
    EXPECT(nemo_relay_stream_next(&out, &out_len, s, 0) == NEMO_RELAY_E_CANCELLED);
    nemo_relay_producer_free(pk.producer);
    nemo_relay_stream_free(s);
    EXPECT(one_call(NULL, 1, "\"nemo_relay.stream.end_reason\":\"runtime_shutdown\""));
}

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

    /* Stream execution intercepts that read and transform the inner layers' chunks. */
    transform_tests(rt, stack, &lo);

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

    transform_shutdown_test(stack, &lo);

    nemo_relay_stack_free(stack);
    return expect_summary();
}
