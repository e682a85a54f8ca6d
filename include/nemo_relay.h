/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file nemo_relay.h
 * @brief The C contract of NemoRelay: scopes, LLM and tool calls, middleware, subscribers, codecs.
 *
 * This header is the whole API. Anything not declared here is not API. All functions are
 * prefixed `nemo_relay_`, all macros `NEMO_RELAY_`.
 *
 * Thread safety
 * -------------
 * - A runtime (`nemo_relay_runtime_t`) is internally locked and safe for concurrent use.
 * - A stack (`nemo_relay_stack_t`) is meant for one thread at a time; it is internally locked, so
 *   sharing one with a worker thread (to continue a trace there) is safe.
 * - Scope, call and codec handles may be used from any thread; a call handle's cancel may race
 *   with the call's completion safely.
 * - Callbacks run on the thread that triggered them (the caller of an export, or the thread that
 *   completed a pending token) unless a declaration says otherwise. Subscribers are the exception:
 *   each subscriber runs on its own delivery thread, never on the emitting thread.
 * - The last-error slot is per thread: read it on the thread that got the failing status.
 * - After fork() the child must not use a runtime, subscriber or exporter created before the fork (their
 *   delivery threads do not exist in the child): create new ones there (docs/abi.md, "fork()").
 * - No export blocks waiting for asynchronous work except `nemo_relay_flush`,
 *   `nemo_relay_stream_next` with a non-zero timeout, the exporter calls that say so
 *   (`nemo_relay_exporter_flush`, `nemo_relay_exporter_shutdown`, `nemo_relay_atif_exporter_export`), and
 *   the standalone codec calls with a custom codec that answers later, which wait at most 10 s
 *   (then NEMO_RELAY_E_TIMEOUT).
 *
 * Conventions
 * -----------
 * - Fallible functions return `nemo_relay_status_t`: `NEMO_RELAY_OK` (0) or a positive code.
 *   `nemo_relay_last_error_message()` gives the detail (with the reference's prefixes such as
 *   `invalid argument: `). Every export clears that slot on entry, except the ones that only read
 *   static data or the slot itself (`nemo_relay_version`, `nemo_relay_version_number`,
 *   `nemo_relay_status_str`, `nemo_relay_last_error_message`, `nemo_relay_last_error_id`), so a
 *   failure can be reported as "<status name>: <message>" in either order.
 * - Timeouts are nanoseconds; a negative one waits without limit and a huge one (up to INT64_MAX)
 *   is a deadline that saturates, never one that has already passed.
 * - JSON crosses as `const char *json, size_t len` (UTF-8, not NUL-terminated; NULL means absent).
 *   Results come back through `char **out, size_t *out_len` and are freed with `nemo_relay_free`.
 * - Handles returned through `**out` belong to the caller and are released with their `_free`.
 *   Freed, foreign or NULL handles are detected and reported with `NEMO_RELAY_E_MISUSE`.
 * - Options structs start with `uint32_t version`; fill them with the matching `_init` function.
 *   A NULL options pointer means defaults.
 * - Timestamps are `int64_t` nanoseconds since the Unix epoch (UTC).
 */
#ifndef NEMO_RELAY_H
#define NEMO_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define NEMO_RELAY_API __declspec(dllimport)
#else
#define NEMO_RELAY_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versions                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* The project version: its one source is the top-level VERSION file; scripts/version.py checks these. */
#define NEMO_RELAY_VERSION_MAJOR 0
#define NEMO_RELAY_VERSION_MINOR 9
#define NEMO_RELAY_VERSION_PATCH 0
/** M*1000000 + m*1000 + p. */
#define NEMO_RELAY_VERSION_NUMBER 9000
#define NEMO_RELAY_VERSION_STRING "0.9.0"

/**
 * @brief The library's version string, e.g. "0.9.0".
 * @return A static string.
 * Ownership: returned borrowed; static, never freed.
 * @since 0.1
 */
NEMO_RELAY_API const char *nemo_relay_version(void);

/**
 * @brief The library's version as M*1000000 + m*1000 + p; compare with NEMO_RELAY_VERSION_NUMBER.
 * @return The version number.
 * @since 0.1
 */
NEMO_RELAY_API int32_t nemo_relay_version_number(void);

/* ------------------------------------------------------------------------------------------ */
/* Status codes and errors                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** A status code: 0 is success, failures are positive and only ever appended. */
typedef int32_t nemo_relay_status_t;

enum {
    NEMO_RELAY_OK = 0,
    /** Only as a callback's return value: the callback will complete its token later. */
    NEMO_RELAY_PENDING = -1,
    NEMO_RELAY_E_INVALID_ARGUMENT = 1,  /**< bad input (`invalid argument: ...`) */
    NEMO_RELAY_E_NOT_FOUND = 2,         /**< `not found: ...` */
    NEMO_RELAY_E_ALREADY_EXISTS = 3,    /**< `already exists: ...` */
    NEMO_RELAY_E_GUARDRAIL_REJECTED = 4,/**< `guardrail rejected: <reason>` */
    NEMO_RELAY_E_INTERNAL = 5,          /**< `internal error: ...` */
    NEMO_RELAY_E_MISUSE = 6,            /**< NULL/freed/foreign handle, token completed twice, ... */
    NEMO_RELAY_E_CALLBACK = 7,          /**< a user callback failed; never produced by the library itself */
    NEMO_RELAY_E_CANCELLED = 8,         /**< the call was cancelled */
    NEMO_RELAY_E_INVALID_JSON = 9,      /**< malformed JSON or invalid UTF-8 (message names the byte offset) */
    NEMO_RELAY_E_VERSION = 10,          /**< an options struct carries an unknown version */
    NEMO_RELAY_E_TIMEOUT = 11,          /**< flush did not finish in time */
    NEMO_RELAY_E_SCOPE_STACK_EMPTY = 12,/**< `scope stack empty` */
    NEMO_RELAY_E_FULL = 13              /**< a stream's consumer buffer is full; the chunk was not taken */
};

/**
 * @brief Static text naming a status code, e.g. "NEMO_RELAY_E_NOT_FOUND".
 * @param status Any status value.
 * @return A static string; "NEMO_RELAY_E_UNKNOWN" for values this version does not know.
 * Ownership: returned borrowed; static.
 * @since 0.1
 */
NEMO_RELAY_API const char *nemo_relay_status_str(nemo_relay_status_t status);

/**
 * @brief The message of the most recent failure on the calling thread ("" when none).
 * @return A NUL-terminated UTF-8 string, never NULL.
 * Ownership: returned borrowed; valid until the next nemo_relay_* call on this thread.
 * @since 0.1
 */
NEMO_RELAY_API const char *nemo_relay_last_error_message(void);

/**
 * @brief The identity of the failure the calling thread's last error reports: the `id` a callback
 *        attached with nemo_relay_complete_failure, or 0 (no failure, or one without an id).
 *
 * Set with the message by an export that returns the failure (e.g. nemo_relay_stream_next), and,
 * while a done callback (`nemo_relay_done_t.fn`, a stream's `on_end`) runs with a failure status,
 * it holds that failure, so the callback reads it first thing on its own thread. The slot keeps the
 * failure alive (its `user_data_free` waits) until the thread's next nemo_relay_* call or its exit.
 * @return The id, or 0.
 * @since 0.9
 */
NEMO_RELAY_API uint64_t nemo_relay_last_error_id(void);

/**
 * @brief Frees memory the library returned through a `char **out` parameter.
 * @param ptr The pointer; NULL is ignored.
 * Ownership: takes ownership of `ptr`.
 * @since 0.1
 */
NEMO_RELAY_API void nemo_relay_free(void *ptr);

/* ------------------------------------------------------------------------------------------ */
/* Handles                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** The runtime: global middleware, subscribers and the event pipeline. */
typedef struct nemo_relay_runtime_t nemo_relay_runtime_t;
/** A scope stack with its implicit root scope. */
typedef struct nemo_relay_stack_t nemo_relay_stack_t;
/** A scope, LLM-call or tool-call span. Values: readable after the span ended. */
typedef struct nemo_relay_scope_t nemo_relay_scope_t;
/** A managed call in flight; lets the caller cancel it. */
typedef struct nemo_relay_call_t nemo_relay_call_t;
/** The completion token handed to every callback. */
typedef struct nemo_relay_token_t nemo_relay_token_t;
/** A provider codec (built-in or custom). */
typedef struct nemo_relay_codec_t nemo_relay_codec_t;
/** The read end of a streaming LLM call. */
typedef struct nemo_relay_stream_t nemo_relay_stream_t;
/** The write end a stream provider (or stream execution intercept) pushes chunks into. */
typedef struct nemo_relay_producer_t nemo_relay_producer_t;

/* ------------------------------------------------------------------------------------------ */
/* Callbacks and the completion protocol                                                       */
/* ------------------------------------------------------------------------------------------ */

/**
 * @brief The one callback shape used by providers, tools, middleware and custom codecs.
 *
 * The callback reads its input document (`json`, `len`; borrowed for the duration of the call;
 * its shape depends on the callback kind, see nemo_relay_register) and answers in one of two ways:
 * - now: call `nemo_relay_complete(token, NEMO_RELAY_OK, result, len)` and return NEMO_RELAY_OK;
 * - later: return NEMO_RELAY_PENDING and call `nemo_relay_complete` exactly once, from any thread.
 * To fail, complete with a non-OK status (or just return one). The operation then ends with
 * NEMO_RELAY_E_CALLBACK and the failure text is kept. Returning NEMO_RELAY_OK without completing
 * the token is itself a failure. The pipeline resumes on the thread that completes the token.
 */
typedef nemo_relay_status_t (*nemo_relay_callback_fn)(nemo_relay_token_t *token, const char *json, size_t len,
                                                      void *user_data);

/** A callback with its user data and the destructor of that user data. */
typedef struct nemo_relay_callback_t {
    nemo_relay_callback_fn fn;          /**< required */
    void *user_data;                    /**< passed back to `fn` */
    void (*user_data_free)(void *);     /**< may be NULL; runs once, when the library drops the callback */
} nemo_relay_callback_t;

/**
 * @brief Receives the outcome of a managed call or of an execution continuation, exactly once.
 *
 * On NEMO_RELAY_OK, `json`/`len` is the result document. On failure it is the UTF-8 display text
 * of the error (for NEMO_RELAY_E_CALLBACK, the text the failing callback gave). Borrowed for the
 * duration of the call.
 */
typedef void (*nemo_relay_done_fn)(nemo_relay_status_t status, const char *json, size_t len, void *user_data);

/** A done callback with its user data and destructor. */
typedef struct nemo_relay_done_t {
    nemo_relay_done_fn fn;              /**< required */
    void *user_data;                    /**< passed back to `fn` */
    void (*user_data_free)(void *);     /**< may be NULL; runs after `fn` returned */
} nemo_relay_done_t;

/**
 * @brief Completes a callback's token with a result or an error.
 * @param token The token the callback received.
 * @param status NEMO_RELAY_OK with a result document, or any failure status.
 * @param json On OK: the result JSON. On failure: optional UTF-8 error text, or a JSON object
 *        `{"type": "<exception class>", "message": "<text>"}`, optionally with `"qualname"`, the
 *        class's qualified name, which the error's display text then uses (`exception.type` stays
 *        `type`). NULL is allowed for failures.
 * @param len Length of `json` in bytes.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_MISUSE if the token was already completed or its call was
 *         cancelled; NEMO_RELAY_E_INVALID_JSON if an OK result is not valid JSON (the token is then
 *         completed with that failure).
 * Ownership: `json` is borrowed. The token must not be used after a successful completion.
 * Thread: may be called from any thread; the pipeline continues on the calling thread.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_complete(nemo_relay_token_t *token, nemo_relay_status_t status,
                                                       const char *json, size_t len);

/**
 * @brief The identity a callback's owner attaches to one failure (nemo_relay_complete_failure).
 *
 * A binding that re-raises the very exception object a callback raised keeps that object in a table
 * under a fresh id and fails the token with that id. The library carries the id unchanged with the
 * failure, through intercepts and streams, to whoever receives it: an export's failure status or a
 * done callback (`nemo_relay_done_t`, a stream's `on_end`), where nemo_relay_last_error_id() reads it.
 * The binding then takes its object back by that id. `user_data_free` runs exactly once, when the
 * library drops the failure's last copy (after it was reported, or when it reaches nobody: a failure
 * that an outer intercept replaced, a stream that is freed unread, ...), so the owner can drop the
 * table entry of a failure nobody took: the table does not grow.
 */
typedef struct nemo_relay_failure_id_t {
    uint64_t id;                        /**< the id, non-zero; returned by nemo_relay_last_error_id() */
    void *user_data;                    /**< passed to `user_data_free` */
    /** may be NULL; runs once, on any thread, when the library drops the failure; must not call the library */
    void (*user_data_free)(void *);
} nemo_relay_failure_id_t;

/**
 * @brief Completes a callback's token with a failure that carries an identity.
 *
 * As nemo_relay_complete with a failure status; the failure also carries `id` (see
 * nemo_relay_failure_id_t). The failure's text and event metadata (`exception.type`, ...) are exactly
 * those nemo_relay_complete records for the same payload.
 * @param token The token the callback received.
 * @param status Any failure status (not NEMO_RELAY_OK or NEMO_RELAY_PENDING).
 * @param json Optional failure payload, as for nemo_relay_complete.
 * @param len Length of `json` in bytes.
 * @param id The identity; NULL means none (then this is nemo_relay_complete).
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_ARGUMENT for a success status or an `id->id` of 0 (the
 *         token is not completed); NEMO_RELAY_E_MISUSE if the token was already completed or its call
 *         was cancelled. Unless NEMO_RELAY_OK is returned, `id->user_data_free` has run when this returns.
 * Ownership: `json` borrowed; `id` copied, the library owns its user data from now on.
 * Thread: may be called from any thread; the pipeline continues on the calling thread.
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_complete_failure(nemo_relay_token_t *token, nemo_relay_status_t status,
                                                               const char *json, size_t len,
                                                               const nemo_relay_failure_id_t *id);

/**
 * @brief Runs the inner layers of an execution onion from an execution-intercept callback.
 *
 * Only tokens of LLM and tool execution intercepts have a next step. It may be called zero or more
 * times while the intercept's own token is not yet completed; each call runs the inner layers again.
 * @param token The intercept's token.
 * @param json The request (LLM: `{"headers", "content"}`) or the tool args to pass inward.
 * @param len Length of `json`.
 * @param done Receives the inner result (LLM: the response; tool: `{"result", "annotation"}`), or
 *        NEMO_RELAY_E_CANCELLED when the call is cancelled or the intercept completes its own token
 *        before the inner layers answered (they are abandoned, see nemo_relay_token_on_cancel).
 * @return NEMO_RELAY_OK when started; NEMO_RELAY_E_INVALID_ARGUMENT if the token has no next step
 *         or the intercept already completed ("execution continuation is no longer active");
 *         NEMO_RELAY_E_INVALID_JSON for malformed input. On failure `done` is not called but its
 *         `user_data_free` is.
 * Ownership: `json` borrowed; `done` copied.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_token_next(nemo_relay_token_t *token, const char *json, size_t len,
                                                         const nemo_relay_done_t *done);

/**
 * @brief Makes the calling thread run "inside" a callback that answers later, until
 *        nemo_relay_token_leave.
 *
 * Events of one stack reach subscribers in emission order; an event emitted from inside a metadata
 * injector or an event (mark, scope start, scope end) sanitizer is delivered right after the event
 * that callback runs for, before the events of that stack queued after it. The library knows this
 * while the callback runs inside the call that invoked it. A callback that returned
 * NEMO_RELAY_PENDING and goes on later (a coroutine step, a task) calls this around each piece it
 * runs, so the events it emits there nest the same way. For the token of any other callback it only
 * hides an outer context. Pairs nest per thread; each enter needs one leave with the same token on
 * the same thread.
 * @param token A token the callback received and has not completed yet.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_MISUSE for a completed or bad token (nothing was entered).
 * Ownership: `token` borrowed.
 * @since 0.8
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_token_enter(nemo_relay_token_t *token);

/**
 * @brief Ends the innermost nemo_relay_token_enter of the calling thread if it was entered with
 *        `token`; nothing otherwise (an unmatched leave, e.g. after a failed enter, is harmless).
 * @param token The token given to nemo_relay_token_enter (it may have been completed since).
 * @since 0.8
 */
NEMO_RELAY_API void nemo_relay_token_leave(nemo_relay_token_t *token);

/**
 * @brief Asks to be told when a pending callback token is cancelled, so the callback can stop its work
 *        (abort a request, cancel a task).
 *
 * A token counts as cancelled when, before it was completed, the call it serves ends without it:
 * - the caller cancelled the managed call (nemo_relay_call_cancel): the tokens of its provider or
 *   tool, of its conditional guardrails, request intercepts and execution intercepts;
 * - the runtime was freed (nemo_relay_runtime_free) while the managed call or stream waited;
 * - a streaming call's stream was closed early (nemo_relay_stream_close, a failing `on_chunk`),
 *   released while running (nemo_relay_stream_free of a pulled stream), or its collector failed:
 *   the tokens of its stream provider and stream intercepts (their producers report
 *   NEMO_RELAY_E_CANCELLED) and of its conditional guardrails and intercepts;
 * - an LLM or tool execution intercept completed its own token while inner layers it started with
 *   nemo_relay_token_next still waited: those layers are abandoned, the tokens of their provider or
 *   tool and execution intercepts are cancelled, and that nemo_relay_token_next's `done` gets
 *   NEMO_RELAY_E_CANCELLED. (Stream execution intercepts do not abandon their inner layers this way.)
 * Nothing else cancels a token. The library has no timeout that does: a standalone codec call that
 * stops waiting after 10 s leaves its codec's token pending (a late answer is discarded). Tokens of
 * callbacks that serve no managed or streaming call (event sanitizers, metadata injectors, custom
 * codec methods, the chain helpers such as nemo_relay_llm_conditional_execution), of LLM/tool
 * sanitizers, and of an `on_chunk` consumer are never cancelled; a notice on them is released when
 * they complete. A cancelled token still accepts nemo_relay_complete, which then returns
 * NEMO_RELAY_E_MISUSE and changes nothing.
 *
 * `notice->fn` runs at most once, with NEMO_RELAY_E_CANCELLED and the cancellation text (e.g.
 * "cancelled"): on the thread that cancels, before the cancellation reaches the rest of the call (so
 * before its done callback or end event), or at once, on this thread, if the token was already
 * cancelled. It never runs once the token was completed: a completion and a cancellation exclude each
 * other, whichever comes first wins. `notice->user_data_free` runs once: after `fn`, or when the token
 * completes without cancellation, or at once when this function fails (a token that is never completed
 * nor cancelled keeps its notices). Several notices may be added
 * to one token; they run in the order added. `fn` must not block; it may call any export.
 * @param token A token a callback received.
 * @param notice The notification.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_MISUSE for a bad token or one already completed;
 *         NEMO_RELAY_E_INVALID_ARGUMENT for a NULL `notice` or `notice->fn`.
 * Ownership: `token` borrowed; `notice` copied, the library owns its user data from now on.
 * Thread: any thread.
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_token_on_cancel(nemo_relay_token_t *token,
                                                              const nemo_relay_done_t *notice);

/* ------------------------------------------------------------------------------------------ */
/* Runtime                                                                                     */
/* ------------------------------------------------------------------------------------------ */

#define NEMO_RELAY_RUNTIME_OPTIONS_VERSION 1

/** Runtime options. */
typedef struct nemo_relay_runtime_options_t {
    uint32_t version;                  /**< NEMO_RELAY_RUNTIME_OPTIONS_VERSION */
    /** Undelivered events kept per subscriber; when full, new events are dropped for that
     *  subscriber and counted (nemo_relay_dropped_events). 0 means the default, 65536. */
    uint32_t subscriber_queue_capacity;
} nemo_relay_runtime_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_RUNTIME_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT for NULL, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_runtime_options_init(nemo_relay_runtime_options_t *opts,
                                                                   uint32_t version);

/**
 * @brief Creates a runtime.
 * @param out Receives the runtime.
 * @param opts Options, or NULL for defaults.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned; release with nemo_relay_runtime_free.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_runtime_new(nemo_relay_runtime_t **out,
                                                          const nemo_relay_runtime_options_t *opts);

/**
 * @brief Ends what is still in flight, flushes (up to 5 s), stops every subscriber and releases the
 *        runtime. NULL is ignored.
 *
 * Streams still running end as dropped (`runtime_shutdown`); managed calls still waiting for a callback
 * end as cancelled: their end events are recorded and delivered, their done callbacks run with
 * NEMO_RELAY_E_CANCELLED (on this thread), and a token completed later returns NEMO_RELAY_E_MISUSE.
 * @param rt The runtime.
 * Ownership: takes ownership of `rt`. Registered callbacks' `user_data_free` run once no call uses them.
 * @since 0.1
 */
NEMO_RELAY_API void nemo_relay_runtime_free(nemo_relay_runtime_t *rt);

/**
 * @brief Receives a runtime diagnostic (a failing sanitizer, injector or response codec, ...).
 *
 * `level` is a NEMO_RELAY_SEVERITY_* value; `message` is UTF-8, borrowed for the call. Runs on the
 * thread where the diagnostic arose. A runtime without a callback writes its diagnostics to the
 * operational log (target `nemo_relay.runtime`), which writes nothing until nemo_relay_logging_init.
 */
typedef void (*nemo_relay_log_fn)(int32_t level, const char *message, size_t len, void *user_data);

/**
 * @brief Routes the runtime's diagnostics to `fn`, replacing any previous sink; NULL `fn` removes it.
 * @param rt The runtime.
 * @param fn The sink, or NULL.
 * @param user_data Passed to `fn`.
 * @param user_data_free May be NULL; runs when the sink is replaced or the runtime is freed.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_MISUSE (then `user_data_free` runs at once).
 * Ownership: the library owns `user_data` from now on.
 * @since 0.3
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_runtime_set_log_callback(nemo_relay_runtime_t *rt, nemo_relay_log_fn fn,
                                                                       void *user_data, void (*user_data_free)(void *));

/* ------------------------------------------------------------------------------------------ */
/* Operational logging                                                                         */
/* ------------------------------------------------------------------------------------------ */

/**
 * @brief Configures the process's operational logging from the environment, as the reference does
 *        when its bindings load (docs/logging.md): `NEMO_RELAY_LOG` (error, warn, info, debug, trace),
 *        `NEMO_RELAY_LOG_STDERR` (true/false), `NEMO_RELAY_LOG_STDERR_FORMAT` (human, jsonl), or
 *        `NEMO_RELAY_LOG_CONFIG_PATH` (an absolute path to a TOML file with a `[logging]` table: level,
 *        stderr_enabled, stderr_format, flush_interval_millis, `[[logging.sinks]]` files with path,
 *        level, format, queue_capacity, max_file_size_bytes and retained_files). With none set: errors,
 *        as human lines, on stderr.
 *
 * Logs `logging_initialized`. Does nothing when a configuration is in force (call
 * nemo_relay_logging_shutdown first to apply a changed environment). The first success registers a
 * process-exit hook that flushes the file sinks. File sinks buffer records and write them every
 * `flush_interval_millis` (default 1000; 0: only when `queue_capacity` records wait, and at shutdown).
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (an invalid value, an unreadable or invalid file,
 *         a sink that cannot be opened; the message starts with `failed to initialize NeMo Relay
 *         operational logging: invalid argument: `, as the reference's error does).
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_logging_init(void);

/**
 * @brief Logs `logging_shutdown_started`, flushes and closes the file sinks and ends the configuration in
 *        force; later records are dropped until the next nemo_relay_logging_init. Safe to call twice.
 * @since 0.9
 */
NEMO_RELAY_API void nemo_relay_logging_shutdown(void);

/**
 * @brief Emits one operational record (dropped when no configuration is in force or when `level` is
 *        below the configured level).
 * @param level "trace", "debug", "info", "warn" (or "warning") or "error".
 * @param target The record's target (NULL: empty); the bindings pass `nemo_relay.python[.<target>]`
 *        and `nemo_relay.node[.<target>]`.
 * @param event The record's event name (NULL: none).
 * @param message The message (NULL: empty).
 * @param fields A JSON object of structured fields, or NULL.
 * @param fields_len Its length.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (`invalid log level`, `log fields must be an
 *         object`), NEMO_RELAY_E_INVALID_JSON.
 * Ownership: inputs borrowed.
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_log_emit(const char *level, const char *target, const char *event,
                                                       const char *message, const char *fields, size_t fields_len);

/* ------------------------------------------------------------------------------------------ */
/* Stacks                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/**
 * @brief Creates a stack: a fresh one with its own root, or an isolated child of `parent`.
 *
 * A child starts from the parent's current scopes (events keep their parentage and propagation
 * root) but does not see the parent's scope-local registrations, and its agents are fresh again.
 * @param out Receives the stack.
 * @param parent A stack to fork, or NULL for a new one.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_stack_free); `parent` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stack_new(nemo_relay_stack_t **out, nemo_relay_stack_t *parent);

/**
 * @brief Returns a reference to the calling thread's default stack (the stack NULL stands for).
 * @param out Receives the stack.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT.
 * Ownership: `*out` returned owned (a new reference; nemo_relay_stack_free).
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stack_thread_default(nemo_relay_stack_t **out);

/**
 * @brief Makes `stack` the calling thread's default stack (shared, not copied); NULL resets it.
 * @param stack The stack, or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_MISUSE.
 * Ownership: `stack` borrowed; the thread keeps its own reference.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stack_set_thread_default(nemo_relay_stack_t *stack);

/**
 * @brief Releases a stack reference. NULL is ignored.
 * @param stack The stack.
 * Ownership: takes ownership of `stack`.
 * @since 0.1
 */
NEMO_RELAY_API void nemo_relay_stack_free(nemo_relay_stack_t *stack);

/* ------------------------------------------------------------------------------------------ */
/* Scopes and marks                                                                            */
/* ------------------------------------------------------------------------------------------ */

/** Scope types (event `category`). */
enum {
    NEMO_RELAY_SCOPE_AGENT = 0,
    NEMO_RELAY_SCOPE_FUNCTION = 1,
    NEMO_RELAY_SCOPE_TOOL = 2,
    NEMO_RELAY_SCOPE_LLM = 3,
    NEMO_RELAY_SCOPE_RETRIEVER = 4,
    NEMO_RELAY_SCOPE_EMBEDDER = 5,
    NEMO_RELAY_SCOPE_RERANKER = 6,
    NEMO_RELAY_SCOPE_GUARDRAIL = 7,
    NEMO_RELAY_SCOPE_EVALUATOR = 8,
    NEMO_RELAY_SCOPE_CUSTOM = 9,
    NEMO_RELAY_SCOPE_UNKNOWN = 10
};

/** Attribute bits: scopes. */
#define NEMO_RELAY_SCOPE_PARALLEL 1u
#define NEMO_RELAY_SCOPE_RELOCATABLE 2u
/** Attribute bits: LLM calls. */
#define NEMO_RELAY_LLM_STATEFUL 1u
#define NEMO_RELAY_LLM_STREAMING 2u
/** Attribute bits: tool calls. */
#define NEMO_RELAY_TOOL_REMOTE 1u

/** Mark severities (`metadata["nemo_relay.log.severity"]`); NEMO_RELAY_SEVERITY_NONE adds nothing. */
enum {
    NEMO_RELAY_SEVERITY_NONE = -1,
    NEMO_RELAY_SEVERITY_TRACE = 0,
    NEMO_RELAY_SEVERITY_DEBUG = 1,
    NEMO_RELAY_SEVERITY_INFO = 2,
    NEMO_RELAY_SEVERITY_WARN = 3,
    NEMO_RELAY_SEVERITY_ERROR = 4
};

#define NEMO_RELAY_SCOPE_OPTIONS_VERSION 1

/** Options of nemo_relay_scope_begin and nemo_relay_scope_end (fields a call does not use are ignored). */
typedef struct nemo_relay_scope_options_t {
    uint32_t version;                  /**< NEMO_RELAY_SCOPE_OPTIONS_VERSION */
    uint32_t attributes;               /**< NEMO_RELAY_SCOPE_* bits (begin) */
    nemo_relay_scope_t *parent;        /**< explicit parent (begin); NULL: the stack's top */
    const char *data; size_t data_len; /**< JSON kept on the handle, never emitted (begin) */
    const char *metadata; size_t metadata_len; /**< start metadata (begin) or end metadata, merged (end) */
    const char *payload; size_t payload_len;   /**< the start event's `data` (begin: input) or the end's (end: output) */
    bool has_timestamp;                /**< use `timestamp_ns` instead of now */
    int64_t timestamp_ns;              /**< nanoseconds since the epoch */
} nemo_relay_scope_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_SCOPE_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_scope_options_init(nemo_relay_scope_options_t *opts,
                                                                 uint32_t version);

/**
 * @brief Opens a scope on `stack` and queues its start event.
 * @param out Receives the scope handle.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param name Scope name (NUL-terminated UTF-8).
 * @param scope_type A NEMO_RELAY_SCOPE_* type.
 * @param opts Options, or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE,
 *         NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned (nemo_relay_scope_free, also after the scope ended); inputs borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_scope_begin(nemo_relay_scope_t **out, nemo_relay_runtime_t *rt,
                                                          nemo_relay_stack_t *stack, const char *name,
                                                          int32_t scope_type, const nemo_relay_scope_options_t *opts);

/**
 * @brief Closes the scope on top of `stack` and queues its end event; its scope-local entries vanish.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param scope The scope to close; it must be on top.
 * @param opts Options (`payload` = output, `metadata`, timestamp), or NULL.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_ARGUMENT ("scope handle is not at the top of the stack",
 *         "root scope cannot be removed"); NEMO_RELAY_E_NOT_FOUND ("scope handle not found": ended
 *         twice or another stack's scope); NEMO_RELAY_E_INVALID_JSON; NEMO_RELAY_E_MISUSE.
 * Ownership: all borrowed; the handle stays valid until nemo_relay_scope_free.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_scope_end(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                        nemo_relay_scope_t *scope,
                                                        const nemo_relay_scope_options_t *opts);

/**
 * @brief Returns the scope on top of `stack` (its root when nothing is open).
 * @param out Receives a handle to it.
 * @param stack The stack, or NULL for the calling thread's default.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_scope_free).
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_scope_current(nemo_relay_scope_t **out, nemo_relay_stack_t *stack);

/**
 * @brief Describes a handle as JSON: `uuid`, `name`, `kind` (scope/llm/tool), `scope_type`,
 *        `attributes`, `parent_uuid`, `data`, `metadata`, `start_time_ns` (string), `model_name`,
 *        `tool_call_id`, `ended`.
 * @param out Receives the JSON.
 * @param out_len Receives its length.
 * @param scope The handle.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_free); `scope` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_scope_info(char **out, size_t *out_len, nemo_relay_scope_t *scope);

/**
 * @brief Releases a handle (it does not end the span). NULL is ignored.
 * @param scope The handle.
 * Ownership: takes ownership of `scope`.
 * @since 0.1
 */
NEMO_RELAY_API void nemo_relay_scope_free(nemo_relay_scope_t *scope);

#define NEMO_RELAY_MARK_OPTIONS_VERSION 1

/** Options of nemo_relay_mark. */
typedef struct nemo_relay_mark_options_t {
    uint32_t version;                  /**< NEMO_RELAY_MARK_OPTIONS_VERSION */
    int32_t severity;                  /**< NEMO_RELAY_SEVERITY_*; NONE by default */
    nemo_relay_scope_t *parent;        /**< explicit parent; NULL: the stack's top */
    const char *data; size_t data_len; /**< the mark's payload */
    const char *data_schema; size_t data_schema_len; /**< `{"name", "version"}` */
    const char *metadata; size_t metadata_len;
    bool has_timestamp;
    int64_t timestamp_ns;
} nemo_relay_mark_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_MARK_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_mark_options_init(nemo_relay_mark_options_t *opts, uint32_t version);

/**
 * @brief Queues a mark event.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param name Mark name.
 * @param opts Options, or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE,
 *         NEMO_RELAY_E_VERSION.
 * Ownership: all borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_mark(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                   const char *name, const nemo_relay_mark_options_t *opts);

/* ------------------------------------------------------------------------------------------ */
/* LLM calls                                                                                   */
/* ------------------------------------------------------------------------------------------ */

#define NEMO_RELAY_LLM_OPTIONS_VERSION 1

/** Options of nemo_relay_llm_call, nemo_relay_llm_execute and nemo_relay_llm_stream_execute. */
typedef struct nemo_relay_llm_options_t {
    uint32_t version;                  /**< NEMO_RELAY_LLM_OPTIONS_VERSION */
    uint32_t attributes;               /**< NEMO_RELAY_LLM_* bits */
    nemo_relay_scope_t *parent;        /**< explicit parent; NULL: the stack's top */
    const char *data; size_t data_len; /**< kept on the handle; end `data` when there is no output */
    const char *metadata; size_t metadata_len; /**< start metadata */
    const char *model_name;            /**< NUL-terminated; `category_profile.model_name` */
    const char *annotated_request; size_t annotated_request_len; /**< manual start annotation */
    const nemo_relay_codec_t *codec;          /**< request codec (execute) */
    const nemo_relay_codec_t *response_codec; /**< response codec (execute) */
    bool has_timestamp;                /**< manual start time */
    int64_t timestamp_ns;
} nemo_relay_llm_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_LLM_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_options_init(nemo_relay_llm_options_t *opts, uint32_t version);

/**
 * @brief Starts a manual LLM span and queues its start event (credential headers stripped,
 *        sanitize-request guardrails applied, no intercepts).
 * @param out Receives the LLM handle.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param name Provider or call name.
 * @param request The request `{"headers": {...}, "content": ...}`.
 * @param request_len Length of `request`.
 * @param opts Options, or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE,
 *         NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned (nemo_relay_scope_free); inputs borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_call(nemo_relay_scope_t **out, nemo_relay_runtime_t *rt,
                                                       nemo_relay_stack_t *stack, const char *name,
                                                       const char *request, size_t request_len,
                                                       const nemo_relay_llm_options_t *opts);

#define NEMO_RELAY_LLM_END_OPTIONS_VERSION 1

/** Options of nemo_relay_llm_call_end. */
typedef struct nemo_relay_llm_end_options_t {
    uint32_t version;                  /**< NEMO_RELAY_LLM_END_OPTIONS_VERSION */
    const char *data; size_t data_len; /**< replaces a null response in the end payload */
    const char *metadata; size_t metadata_len; /**< merged into the start metadata */
    const char *annotated_response; size_t annotated_response_len; /**< wins over `response_codec` */
    const nemo_relay_codec_t *response_codec;
    bool has_timestamp;
    int64_t timestamp_ns;
} nemo_relay_llm_end_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_LLM_END_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_end_options_init(nemo_relay_llm_end_options_t *opts,
                                                                   uint32_t version);

/**
 * @brief Ends a manual LLM span: end data is the sanitized response, metadata gains OK status.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param llm The handle from nemo_relay_llm_call.
 * @param response The provider response JSON (NULL: null).
 * @param response_len Its length.
 * @param opts Options, or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE,
 *         NEMO_RELAY_E_VERSION. Response-codec failures are not errors (the annotation is omitted).
 * Ownership: all borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_call_end(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                           nemo_relay_scope_t *llm, const char *response,
                                                           size_t response_len,
                                                           const nemo_relay_llm_end_options_t *opts);

/**
 * @brief Runs a managed LLM call: guardrails, request intercepts, session headers, encode, start
 *        event, trace header, execution intercepts around `provider`, end event.
 *
 * The provider callback receives `{"headers", "content"}` and completes with the response JSON.
 * The outcome arrives exactly once through `done`, possibly before this function returns.
 * @param out_call Receives a call handle for cancellation, or NULL if not needed.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param name Provider or call name.
 * @param request `{"headers": {...}, "content": ...}`.
 * @param request_len Its length.
 * @param opts Options, or NULL.
 * @param provider The provider callback.
 * @param done Receives the outcome: NEMO_RELAY_OK with the response, NEMO_RELAY_E_GUARDRAIL_REJECTED,
 *        NEMO_RELAY_E_CALLBACK (a callback failed), NEMO_RELAY_E_CANCELLED, NEMO_RELAY_E_INVALID_ARGUMENT, ...
 * @return NEMO_RELAY_OK once started (the outcome goes to `done`); otherwise the call did not start,
 *         `done` is not called and both user_data_free run: NEMO_RELAY_E_INVALID_ARGUMENT,
 *         NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE, NEMO_RELAY_E_VERSION.
 * Ownership: `*out_call` returned owned (nemo_relay_call_free); inputs borrowed; callbacks copied.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_execute(nemo_relay_call_t **out_call, nemo_relay_runtime_t *rt,
                                                          nemo_relay_stack_t *stack, const char *name,
                                                          const char *request, size_t request_len,
                                                          const nemo_relay_llm_options_t *opts,
                                                          const nemo_relay_callback_t *provider,
                                                          const nemo_relay_done_t *done);

/**
 * @brief Cancels a managed call: a pending token completes as cancelled, the end event records
 *        the cancellation and `done` reports NEMO_RELAY_E_CANCELLED.
 * @param call The call handle.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_MISUSE for a bad handle. Cancelling a finished call does nothing.
 * Ownership: `call` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_call_cancel(nemo_relay_call_t *call);

/**
 * @brief Releases a call handle (it does not cancel the call). NULL is ignored.
 * @param call The handle.
 * Ownership: takes ownership of `call`.
 * @since 0.1
 */
NEMO_RELAY_API void nemo_relay_call_free(nemo_relay_call_t *call);

/* ------------------------------------------------------------------------------------------ */
/* Streaming LLM calls                                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * A streaming call runs the same steps as nemo_relay_llm_execute up to the start event, then the
 * stream execution intercepts (NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT) around the provider.
 *
 * Producer: the provider callback receives the request `{"headers", "content"}` and a token. It gets
 * its producer with nemo_relay_token_producer, pushes chunks with nemo_relay_stream_push (now or later,
 * from any thread, one push at a time), then completes the token: NEMO_RELAY_OK to finish, a failure
 * status to fail the stream (as nemo_relay_complete's failure payload). Each accepted chunk is handed
 * to the collector, recorded as an `llm.chunk` mark and buffered for the consumer, on the pushing
 * thread.
 *
 * Consumer: either pull with nemo_relay_stream_next, or set `on_chunk` (and `on_end`) in the stream
 * options to receive chunks through callbacks.
 *
 * Back-pressure: each stream buffers at most `buffer_capacity` chunks the consumer has not taken.
 * A push beyond that returns NEMO_RELAY_E_FULL and the chunk is not taken (not collected, not
 * recorded): push it again once the consumer has read. Memory per stream is therefore bounded by
 * `buffer_capacity` chunks.
 *
 * Every stream whose start event was recorded records exactly one end event and calls the finalizer
 * exactly once, whatever the consumer does:
 * - the provider finishes: `otel.status_code: OK`, data = the finalizer's value (the handle data when
 *   it is null; `null` when the finalizer failed), sanitized and decoded by the response codec;
 *   `category_profile.time_to_first_chunk` (seconds) when a chunk arrived. A consumer that stopped
 *   reading does not hold this back: unread chunks stay buffered.
 * - the provider or the collector fails: ERROR with the error's metadata (`exception.type`, ...);
 *   the consumer gets the chunks taken so far, then the failure.
 * - the consumer closes early (nemo_relay_stream_close, or an `on_chunk` failure), frees a pulled
 *   stream without closing it, or the runtime is freed while the stream runs: the producer is
 *   cancelled (push returns NEMO_RELAY_E_CANCELLED, a pending provider token completes as cancelled,
 *   nemo_relay_producer_on_cancel callbacks run) and the end is ERROR
 *   `stream dropped before clean completion` with `nemo_relay.stream.end_reason` set to
 *   `consumer_closed`, `consumer_released` or `runtime_shutdown`.
 * A failure before the start event (guardrail rejection, decode error, ...) fails the stream with no
 * LLM events and no finalizer call.
 */

#define NEMO_RELAY_STREAM_OPTIONS_VERSION 1

/** Options of nemo_relay_llm_stream_execute. Callbacks with a NULL `fn` are absent. */
typedef struct nemo_relay_stream_options_t {
    uint32_t version;                  /**< NEMO_RELAY_STREAM_OPTIONS_VERSION */
    /** Chunks buffered for the consumer before pushes report NEMO_RELAY_E_FULL; 0 means 1024. */
    uint32_t buffer_capacity;
    /** in: the chunk (a copy); complete with anything to accept it, fail to fail the stream. Must
     *  complete its token before returning. */
    nemo_relay_callback_t collector;
    /** in: `null`; out: the end event's payload. Runs exactly once per started stream; must complete
     *  its token before returning. */
    nemo_relay_callback_t finalizer;
    /** Callback consumer. in: the chunk. Complete NEMO_RELAY_OK to take the next chunk (returning
     *  NEMO_RELAY_PENDING pauses delivery until then; the buffer fills meanwhile), or fail to close
     *  the stream early. Runs on the thread that pushed or completed the previous chunk's token. */
    nemo_relay_callback_t on_chunk;
    /** Callback consumer: the outcome, exactly once, after the last chunk was handed over: OK, the
     *  failure (NEMO_RELAY_E_CALLBACK with the provider's or collector's text, ...), or
     *  NEMO_RELAY_E_CANCELLED once closed. Used only with `on_chunk`. */
    nemo_relay_done_t on_end;
} nemo_relay_stream_options_t;

/**
 * @brief Fills `opts` with defaults for `version` (no callbacks, default buffer capacity).
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_STREAM_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT for NULL, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stream_options_init(nemo_relay_stream_options_t *opts,
                                                                  uint32_t version);

/**
 * @brief Runs a managed streaming LLM call and returns its read end at once.
 *
 * The provider may run (and the stream may end) before this function returns.
 * @param out_stream Receives the stream; may be NULL only when `stream_opts->on_chunk` is set.
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param name Provider or call name.
 * @param request `{"headers": {...}, "content": ...}`.
 * @param request_len Its length.
 * @param opts LLM options (parent, attributes, data, metadata, model name, codecs), or NULL.
 * @param stream_opts Stream options (buffer, collector, finalizer, callback consumer), or NULL.
 * @param provider The stream provider callback (see above).
 * @return NEMO_RELAY_OK once started; otherwise the call did not start and every callback's
 *         user_data_free ran: NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON,
 *         NEMO_RELAY_E_MISUSE, NEMO_RELAY_E_VERSION.
 * Ownership: `*out_stream` returned owned (nemo_relay_stream_free); inputs borrowed; callbacks copied,
 *            the library owns their user data from now on.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_stream_execute(nemo_relay_stream_t **out_stream,
                                                                 nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                                 const char *name, const char *request,
                                                                 size_t request_len,
                                                                 const nemo_relay_llm_options_t *opts,
                                                                 const nemo_relay_stream_options_t *stream_opts,
                                                                 const nemo_relay_callback_t *provider);

/**
 * @brief Gets the producer of a stream provider's or stream execution intercept's token.
 *
 * Call it before completing the token (completion invalidates the token).
 * @param out Receives the producer.
 * @param token The token the callback received.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_MISUSE (bad or completed token); NEMO_RELAY_E_INVALID_ARGUMENT
 *         (the token is not a stream provider's or stream intercept's).
 * Ownership: `*out` returned owned (nemo_relay_producer_free); `token` borrowed.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_token_producer(nemo_relay_producer_t **out, nemo_relay_token_t *token);

/**
 * @brief Runs the inner layers of a stream execution intercept and returns their chunks as a stream
 *        the intercept reads (docs/pipeline.md, "Transforming stream intercepts").
 *
 * The transforming form of nemo_relay_token_next: instead of flowing straight to this layer's output,
 * the inner layers' chunks (inner intercepts, then the provider) go to `*out_inner`. The intercept
 * reads them with nemo_relay_stream_next (or through `on_chunk`/`on_end` in `inner_opts`) and pushes
 * what it wants, transformed, dropped or added, into its own producer (nemo_relay_token_producer,
 * nemo_relay_stream_push), then completes its token. It may be called zero or more times while the
 * intercept's token is not yet completed; each call runs the inner layers again. The inner layers may
 * run, and end, before this returns.
 *
 * - Back-pressure: the inner stream buffers at most `inner_opts->buffer_capacity` unread chunks
 *   (0 or NULL options: 1024); an inner push beyond that returns NEMO_RELAY_E_FULL, so the inner
 *   layers go at the intercept's reading pace.
 * - Events: the inner stream is not observed. The call still records one start and one end event;
 *   its collector, finalizer and `llm.chunk` marks see what the outermost layer pushes, which is what
 *   the consumer gets.
 * - Outcome: after the chunks, nemo_relay_stream_next returns the inner layers' end: the clean end,
 *   or their failure (NEMO_RELAY_E_CALLBACK with the inner callback's text, ...), which the intercept
 *   may pass on (complete its token with it), replace or ignore.
 * - Closing: nemo_relay_stream_close, a failing `on_chunk`, or freeing a pulled inner stream before it
 *   ended, cancels the inner layers only (their pushes return NEMO_RELAY_E_CANCELLED, their pending tokens complete as
 *   cancelled, their nemo_relay_producer_on_cancel callbacks run); the call goes on and ends as the
 *   intercept's output does. Completing the intercept's token cancels its inner streams still
 *   running. Closing the outer stream, cancelling the call or freeing the runtime cancels them too:
 *   nemo_relay_stream_next on the inner stream then returns NEMO_RELAY_E_CANCELLED.
 * @param out_inner Receives the inner stream; may be NULL only when `inner_opts->on_chunk` is set.
 * @param token The stream execution intercept's token.
 * @param request The request to pass inward, `{"headers": {...}, "content": ...}`.
 * @param request_len Its length.
 * @param inner_opts Buffer capacity and callback consumer (`on_chunk`, `on_end`), or NULL to pull
 *        with the default buffer. `collector` and `finalizer` must be absent (NULL `fn`).
 * @return NEMO_RELAY_OK when started; otherwise the inner layers did not run, no callback is called
 *         and every user_data_free ran: NEMO_RELAY_E_INVALID_ARGUMENT (the token is not a stream
 *         execution intercept's, the intercept already completed: "execution continuation is no
 *         longer active", a collector or finalizer given, NULL `out_inner` without `on_chunk`, NULL
 *         request), NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_VERSION.
 * Ownership: `*out_inner` returned owned (nemo_relay_stream_free); `request` borrowed; callbacks
 *            copied, the library owns their user data from now on.
 * Thread: any thread; the inner layers start on the calling thread.
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_token_next_stream(nemo_relay_stream_t **out_inner,
                                                                nemo_relay_token_t *token, const char *request,
                                                                size_t request_len,
                                                                const nemo_relay_stream_options_t *inner_opts);

/**
 * @brief Pushes one chunk into a stream.
 * @param producer The producer.
 * @param json The chunk JSON.
 * @param len Its length.
 * @return NEMO_RELAY_OK (taken); NEMO_RELAY_E_FULL (buffer full, not taken: push again after the
 *         consumer read); NEMO_RELAY_E_CANCELLED (closed, cancelled or failed: stop producing);
 *         NEMO_RELAY_E_MISUSE (bad handle, or the producer's token was already completed);
 *         NEMO_RELAY_E_INVALID_JSON; NEMO_RELAY_E_INVALID_ARGUMENT (NULL chunk).
 * Ownership: `json` borrowed (copied).
 * Thread: any thread, one push at a time per producer; the chunk is observed on this thread.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stream_push(nemo_relay_producer_t *producer, const char *json,
                                                          size_t len);

/**
 * @brief Asks to be told when the stream is cancelled (closed early, released, runtime freed) before
 *        this producer's token completes.
 *
 * `on_cancel.fn` runs at most once, with NEMO_RELAY_E_CANCELLED and
 * "stream dropped before clean completion", on the thread that cancels (at once if already
 * cancelled). Its `user_data_free` runs after that, or when the token completes without cancellation.
 * @param producer The producer.
 * @param on_cancel The notification.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_MISUSE, NEMO_RELAY_E_INVALID_ARGUMENT. On failure
 *         `user_data_free` runs at once.
 * Ownership: `on_cancel` copied; the library owns its user data from now on.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_producer_on_cancel(nemo_relay_producer_t *producer,
                                                                 const nemo_relay_done_t *on_cancel);

/**
 * @brief Releases a producer handle (it neither finishes nor cancels the stream). NULL is ignored.
 * @param producer The producer.
 * Ownership: takes ownership of `producer`.
 * @since 0.4
 */
NEMO_RELAY_API void nemo_relay_producer_free(nemo_relay_producer_t *producer);

/**
 * @brief Takes the next chunk of a pulled stream, waiting at most `timeout_ns`.
 * @param out Receives the chunk JSON, or NULL once the stream ended cleanly and every chunk was read.
 * @param out_len Receives its length (0 with NULL).
 * @param stream The stream.
 * @param timeout_ns 0 polls; positive waits up to that many nanoseconds; negative waits without limit.
 * @return NEMO_RELAY_OK (a chunk, or the clean end); NEMO_RELAY_E_TIMEOUT (nothing yet); after the
 *         chunks taken before it, the stream's failure: NEMO_RELAY_E_CALLBACK (provider or collector,
 *         with its text), NEMO_RELAY_E_GUARDRAIL_REJECTED, NEMO_RELAY_E_CANCELLED (closed or
 *         cancelled), ...; NEMO_RELAY_E_MISUSE (bad handle, or a stream with `on_chunk`);
 *         NEMO_RELAY_E_INVALID_ARGUMENT.
 * Ownership: `*out` returned owned (nemo_relay_free); `stream` borrowed.
 * Thread: blocks the calling thread up to `timeout_ns`.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stream_next(char **out, size_t *out_len, nemo_relay_stream_t *stream,
                                                          int64_t timeout_ns);

/**
 * @brief Closes a stream early: cancels the producer, runs the finalizer and records the dropped end
 *        (`consumer_closed`). After the stream ended it only discards unread chunks. Idempotent.
 * @param stream The stream.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_MISUSE.
 * Ownership: `stream` borrowed; the handle stays valid until nemo_relay_stream_free.
 * @since 0.4
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stream_close(nemo_relay_stream_t *stream);

/**
 * @brief Releases a stream handle. A pulled stream still running is ended as `consumer_released`;
 *        a stream with `on_chunk` keeps running. NULL is ignored.
 * @param stream The stream.
 * Ownership: takes ownership of `stream`.
 * @since 0.4
 */
NEMO_RELAY_API void nemo_relay_stream_free(nemo_relay_stream_t *stream);

/* ------------------------------------------------------------------------------------------ */
/* Tool calls                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define NEMO_RELAY_TOOL_OPTIONS_VERSION 1

/** Options of nemo_relay_tool_call, nemo_relay_tool_call_end and nemo_relay_tool_execute. */
typedef struct nemo_relay_tool_options_t {
    uint32_t version;                  /**< NEMO_RELAY_TOOL_OPTIONS_VERSION */
    uint32_t attributes;               /**< NEMO_RELAY_TOOL_* bits (start) */
    nemo_relay_scope_t *parent;        /**< explicit parent (start); NULL: the stack's top */
    const char *data; size_t data_len; /**< handle data (start) / replacement for a null result (end) */
    const char *metadata; size_t metadata_len; /**< start metadata, or end metadata merged into it */
    const char *tool_call_id;          /**< NUL-terminated provider tool-call id (start) */
    bool has_timestamp;
    int64_t timestamp_ns;
} nemo_relay_tool_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @param opts The struct to fill.
 * @param version NEMO_RELAY_TOOL_OPTIONS_VERSION.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_tool_options_init(nemo_relay_tool_options_t *opts, uint32_t version);

/**
 * @brief Starts a manual tool span (sanitized args, no intercepts).
 * @param out Receives the tool handle.
 * @param rt The runtime.
 * @param stack The stack, or NULL.
 * @param name Tool name.
 * @param args Arguments JSON.
 * @param args_len Length.
 * @param opts Options, or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE,
 *         NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned (nemo_relay_scope_free); inputs borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_tool_call(nemo_relay_scope_t **out, nemo_relay_runtime_t *rt,
                                                        nemo_relay_stack_t *stack, const char *name,
                                                        const char *args, size_t args_len,
                                                        const nemo_relay_tool_options_t *opts);

/**
 * @brief Ends a manual tool span; no status is added to the metadata.
 * @param rt The runtime.
 * @param stack The stack, or NULL.
 * @param tool The handle from nemo_relay_tool_call.
 * @param result `{"result": ..., "annotation": ...}` (annotation optional); NULL means a null result.
 * @param result_len Length.
 * @param opts Options (`data`, `metadata`, timestamp), or NULL.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE,
 *         NEMO_RELAY_E_VERSION.
 * Ownership: all borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_tool_call_end(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                            nemo_relay_scope_t *tool, const char *result,
                                                            size_t result_len, const nemo_relay_tool_options_t *opts);

/**
 * @brief Runs a managed tool call: guardrails, request intercepts, start event, execution
 *        intercepts around `tool`, end event.
 *
 * The tool callback receives the args and completes with `{"result": ..., "annotation": ...}`.
 * @param out_call Receives a call handle for cancellation, or NULL.
 * @param rt The runtime.
 * @param stack The stack, or NULL.
 * @param name Tool name.
 * @param args Arguments JSON.
 * @param args_len Length.
 * @param opts Options, or NULL.
 * @param tool The tool callback.
 * @param done Receives the outcome: OK with `{"result", "annotation"}`, or a failure.
 * @return As nemo_relay_llm_execute.
 * Ownership: as nemo_relay_llm_execute.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_tool_execute(nemo_relay_call_t **out_call, nemo_relay_runtime_t *rt,
                                                           nemo_relay_stack_t *stack, const char *name,
                                                           const char *args, size_t args_len,
                                                           const nemo_relay_tool_options_t *opts,
                                                           const nemo_relay_callback_t *tool,
                                                           const nemo_relay_done_t *done);

/* ------------------------------------------------------------------------------------------ */
/* Middleware                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/**
 * Middleware kinds, with the input document each callback receives and the result it completes with.
 * `request` is `{"headers": {...}, "content": ...}`; `context` is
 * `{"request_codec": {"kind", "id"}, "response_codec": {"kind", "id"}}`.
 */
enum {
    /** in `{"request"}`; out `null` (allow) or a string (reject with that reason). */
    NEMO_RELAY_LLM_CONDITIONAL_EXECUTION = 0,
    /** in `{"name", "request", "annotated_request"}`; out `{"request", "annotated_request"?, "pending_marks"?}`.
     *  Honours NEMO_RELAY_BREAK_CHAIN. */
    NEMO_RELAY_LLM_REQUEST_INTERCEPT = 1,
    /** in `{"name", "request", "context"}`; out the response. Call nemo_relay_token_next to run the inner layers. */
    NEMO_RELAY_LLM_EXECUTION_INTERCEPT = 2,
    /** Streaming calls only. in `{"name", "request", "context"}`. Its output is the producer of
     *  nemo_relay_token_producer: push chunks there and/or call nemo_relay_token_next with a request
     *  to run the inner layers, whose chunks then flow straight to this layer's output and whose end
     *  reaches `done` (OK with `null`, or the failure), or nemo_relay_token_next_stream to read
     *  (and transform) the inner chunks. Completing the token ends this layer's output. */
    NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT = 3,
    /** in `{"request", "context"}`; out the request to record, or `null` to drop it. */
    NEMO_RELAY_LLM_SANITIZE_REQUEST = 4,
    /** in `{"response", "context"}`; out the payload to record, or `null` to drop it. */
    NEMO_RELAY_LLM_SANITIZE_RESPONSE = 5,
    /** in `{"tool_name", "args"}`; out `null` or a rejection string. */
    NEMO_RELAY_TOOL_CONDITIONAL_EXECUTION = 6,
    /** in `{"tool_name", "args"}`; out the new args. Honours NEMO_RELAY_BREAK_CHAIN. */
    NEMO_RELAY_TOOL_REQUEST_INTERCEPT = 7,
    /** in `{"tool_name", "args", "tool_call_id"}`; out `{"result", "annotation"?, "pending_marks"?}`;
     *  nemo_relay_token_next takes args and yields `{"result", "annotation"}`. */
    NEMO_RELAY_TOOL_EXECUTION_INTERCEPT = 8,
    /** in `{"tool_name", "args"}`; out the payload to record. */
    NEMO_RELAY_TOOL_SANITIZE_REQUEST = 9,
    /** in `{"tool_name", "result"}`; out the payload to record. */
    NEMO_RELAY_TOOL_SANITIZE_RESPONSE = 10,
    /** in `{"event", "fields": {"data", "category_profile", "metadata"}}`; out the new fields. */
    NEMO_RELAY_MARK_SANITIZE = 11,
    /** as NEMO_RELAY_MARK_SANITIZE, for scope start events. */
    NEMO_RELAY_SCOPE_START_SANITIZE = 12,
    /** as NEMO_RELAY_MARK_SANITIZE, for scope end events. */
    NEMO_RELAY_SCOPE_END_SANITIZE = 13,
    /** in `{"event"}`; out a flat object of primitives (or homogeneous primitive lists) added to metadata. */
    NEMO_RELAY_METADATA_INJECTOR = 14
};

/** Registration flag: a request intercept that ends the chain after it runs. */
#define NEMO_RELAY_BREAK_CHAIN 1u

/**
 * @brief Registers a middleware callback, globally or owned by a scope.
 *
 * Entries run in ascending priority, ties by name in byte order, global before scope-local.
 * A scope-local entry applies to work started while its scope is on the current stack and
 * vanishes when the scope ends.
 * @param rt The runtime.
 * @param owner The owning scope, or NULL for a global entry.
 * @param kind A middleware kind constant.
 * @param name Registration name, unique per registry.
 * @param priority Lower runs first (outermost for execution intercepts).
 * @param flags NEMO_RELAY_BREAK_CHAIN or 0.
 * @param callback The callback.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_ALREADY_EXISTS ("<name> already exists"); NEMO_RELAY_E_NOT_FOUND
 *         (the owner scope ended); NEMO_RELAY_E_INVALID_ARGUMENT; NEMO_RELAY_E_MISUSE. On failure the
 *         callback's user_data_free runs at once.
 * Ownership: `callback` copied; the library owns `user_data` from now on.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_register(nemo_relay_runtime_t *rt, nemo_relay_scope_t *owner,
                                                       int32_t kind, const char *name, int32_t priority,
                                                       uint32_t flags, const nemo_relay_callback_t *callback);

/**
 * @brief Removes a middleware entry by name.
 * @param out_removed Receives whether an entry was removed (may be NULL).
 * @param rt The runtime.
 * @param owner The owning scope, or NULL for the global registry.
 * @param kind The middleware kind.
 * @param name The registration name.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_NOT_FOUND (the owner scope ended), NEMO_RELAY_E_INVALID_ARGUMENT,
 *         NEMO_RELAY_E_MISUSE.
 * Ownership: all borrowed. The entry's user_data_free runs once no in-flight call uses it.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_deregister(bool *out_removed, nemo_relay_runtime_t *rt,
                                                         nemo_relay_scope_t *owner, int32_t kind, const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Chain helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

/**
 * @brief Runs only the LLM conditional-execution guardrails (guardrail scope events are emitted;
 *        no rejection mark, no LLM events).
 * @param rt The runtime.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param request `{"headers", "content"}`.
 * @param request_len Its length.
 * @param done Receives NEMO_RELAY_OK with `null`, NEMO_RELAY_E_GUARDRAIL_REJECTED with
 *        `guardrail rejected: <reason>`, or a callback failure.
 * @return NEMO_RELAY_OK once started; otherwise `done` is not called (its user_data_free runs):
 *         NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_MISUSE.
 * Ownership: inputs borrowed; `done` copied.
 * @since 0.3
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_conditional_execution(nemo_relay_runtime_t *rt,
                                                                        nemo_relay_stack_t *stack, const char *request,
                                                                        size_t request_len,
                                                                        const nemo_relay_done_t *done);

/**
 * @brief Runs only the LLM request-intercept chain, without a codec and without emitting anything.
 * @param rt The runtime.
 * @param stack The stack, or NULL.
 * @param name The call name passed to the intercepts.
 * @param request `{"headers", "content"}`.
 * @param request_len Its length.
 * @param done Receives NEMO_RELAY_OK with `{"request", "annotated_request", "pending_marks"}`, or a failure.
 * @return As nemo_relay_llm_conditional_execution.
 * Ownership: inputs borrowed; `done` copied.
 * @since 0.3
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_llm_request_intercepts(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                                     const char *name, const char *request,
                                                                     size_t request_len, const nemo_relay_done_t *done);

/**
 * @brief Runs only the tool conditional-execution guardrails for tool `name`.
 * @param rt The runtime.
 * @param stack The stack, or NULL.
 * @param name The tool name.
 * @param args The arguments JSON.
 * @param args_len Its length.
 * @param done Receives NEMO_RELAY_OK with `null`, NEMO_RELAY_E_GUARDRAIL_REJECTED, or a failure.
 * @return As nemo_relay_llm_conditional_execution.
 * Ownership: inputs borrowed; `done` copied.
 * @since 0.3
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_tool_conditional_execution(nemo_relay_runtime_t *rt,
                                                                         nemo_relay_stack_t *stack, const char *name,
                                                                         const char *args, size_t args_len,
                                                                         const nemo_relay_done_t *done);

/**
 * @brief Runs only the tool request-intercept chain for tool `name`, emitting nothing.
 * @param rt The runtime.
 * @param stack The stack, or NULL.
 * @param name The tool name.
 * @param args The arguments JSON.
 * @param args_len Its length.
 * @param done Receives NEMO_RELAY_OK with the transformed args, or a failure.
 * @return As nemo_relay_llm_conditional_execution.
 * Ownership: inputs borrowed; `done` copied.
 * @since 0.3
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_tool_request_intercepts(nemo_relay_runtime_t *rt, nemo_relay_stack_t *stack,
                                                                      const char *name, const char *args,
                                                                      size_t args_len, const nemo_relay_done_t *done);

/* ------------------------------------------------------------------------------------------ */
/* Subscribers                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/**
 * @brief Receives one event as its canonical JSON line (keys sorted, no newline).
 *
 * Runs on the subscriber's own delivery thread, one event at a time, in queue order.
 * `json` is borrowed for the duration of the call and shared by every subscriber.
 */
typedef void (*nemo_relay_subscriber_fn)(const char *json, size_t len, void *user_data);

/**
 * @brief Registers a subscriber, globally or owned by a scope.
 *
 * Each subscriber has its own bounded queue and delivery thread: a slow or failing subscriber
 * delays neither the caller nor the others. When its queue is full, new events are dropped for
 * it and counted (nemo_relay_dropped_events).
 * @param rt The runtime.
 * @param owner The owning scope, or NULL for a global subscriber.
 * @param name Unique name.
 * @param fn The callback.
 * @param user_data Passed to `fn`.
 * @param user_data_free May be NULL; runs once after the last delivery to this subscriber.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_ALREADY_EXISTS ("<name> subscriber already exists"),
 *         NEMO_RELAY_E_NOT_FOUND, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INTERNAL (its delivery
 *         thread could not be started), NEMO_RELAY_E_MISUSE. On failure `user_data_free` runs at once.
 *         `user_data_free` runs on the delivery thread once it delivered its last event.
 * Ownership: the library owns `user_data` from now on.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_subscriber_register(nemo_relay_runtime_t *rt, nemo_relay_scope_t *owner,
                                                                  const char *name, nemo_relay_subscriber_fn fn,
                                                                  void *user_data, void (*user_data_free)(void *));

/**
 * @brief Receives a batch of events as JSON Lines: `count` canonical lines, each ended by `\n`.
 *
 * Runs on the subscriber's own delivery thread with the events it took from its queue in one go
 * (at most 64, in queue order). `jsonl` is borrowed for the duration of the call.
 */
typedef void (*nemo_relay_subscriber_batch_fn)(const char *jsonl, size_t len, size_t count, void *user_data);

/**
 * @brief Registers a subscriber that receives events in batches, globally or owned by a scope.
 *
 * Same queueing, ordering, overflow and flush rules as nemo_relay_subscriber_register; bindings whose
 * callbacks need a lock of their own (a language's interpreter lock) take it once per batch.
 * @param rt The runtime.
 * @param owner The owning scope, or NULL for a global subscriber.
 * @param name Unique name (shared with nemo_relay_subscriber_register's names).
 * @param fn The callback.
 * @param user_data Passed to `fn`.
 * @param user_data_free May be NULL; runs once after the last delivery to this subscriber.
 * @return As nemo_relay_subscriber_register.
 * Ownership: the library owns `user_data` from now on.
 * @since 0.5
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_subscriber_register_batch(nemo_relay_runtime_t *rt,
                                                                        nemo_relay_scope_t *owner, const char *name,
                                                                        nemo_relay_subscriber_batch_fn fn,
                                                                        void *user_data, void (*user_data_free)(void *));

/**
 * @brief Removes a subscriber; events already queued for it are still delivered.
 * @param out_removed Receives whether one was removed (may be NULL).
 * @param rt The runtime.
 * @param owner The owning scope, or NULL.
 * @param name The subscriber name.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_NOT_FOUND, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: all borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_subscriber_deregister(bool *out_removed, nemo_relay_runtime_t *rt,
                                                                    nemo_relay_scope_t *owner, const char *name);

/**
 * @brief Waits until every event published before the call was delivered.
 *
 * An event still inside a metadata injector or event sanitizer that answers later counts: the flush
 * waits for its answer (not when called from inside such a callback, which would wait for itself).
 * Safe from an atexit handler. Called from a subscriber it returns NEMO_RELAY_OK at once.
 * @param rt The runtime.
 * @param timeout_ns Maximum wait in nanoseconds; negative waits without limit.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_TIMEOUT, NEMO_RELAY_E_MISUSE.
 * Thread: blocks the calling thread.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_flush(nemo_relay_runtime_t *rt, int64_t timeout_ns);

/**
 * @brief The number of events dropped because a subscriber's queue was full.
 * @param out Receives the count.
 * @param rt The runtime.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: borrowed.
 * @since 0.1
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_dropped_events(uint64_t *out, nemo_relay_runtime_t *rt);

/* ------------------------------------------------------------------------------------------ */
/* Codecs                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/**
 * @brief Returns a built-in provider codec: "openai_chat", "openai_responses", "anthropic_messages",
 *        "gemini_generate_content", "oci_genai" (also accepted as "oci_genai_chat") or "bedrock_converse".
 * @param out Receives the codec.
 * @param id The codec id (NUL-terminated).
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_NOT_FOUND (unknown id), NEMO_RELAY_E_INVALID_ARGUMENT.
 * Ownership: `*out` returned owned (nemo_relay_codec_free); `id` borrowed.
 * @since 0.2
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_codec_builtin(nemo_relay_codec_t **out, const char *id);

/**
 * @brief Lists the built-in codecs and the other names each accepts, so that bindings keep no list
 *        of their own (docs/codecs.md, "Built-in codecs").
 * @param out Receives `[{"id": "openai_chat", "aliases": []}, ..., {"id": "oci_genai",
 *        "aliases": ["oci_genai_chat"]}, ...]`, in a fixed order; every `id` and alias is accepted by
 *        nemo_relay_codec_builtin.
 * @param out_len Receives its length.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (NULL out).
 * Ownership: `*out` returned owned (nemo_relay_free).
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_codec_builtin_list(char **out, size_t *out_len);

#define NEMO_RELAY_CODEC_CALLBACKS_VERSION 1

/**
 * The methods of a custom codec, each a callback of the one completion protocol:
 * - `decode`: in `{"headers", "content"}`; out the annotated request.
 * - `encode`: in `{"annotated": ..., "original": {"headers", "content"}}`; out `{"headers", "content"}`.
 * - `decode_response`: in the provider response; out the annotated response.
 * A method left with a NULL `fn` makes that operation fail with NEMO_RELAY_E_INVALID_ARGUMENT.
 * A failing decode or encode is reported as `internal error: Codec decode() failed: <type>: <message>`
 * (likewise encode()); a failing decode_response in a managed call only omits the annotation.
 */
typedef struct nemo_relay_codec_callbacks_t {
    uint32_t version;                      /**< NEMO_RELAY_CODEC_CALLBACKS_VERSION */
    nemo_relay_callback_t decode;
    nemo_relay_callback_t encode;
    nemo_relay_callback_t decode_response;
} nemo_relay_codec_callbacks_t;

/**
 * @brief Creates a custom codec from callbacks; usable wherever a built-in codec is.
 * @param out Receives the codec.
 * @param id A name for the codec (its identity kind is "opaque").
 * @param callbacks The three methods.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_VERSION. On failure every
 *         non-NULL user_data_free runs at once.
 * Ownership: `*out` returned owned (nemo_relay_codec_free); callbacks copied; the library owns their
 *            user data and frees it when the codec and every call using it are gone.
 * @since 0.2
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_codec_new(nemo_relay_codec_t **out, const char *id,
                                                        const nemo_relay_codec_callbacks_t *callbacks);

/**
 * @brief Releases a codec handle. NULL is ignored. Calls already using the codec keep it alive.
 * @param codec The codec.
 * Ownership: takes ownership of `codec`.
 * @since 0.2
 */
NEMO_RELAY_API void nemo_relay_codec_free(nemo_relay_codec_t *codec);

/**
 * @brief Decodes a request `{"headers", "content"}` into an annotated request, without a managed call.
 * @param out Receives the annotated request JSON.
 * @param out_len Receives its length.
 * @param codec The codec.
 * @param request The request JSON.
 * @param request_len Its length.
 * @return NEMO_RELAY_OK; the codec's error (NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INTERNAL);
 *         NEMO_RELAY_E_INVALID_JSON; NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * Thread: a custom codec method that answers later is waited for on the calling thread, at most 10 s
 *         (then NEMO_RELAY_E_TIMEOUT; a later answer is discarded).
 * @since 0.2
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_codec_decode(char **out, size_t *out_len, const nemo_relay_codec_t *codec,
                                                           const char *request, size_t request_len);

/**
 * @brief Writes an annotated request back onto `original`, keeping every field the annotation does not model.
 * @param out Receives the encoded request `{"headers", "content"}` (the original headers).
 * @param out_len Receives its length.
 * @param codec The codec.
 * @param annotated The annotated request JSON.
 * @param annotated_len Its length.
 * @param original The original request `{"headers", "content"}`.
 * @param original_len Its length.
 * @return As nemo_relay_codec_decode.
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * @since 0.2
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_codec_encode(char **out, size_t *out_len, const nemo_relay_codec_t *codec,
                                                           const char *annotated, size_t annotated_len,
                                                           const char *original, size_t original_len);

/**
 * @brief Decodes a provider response into an annotated response.
 * @param out Receives the annotated response JSON.
 * @param out_len Receives its length.
 * @param codec The codec.
 * @param response The provider response JSON.
 * @param response_len Its length.
 * @return As nemo_relay_codec_decode (decode failures are NEMO_RELAY_E_INTERNAL:
 *         `internal error: <Surface> response decode: ...`).
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * @since 0.2
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_codec_decode_response(char **out, size_t *out_len,
                                                                    const nemo_relay_codec_t *codec,
                                                                    const char *response, size_t response_len);

/**
 * @brief Summarizes one streaming chunk as the `data` of an `llm.chunk` mark (provider, event type,
 *        indices, finish reasons, normalized usage).
 * @param out Receives the summary JSON.
 * @param out_len Receives its length.
 * @param chunk The chunk JSON.
 * @param chunk_len Its length.
 * @param chunk_index The 0-based index written as `chunk_index`.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_INVALID_ARGUMENT.
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * @since 0.2
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_chunk_summary(char **out, size_t *out_len, const char *chunk,
                                                            size_t chunk_len, uint64_t chunk_index);

/**
 * @brief Answers the questions frameworks ask of an annotated request: its system prompt, its last
 *        user message and whether it holds tool calls (docs/annotated-request.md, "Queries").
 *
 * The system prompt is the text of `instructions` when they have one, else of the first `system` or
 * `developer` message with text; the last user message is the last `user` message with text (turns
 * holding only tool results or images are skipped); a text is a string content or the first `text`
 * part of a part list. Tool calls are `tool_call` messages, non-empty `tool_calls` of an assistant
 * message, or `tool_use` blocks in an assistant message's content.
 * @param out Receives `{"system_prompt": string|null, "last_user_message": string|null,
 *        "has_tool_calls": bool}`.
 * @param out_len Receives its length.
 * @param annotated The annotated request JSON (an object).
 * @param annotated_len Its length.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_INVALID_ARGUMENT (not an object).
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * @since 0.8
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_annotated_request_queries(char **out, size_t *out_len,
                                                                       const char *annotated,
                                                                       size_t annotated_len);

/** nemo_relay_annotated_request_check: check with the constructor's wording, not a setter's. */
#define NEMO_RELAY_ANNOTATED_CHECK_CONSTRUCT 1u

/**
 * @brief Checks fields a binding sets on an annotated request, with the reference's rules and
 *        messages (docs/annotated-request.md, "Checking fields"), and normalizes them.
 *
 * `fields` maps field names (`model`, `messages`, `params`, `instructions`, `tools`, `tool_choice`,
 * `api_specific`, `extra`, `store`, `stream`, `parallel_tool_calls`, `user`, `previous_response_id`,
 * `service_tier`, `metadata`, `include`, `reasoning`, `truncation`, `max_output_tokens`,
 * `max_tool_calls`, `top_logprobs`) to values; they are checked in the object's order and the first
 * refusal is answered. A null value unsets the field (except `extra` in setter mode). Normalizing:
 * `params` keeps only non-null `temperature`/`top_p` (as doubles), `max_tokens` and `stop` (a string
 * becomes a one-entry array); a boolean in an unsigned field counts as 0 or 1.
 * @param out Receives `{"fields": {name: normalized value, ...}}` when every field is accepted, else
 *        `{"error": {"kind": "type_error" | "value_error" | "overflow_error", "message": M}}` (the
 *        reference raises TypeError, ValueError or OverflowError with message M).
 * @param out_len Receives its length.
 * @param fields The fields JSON (an object).
 * @param fields_len Its length.
 * @param flags 0 (a setter) or NEMO_RELAY_ANNOTATED_CHECK_CONSTRUCT (the constructor).
 * @return NEMO_RELAY_OK (the answer says whether the fields were accepted), NEMO_RELAY_E_INVALID_JSON,
 *         NEMO_RELAY_E_INVALID_ARGUMENT (not an object, unknown flags, NULL out).
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * @since 0.9
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_annotated_request_check(char **out, size_t *out_len,
                                                                     const char *fields, size_t fields_len,
                                                                     uint32_t flags);

/* ------------------------------------------------------------------------------------------ */
/* Exporters                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/**
 * An exporter: a subscriber whose events leave the process in a standard form (an ATOF JSON Lines
 * file or HTTP stream, an ATIF trajectory). Register it on a runtime under a subscriber name; each
 * registration has its own bounded queue and delivery thread, so the emitting thread only enqueues.
 * Sink failures (write, network, serialisation) never fail the emitting call: they surface from
 * nemo_relay_exporter_flush, nemo_relay_exporter_shutdown and nemo_relay_exporter_diagnostics.
 * See docs/exporters.md for the configuration keys and every counter.
 */
typedef struct nemo_relay_exporter_t nemo_relay_exporter_t;

#define NEMO_RELAY_EXPORTER_OPTIONS_VERSION 1

/** Options for nemo_relay_atof_exporter_new and nemo_relay_atif_exporter_new. */
typedef struct nemo_relay_exporter_options_t {
    uint32_t version; /**< NEMO_RELAY_EXPORTER_OPTIONS_VERSION */
    /**
     * The configuration as a JSON object with the reference's key names (NULL: defaults), e.g.
     * ATOF `{"sink_type":"file","output_directory":"out","mode":"overwrite"}` or
     * `{"sink_type":"stream","url":"http://127.0.0.1:4319/events","transport":"ndjson"}`;
     * ATIF `{"session_id":"s","agent_name":"a","agent_version":"1"}`. Unknown keys are rejected.
     */
    const char *config_json;
    size_t config_len;
} nemo_relay_exporter_options_t;

/**
 * @brief Fills `opts` with defaults for `version`.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (NULL), NEMO_RELAY_E_VERSION.
 * Ownership: `opts` borrowed.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_options_init(nemo_relay_exporter_options_t *opts,
                                                                    uint32_t version);

/**
 * @brief Creates an ATOF JSON Lines exporter: every delivered event is written as its canonical JSON
 *        line (the bytes a subscriber receives) plus `\n`, to a file or to an HTTP endpoint.
 *
 * A file sink creates its directory and opens (creates, appends to or truncates) its file now, so a
 * bad path fails here; it writes each delivered batch with one write(2), so a killed process leaves
 * only whole lines. A stream sink POSTs each delivered batch (`http_post`) or streams every line over
 * one chunked request (`ndjson`), retrying 429, 5xx and connection failures with backoff.
 * @param out Receives the exporter.
 * @param opts Options; NULL means a file sink in the current directory with the default file name.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (bad key or value), NEMO_RELAY_E_INTERNAL (the
 *         file cannot be created or opened, or its path is refused: "failed to open ATOF output file
 *         "<path>": <reason>"), NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned (nemo_relay_exporter_free); `opts` borrowed.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_atof_exporter_new(nemo_relay_exporter_t **out,
                                                                const nemo_relay_exporter_options_t *opts);

/**
 * @brief Creates an ATIF v1.7 exporter: it collects delivered events and builds a trajectory from
 *        them on demand (nemo_relay_atif_exporter_export).
 * @param out Receives the exporter.
 * @param opts Options; `session_id`, `agent_name` and `agent_version` are required, `model_name`,
 *        `tool_definitions`, `extra`, `max_events` (default 1000000) optional.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned (nemo_relay_exporter_free); `opts` borrowed.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_atif_exporter_new(nemo_relay_exporter_t **out,
                                                                const nemo_relay_exporter_options_t *opts);

/**
 * @brief Creates an OpenTelemetry trace exporter: events become spans of one projection (`full`,
 *        `gen_ai` or `openinference`) on the registration's delivery thread, and one export thread sends
 *        finished spans in batches over OTLP/HTTP (protobuf, or JSON with `"transport":"http_json"`) or
 *        appends them to an OTLP file (`output_directory` instead of `endpoint`).
 *
 * Configuration keys (the reference's `OpenTelemetryConfig` / `OpenTelemetryFileSinkConfig` names):
 * `type`, `endpoint`, `transport`, `service_name`, `service_namespace`, `service_version`,
 * `instrumentation_scope`, `timeout_millis`, `headers`, `header_env`, `resource_attributes`,
 * `mark_projection`, `mark_exclude_names`, `attribute_mappings`, `promote_metadata_prefixes`,
 * `completed_span_context_ttl_millis`, `max_queue_size`, `max_export_batch_size`,
 * `scheduled_delay_millis`, `max_attempts`; for files `output_directory`, `filename`, `format`
 * (`json_lines` or `proto`), `mode`. See docs/otel.md. 429, 502, 503, 504 and connection failures are
 * retried with backoff; a batch that still fails is dropped and reported by the next flush.
 * @param out Receives the exporter.
 * @param opts Options; the configuration is required.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (bad key or value, https endpoint, process-wide
 *         OTEL_EXPORTER_OTLP_HEADERS set), NEMO_RELAY_E_INTERNAL (the file cannot be opened),
 *         NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_VERSION.
 * Ownership: `*out` returned owned (nemo_relay_exporter_free); `opts` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_otel_exporter_new(nemo_relay_exporter_t **out,
                                                                const nemo_relay_exporter_options_t *opts);

/**
 * @brief Registers the exporter as a global subscriber of `rt` named `name`.
 * After nemo_relay_exporter_shutdown the exporter may be registered again (as in the reference); its
 * sink is closed, so delivered events are dropped and counted (`events_after_shutdown`).
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_ALREADY_EXISTS ("<name> subscriber already exists"),
 *         NEMO_RELAY_E_INVALID_ARGUMENT (NULL name), NEMO_RELAY_E_INTERNAL (the delivery thread could
 *         not be started), NEMO_RELAY_E_MISUSE.
 * Ownership: all borrowed; the runtime keeps what the registration needs alive.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_register(nemo_relay_exporter_t *exporter,
                                                                nemo_relay_runtime_t *rt, const char *name);

/**
 * @brief Removes the global subscriber `name` from `rt`; events it had queued are still exported.
 * @param out_removed Receives whether a subscriber was removed (may be NULL).
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: all borrowed.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_deregister(bool *out_removed, nemo_relay_exporter_t *exporter,
                                                                  nemo_relay_runtime_t *rt, const char *name);

/**
 * @brief Waits until every event queued for the exporter before the call was exported, then
 *        flushes its sink. Called from a subscriber it skips the wait.
 * @param timeout_ns Maximum wait in nanoseconds; negative waits without limit.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_TIMEOUT, NEMO_RELAY_E_INTERNAL (the first sink failure not yet
 *         reported, e.g. "internal error: failed to write ATOF output file ..."), NEMO_RELAY_E_MISUSE.
 * Thread: blocks the calling thread.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_flush(nemo_relay_exporter_t *exporter, int64_t timeout_ns);

/**
 * @brief Flushes (bounded by `timeout_ns`), removes every registration and closes the sink. Events
 *        still queued when the deadline passes are dropped and counted. A second call does nothing
 *        and returns the first call's sink failure again, if any.
 * @param timeout_ns Maximum wait in nanoseconds; negative waits without limit.
 * @return As nemo_relay_exporter_flush.
 * Thread: blocks the calling thread.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_shutdown(nemo_relay_exporter_t *exporter, int64_t timeout_ns);

/**
 * @brief The exporter's counters as a JSON object: `kind`, `registrations`, `queue_dropped`,
 *        `shut_down`, and the sink's own (`path`, `events_written`, `events_failed`, `retries`,
 *        `last_error`, ...; see docs/exporters.md).
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT, NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_free).
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_diagnostics(char **out, size_t *out_len,
                                                                   nemo_relay_exporter_t *exporter);

/**
 * @brief The JSONL path of an ATOF file sink.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_NOT_FOUND (not a file sink), NEMO_RELAY_E_INVALID_ARGUMENT,
 *         NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_free).
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_exporter_path(char **out, size_t *out_len,
                                                            nemo_relay_exporter_t *exporter);

/**
 * @brief Waits for queued deliveries (bounded by `timeout_ns`), then builds the ATIF v1.7 trajectory
 *        of every event collected so far, as the reference's `export_json()` text. Does not clear.
 * @param timeout_ns Maximum wait for queued deliveries; negative waits without limit.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_TIMEOUT, NEMO_RELAY_E_INVALID_ARGUMENT (not an ATIF exporter),
 *         NEMO_RELAY_E_MISUSE.
 * Ownership: `*out` returned owned (nemo_relay_free).
 * Thread: blocks the calling thread.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_atif_exporter_export(char **out, size_t *out_len,
                                                                   nemo_relay_exporter_t *exporter,
                                                                   int64_t timeout_ns);

/**
 * @brief Drops the events an ATIF exporter collected; registrations stay.
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_ARGUMENT (not an ATIF exporter), NEMO_RELAY_E_MISUSE.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_atif_exporter_clear(nemo_relay_exporter_t *exporter);

/**
 * @brief Builds an ATIF v1.7 trajectory from a JSON array of ATOF events (in emission order), as
 *        an ATIF exporter with the configuration `config_json` would: a pure function.
 * @param events_json A JSON array of event objects.
 * @param config_json The ATIF configuration object (as for nemo_relay_atif_exporter_new).
 * @return NEMO_RELAY_OK, NEMO_RELAY_E_INVALID_JSON, NEMO_RELAY_E_INVALID_ARGUMENT.
 * Ownership: `*out` returned owned (nemo_relay_free); inputs borrowed.
 * @since 0.6
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_atif_trajectory(char **out, size_t *out_len, const char *events_json,
                                                              size_t events_len, const char *config_json,
                                                              size_t config_len);

/**
 * @brief Releases the handle without waiting: the exporter's registrations are removed, events they
 *        had queued are still exported in the background, then the sink closes. Call
 *        nemo_relay_exporter_shutdown first to wait and to learn about failures.
 * @param exporter The exporter; NULL is ignored.
 * @since 0.6
 */
NEMO_RELAY_API void nemo_relay_exporter_free(nemo_relay_exporter_t *exporter);

/* ------------------------------------------------------------------------------------------ */
/* Propagation across processes                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * A propagation context is the causal context that crosses a Relay boundary (another process, a
 * queue), as JSON: `{"version":1,"root_uuid":"<uuid>","parent_uuid":"<uuid>","traceparent":"00-...",
 * "tracestate":"..."}`, where `version` (always 1) and `parent_uuid` are required and the other three
 * are omitted when absent. The application carries it; a stack created from it continues the
 * sender's Relay parentage (its first scope's `parent_uuid` is `parent_uuid`, its events carry
 * `root_uuid` as `propagation_root_uuid`) and, for OpenTelemetry, the sender's trace: the imported
 * `traceparent`, else `root_uuid` (a rootless context starts a new trace).
 *
 * Contexts this library returns are canonical: keys in the order above, lowercase hyphenated uuids,
 * a valid `traceparent` rewritten to version `00`, a valid `tracestate` with spaces around members
 * removed. Invalid W3C values are dropped silently; an unsupported version or an all-zero uuid (or one
 * whose last 8 bytes are zero) is refused.
 *
 * Parent of a capture: the `parent` handle when given, else the managed LLM or tool call whose
 * provider, tool function or execution intercept is running on the calling thread for `stack`
 * (see nemo_relay_token_scope for callbacks that answer later), else the top of `stack`.
 */

/** Capture modes of nemo_relay_propagation_capture. */
enum {
    /** The stack's root: the imported root, else the outermost Agent scope, else the stack root
        (none in a stack imported without a root); `traceparent` set when one can be derived. */
    NEMO_RELAY_PROPAGATION_ROOTED = 0,
    /** No root: the receiver starts a new trace (unless the stack imported a W3C parent). */
    NEMO_RELAY_PROPAGATION_ROOTLESS = 1,
    /** `root_uuid` as the root (NULL: none), as an application-chosen session root. */
    NEMO_RELAY_PROPAGATION_WITH_ROOT = 2
};

/**
 * @brief Captures the current parent (and root) of `stack` as a propagation context.
 * @param out Receives the canonical context JSON.
 * @param out_len Receives its length.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param parent A scope, LLM or tool handle to name as the parent, or NULL (see above).
 * @param mode NEMO_RELAY_PROPAGATION_ROOTED, _ROOTLESS or _WITH_ROOT.
 * @param root_uuid With _WITH_ROOT: the root (any form the reference accepts: hyphenated, 32 hex
 *        digits, `{...}`, `urn:uuid:...`) or NULL; must be NULL in the other modes.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_ARGUMENT for a bad mode, a malformed root (`invalid
 *         character: ...`, `invalid length: ...`, `invalid group ...`) or an all-zero root
 *         (`invalid argument: propagation context root_uuid is not a usable Relay identifier`);
 *         NEMO_RELAY_E_MISUSE for a bad handle.
 * Ownership: `*out` returned owned (nemo_relay_free); `stack`, `parent`, `root_uuid` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_propagation_capture(char **out, size_t *out_len,
                                                                  nemo_relay_stack_t *stack,
                                                                  nemo_relay_scope_t *parent, int32_t mode,
                                                                  const char *root_uuid);

/**
 * @brief Captures the W3C `traceparent` of the current parent of `stack`:
 *        `00-<root, 32 hex>-<last 16 hex of the parent>-01`, the root being the imported root, else
 *        the outermost open scope, else the managed call (or `parent`) itself; inside a stack that
 *        imported a W3C parent, that trace with the parent's span id.
 * @param out Receives the header value (55 characters, not NUL-counted in `out_len`).
 * @param out_len Receives its length.
 * @param stack The stack, or NULL for the calling thread's default.
 * @param parent A scope, LLM or tool handle to name as the parent, or NULL (see above).
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_ARGUMENT when only the stack root exists (`invalid
 *         argument: no emitted Relay scope is available for W3C trace context capture`);
 *         NEMO_RELAY_E_MISUSE for a bad handle.
 * Ownership: `*out` returned owned (nemo_relay_free); `stack` and `parent` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_traceparent_capture(char **out, size_t *out_len,
                                                                  nemo_relay_stack_t *stack,
                                                                  nemo_relay_scope_t *parent);

/**
 * @brief Returns the handle of the managed LLM or tool call a callback token belongs to (a provider,
 *        tool function or execution intercept), so a callback that answers later can still name
 *        its call as the parent of a capture.
 * @param out Receives the LLM or tool handle.
 * @param token A token the callback received and has not completed yet.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_NOT_FOUND when the token does not belong to a managed call
 *         (a guardrail, a request intercept, a codec); NEMO_RELAY_E_MISUSE for a completed or bad
 *         token.
 * Ownership: `*out` returned owned (nemo_relay_scope_free); `token` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_token_scope(nemo_relay_scope_t **out, nemo_relay_token_t *token);

/**
 * @brief Creates a stack that continues a received propagation context: its entries stand for the
 *        imported root and parent (they emit nothing and cannot be ended), the next scope pushed
 *        on it has the imported parent as its parent, and the import is remembered for the
 *        OpenTelemetry exporter. Scope-local registrations never cross the boundary.
 * @param out Receives the stack.
 * @param context_json The context JSON (as nemo_relay_propagation_parse reads it).
 * @param len Length of `context_json` in bytes.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_JSON for malformed JSON or a field of the wrong type
 *         (`invalid argument: invalid propagation context JSON: <detail> at line L column C`);
 *         NEMO_RELAY_E_INVALID_ARGUMENT for an unsupported version or an unusable uuid, or NULL.
 *         Nothing is created on failure.
 * Ownership: `*out` returned owned (nemo_relay_stack_free); `context_json` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_stack_from_propagation(nemo_relay_stack_t **out,
                                                                     const char *context_json, size_t len);

/**
 * @brief Reads a propagation context from its wire JSON (a `from_json`) and returns it canonical.
 *
 * Unknown keys are skipped, a repeated key is refused; an array of the values in key order is read
 * too. Messages and positions are the reference's (`invalid argument: invalid propagation context
 * JSON: missing field `version` at line 1 column 54`).
 * @param out Receives the canonical JSON.
 * @param out_len Receives its length.
 * @param json The wire JSON (UTF-8).
 * @param len Length of `json` in bytes.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_JSON; NEMO_RELAY_E_INVALID_ARGUMENT (`invalid argument:
 *         unsupported propagation context version 2; expected 1`, `invalid argument: propagation
 *         context parent_uuid is not a usable Relay identifier`, NULL).
 * Ownership: `*out` returned owned (nemo_relay_free); `json` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_propagation_parse(char **out, size_t *out_len, const char *json,
                                                                size_t len);

/**
 * @brief Builds a propagation context from constructor arguments (a binding's `PropagationContext(...)`)
 *        and returns it canonical.
 * @param out Receives the canonical JSON.
 * @param out_len Receives its length.
 * @param fields_json An object: `parent_uuid` (string, required), `root_uuid` (string or null),
 *        `version` (integer, default 1), `traceparent`, `tracestate` (strings or null). Uuids are
 *        read in any form the reference accepts and are checked parent first.
 * @param len Length of `fields_json` in bytes.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_ARGUMENT for a malformed uuid (the bare uuid message,
 *         e.g. ``invalid character: expected an optional prefix of `urn:uuid:` followed by
 *         [0-9a-fA-F-], found `n` at 1``), an unsupported version, an unusable uuid or a field of
 *         the wrong type; NEMO_RELAY_E_INVALID_JSON when `fields_json` is not a JSON object.
 * Ownership: `*out` returned owned (nemo_relay_free); `fields_json` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_propagation_normalize(char **out, size_t *out_len,
                                                                    const char *fields_json, size_t len);

/**
 * @brief The W3C `traceparent` a propagation context stands for: the one it carries, else
 *        `00-<root>-<last 16 hex of the parent>-01`.
 * @param out Receives the header value.
 * @param out_len Receives its length.
 * @param json The context JSON (as nemo_relay_propagation_parse reads it).
 * @param len Length of `json` in bytes.
 * @return NEMO_RELAY_OK; NEMO_RELAY_E_INVALID_ARGUMENT for a rootless context without one (`invalid
 *         argument: rootless propagation context cannot be converted to traceparent`) and the errors
 *         of nemo_relay_propagation_parse.
 * Ownership: `*out` returned owned (nemo_relay_free); `json` borrowed.
 * @since 0.7
 */
NEMO_RELAY_API nemo_relay_status_t nemo_relay_propagation_to_traceparent(char **out, size_t *out_len,
                                                                         const char *json, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* NEMO_RELAY_H */
