// SPDX-License-Identifier: Apache-2.0
'use strict';
// The module layout of the binding: index.js, typed.js and every module under lib/ load, their relative
// `require` graph has no cycle (state shared by several modules lives in exactly one of them), and
// index.js exports exactly the recorded public surface plus the non-enumerable `__internal` hooks.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

/** The public names of index.js, recorded before it was split into lib/ modules (sorted). */
const PUBLIC_EXPORTS = [
  'AnthropicMessagesCodec', 'AtifExporter', 'AtofExporter', 'BedrockConverseCodec', 'BuiltinCodec',
  'GeminiGenerateContentCodec', 'LlmHandle', 'LlmRequest', 'LlmStream', 'LogSeverity', 'NemoRelayError',
  'OCIGenAIChatCodec', 'OpenAIChatCodec', 'OpenAIResponsesCodec', 'OpenTelemetrySubscriber', 'ScopeHandle',
  'ScopeStack', 'ScopeType', 'ToolHandle', 'capturePropagationContext', 'capturePropagationContextWithRoot',
  'captureRootlessPropagationContext', 'captureTraceparent', 'clearLastCallbackError', 'createPropagationContext',
  'createScopeStack', 'createScopeStackFromPropagation', 'currentScopeStack', 'debug',
  'deregisterEventMetadataInjector', 'deregisterLlmConditionalExecutionGuardrail', 'deregisterLlmExecutionIntercept',
  'deregisterLlmRequestIntercept', 'deregisterLlmSanitizeRequestGuardrail', 'deregisterLlmSanitizeResponseGuardrail',
  'deregisterLlmStreamExecutionIntercept', 'deregisterMarkSanitizeGuardrail', 'deregisterScopeSanitizeEndGuardrail',
  'deregisterScopeSanitizeStartGuardrail', 'deregisterSubscriber', 'deregisterToolConditionalExecutionGuardrail',
  'deregisterToolExecutionIntercept', 'deregisterToolRequestIntercept', 'deregisterToolSanitizeRequestGuardrail',
  'deregisterToolSanitizeResponseGuardrail', 'droppedEvents', 'error', 'event', 'flushSubscribers', 'getHandle',
  'getLastCallbackError', 'info', 'llmCall', 'llmCallEnd', 'llmCallExecute', 'llmCallExecuteAsync',
  'llmConditionalExecution', 'llmRequestIntercepts', 'llmStreamCallExecute', 'log', 'popScope',
  'propagationContextFromJson', 'propagationContextToJson', 'propagationContextToTraceparent', 'pushScope',
  'registerEventMetadataInjector', 'registerLlmConditionalExecutionGuardrail', 'registerLlmExecutionIntercept',
  'registerLlmRequestIntercept', 'registerLlmSanitizeRequestGuardrail', 'registerLlmSanitizeResponseGuardrail',
  'registerLlmStreamExecutionIntercept', 'registerMarkSanitizeGuardrail', 'registerScopeSanitizeEndGuardrail',
  'registerScopeSanitizeStartGuardrail', 'registerSubscriber', 'registerToolConditionalExecutionGuardrail',
  'registerToolExecutionIntercept', 'registerToolRequestIntercept', 'registerToolSanitizeRequestGuardrail',
  'registerToolSanitizeResponseGuardrail', 'restartHelper', 'scopeDeregisterEventMetadataInjector',
  'scopeDeregisterLlmConditionalExecutionGuardrail', 'scopeDeregisterLlmExecutionIntercept',
  'scopeDeregisterLlmRequestIntercept', 'scopeDeregisterLlmSanitizeRequestGuardrail',
  'scopeDeregisterLlmSanitizeResponseGuardrail', 'scopeDeregisterLlmStreamExecutionIntercept',
  'scopeDeregisterMarkSanitizeGuardrail', 'scopeDeregisterScopeSanitizeEndGuardrail',
  'scopeDeregisterScopeSanitizeStartGuardrail', 'scopeDeregisterSubscriber',
  'scopeDeregisterToolConditionalExecutionGuardrail', 'scopeDeregisterToolExecutionIntercept',
  'scopeDeregisterToolRequestIntercept', 'scopeDeregisterToolSanitizeRequestGuardrail',
  'scopeDeregisterToolSanitizeResponseGuardrail', 'scopeRegisterEventMetadataInjector',
  'scopeRegisterLlmConditionalExecutionGuardrail', 'scopeRegisterLlmExecutionIntercept',
  'scopeRegisterLlmRequestIntercept', 'scopeRegisterLlmSanitizeRequestGuardrail',
  'scopeRegisterLlmSanitizeResponseGuardrail', 'scopeRegisterLlmStreamExecutionIntercept',
  'scopeRegisterMarkSanitizeGuardrail', 'scopeRegisterScopeSanitizeEndGuardrail',
  'scopeRegisterScopeSanitizeStartGuardrail', 'scopeRegisterSubscriber',
  'scopeRegisterToolConditionalExecutionGuardrail', 'scopeRegisterToolExecutionIntercept',
  'scopeRegisterToolRequestIntercept', 'scopeRegisterToolSanitizeRequestGuardrail',
  'scopeRegisterToolSanitizeResponseGuardrail', 'scopeStackActive', 'setThreadScopeStack', 'toolCall', 'toolCallEnd',
  'toolCallExecute', 'toolCallExecuteAsync', 'toolConditionalExecution', 'toolRequestIntercepts', 'trace', 'warn',
  'withScope', 'withScopeStack',
];

/** The keys of index.js's `__internal` hooks (for ./typed.js and the tests), sorted. */
const INTERNAL_EXPORTS = [
  'BuiltinCodec', 'builtinCodecs', 'jsCodec', 'llmExecuteWith', 'llmStreamWith', 'pendingFailures', 'rt',
];

/** index.js, typed.js and every module under lib/, as absolute paths. */
function modules() {
  const lib = path.join(ROOT, 'lib');
  return [
    path.join(ROOT, 'index.js'),
    path.join(ROOT, 'typed.js'),
    ...fs.readdirSync(lib).filter((f) => f.endsWith('.js')).sort().map((f) => path.join(lib, f)),
  ];
}

/**
 * The relative requires of `file` (`require('./x')`, `require('../x')`), wherever they are: at the top
 * or inside a function (a lazy require still closes a cycle), resolved to absolute paths.
 */
function relativeRequires(file) {
  const source = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const m of source.matchAll(/\brequire\(\s*(['"`])(\.{1,2}\/[^'"`]*)\1\s*\)/g)) {
    out.push(require.resolve(path.resolve(path.dirname(file), m[2])));
  }
  return out;
}

/** A require cycle of `graph` (a list of files, first repeated last), or null. */
function findCycle(graph) {
  const done = new Set();
  const onPath = [];
  const visit = (file) => {
    const at = onPath.indexOf(file);
    if (at >= 0) return [...onPath.slice(at), file];
    if (done.has(file)) return null;
    onPath.push(file);
    for (const dep of graph.get(file) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    onPath.pop();
    done.add(file);
    return null;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return null;
}

test('every module of the binding loads', () => {
  for (const file of modules()) assert.doesNotThrow(() => require(file), path.relative(ROOT, file));
});

test('the relative require graph of index.js and lib/ has no cycle', () => {
  const graph = new Map();
  const pending = modules();
  while (pending.length) {
    const file = pending.pop();
    if (graph.has(file)) continue;
    const deps = relativeRequires(file);
    graph.set(file, deps);
    pending.push(...deps);
  }
  assert.ok(graph.size > 3, 'the graph names the lib modules');
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `require cycle: ${(cycle ?? []).map((f) => path.relative(ROOT, f)).join(' -> ')}`);
});

test('the cycle check finds a cycle, lazy requires included', () => {
  const a = '/a.js';
  const b = '/b.js';
  const c = '/c.js';
  assert.deepEqual(findCycle(new Map([[a, [b]], [b, [c]], [c, [a]]])), [a, b, c, a]);
  assert.equal(findCycle(new Map([[a, [b, c]], [b, [c]], [c, []]])), null);
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'nemo-relay-req-'));
  fs.writeFileSync(path.join(dir, 'x.js'), "require('./y');\n");
  fs.writeFileSync(path.join(dir, 'y.js'), "function later() { return require('./x.js'); }\n");
  const x = path.join(dir, 'x.js');
  const y = path.join(dir, 'y.js');
  assert.deepEqual(relativeRequires(x), [y]);
  assert.deepEqual(relativeRequires(y), [x]);
  assert.deepEqual(findCycle(new Map([[x, [y]], [y, [x]]])), [x, y, x]);
  fs.rmSync(dir, { recursive: true });
});

test('index.js exports exactly the recorded public surface', () => {
  const relay = require(ROOT);
  assert.deepEqual(Object.keys(relay).sort(), PUBLIC_EXPORTS);
  const d = Object.getOwnPropertyDescriptor(relay, '__internal');
  assert.ok(d, '__internal is defined');
  assert.equal(d.enumerable, false);
  assert.deepEqual(Object.keys(relay.__internal).sort(), INTERNAL_EXPORTS);
  assert.equal(relay.__internal.BuiltinCodec, relay.BuiltinCodec);
  for (const name of PUBLIC_EXPORTS) assert.notEqual(relay[name], undefined, name);
});
