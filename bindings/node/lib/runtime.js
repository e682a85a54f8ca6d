// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * The binding's runtime plumbing, which every other module of index.js builds on: the enums and
 * constants, the one runtime of the live helper (`rt()`), the registry of JS callbacks by the integer
 * handed to C as user_data, the helper's callbacks into JS (`onInvoke`, `onWait`, `onCancel`,
 * `onLost`), the registrations a new helper gets back after a restart, the callback error channel and
 * the scope stacks' C objects. State that several modules share lives here and only here (a module's
 * own state, such as the subscribers' pending deliveries, stays in that module).
 * @module
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const ffi = require('./ffi');
const { helper } = require('./helper');
const { Op } = require('./protocol');
const { NemoRelayError, Status } = require('./errors');
const { CONSTANTS: C } = require('./abi');
const exporters = require('./exporters');
const propagation = require('./propagation');

// MARK: - Enums and constants

/** Scope types (event `category`). */
const ScopeType = Object.freeze({
  Agent: C.NEMO_RELAY_SCOPE_AGENT, Function: C.NEMO_RELAY_SCOPE_FUNCTION, Tool: C.NEMO_RELAY_SCOPE_TOOL,
  Llm: C.NEMO_RELAY_SCOPE_LLM, Retriever: C.NEMO_RELAY_SCOPE_RETRIEVER, Embedder: C.NEMO_RELAY_SCOPE_EMBEDDER,
  Reranker: C.NEMO_RELAY_SCOPE_RERANKER, Guardrail: C.NEMO_RELAY_SCOPE_GUARDRAIL,
  Evaluator: C.NEMO_RELAY_SCOPE_EVALUATOR, Custom: C.NEMO_RELAY_SCOPE_CUSTOM, Unknown: C.NEMO_RELAY_SCOPE_UNKNOWN,
});
/** Mark severities. */
const LogSeverity = Object.freeze({
  Trace: C.NEMO_RELAY_SEVERITY_TRACE, Debug: C.NEMO_RELAY_SEVERITY_DEBUG, Info: C.NEMO_RELAY_SEVERITY_INFO,
  Warn: C.NEMO_RELAY_SEVERITY_WARN, Error: C.NEMO_RELAY_SEVERITY_ERROR,
});

/** Middleware kinds of nemo_relay_register. */
const K = Object.freeze({
  LLM_CONDITIONAL: C.NEMO_RELAY_LLM_CONDITIONAL_EXECUTION, LLM_REQUEST: C.NEMO_RELAY_LLM_REQUEST_INTERCEPT,
  LLM_EXECUTION: C.NEMO_RELAY_LLM_EXECUTION_INTERCEPT, LLM_STREAM_EXECUTION: C.NEMO_RELAY_LLM_STREAM_EXECUTION_INTERCEPT,
  LLM_SANITIZE_REQUEST: C.NEMO_RELAY_LLM_SANITIZE_REQUEST, LLM_SANITIZE_RESPONSE: C.NEMO_RELAY_LLM_SANITIZE_RESPONSE,
  TOOL_CONDITIONAL: C.NEMO_RELAY_TOOL_CONDITIONAL_EXECUTION, TOOL_REQUEST: C.NEMO_RELAY_TOOL_REQUEST_INTERCEPT,
  TOOL_EXECUTION: C.NEMO_RELAY_TOOL_EXECUTION_INTERCEPT, TOOL_SANITIZE_REQUEST: C.NEMO_RELAY_TOOL_SANITIZE_REQUEST,
  TOOL_SANITIZE_RESPONSE: C.NEMO_RELAY_TOOL_SANITIZE_RESPONSE, MARK_SANITIZE: C.NEMO_RELAY_MARK_SANITIZE,
  SCOPE_START_SANITIZE: C.NEMO_RELAY_SCOPE_START_SANITIZE, SCOPE_END_SANITIZE: C.NEMO_RELAY_SCOPE_END_SANITIZE,
  METADATA_INJECTOR: C.NEMO_RELAY_METADATA_INJECTOR,
});

// MARK: - Runtime state

const als = new AsyncLocalStorage();

/**
 * A new async-context store that keeps the event injector or sanitizer token (`emission`) of the
 * context it is made in: calls made anywhere inside such a callback, nested calls' providers
 * included, emit their events inside it (docs/events.md "Order"; lib/ffi.js wraps them in
 * nemo_relay_token_enter/leave).
 */
function carry(store) {
  const emission = als.getStore()?.emission;
  return emission ? { ...store, emission } : store;
}
ffi.setEmissionSource(() => als.getStore()?.emission ?? 0);
const state = {
  rt: 0,
  /** The one stack shared by every async flow outside runtime-invoked callbacks (the "thread stack"). */
  threadStack: null,
  fn: { callback: 0, done: 0, subscriber: 0, free: 0, wait: 0 },
  closureKind: new Map(),
};
/** JS callbacks by the integer handed to C as user_data. */
const registry = new Map();
let nextUserData = 1;
function addEntry(entry) {
  const id = nextUserData++;
  registry.set(id, entry);
  return id;
}

// Finalizers free C objects of the live helper only: pointers of a lost helper mean nothing to a new one.
const freeLater = (fn) => ([ptr, gen]) => { if (gen === helper.generation) helper.post(fn, [ptr]); };
const stackRegistry = new FinalizationRegistry(freeLater('nemo_relay_stack_free'));
const scopeRegistry = new FinalizationRegistry(freeLater('nemo_relay_scope_free'));

helper.onInvoke = onInvoke;
helper.onLost = onLost;
helper.onWait = onWait;
helper.onCancel = onCancel;

/**
 * The AbortControllers of the callbacks running now, by token: a token's signal aborts when the helper
 * reports it cancelled (nemo_relay_token_on_cancel: the call was cancelled, its stream closed, the
 * execution intercept around it settled without waiting for it) or the helper is lost. An entry goes
 * when its token is completed.
 * @type {Map<number, AbortController>}
 */
const signals = new Map();

/** The AbortSignal handed to the callback running for `token`. */
function signalFor(token) {
  const ac = new AbortController();
  signals.set(token, ac);
  return ac.signal;
}

function onCancel(token) {
  const ac = signals.get(token);
  if (!ac) return; // answered meanwhile, or a callback that takes no signal
  signals.delete(token);
  ac.abort(new NemoRelayError('cancelled', Status.E_CANCELLED));
}

/** The live scope handles by uuid (lib/scopes.js, `scopeByUuid`); a lost helper's are forgotten. */
const liveScopes = new Map(); // uuid -> WeakRef<ScopeHandle>
/** The C pointers of the built-in codecs by id (lib/codecs.js, `builtinPtr`); a lost helper's are forgotten. */
const builtinPtrs = new Map();

/** Producers waiting for room in some stream's buffer (woken whenever a reader frees room; lib/streams.js). */
let roomWaiters = [];
function wakeRoomWaiters() {
  if (!roomWaiters.length) return;
  const ws = roomWaiters;
  roomWaiters = [];
  for (const w of ws) w();
}

/**
 * Resolves once a reader made room, `signal` aborts, or after a short fallback delay (a buffer may
 * also drain without a JS reader's help).
 */
function roomOrAbort(signal) {
  return new Promise((resolve) => {
    let timer = null;
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    if (signal.aborted) return resolve();
    timer = setTimeout(done, 50);
    signal.addEventListener('abort', done, { once: true });
    roomWaiters.push(done);
  });
}

// MARK: - Registrations across a helper restart (docs/node.md, "Helper process")

/**
 * The global middleware and subscribers registered now, in registration order, each with the call
 * that makes it again: a new helper's runtime gets them before it serves anything else.
 * @type {Map<string, () => void>}
 */
const restorable = new Map();
/**
 * Registrations a new helper cannot get back, by scope uuid: scope-local middleware and subscribers
 * (their scope lived in the lost helper). Exporter registrations are counted by lib/exporters.js.
 * @type {Map<string, Set<string>>}
 */
const scopeLocal = new Map();

function noteScopeLocal(uuid, key, on) {
  const u = String(uuid).toLowerCase();
  let set = scopeLocal.get(u);
  if (on) {
    if (!set) scopeLocal.set(u, (set = new Set()));
    set.add(key);
  } else if (set) {
    set.delete(key);
    if (!set.size) scopeLocal.delete(u);
  }
}

/** A scope ended: the core dropped its scope-local registrations. */
function scopeEnded(handle) {
  if (handle) scopeLocal.delete(handle.uuid);
}

/**
 * Set when a helper was lost with registrations a new one cannot get back: every later call throws
 * it until `restartHelper()`, so nothing runs silently without its middleware or exporter.
 * @type {NemoRelayError | null}
 */
let lostRegistrations = null;

/**
 * Starts a new helper after a loss that left registrations the binding could not restore (an
 * exporter's, a scope's): clears the refusal. The global middleware and subscribers come back as after
 * any restart; exporters and scope-local registrations must be made again. Harmless otherwise.
 */
function restartHelper() {
  lostRegistrations = null;
  rt();
}

/**
 * The helper died: its runtime, registrations and handles are gone. Every managed call in flight
 * rejects with `reason`. The next call starts a new helper and a fresh runtime with the global
 * middleware and subscribers registered again; if exporters or scope-local registrations were lost,
 * every call throws instead until `restartHelper()`.
 */
function onLost(reason) {
  const lostExporters = exporters.onHelperLost();
  const lostScoped = [...scopeLocal.values()].reduce((n, set) => n + set.size, 0);
  scopeLocal.clear();
  if (!lostRegistrations && (lostExporters.length || lostScoped)) {
    const what = [];
    if (lostExporters.length) what.push(`exporter registrations ${lostExporters.map((n) => JSON.stringify(n)).join(', ')}`);
    if (lostScoped) what.push(`${lostScoped} scope-local registration${lostScoped === 1 ? '' : 's'}`);
    lostRegistrations = new NemoRelayError(
      `${reason.message}: its ${what.join(' and ')} cannot be restored in a new helper, so calls are refused; ` +
      'call restartHelper() to continue with a new helper, then make them again', undefined, 'ERR_NEMO_RELAY_HELPER');
  }
  state.rt = 0;
  state.threadStack = null;
  state.fn = { callback: 0, done: 0, subscriber: 0, free: 0, wait: 0 };
  state.closureKind.clear();
  builtinPtrs.clear();
  liveScopes.clear();
  const entries = [...registry.values()];
  registry.clear();
  wakeRoomWaiters();
  const running = [...signals.values()];
  signals.clear();
  for (const ac of running) ac.abort(reason);
  for (const e of entries) e.onLost?.(reason);
}

/** Throws when `obj` (a stack or a handle) was made by a helper that has since been lost. */
function checkLive(obj, what) {
  if (obj._gen !== helper.generation) {
    throw new NemoRelayError(`${what} belongs to a NemoRelay helper that exited; make a new one`, undefined, 'ERR_NEMO_RELAY_HELPER');
  }
  return obj._ptr;
}

function init() {
  if (state.rt) return;
  if (lostRegistrations) throw lostRegistrations;
  helper.ensure();
  // Five trampolines serve every callback: C hands back our integer user_data, which names the JS function.
  const mk = (kind, ret, params, wait = false, cancel = false, probe = undefined) => {
    const args = { ret, value: Status.PENDING, params };
    if (wait) args.wait = true;
    if (cancel) args.cancel = true;
    if (probe) args.probe = probe;
    const r = helper.callSync(Op.CLOSURE, args);
    state.closureKind.set(r.closure, kind);
    state.fn[kind] = r.fn;
  };
  // `cancel`: the helper asks for each pending token's cancellation notice (see `signals`).
  mk('callback', 'i32', ['ptr', 'rawjson', 'ptr'], false, true);
  // The helper appends nemo_relay_last_error_id(), read on the calling thread as `done` runs: the failure's id.
  mk('done', 'void', ['i32', 'json', 'ptr'], false, false, 'nemo_relay_last_error_id');
  mk('subscriber', 'void', ['rawjson', 'ptr']);
  mk('free', 'void', ['ptr']);
  // Callbacks that must answer before they return (stream collectors and finalizers): see Helper#onWait.
  mk('wait', 'i32', ['ptr', 'rawjson', 'ptr'], true);
  for (const name of ['nemo_relay_scope_free', 'nemo_relay_stack_free', 'nemo_relay_codec_free', 'nemo_relay_call_free']) {
    ffi.declare(name);
  }
  // The environment's operational logging configuration, as the reference applies it at load (docs/logging.md).
  ffi.call('nemo_relay_logging_init', []);
  const [rt] = ffi.call('nemo_relay_runtime_new', [null, null]);
  const [st] = ffi.call('nemo_relay_stack_new', [null, 0]);
  state.rt = rt;
  state.threadStack = wrapStack(st);
  // A new helper after a lost one: the global middleware and subscribers first, in their order.
  try {
    for (const again of [...restorable.values()]) again();
  } catch (e) {
    lostRegistrations = new NemoRelayError(
      `restoring the registrations in a new NemoRelay helper failed: ${errorMessage(e)}; call restartHelper() to continue without them`,
      undefined, 'ERR_NEMO_RELAY_HELPER');
    restorable.clear();
    throw lostRegistrations;
  }
}

function rt() {
  if (!state.rt) init();
  return state.rt;
}
exporters.bindRuntime(rt);
propagation.bind({ als, effectiveStack, wrapStack, rt });

function onInvoke(closure, args) {
  const kind = state.closureKind.get(closure);
  if (kind === 'callback') {
    const [token, input, id] = args;
    const e = registry.get(id);
    if (!e) return complete(token, Status.E_CALLBACK, JSON.stringify({ type: 'Error', message: 'callback released' }));
    e.onCall(token, input);
  } else if (kind === 'done') {
    // `failureId`: nemo_relay_last_error_id() on the thread that called `done` (the helper's probe).
    const [status, text, id, failureId] = args;
    const e = registry.get(id);
    registry.delete(id);
    e?.onDone(status, text, failureId);
  } else if (kind === 'subscriber') {
    const [event, id] = args;
    registry.get(id)?.onEvent(event);
  } else if (kind === 'free') {
    registry.delete(args[0]);
  }
}

/** A waiting closure's callback, run synchronously while the helper waits: returns `{status, json}`. */
function onWait(closure, args) {
  const [, input, id] = args;
  const e = registry.get(id);
  if (!e?.onWait) return { status: Status.E_CALLBACK, json: JSON.stringify({ type: 'Error', message: 'callback released' }) };
  return e.onWait(input);
}

/** Completes a token of helper generation `gen` (a token of a lost helper has no call left to answer). */
function complete(token, status, json, gen = helper.generation) {
  if (gen !== helper.generation) return;
  signals.delete(token);
  // Sent with the other calls of this turn. MISUSE here means the call was cancelled or already
  // answered: nothing left to tell.
  ffi.callLater('nemo_relay_complete', [token, status, json]);
}

// MARK: - Callback errors

let lastCallbackError = null;

/**
 * Keeps what a failing callback threw (the Error object itself, or the very value for a non-Error
 * throw: `throw 42`, `throw null`) in the registry under a fresh id, which travels with the failure
 * (nemo_relay_complete_failure, docs/abi.md "Errors"); the call that receives the failure takes it back
 * by that id (`failure`). The library frees the id (the `free` closure deletes the entry) once it drops
 * the failure, so entries nobody took do not pile up. Returns the id.
 */
function keepFailure(err) {
  return addEntry({ failure: err });
}

/** The `nemo_relay_failure_id_t` of a failure kept under `id`. */
function failureIdStruct(id) {
  return [id, id, state.fn.free];
}

function errorMessage(err) {
  return err instanceof Error ? String(err.message) : String(err);
}

function recordCallbackError(where, err) {
  lastCallbackError = `${where}: ${errorMessage(err)}`;
  process.stderr.write(`nemo-relay-node: ${lastCallbackError}\n`);
}

/** The last failure that could not surface as an exception (sanitizer, subscriber), or null. */
function getLastCallbackError() {
  return lastCallbackError;
}

function clearLastCallbackError() {
  lastCallbackError = null;
}

/**
 * Turns a failure status and text from C into the error to throw: what the failing callback threw
 * when the failure carries the id it was kept under (`failureId`, read where the failure arrived).
 */
function failure(status, text, failureId) {
  if (status === Status.E_CALLBACK && failureId) {
    const e = registry.get(failureId);
    if (e && 'failure' in e) {
      registry.delete(failureId);
      return e.failure;
    }
  }
  return new NemoRelayError(text, status);
}

// MARK: - Stacks

/** A scope stack; `new ScopeStack()` is a fresh, isolated stack with its own root. */
class ScopeStack {
  constructor() {
    const [p] = ffi.call('nemo_relay_stack_new', [null, (rt(), 0)]);
    attachStack(this, p);
  }
}

function attachStack(obj, ptr) {
  Object.defineProperty(obj, '_ptr', { value: ptr });
  Object.defineProperty(obj, '_gen', { value: helper.generation });
  stackRegistry.register(obj, [ptr, helper.generation]);
  return obj;
}

function wrapStack(ptr) {
  return attachStack(Object.create(ScopeStack.prototype), ptr);
}

function effectiveStack() {
  rt();
  const stack = als.getStore()?.stack ?? state.threadStack;
  checkLive(stack, 'this ScopeStack');
  return stack;
}

module.exports = {
  ScopeType, LogSeverity, K,
  als, carry, state, registry, addEntry, scopeRegistry, signals, signalFor,
  liveScopes, builtinPtrs, wakeRoomWaiters, roomOrAbort,
  restorable, noteScopeLocal, scopeEnded, restartHelper, checkLive, rt, complete,
  keepFailure, failureIdStruct, errorMessage, recordCallbackError, getLastCallbackError, clearLastCallbackError, failure,
  ScopeStack, wrapStack, effectiveStack,
};
