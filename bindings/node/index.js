// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * nemo-relay-node: the NemoRelay runtime for Node, in plain JavaScript over the NemoRelayHelper
 * process (see README.md). Scopes, managed and manual LLM/tool calls, middleware of every kind
 * (global and scope-local), subscribers, flush and provider codecs.
 * @module nemo-relay-node
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const ffi = require('./lib/ffi');
const { helper } = require('./lib/helper');
const { Op } = require('./lib/protocol');
const { NemoRelayError, Status } = require('./lib/errors');
const { toJsonValue, jsonArg, cstr, PLAIN } = require('./lib/json');
const { CONSTANTS: C } = require('./lib/abi');
const exporters = require('./lib/exporters');
const propagation = require('./lib/propagation');

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

/** @returns {ScopeStack} a fresh, isolated stack. */
function createScopeStack() {
  return new ScopeStack();
}

/** @returns {ScopeStack} the stack in effect here. */
function currentScopeStack() {
  return effectiveStack();
}

/**
 * Runs `callback()` with `stack` in effect; a returned Promise keeps it for its continuation.
 * @template T
 * @param {ScopeStack} stack
 * @param {() => T} callback
 * @returns {T}
 */
function withScopeStack(stack, callback) {
  if (!(stack instanceof ScopeStack)) throw new TypeError('stack must be a ScopeStack');
  rt();
  return als.run(carry({ stack }), callback);
}

/** Inside a callback, replaces the stack of the current store; otherwise rebinds the thread stack. */
function setThreadScopeStack(stack) {
  if (!(stack instanceof ScopeStack)) throw new TypeError('stack must be a ScopeStack');
  rt();
  const store = als.getStore();
  if (store) als.enterWith({ stack });
  else state.threadStack = stack;
}

/** @returns {boolean} whether a callback store is active here. */
function scopeStackActive() {
  return als.getStore() !== undefined;
}

// MARK: - Handles

const liveScopes = new Map(); // uuid -> WeakRef<ScopeHandle>

/** A scope, LLM or tool span. Handles come from the runtime; there is no public constructor. */
class ScopeHandle {
  constructor() {
    throw new TypeError('ScopeHandle has no public constructor');
  }
  /** @returns {string} */ get uuid() { return this._info.uuid; }
  /** @returns {string} */ get name() { return this._info.name; }
  /** @returns {number} */ get scopeType() { return this._info.scope_type; }
  /** @returns {number} */ get attributes() { return this._info.attributes; }
  /** @returns {string | null} */ get parentUuid() { return this._info.parent_uuid ?? null; }
  /** @returns {any} */ get data() { return this._info.data ?? null; }
  /** @returns {any} */ get metadata() { return this._info.metadata ?? null; }
}
/** An LLM span from llmCall. */
class LlmHandle extends ScopeHandle {}
/** A tool span from toolCall. */
class ToolHandle extends ScopeHandle {}

/** Makes a span with `fn` (whose first argument is the out scope) and reads its info in the same round trip. */
function makeHandle(fn, args, cls = ScopeHandle) {
  const [[ptr], [info]] = ffi.callBatch([[fn, args], ['nemo_relay_scope_info', [null, { $out: [0, 0] }]]]);
  return handleFrom(ptr, info, cls);
}

function handleFrom(ptr, info, cls) {
  const h = Object.create(cls.prototype);
  Object.defineProperty(h, '_ptr', { value: ptr });
  Object.defineProperty(h, '_gen', { value: helper.generation });
  Object.defineProperty(h, '_info', { value: JSON.parse(info) });
  scopeRegistry.register(h, [ptr, helper.generation]);
  liveScopes.set(h._info.uuid, new WeakRef(h));
  return h;
}

function handlePtr(handle, what = 'handle') {
  if (handle === null || handle === undefined) return 0;
  if (!(handle instanceof ScopeHandle)) throw new TypeError(`${what} must be a ScopeHandle`);
  return checkLive(handle, what);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function scopeByUuid(uuid) {
  if (typeof uuid !== 'string' || !UUID_RE.test(uuid)) throw new NemoRelayError(`invalid UUID: ${uuid}`, Status.E_INVALID_ARGUMENT);
  const h = liveScopes.get(uuid.toLowerCase())?.deref();
  if (!h) throw new NemoRelayError(`not found: scope ${uuid} not found`, Status.E_NOT_FOUND);
  return h._ptr;
}

// MARK: - Argument helpers

function timestampNs(ts) {
  if (ts === null || ts === undefined) return [false, '0'];
  if (!Number.isSafeInteger(ts)) throw new TypeError('timestamp must be a safe integer number of Unix microseconds');
  return [true, (BigInt(ts) * 1000n).toString()];
}

function opt(v, d) {
  return v === null || v === undefined ? d : v;
}

/** A JS LLM request (instance or `{headers, content}`) as `{headers, content}` JSON. */
function requestJson(request, what = 'invalid LlmRequest') {
  if (request instanceof LlmRequest) return JSON.stringify(request.toJSON());
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new NemoRelayError(`${what}: expected an object with headers and content`, Status.E_INVALID_ARGUMENT);
  }
  if (!('headers' in request) || !('content' in request)) {
    throw new NemoRelayError(`${what}: missing field \`${'headers' in request ? 'content' : 'headers'}\``, Status.E_INVALID_ARGUMENT);
  }
  const h = request.headers;
  if (h === null || typeof h !== 'object' || Array.isArray(h)) {
    throw new NemoRelayError(`${what}: headers must be an object`, Status.E_INVALID_ARGUMENT);
  }
  return JSON.stringify(toJsonValue({ headers: h, content: request.content }, 'request'));
}

/** An LLM request: `new LlmRequest(headers, content)`; non-object headers become `{}`. */
class LlmRequest {
  /**
   * @param {Record<string, any>} headers
   * @param {any} content
   */
  constructor(headers, content) {
    const h = headers !== null && typeof headers === 'object' && !Array.isArray(headers) ? headers : {};
    this.#json = JSON.stringify(toJsonValue({ headers: h, content: content === undefined ? null : content }, 'LlmRequest'));
  }
  #json;
  /** @returns {Record<string, any>} a copy */ get headers() { return JSON.parse(this.#json).headers; }
  /** @returns {any} a copy */ get content() { return JSON.parse(this.#json).content; }
  /** @returns {{headers: Record<string, any>, content: any}} */
  toJSON() { return JSON.parse(this.#json); }
}
Object.defineProperty(LlmRequest.prototype, PLAIN, { value: true });

// MARK: - Scopes

/**
 * Pushes a scope onto the effective stack.
 * @returns {ScopeHandle}
 */
function pushScope(name, scopeType, handle, attributes, data, metadata, input, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  const st = effectiveStack();
  const opts = [C.NEMO_RELAY_SCOPE_OPTIONS_VERSION, opt(attributes, 0) & 3, handlePtr(handle), jsonArg(data, 'data'), jsonArg(metadata, 'metadata'),
    jsonArg(input, 'input'), hasTs, ts];
  return makeHandle('nemo_relay_scope_begin', [null, rt(), st._ptr, cstr(name), scopeType, opts]);
}

/** Pops `handle`, which must be on top of the effective stack. */
function popScope(handle, output, timestamp, metadata) {
  const [hasTs, ts] = timestampNs(timestamp);
  const ptr = handlePtr(handle);
  const opts = [C.NEMO_RELAY_SCOPE_OPTIONS_VERSION, 0, 0, null, jsonArg(metadata, 'metadata'), jsonArg(output, 'output'), hasTs, ts];
  ffi.call('nemo_relay_scope_end', [rt(), effectiveStack()._ptr, ptr, opts]);
  scopeEnded(handle);
}

/** @returns {ScopeHandle} the top of the effective stack (its root when nothing was pushed). */
function getHandle() {
  return makeHandle('nemo_relay_scope_current', [null, effectiveStack()._ptr]);
}

/**
 * Runs `callback(handle, signal)` inside a new scope, always popped with OK or ERROR status metadata.
 * @returns {Promise<any>} the callback's value after JSON normalisation
 */
async function withScope(name, scopeType, callback, handle, attributes, data, metadata, input) {
  const stack = effectiveStack();
  const h = als.run(carry({ stack }), () => pushScope(name, scopeType, handle, attributes, data, metadata, input));
  const ac = new AbortController();
  let value;
  try {
    value = await als.run(carry({ stack }), () => callback(h, ac.signal));
    value = toJsonValue(value, 'withScope result');
  } catch (err) {
    const e = err instanceof Error ? err : new NemoRelayError(`internal error: ${String(err)}`, Status.E_INTERNAL);
    als.run(carry({ stack }), () => popScope(h, null, null, { 'otel.status_code': 'ERROR', 'otel.status_description': errorMessage(err) }));
    throw e;
  }
  als.run(carry({ stack }), () => popScope(h, null, null, { 'otel.status_code': 'OK' }));
  return value;
}

/** Emits a mark event. */
function event(name, handle, data, metadata, timestamp, dataSchema, severity) {
  const [hasTs, ts] = timestampNs(timestamp);
  if (severity !== null && severity !== undefined && metadata !== null && metadata !== undefined &&
    (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new NemoRelayError('invalid argument: severity requires metadata to be an object', Status.E_INVALID_ARGUMENT);
  }
  const opts = [C.NEMO_RELAY_MARK_OPTIONS_VERSION, opt(severity, C.NEMO_RELAY_SEVERITY_NONE), handlePtr(handle), jsonArg(data, 'data'),
    jsonArg(dataSchema, 'dataSchema'), jsonArg(metadata, 'metadata'), hasTs, ts];
  ffi.call('nemo_relay_mark', [rt(), effectiveStack()._ptr, cstr(name), opts]);
}

// MARK: - Invoking JS callbacks

/**
 * Runs a JS callback for a C token and completes the token with its (converted) result.
 * @param {number} token
 * @param {() => any} run calls the user function
 * @param {(v: any) => any} convert maps the JS result to the C result document
 * @param {{sync?: boolean, stack?: ScopeStack}} [o]
 */
function answer(token, run, convert, o = {}) {
  const gen = helper.generation;
  let result;
  try {
    // The callbacks of a managed call keep its token in the store: captures name the call.
    result = o.stack ? als.run(carry({ stack: o.stack, callToken: o.managed ? token : 0 }), run) : run();
  } catch (err) {
    return fail(token, err, o.record, gen);
  }
  if (!o.sync && result !== null && typeof result === 'object' && typeof result.then === 'function') {
    // Held while the Promise runs, or until the token is cancelled: an abandoned callback's Promise
    // may never settle, and must not keep the process alive.
    helper.hold();
    let held = true;
    const release = () => {
      if (held) {
        held = false;
        helper.release();
      }
    };
    signals.get(token)?.signal.addEventListener('abort', release, { once: true });
    result.then(
      (v) => { release(); ok(token, v, convert, o.record, gen); },
      (err) => { release(); fail(token, err, o.record, gen); });
  } else {
    ok(token, result, convert, o.record, gen);
  }
}

function ok(token, v, convert, record, gen) {
  let json;
  try {
    json = JSON.stringify(toJsonValue(convert(v), 'callback result'));
  } catch (err) {
    return fail(token, err, record, gen);
  }
  complete(token, Status.OK, json, gen);
}

function fail(token, err, record, gen = helper.generation) {
  if (record) recordCallbackError(record, err);
  const message = errorMessage(err);
  const type = err instanceof Error ? err.name : 'Error';
  if (gen !== helper.generation) return;
  // Should the token be gone (cancelled, answered), the library frees the id at once.
  ffi.callLater('nemo_relay_complete_failure', [token, Status.E_CALLBACK, JSON.stringify({ type, message }), failureIdStruct(keepFailure(err))]);
}

/** Registers a callback entry and returns the C `nemo_relay_callback_t` fields for it. */
function callbackStruct(onCall) {
  rt();
  const id = addEntry({ onCall });
  return [state.fn.callback, id, state.fn.free];
}

/** A Promise settled by a done callback; `start(doneStruct)` makes the C call. */
function withDone(start, map) {
  rt();
  return new Promise((resolve, reject) => {
    const id = addEntry({
      onLost(reason) {
        helper.release();
        reject(reason);
      },
      onDone(status, text, failureId) {
        helper.release();
        if (status === Status.OK) {
          let v;
          try {
            v = map(JSON.parse(text));
          } catch (e) {
            return reject(e);
          }
          resolve(v);
        } else {
          reject(failure(status, text, failureId));
        }
      },
    });
    helper.hold();
    // The start is synchronous, so the call's start event and its parent scope are decided here,
    // in program order; a call that did not start rejects.
    let r;
    try {
      const [name, args] = start([state.fn.done, id, 0]);
      r = ffi.rawCall(name, args);
    } catch (e) {
      r = null;
      if (registry.delete(id)) helper.release();
      return reject(e);
    }
    if (typeof r.ret === 'number' && r.ret > 0 && registry.delete(id)) {
      helper.release();
      reject(new NemoRelayError(r.err || 'call did not start', r.ret));
    }
  });
}

function toolResultOut(v, what) {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !('result' in v)) {
    throw new TypeError(`${what} must return ToolExecutionResult`);
  }
  const out = { result: v.result === undefined ? null : v.result };
  if (v.annotation !== null && v.annotation !== undefined) out.annotation = v.annotation;
  if (v.pendingMarks !== undefined && v.pendingMarks !== null) out.pending_marks = pendingMarks(v.pendingMarks);
  return out;
}

function toolResultIn(v) {
  const out = { result: v?.result ?? null };
  if (v?.annotation !== null && v?.annotation !== undefined) out.annotation = v.annotation;
  return out;
}

const MARK_KEYS = { name: 'name', category: 'category', categoryProfile: 'category_profile', data: 'data', dataSchema: 'data_schema', metadata: 'metadata', severity: 'severity' };
function pendingMarks(list) {
  if (!Array.isArray(list)) throw new TypeError('pendingMarks must be an array');
  return list.map((m) => {
    const o = {};
    for (const [k, v] of Object.entries(m ?? {})) {
      if (!(k in MARK_KEYS)) throw new TypeError(`unknown pending mark key ${k}`);
      o[MARK_KEYS[k]] = v;
    }
    return o;
  });
}

// MARK: - Codecs passed as functions

/** A C codec for JS codec functions (slots 9-11 of llmCallExecute), or 0. */
function jsCodec(decode, encode, decodeResponse) {
  if (!decode && !encode && !decodeResponse) return 0;
  const method = (f) => (f
    ? callbackStruct((token, input) => answer(token, () => f(input), (v) => v, { sync: true }))
    : [0, 0, 0]);
  const [p] = ffi.call('nemo_relay_codec_new', [null, 'js', [1, ...method(decode), ...method(encode), ...method(decodeResponse)]]);
  return p;
}

function codecPair(codecDecode, codecEncode, responseCodecDecode) {
  const hasD = typeof codecDecode === 'function';
  const hasE = typeof codecEncode === 'function';
  if (hasD !== hasE) throw new NemoRelayError('invalid argument: codecDecode and codecEncode must be provided together', Status.E_INVALID_ARGUMENT);
  const req = hasD ? jsCodec(codecDecode, (payload) => codecEncode(payload), null) : 0;
  const res = typeof responseCodecDecode === 'function' ? jsCodec(null, null, responseCodecDecode) : 0;
  return [req, res];
}

// MARK: - LLM calls

function llmOptions(handle, attributes, data, metadata, modelName, codec, responseCodec, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  return [C.NEMO_RELAY_LLM_OPTIONS_VERSION, opt(attributes, 0) & 3, handlePtr(handle), jsonArg(data, 'data'), jsonArg(metadata, 'metadata'),
    modelName === null || modelName === undefined ? null : cstr(modelName, 'modelName'), null, codec, responseCodec, hasTs, ts];
}

/** The managed LLM pipeline with C codec pointers (shared by the raw and the typed API). */
function llmExecuteWith(name, request, func, handle, attributes, data, metadata, modelName, codec, responseCodec) {
  const req = requestJson(request);
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  const stack = effectiveStack();
  const opts = llmOptions(handle, attributes, data, metadata, modelName, codec, responseCodec);
  const provider = callbackStruct((token, input) => answer(token, () => func(input, signalFor(token)), (v) => v, { stack, managed: true }));
  return withDone(
    (done) => ['nemo_relay_llm_execute', [0, rt(), stack._ptr, cstr(name), req, opts, provider, done]],
    (v) => v,
  );
}

/**
 * Runs a managed LLM call; resolves with the provider's (or an execution intercept's) response.
 * @returns {Promise<any>}
 */
function llmCallExecute(name, request, func, handle, attributes, data, metadata, modelName, codecDecode, codecEncode, responseCodecDecode) {
  const [c, rc] = codecPair(codecDecode, codecEncode, responseCodecDecode);
  try {
    return llmExecuteWith(name, request, func, handle, attributes, data, metadata, modelName, c, rc);
  } finally {
    // The call holds its own references; release ours once its start (queued before) went out.
    if (c) ffi.callLater('nemo_relay_codec_free', [c]);
    if (rc) ffi.callLater('nemo_relay_codec_free', [rc]);
  }
}

/** Same as llmCallExecute (both await async providers). */
const llmCallExecuteAsync = llmCallExecute;

// MARK: - Streaming LLM calls

const NEW_STREAM = Symbol('LlmStream');

/**
 * Chunks an `LlmStream` holds for its reader before it stops taking more (docs/node.md, "Streams").
 * Past it the chunk callback's token stays pending, so the library's stream buffer (1024 chunks) fills
 * and then the producer's pushes report NEMO_RELAY_E_FULL: a reader that stops reading holds at most
 * this many chunks in JS and the buffer's in the library, and the provider waits.
 */
const STREAM_HIGH_WATER_MARK = 64;

/** Producers waiting for room in some stream's buffer (woken whenever a reader frees room). */
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

/**
 * The read end of a streaming LLM call. Chunks reach it through the C callback consumer (`on_chunk`)
 * and wait here until `next()` takes them. Each chunk is answered at once while fewer than
 * `STREAM_HIGH_WATER_MARK` wait; past that the answer waits for the reader (back-pressure).
 */
class LlmStream {
  #queue = [];
  #head = 0;
  /** Answers the chunk callback held back while the queue is full, or null. */
  #held = null;
  /** @type {Array<{resolve: Function, reject: Function}>} */
  #waiters = [];
  #ended = false;
  #error = null;
  #closed = false;
  #ptr = 0;
  #gen = -1;
  /** @type {(() => any) | null} */
  #onClose = null;

  constructor(key) {
    if (key !== NEW_STREAM) throw new TypeError('LlmStream has no public constructor');
  }

  /**
   * The next chunk, or `null` once the stream is exhausted (or closed); rejects with the stream's
   * failure (the provider's or collector's own error, ...) after the chunks produced before it.
   * @returns {Promise<any>}
   */
  next() {
    if (this.#head < this.#queue.length) {
      const c = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      if (this.#held && this.buffered < STREAM_HIGH_WATER_MARK) this.#release();
      return Promise.resolve(c);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Stops the stream early: the producer is cancelled, the finalizer runs on the partial state and the
   * end event records `stream dropped before clean completion`. Unread chunks are discarded; `next()`
   * then resolves `null`. Idempotent. Rejects with the error of the native close or of the cleanup.
   * @returns {Promise<void>}
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    const errors = [];
    if (!this.#ended && this.#ptr && this.#gen === helper.generation) {
      try {
        ffi.call('nemo_relay_stream_close', [this.#ptr]);
      } catch (e) {
        errors.push(e);
      }
    }
    if (this.#held) this.#release(); // the library waits for the held chunk's answer to end the stream
    this._end(null);
    if (this.#onClose) {
      try {
        await this.#onClose();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'closing the stream failed');
  }

  /** Reads the stream with `for await`; leaving the loop early closes it. */
  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const value = await this.next();
        return value === null ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Chunks received and not read yet: at most `STREAM_HIGH_WATER_MARK` (docs/node.md, "Streams").
   * @returns {number}
   */
  get buffered() {
    return this.#queue.length - this.#head;
  }

  /** The most chunks a stream holds for its reader before the provider is held back. */
  static get highWaterMark() {
    return STREAM_HIGH_WATER_MARK;
  }

  #release() {
    const answer = this.#held;
    this.#held = null;
    answer();
    wakeRoomWaiters();
  }

  /** @internal a chunk from on_chunk; `answer()` completes its token (the library then sends the next) */
  _push(chunk, answer) {
    if (this.#closed || this.#ended) return answer();
    const w = this.#waiters.shift();
    if (w) w.resolve(chunk);
    else this.#queue.push(chunk);
    if (this.buffered < STREAM_HIGH_WATER_MARK) answer();
    else this.#held = answer;
  }

  /** @internal the outcome (null: clean end); settles every waiting `next()` */
  _end(error) {
    if (!this.#ended) {
      this.#ended = true;
      if (error && !this.#closed) this.#error = error;
    }
    this._freeHandle();
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) {
      if (this.#error) w.reject(this.#error);
      else w.resolve(null);
    }
  }

  /** @internal */
  _attach(ptr, gen, onClose) {
    this.#ptr = ptr;
    this.#gen = gen;
    this.#onClose = onClose;
    if (this.#ended) this._freeHandle();
  }

  _freeHandle() {
    if (this.#ptr && this.#gen === helper.generation) ffi.callLater('nemo_relay_stream_free', [this.#ptr]);
    this.#ptr = 0;
  }
}

/** Runs a collector or finalizer synchronously for a waiting closure and returns its `{status, json}`. */
function syncAnswer(run, record) {
  try {
    const v = run();
    return { status: Status.OK, json: JSON.stringify(toJsonValue(v === undefined ? null : v, 'callback result')) };
  } catch (err) {
    recordCallbackError(record, err);
    // The helper fails the token with nemo_relay_complete_failure and this failure id.
    return {
      status: Status.E_CALLBACK,
      json: JSON.stringify({ type: err instanceof Error ? err.name : 'Error', message: errorMessage(err) }),
      failure: failureIdStruct(keepFailure(err)),
    };
  }
}

/** A `nemo_relay_callback_t` answered synchronously (the helper waits for it), or an absent one. */
function waitStruct(fn) {
  if (fn === null || fn === undefined) return [0, 0, 0];
  rt();
  return [state.fn.wait, addEntry({ onWait: fn }), state.fn.free];
}

function thenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

/** The async iterator of what a stream provider or intercept returned; TypeError for anything else. */
function asyncIteratorOf(src, what) {
  if (src !== null && src !== undefined) {
    if (typeof src[Symbol.asyncIterator] === 'function') return src[Symbol.asyncIterator]();
    if (typeof src.next === 'function') return src;
  }
  throw new TypeError(`${what} must return an async iterable or an async iterator`);
}

/**
 * Feeds the async iterable `produce(signal)` returns into the producer of a stream provider's (or
 * stream intercept's) `token`, then completes the token: OK at the end, the error when producing
 * fails. A full buffer is retried on the next turn; a cancelled stream (closed early, collector
 * failure) stops the iterator (`return()`) and aborts `signal`.
 */
function pumpStream(token, produce, stack) {
  const gen = helper.generation;
  const ac = new AbortController();
  let cancelled = false;
  const cancelId = addEntry({ onDone() { cancelled = true; ac.abort(); } });
  let producer;
  try {
    [[producer]] = ffi.callBatch([
      ['nemo_relay_token_producer', [null, token]],
      ['nemo_relay_producer_on_cancel', [{ $out: [0, 0] }, [state.fn.done, cancelId, state.fn.free]]],
    ]);
  } catch (err) {
    registry.delete(cancelId);
    return fail(token, err, null, gen);
  }
  const run = async () => {
    let it = null;
    try {
      let src = produce(ac.signal);
      if (thenable(src)) src = await src;
      it = asyncIteratorOf(src, 'a stream provider');
      while (!cancelled) {
        const r = await it.next();
        if (r.done) {
          it = null;
          break;
        }
        if (cancelled) break;
        const json = JSON.stringify(toJsonValue(r.value === undefined ? null : r.value, 'stream chunk'));
        let a;
        for (;;) {
          if (gen !== helper.generation) throw new NemoRelayError('the NemoRelay helper of this stream exited', undefined, 'ERR_NEMO_RELAY_HELPER');
          a = ffi.rawCall('nemo_relay_stream_push', [producer, json]);
          if (a.ret !== Status.E_FULL) break;
          await roomOrAbort(ac.signal); // the consumer's buffer is full: wait until its reader reads
        }
        if (a.ret === Status.E_CANCELLED) cancelled = true;
        else if (a.ret > 0) throw new NemoRelayError(a.err || 'nemo_relay_stream_push failed', a.ret);
      }
      if (it && typeof it.return === 'function') {
        try {
          await it.return();
        } catch (err) {
          recordCallbackError('stream provider cleanup', err);
        }
      }
      complete(token, Status.OK, 'null', gen); // after a cancellation the token is already answered
    } catch (err) {
      fail(token, err, null, gen);
    } finally {
      helper.release();
      if (gen === helper.generation) ffi.callLater('nemo_relay_producer_free', [producer]);
    }
  };
  helper.hold();
  // A stream provider (the one caller with a stack) keeps its token in the store: captures name the call.
  if (stack) als.run(carry({ stack, callToken: token }), run);
  else run();
}

/**
 * The inner layers' chunks, as a stream execution intercept's `next(request)` resolves with them
 * (docs/pipeline.md, "Transforming stream intercepts"): the read end of `nemo_relay_token_next_stream`,
 * fed by the library's callback consumer. A chunk's token stays pending while a chunk waits unread
 * here, so the library's bounded inner buffer (1024 chunks) holds the rest and the inner layers wait
 * for the intercept. Same reading surface as `LlmStream`: `next()`, `close()`, `for await`.
 */
class InnerStream {
  #queue = [];
  /** @type {Array<{resolve: Function, reject: Function}>} */
  #waiters = [];
  #parked = 0;
  #ended = false;
  #error = null;
  #closed = false;
  #ptr = 0;
  #gen;

  constructor(gen) {
    this.#gen = gen;
  }

  /**
   * The next inner chunk, or `null` once the inner layers ended (or the stream was closed); rejects
   * with the inner layers' failure (their own error) after their chunks.
   * @returns {Promise<any>}
   */
  next() {
    if (this.#queue.length > 0) {
      const c = this.#queue.shift();
      this.#resume();
      return Promise.resolve(c);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Stops reading: the inner layers are cancelled (their `signal` aborts), the intercept goes on and
   * the call ends as the intercept's own output does. Unread chunks are discarded. Idempotent.
   * @returns {Promise<void>}
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    if (!this.#ended && this.#ptr && this.#gen === helper.generation) ffi.call('nemo_relay_stream_close', [this.#ptr]);
    this._end(null);
  }

  /** Reads the inner chunks with `for await` (or `yield*`); leaving the loop early closes the stream. */
  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const value = await this.next();
        return value === null ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** @internal on_chunk: hand the chunk to a waiting reader and take the next, or hold it. */
  _chunk(token, chunk) {
    if (this.#closed || this.#ended) return complete(token, Status.OK, 'null', this.#gen);
    const w = this.#waiters.shift();
    if (w) {
      w.resolve(chunk);
      return complete(token, Status.OK, 'null', this.#gen);
    }
    this.#queue.push(chunk);
    this.#resume(); // at most one token is held, the newest chunk's
    this.#parked = token;
  }

  #resume() {
    const t = this.#parked;
    this.#parked = 0;
    if (t) complete(t, Status.OK, 'null', this.#gen);
  }

  /** @internal on_end (null: clean end), a close, or the helper's loss. */
  _end(error) {
    if (!this.#ended) {
      this.#ended = true;
      if (error && !this.#closed) this.#error = error;
      helper.release();
    }
    this.#resume();
    if (this.#ptr && this.#gen === helper.generation) ffi.callLater('nemo_relay_stream_free', [this.#ptr]);
    this.#ptr = 0;
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) {
      if (this.#error) w.reject(this.#error);
      else w.resolve(null);
    }
  }

  /** @internal */
  _attach(ptr) {
    this.#ptr = ptr;
    if (this.#ended) this._end(null);
  }
}

/**
 * `next(request)` of a stream execution intercept: runs the inner layers and resolves with their
 * chunks (an `InnerStream`), which the intercept reads, transforms and yields as it likes;
 * `yield* await next(req)` passes them through unchanged.
 */
function streamNextFor(token) {
  const gen = helper.generation;
  return (request) => {
    if (gen !== helper.generation) {
      return Promise.reject(new NemoRelayError('next: the NemoRelay helper of this call exited', undefined, 'ERR_NEMO_RELAY_HELPER'));
    }
    let json;
    try {
      json = requestJson(request, 'invalid LlmRequest from JS next');
    } catch (e) {
      return Promise.reject(e);
    }
    const inner = new InnerStream(gen);
    const onChunk = callbackStruct((t, chunk) => inner._chunk(t, chunk));
    const endId = addEntry({
      onDone(status, text, failureId) { inner._end(status === Status.OK ? null : failure(status, text, failureId)); },
      onLost(reason) { inner._end(reason); },
    });
    helper.hold();
    const so = [C.NEMO_RELAY_STREAM_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, ...onChunk, state.fn.done, endId, 0];
    let ptr;
    try {
      [ptr] = ffi.call('nemo_relay_token_next_stream', [null, token, json, so]);
    } catch (e) {
      if (registry.delete(endId)) helper.release();
      return Promise.reject(e);
    }
    inner._attach(ptr);
    return Promise.resolve(inner);
  };
}

/**
 * The managed streaming pipeline with C codec pointers (shared by the raw and the typed API).
 * Resolves with the stream once the provider (or a stream intercept's first chunk, or the end) is
 * reached; rejects when the call fails before that (guardrail rejection, intercept failure, ...).
 */
function llmStreamWith(name, request, func, collector, finalizer, handle, attributes, data, metadata, modelName, codec, responseCodec, onClose = null) {
  const req = requestJson(request);
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  if (collector !== null && collector !== undefined && typeof collector !== 'function') throw new TypeError('collector must be a function');
  if (finalizer !== null && finalizer !== undefined && typeof finalizer !== 'function') throw new TypeError('finalizer must be a function');
  const stack = effectiveStack();
  const opts = llmOptions(handle, attributes, data, metadata, modelName, codec, responseCodec);
  const stream = new LlmStream(NEW_STREAM);
  return new Promise((resolve, reject) => {
    let settled = false;
    const started = () => {
      if (!settled) {
        settled = true;
        resolve(stream);
      }
    };
    const provider = callbackStruct((token, input) => {
      started();
      pumpStream(token, (signal) => func(input, signal), stack);
    });
    const collect = collector ? (chunk) => syncAnswer(() => {
      const r = collector(chunk);
      if (thenable(r)) Promise.resolve(r).catch((e) => recordCallbackError('stream collector', e));
      return null;
    }, 'stream collector') : null;
    const finalize = finalizer ? () => syncAnswer(() => {
      const v = finalizer();
      if (thenable(v)) throw new TypeError('a stream finalizer must return its value synchronously');
      return v;
    }, 'stream finalizer') : null;
    const onChunk = callbackStruct((token, chunk) => {
      started();
      // Answered at once while the reader keeps up; held back once STREAM_HIGH_WATER_MARK chunks wait.
      const gen = helper.generation;
      stream._push(chunk, () => complete(token, Status.OK, 'null', gen));
    });
    const endId = addEntry({
      onDone(status, text, failureId) {
        helper.release();
        const err = status === Status.OK ? null : failure(status, text, failureId);
        if (err && !settled) {
          settled = true;
          reject(err);
        }
        started();
        stream._end(err);
      },
      onLost(reason) {
        helper.release();
        if (!settled) {
          settled = true;
          reject(reason);
        }
        stream._end(reason);
      },
    });
    helper.hold();
    const so = [C.NEMO_RELAY_STREAM_OPTIONS_VERSION, 0, ...waitStruct(collect), ...waitStruct(finalize), ...onChunk, state.fn.done, endId, 0];
    let r;
    try {
      r = ffi.rawCall('nemo_relay_llm_stream_execute', [null, rt(), stack._ptr, cstr(name), req, opts, so, provider]);
    } catch (e) {
      if (registry.delete(endId)) helper.release();
      settled = true;
      return reject(e);
    }
    if (typeof r.ret === 'number' && r.ret > 0) {
      if (registry.delete(endId)) helper.release();
      settled = true;
      return reject(new NemoRelayError(r.err || 'stream did not start', r.ret));
    }
    stream._attach(r.out[0], helper.generation, onClose);
  });
}

/**
 * Runs a managed streaming LLM call. `func(request, signal)` returns an async iterable (or iterator,
 * or a Promise of one) of chunks; `collector(chunk)` sees a copy of each chunk synchronously;
 * `finalizer()` is called once when the stream ends (or is closed) and returns the end event's payload.
 * @returns {Promise<LlmStream>}
 */
function llmStreamCallExecute(name, request, func, collector, finalizer, handle, attributes, data, metadata, modelName,
  codecDecode, codecEncode, responseCodecDecode) {
  const [c, rc] = codecPair(codecDecode, codecEncode, responseCodecDecode);
  try {
    return llmStreamWith(name, request, func, collector, finalizer, handle, attributes, data, metadata, modelName, c, rc);
  } finally {
    if (c) ffi.callLater('nemo_relay_codec_free', [c]);
    if (rc) ffi.callLater('nemo_relay_codec_free', [rc]);
  }
}


/** Starts a manual LLM span. @returns {LlmHandle} */
function llmCall(name, request, handle, attributes, data, metadata, modelName, timestamp) {
  const req = requestJson(request);
  const opts = llmOptions(handle, attributes, data, metadata, modelName, 0, 0, timestamp);
  return makeHandle('nemo_relay_llm_call', [null, rt(), effectiveStack()._ptr, cstr(name), req, opts], LlmHandle);
}

/** Ends a manual LLM span. */
function llmCallEnd(handle, response, data, metadata, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  const opts = [C.NEMO_RELAY_LLM_END_OPTIONS_VERSION, jsonArg(data, 'data'), jsonArg(metadata, 'metadata'), null, 0, hasTs, ts];
  ffi.call('nemo_relay_llm_call_end', [rt(), effectiveStack()._ptr, handlePtr(handle), jsonArg(response, 'response'), opts]);
  scopeEnded(handle);
}

// MARK: - Tool calls

function toolOptions(handle, attributes, data, metadata, toolCallId, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  return [C.NEMO_RELAY_TOOL_OPTIONS_VERSION, opt(attributes, 0) & 1, handlePtr(handle), jsonArg(data, 'data'), jsonArg(metadata, 'metadata'),
    toolCallId === null || toolCallId === undefined ? null : cstr(toolCallId, 'toolCallId'), hasTs, ts];
}

/**
 * Runs a managed tool call; `func(args, signal)` returns `{result, annotation?}`.
 * @returns {Promise<{result: any, annotation?: any}>}
 */
function toolCallExecute(name, args, func, handle, attributes, data, metadata, toolCallId) {
  const a = JSON.stringify(toJsonValue(args, 'args'));
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  const stack = effectiveStack();
  const opts = toolOptions(handle, attributes, data, metadata, toolCallId);
  const tool = callbackStruct((token, input) => answer(
    token, () => func(input, signalFor(token)), (v) => toolResultOut(v, 'tool callback'), { stack, managed: true }));
  return withDone(
    (done) => ['nemo_relay_tool_execute', [0, rt(), stack._ptr, cstr(name), a, opts, tool, done]],
    toolResultIn,
  );
}

const toolCallExecuteAsync = toolCallExecute;

/** Starts a manual tool span. @returns {ToolHandle} */
function toolCall(name, args, handle, attributes, data, metadata, toolCallId, timestamp) {
  const opts = toolOptions(handle, attributes, data, metadata, toolCallId, timestamp);
  return makeHandle('nemo_relay_tool_call', [null, rt(), effectiveStack()._ptr, cstr(name), JSON.stringify(toJsonValue(args, 'args')), opts], ToolHandle);
}

/** Ends a manual tool span with `{result, annotation?}`. */
function toolCallEnd(handle, result, data, metadata, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  const opts = [C.NEMO_RELAY_TOOL_OPTIONS_VERSION, 0, 0, jsonArg(data, 'data'), jsonArg(metadata, 'metadata'), null, hasTs, ts];
  const r = result === null || result === undefined ? null : JSON.stringify(toJsonValue(toolResultIn(result), 'result'));
  ffi.call('nemo_relay_tool_call_end', [rt(), effectiveStack()._ptr, handlePtr(handle), r, opts]);
  scopeEnded(handle);
}

// MARK: - Chain helpers

/** Runs only the LLM conditional-execution guardrails; rejects when one blocks. @returns {Promise<void>} */
function llmConditionalExecution(request) {
  const req = requestJson(request);
  const stack = effectiveStack();
  return withDone((done) => ['nemo_relay_llm_conditional_execution', [rt(), stack._ptr, req, done]], () => undefined);
}

/**
 * Runs only the LLM request-intercept chain (no codec, nothing emitted).
 * @returns {Promise<{request: any, annotated: any, pendingMarks: any[], optimizationContributions: any[]}>}
 */
function llmRequestIntercepts(name, request) {
  const req = requestJson(request);
  const stack = effectiveStack();
  return withDone(
    (done) => ['nemo_relay_llm_request_intercepts', [rt(), stack._ptr, cstr(name), req, done]],
    (v) => ({
      request: v.request,
      annotated: v.annotated_request ?? null,
      pendingMarks: (v.pending_marks ?? []).map((m) => ({
        name: m.name, category: m.category, categoryProfile: m.category_profile, data: m.data,
        dataSchema: m.data_schema, metadata: m.metadata, severity: m.severity,
      })),
      optimizationContributions: [],
    }),
  );
}

/** Runs only the tool conditional-execution guardrails; rejects when one blocks. @returns {Promise<void>} */
function toolConditionalExecution(name, args) {
  const a = JSON.stringify(toJsonValue(args, 'args'));
  const stack = effectiveStack();
  return withDone((done) => ['nemo_relay_tool_conditional_execution', [rt(), stack._ptr, cstr(name), a, done]], () => undefined);
}

/** Runs only the tool request-intercept chain; resolves with the transformed args. @returns {Promise<any>} */
function toolRequestIntercepts(name, args) {
  const a = JSON.stringify(toJsonValue(args, 'args'));
  const stack = effectiveStack();
  return withDone((done) => ['nemo_relay_tool_request_intercepts', [rt(), stack._ptr, cstr(name), a, done]], (v) => v);
}

// MARK: - Operational logging (docs/logging.md)

/**
 * Emits a structured operational record (target `nemo_relay.node[.<target>]`).
 * @param {string} level `trace`, `debug`, `info`, `warn` (or `warning`) or `error`
 * @param {string} message
 * @param {{target?: string, fields?: object | null}} [options]
 */
function log(level, message, options = {}) {
  const { target = '', fields = null } = options ?? {};
  for (const [what, v] of [['level', level], ['message', message], ['target', target]]) {
    if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  }
  if (fields !== null && fields !== undefined && (typeof fields !== 'object' || Array.isArray(fields))) {
    throw new TypeError('log fields must be an object');
  }
  const f = fields == null ? null : JSON.stringify(toJsonValue(fields, 'fields'));
  rt();
  ffi.call('nemo_relay_log_emit', [level, target ? `nemo_relay.node.${target}` : 'nemo_relay.node', null, message, f]);
}
const trace = (message, options) => log('trace', message, options);
const debug = (message, options) => log('debug', message, options);
const info = (message, options) => log('info', message, options);
const warn = (message, options) => log('warn', message, options);
const error = (message, options) => log('error', message, options);

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

// MARK: - Subscribers

const deliveries = new Set();

function subscribe(owner, name, cb, scopeUuid = null) {
  if (typeof cb !== 'function') throw new TypeError('callback must be a function');
  rt();
  const label = `subscriber ${name}`;
  const id = addEntry({
    onEvent(event) {
      let r;
      try {
        r = cb(event);
      } catch (e) {
        return recordCallbackError(label, e);
      }
      if (r && typeof r.then === 'function') {
        const p = Promise.resolve(r).catch((e) => recordCallbackError(label, e)).finally(() => deliveries.delete(p));
        deliveries.add(p);
      }
    },
  });
  try {
    ffi.call('nemo_relay_subscriber_register', [rt(), owner, cstr(name), state.fn.subscriber, id, state.fn.free]);
  } catch (e) {
    registry.delete(id);
    throw e;
  }
  if (scopeUuid !== null) noteScopeLocal(scopeUuid, `subscriber:${name}`, true);
  else restorable.set(`subscriber:${name}`, () => subscribe(0, name, cb));
}

/** Registers a subscriber receiving every event as a fresh plain object. */
function registerSubscriber(name, cb) {
  subscribe(0, name, cb);
}

/** @returns {boolean} whether a subscriber was removed. */
function deregisterSubscriber(name) {
  const [removed] = ffi.call('nemo_relay_subscriber_deregister', [null, rt(), 0, cstr(name)]);
  if (removed) exporters.forgetName(String(name)); // it may have been an exporter's registration
  restorable.delete(`subscriber:${name}`);
  return removed;
}

function scopeRegisterSubscriber(uuid, name, cb) {
  subscribe(scopeByUuid(uuid), name, cb, uuid);
}

function scopeDeregisterSubscriber(uuid, name) {
  const removed = ffi.call('nemo_relay_subscriber_deregister', [null, rt(), scopeByUuid(uuid), cstr(name)])[0];
  noteScopeLocal(uuid, `subscriber:${name}`, false);
  return removed;
}

/**
 * Resolves once every event queued before the call was delivered, including the Promises subscribers returned.
 * The wait happens on a helper thread, never on the event loop.
 * @returns {Promise<void>}
 */
async function flushSubscribers() {
  const r = await ffi.callAsync('nemo_relay_flush', [rt(), '-1']);
  if (r.ret > 0) throw new NemoRelayError(r.err || 'flush failed', r.ret);
  while (deliveries.size) await Promise.allSettled([...deliveries]);
}

/** @returns {number} events dropped because a subscriber's queue was full. */
function droppedEvents() {
  return Number(ffi.call('nemo_relay_dropped_events', [null, rt()])[0]);
}

// MARK: - Built-in codecs

const builtinPtrs = new Map();
function builtinPtr(id) {
  let p = builtinPtrs.get(id);
  if (!p) {
    rt();
    [p] = ffi.call('nemo_relay_codec_builtin', [null, id]);
    builtinPtrs.set(id, p);
  }
  return p;
}

/** A built-in provider codec; every method is synchronous and throws on malformed input. */
class BuiltinCodec {
  /** @param {string} id */
  constructor(id) {
    Object.defineProperty(this, 'id', { value: id, enumerable: true });
  }
  /** @returns {any} the annotated request */
  decode(request) {
    return JSON.parse(ffi.call('nemo_relay_codec_decode', [null, builtinPtr(this.id), requestJson(request)])[0]);
  }
  /** @returns {{headers: object, content: any}} `original` with the annotation written back */
  encode(annotated, original) {
    const a = JSON.stringify(toJsonValue(annotated, 'annotated'));
    return JSON.parse(ffi.call('nemo_relay_codec_encode', [null, builtinPtr(this.id), a, requestJson(original)])[0]);
  }
  /** @returns {any} the annotated response */
  decodeResponse(response) {
    return JSON.parse(ffi.call('nemo_relay_codec_decode_response', [null, builtinPtr(this.id), JSON.stringify(toJsonValue(response, 'response'))])[0]);
  }
  /** @internal the C codec pointer */
  get _ptr() {
    return builtinPtr(this.id);
  }
}

class OpenAIChatCodec extends BuiltinCodec {
  constructor() { super('openai_chat'); }
}
class OpenAIResponsesCodec extends BuiltinCodec {
  constructor() { super('openai_responses'); }
}
class AnthropicMessagesCodec extends BuiltinCodec {
  constructor() { super('anthropic_messages'); }
}
class GeminiGenerateContentCodec extends BuiltinCodec {
  constructor() { super('gemini_generate_content'); }
}
class OCIGenAIChatCodec extends BuiltinCodec {
  constructor() { super('oci_genai'); }
}
class BedrockConverseCodec extends BuiltinCodec {
  constructor() { super('bedrock_converse'); }
}
const CODEC_CLASSES = [
  OpenAIChatCodec, OpenAIResponsesCodec, AnthropicMessagesCodec, GeminiGenerateContentCodec, OCIGenAIChatCodec,
  BedrockConverseCodec,
];
let builtinTable = null;
/**
 * Every name the core accepts for a built-in codec (ids and aliases) to a factory, read once from
 * `nemo_relay_codec_builtin_list`; a codec without a class of its own is a plain BuiltinCodec.
 * @returns {Map<string, () => BuiltinCodec>}
 */
function builtinCodecs() {
  if (!builtinTable) {
    rt();
    const byId = new Map(CODEC_CLASSES.map((C) => [new C().id, C]));
    const table = new Map();
    for (const { id, aliases } of JSON.parse(ffi.call('nemo_relay_codec_builtin_list', [null])[0])) {
      const C = byId.get(id);
      const make = C ? () => new C() : () => new BuiltinCodec(id);
      for (const name of [id, ...aliases]) table.set(name, make);
    }
    builtinTable = table;
  }
  return builtinTable;
}

module.exports = {
  // types
  ScopeType, LogSeverity, ScopeHandle, LlmHandle, ToolHandle, ScopeStack, LlmRequest, LlmStream, NemoRelayError,
  // scopes
  getHandle, pushScope, popScope, withScope, event,
  createScopeStack, currentScopeStack, withScopeStack, setThreadScopeStack, scopeStackActive,
  // llm
  llmCallExecute, llmCallExecuteAsync, llmStreamCallExecute, llmCall, llmCallEnd, llmConditionalExecution, llmRequestIntercepts,
  // tools
  toolCallExecute, toolCallExecuteAsync, toolCall, toolCallEnd, toolConditionalExecution, toolRequestIntercepts,
  // middleware
  ...middlewareExports,
  // subscribers
  registerSubscriber, deregisterSubscriber, scopeRegisterSubscriber, scopeDeregisterSubscriber, flushSubscribers, droppedEvents,
  // errors
  getLastCallbackError, clearLastCallbackError,
  // operational logging
  log, trace, debug, info, warn, error,
  // the helper process
  restartHelper,
  // codecs
  BuiltinCodec, OpenAIChatCodec, OpenAIResponsesCodec, AnthropicMessagesCodec, GeminiGenerateContentCodec, OCIGenAIChatCodec, BedrockConverseCodec,
  // exporters
  AtofExporter: exporters.AtofExporter, AtifExporter: exporters.AtifExporter,
  OpenTelemetrySubscriber: exporters.OpenTelemetrySubscriber,
  // propagation across processes
  ...propagation.exports,
};

// Internal hooks for ./typed.js (not part of the public surface).
Object.defineProperty(module.exports, '__internal', {
  value: {
    llmExecuteWith, llmStreamWith, jsCodec, BuiltinCodec, rt, builtinCodecs,
    /** Kept callback failures not yet taken or freed (tests check that none stay behind). */
    pendingFailures: () => [...registry.values()].filter((e) => 'failure' in e).length,
  },
  enumerable: false,
});

// As the reference, an invalid logging environment fails `require`: start the helper (which applies it) now.
if (['NEMO_RELAY_LOG', 'NEMO_RELAY_LOG_STDERR', 'NEMO_RELAY_LOG_STDERR_FORMAT', 'NEMO_RELAY_LOG_CONFIG_PATH'].some(
  (name) => process.env[name] !== undefined)) {
  rt();
}
