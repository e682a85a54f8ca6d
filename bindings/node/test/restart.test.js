// SPDX-License-Identifier: Apache-2.0
'use strict';
// A helper killed and restarted (docs/node.md, "Helper process"): the global middleware and
// subscribers come back in the new helper before it serves anything; registrations that cannot come
// back (an exporter's, a scope's) make every later call throw until restartHelper(). Never does a call
// run silently without its middleware.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const relay = require('..');
const { helper } = require('../lib/helper');

const req = (n) => ({ headers: {}, content: { n } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Kills the helper and waits until the binding noticed. */
async function killHelper() {
  relay.getHandle(); // make sure one runs
  const gen = helper.generation;
  process.kill(helper.child.pid, 'SIGKILL');
  for (let i = 0; i < 1000 && helper.generation === gen; i++) await sleep(5);
  assert.notEqual(helper.generation, gen, 'the binding noticed the exit');
}

test('global middleware and subscribers are restored in the new helper, in order', async () => {
  const order = [];
  relay.registerLlmRequestIntercept('restart-a', 5, false, ({ request }) => {
    order.push('a');
    return { request: { headers: { ...request.headers, 'x-a': '1' }, content: request.content } };
  });
  relay.registerLlmRequestIntercept('restart-b', 5, false, ({ request }) => {
    order.push('b');
    return { request: { headers: { ...request.headers, 'x-b': '1' }, content: request.content } };
  });
  relay.registerLlmRequestIntercept('restart-gone', 1, false, () => {
    throw new Error('deregistered middleware must not come back');
  });
  relay.deregisterLlmRequestIntercept('restart-gone');
  relay.registerToolConditionalExecutionGuardrail('restart-guard', 0, (name) => (name === 'forbidden' ? 'no' : null));
  const events = [];
  relay.registerSubscriber('restart-sub', (e) => events.push(e.name));
  try {
    const firstPid = helper.child.pid;
    await killHelper();

    const seen = await relay.llmCallExecute('after', req(1), (r) => ({ headers: r.headers }));
    assert.notEqual(helper.child.pid, firstPid);
    assert.equal(seen.headers['x-a'], '1');
    assert.equal(seen.headers['x-b'], '1');
    assert.deepEqual(order, ['a', 'b']); // same priority: by name, as registered
    await assert.rejects(relay.toolCallExecute('forbidden', {}, () => ({ result: 1 })), /guardrail rejected: no/);
    relay.event('after-restart-mark');
    await relay.flushSubscribers();
    assert.ok(events.includes('after'), events.join());
    assert.ok(events.includes('after-restart-mark'));
    // The restored registrations are the new helper's: deregistering them works.
    assert.equal(relay.deregisterLlmRequestIntercept('restart-a'), true);
    assert.equal(relay.deregisterLlmRequestIntercept('restart-gone'), false);

    // A second restart restores what is registered then (restart-a is gone now).
    order.length = 0;
    await killHelper();
    const again = await relay.llmCallExecute('again', req(2), (r) => ({ headers: r.headers }));
    assert.equal(again.headers['x-a'], undefined);
    assert.equal(again.headers['x-b'], '1');
    assert.deepEqual(order, ['b']);
  } finally {
    relay.deregisterLlmRequestIntercept('restart-a');
    relay.deregisterLlmRequestIntercept('restart-b');
    relay.deregisterToolConditionalExecutionGuardrail('restart-guard');
    relay.deregisterSubscriber('restart-sub');
  }
});

test('a lost exporter registration refuses every call until restartHelper()', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nemo-relay-restart-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  relay.registerLlmRequestIntercept('kept', 0, false, ({ request }) => ({
    request: { headers: { ...request.headers, 'x-kept': '1' }, content: request.content },
  }));
  try {
    const x = new relay.AtofExporter({ outputDirectory: dir, filename: 'lost.jsonl' });
    x.register('lost-exporter');
    await killHelper();
    const refused = { code: 'ERR_NEMO_RELAY_HELPER', message: /exporter registrations "lost-exporter" cannot be restored.*restartHelper\(\)/ };
    assert.throws(() => relay.event('refused'), refused);
    assert.throws(() => relay.pushScope('refused', relay.ScopeType.Agent), refused);
    assert.throws(() => relay.llmCallExecute('refused', req(1), () => ({})), refused);
    assert.throws(() => relay.registerSubscriber('refused', () => {}), refused);

    relay.restartHelper();
    const seen = await relay.llmCallExecute('continued', req(2), (r) => ({ headers: r.headers }));
    assert.equal(seen.headers['x-kept'], '1'); // the global middleware is back
    relay.restartHelper(); // harmless without a refusal
  } finally {
    relay.deregisterLlmRequestIntercept('kept');
  }
});

test('a lost scope-local registration refuses every call until restartHelper(); a popped scope does not', async () => {
  // A scope-local registration whose scope ended before the loss is no loss.
  const done = relay.pushScope('ended', relay.ScopeType.Agent);
  relay.scopeRegisterSubscriber(done.uuid, 'ended-sub', () => {});
  relay.popScope(done);
  await killHelper();
  relay.event('fine'); // a new helper, no refusal

  const h = relay.pushScope('scoped', relay.ScopeType.Agent);
  relay.scopeRegisterLlmConditionalExecutionGuardrail(h.uuid, 'scoped-guard', 0, () => 'blocked');
  await killHelper();
  assert.throws(() => relay.event('refused'), {
    code: 'ERR_NEMO_RELAY_HELPER', message: /1 scope-local registration cannot be restored/,
  });
  relay.restartHelper();
  // The scope is gone with its guardrail: the call runs on a fresh stack.
  assert.deepEqual(await relay.llmCallExecute('free', req(3), () => ({ ok: 1 })), { ok: 1 });
});

test('a callback running when the helper dies sees its signal abort', async () => {
  let signal;
  let started;
  const running = new Promise((r) => { started = r; });
  const call = relay.llmCallExecute('dying', req(4), (r, s) => {
    signal = s;
    started();
    return new Promise(() => {});
  });
  await running;
  const gen = helper.generation;
  process.kill(helper.child.pid, 'SIGKILL');
  await assert.rejects(call, { code: 'ERR_NEMO_RELAY_HELPER' });
  assert.notEqual(helper.generation, gen);
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason.code, 'ERR_NEMO_RELAY_HELPER');
});
