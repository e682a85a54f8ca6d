// SPDX-License-Identifier: Apache-2.0
'use strict';
// OpenTelemetrySubscriber against the reference: the fixed scenario of
// bindings/python/tests/otel_scenario.py (`_run`) through the Node typed API, exported over OTLP/HTTP
// to the scripted receiver Tests/support/otlp_receiver.py under every configuration of
// Tests/vectors/otel.json, normalised with otel_normalise.js (otel_scenario's rules) and compared with
// the vector: spans, events, runtime diagnostics, the resource's service.* and configured attributes,
// the instrumentation scope, the request paths and the configured headers.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, spawnSync } = require('node:child_process');
const { loadVectors } = require('./support');
const { vector } = require('./otel_normalise');

const V = loadVectors('otel.json');

// `header_env` is read by the helper process, which inherits this process's environment when it
// starts: set every configuration's variables before the first call into the library (the Python
// scenario sets them only while the subscriber is built; no other configuration reads them).
for (const c of Object.values(V.configurations)) Object.assign(process.env, c.env);

const relay = require('..');
const typed = require('../typed');

const ROOT = path.join(__dirname, '..', '..', '..');
const RECEIVER = path.join(ROOT, 'Tests', 'support', 'otlp_receiver.py');
const haveProto = spawnSync('python3', ['-c', 'import opentelemetry.proto'], { stdio: 'ignore' }).status === 0;

// MARK: - The scenario's data (exporter_scenario.py)

const {
  WEATHER_TOOL, SYSTEM, USER_1, TOOL_CALL, ASSISTANT_1, TOOL_RESULT, TOOL_MESSAGE, ANSWER, USER_2, USER_3,
  RESPONSE_1, RESPONSE_2, SUB_RESPONSE, chunk, STREAM_CHUNKS, body, streamAggregator,
} = require('./scenario_data');

/**
 * The data schema and payload Python's `scope.metric(name, [MetricMeasurement(...)])` emits: Node has
 * no metric helper, but the helper is only a mark with this schema (bindings/python/nemo_relay/scope.py
 * `metric`), which `event` expresses exactly.
 */
const METRIC_SCHEMA = { name: 'nemo.relay.metric_measurements', version: '1' };
const METRIC_DATA = {
  measurements: [{
    attributes: null, boundaries: null, description: null, kind: 'gauge', name: 'tokens.remaining', unit: '{token}',
    value: 4000, value_type: 'i64',
  }],
};

/** Python's ConnectionError, so that the end event's exception.type is the same. */
class ConnectionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Python's ValueError (the Function scope's body raises one). */
class ValueError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ValueError';
  }
}

/** The agent run (otel_scenario.py `_run`); `providerRequests` gets the headers each provider saw. */
async function runScenario(providerRequests) {
  const codec = new relay.OpenAIChatCodec();
  const json = new typed.JsonPassthrough();
  const headers = { authorization: 'Bearer sk-scenario', 'x-request-id': 'req-1' };
  const llm = { modelName: 'gpt-4o-mini', codec, responseCodec: codec };
  const seen = (call, req) => providerRequests.push({ call, headers: { ...req.headers } });
  const answer = (call, response) => async (req) => {
    seen(call, req);
    return response;
  };
  const metadata = {
    session_id: 'session-1', user_id: 'user-7', agent_kind: 'planner', 'app.tenant': 'acme', 'app.tier': 2, 'app.tags': ['a', 'b'],
  };

  await relay.withScope('demo-agent', relay.ScopeType.Agent, async () => {
    relay.event('plan-ready', null, { steps: 3, plan: { first: 'weather' } }, { 'app.step': 1 });
    relay.event('token-budget', null, METRIC_DATA, null, null, METRIC_SCHEMA);

    await typed.typedLlmExecute('openai', new relay.LlmRequest(headers, body([SYSTEM, USER_1])),
      answer('tool-call', RESPONSE_1), json, { ...llm, metadata: { 'app.call': 'first' } });
    await relay.toolCallExecute('get_weather', { city: 'Paris' },
      (args) => ({ result: { ...TOOL_RESULT, city: args.city }, annotation: { source: 'cache' } }),
      null, null, null, null, 'call_weather_1');

    let history = [SYSTEM, USER_1, ASSISTANT_1, TOOL_MESSAGE];
    await typed.typedLlmExecute('openai', new relay.LlmRequest(headers, body(history)), answer('text', RESPONSE_2), json, llm);
    relay.event('answer-ready', null, null, { confidence: 'high' });

    history = [...history, { role: 'assistant', content: ANSWER }, USER_2];
    await assert.rejects(
      typed.typedLlmExecute('openai', new relay.LlmRequest(headers, body(history)), async (req) => {
        seen('failing', req);
        throw new ConnectionError('upstream unavailable');
      }, json, llm),
      (e) => e instanceof ConnectionError);

    await assert.rejects(
      relay.withScope('validate', relay.ScopeType.Function, () => { throw new ValueError('bad plan'); },
        null, null, null, null, { plan: 'weather' }),
      (e) => e instanceof ValueError);

    history = [...history, USER_3];
    const aggregate = streamAggregator();
    const stream = await typed.typedLlmStreamExecute(
      'openai', new relay.LlmRequest(headers, body(history, { stream: true })),
      async function* streaming(req) {
        seen('stream', req);
        yield* STREAM_CHUNKS;
      },
      aggregate.collect,
      aggregate.finalize,
      json, json, { ...llm, attributes: 2 /* NEMO_RELAY_LLM_STREAMING */ });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.deepStrictEqual(chunks, STREAM_CHUNKS);

    await relay.withScope('research-subagent', relay.ScopeType.Agent, async () => {
      await typed.typedLlmExecute('openai',
        new relay.LlmRequest(headers, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Cite the source.' }] }),
        answer('subagent', SUB_RESPONSE), json, llm);
    }, null, null, null, null, { question: 'source?' });
    relay.event('run-finished');
  }, null, null, null, metadata, { task: 'weather report' });
  relay.event('post-run', null, { late: true });
}

// MARK: - Receiver

function request(port, method, p) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => { text += c; });
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startReceiver(t) {
  const child = spawn('python3', [RECEIVER, '--idle-timeout', '120'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.stdin.end());
  const line = await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
  const { port } = JSON.parse(line);
  return {
    url: `http://127.0.0.1:${port}`,
    reset: () => request(port, 'POST', '/__control/reset'),
    wait: (count) => request(port, 'GET', `/__control/wait?count=${count}&timeout_ms=5000`),
    requests: async () => (await request(port, 'GET', '/__control/requests')).requests,
  };
}

/** The vector's snake_case configuration as OpenTelemetrySubscriber options (camelCase keys). */
function options(config, endpoint) {
  const out = { endpoint };
  for (const [k, v] of Object.entries(config)) out[k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())] = v;
  return out;
}

/** Runs the scenario once under configuration `name` (otel_scenario.py `run_config`). */
async function runConfig(rx, name) {
  const spec = V.configurations[name];
  await rx.reset();
  const subscriber = new relay.OpenTelemetrySubscriber(options(spec.config, rx.url));
  const events = [];
  const providerRequests = [];
  relay.registerSubscriber(`otel-scenario-events-${name}`, (e) => events.push(e));
  subscriber.register(`otel-scenario-${name}`);
  let requests;
  let diagnostics;
  try {
    // A fresh stack: its own root, like the scenario's fresh context.
    await relay.withScopeStack(relay.createScopeStack(), () => runScenario(providerRequests));
    await relay.flushSubscribers();
    subscriber.forceFlush();
    const waited = await rx.wait(1);
    assert.equal(waited.timed_out, false, `${name}: no export request arrived`);
    requests = await rx.requests();
    diagnostics = subscriber.runtimeDiagnostics();
  } finally {
    subscriber.deregister(`otel-scenario-${name}`);
    relay.deregisterSubscriber(`otel-scenario-events-${name}`);
    subscriber.shutdown();
  }
  for (const r of requests) assert.equal(r.decode_error, null, `${name}: request ${r.index} did not decode`);
  return {
    events,
    requests: requests.map((r) => ({ method: r.method, path: r.path, headers: r.headers, body: r.decoded })),
    providerRequests,
    diagnostics,
  };
}

const attrs = (resource) => new Map((resource.attributes ?? []).map((a) => [a.key, a.value]));

test('the otel scenario matches Tests/vectors/otel.json under every configuration', {
  skip: !haveProto && 'opentelemetry-proto is not installed (the receiver decodes with it)',
}, async (t) => {
  const rx = await startReceiver(t);
  const names = Object.keys(V.configurations);
  assert.equal(names.length, 8);
  for (const name of names) {
    await t.test(name, async () => {
      const expected = V.configurations[name];
      const result = await runConfig(rx, name);
      const ours = vector(result);
      assert.deepStrictEqual(result.diagnostics, expected.runtime_diagnostics);
      assert.equal(ours.spans.length, expected.spans.length, ours.spans.map((s) => s.name).join(', '));
      for (let i = 0; i < expected.spans.length; i++) {
        assert.deepStrictEqual(ours.spans[i], expected.spans[i], `span ${i} (${expected.spans[i].name})`);
      }
      assert.deepStrictEqual(ours.events, expected.events);
      assert.deepStrictEqual(ours.provider_requests, expected.provider_requests);
      // service.* and configured resource attributes as the reference; telemetry.sdk.* names this SDK.
      const mine = attrs(ours.resource);
      for (const [key, value] of attrs(expected.resource)) {
        if (!key.startsWith('telemetry.sdk.')) assert.deepStrictEqual(mine.get(key), value, key);
      }
      assert.deepStrictEqual(ours.scope, expected.scope);
      assert.deepStrictEqual(ours.requests.map((r) => r.path), expected.requests.map((r) => r.path));
      assert.deepStrictEqual(ours.requests.map((r) => r.spans), expected.requests.map((r) => r.spans));
      for (const r of ours.requests) {
        const headers = new Map(r.headers.map(([k, v]) => [k.toLowerCase(), v]));
        assert.equal(r.method, 'POST');
        assert.equal(headers.get('content-type'), 'application/x-protobuf');
        for (const [k, v] of expected.requests[0].headers) {
          if (!['user-agent', 'host', 'content-length', 'accept'].includes(k.toLowerCase())) {
            assert.equal(headers.get(k.toLowerCase()), v, k);
          }
        }
      }
    });
  }
});
