// SPDX-License-Identifier: Apache-2.0
'use strict';
// Back-pressure for unread streams (docs/node.md, "Streams"): a reader that stops reading holds the
// provider back instead of queueing its chunks without bound; reading then gets every chunk in order.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');

const req = { headers: {}, content: { stream: true } };
const turns = async (n) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('a stream nobody reads holds the provider back; reading then gets all 100000 chunks in order', async () => {
  const TOTAL = 100000;
  const hwm = relay.LlmStream.highWaterMark;
  assert.equal(hwm, 64);
  let produced = 0;
  let finished = false;
  const stream = await relay.llmStreamCallExecute('bp', req, async function* () {
    for (let i = 0; i < TOTAL; i++) {
      produced = i + 1;
      yield { i };
    }
    finished = true;
  });
  // Nothing reads for a while: the producer runs until the JS queue (64) and the library's stream
  // buffer (1024 chunks) are full, then waits.
  let stalled = 0;
  let last = -1;
  let maxBuffered = 0;
  for (let round = 0; round < 2000 && stalled < 20; round++) {
    await turns(5);
    maxBuffered = Math.max(maxBuffered, stream.buffered);
    if (produced === last) stalled++;
    else stalled = 0;
    last = produced;
  }
  assert.equal(finished, false);
  assert.ok(stream.buffered <= hwm, `buffered ${stream.buffered}`);
  assert.ok(maxBuffered <= hwm, `max buffered ${maxBuffered}`);
  // Every produced chunk is in the JS queue, in the library's buffer (1024), or the one being pushed.
  assert.ok(produced <= hwm + 1024 + 2, `produced ${produced} while nothing read`);
  assert.ok(produced >= hwm, `produced ${produced}`);

  // Reading everything gets every chunk, in order; the queue stays bounded throughout.
  let n = 0;
  for (let c = await stream.next(); c !== null; c = await stream.next()) {
    assert.equal(c.i, n);
    n++;
    maxBuffered = Math.max(maxBuffered, stream.buffered);
  }
  assert.equal(n, TOTAL);
  assert.equal(finished, true);
  assert.ok(maxBuffered <= hwm, `max buffered ${maxBuffered}`);
});

test('closing a stream whose provider waits for room ends it: the provider stops', async () => {
  let stoppedAt = -1;
  let aborted = false;
  const stream = await relay.llmStreamCallExecute('bp-close', req, async function* (request, signal) {
    signal.addEventListener('abort', () => { aborted = true; }, { once: true });
    let i = 0;
    try {
      for (; i < 1e6; i++) yield { i };
    } finally {
      stoppedAt = i;
    }
  });
  while (stream.buffered < relay.LlmStream.highWaterMark) await turns(1);
  await turns(50);
  assert.equal(await stream.next().then((c) => c.i), 0);
  await stream.close();
  while (stoppedAt < 0) await turns(1);
  assert.equal(aborted, true);
  assert.ok(stoppedAt < 64 + 1024 + 4, `stopped at ${stoppedAt}`);
  assert.equal(await stream.next(), null);
});

test('a short stream is answered at once: the provider finishes before anyone reads', async () => {
  let finished = false;
  const stream = await relay.llmStreamCallExecute('bp-short', req, async function* () {
    for (let i = 0; i < relay.LlmStream.highWaterMark - 1; i++) yield { i };
    finished = true;
  });
  while (!finished) await turns(1);
  assert.equal(stream.buffered, relay.LlmStream.highWaterMark - 1);
  let n = 0;
  while ((await stream.next()) !== null) n++;
  assert.equal(n, relay.LlmStream.highWaterMark - 1);
});
