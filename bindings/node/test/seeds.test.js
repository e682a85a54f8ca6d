// SPDX-License-Identifier: Apache-2.0
'use strict';
// The TypeScript examples of the published documentation pages (docs/node.md, "Documentation examples"),
// rewritten only as far as TS -> JS requires (imports become require, type annotations and `as` casts are dropped).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

/** How many TypeScript examples of each seed document the tests below run. */
const COVERED = { '000': 1, '001': 2 };
/** A folder of the published pages, to check that each TypeScript example has a test below (optional). */
const SEEDS = process.env.NEMO_RELAY_SEEDS_DIR;

test('every TypeScript example of the seeds has a test here', { skip: !SEEDS && 'NEMO_RELAY_SEEDS_DIR is not set' }, () => {
  const found = {};
  for (const f of fs.readdirSync(SEEDS).filter((n) => /^\d{3}_.*\.txt$/.test(n)).sort()) {
    const blocks = fs.readFileSync(path.join(SEEDS, f), 'utf8').match(/^```(ts|typescript)\s*$/gm) ?? [];
    if (blocks.length) found[f.slice(0, 3)] = blocks.length;
  }
  assert.deepStrictEqual(found, COVERED);
});

test('seed 000: wrap LLM calls (frameworkLlm)', async () => {
  const { getHandle, LlmRequest, llmCallExecute } = require('nemo-relay-node');

  async function frameworkLlm(providerName, payload) {
    const parent = getHandle();
    const request = new LlmRequest({}, payload);

    return await llmCallExecute(
      providerName,
      request,
      async (req) => ({ text: 'hi', request: req.content }),
      parent,
      null,
      null,
      null,
      'demo-model',
    );
  }

  const { registerSubscriber, deregisterSubscriber, flushSubscribers } = require('nemo-relay-node');
  const events = [];
  registerSubscriber('seed-000', (e) => events.push(e));
  const payload = { messages: [{ role: 'user', content: 'hello' }] };
  const out = await frameworkLlm('demo-provider', payload);
  await flushSubscribers();
  deregisterSubscriber('seed-000');
  assert.deepStrictEqual(out, { text: 'hi', request: payload });
  // One LLM start and one matching end, with the provider name and model_name.
  const llm = events.filter((e) => e.category === 'llm');
  assert.deepStrictEqual(llm.map((e) => e.scope_category), ['start', 'end']);
  assert.equal(llm[0].uuid, llm[1].uuid);
  for (const e of llm) {
    assert.equal(e.name, 'demo-provider');
    assert.equal(e.category_profile.model_name, 'demo-model');
  }
});

test('seed 001: provider codecs (system message through a request intercept)', async () => {
  const {
    OpenAIChatCodec,
    registerLlmRequestIntercept,
  } = require('nemo-relay-node');
  const {
    JsonPassthrough,
    typedLlmExecute,
  } = require('nemo-relay-node/typed');

  registerLlmRequestIntercept(
    'framework.add_system_message',
    10,
    false,
    ({ request, annotated }) => {
      if (!annotated) {
        return { request, annotated };
      }

      return {
        request,
        annotated: {
          ...annotated,
          messages: [
            { role: 'system', content: 'Answer with concise technical detail.' },
            ...annotated.messages,
          ],
        },
      };
    },
  );

  const codec = new OpenAIChatCodec();
  const request = {
    headers: {},
    content: {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Explain scopes.' }],
      temperature: 0.2,
    },
  };

  let providerSaw;
  const response = await typedLlmExecute(
    'openai-chat',
    request,
    async (providerRequest) => {
      providerSaw = providerRequest;
      return {
        id: 'chatcmpl-demo',
        model: providerRequest.content.model,
        choices: [
          { message: { role: 'assistant', content: 'Codec-enabled response.' } },
        ],
      };
    },
    new JsonPassthrough(),
    {
      modelName: 'gpt-4o-mini',
      codec,
      responseCodec: codec,
    },
  );

  require('nemo-relay-node').deregisterLlmRequestIntercept('framework.add_system_message');
  assert.equal(response.choices[0].message.content, 'Codec-enabled response.');
  assert.equal(response.model, 'gpt-4o-mini');
  // The codec wrote the edited messages back into the provider payload; other fields survive.
  assert.deepStrictEqual(providerSaw.content.messages, [
    { role: 'system', content: 'Answer with concise technical detail.' },
    { role: 'user', content: 'Explain scopes.' },
  ]);
  assert.equal(providerSaw.content.temperature, 0.2);
});

test('seed 001: a custom request codec object (frameworkChatCodec)', async () => {
  // The example verbatim except for `import type`, `: LlmCodec` and the `as` casts.

  const frameworkChatCodec = {
    decode(requestJson) {
      const request = requestJson;
      const content = request.content;
      return {
        messages: content.turns ?? [],
        model: content.model_name ?? null,
        params: content.temperature === undefined ? null : {
          temperature: content.temperature,
        },
        tools: content.tool_specs ?? null,
        tool_choice: content.tool_choice ?? null,
        extra: {
          tenant_id: content.tenant_id ?? null,
        },
      };
    },

    encode(annotatedJson, originalJson) {
      const annotated = annotatedJson;
      const original = originalJson;
      const content = {
        ...original.content,
        turns: annotated.messages ?? [],
      };
      if (annotated.model !== null && annotated.model !== undefined) {
        content.model_name = annotated.model;
      }
      if (annotated.params) {
        Object.assign(content, annotated.params);
      }
      if (annotated.tools) {
        content.tool_specs = annotated.tools;
      }
      return {
        headers: original.headers,
        content,
      };
    },
  };

  // Drive it through a managed call: an intercept edits the annotated messages, the codec writes
  // them back into the framework's `turns`, and untouched framework fields survive.
  const relay = require('nemo-relay-node');
  const { JsonPassthrough, typedLlmExecute } = require('nemo-relay-node/typed');
  let interceptSaw;
  relay.registerLlmRequestIntercept('seed-001-codec', 10, false, ({ request, annotated }) => {
    interceptSaw = annotated;
    return { request, annotated: { ...annotated, messages: [{ role: 'system', content: 'Be brief.' }, ...annotated.messages] } };
  });
  let providerSaw;
  try {
    const out = await typedLlmExecute(
      'framework-chat',
      { headers: { 'x-tenant': 't1' }, content: { turns: [{ role: 'user', content: 'hi' }], model_name: 'fw-1', temperature: 0.5, tenant_id: 't1' } },
      async (req) => { providerSaw = req; return { text: 'ok' }; },
      new JsonPassthrough(),
      { codec: frameworkChatCodec, modelName: 'fw-1' },
    );
    assert.deepStrictEqual(out, { text: 'ok' });
  } finally {
    relay.deregisterLlmRequestIntercept('seed-001-codec');
  }
  assert.deepStrictEqual(interceptSaw.messages, [{ role: 'user', content: 'hi' }]);
  assert.equal(interceptSaw.model, 'fw-1');
  assert.deepStrictEqual(providerSaw.content.turns, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }]);
  assert.equal(providerSaw.content.tenant_id, 't1');
  assert.equal(providerSaw.content.model_name, 'fw-1');
  assert.equal(providerSaw.content.temperature, 0.5);
  assert.equal(providerSaw.headers['x-tenant'], 't1');
});
