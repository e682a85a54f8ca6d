// SPDX-License-Identifier: Apache-2.0
'use strict';
// Values that hold themselves (docs/node.md, "JSON crossing"): a TypeError naming the circular
// reference and where it closes, for arguments and for what callbacks return; Node never overflows.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');

const req = (content) => new relay.LlmRequest({}, content);
const cyclicObject = () => {
  const o = { a: 1 };
  o.inner = { back: [o] };
  return o;
};
const cyclicArray = () => {
  const xs = [1];
  xs.push(xs);
  return xs;
};
const circular = (what, where) => (e) => e instanceof TypeError && e.message === `${what}: circular reference at ${where}`;

test('cyclic arguments are refused with a TypeError naming the circular reference', async () => {
  await assert.rejects(async () => relay.toolCallExecute('t', cyclicObject(), () => ({ result: 1 })),
    circular('args', '$.inner.back[0]'));
  await assert.rejects(async () => relay.llmCallExecute('p', req(cyclicArray()), () => 1),
    circular('LlmRequest', '$.content[1]'));
  assert.throws(() => relay.event('m', null, cyclicObject()), circular('data', '$.inner.back[0]'));
  assert.throws(() => relay.toolCall('t', cyclicArray()), circular('args', '$[1]'));
});

test('cyclic callback results reject the call with a TypeError naming the circular reference', async () => {
  await assert.rejects(relay.toolCallExecute('t', {}, () => ({ result: cyclicObject() })),
    circular('callback result', '$.result.inner.back[0]'));
  await assert.rejects(relay.llmCallExecute('p', req({}), async () => cyclicArray()), circular('callback result', '$[1]'));
  relay.registerToolRequestIntercept('cyc', 1, false, () => cyclicObject());
  try {
    await assert.rejects(relay.toolCallExecute('t', {}, () => ({ result: 1 })),
      circular('callback result', '$.inner.back[0]'));
  } finally {
    relay.deregisterToolRequestIntercept('cyc');
  }
});

test('a value shared without a cycle is not circular', async () => {
  const shared = { k: [1, 2] };
  const out = await relay.toolCallExecute('t', { a: shared, b: shared, c: [shared, shared] }, (args) => ({ result: args }));
  assert.deepEqual(out.result, { a: shared, b: shared, c: [shared, shared] });
});
