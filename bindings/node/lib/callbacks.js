// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Invoking JS callbacks for C tokens: running a callback and completing its token with the converted
 * result or the failure (`answer`), the C callback and done structs of a registry entry, and the
 * conversions of tool results and pending marks shared by tool calls and middleware.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');
const { NemoRelayError, Status } = require('./errors');
const { toJsonValue } = require('./json');
const {
  als, carry, state, registry, addEntry, signals, rt, complete, keepFailure, failureIdStruct, errorMessage,
  recordCallbackError, failure,
} = require('./runtime');

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

module.exports = { answer, ok, fail, callbackStruct, withDone, toolResultOut, toolResultIn, pendingMarks };
