// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Scope stacks, scope handles and scopes: the public stack functions, `ScopeHandle` and its LLM and
 * tool kinds, the argument helpers every call shares (timestamps, optionals, `LlmRequest`), and
 * `pushScope`, `popScope`, `getHandle`, `withScope` and `event`.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');
const { NemoRelayError, Status } = require('./errors');
const { toJsonValue, jsonArg, cstr, PLAIN } = require('./json');
const { CONSTANTS: C } = require('./abi');
const {
  als, carry, state, scopeRegistry, liveScopes, scopeEnded, checkLive, rt, errorMessage, ScopeStack, effectiveStack,
} = require('./runtime');

// MARK: - Stacks

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

module.exports = {
  createScopeStack, currentScopeStack, withScopeStack, setThreadScopeStack, scopeStackActive,
  ScopeHandle, LlmHandle, ToolHandle, makeHandle, handlePtr, scopeByUuid,
  timestampNs, opt, requestJson, LlmRequest,
  pushScope, popScope, getHandle, withScope, event,
};
