// SPDX-License-Identifier: Apache-2.0
'use strict';
// Streaming LLM calls (docs/pipeline.md, "Stream outcome table"): every row of that table with its events, a stream
// execution intercept, the typed wrapper and helper loss. No timed assertions: every wait is on an
// event (a Promise the provider, collector or finalizer resolves), never on a clock.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');
const { JsonPassthrough, typedLlmStreamExecute } = require('../typed');
const { helper } = require('../lib/helper');

const req = (n) => ({ headers: {}, content: { n } });
const namedError = (name, message) => Object.assign(new Error(message), { name });
const deferred = () => {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
};

const chatChunk = (text, finish = null, usage = undefined) => ({
  object: 'chat.completion.chunk', model: 'gpt-4o',
  choices: [{ index: 0, delta: text === null ? {} : { content: text }, finish_reason: finish }],
  ...(usage ? { usage } : {}),
});
const CHAT = [chatChunk('Hel'), chatChunk('lo'), chatChunk(null, 'stop', { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 })];

async function* fromArray(chunks) {
  for (const c of chunks) yield c;
}

async function drain(stream) {
  const out = [];
  for (let c = await stream.next(); c !== null; c = await stream.next()) out.push(c);
  return out;
}

/** Runs `body` with a collecting subscriber on a fresh stack; returns the events of the one LLM span. */
async function llmEvents(body) {
  await relay.flushSubscribers();
  const events = [];
  relay.registerSubscriber('stream-test', (e) => events.push(e));
  try {
    await relay.withScopeStack(relay.createScopeStack(), body);
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber('stream-test');
  }
  const start = events.find((e) => e.kind === 'scope' && e.category === 'llm' && e.scope_category === 'start');
  if (!start) return { start: null, chunks: [], end: null, all: events };
  return {
    start,
    chunks: events.filter((e) => e.kind === 'mark' && e.name === 'llm.chunk' && e.parent_uuid === start.uuid),
    end: events.find((e) => e.kind === 'scope' && e.scope_category === 'end' && e.uuid === start.uuid),
    all: events,
  };
}

test('normal completion: every chunk, collector copies, llm.chunk summaries, finalizer payload', async () => {
  const collected = [];
  let finalized = 0;
  let read;
  const ev = await llmEvents(async () => {
    const stream = await relay.llmStreamCallExecute('openai', req(1), () => fromArray(CHAT),
      (chunk) => { collected.push(chunk.choices[0].delta.content ?? ''); chunk.choices = 'mutated'; },
      () => { finalized++; return { text: collected.join(''), chunks: collected.length }; },
      null, 2 /* STREAMING */, { d: 1 }, { m: 1 }, 'gpt-4o');
    assert.ok(stream instanceof relay.LlmStream);
    read = await drain(stream);
    assert.equal(await stream.next(), null);
  });
  assert.deepStrictEqual(read, CHAT); // the collector's mutation did not reach the consumer
  assert.deepStrictEqual(collected, ['Hel', 'lo', '']);
  assert.equal(finalized, 1);
  assert.deepStrictEqual(ev.start.attributes, ['streaming']);
  assert.deepStrictEqual(ev.chunks.map((m) => m.data), [
    { chunk_index: 0, provider: 'openai_chat_completions', event_type: 'chat.completion.chunk', choice_indices: [0] },
    { chunk_index: 1, provider: 'openai_chat_completions', event_type: 'chat.completion.chunk', choice_indices: [0] },
    {
      chunk_index: 2, provider: 'openai_chat_completions', event_type: 'chat.completion.chunk', choice_indices: [0],
      finish_reasons: [{ choice_index: 0, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    },
  ]);
  assert.deepStrictEqual(ev.end.data, { text: 'Hello', chunks: 3 });
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
  assert.equal(typeof ev.end.category_profile.time_to_first_chunk, 'number');
  assert.ok(ev.end.category_profile.time_to_first_chunk >= 0);
});

test('llm.chunk summaries follow the chunk shape (responses, anthropic, unknown)', async () => {
  const chunks = [
    { type: 'response.output_text.delta', output_index: 0, content_index: 1, delta: 'x' },
    { type: 'response.completed', response: { status: 'completed', usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } } },
    { type: 'message_start', message: { usage: { input_tokens: 9, output_tokens: 1 } } },
    { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'y' } },
    { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } },
    { type: 'error', error: { message: 'overloaded' } },
    { choices: [{ delta: { content: 'no object' } }] },
    'plain string',
  ];
  let read;
  const ev = await llmEvents(async () => {
    read = await drain(await relay.llmStreamCallExecute('p', req(2), () => fromArray(chunks)));
  });
  assert.deepStrictEqual(read, chunks);
  assert.deepStrictEqual(ev.chunks.map((m) => m.data), [
    { chunk_index: 0, provider: 'openai_responses', event_type: 'response.output_text.delta', indices: { output_index: 0, content_index: 1 } },
    { chunk_index: 1, provider: 'openai_responses', event_type: 'response.completed', status: 'completed', usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    { chunk_index: 2, provider: 'anthropic_messages', event_type: 'message_start', usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } },
    { chunk_index: 3, provider: 'anthropic_messages', event_type: 'content_block_delta', indices: { index: 2 } },
    { chunk_index: 4, provider: 'anthropic_messages', event_type: 'message_delta', stop_reason: 'end_turn', usage: { completion_tokens: 5 } },
    { chunk_index: 5, provider: 'unknown' },
    { chunk_index: 6, provider: 'unknown' },
    { chunk_index: 7, provider: 'unknown' },
  ]);
  // No finalizer: the end payload falls back to the handle data (null here).
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
  assert.equal(ev.end.data, null);
});

test('llm.chunk summaries of Gemini chunks and ConverseStream events (docs/codecs.md)', async () => {
  const chunks = [
    { candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1, totalTokenCount: 4 } },
    { contentBlockDelta: { delta: { text: 'x' }, contentBlockIndex: 1 } },
    { metadata: { usage: { inputTokens: 3, outputTokens: 1, totalTokens: 4 }, metrics: { latencyMs: 9 } } },
  ];
  const ev = await llmEvents(async () => {
    await drain(await relay.llmStreamCallExecute('p', req(4), () => fromArray(chunks)));
  });
  const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
  assert.deepStrictEqual(ev.chunks.map((m) => m.data), [
    { chunk_index: 0, provider: 'gemini_generate_content', event_type: 'streamGenerateContent', choice_indices: [0],
      finish_reasons: [{ choice_index: 0, finish_reason: 'STOP' }], usage },
    { chunk_index: 1, provider: 'bedrock_converse', event_type: 'contentBlockDelta', indices: { contentBlockIndex: 1 } },
    { chunk_index: 2, provider: 'bedrock_converse', event_type: 'metadata', usage },
  ]);
});

test('a null finalizer value records the handle data', async () => {
  const ev = await llmEvents(async () => {
    await drain(await relay.llmStreamCallExecute('p', req(3), () => fromArray([{ a: 1 }]), null, () => null, null, null, { fallback: true }));
  });
  assert.deepStrictEqual(ev.end.data, { fallback: true });
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
});

test('finalizer throws: the consumer gets every chunk and no error; OK end with null data, error logged', async () => {
  relay.clearLastCallbackError();
  let read;
  const ev = await llmEvents(async () => {
    const s = await relay.llmStreamCallExecute('p', req(4), () => fromArray(CHAT), null,
      () => { throw namedError('ValueError', 'finalizer exploded'); }, null, null, { d: 1 });
    read = await drain(s);
  });
  assert.deepStrictEqual(read, CHAT);
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
  assert.equal(ev.end.data, null);
  assert.equal(ev.chunks.length, 3);
  assert.match(relay.getLastCallbackError(), /stream finalizer: finalizer exploded/);
});

test('provider throws mid-stream: chunks so far, then the original error; ERROR end, finalizer still called', async () => {
  const boom = namedError('ConnectionError', 'upstream reset');
  let finalized = 0;
  const read = [];
  let caught;
  const ev = await llmEvents(async () => {
    const s = await relay.llmStreamCallExecute('p', req(5), async function* () {
      yield CHAT[0];
      yield CHAT[1];
      throw boom;
    }, null, () => { finalized++; return { partial: true }; });
    try {
      for (;;) {
        const c = await s.next();
        if (c === null) break;
        read.push(c);
      }
    } catch (e) {
      caught = e;
    }
    await assert.rejects(s.next(), (e) => e === boom); // the failure stays
  });
  assert.deepStrictEqual(read, CHAT.slice(0, 2));
  assert.equal(caught, boom);
  assert.equal(finalized, 1);
  assert.equal(ev.chunks.length, 2);
  assert.equal(ev.end.metadata['otel.status_code'], 'ERROR');
  assert.equal(ev.end.metadata['exception.type'], 'ConnectionError');
  assert.match(ev.end.metadata['otel.status_description'] ?? ev.end.metadata['exception.message'], /upstream reset/);
  assert.deepStrictEqual(ev.end.data, { partial: true });
  assert.ok('time_to_first_chunk' in ev.end.category_profile);
});

test('provider that returns no async iterable fails with a TypeError and an ERROR end', async () => {
  let caught;
  const ev = await llmEvents(async () => {
    try {
      const s = await relay.llmStreamCallExecute('p', req(6), () => 42);
      await s.next();
    } catch (e) {
      caught = e;
    }
  });
  assert.ok(caught instanceof TypeError);
  assert.match(caught.message, /async iterable/);
  assert.equal(ev.end.metadata['otel.status_code'], 'ERROR');
  assert.equal(ev.end.metadata['exception.type'], 'TypeError');
});

test('collector throws: the consumer gets the collector error; ERROR end; the provider is stopped', async () => {
  const bad = namedError('KeyError', 'collector exploded');
  const stopped = deferred();
  let finalized = 0;
  const read = [];
  let caught;
  const ev = await llmEvents(async () => {
    const s = await relay.llmStreamCallExecute('p', req(7), async function* () {
      try {
        for (let i = 0; ; i++) yield { i };
      } finally {
        stopped.resolve();
      }
    }, (c) => { if (c.i === 2) throw bad; }, () => { finalized++; return { upTo: 2 }; });
    try {
      for (let c = await s.next(); c !== null; c = await s.next()) read.push(c);
    } catch (e) {
      caught = e;
    }
    await stopped.promise; // the pump called the generator's return()
  });
  assert.equal(caught, bad);
  assert.deepStrictEqual(read, [{ i: 0 }, { i: 1 }]);
  assert.equal(finalized, 1);
  assert.equal(ev.chunks.length, 2); // the failing chunk is neither marked nor delivered
  assert.equal(ev.end.metadata['otel.status_code'], 'ERROR');
  assert.equal(ev.end.metadata['exception.type'], 'KeyError');
  assert.deepStrictEqual(ev.end.data, { upTo: 2 });
});

test('consumer stops reading without closing: the provider is drained and the end is OK', async () => {
  const finalized = deferred();
  let first;
  const ev = await llmEvents(async () => {
    const s = await relay.llmStreamCallExecute('p', req(8), () => fromArray(CHAT), null, () => {
      finalized.resolve();
      return { all: true };
    });
    first = await s.next();
    await finalized.promise; // nobody reads chunks 2 and 3, yet the stream ends
  });
  assert.deepStrictEqual(first, CHAT[0]);
  assert.equal(ev.chunks.length, 3);
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
  assert.deepStrictEqual(ev.end.data, { all: true });
});

test('consumer closes early: producer cancelled, finalizer on partial state, dropped ERROR end', async () => {
  const cleaned = deferred();
  let providerSignal;
  const collected = [];
  let finalizedWith;
  let after;
  const ev = await llmEvents(async () => {
    const s = await relay.llmStreamCallExecute('p', req(9), async function* (request, signal) {
      providerSignal = signal;
      try {
        yield { n: 1 };
        yield { n: 2 };
        // Stopped here (return()) or, when it got this far first, woken by the abort.
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        yield { n: 'never delivered' };
      } finally {
        cleaned.resolve();
      }
    }, (c) => collected.push(c.n), () => { finalizedWith = [...collected]; return { partial: collected }; });
    assert.deepStrictEqual(await s.next(), { n: 1 });
    await s.close();
    after = await s.next();
    await s.close(); // idempotent
    await cleaned.promise;
  });
  assert.equal(after, null);
  assert.equal(providerSignal.aborted, true);
  // The pump may or may not have pushed chunk 2 before the close: the finalizer sees what was taken.
  assert.ok([[1], [1, 2]].some((c) => JSON.stringify(c) === JSON.stringify(finalizedWith)), String(finalizedWith));
  assert.equal(ev.end.metadata['otel.status_code'], 'ERROR');
  assert.match(ev.end.metadata['otel.status_description'], /stream dropped before clean completion/);
  assert.equal(ev.end.metadata['nemo_relay.stream.end_reason'], 'consumer_closed');
  assert.deepStrictEqual(ev.end.data, { partial: finalizedWith });
  assert.equal(ev.chunks.length, finalizedWith.length);
});

test('no chunks: an empty stream, OK end without time_to_first_chunk', async () => {
  let read;
  const ev = await llmEvents(async () => {
    read = await drain(await relay.llmStreamCallExecute('p', req(10), () => fromArray([]), null, () => ({ empty: true })));
  });
  assert.deepStrictEqual(read, []);
  assert.equal(ev.chunks.length, 0);
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
  assert.deepStrictEqual(ev.end.data, { empty: true });
  assert.ok(!ev.end.category_profile || !('time_to_first_chunk' in ev.end.category_profile));
});

test('a failure before the start rejects the call with no LLM events and no finalizer', async () => {
  relay.registerLlmConditionalExecutionGuardrail('no-stream', 1, () => 'streams are off');
  let finalized = 0;
  try {
    const ev = await llmEvents(async () => {
      await assert.rejects(
        relay.llmStreamCallExecute('p', req(11), () => fromArray(CHAT), null, () => { finalized++; }),
        { code: 'NEMO_RELAY_E_GUARDRAIL_REJECTED', message: 'guardrail rejected: streams are off' });
    });
    assert.equal(ev.start, null);
    assert.equal(finalized, 0);
  } finally {
    relay.deregisterLlmConditionalExecutionGuardrail('no-stream');
  }
});

test('stream execution intercept: its own chunks around the inner layers; plain execution intercepts do not apply', async () => {
  const seen = [];
  relay.registerLlmStreamExecutionIntercept('wrap', 1, async function* (request, next) {
    seen.push(request.content);
    yield { type: 'intercept.hello' };
    yield* await next({ headers: request.headers, content: { ...request.content, inner: true } });
    yield { type: 'intercept.bye' };
  });
  relay.registerLlmExecutionIntercept('not-for-streams', 1, () => { throw new Error('must not run'); });
  let providerSaw;
  let read;
  const collected = [];
  try {
    const ev = await llmEvents(async () => {
      const s = await relay.llmStreamCallExecute('p', req(12), (r) => {
        providerSaw = r.content;
        return fromArray([{ c: 1 }, { c: 2 }]);
      }, (c) => collected.push(c));
      read = await drain(s);
    });
    assert.equal(ev.chunks.length, 4);
    assert.equal(ev.end.metadata['otel.status_code'], 'OK');
  } finally {
    assert.equal(relay.deregisterLlmStreamExecutionIntercept('wrap'), true);
    assert.equal(relay.deregisterLlmStreamExecutionIntercept('wrap'), false);
    relay.deregisterLlmExecutionIntercept('not-for-streams');
  }
  assert.deepStrictEqual(seen, [{ n: 12 }]);
  assert.deepStrictEqual(providerSaw, { n: 12, inner: true });
  const expected = [{ type: 'intercept.hello' }, { c: 1 }, { c: 2 }, { type: 'intercept.bye' }];
  assert.deepStrictEqual(read, expected);
  assert.deepStrictEqual(collected, expected); // the collector sees chunks after the intercepts
});

// Transforming stream intercepts (docs/pipeline.md, "Transforming stream intercepts"): `await next(req)` gives the
// inner layers' chunks, which the intercept transforms, drops or adds to.
const upper = (c) => chatChunk(c.choices[0].delta.content.toUpperCase());
async function* letters() {
  for (const t of ['a', 'b', 'c', 'd']) yield chatChunk(t);
}
const textOf = (chunks) => chunks.map((c) => (c.choices ? c.choices[0].delta.content ?? '' : '')).join('');

/** One streaming call with the given stream intercepts; returns what the consumer and collector saw and the events. */
async function transformCall(intercepts, provider, consume = drain) {
  for (const [name, priority, fn] of intercepts) relay.registerLlmStreamExecutionIntercept(name, priority, fn);
  const collected = [];
  let got = null;
  let failure = null;
  try {
    const ev = await llmEvents(async () => {
      const s = await relay.llmStreamCallExecute('p', req(30), provider, (c) => collected.push(c), () => ({ n: collected.length }));
      try {
        got = await consume(s);
      } catch (e) {
        failure = e;
      }
    });
    return { got, collected, failure, ev };
  } finally {
    for (const [name] of intercepts) assert.equal(relay.deregisterLlmStreamExecutionIntercept(name), true);
  }
}

test('transforming stream intercept: upper-cases each inner chunk; observers see its output', async () => {
  const shout = async function* (request, next) {
    for await (const c of await next(request)) yield upper(c);
  };
  const { got, collected, failure, ev } = await transformCall([['shout', 1, shout]], letters);
  assert.equal(failure, null);
  assert.equal(textOf(got), 'ABCD');
  assert.deepStrictEqual(collected, got);
  assert.equal(ev.chunks.length, 4);
  assert.equal(ev.all.filter((e) => e.kind === 'scope' && e.category === 'llm').length, 2);
  assert.deepStrictEqual(ev.end.data, { n: 4 });
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
});

test('transforming stream intercept: drops chunks and adds one', async () => {
  const thin = async function* (request, next) {
    let n = 0;
    for await (const c of await next(request)) {
      if (n % 2 === 0) yield c;
      n += 1;
    }
    yield { type: 'summary', count: n };
  };
  const { got, collected, ev } = await transformCall([['thin', 1, thin]], letters);
  assert.equal(textOf(got), 'ac');
  assert.deepStrictEqual(got[2], { type: 'summary', count: 4 });
  assert.deepStrictEqual(collected, got);
  assert.deepStrictEqual(ev.chunks.map((m) => m.data.provider), ['openai_chat_completions', 'openai_chat_completions', 'unknown']);
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
});

test('transforming stream intercept: stopping early cancels only the inner layers', { timeout: 20000 }, async () => {
  const providerClosed = deferred();
  let aborted = false;
  const endless = async function* (r, signal) {
    try {
      for (let i = 0; ; i++) {
        yield chatChunk(String(i));
        await new Promise((res) => setImmediate(res));
      }
    } finally {
      aborted = signal.aborted;
      providerClosed.resolve();
    }
  };
  const firstOnly = async function* (request, next) {
    for await (const c of await next(request)) {
      yield upper(c);
      break; // leaving the loop closes the inner stream
    }
    await providerClosed.promise;
    yield { type: 'stopped' };
  };
  const { got, failure, ev } = await transformCall([['first', 1, firstOnly]], endless);
  assert.equal(failure, null);
  assert.deepStrictEqual(got, [chatChunk('0'), { type: 'stopped' }]);
  assert.equal(aborted, true);
  assert.equal(ev.chunks.length, 2);
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
});

test('transforming stream intercept: the inner failure reaches it, to pass on or replace', async () => {
  const boom = namedError('ConnectionError', 'upstream reset');
  const failing = async function* () {
    yield chatChunk('a');
    throw boom;
  };
  const shout = async function* (request, next) {
    for await (const c of await next(request)) yield upper(c);
  };
  let r = await transformCall([['shout', 1, shout]], failing, async (s) => {
    const out = [];
    try {
      for (let c = await s.next(); c !== null; c = await s.next()) out.push(c);
    } catch (e) {
      return { out, e };
    }
    return { out, e: null };
  });
  assert.equal(textOf(r.got.out), 'A');
  assert.equal(r.got.e, boom); // the provider's own error, through the intercept
  assert.equal(r.ev.end.metadata['otel.status_code'], 'ERROR');
  assert.equal(r.ev.end.metadata['exception.type'], 'ConnectionError');

  const seen = [];
  const fallback = async function* (request, next) {
    try {
      for await (const c of await next(request)) yield upper(c);
    } catch (e) {
      seen.push(e);
      yield { type: 'fallback' };
    }
  };
  r = await transformCall([['fallback', 1, fallback]], failing);
  assert.equal(r.failure, null);
  assert.deepStrictEqual(seen, [boom]);
  assert.deepStrictEqual(r.got, [chatChunk('A'), { type: 'fallback' }]);
  assert.equal(r.ev.end.metadata['otel.status_code'], 'OK');
});

test('transforming stream intercepts nest', async () => {
  const shout = async function* (request, next) {
    for await (const c of await next(request)) yield upper(c);
  };
  const twice = async function* (request, next) {
    for await (const c of await next(request)) {
      yield c;
      yield { ...c, again: true };
    }
  };
  const { got, collected, ev } = await transformCall([['shout', 1, shout], ['twice', 2, twice]], letters);
  assert.equal(textOf(got), 'AABBCCDD'); // the outer one rebuilt each chunk the inner one doubled
  assert.deepStrictEqual(collected, got);
  assert.equal(ev.chunks.length, 8);
  assert.equal(ev.end.metadata['otel.status_code'], 'OK');
});

test('transforming stream intercept: the consumer closing cancels the inner layers it reads', { timeout: 20000 }, async () => {
  const providerClosed = deferred();
  const interceptClosed = deferred();
  const endless = async function* () {
    try {
      for (let i = 0; ; i++) {
        yield chatChunk(String(i));
        await new Promise((res) => setImmediate(res));
      }
    } finally {
      providerClosed.resolve();
    }
  };
  const shout = async function* (request, next) {
    try {
      for await (const c of await next(request)) yield upper(c);
    } finally {
      interceptClosed.resolve();
    }
  };
  const { got, ev } = await transformCall([['shout', 1, shout]], endless, async (s) => {
    const first = await s.next();
    await s.close();
    await Promise.all([providerClosed.promise, interceptClosed.promise]);
    return [first];
  });
  assert.deepStrictEqual(got, [chatChunk('0')]);
  assert.equal(ev.end.metadata['otel.status_description'], 'stream dropped before clean completion');
  assert.equal(ev.end.metadata['nemo_relay.stream.end_reason'], 'consumer_closed');
});

test('transforming stream intercept: the inner stream holds the inner layers back', { timeout: 60000 }, async () => {
  const n = 3000;
  let produced = 0;
  const ahead = [];
  const provider = async function* () {
    for (let i = 0; i < n; i++) {
      produced += 1;
      yield { i };
    }
  };
  const slow = async function* (request, next) {
    let read = 0;
    for await (const c of await next(request)) {
      read += 1;
      if (read === 1 || read === 1500) {
        for (let k = 0; k < 50; k++) await new Promise((res) => setImmediate(res));
        ahead.push(produced - read);
      }
      yield c;
    }
  };
  const { got, failure } = await transformCall([['slow', 1, slow]], provider);
  assert.equal(failure, null);
  assert.deepStrictEqual(got.map((c) => c.i), Array.from({ length: n }, (_, i) => i));
  // At most the library's inner buffer (1024), the chunk held here and the one being pushed.
  assert.equal(ahead.length, 2);
  for (const a of ahead) assert.ok(a <= 1024 + 2 && a >= 1000, `ahead ${a}`);
});

test('a failing stream intercept fails the call with its own error', async () => {
  const bad = namedError('PermissionError', 'intercept says no');
  relay.registerLlmStreamExecutionIntercept('deny', 1, () => { throw bad; });
  try {
    const ev = await llmEvents(async () => {
      await assert.rejects(relay.llmStreamCallExecute('p', req(13), () => fromArray(CHAT)), (e) => e === bad);
    });
    assert.equal(ev.end.metadata['otel.status_code'], 'ERROR');
    assert.equal(ev.end.metadata['exception.type'], 'PermissionError');
  } finally {
    relay.deregisterLlmStreamExecutionIntercept('deny');
  }
});

test('LlmStream is async-iterable; leaving the loop closes the stream', async () => {
  const ev = await llmEvents(async () => {
    const s = await relay.llmStreamCallExecute('p', req(14), async function* (r, signal) {
      yield 1;
      yield 2;
      await new Promise((res) => signal.addEventListener('abort', res, { once: true }));
    });
    const got = [];
    for await (const c of s) {
      got.push(c);
      if (got.length === 2) break;
    }
    assert.deepStrictEqual(got, [1, 2]);
  });
  assert.equal(ev.end.metadata['nemo_relay.stream.end_reason'], 'consumer_closed');
});

test('typedLlmStreamExecute: chunk and response codecs; close() also returns the source iterator', async () => {
  const chunkCodec = { toJson: (v) => ({ word: v }), fromJson: (j) => j.word };
  const responseCodec = { toJson: (v) => ({ text: v }), fromJson: (j) => j.text };
  const words = [];
  const ev = await llmEvents(async () => {
    const s = await typedLlmStreamExecute('p', req(15), () => fromArray(['a', 'b']),
      (w) => words.push(w), () => words.join(''), chunkCodec, responseCodec, { modelName: 'm', data: { typed: true } });
    assert.deepStrictEqual(await drain(s), [{ word: 'a' }, { word: 'b' }]);
  });
  assert.deepStrictEqual(words, ['a', 'b']);
  assert.deepStrictEqual(ev.end.data, { text: 'ab' });
  assert.equal(ev.start.category_profile.model_name, 'm');

  const returned = deferred();
  const source = {
    [Symbol.asyncIterator]() { return this; },
    async next() { return { done: false, value: 'x' }; },
    async return() { returned.resolve(); throw new Error('source cleanup failed'); },
  };
  const s = await typedLlmStreamExecute('p', req(16), () => source, null, null, new JsonPassthrough(), new JsonPassthrough());
  assert.equal(await s.next(), 'x');
  await assert.rejects(s.close(), { message: 'source cleanup failed' });
  await returned.promise;
});

test('helper death rejects a pending next() with the reason', async () => {
  const providing = deferred();
  const s = await relay.llmStreamCallExecute('p', req(17), async function* () {
    yield { first: true };
    providing.resolve();
    await new Promise(() => {}); // never produces again
  });
  assert.deepStrictEqual(await s.next(), { first: true });
  await providing.promise;
  const pending = s.next();
  process.kill(helper.child.pid, 'SIGKILL');
  await assert.rejects(pending, (e) => e.code === 'ERR_NEMO_RELAY_HELPER' && /helper (exited|closed)/.test(e.message));
  await s.close(); // nothing left to close: resolves
  // A new helper serves the next stream.
  assert.deepStrictEqual(await drain(await relay.llmStreamCallExecute('p', req(18), () => fromArray([1]))), [1]);
});
