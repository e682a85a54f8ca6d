// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * The strict JSON check applied to values coming from JS (docs/node.md, "JSON crossing"): plain data only,
 * so a callback cannot smuggle a Date, a Map or a Promise into the runtime.
 * @module
 */

/**
 * Returns a JSON-safe copy of `value` (`undefined` becomes `null` at the top level) or throws a TypeError.
 * @param {unknown} value
 * @param {string} [what] names the value in the error message
 * @returns {any}
 */
function toJsonValue(value, what = 'value') {
  const seen = new Set();
  const walk = (v, where) => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (!Number.isFinite(v)) throw new TypeError(`${what}: non-finite number ${v} at ${where} is not JSON`);
        return v;
      case 'undefined':
        throw new TypeError(`${what}: undefined at ${where}`);
      case 'bigint':
        throw new TypeError(`${what}: BigInt at ${where} is not JSON`);
      case 'function':
      case 'symbol':
        throw new TypeError(`${what}: ${typeof v} at ${where} is not JSON`);
      default:
        break;
    }
    if (v === null) return null;
    if (seen.has(v)) throw new TypeError(`${what}: circular reference at ${where}`);
    seen.add(v);
    let out;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) throw new TypeError(`${what}: sparse array hole at ${where}[${i}]`);
        out[i] = walk(v[i], `${where}[${i}]`);
      }
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        if (typeof v.toJSON === 'function' && v[PLAIN]) return walk(v.toJSON(), where);
        throw new TypeError(`${what}: ${v.constructor?.name ?? 'object'} instance at ${where} is not plain JSON`);
      }
      out = {};
      for (const k of Object.keys(v)) {
        const x = v[k];
        if (x === undefined) continue; // like JSON.stringify: absent
        out[k] = walk(x, `${where}.${k}`);
      }
    }
    seen.delete(v);
    return out;
  };
  return value === undefined ? null : walk(value, '$');
}

/** Marks classes whose instances serialise through `toJSON` (LlmRequest). */
const PLAIN = Symbol('nemo-relay-plain');

/** JSON text of a JS value, or null for null/undefined ("absent"). */
function jsonArg(value, what) {
  return value === null || value === undefined ? null : JSON.stringify(toJsonValue(value, what));
}

/**
 * A name or other string argument the C API takes NUL-terminated: `String(value)`, refused with a
 * TypeError when it holds a NUL (the C side would silently cut it there) or a lone surrogate (it has
 * no UTF-8 form; it would silently become U+FFFD).
 * @param {unknown} value
 * @param {string} what names the argument in the error message
 * @returns {string}
 */
function cstr(value, what = 'name') {
  const s = String(value);
  const nul = s.indexOf('\0');
  if (nul >= 0) throw new TypeError(`${what}: a NUL character (at ${nul}) cannot cross the C API`);
  if (!s.isWellFormed()) throw new TypeError(`${what}: a lone surrogate has no UTF-8 form`);
  return s;
}

module.exports = { toJsonValue, jsonArg, cstr, PLAIN };
