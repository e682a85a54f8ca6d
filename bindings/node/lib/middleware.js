// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Middleware of every kind (docs/node.md, "Middleware callbacks"): how each kind calls its JS callback
 * and converts the answer, registration (global, restored after a helper restart, and scope-local) and
 * the `register*` / `deregister*` / `scopeRegister*` / `scopeDeregister*` functions of the public surface.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');
const { NemoRelayError } = require('./errors');
const { toJsonValue, cstr } = require('./json');
const { CONSTANTS: C } = require('./abi');
const { K, als, signalFor, restorable, noteScopeLocal, rt } = require('./runtime');
const { answer, callbackStruct, withDone, toolResultOut, toolResultIn, pendingMarks } = require('./callbacks');
const { scopeByUuid, requestJson } = require('./scopes');
const { builtinCodecs } = require('./codecs');
const { pumpStream, streamNextFor } = require('./streams');

// MARK: - Middleware

function sanitizerContext(codec) {
  const c = codec ?? { kind: 'none' };
  return {
    codec: c,
    resolveCodec() {
      const make = c.kind === 'builtin' ? builtinCodecs().get(c.id) : undefined;
      return make ? make() : null;
    },
  };
}

function fieldsIn(f) {
  return { data: f?.data ?? null, categoryProfile: f?.category_profile ?? null, metadata: f?.metadata ?? null };
}

function fieldsOut(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError('event sanitizer must return EventSanitizeFields');
  const out = {};
  if ('data' in v) out.data = v.data ?? null;
  if ('categoryProfile' in v) out.category_profile = v.categoryProfile ?? null;
  if ('metadata' in v) out.metadata = v.metadata ?? null;
  if (Object.keys(out).length === 0) throw new TypeError('event sanitizer must return at least one field');
  return out;
}

function nextFor(token, kind) {
  let active = true;
  const gen = helper.generation;
  const next = (value) => {
    if (gen !== helper.generation) {
      return Promise.reject(new NemoRelayError('next: the NemoRelay helper of this call exited', undefined, 'ERR_NEMO_RELAY_HELPER'));
    }
    let json;
    if (kind === 'llm') json = requestJson(value, 'invalid LlmRequest from JS next');
    else json = JSON.stringify(toJsonValue(value, 'args'));
    const p = withDone((done) => ['nemo_relay_token_next', [token, json, done]], kind === 'llm' ? (v) => v : toolResultIn);
    // An intercept that settles without waiting for `next` abandons it: it then rejects with the
    // cancellation, which must not surface as an unhandled rejection nobody could catch.
    p.catch(() => {});
    return p;
  };
  return { next, close() { active = false; }, get active() { return active; } };
}

/** How each middleware kind calls its JS callback and converts the answer (docs/node.md, "Middleware callbacks"). */
const MIDDLEWARE = {
  LlmRequestIntercept: {
    kind: K.LLM_REQUEST, breakChain: true,
    call: (fn, i, s) => fn({ name: i.name, request: i.request, annotated: i.annotated_request ?? null }, s),
    out: (v) => {
      if (v === null || typeof v !== 'object' || !v.request || typeof v.request !== 'object') {
        throw new TypeError('invalid JS LLM request intercept outcome');
      }
      const o = { request: JSON.parse(requestJson(v.request, 'invalid JS LLM request intercept outcome')) };
      if (v.annotated !== undefined && v.annotated !== null) o.annotated_request = v.annotated;
      if (v.pendingMarks) o.pending_marks = pendingMarks(v.pendingMarks);
      return o;
    },
  },
  LlmExecutionIntercept: { kind: K.LLM_EXECUTION, next: 'llm', call: (fn, i, s, next) => fn(i.request, next, s), out: (v) => v },
  LlmStreamExecutionIntercept: { kind: K.LLM_STREAM_EXECUTION, stream: true },
  LlmConditionalExecutionGuardrail: { kind: K.LLM_CONDITIONAL, call: (fn, i, s) => fn(i.request, s), out: reason },
  LlmSanitizeRequestGuardrail: {
    kind: K.LLM_SANITIZE_REQUEST, recordErrors: true,
    call: (fn, i, s) => fn(i.request, sanitizerContext(i.context?.request_codec), s), out: (v) => v ?? null,
  },
  LlmSanitizeResponseGuardrail: {
    kind: K.LLM_SANITIZE_RESPONSE, recordErrors: true,
    call: (fn, i, s) => fn(i.response, sanitizerContext(i.context?.response_codec), s), out: (v) => v ?? null,
  },
  ToolRequestIntercept: { kind: K.TOOL_REQUEST, breakChain: true, call: (fn, i, s) => fn(i.tool_name, i.args, s), out: (v) => v },
  ToolExecutionIntercept: {
    kind: K.TOOL_EXECUTION, next: 'tool', call: (fn, i, s, next) => fn(i.args, next, s),
    out: (v) => toolResultOut(v, 'tool execution intercept'),
  },
  ToolConditionalExecutionGuardrail: { kind: K.TOOL_CONDITIONAL, call: (fn, i, s) => fn(i.tool_name, i.args, s), out: reason },
  ToolSanitizeRequestGuardrail: { kind: K.TOOL_SANITIZE_REQUEST, recordErrors: true, call: (fn, i, s) => fn(i.tool_name, i.args, s), out: (v) => v },
  ToolSanitizeResponseGuardrail: { kind: K.TOOL_SANITIZE_RESPONSE, recordErrors: true, call: (fn, i, s) => fn(i.tool_name, i.result, s), out: (v) => v },
  MarkSanitizeGuardrail: { kind: K.MARK_SANITIZE, recordErrors: true, emits: true, call: (fn, i) => fn(i.event, fieldsIn(i.fields)), out: fieldsOut },
  ScopeSanitizeStartGuardrail: { kind: K.SCOPE_START_SANITIZE, recordErrors: true, emits: true, call: (fn, i) => fn(i.event, fieldsIn(i.fields)), out: fieldsOut },
  ScopeSanitizeEndGuardrail: { kind: K.SCOPE_END_SANITIZE, recordErrors: true, emits: true, call: (fn, i) => fn(i.event, fieldsIn(i.fields)), out: fieldsOut },
  EventMetadataInjector: {
    kind: K.METADATA_INJECTOR, recordErrors: true, emits: true, call: (fn, i) => fn(i.event),
    out: (v) => {
      if (v === null || v === undefined) return {};
      if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError('metadata injector must return a flat object');
      return v;
    },
  },
};

function reason(v) {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new TypeError('a conditional guardrail returns null or a rejection reason string');
  return v;
}

function register(spec, owner, name, priority, breakChain, cb, scopeUuid = null) {
  if (typeof cb !== 'function') throw new TypeError('callback must be a function');
  const label = `${name}`;
  const onCall = spec.stream ? (token, input) => {
    // A stream execution intercept: its async iterable feeds this layer's producer; `next` runs the inner layers.
    pumpStream(token, (signal) => cb(input.request, streamNextFor(token), signal), null);
  } : (token, input) => {
    const signal = signalFor(token);
    let cont = null;
    if (spec.next) cont = nextFor(token, spec.next);
    const run = () => answer(token, () => spec.call(cb, input, signal, cont?.next), spec.out, { record: spec.recordErrors ? label : null });
    // Event injectors and sanitizers: what they emit goes right after their event.
    if (spec.emits) als.run({ ...als.getStore(), emission: token }, run);
    else run();
  };
  const cbs = callbackStruct(onCall);
  ffi.call('nemo_relay_register', [rt(), owner, spec.kind, cstr(name), priority | 0, breakChain ? C.NEMO_RELAY_BREAK_CHAIN : 0, cbs]);
  const key = `middleware:${spec.kind}:${name}`;
  if (scopeUuid !== null) noteScopeLocal(scopeUuid, key, true);
  else restorable.set(key, () => register(spec, 0, name, priority, breakChain, cb));
}

function deregister(spec, owner, name, scopeUuid = null) {
  const [removed] = ffi.call('nemo_relay_deregister', [null, rt(), owner, spec.kind, cstr(name)]);
  const key = `middleware:${spec.kind}:${name}`;
  if (scopeUuid !== null) noteScopeLocal(scopeUuid, key, false);
  else restorable.delete(key);
  return removed;
}

const middlewareExports = {};
for (const [suffix, spec] of Object.entries(MIDDLEWARE)) {
  if (spec.breakChain) {
    middlewareExports[`register${suffix}`] = (name, priority, breakChain, cb) => register(spec, 0, name, priority, breakChain, cb);
    middlewareExports[`scopeRegister${suffix}`] = (uuid, name, priority, breakChain, cb) => register(spec, scopeByUuid(uuid), name, priority, breakChain, cb, uuid);
  } else {
    middlewareExports[`register${suffix}`] = (name, priority, cb) => register(spec, 0, name, priority, false, cb);
    middlewareExports[`scopeRegister${suffix}`] = (uuid, name, priority, cb) => register(spec, scopeByUuid(uuid), name, priority, false, cb, uuid);
  }
  middlewareExports[`deregister${suffix}`] = (name) => deregister(spec, 0, name);
  middlewareExports[`scopeDeregister${suffix}`] = (uuid, name) => deregister(spec, scopeByUuid(uuid), name, uuid);
}

module.exports = { middlewareExports };
