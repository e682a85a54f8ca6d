// SPDX-License-Identifier: Apache-2.0
'use strict';
// The helper's life cycle and the robustness cases: helper crash and restart, callbacks that
// throw, many concurrent async tasks, middleware seeing its call's async context, and a process that
// exits with events still queued. No timed assertions: every wait is on an outcome.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const relay = require('..');
const { helper } = require('../lib/helper');

const req = (n) => ({ headers: {}, content: { n } });
const tick = () => new Promise((r) => setImmediate(r));

test('helper crash: pending calls reject with a reason, the next call starts a new helper', async () => {
  relay.getHandle();
  const stale = relay.createScopeStack();
  const firstPid = helper.child.pid;
  let release;
  const gate = new Promise((r) => { release = r; });
  let invoked;
  const started = new Promise((r) => { invoked = r; });
  const pending = [0, 1, 2].map((i) => relay.llmCallExecute('p', req(i), async () => {
    invoked();
    await gate;
    return { late: true };
  }));
  await started;
  process.kill(firstPid, 'SIGKILL');
  for (const p of pending) {
    await assert.rejects(p, (e) => e.code === 'ERR_NEMO_RELAY_HELPER' && /helper (exited|closed)/.test(e.message));
  }
  release(); // the providers answer a call that no longer exists: nothing happens

  // The next call starts a fresh helper and runtime.
  const out = await relay.llmCallExecute('p', req(9), (r) => ({ echo: r.content.n }));
  assert.deepStrictEqual(out, { echo: 9 });
  assert.notEqual(helper.child.pid, firstPid);
  const h = relay.pushScope('after-restart', relay.ScopeType.Agent);
  assert.equal(relay.getHandle().uuid, h.uuid);
  relay.popScope(h);
  // Objects of the lost helper are refused with a reason instead of reaching the new one.
  assert.throws(() => relay.withScopeStack(stale, () => relay.getHandle()), { code: 'ERR_NEMO_RELAY_HELPER' });
  await tick();
});

class ProviderDown extends Error {
  constructor() {
    super('provider is down');
    this.name = 'ProviderDown';
    this.retryAfter = 3;
  }
}

test('callbacks that throw: the caller gets the very same error object', async () => {
  const sync = new ProviderDown();
  await assert.rejects(relay.llmCallExecute('p', req(1), () => { throw sync; }), (e) => e === sync);
  const later = new ProviderDown();
  await assert.rejects(relay.llmCallExecute('p', req(1), async () => { await tick(); throw later; }), (e) => e === later);
  const tool = new RangeError('bad tool input');
  await assert.rejects(relay.toolCallExecute('t', { a: 1 }, () => { throw tool; }), (e) => e === tool);

  const guard = new TypeError('guardrail crashed');
  relay.registerLlmConditionalExecutionGuardrail('throws', 1, () => { throw guard; });
  try {
    await assert.rejects(relay.llmCallExecute('p', req(1), () => ({})), (e) => e === guard);
  } finally {
    relay.deregisterLlmConditionalExecutionGuardrail('throws');
  }
  const intercept = new Error('intercept crashed');
  relay.registerLlmExecutionIntercept('throws', 1, async (request, next) => {
    await next(request);
    throw intercept;
  });
  try {
    await assert.rejects(relay.llmCallExecute('p', req(1), () => ({})), (e) => e === intercept);
  } finally {
    relay.deregisterLlmExecutionIntercept('throws');
  }
});

test('concurrent calls from many async tasks keep their own results and stacks', async () => {
  const seen = [];
  relay.registerLlmRequestIntercept('ctx', 1, false, ({ request }) => {
    // Middleware runs in the async context of its call: the call's stack is in effect here.
    seen.push([request.content.n, relay.getHandle().name]);
    return { request };
  });
  try {
    const tasks = Array.from({ length: 200 }, (_, i) => relay.withScopeStack(relay.createScopeStack(), async () => {
      const scope = relay.pushScope(`task-${i}`, relay.ScopeType.Function);
      for (let k = 0; k < i % 3; k++) await tick();
      const out = await relay.llmCallExecute('p', req(i), async (r) => {
        if (r.content.n % 2) await tick();
        return { n: r.content.n, top: relay.getHandle().name };
      });
      const tool = await relay.toolCallExecute('t', { i }, async (a) => ({ result: a.i * 2 }));
      assert.equal(relay.getHandle().uuid, scope.uuid);
      relay.popScope(scope);
      return [out, tool.result];
    }));
    const results = await Promise.all(tasks);
    results.forEach(([out, doubled], i) => {
      assert.equal(out.n, i);
      assert.ok([`task-${i}`, 'p'].includes(out.top), out.top);
      assert.equal(doubled, i * 2);
    });
    assert.equal(seen.length, 200);
    for (const [n, top] of seen) assert.ok([`task-${n}`, 'p'].includes(top), `${n} saw ${top}`);
  } finally {
    relay.deregisterLlmRequestIntercept('ctx');
  }
});

test('process exit with queued events: nothing hangs and flushed events arrive', () => {
  const child = (flush) => `
    const relay = require(${JSON.stringify(path.join(__dirname, '..'))});
    relay.registerSubscriber('out', (e) => process.stdout.write(e.kind + ':' + e.name + '\\n'));
    (async () => {
      for (let i = 0; i < 50; i++) relay.event('m' + i);
      const s = relay.pushScope('s', relay.ScopeType.Agent);
      await relay.llmCallExecute('p', { headers: {}, content: {} }, async () => ({ ok: true }));
      relay.popScope(s);
      ${flush ? 'await relay.flushSubscribers();' : ''}
    })();`;
  for (const flush of [true, false]) {
    // The timeout only guards the test run against a hang; the assertion is on the exit status.
    const r = spawnSync(process.execPath, ['-e', child(flush)], { encoding: 'utf8', timeout: 60000, env: process.env });
    assert.equal(r.signal, null, `child hung (flush=${flush})`);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    if (flush) {
      for (let i = 0; i < 50; i++) assert.ok(lines.includes(`mark:m${i}`), `mark m${i} missing`);
      assert.ok(lines.includes('scope:p') && lines.includes('scope:s'));
    } else {
      // Without a flush the events are best effort, but whatever arrived is whole and in order.
      const marks = lines.filter((l) => l.startsWith('mark:'));
      marks.forEach((l, i) => assert.equal(l, `mark:m${i}`));
    }
  }
});

test('a managed call starts in program order: its start event precedes later synchronous code', async () => {
  const events = [];
  relay.registerSubscriber('order', (e) => events.push(`${e.kind}:${e.scope_category ?? '-'}:${e.name}`));
  try {
    const agent = relay.pushScope('order-agent', relay.ScopeType.Agent);
    const p = relay.llmCallExecute('order-llm', req(1), async () => ({ ok: true }));
    relay.event('order-after');
    await p;
    relay.popScope(agent);
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber('order');
  }
  const mine = events.filter((e) => e.includes('order-'));
  assert.ok(mine.indexOf('scope:start:order-llm') >= 0, mine.join(' '));
  assert.ok(mine.indexOf('scope:start:order-llm') < mine.indexOf('mark:-:order-after'), mine.join(' '));
});

test('every middleware kind runs with its call\'s ScopeStack in effect', async () => {
  const seen = new Map();
  const note = (kind) => { seen.set(kind, relay.currentScopeStack()); };
  relay.registerLlmConditionalExecutionGuardrail('ctx-cond', 1, () => { note('conditional'); return null; });
  relay.registerLlmRequestIntercept('ctx-req', 1, false, ({ request }) => { note('request'); return { request }; });
  relay.registerLlmSanitizeRequestGuardrail('ctx-san-req', 1, (r) => { note('sanitizeRequest'); return r; });
  relay.registerLlmExecutionIntercept('ctx-exec', 1, async (request, next) => { note('execution'); return next(request); });
  relay.registerLlmSanitizeResponseGuardrail('ctx-san-resp', 1, (r) => { note('sanitizeResponse'); return r; });
  relay.registerToolConditionalExecutionGuardrail('ctx-tool-cond', 1, () => { note('toolConditional'); return null; });
  relay.registerScopeSanitizeStartGuardrail('ctx-scope-start', 1, (e, f) => { if (e.name === 'ctx-scope') note('scopeStart'); return f; });
  relay.registerSubscriber('ctx-sub', () => {}); // sanitizers run only for events someone receives
  try {
    const stacks = [relay.createScopeStack(), relay.createScopeStack()];
    for (const stack of stacks) {
      seen.clear();
      await relay.withScopeStack(stack, async () => {
        const s = relay.pushScope('ctx-scope', relay.ScopeType.Agent);
        await relay.llmCallExecute('p', req(1), async () => { await tick(); return { ok: true }; });
        await relay.toolCallExecute('t', {}, () => ({ result: 1 }));
        relay.popScope(s);
      });
      assert.deepStrictEqual([...seen.keys()].sort(), ['conditional', 'execution', 'request', 'sanitizeRequest',
        'sanitizeResponse', 'scopeStart', 'toolConditional']);
      for (const [kind, st] of seen) assert.equal(st, stack, `${kind} ran outside its call's stack`);
    }
  } finally {
    relay.deregisterLlmConditionalExecutionGuardrail('ctx-cond');
    relay.deregisterLlmRequestIntercept('ctx-req');
    relay.deregisterLlmSanitizeRequestGuardrail('ctx-san-req');
    relay.deregisterLlmExecutionIntercept('ctx-exec');
    relay.deregisterLlmSanitizeResponseGuardrail('ctx-san-resp');
    relay.deregisterToolConditionalExecutionGuardrail('ctx-tool-cond');
    relay.deregisterScopeSanitizeStartGuardrail('ctx-scope-start');
    relay.deregisterSubscriber('ctx-sub');
  }
});
