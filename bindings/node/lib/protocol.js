// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Every message kind of the helper protocol, declared once. The helper mirrors these names in a
 * single Swift enum (`Sources/NemoRelayHelper/Protocol.swift`, `Op` and `Kind`).
 *
 * Requests are JSON Lines `{id, op, args}`, answers `{id, ok, inv?}` or `{id, error}` (a protocol
 * failure: the library's own failures are statuses inside `ok`).
 * @module
 */

/** Bumped when a message kind or argument kind changes meaning; checked against the helper's hello. */
const PROTOCOL_VERSION = 4;

/** Message kinds (`op`). */
const Op = Object.freeze({
  /** helper -> Node, first line of the sync channel: `{protocol, version, pid}` or `{error}`. */
  HELLO: 'hello',
  /** Node -> helper: describe an export once: `{fn, ret, params, err?, free?}`. */
  DECLARE: 'declare',
  /** Node -> helper: call a declared export: `{fn, args}` -> `{ret, out?, err?}`. */
  CALL: 'call',
  /** Node -> helper: create a libffi closure: `{ret, value, params, wait?, cancel?, probe?}` -> `{closure, fn}`.
   * `probe` names a `uint64_t (void)` export the helper calls first at each invocation, on the calling
   * thread, and appends to the invoke's args (`nemo_relay_last_error_id` for done callbacks). */
  CLOSURE: 'closure',
  /** Node -> helper: free a closure: `{closure}` -> boolean. */
  RELEASE: 'release',
  /** Node -> helper: several calls in one message, in order: `[{fn, args}]` -> `[{ok} | {error}]`.
   * An argument `{$out: [i, j]}` stands for out value `j` of call `i` of the same batch. */
  BATCH: 'batch',
  /**
   * helper -> Node: C called a closure: `{closure, args}`; answered by later `call`s, not by a response.
   * Invokes C raises on the sync thread while it serves a request travel in that request's answer
   * instead, as `inv: [[closure, args], ...]`.
   */
  INVOKE: 'invoke',
  /**
   * Node -> helper, sync channel only: the answer to a waiting closure (stream collector, finalizer).
   * The helper writes that closure's `{op: 'invoke', args: {closure, args}}` where Node expects an
   * answer; Node runs the callback synchronously (its own requests meanwhile are served as usual) and
   * writes `{op: 'reply', args: {status, json, failure?}}`, which is not answered; `failure`
   * (`[id, user_data, user_data_free]`) makes the helper fail the token with nemo_relay_complete_failure.
   */
  REPLY: 'reply',
  /**
   * helper -> Node: a callback's pending token was cancelled (its call was cancelled, its stream
   * closed, or the execution intercept around it settled without it): `{token}`. Sent for closures
   * made with `cancel: true`, always after that callback's invoke; not answered. Raised on the sync
   * thread, it travels like an invoke, in the answer: the `inv` item `[0, [token]]`.
   */
  CANCEL: 'cancel',
});

/** Argument kinds of declarations and closures (a nested array is a pointer to a struct of those fields). */
const Kind = Object.freeze({
  I32: 'i32', U32: 'u32', I64: 'i64', U64: 'u64', BOOL: 'bool', USIZE: 'usize', PTR: 'ptr',
  /** `const char *`, NUL-terminated. */
  STR: 'str',
  /** `const char *json, size_t len`: two C arguments carried as one string. */
  JSON: 'json',
  /** As JSON for closure parameters known to hold JSON: embedded in the invoke line unquoted. */
  RAWJSON: 'rawjson',
  VOID: 'void',
  /** A borrowed, NUL-terminated return. */
  CSTR: 'cstr',
  /** Out parameters take null (or 0 to pass NULL: the caller does not want the value). */
  OUT_PTR: 'out_ptr',
  /** `char **out, size_t *out_len`, freed by the helper with the declaration's `free` export. */
  OUT_STR: 'out_str',
  OUT_BOOL: 'out_bool',
  OUT_U64: 'out_u64',
});

/** How many C arguments a declared kind occupies. */
function cArity(kind) {
  return kind === Kind.JSON || kind === Kind.RAWJSON || kind === Kind.OUT_STR ? 2 : 1;
}

module.exports = { PROTOCOL_VERSION, Op, Kind, cArity };
