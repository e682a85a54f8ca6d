// SPDX-License-Identifier: Apache-2.0
'use strict';
// W3C trace context and Relay propagation (Tests/vectors/otel_propagation.json) through the Node API:
// contexts, captures in scopes and inside managed callbacks (also after an await), stacks created from
// contexts, and the trace headers of managed LLM calls. Normalised vector values are turned back into
// the run's uuids before comparing.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');
const { loadVectors } = require('./support');

const V = loadVectors('otel_propagation.json');
const { PARENT, ROOT, ZERO, ZERO_TAIL, TRACEPARENT: T, CALLER_TRACEPARENT } = V.inputs;
const byName = (section) => new Map(V[section].map((c) => [c.name, c]));

/** `<uuid:N>` -> uuid, `<trace:uuid:N>` -> its 32 hex digits, `<span:uuid:N>` -> the last 16. */
function denormalise(value, uuids) {
  if (typeof value === 'string') {
    let s = value;
    for (const [n, u] of Object.entries(uuids)) {
      const hex = u.replaceAll('-', '');
      s = s.replaceAll(`<trace:uuid:${n}>`, hex).replaceAll(`<span:uuid:${n}>`, hex.slice(16)).replaceAll(`<uuid:${n}>`, u);
    }
    return s;
  }
  if (Array.isArray(value)) return value.map((x) => denormalise(x, uuids));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, denormalise(x, uuids)]));
  return value;
}

/** The vectors' encoding of a context. */
function asVector(c) {
  return {
    version: c.version, root_uuid: c.rootUuid, parent_uuid: c.parentUuid, traceparent: c.traceparent,
    tracestate: c.tracestate, to_json: relay.propagationContextToJson(c),
  };
}

/** `{result}` or `{error: {type, message}}`: value errors are `ValueError`s in the reference, runtime ones `RuntimeError`s. */
function outcome(fn, errorType = 'ValueError') {
  try {
    const v = fn();
    return { result: typeof v === 'string' ? v : asVector(v) };
  } catch (e) {
    assert.ok(e instanceof relay.NemoRelayError, `${e}`);
    return { error: { type: errorType, message: e.message } };
  }
}

/** The five captures of the capture script. */
function captures() {
  return {
    'capture_traceparent()': outcome(() => relay.captureTraceparent(), 'RuntimeError'),
    'capture_propagation_context()': outcome(() => relay.capturePropagationContext()),
    'capture_rootless_propagation_context()': outcome(() => relay.captureRootlessPropagationContext()),
    'capture_propagation_context_with_root(None)': outcome(() => relay.capturePropagationContextWithRoot(null)),
    'capture_propagation_context_with_root(ROOT)': outcome(() => relay.capturePropagationContextWithRoot(ROOT)),
  };
}

const make = (p, r = null, o = {}) => () => relay.createPropagationContext(p, r, o);
const CONSTRUCTORS = {
  'new: parent only': make(PARENT),
  'new: parent and root': make(PARENT, ROOT),
  'new: uppercase uuids': make(PARENT.toUpperCase(), ROOT.toUpperCase()),
  'new: simple (undashed) uuid': make(PARENT.replaceAll('-', '')),
  'new: braced uuid': make(`{${PARENT}}`),
  'new: urn uuid': make(`urn:uuid:${PARENT}`),
  'new: malformed parent': make('not-a-uuid'),
  'new: malformed root': make(PARENT, 'not-a-uuid'),
  'new: all-zero parent': make(ZERO),
  'new: all-zero root': make(PARENT, ZERO),
  'new: parent with all-zero tail': make(ZERO_TAIL),
  'new: root with all-zero tail': make(PARENT, ZERO_TAIL),
  'new: version 0': make(PARENT, ROOT, { version: 0 }),
  'new: version 2': make(PARENT, ROOT, { version: 2 }),
  'new: traceparent': make(PARENT, ROOT, { traceparent: T }),
  'new: traceparent and tracestate': make(PARENT, ROOT, { traceparent: T, tracestate: 'vendor=a,other=b' }),
  'new: tracestate without traceparent': make(PARENT, ROOT, { tracestate: 'vendor=a' }),
  'new: rootless with traceparent': make(PARENT, null, { traceparent: T, tracestate: 'vendor=a' }),
  'new: garbage traceparent': make(PARENT, ROOT, { traceparent: 'garbage' }),
  'new: uppercase traceparent': make(PARENT, ROOT, { traceparent: T.toUpperCase() }),
  'new: traceparent all-zero trace id': make(PARENT, ROOT, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }),
  'new: traceparent all-zero parent id': make(PARENT, ROOT, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01' }),
  'new: traceparent version ff': make(PARENT, ROOT, { traceparent: `ff${T.slice(2)}` }),
  'new: traceparent version 01 with extra field': make(PARENT, ROOT, { traceparent: `01${T.slice(2)}-extra` }),
  'new: traceparent version 00 with extra field': make(PARENT, ROOT, { traceparent: `${T}-extra` }),
  'new: traceparent flags 00': make(PARENT, ROOT, { traceparent: `${T.slice(0, -2)}00` }),
  'new: invalid tracestate': make(PARENT, ROOT, { traceparent: T, tracestate: 'bad key=@@' }),
  'new: empty tracestate': make(PARENT, ROOT, { traceparent: T, tracestate: '' }),
  'new: tracestate with spaces': make(PARENT, ROOT, { traceparent: T, tracestate: ' vendor=a , other=b ' }),
  'to_traceparent: rooted': () => relay.propagationContextToTraceparent({ parentUuid: PARENT, rootUuid: ROOT }),
  'to_traceparent: rootless': () => relay.propagationContextToTraceparent({ parentUuid: PARENT }),
  'to_traceparent: carrying a traceparent': () => relay.propagationContextToTraceparent({ parentUuid: PARENT, rootUuid: ROOT, traceparent: T }),
  'to_traceparent: rootless carrying a traceparent': () => relay.propagationContextToTraceparent({ parentUuid: PARENT, traceparent: T }),
  'to_json: rooted': () => relay.propagationContextToJson({ parentUuid: PARENT, rootUuid: ROOT }),
  'to_json: rootless': () => relay.propagationContextToJson({ parentUuid: PARENT }),
  'to_json: with traceparent and tracestate': () => relay.propagationContextToJson(
    { version: 1, parentUuid: PARENT, rootUuid: ROOT, traceparent: T, tracestate: 'vendor=a' }),
};

test.describe('context cases', () => {
  for (const c of V.context) {
    test(c.name, () => {
      const run = CONSTRUCTORS[c.name] ?? (() => relay.propagationContextFromJson(c.input));
      assert.ok(CONSTRUCTORS[c.name] || c.name.startsWith('from_json: '));
      assert.deepStrictEqual(outcome(run), c.raw);
    });
  }
});

async function withEvents(body) {
  const events = [];
  const name = `propagation-test-${Math.random()}`;
  relay.registerSubscriber(name, (e) => events.push(e));
  let out;
  try {
    out = await relay.withScopeStack(relay.createScopeStack(), body);
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber(name);
  }
  return { out, events };
}

const CHAT = {
  id: 'chatcmpl-propagation', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
};
const request = (headers) => ({ headers, content: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });

test('capture cases: fresh, agent, nested, inside a provider (after an await) and a tool', async () => {
  const cases = byName('capture');
  const fresh = relay.withScopeStack(relay.createScopeStack(), () => {
    const root = relay.captureRootlessPropagationContext().parentUuid;
    return { root, captures: captures() };
  });
  assert.deepStrictEqual(fresh.captures, denormalise(cases.get('fresh_context').normalised.captures, { 1: fresh.root }));

  const { out, events } = await withEvents(async () => {
    const agent = relay.pushScope('agent', relay.ScopeType.Agent);
    const r = { agent: agent.uuid, inAgent: captures() };
    const inner = relay.pushScope('inner', relay.ScopeType.Function);
    r.inner = inner.uuid;
    r.nested = captures();
    relay.popScope(inner);
    await relay.llmCallExecute('openai', request({}), async (req) => {
      r.headers = req.headers;
      await new Promise((resolve) => setTimeout(resolve, 2));
      r.inProvider = captures();
      return CHAT;
    });
    await relay.toolCallExecute('lookup', { q: 1 }, async () => {
      await Promise.resolve();
      r.inTool = captures();
      return { result: { ok: true } };
    }, null, null, null, null, 'call-1');
    r.after = relay.capturePropagationContext();
    return r;
  });
  const llm = events.find((e) => e.category === 'llm').uuid;
  const tool = events.find((e) => e.category === 'tool').uuid;
  assert.deepStrictEqual(out.inAgent, denormalise(cases.get('agent_scope').normalised.captures, { 1: out.agent }));
  assert.deepStrictEqual(out.nested, denormalise(cases.get('nested_function_scope').normalised.captures, { 1: out.agent, 2: out.inner }));
  const l = cases.get('llm_provider_callback').normalised;
  assert.deepStrictEqual(out.inProvider, denormalise(l.captures, { 1: out.agent, 2: llm }));
  assert.deepStrictEqual(out.headers, denormalise(l.provider_headers, { 1: out.agent, 2: llm }));
  assert.deepStrictEqual(out.inTool, denormalise(cases.get('tool_callback').normalised.captures, { 1: out.agent, 2: tool }));
  assert.equal(out.after.parentUuid, out.agent);
});

const STACKS = {
  rooted: () => relay.createPropagationContext(PARENT, ROOT),
  rootless: () => relay.createPropagationContext(PARENT),
  rooted_with_w3c: () => relay.createPropagationContext(PARENT, ROOT, { traceparent: T, tracestate: 'vendor=a' }),
  rootless_with_w3c: () => relay.createPropagationContext(PARENT, null, { traceparent: T, tracestate: 'vendor=a' }),
  from_json_rooted: () => relay.propagationContextFromJson(JSON.stringify({ version: 1, root_uuid: ROOT, parent_uuid: PARENT })),
  zero_trace_id_traceparent_dropped: () => relay.createPropagationContext(
    PARENT, ROOT, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }),
};

test.describe('stacks created from a context', () => {
  for (const [name, ctx] of Object.entries(STACKS)) {
    test(name, async () => {
      const v = byName('stack').get(name).normalised;
      assert.deepStrictEqual(outcome(ctx), v.context);
      const events = [];
      const sub = `propagation-stack-${name}`;
      relay.registerSubscriber(sub, (e) => events.push(e));
      let r;
      try {
        const stack = relay.createScopeStackFromPropagation(ctx());
        r = await relay.withScopeStack(stack, async () => {
          const o = { before: captures() };
          const child = relay.pushScope('child', relay.ScopeType.Function);
          o.child = child.uuid;
          o.inChild = captures();
          await relay.llmCallExecute('openai', request({ traceparent: CALLER_TRACEPARENT, tracestate: 'caller=1', 'x-request-id': 'req-1' }),
            (req) => {
              o.headers = req.headers;
              o.inProvider = captures();
              return CHAT;
            });
          relay.popScope(child);
          return o;
        });
        await relay.flushSubscribers();
      } finally {
        relay.deregisterSubscriber(sub);
      }
      const llm = events.find((e) => e.category === 'llm').uuid;
      const d = (x) => denormalise(x, { 1: r.child, 2: llm });
      assert.deepStrictEqual(r.before, d(v.stack.before_any_scope));
      assert.deepStrictEqual(r.inChild, d(v.stack.in_child));
      assert.deepStrictEqual(r.headers, d(v.provider_requests[0].headers));
      assert.deepStrictEqual(r.inProvider, d(v.provider_requests[0].captures));
      const keys = ['kind', 'scope_category', 'category', 'name', 'uuid', 'parent_uuid', 'propagation_root_uuid'];
      const pick = (e) => Object.fromEntries(keys.filter((k) => k in e).map((k) => [k, e[k]]));
      assert.deepStrictEqual(events.map(pick), d(v.events).map(pick));
    });
  }

  test('refused contexts create no stack', () => {
    const cases = byName('stack');
    const unusable = {
      'unusable input: malformed parent': () => relay.createPropagationContext('not-a-uuid'),
      'unusable input: all-zero parent': () => relay.createPropagationContext(ZERO),
      'unusable input: all-zero root': () => relay.createScopeStackFromPropagation({ parentUuid: PARENT, rootUuid: ZERO }),
      'unusable input: all-zero parent tail': () => relay.createScopeStackFromPropagation({ parentUuid: ZERO_TAIL }),
      'unusable input: malformed JSON': () => relay.propagationContextFromJson('{'),
      'unusable input: all-zero parent JSON': () => relay.propagationContextFromJson(JSON.stringify({ version: 1, parent_uuid: ZERO })),
    };
    for (const [name, run] of Object.entries(unusable)) assert.deepStrictEqual(outcome(run), cases.get(name).raw, name);
    assert.throws(() => relay.createScopeStackFromPropagation(null), TypeError);
    assert.throws(() => relay.createScopeStackFromPropagation('{"version":1}'), TypeError);
    assert.throws(() => relay.createScopeStackFromPropagation({ parentUuid: PARENT, version: 1.5 }), TypeError);
    assert.throws(() => relay.createScopeStackFromPropagation({ parentUuid: 5 }), TypeError);
  });
});

test.describe('trace headers of managed LLM calls', () => {
  for (const c of V.llm_headers) {
    test(c.name, async () => {
      let headers;
      const { out, events } = await withEvents(async () => {
        const agent = relay.pushScope('agent', relay.ScopeType.Agent);
        await relay.llmCallExecute('openai', request({ ...c.caller_headers }), (req) => {
          headers = req.headers;
          return CHAT;
        });
        return agent.uuid;
      });
      const llm = events.find((e) => e.category === 'llm').uuid;
      assert.deepStrictEqual(headers, denormalise(c.normalised.provider_headers, { 1: out, 2: llm }));
    });
  }
});

test('a streaming provider sends and captures in the imported W3C trace', async () => {
  const stack = relay.createScopeStackFromPropagation({ parentUuid: PARENT, rootUuid: ROOT, traceparent: T, tracestate: 'vendor=a' });
  const seen = {};
  await relay.withScopeStack(stack, async () => {
    const s = await relay.llmStreamCallExecute('openai', request({ TraceParent: CALLER_TRACEPARENT }), async function* (req) {
      seen.headers = req.headers;
      await Promise.resolve();
      seen.capture = relay.capturePropagationContext();
      yield { choices: [{ delta: { content: 'x' } }] };
    });
    while ((await s.next()) !== null);
  });
  assert.equal(seen.headers.tracestate, 'vendor=a');
  assert.match(seen.headers.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.equal(seen.capture.traceparent, seen.headers.traceparent);
  assert.equal(seen.capture.tracestate, 'vendor=a');
  assert.equal(seen.capture.rootUuid, ROOT);
});

test('context objects are frozen and argument types are checked', () => {
  const c = relay.createPropagationContext(`{${PARENT}}`, ROOT, { traceparent: `01${T.slice(2)}-x` });
  assert.ok(Object.isFrozen(c));
  assert.equal(c.parentUuid, PARENT);
  assert.equal(c.traceparent, T);
  assert.equal(relay.propagationContextToJson(relay.propagationContextFromJson(relay.propagationContextToJson(c))),
    relay.propagationContextToJson(c));
  assert.throws(() => relay.createPropagationContext(5), TypeError);
  assert.throws(() => relay.createPropagationContext(PARENT, 5), TypeError);
  assert.throws(() => relay.propagationContextFromJson(5), TypeError);
  assert.throws(() => relay.capturePropagationContextWithRoot(5), TypeError);
  assert.throws(() => relay.capturePropagationContextWithRoot('bad'), (e) => e.code === 'NEMO_RELAY_E_INVALID_ARGUMENT'
    && e.message === 'invalid length: expected length 32 for simple format, found 3');
  assert.throws(() => relay.propagationContextFromJson('[]'), (e) => e.code === 'NEMO_RELAY_E_INVALID_JSON');
});
