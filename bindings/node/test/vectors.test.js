// SPDX-License-Identifier: Apache-2.0
'use strict';
// The shared codec vectors (Tests/vectors/*.json) through the built-in codec classes.
const test = require('node:test');
const assert = require('node:assert/strict');
const relay = require('..');
const { loadVectors } = require('./support');

const CLASSES = {
  openai_chat: relay.OpenAIChatCodec,
  openai_responses: relay.OpenAIResponsesCodec,
  anthropic_messages: relay.AnthropicMessagesCodec,
  gemini_generate_content: relay.GeminiGenerateContentCodec,
  oci_genai: relay.OCIGenAIChatCodec,
  bedrock_converse: relay.BedrockConverseCodec,
};

for (const file of Object.keys(CLASSES).map((id) => `${id}.json`)) {
  test.describe(file, () => {
    for (const v of loadVectors(file)) {
      test(`${v.op} ${v.name}`, () => {
        const codec = new CLASSES[v.codec]();
        const run = () => {
          switch (v.op) {
            case 'decode': return codec.decode({ headers: {}, content: v.input });
            case 'encode': return codec.encode(v.annotated ?? null, { headers: {}, content: v.input }).content;
            case 'decode_response': return codec.decodeResponse(v.input);
            default: throw new Error(`unknown op ${v.op}`);
          }
        };
        if (v.expected_error) {
          assert.throws(run, (e) => e instanceof relay.NemoRelayError && typeof e.code === 'string' && e.message.length > 0);
        } else {
          assert.deepStrictEqual(run(), v.expected);
        }
      });
    }
  });
}

test('the built-in codec table comes from the core (ids and aliases)', () => {
  const table = relay.__internal.builtinCodecs();
  for (const [id, C] of Object.entries(CLASSES)) {
    assert.ok(table.get(id)() instanceof C, id);
  }
  assert.ok(table.get('oci_genai_chat')() instanceof relay.OCIGenAIChatCodec);
  assert.equal(table.get('oci_genai_chat')().id, 'oci_genai');
  assert.equal(table.get('nope'), undefined);
  assert.deepEqual([...table.keys()].sort(), [...Object.keys(CLASSES), 'oci_genai_chat'].sort());
});
