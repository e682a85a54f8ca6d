/* SPDX-License-Identifier: Apache-2.0 */
/* Propagation across processes as a C client uses it: reading, building and converting contexts,
 * stacks created from them, captures (also inside a provider callback, through its token), the trace
 * headers a managed LLM call sends, and malformed input that must fail with a status and never
 * crash, leak or create a stack. */
#include <stdlib.h>
#include <string.h>

#include "expect.h"

#define PARENT "01958bbf-66d4-7b42-83ef-21c483a37e61"
#define ROOT "01958bbf-66d4-7b42-9a2b-0123456789ab"
#define TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* The status of `fn(&out, &len, ...)`; on success `*text` holds the owned NUL-terminated result. */
static char *last;
static void keep(char *out) {
    nemo_relay_free(last);
    last = out;
}

static nemo_relay_status_t parse(const char *json, size_t len) {
    char *out = NULL;
    size_t n = 0;
    nemo_relay_status_t rc = nemo_relay_propagation_parse(&out, &n, json, len);
    keep(out);
    if (rc == NEMO_RELAY_OK && strlen(out) != n) return NEMO_RELAY_E_INTERNAL;
    return rc;
}

static nemo_relay_status_t normalize(const char *fields) {
    char *out = NULL;
    size_t n = 0;
    nemo_relay_status_t rc = nemo_relay_propagation_normalize(&out, &n, fields, strlen(fields));
    keep(out);
    return rc;
}

static nemo_relay_status_t capture(nemo_relay_stack_t *s, nemo_relay_scope_t *parent, int32_t mode, const char *root) {
    char *out = NULL;
    size_t n = 0;
    nemo_relay_status_t rc = nemo_relay_propagation_capture(&out, &n, s, parent, mode, root);
    keep(out);
    return rc;
}

static nemo_relay_status_t traceparent(nemo_relay_stack_t *s, nemo_relay_scope_t *parent) {
    char *out = NULL;
    size_t n = 0;
    nemo_relay_status_t rc = nemo_relay_traceparent_capture(&out, &n, s, parent);
    keep(out);
    return rc;
}

static int is(const char *expected) { return last != NULL && strcmp(last, expected) == 0; }
static int error_is(const char *expected) { return strcmp(nemo_relay_last_error_message(), expected) == 0; }

/* ---- a provider that looks at its request and captures from inside ----------------------------- */

struct seen {
    nemo_relay_stack_t *stack;
    char headers[512];
    char by_token[512];      /* capture naming the token's call */
    char by_thread[512];     /* capture with parent NULL while the callback runs */
    char traceparent[64];    /* traceparent capture with parent NULL */
    char llm_uuid[40];       /* from the token's handle */
    nemo_relay_status_t guard_token_scope;
};

static void copy(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

static nemo_relay_status_t provider(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    struct seen *s = ud;
    snprintf(s->headers, sizeof s->headers, "%.*s", (int)len, json);
    nemo_relay_scope_t *call = NULL;
    if (nemo_relay_token_scope(&call, t) == NEMO_RELAY_OK) {
        char *info = NULL;
        size_t n = 0;
        if (nemo_relay_scope_info(&info, &n, call) == NEMO_RELAY_OK) {
            const char *u = strstr(info, "\"uuid\":\"");
            if (u) snprintf(s->llm_uuid, sizeof s->llm_uuid, "%.36s", u + 8);
        }
        nemo_relay_free(info);
        if (capture(s->stack, call, NEMO_RELAY_PROPAGATION_ROOTED, NULL) == NEMO_RELAY_OK) {
            copy(s->by_token, sizeof s->by_token, last);
        }
        nemo_relay_scope_free(call);
    }
    if (capture(s->stack, NULL, NEMO_RELAY_PROPAGATION_ROOTED, NULL) == NEMO_RELAY_OK) {
        copy(s->by_thread, sizeof s->by_thread, last);
    }
    if (traceparent(s->stack, NULL) == NEMO_RELAY_OK) copy(s->traceparent, sizeof s->traceparent, last);
    return nemo_relay_complete(t, NEMO_RELAY_OK, S("{\"ok\":true}"));
}

static nemo_relay_status_t guard(nemo_relay_token_t *t, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct seen *s = ud;
    nemo_relay_scope_t *call = NULL;
    s->guard_token_scope = nemo_relay_token_scope(&call, t);
    nemo_relay_status_t rc = nemo_relay_complete(t, NEMO_RELAY_OK, S("null"));
    /* a completed token is gone */
    if (nemo_relay_token_scope(&call, t) != NEMO_RELAY_E_MISUSE) s->guard_token_scope = NEMO_RELAY_E_INTERNAL;
    return rc;
}

struct done_state {
    nemo_relay_status_t status;
    int calls;
};

static void on_done(nemo_relay_status_t status, const char *json, size_t len, void *ud) {
    (void)json; (void)len;
    struct done_state *d = ud;
    d->status = status;
    d->calls++;
}

/* ---- hostile input ------------------------------------------------------------------------------ */

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void fuzz(void) {
    static const char *seeds[] = {
        "{\"version\":1,\"root_uuid\":\"" ROOT "\",\"parent_uuid\":\"" PARENT "\",\"traceparent\":\"" TRACEPARENT
        "\",\"tracestate\":\"a=b\"}",
        "[1,null,\"" PARENT "\",null,\"a=b\"]",
    };
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefnulltruefalse-+.eE \n\t\x01\xc3\xa9\xff";
    int ok = 1, created = 0;
    char buf[512];
    for (int i = 0; i < 20000; i++) {
        const char *seed = seeds[rnd(2)];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        for (unsigned k = 0, m = 1 + rnd(6); k < m; k++) {
            unsigned at = rnd((unsigned)n + 1);
            unsigned op = rnd(3);
            if (op == 0 && at < n) {
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            } else if (op == 1 && at < n) {
                buf[at] = alphabet[rnd(sizeof alphabet - 1)];
            } else if (n + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = alphabet[rnd(sizeof alphabet - 1)];
                n++;
            }
        }
        nemo_relay_status_t rc = parse(buf, n);
        if (rc != NEMO_RELAY_OK && rc != NEMO_RELAY_E_INVALID_JSON && rc != NEMO_RELAY_E_INVALID_ARGUMENT) ok = 0;
        if (rc != NEMO_RELAY_OK && nemo_relay_last_error_message()[0] == 0) ok = 0;
        nemo_relay_stack_t *st = NULL;
        nemo_relay_status_t rs = nemo_relay_stack_from_propagation(&st, buf, n);
        if ((rs == NEMO_RELAY_OK) != (rc == NEMO_RELAY_OK) || (rs != NEMO_RELAY_OK && st != NULL)) ok = 0;
        if (st) created++;
        nemo_relay_stack_free(st);
    }
    EXPECT(ok);
    EXPECT(created > 0);

    /* 100,000 levels of nesting in a skipped value, and as the whole input */
    size_t depth = 100000, n = 0;
    char *deep = malloc(2 * depth + 200);
    n += (size_t)sprintf(deep, "{\"version\":1,\"x\":");
    memset(deep + n, '[', depth);
    n += depth;
    memset(deep + n, ']', depth);
    n += depth;
    n += (size_t)sprintf(deep + n, ",\"parent_uuid\":\"" PARENT "\"}");
    EXPECT(parse(deep, n) == NEMO_RELAY_OK && is("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}"));
    memset(deep, '[', depth);
    EXPECT(parse(deep, depth) == NEMO_RELAY_E_INVALID_JSON);
    free(deep);
}

int main(void) {
    nemo_relay_runtime_t *rt = NULL;
    EXPECT(nemo_relay_runtime_new(&rt, NULL) == NEMO_RELAY_OK);

    /* ---- reading and building contexts ---- */
    EXPECT(parse(S("{\"parent_uuid\":\"" PARENT "\",\"version\":1,\"extra\":[1,{\"a\":null}],\"root_uuid\":null}")) ==
           NEMO_RELAY_OK);
    EXPECT(is("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}"));
    EXPECT(parse(S("{\"version\":1,\"root_uuid\":\"" ROOT "\",\"parent_uuid\":\"" PARENT "\",\"traceparent\":\"01"
                   "-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra\",\"tracestate\":\" v=a , o=b \"}")) ==
           NEMO_RELAY_OK);
    EXPECT(is("{\"version\":1,\"root_uuid\":\"" ROOT "\",\"parent_uuid\":\"" PARENT "\",\"traceparent\":\"" TRACEPARENT
              "\",\"tracestate\":\"v=a,o=b\"}"));
    EXPECT(parse(S("{\"parent_uuid\":\"" PARENT "\"}")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(error_is("invalid argument: invalid propagation context JSON: missing field `version` at line 1 column 54"));
    EXPECT(parse(S("")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(error_is("invalid argument: invalid propagation context JSON: EOF while parsing a value at line 1 column 0"));
    EXPECT(parse(S("{\"version\":2,\"parent_uuid\":\"" PARENT "\"}")) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid argument: unsupported propagation context version 2; expected 1"));
    EXPECT(parse(S("{\"version\":1,\"parent_uuid\":\"00000000-0000-0000-0000-000000000000\"}")) ==
           NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid argument: propagation context parent_uuid is not a usable Relay identifier"));
    EXPECT(parse(S("{\"version\":1,\"parent_uuid\":\"x\"}")) == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(strstr(nemo_relay_last_error_message(), "UUID parsing failed: invalid character") != NULL);
    EXPECT(parse(NULL, 0) == NEMO_RELAY_E_INVALID_ARGUMENT);
    char *out = NULL;
    size_t out_len = 0;
    EXPECT(nemo_relay_propagation_parse(NULL, &out_len, S("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}")) ==
           NEMO_RELAY_E_INVALID_ARGUMENT);

    EXPECT(normalize("{\"parent_uuid\":\"{" PARENT "}\",\"root_uuid\":\"urn:uuid:" ROOT "\"}") == NEMO_RELAY_OK);
    EXPECT(is("{\"version\":1,\"root_uuid\":\"" ROOT "\",\"parent_uuid\":\"" PARENT "\"}"));
    EXPECT(normalize("{\"parent_uuid\":\"not-a-uuid\"}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `n` "
                    "at 1"));
    EXPECT(normalize("{\"parent_uuid\":\"" PARENT "\",\"version\":0}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid argument: unsupported propagation context version 0; expected 1"));
    EXPECT(normalize("{\"parent_uuid\":5}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(normalize("{\"root_uuid\":\"" ROOT "\"}") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(normalize("[]") == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(normalize("{") == NEMO_RELAY_E_INVALID_JSON);
    EXPECT(normalize("{\"parent_uuid\":\"" PARENT "\",\"traceparent\":\"garbage\",\"tracestate\":\"a=b\"}") ==
           NEMO_RELAY_OK);
    EXPECT(is("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}"));

    EXPECT(nemo_relay_propagation_to_traceparent(&out, &out_len, S("{\"version\":1,\"root_uuid\":\"" ROOT
                                                                    "\",\"parent_uuid\":\"" PARENT "\"}")) ==
           NEMO_RELAY_OK);
    keep(out);
    EXPECT(is("00-01958bbf66d47b429a2b0123456789ab-83ef21c483a37e61-01") && out_len == 55);
    EXPECT(nemo_relay_propagation_to_traceparent(&out, &out_len, S("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}")) ==
           NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid argument: rootless propagation context cannot be converted to traceparent"));

    /* ---- a stack that continues a rooted context carrying a W3C parent ---- */
    nemo_relay_stack_t *stack = NULL;
    const char ctx[] = "{\"version\":1,\"root_uuid\":\"" ROOT "\",\"parent_uuid\":\"" PARENT
                       "\",\"traceparent\":\"" TRACEPARENT "\",\"tracestate\":\"vendor=a\"}";
    EXPECT(nemo_relay_stack_from_propagation(&stack, S(ctx)) == NEMO_RELAY_OK && stack != NULL);
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_ROOTED, NULL) == NEMO_RELAY_OK && is(ctx));
    EXPECT(traceparent(stack, NULL) == NEMO_RELAY_OK && is(TRACEPARENT));
    nemo_relay_scope_t *child = NULL;
    EXPECT(nemo_relay_scope_begin(&child, rt, stack, "child", NEMO_RELAY_SCOPE_FUNCTION, NULL) == NEMO_RELAY_OK);
    char *info = NULL;
    EXPECT(nemo_relay_scope_info(&info, &out_len, child) == NEMO_RELAY_OK);
    EXPECT(strstr(info, "\"parent_uuid\":\"" PARENT "\"") != NULL);
    char child_uuid[37] = {0};
    const char *u = strstr(info, "\"uuid\":\"");
    if (u) memcpy(child_uuid, u + 8, 36);
    nemo_relay_free(info);
    char expected[600];
    snprintf(expected, sizeof expected, "00-4bf92f3577b34da6a3ce929d0e0e4736-%.4s%.12s-01", child_uuid + 19,
             child_uuid + 24);
    EXPECT(traceparent(stack, NULL) == NEMO_RELAY_OK && is(expected));
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_WITH_ROOT, NULL) == NEMO_RELAY_OK);
    snprintf(expected, sizeof expected, "{\"version\":1,\"parent_uuid\":\"%s\",\"traceparent\":\"00-"
             "4bf92f3577b34da6a3ce929d0e0e4736-%.4s%.12s-01\",\"tracestate\":\"vendor=a\"}", child_uuid,
             child_uuid + 19, child_uuid + 24);
    EXPECT(is(expected));
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_WITH_ROOT, "{" ROOT "}") == NEMO_RELAY_OK);
    EXPECT(strncmp(last, "{\"version\":1,\"root_uuid\":\"" ROOT "\"", 26 + 36) == 0);
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_WITH_ROOT, "00000000-0000-0000-0000-000000000000") ==
           NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid argument: propagation context root_uuid is not a usable Relay identifier"));
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_WITH_ROOT, "bad") == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid length: expected length 32 for simple format, found 3"));
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_ROOTED, ROOT) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(capture(stack, NULL, 7, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);

    /* a managed LLM call: caller trace headers replaced, the imported tracestate sent; captures inside
       the provider name the LLM span, by token and while the callback runs */
    struct seen seen;
    memset(&seen, 0, sizeof seen);
    seen.stack = stack;
    nemo_relay_callback_t g = {guard, &seen, NULL};
    EXPECT(nemo_relay_register(rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "allow", 0, 0, &g) == NEMO_RELAY_OK);
    nemo_relay_callback_t prov = {provider, &seen, NULL};
    struct done_state d = {0, 0};
    nemo_relay_done_t done = {on_done, &d, NULL};
    EXPECT(nemo_relay_llm_execute(NULL, rt, stack, "openai",
                                  S("{\"headers\":{\"TraceParent\":\"00-11111111111111111111111111111111-"
                                    "2222222222222222-01\",\"tracestate\":\"caller=1\"},\"content\":{}}"),
                                  NULL, &prov, &done) == NEMO_RELAY_OK);
    EXPECT(d.calls == 1 && d.status == NEMO_RELAY_OK);
    EXPECT(seen.guard_token_scope == NEMO_RELAY_E_NOT_FOUND);
    EXPECT(strlen(seen.llm_uuid) == 36);
    EXPECT(strstr(seen.headers, "{\"headers\":{") == seen.headers);
    EXPECT(strstr(seen.headers, "caller=1") == NULL && strstr(seen.headers, "1111111111") == NULL);
    EXPECT(strstr(seen.headers, "\"tracestate\":\"vendor=a\"") != NULL);
    snprintf(expected, sizeof expected, "00-4bf92f3577b34da6a3ce929d0e0e4736-%.4s%.12s-01", seen.llm_uuid + 19,
             seen.llm_uuid + 24);
    EXPECT(strstr(seen.headers, expected) != NULL);
    EXPECT(strcmp(seen.traceparent, expected) == 0);
    EXPECT(strstr(seen.by_token, seen.llm_uuid) != NULL);
    EXPECT(strcmp(seen.by_token, seen.by_thread) == 0);
    /* after the call, the child scope is the parent again */
    EXPECT(capture(stack, NULL, NEMO_RELAY_PROPAGATION_ROOTLESS, NULL) == NEMO_RELAY_OK);
    EXPECT(strstr(last, child_uuid) != NULL);
    bool removed = false;
    EXPECT(nemo_relay_deregister(&removed, rt, NULL, NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, "allow") == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, stack, child, NULL) == NEMO_RELAY_OK);
    nemo_relay_scope_free(child);

    /* the imported entries cannot be ended */
    nemo_relay_scope_t *top = NULL;
    EXPECT(nemo_relay_scope_current(&top, stack) == NEMO_RELAY_OK);
    EXPECT(nemo_relay_scope_end(rt, stack, top, NULL) != NEMO_RELAY_OK);
    nemo_relay_scope_free(top);

    /* ---- a rootless stack: no traceparent until a scope opens ---- */
    nemo_relay_stack_t *rootless = NULL;
    EXPECT(nemo_relay_stack_from_propagation(&rootless, S("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}")) ==
           NEMO_RELAY_OK);
    EXPECT(traceparent(rootless, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);
    EXPECT(error_is("invalid argument: no emitted Relay scope is available for W3C trace context capture"));
    EXPECT(capture(rootless, NULL, NEMO_RELAY_PROPAGATION_ROOTED, NULL) == NEMO_RELAY_OK);
    EXPECT(is("{\"version\":1,\"parent_uuid\":\"" PARENT "\"}"));

    /* ---- refused input never creates a stack ---- */
    nemo_relay_stack_t *none = NULL;
    EXPECT(nemo_relay_stack_from_propagation(&none, S("{")) == NEMO_RELAY_E_INVALID_JSON && none == NULL);
    EXPECT(error_is("invalid argument: invalid propagation context JSON: EOF while parsing an object at line 1 column 1"));
    EXPECT(nemo_relay_stack_from_propagation(&none, S("{\"version\":1,\"parent_uuid\":\"" PARENT
                                                      "\",\"root_uuid\":\"00000000-0000-0000-0000-000000000000\"}")) ==
           NEMO_RELAY_E_INVALID_ARGUMENT && none == NULL);
    EXPECT(nemo_relay_stack_from_propagation(&none, NULL, 3) == NEMO_RELAY_E_INVALID_ARGUMENT && none == NULL);
    EXPECT(nemo_relay_stack_from_propagation(NULL, S(ctx)) == NEMO_RELAY_E_INVALID_ARGUMENT);

    /* ---- bad handles ---- */
    nemo_relay_stack_t *gone = NULL;
    EXPECT(nemo_relay_stack_new(&gone, NULL) == NEMO_RELAY_OK);
    nemo_relay_stack_free(gone);
    EXPECT(capture(gone, NULL, NEMO_RELAY_PROPAGATION_ROOTED, NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(traceparent(gone, NULL) == NEMO_RELAY_E_MISUSE);
    nemo_relay_scope_t *call = NULL;
    EXPECT(nemo_relay_token_scope(&call, NULL) == NEMO_RELAY_E_MISUSE);
    EXPECT(nemo_relay_token_scope(NULL, NULL) == NEMO_RELAY_E_INVALID_ARGUMENT);

    fuzz();

    nemo_relay_stack_free(stack);
    nemo_relay_stack_free(rootless);
    keep(NULL);
    EXPECT(nemo_relay_flush(rt, 5000000000LL) == NEMO_RELAY_OK);
    nemo_relay_runtime_free(rt);
    return expect_summary();
}
