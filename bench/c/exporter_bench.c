/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exporter benchmarks for the C ABI. Numbers, not assertions.
 *
 *   exporter_bench [iterations | --quick]
 *
 * Part 1, emitting-thread cost: a mark, and a scope begin+end (two events), with (a) no subscriber,
 * (b) one no-op batch subscriber, (c) the ATOF file exporter registered, (d) the ATIF exporter
 * registered. Each configuration has its own runtime. Operations run in chunks small enough never
 * to fill a subscriber queue; after each chunk the queue is drained outside the timed region, so
 * the figures are what the emitting thread pays while the delivery thread works concurrently.
 * Both the wall time and the emitting thread's CPU time (CLOCK_THREAD_CPUTIME_ID) are reported;
 * on a loaded machine the CPU time is the steadier of the two. Every row is the best of several
 * interleaved rounds. A third row emits sparse marks, one every 100 us, timing only the emitting call
 * (the median call): there the delivery thread sleeps between events and the emitter pays for
 * waking it. A bare pthread_cond_signal to a sleeping thread, timed the same way, shows the
 * platform's floor for that wake-up.
 *
 * Part 2, sustained file throughput: N marks from one thread (then from 4 threads, N/4 each) into
 * an ATOF file exporter, then nemo_relay_exporter_flush; the rate is events actually written (the
 * exporter's `events_written`) divided by the wall time from the first emit to the flush's return.
 * With the default queue (65,536 events) a writer slower than the emitters drops events; the
 * `queue_capacity` rows size the queue to N so nothing is dropped.
 */
#include "nemo_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
static double wall_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
static double cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

static void check(nemo_relay_status_t s, const char *what) {
    if (s != NEMO_RELAY_OK) {
        fprintf(stderr, "exporter_bench: %s failed (%d): %s\n", what, s, nemo_relay_last_error_message());
        exit(1);
    }
}

static char tmpdir[4096];

/* ---- configurations ------------------------------------------------------------------------- */

enum config { CFG_NONE, CFG_BATCH, CFG_ATOF, CFG_ATIF, CFG_OTEL, CFG_COUNT };
static const char *const config_names[CFG_COUNT] = {"(a) no subscriber", "(b) no-op batch subscriber",
                                                    "(c) ATOF file exporter", "(d) ATIF exporter",
                                                    "(e) OTel gen_ai, OTLP file"};

struct setup {
    enum config cfg;
    nemo_relay_runtime_t *rt;
    nemo_relay_stack_t *st;
    nemo_relay_exporter_t *exp;
    char *path; /* ATOF file */
};

static void noop_batch(const char *jsonl, size_t len, size_t count, void *ud) {
    (void)jsonl; (void)len; (void)count; (void)ud;
}

typedef nemo_relay_status_t (*exporter_ctor)(nemo_relay_exporter_t **, const nemo_relay_exporter_options_t *);

static nemo_relay_exporter_t *make_exporter(exporter_ctor ctor, const char *json) {
    nemo_relay_exporter_options_t o;
    check(nemo_relay_exporter_options_init(&o, NEMO_RELAY_EXPORTER_OPTIONS_VERSION), "exporter_options_init");
    o.config_json = json;
    o.config_len = strlen(json);
    nemo_relay_exporter_t *e = NULL;
    check(ctor(&e, &o), "exporter_new");
    return e;
}

static nemo_relay_exporter_t *new_exporter(bool atof, const char *json) {
    return make_exporter(atof ? nemo_relay_atof_exporter_new : nemo_relay_atif_exporter_new, json);
}

/* An OpenTelemetry gen_ai exporter writing OTLP JSON lines to <tmpdir>/<file>. */
static nemo_relay_exporter_t *new_otel(const char *file, char **path) {
    char json[8192];
    snprintf(json, sizeof json,
             "{\"type\":\"gen_ai\",\"output_directory\":\"%s\",\"filename\":\"%s\",\"max_queue_size\":1000000,"
             "\"max_export_batch_size\":512}",
             tmpdir, file);
    if (path) {
        *path = malloc(strlen(tmpdir) + strlen(file) + 2);
        sprintf(*path, "%s/%s", tmpdir, file);
    }
    return make_exporter(nemo_relay_otel_exporter_new, json);
}

/* An ATOF file exporter writing <tmpdir>/<file>, truncated first; queue_capacity 0 means the default. */
static nemo_relay_exporter_t *new_atof(const char *file, long queue_capacity, char **path) {
    char json[8192];
    int n = snprintf(json, sizeof json,
                     "{\"sink_type\":\"file\",\"output_directory\":\"%s\",\"filename\":\"%s\",\"mode\":\"overwrite\"",
                     tmpdir, file);
    if (queue_capacity > 0) n += snprintf(json + n, sizeof json - (size_t)n, ",\"queue_capacity\":%ld", queue_capacity);
    snprintf(json + n, sizeof json - (size_t)n, "}");
    nemo_relay_exporter_t *e = new_exporter(true, json);
    size_t len;
    check(nemo_relay_exporter_path(path, &len, e), "exporter_path");
    return e;
}

static struct setup setup_new(enum config cfg) {
    struct setup s = {cfg, NULL, NULL, NULL, NULL};
    check(nemo_relay_runtime_new(&s.rt, NULL), "runtime_new");
    check(nemo_relay_stack_new(&s.st, NULL), "stack_new");
    switch (cfg) {
    case CFG_NONE: break;
    case CFG_BATCH:
        check(nemo_relay_subscriber_register_batch(s.rt, NULL, "noop", noop_batch, NULL, NULL), "register_batch");
        break;
    case CFG_ATOF:
        s.exp = new_atof("per-event.jsonl", 0, &s.path);
        check(nemo_relay_exporter_register(s.exp, s.rt, "atof"), "exporter_register");
        break;
    case CFG_ATIF:
        s.exp = new_exporter(false, "{\"session_id\":\"bench\",\"agent_name\":\"bench\",\"agent_version\":\"1\"}");
        check(nemo_relay_exporter_register(s.exp, s.rt, "atif"), "exporter_register");
        break;
    case CFG_OTEL:
        s.exp = new_otel("per-event.otlp.jsonl", &s.path);
        check(nemo_relay_exporter_register(s.exp, s.rt, "otel"), "exporter_register");
        break;
    default: break;
    }
    return s;
}

/* Waits until everything emitted so far was delivered, then resets what grows (file, collection). */
static void setup_drain(struct setup *s) {
    switch (s->cfg) {
    case CFG_NONE: break;
    case CFG_BATCH: check(nemo_relay_flush(s->rt, -1), "flush"); break;
    case CFG_ATOF:
        check(nemo_relay_exporter_flush(s->exp, -1), "exporter_flush");
        if (truncate(s->path, 0) != 0) { perror("truncate"); exit(1); }
        break;
    case CFG_ATIF:
        check(nemo_relay_exporter_flush(s->exp, -1), "exporter_flush");
        check(nemo_relay_atif_exporter_clear(s->exp), "atif_exporter_clear");
        break;
    case CFG_OTEL:
        check(nemo_relay_exporter_flush(s->exp, -1), "exporter_flush");
        if (truncate(s->path, 0) != 0) { perror("truncate"); exit(1); }
        break;
    default: break;
    }
}

static void setup_free(struct setup *s) {
    if (s->exp) {
        check(nemo_relay_exporter_shutdown(s->exp, -1), "exporter_shutdown");
        nemo_relay_exporter_free(s->exp);
    }
    if (s->path) {
        unlink(s->path);
        if (s->cfg == CFG_OTEL) {
            free(s->path); /* ours, from new_otel */
        } else {
            nemo_relay_free(s->path);
        }
    }
    nemo_relay_stack_free(s->st);
    nemo_relay_runtime_free(s->rt);
}

/* A counter from an exporter's diagnostics JSON (flat keys), or 0 when absent. */
static uint64_t diag(nemo_relay_exporter_t *e, const char *key) {
    char *json;
    size_t len;
    check(nemo_relay_exporter_diagnostics(&json, &len, e), "exporter_diagnostics");
    char needle[128];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *p = strstr(json, needle);
    uint64_t v = p ? strtoull(p + strlen(needle), NULL, 10) : 0;
    nemo_relay_free(json);
    return v;
}

static uint64_t dropped_of(struct setup *s) {
    if (s->exp) return diag(s->exp, "queue_dropped");
    uint64_t d = 0;
    nemo_relay_dropped_events(&d, s->rt);
    return d;
}

/* ---- part 1: emitting-thread cost ----------------------------------------------------------- */

enum op { OP_MARK, OP_SCOPE, OP_SPARSE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"mark", "scope begin+end", "mark, 1 per 100us"};
static const int op_events[OP_COUNT] = {1, 2, 1};
/* Sparse marks (an agent's events are far apart): the delivery thread has gone to sleep before each
 * one, so the emitter pays for waking it. Only the emitting call is timed, not the gap. */
#define SPARSE_GAP_NS 100000.0
#define SPARSE_DIVISOR 100 /* sparse rows run iterations / 100 marks */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What timing an empty interval reads (clock_gettime of the thread CPU clock is a system call, about
 * 0.5 us on this kind of VM): subtracted from the sparse rows' medians. */
static double overhead_wall, overhead_cpu;

static void measure_overhead(void) {
    enum { K = 2001 };
    static double w[K], c[K];
    for (long i = 0; i < K; i++) {
        double w0 = wall_ns(), c0 = cpu_ns();
        c[i] = cpu_ns() - c0;
        w[i] = wall_ns() - w0;
    }
    overhead_wall = median(w, K);
    overhead_cpu = median(c, K);
}

/* The platform's floor for the sparse rows: a bare pthread_cond_signal waking a sleeping thread,
 * timed like a sparse mark (median, overhead subtracted). No NemoRelay code involved. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static int wake_work, wake_sleeping, wake_stop;

static void *wake_target(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wake_lock);
    while (!wake_stop) {
        while (!wake_work && !wake_stop) {
            wake_sleeping = 1;
            pthread_cond_wait(&wake_cond, &wake_lock);
        }
        wake_work = 0;
    }
    pthread_mutex_unlock(&wake_lock);
    return NULL;
}

static void bare_wake(long n, double *wall, double *cpu) {
    pthread_t t;
    pthread_create(&t, NULL, wake_target, NULL);
    double *w = malloc((size_t)n * sizeof *w), *c = malloc((size_t)n * sizeof *c);
    if (!w || !c) { perror("malloc"); exit(1); }
    for (long i = 0; i < n; i++) {
        double until = wall_ns() + SPARSE_GAP_NS;
        while (wall_ns() < until) {
        }
        double w0 = wall_ns(), c0 = cpu_ns();
        pthread_mutex_lock(&wake_lock);
        wake_work = 1;
        int sleeping = wake_sleeping;
        wake_sleeping = 0;
        pthread_mutex_unlock(&wake_lock);
        if (sleeping) pthread_cond_signal(&wake_cond);
        c[i] = cpu_ns() - c0;
        w[i] = wall_ns() - w0;
    }
    pthread_mutex_lock(&wake_lock);
    wake_stop = 1;
    pthread_cond_signal(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
    pthread_join(t, NULL);
    *wall = median(w, n) - overhead_wall;
    *cpu = median(c, n) - overhead_cpu;
    free(w);
    free(c);
}

/* Sparse marks: the median wall and CPU time of the emitting calls alone (a preempted call would
 * swamp a mean), less the timer's own overhead. */
static void run_sparse(struct setup *s, long n, double *wall, double *cpu) {
    double *w = malloc((size_t)n * sizeof *w), *c = malloc((size_t)n * sizeof *c);
    if (!w || !c) { perror("malloc"); exit(1); }
    for (long i = 0; i < n; i++) {
        double until = wall_ns() + SPARSE_GAP_NS;
        while (wall_ns() < until) {
        }
        double w0 = wall_ns(), c0 = cpu_ns();
        nemo_relay_mark(s->rt, s->st, "tick", NULL);
        c[i] = cpu_ns() - c0;
        w[i] = wall_ns() - w0;
    }
    *wall = median(w, n) - overhead_wall;
    *cpu = median(c, n) - overhead_cpu;
    free(w);
    free(c);
}

static void run_ops(struct setup *s, enum op op, long n) {
    if (op == OP_MARK) {
        for (long i = 0; i < n; i++) nemo_relay_mark(s->rt, s->st, "tick", NULL);
    } else {
        for (long i = 0; i < n; i++) {
            nemo_relay_scope_t *h;
            nemo_relay_scope_begin(&h, s->rt, s->st, "step", NEMO_RELAY_SCOPE_FUNCTION, NULL);
            nemo_relay_scope_end(s->rt, s->st, h, NULL);
            nemo_relay_scope_free(h);
        }
    }
}

struct cost { double wall, cpu; }; /* ns per operation */

/* One round: `n` operations in chunks of at most `chunk_events` events, draining between chunks. */
static struct cost measure(struct setup *s, enum op op, long n) {
    const long chunk = 16384 / op_events[op];
    double wall = 0, cpu = 0;
    if (op == OP_SPARSE) {
        n = n / SPARSE_DIVISOR + 1;
        run_sparse(s, n, &wall, &cpu);
        setup_drain(s);
        return (struct cost){wall, cpu};
    }
    for (long done = 0; done < n;) {
        long k = n - done < chunk ? n - done : chunk;
        double w0 = wall_ns(), c0 = cpu_ns();
        run_ops(s, op, k);
        cpu += cpu_ns() - c0;
        wall += wall_ns() - w0;
        done += k;
        setup_drain(s);
    }
    return (struct cost){wall / (double)n, cpu / (double)n};
}

static void part1(long n, int rounds) {
    measure_overhead();
    struct setup setups[CFG_COUNT];
    for (int c = 0; c < CFG_COUNT; c++) setups[c] = setup_new((enum config)c);
    struct cost best[CFG_COUNT][OP_COUNT];
    for (int c = 0; c < CFG_COUNT; c++)
        for (int o = 0; o < OP_COUNT; o++) best[c][o] = (struct cost){1e300, 1e300};

    /* Warm up every path once (first-use allocations, thread start-up), untimed. */
    for (int c = 0; c < CFG_COUNT; c++)
        for (int o = 0; o < OP_COUNT; o++) measure(&setups[c], (enum op)o, n / 10 + 1);

    /* Interleave configurations inside each round so a burst of load elsewhere hits them alike. */
    for (int r = 0; r < rounds; r++)
        for (int o = 0; o < OP_COUNT; o++)
            for (int c = 0; c < CFG_COUNT; c++) {
                struct cost k = measure(&setups[c], (enum op)o, n);
                if (k.wall < best[c][o].wall) best[c][o].wall = k.wall;
                if (k.cpu < best[c][o].cpu) best[c][o].cpu = k.cpu;
            }

    printf("\nEmitting-thread cost, %ld operations per row (sparse marks: %ld, median call), best of %d rounds (ns; an event\n"
           "is a mark, or half a scope begin+end; delta (c)-(b) per event is the target: <= 500 ns)\n",
           n, n / SPARSE_DIVISOR + 1, rounds);
    printf("(sparse rows: timer overhead subtracted, %.0f ns wall, %.0f ns CPU)\n", overhead_wall, overhead_cpu);
    printf("%-20s %-28s %10s %10s %10s %10s %8s\n", "operation", "configuration", "wall/op", "cpu/op", "wall/ev",
           "cpu/ev", "dropped");
    for (int o = 0; o < OP_COUNT; o++) {
        for (int c = 0; c < CFG_COUNT; c++) {
            double ev = op_events[o];
            printf("%-20s %-28s %10.0f %10.0f %10.0f %10.0f %8llu\n", op_names[o], config_names[c], best[c][o].wall,
                   best[c][o].cpu, best[c][o].wall / ev, best[c][o].cpu / ev,
                   (unsigned long long)dropped_of(&setups[c]));
        }
        double ev = op_events[o];
        double dw = (best[CFG_ATOF][o].wall - best[CFG_BATCH][o].wall) / ev;
        double dc = (best[CFG_ATOF][o].cpu - best[CFG_BATCH][o].cpu) / ev;
        printf("%-20s %-28s %10s %10s %10.0f %10.0f %8s  %s\n", op_names[o], "delta (c)-(b) per event", "", "", dw, dc,
               "", dw <= 500 && dc <= 500 ? "target met" : "TARGET MISSED");
    }
    for (int c = 0; c < CFG_COUNT; c++) setup_free(&setups[c]);
    double bw, bc;
    bare_wake(n / SPARSE_DIVISOR + 1, &bw, &bc);
    printf("%-20s %-28s %10.0f %10.0f   (platform floor, no NemoRelay code)\n", "cond_signal, sleeper", "bare pthread", bw,
           bc);
}

/* ---- part 2: sustained file throughput ------------------------------------------------------ */

struct emitter {
    nemo_relay_runtime_t *rt;
    long n;
};

static void *emit_marks(void *arg) {
    struct emitter *e = arg;
    nemo_relay_stack_t *st;
    check(nemo_relay_stack_new(&st, NULL), "stack_new");
    for (long i = 0; i < e->n; i++) nemo_relay_mark(e->rt, st, "tick", NULL);
    nemo_relay_stack_free(st);
    return NULL;
}

static void throughput(long n, int threads, bool lossless) {
    nemo_relay_runtime_t *rt;
    check(nemo_relay_runtime_new(&rt, NULL), "runtime_new");
    char *path;
    nemo_relay_exporter_t *e = new_atof("throughput.jsonl", lossless ? n : 0, &path);
    check(nemo_relay_exporter_register(e, rt, "atof"), "exporter_register");

    struct emitter em[16];
    pthread_t tid[16];
    long emitted = 0;
    for (int t = 0; t < threads; t++) {
        em[t].rt = rt;
        em[t].n = n / threads + (t < n % threads ? 1 : 0);
        emitted += em[t].n;
    }
    double t0 = wall_ns();
    if (threads == 1) {
        emit_marks(&em[0]);
    } else {
        for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, emit_marks, &em[t]);
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    }
    double t_emit = wall_ns();
    check(nemo_relay_exporter_flush(e, -1), "exporter_flush");
    double t_end = wall_ns();

    uint64_t written = diag(e, "events_written"), bytes = diag(e, "bytes_written");
    uint64_t dropped = diag(e, "queue_dropped"), failed = diag(e, "events_failed");
    struct stat sb;
    if (stat(path, &sb) != 0) { perror("stat"); exit(1); }
    double secs = (t_end - t0) / 1e9;
    char label[64];
    snprintf(label, sizeof label, "%d thread%s, %s", threads, threads > 1 ? "s" : "",
             lossless ? "queue_capacity=N" : "default queue");
    printf("%-34s %9ld %9llu %8llu %8.3f %8.3f %11.0f %8.1f %6.0f\n", label, emitted, (unsigned long long)written,
           (unsigned long long)dropped, (t_emit - t0) / 1e9, secs, (double)written / secs, (double)bytes / secs / 1e6,
           written ? (double)bytes / (double)written : 0.0);
    if ((uint64_t)sb.st_size != bytes || failed != 0 || written + dropped != (uint64_t)emitted) {
        printf("  WARNING: file size %lld, bytes_written %llu, events_failed %llu, written+dropped %llu of %ld\n",
               (long long)sb.st_size, (unsigned long long)bytes, (unsigned long long)failed,
               (unsigned long long)(written + dropped), emitted);
    }
    check(nemo_relay_exporter_shutdown(e, -1), "exporter_shutdown");
    nemo_relay_exporter_free(e);
    unlink(path);
    nemo_relay_free(path);
    nemo_relay_runtime_free(rt);
}

/* OpenTelemetry: n agent scopes (one span each) from one thread into an OTLP file; spans/s exported. */
static void otel_throughput(long n) {
    nemo_relay_runtime_t *rt = NULL;
    nemo_relay_stack_t *st = NULL;
    char *path = NULL;
    check(nemo_relay_runtime_new(&rt, NULL), "runtime_new");
    check(nemo_relay_stack_new(&st, NULL), "stack_new");
    nemo_relay_exporter_t *e = new_otel("throughput.otlp.jsonl", &path);
    check(nemo_relay_exporter_register(e, rt, "otel"), "exporter_register");
    double t0 = wall_ns();
    for (long i = 0; i < n; i++) {
        nemo_relay_scope_t *sc = NULL;
        check(nemo_relay_scope_begin(&sc, rt, st, "agent", NEMO_RELAY_SCOPE_AGENT, NULL), "scope_begin");
        check(nemo_relay_scope_end(rt, st, sc, NULL), "scope_end");
        nemo_relay_scope_free(sc);
    }
    double t1 = wall_ns();
    check(nemo_relay_exporter_flush(e, -1), "exporter_flush");
    double t2 = wall_ns();
    uint64_t exported = diag(e, "spans_exported"), dropped = diag(e, "spans_dropped") + diag(e, "queue_dropped");
    printf("%-34s %9ld %9llu %8llu %8.3f %8.3f %11.0f\n", "1 thread, gen_ai, OTLP JSON lines", n,
           (unsigned long long)exported, (unsigned long long)dropped, (t1 - t0) / 1e9, (t2 - t0) / 1e9,
           (double)exported / ((t2 - t0) / 1e9));
    check(nemo_relay_exporter_shutdown(e, -1), "exporter_shutdown");
    nemo_relay_exporter_free(e);
    unlink(path);
    free(path);
    nemo_relay_stack_free(st);
    nemo_relay_runtime_free(rt);
}

static void part2(long n) {
    printf("\nSustained ATOF file throughput, N = %ld marks (rate = events written / (emit + flush) wall time)\n", n);
    printf("%-34s %9s %9s %8s %8s %8s %11s %8s %6s\n", "emitters, queue", "emitted", "written", "dropped", "emit s",
           "total s", "events/s", "MB/s", "B/ev");
    throughput(n, 1, false);
    throughput(n, 4, false);
    throughput(n, 1, true);
    throughput(n, 4, true);
    printf("\nSustained OpenTelemetry export, N = %ld spans (rate = spans exported / (emit + flush) wall time)\n",
           n / 5);
    printf("%-34s %9s %9s %8s %8s %8s %11s\n", "emitter, sink", "spans", "exported", "dropped", "emit s", "total s",
           "spans/s");
    otel_throughput(n / 5);
}

int main(int argc, char **argv) {
    long n = 200000;
    if (argc > 1) n = strcmp(argv[1], "--quick") == 0 ? 300 : atol(argv[1]);
    if (n < 1) {
        fprintf(stderr, "usage: exporter_bench [iterations | --quick]\n");
        return 2;
    }
    int rounds = n >= 10000 ? 3 : 1;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/nemo-relay-exporter-bench-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }

    printf("NemoRelay %s exporter bench, %ld iterations (throughput N = %ld), files under %s\n", nemo_relay_version(),
           n, 5 * n, tmpdir);
    part1(n, rounds);
    part2(5 * n);
    rmdir(tmpdir);
    return 0;
}
