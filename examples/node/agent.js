// SPDX-License-Identifier: Apache-2.0
'use strict';
// A small agent on nemo-relay-node: an agent scope, a guardrail, a request intercept, a managed LLM
// call through the OpenAI Chat codec, a managed tool call, and a subscriber printing every event.
//   NEMO_RELAY_LIB_PATH=<bin>/libnemorelay.so NEMO_RELAY_HELPER_PATH=<bin>/NemoRelayHelper node examples/node/agent.js
const relay = require('../../bindings/node');

async function main() {
  relay.registerSubscriber('print', (e) => {
    console.log(`${e.kind}${e.scope_category ? `:${e.scope_category}` : ''} ${e.category ?? '-'} ${e.name}`);
  });
  relay.registerLlmConditionalExecutionGuardrail('no-secrets', 1,
    (req) => (JSON.stringify(req.content).includes('password') ? 'request mentions a password' : null));
  relay.registerLlmRequestIntercept('system-prompt', 10, false, ({ request, annotated }) => (annotated
    ? { request, annotated: { ...annotated, messages: [{ role: 'system', content: 'Be brief.' }, ...annotated.messages] } }
    : { request }));

  const codec = new relay.OpenAIChatCodec();
  await relay.withScope('weather-agent', relay.ScopeType.Agent, async () => {
    const completion = await relay.llmCallExecute(
      'openai',
      new relay.LlmRequest({ authorization: 'Bearer sk-demo' }, {
        model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Paris?' }],
      }),
      async (req) => ({
        id: 'chatcmpl-1', model: req.content.model,
        choices: [{ message: { role: 'assistant', content: null, tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        finish_reason: 'tool_calls' }],
      }),
      null, null, null, null, 'gpt-4o-mini',
      codec.decode.bind(codec), ({ annotated, original }) => codec.encode(annotated, original), codec.decodeResponse.bind(codec));
    const call = completion.choices[0].message.tool_calls[0];
    const weather = await relay.toolCallExecute(call.function.name, JSON.parse(call.function.arguments),
      async (args) => ({ result: { city: args.city, temp_c: 18 }, annotation: { source: 'demo' } }),
      null, null, null, null, call.id);
    console.log('tool result:', JSON.stringify(weather.result));
    await relay.llmCallExecute('openai', { headers: {}, content: { messages: [{ role: 'user', content: 'my password is x' }] } },
      () => ({})).catch((e) => console.log(`blocked: ${e.message} (${e.code})`));
  });
  await relay.flushSubscribers();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
