// SPDX-License-Identifier: Apache-2.0
'use strict';
// The Node surface beyond the vectors: errors, manual lifecycles, middleware of every kind (global and
// scope-local), subscribers and flush, async context, the strict JSON check and the export table.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const relay = require('..');
const { EXPORTS } = require('../lib/ffi');
const { cArity } = require('../lib/protocol');

const req = (content) => ({ headers: {}, content });
const code = (c, message) => (e) => e instanceof relay.NemoRelayError && e.code === c && (!message || message.test(e.message));

/** Runs `body` on a fresh stack with a collecting subscriber and returns the events. */
async function collect(body) {
  await relay.flushSubscribers();
  const events = [];
  relay.registerSubscriber('api-test', (e) => events.push(e));
  try {
    await relay.withScopeStack(relay.createScopeStack(), body);
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber('api-test');
  }
  return events;
}

test('the export table matches nemo_relay.h (names and C argument counts)', () => {
  const header = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'include', 'nemo_relay.h'), 'utf8');
  const decls = new Map();
  for (const m of header.matchAll(/NEMO_RELAY_API\s+[^;(]*?\b(nemo_relay_\w+)\s*\(([^;]*?)\)\s*;/gs)) {
    const params = m[2].trim();
    decls.set(m[1], params === 'void' ? 0 : params.split(',').length);
  }
  const table = new Map(EXPORTS.map(([name, , params]) => [name, params.reduce((n, k) => n + (Array.isArray(k) ? 1 : cArity(k)), 0)]));
  assert.deepStrictEqual([...table.keys()].sort(), [...decls.keys()].sort());
  for (const [name, n] of decls) assert.equal(table.get(name), n, name);
});

test('scope errors keep the reference message fragments', async () => {
  await relay.withScopeStack(relay.createScopeStack(), () => {
    const a = relay.pushScope('a', relay.ScopeType.Agent);
    const b = relay.pushScope('b', relay.ScopeType.Function);
    assert.throws(() => relay.popScope(a),
      code('NEMO_RELAY_E_INVALID_ARGUMENT', /^invalid argument: scope handle is not at the top of the stack$/));
    relay.popScope(b);
    assert.throws(() => relay.popScope(b), code('NEMO_RELAY_E_NOT_FOUND', /^not found: scope handle not found$/));
    assert.equal(b.name, 'b');
    assert.equal(b.parentUuid, a.uuid);
    assert.equal(relay.getHandle().uuid, a.uuid);
    relay.popScope(a);
    assert.throws(() => relay.pushScope('x', 1, null, null, null, null, null, 1.5), {
      name: 'TypeError', message: 'timestamp must be a safe integer number of Unix microseconds' });
    assert.throws(() => relay.pushScope('x', 99), code('NEMO_RELAY_E_INVALID_ARGUMENT', /^invalid argument: /));
    assert.throws(() => relay.scopeRegisterSubscriber('nope', 'x', () => {}), /invalid UUID: nope/);
    assert.throws(() => relay.scopeRegisterSubscriber(a.uuid, 'x', () => {}), code('NEMO_RELAY_E_NOT_FOUND', /^not found: scope /));
  });
});

test('argument validation throws synchronously', () => {
  assert.throws(() => relay.llmCallExecute('x', { content: 1 }, () => 1), /invalid LlmRequest/);
  assert.throws(() => relay.llmCallExecute('x', req(1), () => 1, null, null, null, null, null, (r) => r),
    /codecDecode and codecEncode must be provided together/);
  assert.throws(() => relay.toolCallExecute('t', { d: new Date() }, () => 1), TypeError);
});

test('duplicate registrations throw already exists; deregister reports removal', () => {
  relay.registerToolConditionalExecutionGuardrail('dup', 1, () => null);
  assert.throws(() => relay.registerToolConditionalExecutionGuardrail('dup', 1, () => null),
    code('NEMO_RELAY_E_ALREADY_EXISTS', /already exists: .*dup/));
  assert.equal(relay.deregisterToolConditionalExecutionGuardrail('dup'), true);
  assert.equal(relay.deregisterToolConditionalExecutionGuardrail('dup'), false);
  relay.registerSubscriber('dup-sub', () => {});
  assert.throws(() => relay.registerSubscriber('dup-sub', () => {}), /already exists: dup-sub subscriber already exists/);
  assert.equal(relay.deregisterSubscriber('dup-sub'), true);
});

test('manual LLM and tool lifecycles with microsecond timestamps', async () => {
  const events = await collect(() => {
    const h = relay.llmCall('manual', req({ q: 1 }), null, 1, { keep: 1 }, { phase: 'start' }, 'm-1', 1700000000000001);
    assert.ok(h instanceof relay.LlmHandle);
    assert.deepStrictEqual(h.data, { keep: 1 });
    assert.equal(h.attributes, 1);
    relay.llmCallEnd(h, { answer: 42 }, null, { phase: 'end' }, 1700000000000002);
    const t = relay.toolCall('lookup', { id: 7 }, null, null, null, null, 'call_9');
    assert.ok(t instanceof relay.ToolHandle);
    relay.toolCallEnd(t, { result: { ok: true }, annotation: { src: 'db' } });
  });
  const [start, end, tStart, tEnd] = events;
  assert.equal(start.timestamp, '2023-11-14T22:13:20.000001+00:00');
  assert.equal(end.timestamp, '2023-11-14T22:13:20.000002+00:00');
  assert.deepStrictEqual(start.attributes, ['stateful']);
  assert.equal(start.category_profile.model_name, 'm-1');
  assert.deepStrictEqual(end.data, { answer: 42 });
  assert.deepStrictEqual(end.metadata, { phase: 'end', 'otel.status_code': 'OK' });
  assert.equal(tStart.category_profile.tool_call_id, 'call_9');
  assert.deepStrictEqual(tEnd.data, { ok: true });
  assert.deepStrictEqual(tEnd.category_profile.tool_result_annotation, { src: 'db' });
});

test('LLM request and execution intercepts, next twice, next after settle', async () => {
  let late;
  relay.registerLlmRequestIntercept('add-header', 1, false, ({ request }) => ({
    request: { headers: { ...request.headers, 'x-added': '1' }, content: { ...request.content, edited: true } },
  }));
  relay.registerLlmExecutionIntercept('twice', 5, async (request, next) => {
    const a = await next(request);
    const b = await next({ headers: request.headers, content: { ...request.content, n: 2 } });
    late = next;
    return { first: a, second: b };
  });
  try {
    const seen = [];
    const r = await relay.llmCallExecute('p', req({ n: 1 }), async (q) => { seen.push(q); return { n: q.content.n }; });
    assert.deepStrictEqual(r, { first: { n: 1 }, second: { n: 2 } });
    assert.equal(seen[0].headers['x-added'], '1');
    assert.equal(seen[0].content.edited, true);
    await assert.rejects(late(req(1)), /execution continuation is no longer active/);
  } finally {
    relay.deregisterLlmRequestIntercept('add-header');
    relay.deregisterLlmExecutionIntercept('twice');
  }
});

test('tool middleware: request intercept, execution intercept, conditional guardrail, sanitizers', async () => {
  relay.registerToolRequestIntercept('double', 1, false, (name, args) => ('x' in args ? { ...args, x: args.x * 2 } : args));
  relay.registerToolExecutionIntercept('wrap', 1, async (args, next) => {
    const inner = await next(args);
    return { result: { wrapped: inner.result }, annotation: { by: 'wrap' } };
  });
  relay.registerToolConditionalExecutionGuardrail('no-rm', 1, (name) => (name === 'rm' ? 'rm is not allowed' : null));
  relay.registerToolSanitizeRequestGuardrail('hide-args', 1, (name, args) => ({ ...args, secret: '***' }));
  relay.registerToolSanitizeResponseGuardrail('hide-result', 1, () => 'redacted');
  try {
    let out;
    const events = await collect(async () => {
      out = await relay.toolCallExecute('calc', { x: 2, secret: 's' }, (a) => ({ result: a.x }));
      await assert.rejects(relay.toolCallExecute('rm', {}, () => ({ result: 1 })),
        code('NEMO_RELAY_E_GUARDRAIL_REJECTED', /^guardrail rejected: rm is not allowed$/));
      await assert.rejects(relay.toolCallExecute('bare', {}, () => 5), /must return ToolExecutionResult/);
    });
    assert.deepStrictEqual(out, { result: { wrapped: 4 }, annotation: { by: 'wrap' } });
    const calc = events.filter((e) => e.name === 'calc');
    assert.deepStrictEqual(calc[0].data, { x: 4, secret: '***' });
    assert.equal(calc[1].data, 'redacted');
  } finally {
    for (const [k, n] of [['ToolRequestIntercept', 'double'], ['ToolExecutionIntercept', 'wrap'],
      ['ToolConditionalExecutionGuardrail', 'no-rm'], ['ToolSanitizeRequestGuardrail', 'hide-args'],
      ['ToolSanitizeResponseGuardrail', 'hide-result']]) {
      assert.equal(relay[`deregister${k}`](n), true);
    }
  }
});

test('event sanitizers, metadata injector, response sanitizer and the callback error channel', async () => {
  relay.registerMarkSanitizeGuardrail('mark', 1, (event, fields) => ({ ...fields, data: { clean: true } }));
  relay.registerScopeSanitizeStartGuardrail('start', 1, (event, fields) => ({ metadata: { sanitized: event.name } }));
  relay.registerScopeSanitizeEndGuardrail('end', 1, (event, fields) => fields);
  relay.registerEventMetadataInjector('inject', 1, () => ({ host: 'h1', n: 3 }));
  relay.registerLlmSanitizeResponseGuardrail('resp', 1, () => { throw new Error('sanitizer broke'); });
  relay.clearLastCallbackError();
  try {
    const events = await collect(async () => {
      relay.event('m', null, { dirty: true });
      await relay.withScope('s', relay.ScopeType.Function, () => 1);
      assert.deepStrictEqual(await relay.llmCallExecute('p', req(1), () => ({ raw: true })), { raw: true });
    });
    const mark = events.find((e) => e.kind === 'mark');
    assert.deepStrictEqual(mark.data, { clean: true });
    assert.equal(mark.metadata.host, 'h1');
    const start = events.find((e) => e.name === 's' && e.scope_category === 'start');
    assert.equal(start.metadata.sanitized, 's');
    const llmEnd = events.find((e) => e.name === 'p' && e.scope_category === 'end');
    assert.equal(llmEnd.data, null);
    assert.match(relay.getLastCallbackError(), /sanitizer broke/);
  } finally {
    relay.deregisterMarkSanitizeGuardrail('mark');
    relay.deregisterScopeSanitizeStartGuardrail('start');
    relay.deregisterScopeSanitizeEndGuardrail('end');
    relay.deregisterEventMetadataInjector('inject');
    relay.deregisterLlmSanitizeResponseGuardrail('resp');
    relay.clearLastCallbackError();
  }
});

test('scope-local middleware and subscribers vanish with their scope', async () => {
  const local = [];
  await relay.withScopeStack(relay.createScopeStack(), async () => {
    const s = relay.pushScope('owner', relay.ScopeType.Agent);
    relay.scopeRegisterLlmConditionalExecutionGuardrail(s.uuid, 'deny', 1, () => 'scoped no');
    relay.scopeRegisterSubscriber(s.uuid, 'local', (e) => local.push(e.name));
    await assert.rejects(relay.llmCallExecute('p', req(1), () => 1), /guardrail rejected: scoped no/);
    assert.equal(relay.scopeDeregisterLlmConditionalExecutionGuardrail(s.uuid, 'deny'), true);
    assert.deepStrictEqual(await relay.llmCallExecute('p', req(1), () => 2), 2);
    relay.scopeRegisterToolConditionalExecutionGuardrail(s.uuid, 'deny-tools', 1, () => 'no tools here');
    relay.popScope(s);
    assert.deepStrictEqual(await relay.toolCallExecute('t', {}, () => ({ result: 3 })), { result: 3 });
    relay.event('after');
  });
  await relay.flushSubscribers();
  assert.ok(local.includes('owner'));
  assert.ok(!local.includes('after'));
});

test('subscribers: async deliveries are awaited by flush; failures are isolated', async () => {
  relay.clearLastCallbackError();
  let done = 0;
  relay.registerSubscriber('slow', async () => { await new Promise((r) => setTimeout(r, 5)); done++; });
  relay.registerSubscriber('bad', () => { throw new Error('subscriber exploded'); });
  try {
    await relay.withScopeStack(relay.createScopeStack(), () => { relay.event('a'); relay.event('b'); });
    await relay.flushSubscribers();
    assert.equal(done, 2);
    assert.match(relay.getLastCallbackError(), /subscriber exploded/);
    assert.equal(relay.droppedEvents(), 0);
  } finally {
    relay.deregisterSubscriber('slow');
    relay.deregisterSubscriber('bad');
    relay.clearLastCallbackError();
  }
});

test('async context: providers see their call stack; withScopeStack isolates concurrent flows', async () => {
  const outer = relay.createScopeStack();
  await relay.withScopeStack(outer, async () => {
    const agent = relay.pushScope('agent', relay.ScopeType.Agent);
    const inside = await relay.llmCallExecute('p', req(1), async () => {
      await new Promise((r) => setImmediate(r));
      return { top: relay.getHandle().name, active: relay.scopeStackActive() };
    });
    assert.equal(inside.active, true);
    assert.ok(['agent', 'p'].includes(inside.top));
    const names = await Promise.all(['x', 'y'].map((n) => relay.withScopeStack(relay.createScopeStack(), async () => {
      const h = relay.pushScope(n, relay.ScopeType.Function);
      await new Promise((r) => setTimeout(r, 2));
      const top = relay.getHandle().name;
      relay.popScope(h);
      return top;
    })));
    assert.deepStrictEqual(names, ['x', 'y']);
    relay.popScope(agent);
  });
});

test('callback values pass the strict JSON check', async () => {
  await assert.rejects(relay.llmCallExecute('p', req(1), () => ({ when: new Date() })), TypeError);
  await assert.rejects(relay.llmCallExecute('p', req(1), () => ({ n: 1n })), TypeError);
  const cyc = {};
  cyc.self = cyc;
  await assert.rejects(relay.llmCallExecute('p', req(1), () => cyc), /circular/);
  assert.equal(await relay.llmCallExecute('p', req(1), () => undefined), null);
  assert.equal(await relay.withScope('w', relay.ScopeType.Function, () => undefined), null);
  await assert.rejects(relay.withScope('w', relay.ScopeType.Function, () => Promise.reject('plain')),
    code('NEMO_RELAY_E_INTERNAL', /^internal error: plain$/));
});

test('LlmRequest copies headers and content; non-object headers become {}', () => {
  const r = new relay.LlmRequest('nope', { a: 1 });
  assert.deepStrictEqual(r.headers, {});
  const c = r.content;
  c.a = 2;
  assert.deepStrictEqual(r.content, { a: 1 });
});

test('custom JS codec object through typedLlmExecute; decodeResponse failures are swallowed', async () => {
  const { typedLlmExecute, JsonPassthrough } = require('../typed');
  const codec = {
    decode: (r) => ({ messages: [{ role: 'user', content: String(r.content.q) }] }),
    encode: (annotated, original) => ({ headers: original.headers, content: { q: annotated.messages[0].content + '!' } }),
    decodeResponse: () => { throw new Error('cannot decode'); },
  };
  let saw;
  const r = await typedLlmExecute('c', req({ q: 'hi' }), (q) => { saw = q.content; return { ok: 1 }; }, new JsonPassthrough(),
    { codec, responseCodec: codec });
  assert.deepStrictEqual(r, { ok: 1 });
  assert.deepStrictEqual(saw, { q: 'hi!' });
});

test('streaming validates its arguments synchronously', () => {
  assert.throws(() => relay.llmStreamCallExecute('s', req(1), 'not a function'), TypeError);
  assert.throws(() => relay.llmStreamCallExecute('s', req(1), () => {}, 42), { message: 'collector must be a function' });
  assert.throws(() => relay.llmStreamCallExecute('s', { headers: {} }, () => {}), { code: 'NEMO_RELAY_E_INVALID_ARGUMENT' });
  assert.throws(() => new relay.LlmStream(), TypeError);
});

test('index.d.ts declares every runtime export', () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
  for (const name of Object.keys(relay)) {
    assert.match(dts, new RegExp(`export (declare )?(function|const|class|abstract class|declare abstract class) ${name}\\b`), name);
  }
});

test('chain helpers run one chain without a managed call', async () => {
  relay.registerLlmConditionalExecutionGuardrail('no-secrets', 1, (request) => (JSON.stringify(request.content).includes('secret') ? 'mentions a secret' : null));
  relay.registerLlmRequestIntercept('tag', 1, false, ({ request }) => ({
    request: { headers: { ...request.headers, 'x-tag': '1' }, content: request.content },
    pendingMarks: [{ name: 'tagged' }],
  }));
  relay.registerToolRequestIntercept('double', 1, false, (name, args) => ({ ...args, x: args.x * 2 }));
  relay.registerToolConditionalExecutionGuardrail('no-rm', 1, (name) => (name === 'rm' ? 'rm is not allowed' : null));
  try {
    await relay.llmConditionalExecution(req('fine'));
    await assert.rejects(relay.llmConditionalExecution(req('a secret')), /guardrail rejected: mentions a secret/);
    const out = await relay.llmRequestIntercepts('p', req({ n: 1 }));
    assert.equal(out.request.headers['x-tag'], '1');
    assert.equal(out.annotated, null);
    assert.deepStrictEqual(out.pendingMarks.map((m) => m.name), ['tagged']);
    assert.deepStrictEqual(await relay.toolRequestIntercepts('calc', { x: 2 }), { x: 4 });
    await relay.toolConditionalExecution('ls', {});
    await assert.rejects(relay.toolConditionalExecution('rm', {}), /guardrail rejected: rm is not allowed/);
  } finally {
    relay.deregisterLlmConditionalExecutionGuardrail('no-secrets');
    relay.deregisterLlmRequestIntercept('tag');
    relay.deregisterToolRequestIntercept('double');
    relay.deregisterToolConditionalExecutionGuardrail('no-rm');
  }
});
