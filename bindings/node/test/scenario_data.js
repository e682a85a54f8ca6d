// SPDX-License-Identifier: Apache-2.0
'use strict';
// The fixed agent run's data (bindings/python/tests/exporter_scenario.py), shared by the Node ports of
// the exporter and OpenTelemetry scenarios. A module, not a test file.

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const SYSTEM = { role: 'system', content: 'You are a concise weather assistant.' };
const USER_1 = { role: 'user', content: 'What is the weather in Paris?' };
const TOOL_CALL = { id: 'call_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
const ASSISTANT_1 = { role: 'assistant', content: null, tool_calls: [TOOL_CALL] };
const TOOL_RESULT = { temp_c: 18, condition: 'cloudy', city: 'Paris' };
// Python's json.dumps(TOOL_RESULT): ", " and ": " separators.
const TOOL_MESSAGE = {
  role: 'tool', tool_call_id: 'call_weather_1', content: '{"temp_c": 18, "condition": "cloudy", "city": "Paris"}',
};
const ANSWER = 'It is 18 °C and cloudy in Paris.';
const USER_2 = { role: 'user', content: 'And tomorrow?' };
const USER_3 = { role: 'user', content: 'Say it as a haiku.' };
const RESPONSE_1 = {
  id: 'chatcmpl-scenario-1', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [TOOL_CALL] }, finish_reason: 'tool_calls' }],
  usage: { prompt_tokens: 120, completion_tokens: 18, total_tokens: 138, prompt_tokens_details: { cached_tokens: 32 } },
};
const RESPONSE_2 = {
  id: 'chatcmpl-scenario-2', object: 'chat.completion', created: 1767225601, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 160, completion_tokens: 12, total_tokens: 172, prompt_tokens_details: { cached_tokens: 64 } },
};
const SUB_RESPONSE = {
  id: 'chatcmpl-scenario-sub', object: 'chat.completion', created: 1767225603, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Source: Météo-France.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 40, completion_tokens: 6, total_tokens: 46 },
};
function chunk(content, finish = null, usage = null) {
  const c = {
    id: 'chatcmpl-scenario-stream', object: 'chat.completion.chunk', created: 1767225602, model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  };
  if (usage !== null) c.usage = usage;
  return c;
}
const STREAM_CHUNKS = [
  chunk('Grey sky'), chunk(' over Paris,'), chunk(' eighteen degrees.'),
  chunk(null, 'stop', { prompt_tokens: 190, completion_tokens: 9, total_tokens: 199 }),
];
const body = (messages, extra = {}) => ({ model: 'gpt-4o-mini', messages, tools: [WEATHER_TOOL], ...extra });

/** The streamed call's collector and finalizer (exporter_scenario.py's `collect` and `finalize`). */
function streamAggregator() {
  const collected = [];
  const usage = {};
  return {
    collect: (c) => {
      for (const choice of c.choices ?? []) collected.push(choice.delta?.content ?? '');
      Object.assign(usage, c.usage ?? {});
    },
    finalize: () => ({
      id: 'chatcmpl-scenario-stream', object: 'chat.completion', created: 1767225602, model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content: collected.join('') }, finish_reason: 'stop' }],
      usage,
    }),
  };
}

module.exports = {
  WEATHER_TOOL, SYSTEM, USER_1, TOOL_CALL, ASSISTANT_1, TOOL_RESULT, TOOL_MESSAGE, ANSWER, USER_2, USER_3,
  RESPONSE_1, RESPONSE_2, SUB_RESPONSE, chunk, STREAM_CHUNKS, body, streamAggregator,
};
