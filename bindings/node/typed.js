// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * nemo-relay-node/typed: typed wrappers over the managed calls, with value codecs
 * (`Codec<T>` = `{toJson, fromJson}`) and provider codec objects.
 * @module nemo-relay-node/typed
 */
const root = require('./index.js');
const ffi = require('./lib/ffi');
const { llmExecuteWith, llmStreamWith, jsCodec, BuiltinCodec } = root.__internal;

/** The identity value codec. */
class JsonPassthrough {
  /** @template T @param {T} value @returns {T} */
  toJson(value) {
    return value;
  }
  /** @template T @param {T} data @returns {T} */
  fromJson(data) {
    return data;
  }
}

function pick(o, k) {
  return o && o[k] !== undefined ? o[k] : null;
}

/**
 * Runs a managed tool call with typed args and result.
 * @returns {Promise<{result: any, annotation?: any}>}
 */
async function typedToolExecute(name, args, func, argsCodec, resultCodec, options) {
  const o = options ?? {};
  const r = await root.toolCallExecuteAsync(
    name, argsCodec.toJson(args),
    async (json, signal) => {
      const out = await func(argsCodec.fromJson(json), signal);
      if (out === null || typeof out !== 'object' || !('result' in out)) {
        throw new TypeError('typed tool callback must return ToolExecutionResult');
      }
      const enc = { result: resultCodec.toJson(out.result) };
      if (out.annotation !== undefined && out.annotation !== null) enc.annotation = out.annotation;
      return enc;
    },
    pick(o, 'handle'), pick(o, 'attributes'), pick(o, 'data'), pick(o, 'metadata'), pick(o, 'toolCallId'));
  const res = { result: resultCodec.fromJson(r.result) };
  if (r.annotation !== undefined) res.annotation = r.annotation;
  return res;
}

/** A C codec for a codec object: built-in codecs go straight to C, custom ones through JS callbacks. */
function codecFor(codec, role) {
  if (!codec) return [0, false];
  if (codec instanceof BuiltinCodec) return [codec._ptr, false];
  if (role === 'request') {
    return [jsCodec((req) => codec.decode(req), ({ annotated, original }) => codec.encode(annotated, original), null), true];
  }
  return [jsCodec(null, null, (resp) => codec.decodeResponse(resp)), true];
}

/**
 * Runs a managed LLM call; `options.codec`/`options.responseCodec` are provider codec objects.
 * @returns {Promise<any>} the response decoded with `responseCodec.fromJson`
 */
async function typedLlmExecute(name, request, func, responseCodec, options) {
  const o = options ?? {};
  const [c, freeC] = codecFor(o.codec, 'request');
  const [rc, freeRc] = codecFor(o.responseCodec, 'response');
  let p;
  try {
    p = llmExecuteWith(
      name, request, async (req, signal) => responseCodec.toJson(await func(req, signal)),
      pick(o, 'handle'), pick(o, 'attributes'), pick(o, 'data'), pick(o, 'metadata'), pick(o, 'modelName'), c, rc);
  } finally {
    if (freeC) ffi.callLater('nemo_relay_codec_free', [c]);
    if (freeRc) ffi.callLater('nemo_relay_codec_free', [rc]);
  }
  return responseCodec.fromJson(await p);
}

/**
 * Runs a managed streaming LLM call with typed chunks: `func(request, signal)` returns an async
 * iterable of `TChunk` (or a Promise of one), each encoded with `chunkCodec.toJson` and pushed;
 * `collector` receives `chunkCodec.fromJson(chunk)`; `finalizer()` is encoded with
 * `responseCodec.toJson`. The stream's `close()` also calls the source iterator's `return()`.
 * @returns {Promise<import('./index').LlmStream>}
 */
async function typedLlmStreamExecute(name, request, func, collector, finalizer, chunkCodec, responseCodec, options) {
  const o = options ?? {};
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  let source = null;
  const provider = async (req, signal) => {
    let src = func(req, signal);
    if (src && typeof src.then === 'function') src = await src;
    if (src && typeof src[Symbol.asyncIterator] === 'function') source = src[Symbol.asyncIterator]();
    else if (src && typeof src.next === 'function') source = src;
    else throw new TypeError('typed stream provider must return an AsyncIterable');
    const it = source;
    return {
      async next() {
        const r = await it.next();
        return r.done ? r : { done: false, value: chunkCodec.toJson(r.value) };
      },
      async return(v) {
        return typeof it.return === 'function' ? it.return(v) : { done: true, value: v };
      },
    };
  };
  const collect = collector ? (chunk) => collector(chunkCodec.fromJson(chunk)) : null;
  const finalize = finalizer ? () => responseCodec.toJson(finalizer()) : null;
  const [c, freeC] = codecFor(o.codec, 'request');
  const [rc, freeRc] = codecFor(o.responseCodec, 'response');
  let p;
  try {
    p = llmStreamWith(
      name, request, provider, collect, finalize,
      pick(o, 'handle'), pick(o, 'attributes'), pick(o, 'data'), pick(o, 'metadata'), pick(o, 'modelName'), c, rc,
      async () => {
        if (source && typeof source.return === 'function') await source.return();
      });
  } finally {
    if (freeC) ffi.callLater('nemo_relay_codec_free', [c]);
    if (freeRc) ffi.callLater('nemo_relay_codec_free', [rc]);
  }
  return p;
}

/** Internal: maps an `{annotated, original}` payload to `codec.encode(annotated, original)`. */
function __testEncodeWithCodec(codec, payload) {
  if (payload && typeof payload === 'object' && 'annotated' in payload && 'original' in payload) {
    return codec.encode(payload.annotated, payload.original);
  }
  return codec.encode(payload, null);
}

module.exports = { JsonPassthrough, typedToolExecute, typedLlmExecute, typedLlmStreamExecute, __testEncodeWithCodec };
