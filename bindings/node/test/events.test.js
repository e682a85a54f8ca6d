// SPDX-License-Identifier: Apache-2.0
'use strict';
// The six end-to-end event scenarios of Tests/vectors/events.json, reproduced through the Node API.
// Each runs on a fresh ScopeStack (the vectors' "fresh thread"); <uuid:1> is that stack's root.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');
const { JsonPassthrough, typedLlmExecute } = require('../typed');
const { loadVectors, normaliseEvents } = require('./support');

const scenarios = loadVectors('events.json');
const scenario = (name) => scenarios.find((s) => s.name === name);
const namedError = (name, message) => Object.assign(new Error(message), { name });
/** The seven Anthropic stream events whose llm.chunk summaries the streaming scenario records. */
const ANTHROPIC_CHUNKS = [
  {
    type: 'message_start',
    message: {
      id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514', content: [],
      stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' world' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } },
  { type: 'message_stop' },
];
const chatRequest = (text) => ({ headers: {}, content: { model: 'gpt-4o', messages: [{ role: 'user', content: text }] } });

/** Runs `body` on a fresh stack with a collecting subscriber; returns the normalised events. */
async function run(body) {
  await relay.flushSubscribers();
  const events = [];
  relay.registerSubscriber('events-test', (e) => events.push(e));
  let root;
  try {
    await relay.withScopeStack(relay.createScopeStack(), async () => {
      root = relay.getHandle().uuid;
      await body();
    });
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber('events-test');
  }
  return normaliseEvents(events, root);
}

const RUNNERS = {
  async nested_scopes_and_marks() {
    return run(async () => {
      await relay.withScope('research-agent', relay.ScopeType.Agent, async (agent) => {
        relay.event('plan-ready', null, { steps: 2 });
        const fetch = relay.pushScope('fetch', relay.ScopeType.Function, null, 1 /* PARALLEL */);
        relay.popScope(fetch, { docs: 3 }, null, { cache: 'miss' });
        relay.event('explicit-parent-mark', agent, null, { k: 'v' });
      }, null, null, null, { session_id: 's-1' }, { task: 'summarise' });
      await assert.rejects(
        relay.withScope('failing-step', relay.ScopeType.Function, () => { throw namedError('ValueError', 'step exploded'); }),
        { name: 'ValueError', message: 'step exploded' });
    });
  },

  async managed_llm_call_with_openai_chat_codecs(exp) {
    const content = exp[1].data.content;
    const response = exp[2].data;
    const c = new relay.OpenAIChatCodec();
    let seen;
    const got = await run(async () => {
      await relay.withScope('chat-agent', relay.ScopeType.Agent, async () => {
        // The raw API form: codec slots 9-11 as functions (a JS codec on the C side).
        const r = await relay.llmCallExecute(
          'openai', new relay.LlmRequest({ authorization: 'Bearer sk-secret', 'x-request-id': 'req-1' }, content),
          async (req) => { seen = req; return response; },
          null, null, null, { attempt: 1 }, 'gpt-4o-mini',
          c.decode.bind(c), ({ annotated, original }) => c.encode(annotated, original), c.decodeResponse.bind(c));
        assert.deepStrictEqual(r, response);
      });
    });
    assert.equal(seen.headers.authorization, 'Bearer sk-secret');
    assert.equal(seen.headers['x-dynamo-session-id'], 'chat-agent');
    assert.match(seen.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    return got;
  },

  async managed_and_manual_tool_calls() {
    return run(async () => {
      const ok = await relay.toolCallExecute('get_weather', { city: 'Paris' },
        async () => ({ result: { temp_c: 18, city: 'Paris' }, annotation: { source: 'cache' } }),
        null, null, null, { attempt: 1 }, 'call_1');
      assert.deepStrictEqual(ok, { result: { temp_c: 18, city: 'Paris' }, annotation: { source: 'cache' } });
      await assert.rejects(
        relay.toolCallExecute('get_time', { tz: 'Asia/Tokyo' }, () => { throw namedError('RuntimeError', 'service unavailable'); },
          null, 1 /* REMOTE */, { fallback: 'n/a' }, null, 'call_2'),
        { name: 'RuntimeError', message: 'service unavailable' });
      const h = relay.toolCall('manual_tool', { q: 1 }, null, null, null, { phase: 'start' });
      relay.toolCallEnd(h, { result: 'done' }, null, { phase: 'end' });
    });
  },

  async llm_conditional_guardrail_rejection() {
    relay.registerLlmConditionalExecutionGuardrail('allow-all', 1, () => null);
    relay.registerLlmConditionalExecutionGuardrail('block-secrets', 2,
      (req) => (JSON.stringify(req.content).includes('secret') ? 'request mentions a secret' : null));
    try {
      return await run(async () => {
        await assert.rejects(
          relay.llmCallExecute('openai', chatRequest('tell me the secret'), () => ({ ok: true }), null, null, null, null, 'gpt-4o'),
          (e) => e instanceof relay.NemoRelayError && e.code === 'NEMO_RELAY_E_GUARDRAIL_REJECTED' &&
            e.message === 'guardrail rejected: request mentions a secret');
        const r = await relay.llmCallExecute('openai', chatRequest('hello'), async () => ({ ok: true }), null, null, null, null, 'gpt-4o');
        assert.deepStrictEqual(r, { ok: true });
      });
    } finally {
      assert.equal(relay.deregisterLlmConditionalExecutionGuardrail('allow-all'), true);
      assert.equal(relay.deregisterLlmConditionalExecutionGuardrail('block-secrets'), true);
    }
  },

  // A managed call, then a streaming call with seven Anthropic events (the chunks of the Swift scenario
  // test): current-turn projection, one llm.chunk mark per chunk, the finalizer's Messages response.
  async agent_session_history_projection_and_streaming(exp) {
    const content = exp[1].data.content;
    const response = exp[2].data;
    const final = exp[11].data;
    const codec = new relay.AnthropicMessagesCodec();
    const headers = { 'x-api-key': 'sk-ant', 'anthropic-version': '2023-06-01' };
    const streamed = {
      ...content,
      messages: [...content.messages, { role: 'assistant', content: '4' }, { role: 'user', content: 'Say hello to the world' }],
      stream: true,
    };
    let seen;
    let text = '';
    const got = await run(async () => {
      await relay.withScope('assistant-session', relay.ScopeType.Agent, async () => {
        const r = await typedLlmExecute('anthropic', { headers, content },
          () => response, new JsonPassthrough(), { modelName: 'claude-sonnet-4-20250514', codec, responseCodec: codec });
        assert.deepStrictEqual(r, response);
        const stream = await relay.llmStreamCallExecute('anthropic', { headers, content: streamed },
          async function* (req) {
            seen = req;
            yield* ANTHROPIC_CHUNKS;
          },
          (chunk) => { if (chunk.delta?.text) text += chunk.delta.text; },
          () => { assert.equal(text, 'Hello world'); return final; },
          null, 2 /* STREAMING */, null, null, 'claude-sonnet-4-20250514',
          codec.decode.bind(codec), ({ annotated, original }) => codec.encode(annotated, original), codec.decodeResponse.bind(codec));
        const chunks = [];
        for (let c = await stream.next(); c !== null; c = await stream.next()) chunks.push(c);
        assert.deepStrictEqual(chunks, ANTHROPIC_CHUNKS);
      });
    });
    // The provider receives the full history, with the session and trace headers.
    assert.deepStrictEqual(seen.content, streamed);
    assert.equal(seen.headers['x-dynamo-session-id'], 'assistant-session');
    assert.match(seen.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    return got;
  },

  async llm_provider_error_with_sanitized_request() {
    relay.registerLlmSanitizeRequestGuardrail('redact-ssn', 10,
      (req) => JSON.parse(JSON.stringify(req).replace('123-45-6789', '[SSN]')));
    try {
      return await run(async () => {
        const codec = new relay.OpenAIChatCodec();
        await assert.rejects(
          typedLlmExecute('openai', chatRequest('My SSN is 123-45-6789'), (req) => {
            assert.match(JSON.stringify(req.content), /123-45-6789/); // the provider sees the raw request
            throw namedError('ConnectionError', 'upstream timeout');
          }, new JsonPassthrough(), { modelName: 'gpt-4o', data: { retry: 0 }, codec, responseCodec: codec }),
          { name: 'ConnectionError', message: 'upstream timeout' });
      });
    } finally {
      relay.deregisterLlmSanitizeRequestGuardrail('redact-ssn');
    }
  },
};

test('every scenario of events.json has a runner', () => {
  assert.deepStrictEqual(scenarios.map((s) => s.name).sort(), Object.keys(RUNNERS).sort());
});

for (const s of scenarios) {
  test(`events.json: ${s.name}`, async () => {
    const got = await RUNNERS[s.name](s.events);
    assert.deepStrictEqual(got, s.events);
  });
}

test('canonically equivalent keys stay apart through the core (keys are bytes)', async () => {
  const seen = [];
  relay.registerSubscriber('keys-bytes', (e) => seen.push(e));
  try {
    relay.event('keys-bytes', null, { '\u00e9': 1, 'e\u0301': 2 });
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber('keys-bytes');
  }
  const ev = seen.find((e) => e.name === 'keys-bytes');
  assert.deepEqual(Object.keys(ev.data).sort(), ['e\u0301', '\u00e9'].sort());
  assert.equal(ev.data['\u00e9'], 1);
  assert.equal(ev.data['e\u0301'], 2);
});
