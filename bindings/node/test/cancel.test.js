// SPDX-License-Identifier: Apache-2.0
'use strict';
// The AbortSignal handed to callbacks (docs/node.md, "Cancellation"): it aborts when the library
// cancels the callback's pending token (nemo_relay_token_on_cancel), here because the execution
// intercept around it settled without waiting for `next`, and never for a callback that answered.
// Every wait is on an event, never on a clock.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');

const req = { headers: {}, content: { q: 1 } };

/** Resolves with the signal's reason once it aborts. */
const aborted = (signal) => new Promise((resolve) => {
  if (signal.aborted) resolve(signal.reason);
  else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
});

test('an LLM execution intercept that settles without awaiting next aborts the provider signal', async () => {
  let providerSignal = null;
  let providerStarted;
  const started = new Promise((r) => { providerStarted = r; });
  let nextOutcome = null;
  relay.registerLlmExecutionIntercept('abandon', 0, async (request, next) => {
    // Starts the inner layers, waits until the provider runs, then answers without them.
    next(request).then((v) => { nextOutcome = { value: v }; }, (e) => { nextOutcome = { error: e }; });
    await started;
    return { short: true };
  });
  try {
    const response = await relay.llmCallExecute('abandoned', req, (request, signal) => {
      providerSignal = signal;
      providerStarted();
      return new Promise(() => {}); // never answers: only the abort ends it
    });
    assert.deepEqual(response, { short: true });
    const reason = await aborted(providerSignal);
    assert.equal(providerSignal.aborted, true);
    assert.equal(reason.code, 'NEMO_RELAY_E_CANCELLED');
    // `next` reports the cancellation too (after the abort, on a later turn).
    while (nextOutcome === null) await new Promise((r) => setImmediate(r));
    assert.equal(nextOutcome.error?.code, 'NEMO_RELAY_E_CANCELLED');
  } finally {
    relay.deregisterLlmExecutionIntercept('abandon');
  }
});

test('a tool execution intercept that settles without awaiting next aborts the tool signal', async () => {
  let toolSignal = null;
  let toolStarted;
  const started = new Promise((r) => { toolStarted = r; });
  relay.registerToolExecutionIntercept('abandon-tool', 0, async (args, next) => {
    next(args); // never awaited: its rejection is handled by the binding
    await started;
    return { result: 'from intercept' };
  });
  try {
    const out = await relay.toolCallExecute('t', { a: 1 }, (args, signal) => {
      toolSignal = signal;
      toolStarted();
      return new Promise(() => {});
    });
    assert.equal(out.result, 'from intercept');
    const reason = await aborted(toolSignal);
    assert.equal(reason.code, 'NEMO_RELAY_E_CANCELLED');
  } finally {
    relay.deregisterToolExecutionIntercept('abandon-tool');
  }
});

test('an intercept revoked with its inner layers: every abandoned layer aborts, innermost included', async () => {
  const signals = {};
  let innerStarted;
  const started = new Promise((r) => { innerStarted = r; });
  relay.registerLlmExecutionIntercept('outer', 0, async (request, next) => {
    next(request);
    await started;
    return { outer: true };
  });
  relay.registerLlmExecutionIntercept('inner', 1, (request, next, signal) => {
    signals.inner = signal;
    return next(request);
  });
  try {
    const response = await relay.llmCallExecute('nested', req, (request, signal) => {
      signals.provider = signal;
      innerStarted();
      return new Promise(() => {});
    });
    assert.deepEqual(response, { outer: true });
    await Promise.all([aborted(signals.provider), aborted(signals.inner)]);
  } finally {
    relay.deregisterLlmExecutionIntercept('outer');
    relay.deregisterLlmExecutionIntercept('inner');
  }
});

test('signals of callbacks that answered never abort', async () => {
  const seen = [];
  relay.registerLlmRequestIntercept('sig-req', 0, false, ({ request }, signal) => {
    seen.push(signal);
    return { request };
  });
  relay.registerLlmExecutionIntercept('sig-exec', 0, async (request, next, signal) => {
    seen.push(signal);
    return next(request);
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await relay.llmCallExecute('ok', req, async (request, signal) => {
        seen.push(signal);
        await new Promise((res) => setImmediate(res));
        return { i };
      });
      assert.deepEqual(r, { i });
    }
    const t = await relay.toolCallExecute('t', {}, (args, signal) => {
      seen.push(signal);
      return { result: 1 };
    });
    assert.equal(t.result, 1);
    await relay.flushSubscribers();
    await new Promise((res) => setImmediate(res));
    assert.equal(seen.length, 10);
    for (const s of seen) {
      assert.ok(s instanceof AbortSignal);
      assert.equal(s.aborted, false);
    }
  } finally {
    relay.deregisterLlmRequestIntercept('sig-req');
    relay.deregisterLlmExecutionIntercept('sig-exec');
  }
});
