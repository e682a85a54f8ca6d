// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Codecs: JS codec functions made into a C codec for one call (`jsCodec`, `codecPair`), and the
 * built-in provider codecs (`BuiltinCodec` and its classes, `builtinCodecs()`).
 * @module
 */
const ffi = require('./ffi');
const { NemoRelayError, Status } = require('./errors');
const { toJsonValue } = require('./json');
const { rt, builtinPtrs } = require('./runtime');
const { answer, callbackStruct } = require('./callbacks');
const { requestJson } = require('./scopes');

// MARK: - Codecs passed as functions

/** A C codec for JS codec functions (slots 9-11 of llmCallExecute), or 0. */
function jsCodec(decode, encode, decodeResponse) {
  if (!decode && !encode && !decodeResponse) return 0;
  const method = (f) => (f
    ? callbackStruct((token, input) => answer(token, () => f(input), (v) => v, { sync: true }))
    : [0, 0, 0]);
  const [p] = ffi.call('nemo_relay_codec_new', [null, 'js', [1, ...method(decode), ...method(encode), ...method(decodeResponse)]]);
  return p;
}

function codecPair(codecDecode, codecEncode, responseCodecDecode) {
  const hasD = typeof codecDecode === 'function';
  const hasE = typeof codecEncode === 'function';
  if (hasD !== hasE) throw new NemoRelayError('invalid argument: codecDecode and codecEncode must be provided together', Status.E_INVALID_ARGUMENT);
  const req = hasD ? jsCodec(codecDecode, (payload) => codecEncode(payload), null) : 0;
  const res = typeof responseCodecDecode === 'function' ? jsCodec(null, null, responseCodecDecode) : 0;
  return [req, res];
}

// MARK: - Built-in codecs

function builtinPtr(id) {
  let p = builtinPtrs.get(id);
  if (!p) {
    rt();
    [p] = ffi.call('nemo_relay_codec_builtin', [null, id]);
    builtinPtrs.set(id, p);
  }
  return p;
}

/** A built-in provider codec; every method is synchronous and throws on malformed input. */
class BuiltinCodec {
  /** @param {string} id */
  constructor(id) {
    Object.defineProperty(this, 'id', { value: id, enumerable: true });
  }
  /** @returns {any} the annotated request */
  decode(request) {
    return JSON.parse(ffi.call('nemo_relay_codec_decode', [null, builtinPtr(this.id), requestJson(request)])[0]);
  }
  /** @returns {{headers: object, content: any}} `original` with the annotation written back */
  encode(annotated, original) {
    const a = JSON.stringify(toJsonValue(annotated, 'annotated'));
    return JSON.parse(ffi.call('nemo_relay_codec_encode', [null, builtinPtr(this.id), a, requestJson(original)])[0]);
  }
  /** @returns {any} the annotated response */
  decodeResponse(response) {
    return JSON.parse(ffi.call('nemo_relay_codec_decode_response', [null, builtinPtr(this.id), JSON.stringify(toJsonValue(response, 'response'))])[0]);
  }
  /** @internal the C codec pointer */
  get _ptr() {
    return builtinPtr(this.id);
  }
}

class OpenAIChatCodec extends BuiltinCodec {
  constructor() { super('openai_chat'); }
}
class OpenAIResponsesCodec extends BuiltinCodec {
  constructor() { super('openai_responses'); }
}
class AnthropicMessagesCodec extends BuiltinCodec {
  constructor() { super('anthropic_messages'); }
}
class GeminiGenerateContentCodec extends BuiltinCodec {
  constructor() { super('gemini_generate_content'); }
}
class OCIGenAIChatCodec extends BuiltinCodec {
  constructor() { super('oci_genai'); }
}
class BedrockConverseCodec extends BuiltinCodec {
  constructor() { super('bedrock_converse'); }
}
const CODEC_CLASSES = [
  OpenAIChatCodec, OpenAIResponsesCodec, AnthropicMessagesCodec, GeminiGenerateContentCodec, OCIGenAIChatCodec,
  BedrockConverseCodec,
];
let builtinTable = null;
/**
 * Every name the core accepts for a built-in codec (ids and aliases) to a factory, read once from
 * `nemo_relay_codec_builtin_list`; a codec without a class of its own is a plain BuiltinCodec.
 * @returns {Map<string, () => BuiltinCodec>}
 */
function builtinCodecs() {
  if (!builtinTable) {
    rt();
    const byId = new Map(CODEC_CLASSES.map((C) => [new C().id, C]));
    const table = new Map();
    for (const { id, aliases } of JSON.parse(ffi.call('nemo_relay_codec_builtin_list', [null])[0])) {
      const C = byId.get(id);
      const make = C ? () => new C() : () => new BuiltinCodec(id);
      for (const name of [id, ...aliases]) table.set(name, make);
    }
    builtinTable = table;
  }
  return builtinTable;
}

module.exports = {
  jsCodec, codecPair,
  BuiltinCodec, OpenAIChatCodec, OpenAIResponsesCodec, AnthropicMessagesCodec, GeminiGenerateContentCodec, OCIGenAIChatCodec,
  BedrockConverseCodec, builtinCodecs,
};
