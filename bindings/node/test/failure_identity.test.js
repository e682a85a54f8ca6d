// SPDX-License-Identifier: Apache-2.0
'use strict';
// Failure identity (docs/abi.md, "Errors"): each call rejects with the very value its own callback
// threw, found by the id the failure carries through the helper, never by its message text.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');

const N = 1000;
const req = (content = {}) => new relay.LlmRequest({}, content);
const pending = () => relay.__internal.pendingFailures();

/** Every instance has the same message; `n` tells them apart. */
class Boom extends Error {
  constructor(n) {
    super('the same text for everyone');
    this.name = 'Boom';
    this.n = n;
  }
}

/** Waits until every kept failure was taken or freed by the library. */
async function drained() {
  await relay.flushSubscribers();
  for (let i = 0; i < 500 && pending() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(pending(), 0, 'kept failures left behind');
}

function checkOwn(results, thrown, count = N) {
  assert.equal(results.length, count);
  results.forEach((r, i) => {
    assert.equal(r.status, 'rejected', `call ${i} did not fail`);
    assert.ok(r.reason instanceof Boom, `call ${i}: ${r.reason}`);
    assert.equal(r.reason.n, i);
    assert.equal(r.reason, thrown[i]);
  });
}

test('1,000 concurrent LLM calls failing with the same text each reject with their own error', async () => {
  const thrown = [];
  const calls = [];
  for (let i = 0; i < N; i++) {
    calls.push(relay.llmCallExecute('p', req({ i }), async () => {
      await new Promise((r) => setTimeout(r, i % 7)); // fail in another order than started
      throw (thrown[i] = new Boom(i));
    }));
  }
  checkOwn(await Promise.allSettled(calls), thrown);
  await drained();
});

test('1,000 concurrent tool calls failing at once with the same text each reject with their own error', async () => {
  const thrown = [];
  const calls = [];
  for (let i = 0; i < N; i++) {
    calls.push(relay.toolCallExecute('t', { i }, () => { throw (thrown[i] = new Boom(i)); }));
  }
  checkOwn(await Promise.allSettled(calls), thrown);
  await drained();
});

test('non-Error values thrown with the same text stay with their callers', async () => {
  const thrown = [];
  const calls = [];
  for (let i = 0; i < 200; i++) {
    // Objects whose String() is the same text, and primitives with equal text but distinct callers.
    const v = { n: i, toString: () => 'same' };
    thrown[i] = v;
    calls.push(relay.toolCallExecute('t', {}, () => Promise.reject(v)));
  }
  const results = await Promise.allSettled(calls);
  results.forEach((r, i) => assert.equal(r.reason, thrown[i]));
  await drained();
});

test('an execution intercept that re-raises passes the provider\'s own error; a swallowed one is freed', async () => {
  const thrown = [];
  const seen = [];
  relay.registerLlmExecutionIntercept('relay', 1, async (request, next) => {
    const i = request.content.i;
    try {
      return await next(request);
    } catch (e) {
      seen[i] = e;
      if (i % 2) return { recovered: e.n };
      throw e;
    }
  });
  try {
    const calls = [];
    for (let i = 0; i < N; i++) {
      calls.push(relay.llmCallExecute('p', req({ i }), async () => {
        await null;
        throw (thrown[i] = new Boom(i));
      }));
    }
    const results = await Promise.allSettled(calls);
    results.forEach((r, i) => {
      assert.equal(seen[i], thrown[i]);
      if (i % 2) assert.deepEqual(r.value, { recovered: i });
      else assert.equal(r.reason, thrown[i]);
    });
  } finally {
    relay.deregisterLlmExecutionIntercept('relay');
  }
  await drained();
});

test('a tool execution intercept raising its own error with the same text wins', async () => {
  class Outer extends Error {}
  relay.registerToolExecutionIntercept('replace', 1, async (args, next) => {
    try {
      await next(args);
    } catch (e) {
      const o = new Outer('the same text for everyone');
      o.inner = e;
      throw o;
    }
    throw new Error('the tool fails');
  });
  try {
    const calls = [];
    for (let i = 0; i < 200; i++) calls.push(relay.toolCallExecute('t', { i }, () => { throw new Boom(i); }));
    const results = await Promise.allSettled(calls);
    results.forEach((r, i) => {
      assert.ok(r.reason instanceof Outer);
      assert.equal(r.reason.inner.n, i);
    });
  } finally {
    relay.deregisterToolExecutionIntercept('replace');
  }
  await drained();
});

test('concurrent streams failing with the same text each end with their own error', async () => {
  const count = 200;
  const thrown = [];
  const consume = async (i) => {
    const stream = await relay.llmStreamCallExecute('s', req(), async function* gen() {
      yield { delta: i };
      await null;
      throw (thrown[i] = new Boom(i));
    });
    const got = [];
    try {
      for (let c = await stream.next(); c !== null; c = await stream.next()) got.push(c);
    } catch (e) {
      assert.deepEqual(got, [{ delta: i }]);
      return e;
    }
    throw new Error('the stream ends cleanly');
  };
  const results = await Promise.all(Array.from({ length: count }, (_, i) => consume(i)));
  results.forEach((e, i) => assert.equal(e, thrown[i]));
  await drained();
});

test('a failing stream collector\'s own error reaches the consumer', async () => {
  const thrown = [];
  const consume = async (i) => {
    const stream = await relay.llmStreamCallExecute('s', req(), async function* gen() {
      yield { delta: i };
    }, () => { throw (thrown[i] = new Boom(i)); });
    try {
      for (let c = await stream.next(); c !== null; c = await stream.next());
    } catch (e) {
      return e;
    }
    throw new Error('the stream ends cleanly');
  };
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => consume(i)));
  results.forEach((e, i) => assert.equal(e, thrown[i]));
  await drained();
});

test('10,000 failures leave no kept error behind', async () => {
  for (let i = 0; i < 10_000; i += 500) {
    const calls = [];
    for (let k = 0; k < 500; k++) calls.push(relay.toolCallExecute('t', {}, () => { throw new Boom(i + k); }));
    const results = await Promise.allSettled(calls);
    assert.ok(results.every((r, k) => r.reason.n === i + k));
  }
  await drained();
});
