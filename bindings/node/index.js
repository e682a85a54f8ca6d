// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * nemo-relay-node: the NemoRelay runtime for Node, in plain JavaScript over the NemoRelayHelper
 * process (see README.md). Scopes, managed and manual LLM/tool calls, middleware of every kind
 * (global and scope-local), subscribers, flush and provider codecs.
 *
 * The modules under lib/ do the work, one concern each (docs/node.md, "Modules"); this one assembles
 * the public surface.
 * @module nemo-relay-node
 */
const { NemoRelayError } = require('./lib/errors');
const exporters = require('./lib/exporters');
const propagation = require('./lib/propagation');
const {
  ScopeType, LogSeverity, registry, restartHelper, rt, getLastCallbackError, clearLastCallbackError, ScopeStack,
} = require('./lib/runtime');
const {
  createScopeStack, currentScopeStack, withScopeStack, setThreadScopeStack, scopeStackActive,
  ScopeHandle, LlmHandle, ToolHandle, LlmRequest, pushScope, popScope, getHandle, withScope, event,
} = require('./lib/scopes');
const {
  jsCodec, BuiltinCodec, OpenAIChatCodec, OpenAIResponsesCodec, AnthropicMessagesCodec, GeminiGenerateContentCodec,
  OCIGenAIChatCodec, BedrockConverseCodec, builtinCodecs,
} = require('./lib/codecs');
const {
  llmExecuteWith, llmCallExecute, llmCallExecuteAsync, llmCall, llmCallEnd,
  toolCallExecute, toolCallExecuteAsync, toolCall, toolCallEnd,
  llmConditionalExecution, llmRequestIntercepts, toolConditionalExecution, toolRequestIntercepts,
} = require('./lib/calls');
const { LlmStream, llmStreamWith, llmStreamCallExecute } = require('./lib/streams');
const { log, trace, debug, info, warn, error } = require('./lib/logging');
const { middlewareExports } = require('./lib/middleware');
const {
  registerSubscriber, deregisterSubscriber, scopeRegisterSubscriber, scopeDeregisterSubscriber, flushSubscribers, droppedEvents,
} = require('./lib/subscribers');

module.exports = {
  // types
  ScopeType, LogSeverity, ScopeHandle, LlmHandle, ToolHandle, ScopeStack, LlmRequest, LlmStream, NemoRelayError,
  // scopes
  getHandle, pushScope, popScope, withScope, event,
  createScopeStack, currentScopeStack, withScopeStack, setThreadScopeStack, scopeStackActive,
  // llm
  llmCallExecute, llmCallExecuteAsync, llmStreamCallExecute, llmCall, llmCallEnd, llmConditionalExecution, llmRequestIntercepts,
  // tools
  toolCallExecute, toolCallExecuteAsync, toolCall, toolCallEnd, toolConditionalExecution, toolRequestIntercepts,
  // middleware
  ...middlewareExports,
  // subscribers
  registerSubscriber, deregisterSubscriber, scopeRegisterSubscriber, scopeDeregisterSubscriber, flushSubscribers, droppedEvents,
  // errors
  getLastCallbackError, clearLastCallbackError,
  // operational logging
  log, trace, debug, info, warn, error,
  // the helper process
  restartHelper,
  // codecs
  BuiltinCodec, OpenAIChatCodec, OpenAIResponsesCodec, AnthropicMessagesCodec, GeminiGenerateContentCodec, OCIGenAIChatCodec, BedrockConverseCodec,
  // exporters
  AtofExporter: exporters.AtofExporter, AtifExporter: exporters.AtifExporter,
  OpenTelemetrySubscriber: exporters.OpenTelemetrySubscriber,
  // propagation across processes
  ...propagation.exports,
};

// Internal hooks for ./typed.js (not part of the public surface).
Object.defineProperty(module.exports, '__internal', {
  value: {
    llmExecuteWith, llmStreamWith, jsCodec, BuiltinCodec, rt, builtinCodecs,
    /** Kept callback failures not yet taken or freed (tests check that none stay behind). */
    pendingFailures: () => [...registry.values()].filter((e) => 'failure' in e).length,
  },
  enumerable: false,
});

// As the reference, an invalid logging environment fails `require`: start the helper (which applies it) now.
if (['NEMO_RELAY_LOG', 'NEMO_RELAY_LOG_STDERR', 'NEMO_RELAY_LOG_STDERR_FORMAT', 'NEMO_RELAY_LOG_CONFIG_PATH'].some(
  (name) => process.env[name] !== undefined)) {
  rt();
}
