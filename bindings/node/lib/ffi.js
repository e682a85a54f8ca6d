// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * The table of C signatures (`name`, return kind, parameter kinds) for every export of
 * include/nemo_relay.h, sent to the helper as `declare` the first time an export is used. It is
 * derived from `abi.js`, which scripts/abi_tables.py generates from the header (CI fails when it is
 * stale): the helper knows no export and this file has no hand-written row, so a header that grows
 * needs neither a new helper nor an edit here.
 * @module
 */
const { helper } = require('./helper');
const { Op } = require('./protocol');
const { NemoRelayError } = require('./errors');

const abi = require('./abi');

const SCALARS = Object.freeze({
  uint32_t: 'u32', int32_t: 'i32', nemo_relay_status_t: 'i32', int64_t: 'i64', uint64_t: 'u64', bool: 'bool',
});

/**
 * Turns C declarations into the helper's kinds. A `const char *` followed by its `size_t ..._len` is
 * one `json` (bytes with a length); alone it is a NUL-terminated `str`; `char **` + `size_t *` is an
 * owned `out_str`; a struct member that is itself a struct is flattened (same layout).
 * @param {Array<[string, string]>} decls [C type, name] pairs
 * @param {boolean} isParam export parameters (pointers to structs and to scalars are allowed there)
 */
function kinds(decls, isParam) {
  const out = [];
  for (let i = 0; i < decls.length; i++) {
    const [t] = decls[i];
    const next = decls[i + 1];
    const lengthNext = next !== undefined && next[1].endsWith('len');
    const base = t.replace(/^const /, '').replace(/\s*\*+$/, '');
    if (t === 'const char *' && lengthNext && next[0] === 'size_t') {
      out.push('json');
      i++;
    } else if (t === 'const char *') {
      out.push('str');
    } else if (t === 'char **' && lengthNext && next[0] === 'size_t *') {
      out.push('out_str');
      i++;
    } else if (t.endsWith('**')) {
      out.push('out_ptr');
    } else if (t in SCALARS) {
      out.push(SCALARS[t]);
    } else if (t.endsWith('*') && base in abi.STRUCTS && isParam) {
      out.push(structKinds(base));
    } else if (t.endsWith('*') && (base === 'bool' || base === 'uint64_t') && isParam) {
      out.push(`out_${SCALARS[base]}`);
    } else if (t in abi.STRUCTS && !isParam) {
      out.push(...structKinds(t));
    } else if (t.endsWith('*') || t.endsWith(')') || t in abi.FUNCTION_TYPES) {
      out.push('ptr');
    } else {
      throw new TypeError(`nemo-relay: no helper kind for the C type ${t}`);
    }
  }
  return out;
}

/** A struct's members as helper kinds, flattened. */
function structKinds(name) {
  return kinds(abi.STRUCTS[name], false);
}

/** Options and callback structs, field by field: `LLM_OPTIONS` for `nemo_relay_llm_options_t`, ... */
const Struct = Object.freeze(Object.fromEntries(Object.keys(abi.STRUCTS).map((name) => [
  name.replace(/^nemo_relay_/, '').replace(/_t$/, '').toUpperCase(), Object.freeze(structKinds(name)),
])));

/** [name, return kind, parameter kinds] of every export, in header order. */
const EXPORTS = abi.EXPORTS.map(([name, , ret, params]) => [
  name, ret === 'const char *' ? 'cstr' : ret === 'void' ? 'void' : SCALARS[ret], kinds(params, true),
]);
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
 * (set by lib/runtime.js). Calls made there run between nemo_relay_token_enter and _leave on the helper's
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
