// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Managed and manual LLM and tool calls (the streaming LLM call is lib/streams.js), and the chain
 * helpers that run one middleware chain on its own.
 * @module
 */
const ffi = require('./ffi');
const { toJsonValue, jsonArg, cstr } = require('./json');
const { CONSTANTS: C } = require('./abi');
const { rt, signalFor, scopeEnded, effectiveStack } = require('./runtime');
const { answer, callbackStruct, withDone, toolResultOut, toolResultIn } = require('./callbacks');
const { LlmHandle, ToolHandle, makeHandle, handlePtr, timestampNs, opt, requestJson } = require('./scopes');
const { codecPair } = require('./codecs');

// MARK: - LLM calls

function llmOptions(handle, attributes, data, metadata, modelName, codec, responseCodec, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  return [C.NEMO_RELAY_LLM_OPTIONS_VERSION, opt(attributes, 0) & 3, handlePtr(handle), jsonArg(data, 'data'), jsonArg(metadata, 'metadata'),
    modelName === null || modelName === undefined ? null : cstr(modelName, 'modelName'), null, codec, responseCodec, hasTs, ts];
}

/** The managed LLM pipeline with C codec pointers (shared by the raw and the typed API). */
function llmExecuteWith(name, request, func, handle, attributes, data, metadata, modelName, codec, responseCodec) {
  const req = requestJson(request);
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  const stack = effectiveStack();
  const opts = llmOptions(handle, attributes, data, metadata, modelName, codec, responseCodec);
  const provider = callbackStruct((token, input) => answer(token, () => func(input, signalFor(token)), (v) => v, { stack, managed: true }));
  return withDone(
    (done) => ['nemo_relay_llm_execute', [0, rt(), stack._ptr, cstr(name), req, opts, provider, done]],
    (v) => v,
  );
}

/**
 * Runs a managed LLM call; resolves with the provider's (or an execution intercept's) response.
 * @returns {Promise<any>}
 */
function llmCallExecute(name, request, func, handle, attributes, data, metadata, modelName, codecDecode, codecEncode, responseCodecDecode) {
  const [c, rc] = codecPair(codecDecode, codecEncode, responseCodecDecode);
  try {
    return llmExecuteWith(name, request, func, handle, attributes, data, metadata, modelName, c, rc);
  } finally {
    // The call holds its own references; release ours once its start (queued before) went out.
    if (c) ffi.callLater('nemo_relay_codec_free', [c]);
    if (rc) ffi.callLater('nemo_relay_codec_free', [rc]);
  }
}

/** Same as llmCallExecute (both await async providers). */
const llmCallExecuteAsync = llmCallExecute;

/** Starts a manual LLM span. @returns {LlmHandle} */
function llmCall(name, request, handle, attributes, data, metadata, modelName, timestamp) {
  const req = requestJson(request);
  const opts = llmOptions(handle, attributes, data, metadata, modelName, 0, 0, timestamp);
  return makeHandle('nemo_relay_llm_call', [null, rt(), effectiveStack()._ptr, cstr(name), req, opts], LlmHandle);
}

/** Ends a manual LLM span. */
function llmCallEnd(handle, response, data, metadata, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  const opts = [C.NEMO_RELAY_LLM_END_OPTIONS_VERSION, jsonArg(data, 'data'), jsonArg(metadata, 'metadata'), null, 0, hasTs, ts];
  ffi.call('nemo_relay_llm_call_end', [rt(), effectiveStack()._ptr, handlePtr(handle), jsonArg(response, 'response'), opts]);
  scopeEnded(handle);
}

// MARK: - Tool calls

function toolOptions(handle, attributes, data, metadata, toolCallId, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  return [C.NEMO_RELAY_TOOL_OPTIONS_VERSION, opt(attributes, 0) & 1, handlePtr(handle), jsonArg(data, 'data'), jsonArg(metadata, 'metadata'),
    toolCallId === null || toolCallId === undefined ? null : cstr(toolCallId, 'toolCallId'), hasTs, ts];
}

/**
 * Runs a managed tool call; `func(args, signal)` returns `{result, annotation?}`.
 * @returns {Promise<{result: any, annotation?: any}>}
 */
function toolCallExecute(name, args, func, handle, attributes, data, metadata, toolCallId) {
  const a = JSON.stringify(toJsonValue(args, 'args'));
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  const stack = effectiveStack();
  const opts = toolOptions(handle, attributes, data, metadata, toolCallId);
  const tool = callbackStruct((token, input) => answer(
    token, () => func(input, signalFor(token)), (v) => toolResultOut(v, 'tool callback'), { stack, managed: true }));
  return withDone(
    (done) => ['nemo_relay_tool_execute', [0, rt(), stack._ptr, cstr(name), a, opts, tool, done]],
    toolResultIn,
  );
}

const toolCallExecuteAsync = toolCallExecute;

/** Starts a manual tool span. @returns {ToolHandle} */
function toolCall(name, args, handle, attributes, data, metadata, toolCallId, timestamp) {
  const opts = toolOptions(handle, attributes, data, metadata, toolCallId, timestamp);
  return makeHandle('nemo_relay_tool_call', [null, rt(), effectiveStack()._ptr, cstr(name), JSON.stringify(toJsonValue(args, 'args')), opts], ToolHandle);
}

/** Ends a manual tool span with `{result, annotation?}`. */
function toolCallEnd(handle, result, data, metadata, timestamp) {
  const [hasTs, ts] = timestampNs(timestamp);
  const opts = [C.NEMO_RELAY_TOOL_OPTIONS_VERSION, 0, 0, jsonArg(data, 'data'), jsonArg(metadata, 'metadata'), null, hasTs, ts];
  const r = result === null || result === undefined ? null : JSON.stringify(toJsonValue(toolResultIn(result), 'result'));
  ffi.call('nemo_relay_tool_call_end', [rt(), effectiveStack()._ptr, handlePtr(handle), r, opts]);
  scopeEnded(handle);
}

// MARK: - Chain helpers

/** Runs only the LLM conditional-execution guardrails; rejects when one blocks. @returns {Promise<void>} */
function llmConditionalExecution(request) {
  const req = requestJson(request);
  const stack = effectiveStack();
  return withDone((done) => ['nemo_relay_llm_conditional_execution', [rt(), stack._ptr, req, done]], () => undefined);
}

/**
 * Runs only the LLM request-intercept chain (no codec, nothing emitted).
 * @returns {Promise<{request: any, annotated: any, pendingMarks: any[], optimizationContributions: any[]}>}
 */
function llmRequestIntercepts(name, request) {
  const req = requestJson(request);
  const stack = effectiveStack();
  return withDone(
    (done) => ['nemo_relay_llm_request_intercepts', [rt(), stack._ptr, cstr(name), req, done]],
    (v) => ({
      request: v.request,
      annotated: v.annotated_request ?? null,
      pendingMarks: (v.pending_marks ?? []).map((m) => ({
        name: m.name, category: m.category, categoryProfile: m.category_profile, data: m.data,
        dataSchema: m.data_schema, metadata: m.metadata, severity: m.severity,
      })),
      optimizationContributions: [],
    }),
  );
}

/** Runs only the tool conditional-execution guardrails; rejects when one blocks. @returns {Promise<void>} */
function toolConditionalExecution(name, args) {
  const a = JSON.stringify(toJsonValue(args, 'args'));
  const stack = effectiveStack();
  return withDone((done) => ['nemo_relay_tool_conditional_execution', [rt(), stack._ptr, cstr(name), a, done]], () => undefined);
}

/** Runs only the tool request-intercept chain; resolves with the transformed args. @returns {Promise<any>} */
function toolRequestIntercepts(name, args) {
  const a = JSON.stringify(toJsonValue(args, 'args'));
  const stack = effectiveStack();
  return withDone((done) => ['nemo_relay_tool_request_intercepts', [rt(), stack._ptr, cstr(name), a, done]], (v) => v);
}

module.exports = {
  llmOptions, llmExecuteWith, llmCallExecute, llmCallExecuteAsync, llmCall, llmCallEnd,
  toolCallExecute, toolCallExecuteAsync, toolCall, toolCallEnd,
  llmConditionalExecution, llmRequestIntercepts, toolConditionalExecution, toolRequestIntercepts,
};
