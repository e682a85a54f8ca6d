// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * The one table of C signatures (`name`, return kind, parameter kinds) for every export of
 * include/nemo_relay.h, sent to the helper as `declare` the first time an export is used. The helper
 * itself knows no export: a header that grows needs a row here, not a new helper.
 * A test parses the header and fails if a name or a C argument count differs.
 * @module
 */
const { helper } = require('./helper');
const { Op } = require('./protocol');
const { NemoRelayError } = require('./errors');

/** Options structs, field by field (see the typedefs in nemo_relay.h). */
const Struct = Object.freeze({
  RUNTIME_OPTIONS: ['u32', 'u32'],
  SCOPE_OPTIONS: ['u32', 'u32', 'ptr', 'json', 'json', 'json', 'bool', 'i64'],
  MARK_OPTIONS: ['u32', 'i32', 'ptr', 'json', 'json', 'json', 'bool', 'i64'],
  LLM_OPTIONS: ['u32', 'u32', 'ptr', 'json', 'json', 'str', 'json', 'ptr', 'ptr', 'bool', 'i64'],
  LLM_END_OPTIONS: ['u32', 'json', 'json', 'json', 'ptr', 'bool', 'i64'],
  TOOL_OPTIONS: ['u32', 'u32', 'ptr', 'json', 'json', 'str', 'bool', 'i64'],
  /** nemo_relay_callback_t and nemo_relay_done_t: fn, user_data, user_data_free. */
  CALLBACK: ['ptr', 'ptr', 'ptr'],
  /** nemo_relay_codec_callbacks_t: version, then three nemo_relay_callback_t (flattened; same layout). */
  CODEC_CALLBACKS: ['u32', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr'],
  /** nemo_relay_stream_options_t: version, buffer_capacity, then collector, finalizer, on_chunk, on_end (flattened). */
  STREAM_OPTIONS: ['u32', 'u32', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr'],
  /** nemo_relay_exporter_options_t: version, config JSON. */
  EXPORTER_OPTIONS: ['u32', 'json'],
});

const S = Struct;
/** @type {Array<[string, string, Array<string | string[]>]>} */
const EXPORTS = [
  ['nemo_relay_version', 'cstr', []],
  ['nemo_relay_version_number', 'i32', []],
  ['nemo_relay_status_str', 'cstr', ['i32']],
  ['nemo_relay_last_error_message', 'cstr', []],
  ['nemo_relay_free', 'void', ['ptr']],
  ['nemo_relay_complete', 'i32', ['ptr', 'i32', 'json']],
  ['nemo_relay_token_next', 'i32', ['ptr', 'json', S.CALLBACK]],
  ['nemo_relay_runtime_options_init', 'i32', [S.RUNTIME_OPTIONS, 'u32']],
  ['nemo_relay_runtime_new', 'i32', ['out_ptr', S.RUNTIME_OPTIONS]],
  ['nemo_relay_runtime_free', 'void', ['ptr']],
  ['nemo_relay_stack_new', 'i32', ['out_ptr', 'ptr']],
  ['nemo_relay_stack_thread_default', 'i32', ['out_ptr']],
  ['nemo_relay_stack_set_thread_default', 'i32', ['ptr']],
  ['nemo_relay_stack_free', 'void', ['ptr']],
  ['nemo_relay_scope_options_init', 'i32', [S.SCOPE_OPTIONS, 'u32']],
  ['nemo_relay_scope_begin', 'i32', ['out_ptr', 'ptr', 'ptr', 'str', 'i32', S.SCOPE_OPTIONS]],
  ['nemo_relay_scope_end', 'i32', ['ptr', 'ptr', 'ptr', S.SCOPE_OPTIONS]],
  ['nemo_relay_scope_current', 'i32', ['out_ptr', 'ptr']],
  ['nemo_relay_scope_info', 'i32', ['out_str', 'ptr']],
  ['nemo_relay_scope_free', 'void', ['ptr']],
  ['nemo_relay_mark_options_init', 'i32', [S.MARK_OPTIONS, 'u32']],
  ['nemo_relay_mark', 'i32', ['ptr', 'ptr', 'str', S.MARK_OPTIONS]],
  ['nemo_relay_llm_options_init', 'i32', [S.LLM_OPTIONS, 'u32']],
  ['nemo_relay_llm_call', 'i32', ['out_ptr', 'ptr', 'ptr', 'str', 'json', S.LLM_OPTIONS]],
  ['nemo_relay_llm_end_options_init', 'i32', [S.LLM_END_OPTIONS, 'u32']],
  ['nemo_relay_llm_call_end', 'i32', ['ptr', 'ptr', 'ptr', 'json', S.LLM_END_OPTIONS]],
  ['nemo_relay_llm_execute', 'i32', ['out_ptr', 'ptr', 'ptr', 'str', 'json', S.LLM_OPTIONS, S.CALLBACK, S.CALLBACK]],
  ['nemo_relay_call_cancel', 'i32', ['ptr']],
  ['nemo_relay_call_free', 'void', ['ptr']],
  ['nemo_relay_tool_options_init', 'i32', [S.TOOL_OPTIONS, 'u32']],
  ['nemo_relay_tool_call', 'i32', ['out_ptr', 'ptr', 'ptr', 'str', 'json', S.TOOL_OPTIONS]],
  ['nemo_relay_tool_call_end', 'i32', ['ptr', 'ptr', 'ptr', 'json', S.TOOL_OPTIONS]],
  ['nemo_relay_tool_execute', 'i32', ['out_ptr', 'ptr', 'ptr', 'str', 'json', S.TOOL_OPTIONS, S.CALLBACK, S.CALLBACK]],
  ['nemo_relay_register', 'i32', ['ptr', 'ptr', 'i32', 'str', 'i32', 'u32', S.CALLBACK]],
  ['nemo_relay_deregister', 'i32', ['out_bool', 'ptr', 'ptr', 'i32', 'str']],
  ['nemo_relay_subscriber_register', 'i32', ['ptr', 'ptr', 'str', 'ptr', 'ptr', 'ptr']],
  ['nemo_relay_subscriber_register_batch', 'i32', ['ptr', 'ptr', 'str', 'ptr', 'ptr', 'ptr']],
  ['nemo_relay_subscriber_deregister', 'i32', ['out_bool', 'ptr', 'ptr', 'str']],
  ['nemo_relay_flush', 'i32', ['ptr', 'i64']],
  ['nemo_relay_dropped_events', 'i32', ['out_u64', 'ptr']],
  ['nemo_relay_codec_builtin', 'i32', ['out_ptr', 'str']],
  ['nemo_relay_codec_new', 'i32', ['out_ptr', 'str', S.CODEC_CALLBACKS]],
  ['nemo_relay_codec_free', 'void', ['ptr']],
  ['nemo_relay_codec_decode', 'i32', ['out_str', 'ptr', 'json']],
  ['nemo_relay_codec_encode', 'i32', ['out_str', 'ptr', 'json', 'json']],
  ['nemo_relay_codec_decode_response', 'i32', ['out_str', 'ptr', 'json']],
  ['nemo_relay_chunk_summary', 'i32', ['out_str', 'json', 'u64']],
  ['nemo_relay_llm_conditional_execution', 'i32', ['ptr', 'ptr', 'json', S.CALLBACK]],
  ['nemo_relay_llm_request_intercepts', 'i32', ['ptr', 'ptr', 'str', 'json', S.CALLBACK]],
  ['nemo_relay_tool_conditional_execution', 'i32', ['ptr', 'ptr', 'str', 'json', S.CALLBACK]],
  ['nemo_relay_tool_request_intercepts', 'i32', ['ptr', 'ptr', 'str', 'json', S.CALLBACK]],
  ['nemo_relay_runtime_set_log_callback', 'i32', ['ptr', 'ptr', 'ptr', 'ptr']],
  ['nemo_relay_stream_options_init', 'i32', [S.STREAM_OPTIONS, 'u32']],
  ['nemo_relay_llm_stream_execute', 'i32', ['out_ptr', 'ptr', 'ptr', 'str', 'json', S.LLM_OPTIONS, S.STREAM_OPTIONS, S.CALLBACK]],
  ['nemo_relay_token_producer', 'i32', ['out_ptr', 'ptr']],
  ['nemo_relay_stream_push', 'i32', ['ptr', 'json']],
  ['nemo_relay_producer_on_cancel', 'i32', ['ptr', S.CALLBACK]],
  ['nemo_relay_producer_free', 'void', ['ptr']],
  ['nemo_relay_stream_next', 'i32', ['out_str', 'ptr', 'i64']],
  ['nemo_relay_stream_close', 'i32', ['ptr']],
  ['nemo_relay_stream_free', 'void', ['ptr']],
  ['nemo_relay_exporter_options_init', 'i32', [S.EXPORTER_OPTIONS, 'u32']],
  ['nemo_relay_atof_exporter_new', 'i32', ['out_ptr', S.EXPORTER_OPTIONS]],
  ['nemo_relay_atif_exporter_new', 'i32', ['out_ptr', S.EXPORTER_OPTIONS]],
  ['nemo_relay_otel_exporter_new', 'i32', ['out_ptr', S.EXPORTER_OPTIONS]],
  ['nemo_relay_exporter_register', 'i32', ['ptr', 'ptr', 'str']],
  ['nemo_relay_exporter_deregister', 'i32', ['out_bool', 'ptr', 'ptr', 'str']],
  ['nemo_relay_exporter_flush', 'i32', ['ptr', 'i64']],
  ['nemo_relay_exporter_shutdown', 'i32', ['ptr', 'i64']],
  ['nemo_relay_exporter_diagnostics', 'i32', ['out_str', 'ptr']],
  ['nemo_relay_exporter_path', 'i32', ['out_str', 'ptr']],
  ['nemo_relay_atif_exporter_export', 'i32', ['out_str', 'ptr', 'i64']],
  ['nemo_relay_atif_exporter_clear', 'i32', ['ptr']],
  ['nemo_relay_atif_trajectory', 'i32', ['out_str', 'json', 'json']],
  ['nemo_relay_exporter_free', 'void', ['ptr']],
  ['nemo_relay_propagation_capture', 'i32', ['out_str', 'ptr', 'ptr', 'i32', 'str']],
  ['nemo_relay_traceparent_capture', 'i32', ['out_str', 'ptr', 'ptr']],
  ['nemo_relay_token_scope', 'i32', ['out_ptr', 'ptr']],
  ['nemo_relay_token_enter', 'i32', ['ptr']],
  ['nemo_relay_token_leave', 'void', ['ptr']],
  ['nemo_relay_stack_from_propagation', 'i32', ['out_ptr', 'json']],
  ['nemo_relay_propagation_parse', 'i32', ['out_str', 'json']],
  ['nemo_relay_propagation_normalize', 'i32', ['out_str', 'json']],
  ['nemo_relay_propagation_to_traceparent', 'i32', ['out_str', 'json']],
];
const TABLE = new Map(EXPORTS.map((e) => [e[0], e]));
const declared = new Set();
let declaredFor = -1;

/** Sends an export's row once per helper process (a restarted helper knows nothing). */
function declare(name) {
  helper.ensure();
  if (declaredFor !== helper.generation) {
    declared.clear();
    declaredFor = helper.generation;
  }
  if (declared.has(name)) return;
  const row = TABLE.get(name);
  if (!row) throw new NemoRelayError(`${name} is not in the export table`, undefined, 'ERR_NEMO_RELAY_HELPER');
  helper.callSync(Op.DECLARE, {
    fn: name, ret: row[1], params: row[2], err: 'nemo_relay_last_error_message', free: 'nemo_relay_free',
  });
  declared.add(name);
}

/**
 * Calls an export synchronously: `{ret, out?, err?}` exactly as the helper answered.
 * @param {string} name
 * @param {any[]} args one value per declared parameter (null for out parameters)
 */
function rawCall(name, args) {
  declare(name);
  const t = emission();
  if (t) return inside(t, [{ fn: name, args }])[0].ok;
  return helper.callSync(Op.CALL, { fn: name, args });
}

/**
 * The token of the event injector or sanitizer whose JS code runs in this async context, or 0
 * (set by index.js). Calls made there run between nemo_relay_token_enter and _leave on the helper's
 * thread, so the events they emit go right after that callback's event (docs/events.md "Order").
 */
let emission = () => 0;
function setEmissionSource(fn) {
  emission = fn;
}

/** Runs `calls` (one batch) entered into token `t`; returns their answers. */
function inside(t, calls) {
  declare('nemo_relay_token_enter');
  declare('nemo_relay_token_leave');
  const answers = helper.callBatch([
    { fn: 'nemo_relay_token_enter', args: [t] }, ...calls, { fn: 'nemo_relay_token_leave', args: [t] },
  ]);
  const out = answers.slice(1, -1);
  for (const a of out) {
    if (a.error !== undefined) throw new NemoRelayError(`helper: ${a.error}`, undefined, 'ERR_NEMO_RELAY_HELPER');
  }
  return out;
}

/** Calls a fallible export and throws NemoRelayError on a failure status; returns the out values. */
function call(name, args) {
  return outsOf(name, rawCall(name, args));
}

/** Throws NemoRelayError for a failed `{ret, err}` answer of `name`; returns its out values. */
function outsOf(name, r) {
  if (typeof r.ret === 'number' && r.ret > 0) throw new NemoRelayError(r.err || `${name} failed`, r.ret);
  return r.out ?? [];
}

/**
 * Calls several fallible exports in one round trip: `[[name, args], ...]`, where an argument
 * `{$out: [i, j]}` is out value `j` of call `i`. Returns each call's out values; throws the first failure.
 */
function callBatch(calls) {
  for (const [name] of calls) declare(name);
  const t = emission();
  const items = calls.map(([fn, args]) => ({ fn, args }));
  const answers = t ? inside(t, items) : helper.callBatch(items);
  return answers.map((a, i) => {
    if (a.error !== undefined) throw new NemoRelayError(`helper: ${a.error}`, undefined, 'ERR_NEMO_RELAY_HELPER');
    return outsOf(calls[i][0], a.ok);
  });
}

/**
 * Queues a call on the sync channel, sent with the others of this turn (see Helper#callLater);
 * `done({ret, out?, err?} | null, error | null)` runs when the answer is back.
 */
function callLater(name, args, done = null) {
  declare(name);
  const t = emission();
  if (t) {
    // Queued back to back: the batch runs them in order on one helper thread.
    declare('nemo_relay_token_enter');
    declare('nemo_relay_token_leave');
    helper.callLater('nemo_relay_token_enter', [t]);
  }
  helper.callLater(name, args, done && ((a, error) => {
    if (error) return done(null, error);
    if (a.error !== undefined) return done(null, new NemoRelayError(`helper: ${a.error}`, undefined, 'ERR_NEMO_RELAY_HELPER'));
    done(a.ok, null);
  }));
  if (t) helper.callLater('nemo_relay_token_leave', [t]);
}

/** Calls an export on the async channel (on a helper thread of its own when `bg`). */
async function callAsync(name, args, bg = true) {
  declare(name);
  return helper.callAsync(Op.CALL, { fn: name, args }, bg);
}

module.exports = { EXPORTS, Struct, call, callBatch, callLater, rawCall, callAsync, declare, setEmissionSource };
