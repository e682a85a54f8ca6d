// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Relay propagation across processes and W3C trace context (include/nemo_relay.h, "Propagation
 * across processes"). A `PropagationContext` is a frozen plain object
 * `{version, rootUuid, parentUuid, traceparent, tracestate}` (absent parts are `null`); every check and
 * every canonical form comes from the core, so it agrees byte for byte with the Python binding and
 * the reference's wire JSON (`propagationContextToJson`).
 *
 * Captures inside the provider or tool function of a managed call name the call as their parent,
 * also after an `await`: lib/callbacks.js and lib/streams.js run those callbacks with their token in
 * the AsyncLocalStorage store, and the first capture asks the core which call the token belongs to.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');

const { CONSTANTS: C } = require('./abi');

const Mode = Object.freeze({
  ROOTED: C.NEMO_RELAY_PROPAGATION_ROOTED, ROOTLESS: C.NEMO_RELAY_PROPAGATION_ROOTLESS,
  WITH_ROOT: C.NEMO_RELAY_PROPAGATION_WITH_ROOT,
});

/** What lib/runtime.js lends this module: see bind(). */
let host = null;

/**
 * @param {{als: import('node:async_hooks').AsyncLocalStorage<any>, effectiveStack: () => any,
 *   wrapStack: (ptr: number) => any, rt: () => number}} h
 */
function bind(h) {
  host = h;
}

const callScopes = new FinalizationRegistry(([ptr, gen]) => {
  if (gen === helper.generation) helper.post('nemo_relay_scope_free', [ptr]);
});

/** Builds the frozen context object from the core's canonical JSON. */
function fromCanonical(text) {
  const d = JSON.parse(text);
  return Object.freeze({
    version: d.version,
    rootUuid: d.root_uuid ?? null,
    parentUuid: d.parent_uuid,
    traceparent: d.traceparent ?? null,
    tracestate: d.tracestate ?? null,
  });
}

function optionalString(v, what) {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  return v;
}

/** The constructor arguments of `ctx` as the core's fields object (validated there). */
function fields(ctx) {
  if (ctx === null || typeof ctx !== 'object' || Array.isArray(ctx)) {
    throw new TypeError('context must be a PropagationContext object');
  }
  if (typeof ctx.parentUuid !== 'string') throw new TypeError('parentUuid must be a string');
  const version = ctx.version === undefined || ctx.version === null ? 1 : ctx.version;
  if (!Number.isInteger(version) || version < 0 || version > 65535) {
    throw new TypeError('version must be an integer from 0 to 65535');
  }
  return JSON.stringify({
    parent_uuid: ctx.parentUuid,
    root_uuid: optionalString(ctx.rootUuid, 'rootUuid'),
    version,
    traceparent: optionalString(ctx.traceparent, 'traceparent'),
    tracestate: optionalString(ctx.tracestate, 'tracestate'),
  });
}

/** The canonical wire JSON of a context object (checked and normalised by the core). */
function canonical(ctx) {
  host.rt();
  return ffi.call('nemo_relay_propagation_normalize', [null, fields(ctx)])[0];
}

/**
 * A context from its parts, checked like the reference's `PropagationContext(...)`: a malformed or
 * all-zero uuid or a version other than 1 throws; an invalid `traceparent`/`tracestate` is dropped.
 * @param {string} parentUuid
 * @param {string | null} [rootUuid]
 * @param {{version?: number, traceparent?: string | null, tracestate?: string | null}} [options]
 */
function createPropagationContext(parentUuid, rootUuid = null, options = {}) {
  return fromCanonical(canonical({ parentUuid, rootUuid, ...options }));
}

/** The snake_case wire JSON (`{"version":1,"root_uuid"?,"parent_uuid",...}`). */
function propagationContextToJson(ctx) {
  return canonical(ctx);
}

/** Reads and checks a wire context; throws `invalid propagation context JSON: ...` or the value errors. */
function propagationContextFromJson(text) {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  host.rt();
  return fromCanonical(ffi.call('nemo_relay_propagation_parse', [null, text])[0]);
}

/** The W3C traceparent of a context: the one it carries, else one derived from its root (required). */
function propagationContextToTraceparent(ctx) {
  return ffi.call('nemo_relay_propagation_to_traceparent', [null, canonical(ctx)])[0];
}

/** A stack that continues `ctx`: its first scope's parent is the imported parent. */
function createScopeStackFromPropagation(ctx) {
  const text = canonical(ctx);
  const [ptr] = ffi.call('nemo_relay_stack_from_propagation', [null, text]);
  return host.wrapStack(ptr);
}

/** The handle pointer of the managed call whose callback runs in this async context, or 0. */
function callParent() {
  const store = host.als.getStore();
  if (!store || !store.callToken) return 0;
  if (store.callScope === undefined) {
    store.callScope = null;
    const r = ffi.rawCall('nemo_relay_token_scope', [null, store.callToken]);
    if (r.ret === 0) {
      const ptr = r.out[0];
      const holder = { ptr, gen: helper.generation };
      callScopes.register(holder, [ptr, helper.generation]);
      store.callScope = holder;
    }
  }
  const s = store.callScope;
  return s && s.gen === helper.generation ? s.ptr : 0;
}

function capture(mode, root) {
  const stack = host.effectiveStack();
  return fromCanonical(ffi.call('nemo_relay_propagation_capture', [null, stack._ptr, callParent(), mode, root])[0]);
}

/** The current parent and its root (the managed call inside its provider or tool function). */
function capturePropagationContext() {
  return capture(Mode.ROOTED, null);
}

/** The current parent without a root: the receiver starts a new trace. */
function captureRootlessPropagationContext() {
  return capture(Mode.ROOTLESS, null);
}

/** The current parent with `rootUuid` (or none) as its root. */
function capturePropagationContextWithRoot(rootUuid = null) {
  return capture(Mode.WITH_ROOT, optionalString(rootUuid, 'rootUuid'));
}

/** The W3C traceparent of the current parent; throws when only the stack root exists. */
function captureTraceparent() {
  const stack = host.effectiveStack();
  return ffi.call('nemo_relay_traceparent_capture', [null, stack._ptr, callParent()])[0];
}

module.exports = {
  bind,
  exports: {
    createPropagationContext,
    propagationContextToJson,
    propagationContextFromJson,
    propagationContextToTraceparent,
    createScopeStackFromPropagation,
    capturePropagationContext,
    captureRootlessPropagationContext,
    capturePropagationContextWithRoot,
    captureTraceparent,
  },
};
