// SPDX-License-Identifier: Apache-2.0
'use strict';
// The normaliser of bindings/python/tests/exporter_scenario.py (class Normaliser), ported for the
// Node exporter tests: uuids -> <uuid:N> by first appearance (also inside strings), RFC 3339 stamps
// -> <ts:N> by instant in order of first appearance (a stamp not written the reference's way gets
// `noncanonical SHAPE`), ATIF invocation epoch seconds -> <epoch:N> per occurrence,
// time_to_first_chunk -> <seconds>, known directories inside strings -> placeholders. One instance
// numbers one document, walked in document order (JSON.parse keeps the text's key order).
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');

const UUID_RE = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const TS_RE = /\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})/g;
const TS_PARTS = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;
const EPOCH_TEXT_RE = /("(?:start|end)_timestamp"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
const SECONDS_TEXT_RE = /("time_to_first_chunk"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
const EPOCH_KEYS = new Set(['start_timestamp', 'end_timestamp']);
const SECONDS_KEYS = new Set(['time_to_first_chunk']);

const two = (n) => String(n).padStart(2, '0');

/** The UTC instant of an RFC 3339 string: [date-time to the second, nanoseconds], offset applied. */
function instant(ts) {
  const m = TS_PARTS.exec(ts);
  if (!m) return [ts, 0];
  let ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (m[8] !== 'Z' && m[8] !== 'z') {
    const sign = m[8][0] === '+' ? 1 : -1;
    ms -= sign * (Number(m[8].slice(1, 3)) * 3600000 + Number(m[8].slice(4, 6)) * 60000);
  }
  const d = new Date(ms);
  const base = `${String(d.getUTCFullYear()).padStart(4, '0')}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const frac = (m[7] ?? '').slice(0, 9).padEnd(9, '0');
  return [base, Number(frac)];
}

/** The reference's rendering of an instant: `+00:00`, 0, 3, 6 or 9 fraction digits (the fewest keeping every digit). */
function canonical([base, ns]) {
  let frac;
  if (ns === 0) frac = '';
  else if (ns % 1000000 === 0) frac = `.${String(ns / 1000000).padStart(3, '0')}`;
  else if (ns % 1000 === 0) frac = `.${String(ns / 1000).padStart(6, '0')}`;
  else frac = `.${String(ns).padStart(9, '0')}`;
  return `${base}${frac}+00:00`;
}

class Normaliser {
  /** @param {{root?: string, outdir?: string}} [o] */
  constructor(o = {}) {
    this.uuids = new Map();
    this.stamps = new Map();
    this.epochs = 0;
    if (o.root) this.uuids.set(o.root.toLowerCase(), 1);
    const dirs = [];
    if (o.outdir) {
      dirs.push([fs.realpathSync(o.outdir), '<outdir>'], [path.resolve(o.outdir), '<outdir>']);
    }
    dirs.push([fs.realpathSync(os.tmpdir()), '<tmp>'], [os.tmpdir(), '<tmp>']);
    dirs.push([process.cwd(), '<cwd>'], [os.homedir(), '<home>']);
    const unique = new Map();
    for (const [d, p] of dirs) if (d && d !== '/' && !unique.has(d)) unique.set(d, p);
    this.dirs = [...unique].sort((a, b) => b[0].length - a[0].length);
  }

  uuid(u) {
    const k = u.toLowerCase();
    if (!this.uuids.has(k)) this.uuids.set(k, this.uuids.size + 1);
    return `<uuid:${this.uuids.get(k)}>`;
  }

  ts(text) {
    const i = instant(text);
    const key = `${i[0]}|${i[1]}`;
    if (!this.stamps.has(key)) this.stamps.set(key, this.stamps.size + 1);
    const n = this.stamps.get(key);
    return text === canonical(i) ? `<ts:${n}>` : `<ts:${n} noncanonical ${text.replace(/\d/g, 'd')}>`;
  }

  epoch() {
    this.epochs += 1;
    return `<epoch:${this.epochs}>`;
  }

  /** Normalises one string (also a whole JSON document held as text). */
  text(s) {
    let t = s.replace(SECONDS_TEXT_RE, (_, k) => `${k}"<seconds>"`);
    t = t.replace(EPOCH_TEXT_RE, (_, k) => `${k}"${this.epoch()}"`);
    t = t.replace(UUID_RE, (u) => this.uuid(u));
    t = t.replace(TS_RE, (x) => this.ts(x));
    for (const [d, p] of this.dirs) t = t.split(d).join(p);
    return t;
  }

  /** Normalises a JSON value, recursively, in document order. */
  value(v, key = null) {
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v !== null && typeof v === 'object') {
      const o = {};
      for (const [k, x] of Object.entries(v)) o[k] = this.value(x, k);
      return o;
    }
    if (typeof v === 'string') return this.text(v);
    if (typeof v === 'number') {
      if (SECONDS_KEYS.has(key)) return '<seconds>';
      if (EPOCH_KEYS.has(key) && Number.isFinite(v)) return this.epoch();
    }
    return v;
  }
}

/** A copy of a JSON value with every object's keys sorted (the reference's `export()` dict order). */
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

module.exports = { Normaliser, sortKeys, instant, canonical };
