// SPDX-License-Identifier: Apache-2.0
'use strict';
// The TypeScript examples of /work/shared/seeds, rewritten only as far as TS -> JS requires
// (imports become require, type annotations and `as` casts are dropped).
const test = require('node:test');
const assert = require('node:assert/strict');

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
