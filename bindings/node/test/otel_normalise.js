// SPDX-License-Identifier: Apache-2.0
'use strict';
// The span rules of bindings/python/tests/otel_scenario.py (class OtelNormaliser and `vector`), ported
// for the Node OpenTelemetry scenario test on top of exporter_normalise.js's Normaliser:
// traceId -> <trace:uuid:N> (a uuid's 16 bytes, numbered like that uuid), spanId/parentSpanId ->
// <span:uuid:N> (bytes 8..16 of a uuid seen so far) or <span:K>, *TimeUnixNano -> <ts:N> numbered by
// instant together with the RFC 3339 stamps, W3C traceparents inside strings, and attributes named
// ...time_to_first_chunk -> "<seconds>". `prime` numbers every dashed uuid of a document first, in
// document order, so a span id seen before its uuid still resolves.
const { Normaliser } = require('./exporter_normalise');

const UUID_RE = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const TRACEPARENT_RE = /\b([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})\b/g;
const HEX32_KEYS = new Set(['traceId']);
const HEX16_KEYS = new Set(['spanId', 'parentSpanId']);
const NANO_KEYS = new Set(['startTimeUnixNano', 'endTimeUnixNano', 'timeUnixNano']);
/** Headers whose values depend on the run (otel_scenario.VOLATILE_HEADERS). */
const VOLATILE_HEADERS = { host: '127.0.0.1:<port>', 'content-length': '<length>' };

class OtelNormaliser extends Normaliser {
  constructor(o = {}) {
    super(o);
    this.otherSpans = new Map();
  }

  /** Numbers every dashed uuid of `doc` in document order without replacing anything; returns `this`. */
  prime(doc) {
    if (Array.isArray(doc)) for (const x of doc) this.prime(x);
    else if (doc !== null && typeof doc === 'object') for (const x of Object.values(doc)) this.prime(x);
    else if (typeof doc === 'string') for (const m of doc.matchAll(UUID_RE)) this.uuidNumber(m[0]);
    return this;
  }

  uuidNumber(u) {
    const k = u.toLowerCase();
    if (!this.uuids.has(k)) this.uuids.set(k, this.uuids.size + 1);
    return this.uuids.get(k);
  }

  traceId(h) {
    const x = h.toLowerCase();
    if (x.length !== 32) return `<bad-trace-id ${x}>`;
    const u = `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
    return `<trace:uuid:${this.uuidNumber(u)}>`;
  }

  spanId(h) {
    const x = h.toLowerCase();
    for (const [u, n] of this.uuids) if (u.replaceAll('-', '').slice(16) === x) return `<span:uuid:${n}>`;
    if (!this.otherSpans.has(x)) this.otherSpans.set(x, this.otherSpans.size + 1);
    return `<span:${this.otherSpans.get(x)}>`;
  }

  /** A decimal nanosecond count since the epoch -> `<ts:N>`, numbered like the RFC 3339 stamps. */
  nanos(text) {
    const ns = BigInt(text);
    const seconds = ns / 1000000000n;
    const frac = Number(ns % 1000000000n);
    const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
    const key = `${base}|${frac}`;
    if (!this.stamps.has(key)) this.stamps.set(key, this.stamps.size + 1);
    return `<ts:${this.stamps.get(key)}>`;
  }

  text(s) {
    const t = s.replace(TRACEPARENT_RE, (_, v, trace, span, flags) => `${v}-${this.traceId(trace)}-${this.spanId(span)}-${flags}`);
    return super.text(t);
  }

  value(v, key = null) {
    if (typeof v === 'string') {
      if (HEX32_KEYS.has(key)) return this.traceId(v);
      if (HEX16_KEYS.has(key)) return this.spanId(v);
      if (NANO_KEYS.has(key) && /^\d+$/.test(v)) return this.nanos(v);
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.key === 'string' &&
      v.key.endsWith('time_to_first_chunk')) {
      return { key: v.key, value: Object.fromEntries(Object.keys(v.value ?? {}).map((kind) => [kind, '<seconds>'])) };
    }
    return super.value(v, key);
  }
}

/** Resource, scope and spans of decoded requests: `[{resource, scope, span}]` in arrival order. */
function flatten(requests) {
  const out = [];
  for (const r of requests) {
    for (const rs of r.body?.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) out.push({ resource: rs.resource ?? {}, scope: ss.scope ?? {}, span });
      }
    }
  }
  return out;
}

/**
 * One configuration's vector (otel_scenario.vector): `result` is `{events, requests: [{method, path,
 * headers, body}], providerRequests}`; returns the resource (attributes sorted by key), scope, requests
 * (headers sorted, volatile values replaced, span counts) and one normalised copy of events, spans and
 * provider requests.
 */
function vector(result) {
  const flat = flatten(result.requests);
  for (const r of result.requests) {
    const rs = r.body?.resourceSpans ?? [];
    if (rs.length !== 1 || (rs[0].scopeSpans ?? []).length !== 1) {
      throw new Error('expected one resourceSpans with one scopeSpans per request');
    }
  }
  const stable = (x) => JSON.stringify(x, (k, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, v[key]])) : v));
  if (new Set(flat.map((f) => stable(f.resource))).size !== 1 || new Set(flat.map((f) => stable(f.scope))).size !== 1) {
    throw new Error('spans of one run carry different resources or scopes');
  }
  const resource = { ...flat[0].resource };
  resource.attributes = [...(resource.attributes ?? [])].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const spans = flat.map((f) => f.span);
  const requests = result.requests.map((r) => ({
    method: r.method,
    path: r.path,
    headers: r.headers.map(([k, v]) => [k, VOLATILE_HEADERS[k.toLowerCase()] ?? v])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)),
    spans: r.body.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + (ss.spans ?? []).length, 0), 0),
  }));
  const norm = new OtelNormaliser().prime({ events: result.events, spans, provider_requests: result.providerRequests });
  return {
    requests,
    resource,
    scope: flat[0].scope,
    events: norm.value(result.events),
    spans: norm.value(spans),
    provider_requests: norm.value(result.providerRequests),
  };
}

module.exports = { OtelNormaliser, flatten, vector };
