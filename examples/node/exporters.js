// SPDX-License-Identifier: Apache-2.0
'use strict';
// The agent of agent.js observed by two exporters: an AtofExporter writing every event as one JSON
// line to a file, and an AtifExporter turning the run into an ATIF v1.7 trajectory. Prints the JSONL
// path, its lines and the trajectory.
//   NEMO_RELAY_LIB_PATH=<bin>/libnemorelay.so NEMO_RELAY_HELPER_PATH=<bin>/NemoRelayHelper \
//     node examples/node/exporters.js [OUTDIR]
// OUTDIR defaults to a new temporary directory.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const relay = require('../../bindings/node');

async function main() {
  const outdir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nemo-relay-exporters-'));
  const atof = new relay.AtofExporter({ outputDirectory: outdir, filename: 'events.jsonl', mode: 'overwrite' });
  const atif = new relay.AtifExporter('session-1', 'weather-agent', '1.0.0', 'gpt-4o-mini');
  atof.register('atof');
  atif.register('atif');

  relay.registerLlmConditionalExecutionGuardrail('no-secrets', 1,
    (req) => (JSON.stringify(req.content).includes('password') ? 'request mentions a password' : null));
  const system = { role: 'system', content: 'Be brief.' };
  relay.registerLlmRequestIntercept('system-prompt', 10, false, ({ request, annotated }) => (annotated
    ? { request, annotated: { ...annotated, messages: [system, ...annotated.messages] } }
    : { request }));

  const codec = new relay.OpenAIChatCodec();
  const codecArgs = [
    (request) => codec.decode(request),
    ({ annotated, original }) => codec.encode(annotated, original),
    (response) => codec.decodeResponse(response),
  ];
  const question = { role: 'user', content: 'Weather in Paris?' };
  await relay.withScope('weather-agent', relay.ScopeType.Agent, async () => {
    const completion = await relay.llmCallExecute(
      'openai',
      new relay.LlmRequest({ authorization: 'Bearer sk-demo' }, { model: 'gpt-4o-mini', messages: [question] }),
      async (req) => ({
        id: 'chatcmpl-1', model: req.content.model,
        choices: [{ message: { role: 'assistant', content: null, tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        finish_reason: 'tool_calls' }],
        usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
      }),
      null, null, null, null, 'gpt-4o-mini', ...codecArgs);
    const call = completion.choices[0].message.tool_calls[0];
    const weather = await relay.toolCallExecute(call.function.name, JSON.parse(call.function.arguments),
      async (args) => ({ result: { city: args.city, temp_c: 18 }, annotation: { source: 'demo' } }),
      null, null, null, null, call.id);
    await relay.llmCallExecute(
      'openai',
      new relay.LlmRequest({}, { model: 'gpt-4o-mini', messages: [question, completion.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: JSON.stringify(weather.result) }] }),
      async () => ({
        id: 'chatcmpl-2', model: 'gpt-4o-mini',
        choices: [{ message: { role: 'assistant', content: 'It is 18 °C in Paris.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 },
      }),
      null, null, null, null, 'gpt-4o-mini', ...codecArgs);
    const secret = { headers: {}, content: { messages: [{ role: 'user', content: 'my password is x' }] } };
    await relay.llmCallExecute('openai', secret, () => ({}))
      .catch((e) => console.log(`blocked: ${e.message} (${e.code})`));
  });

  atof.forceFlush(); // every event so far is in the file
  const trajectory = atif.exportJson();
  atif.deregister('atif');
  atof.shutdown();

  console.log(`ATOF JSONL: ${atof.path}`);
  for (const line of fs.readFileSync(atof.path, 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line);
    console.log(`  ${e.kind}${e.scope_category ? `:${e.scope_category}` : ''} ${e.category ?? '-'} ${e.name}`);
  }
  console.log('ATIF trajectory:');
  console.log(JSON.stringify(JSON.parse(trajectory), null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
