// SPDX-License-Identifier: Apache-2.0
'use strict';
// AtofExporter and AtifExporter: the fixed scenario of bindings/python/tests/exporter_scenario.py
// against Tests/vectors/exporters.json, the ATIF golden cases through nemo_relay_atif_trajectory,
// the file sink, the stream sink against Tests/support/http_receiver.py, handle release, helper
// restart and a SIGKILLed writer.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, spawnSync } = require('node:child_process');
const relay = require('..');
const typed = require('../typed');
const exporters = require('../lib/exporters');
const { helper } = require('../lib/helper');
const { loadVectors } = require('./support');
const { Normaliser, sortKeys } = require('./exporter_normalise');

const ROOT = path.join(__dirname, '..', '..', '..');
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tmpdir(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-node-exporters-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The records of a JSONL file: split on "\n" alone (U+2028 stays inside strings). */
function readLines(file) {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
  return text.split('\n').slice(0, -1);
}

// MARK: - The fixed scenario (exporter_scenario.py `_run`)

const {
  WEATHER_TOOL, SYSTEM, USER_1, TOOL_CALL, ASSISTANT_1, TOOL_RESULT, TOOL_MESSAGE, ANSWER, USER_2, USER_3,
  RESPONSE_1, RESPONSE_2, SUB_RESPONSE, chunk, STREAM_CHUNKS, body, streamAggregator,
} = require('./scenario_data');

/** Python's ConnectionError, so that the end event's exception.type is the same. */
class ConnectionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** The agent run itself (exporter_scenario.py `_run`), through the Node API. */
async function runScenario() {
  const codec = new relay.OpenAIChatCodec();
  const json = new typed.JsonPassthrough();
  const headers = { authorization: 'Bearer sk-scenario', 'x-request-id': 'req-1' };
  const llm = { modelName: 'gpt-4o-mini', codec, responseCodec: codec };
  const answer = (response) => async () => response;

  await relay.withScope('demo-agent', relay.ScopeType.Agent, async () => {
    relay.event('plan-ready', null, { steps: 3 });
    await typed.typedLlmExecute('openai', new relay.LlmRequest(headers, body([SYSTEM, USER_1])), answer(RESPONSE_1), json, llm);
    await relay.toolCallExecute('get_weather', { city: 'Paris' },
      (args) => ({ result: { ...TOOL_RESULT, city: args.city }, annotation: { source: 'cache' } }),
      null, null, null, null, 'call_weather_1');
    let history = [SYSTEM, USER_1, ASSISTANT_1, TOOL_MESSAGE];
    await typed.typedLlmExecute('openai', new relay.LlmRequest(headers, body(history)), answer(RESPONSE_2), json, llm);
    relay.event('answer-ready', null, null, { confidence: 'high' });

    history = [...history, { role: 'assistant', content: ANSWER }, USER_2];
    await assert.rejects(
      typed.typedLlmExecute('openai', new relay.LlmRequest(headers, body(history)),
        async () => { throw new ConnectionError('upstream unavailable'); }, json, llm),
      (e) => e instanceof ConnectionError);

    history = [...history, USER_3];
    const aggregate = streamAggregator();
    const stream = await typed.typedLlmStreamExecute(
      'openai', new relay.LlmRequest(headers, body(history, { stream: true })),
      async function* streaming() { yield* STREAM_CHUNKS; },
      aggregate.collect,
      aggregate.finalize,
      json, json, { ...llm, attributes: 2 /* NEMO_RELAY_LLM_STREAMING */ });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.deepStrictEqual(chunks, STREAM_CHUNKS);

    await relay.withScope('research-subagent', relay.ScopeType.Agent, async () => {
      await typed.typedLlmExecute('openai',
        new relay.LlmRequest(headers, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Cite the source.' }] }),
        answer(SUB_RESPONSE), json, llm);
    }, null, null, null, null, { question: 'source?' });
    relay.event('run-finished');
  }, null, null, null, { session_id: 'session-1' }, { task: 'weather report' });
}

test('the fixed scenario matches Tests/vectors/exporters.json (ATOF records and ATIF trajectory)', async (t) => {
  const outdir = tmpdir(t);
  const atof = new relay.AtofExporter({ type: 'file', outputDirectory: outdir, filename: 'events.jsonl', mode: 'overwrite' });
  const atif = new relay.AtifExporter('session-1', 'demo-agent', '1.0.0', 'gpt-4o-mini', {
    toolDefinitions: [WEATHER_TOOL], extra: { run: 'exporter-scenario', tags: ['golden'] },
  });
  atof.register('scenario-atof');
  atif.register('scenario-atif');
  let trajectoryJson;
  try {
    // A fresh stack: its own root, like the scenario's fresh context.
    await relay.withScopeStack(relay.createScopeStack(), runScenario);
    atof.forceFlush();
    trajectoryJson = atif.exportJson();
  } finally {
    assert.equal(atif.deregister('scenario-atif'), true);
    assert.equal(atof.deregister('scenario-atof'), true);
    atof.shutdown();
  }
  assert.equal(atof.path, path.join(outdir, 'events.jsonl'));
  const records = readLines(atof.path).map((l) => JSON.parse(l));
  const n = new Normaliser({ outdir });
  const actual = n.value({ atof: records, atif: sortKeys(JSON.parse(trajectoryJson)) });
  const expected = loadVectors('exporters.json').scenario;
  assert.equal(actual.atof.length, expected.atof.length);
  for (let i = 0; i < expected.atof.length; i++) {
    assert.deepStrictEqual(actual.atof[i], expected.atof[i], `ATOF record ${i} (${expected.atof[i].name})`);
  }
  assert.deepStrictEqual(actual.atif, expected.atif);

  // The text too: every JSONL line as written and the export_json() key order and spelling, compared
  // with the reference's raw output under the same text normalisation.
  const lines = readLines(atof.path);
  const ours = new Normaliser({ outdir });
  const theirs = new Normaliser();
  for (let i = 0; i < lines.length; i++) {
    assert.equal(ours.text(lines[i]), theirs.text(JSON.stringify(expected.atof_raw[i])), `ATOF line ${i}`);
  }
  assert.equal(ours.text(trajectoryJson), theirs.text(expected.atif_json_raw));
});

// MARK: - ATIF golden cases through the pure function

test('ATIF golden cases: nemo_relay_atif_trajectory reproduces expected_json byte for byte', async (t) => {
  const dir = tmpdir(t);
  const r = spawnSync('python3', [path.join(ROOT, 'Tests', 'support', 'atif_cases.py'), dir], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') return t.skip('python3 is not installed (it writes the cases from the vectors)');
  assert.equal(r.status, 0, r.stderr);
  const names = fs.readdirSync(dir).filter((f) => f.endsWith('.events.json'))
    .map((f) => f.slice(0, -'.events.json'.length)).sort();
  assert.ok(names.length >= 25, `${names.length} cases`);
  assert.ok(names.includes('exporter_scenario'));
  for (const name of names) {
    await t.test(name, () => {
      const read = (kind) => fs.readFileSync(path.join(dir, `${name}.${kind}.json`));
      const out = exporters.atifTrajectory(read('events').toString('utf8'), read('config').toString('utf8'));
      const expected = read('expected');
      assert.ok(Buffer.from(out, 'utf8').equals(expected), `${name}:\n  ours   ${out}\n  theirs ${expected.toString('utf8')}`);
    });
  }
  assert.throws(() => exporters.atifTrajectory('{"not":"an array"}', '{"session_id":"s","agent_name":"a","agent_version":"1"}'),
    (e) => e instanceof relay.NemoRelayError && e.code === 'NEMO_RELAY_E_INVALID_ARGUMENT');
  assert.throws(() => exporters.atifTrajectory('[', '{}'), { code: 'NEMO_RELAY_E_INVALID_JSON' });
});

// MARK: - File sink

test('file sink: every line is byte for byte the event a JS subscriber receives', async (t) => {
  const dir = tmpdir(t);
  const x = new relay.AtofExporter({ outputDirectory: dir, filename: 'same.jsonl' });
  const seen = [];
  relay.registerSubscriber('same-js', (e) => seen.push(e));
  x.register('same-atof');
  try {
    await relay.withScopeStack(relay.createScopeStack(), () => relay.withScope('bytes', relay.ScopeType.Agent, async () => {
      const data = { s: 'é ° 🌦 \u2028\u2029 / \\ "q" \u0000\u0001\u001f\u007f', nested: { a: [1, -2, 0.5, 1e-7, 1e21] } };
      relay.event('text', null, data, { k: 'v' });
      await relay.toolCallExecute('t', { x: [true, false, null] }, () => ({ result: 'ok' }));
      relay.event('empty', null, {}, []);
    }, null, null, null, null, { in: 'put' }));
    await relay.flushSubscribers();
    x.forceFlush();
  } finally {
    relay.deregisterSubscriber('same-js');
    x.deregister('same-atof');
  }
  const lines = readLines(x.path);
  assert.equal(lines.length, 6);
  assert.deepStrictEqual(lines, seen.map((e) => JSON.stringify(e)));
  assert.ok(lines[1].includes('"s":"é ° 🌦 \u2028\u2029 / \\\\ \\"q\\" \\u0000\\u0001\\u001f\u007f"'), lines[1]);
  assert.ok(lines[1].includes('[1,-2,0.5,1e-7,1e+21]'), lines[1]);
  x.shutdown();
});

test('file sink: append keeps lines, overwrite truncates when the exporter is made', async (t) => {
  const dir = tmpdir(t);
  const run = async (mode, name) => {
    const config = { outputDirectory: dir, filename: 'modes.jsonl' };
    const x = new relay.AtofExporter(mode ? { ...config, mode } : config);
    if (mode === 'overwrite') assert.equal(fs.readFileSync(x.path, 'utf8'), '', 'truncated before any event');
    x.register('modes');
    relay.event(name);
    x.shutdown();
    return readLines(x.path).map((l) => JSON.parse(l).name);
  };
  assert.deepStrictEqual(await run(undefined, 'a1'), ['a1']);
  assert.deepStrictEqual(await run('append', 'a2'), ['a1', 'a2']);
  assert.deepStrictEqual(await run('overwrite', 'o1'), ['o1']);
  assert.deepStrictEqual(await run('append', 'a3'), ['o1', 'a3']);
  assert.equal(fs.statSync(path.join(dir, 'modes.jsonl')).mode & 0o777, 0o600);
});

test('file sink: path rules and the default file name', async (t) => {
  const dir = tmpdir(t);
  // The directory (with parents) and the file exist once the constructor returns.
  const nested = new relay.AtofExporter({ outputDirectory: path.join(dir, 'a', 'b'), filename: 'sub/f.jsonl' });
  assert.equal(nested.path, path.join(dir, 'a', 'b', 'sub', 'f.jsonl'));
  assert.ok(fs.statSync(nested.path).isFile());
  const open = (p) => `failed to open ATOF output file "${p}": `;
  assert.throws(() => new relay.AtofExporter({ outputDirectory: `${dir}/x/../y`, filename: 'f.jsonl' }),
    (e) => e instanceof relay.NemoRelayError &&
      e.message === `${open(`${dir}/x/../y/f.jsonl`)}observability directory '${dir}/x/../y' contains unsafe traversal`);
  assert.throws(() => new relay.AtofExporter({ outputDirectory: dir, filename: '../escape.jsonl' }),
    { message: `${open(`${dir}/../escape.jsonl`)}observability output must be a confined relative file path` });
  assert.throws(() => new relay.AtofExporter({ outputDirectory: dir, filename: '' }), /must be a confined relative file path/);
  fs.symlinkSync(path.join(dir, 'target.jsonl'), path.join(dir, 'link.jsonl'));
  assert.throws(() => new relay.AtofExporter({ outputDirectory: dir, filename: 'link.jsonl' }),
    /refusing symlinked observability file 'link.jsonl'/);
  assert.equal(fs.existsSync(path.join(dir, 'target.jsonl')), false);

  // No options: the current directory (Node's, now) and nemo-relay-events-<UTC time>.jsonl.
  const cwd = process.cwd();
  process.chdir(dir);
  let x;
  try {
    x = new relay.AtofExporter();
  } finally {
    process.chdir(cwd);
  }
  assert.equal(path.dirname(x.path), fs.realpathSync(dir));
  assert.match(path.basename(x.path), /^nemo-relay-events-\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.jsonl$/);
  assert.ok(fs.existsSync(x.path));
  x.shutdown();
  nested.shutdown();
});

test('options are checked in the constructor with the reference messages', () => {
  const invalid = (config, message) => assert.throws(() => new relay.AtofExporter(config),
    (e) => e instanceof relay.NemoRelayError && e.code === 'NEMO_RELAY_E_INVALID_ARGUMENT' && e.message === message,
    JSON.stringify(config));
  invalid({ mode: 'truncate' }, "mode must be 'append' or 'overwrite'");
  invalid({ type: 'kafka' }, "ATOF sink type must be 'file' or 'stream'");
  invalid({ type: 'stream' }, 'stream sink requires url');
  invalid({ type: 'stream', url: 'http://127.0.0.1:9/x', transport: 'grpc' },
    "stream transport must be 'http_post', 'websocket', or 'ndjson'");
  invalid({ type: 'stream', url: 'http://127.0.0.1:9/x', fieldNamePolicy: 'snake' },
    "stream field_name_policy must be 'preserve' or 'replace_dots'");
  invalid({ type: 'stream', url: 'http://127.0.0.1:9/x', headers: { a: 1 } }, 'headers must be an object of string values');
  invalid({ type: 'stream', url: 'http://127.0.0.1:9/x', headerEnv: ['X'] }, 'headerEnv must be an object of string values');
  // Values the core checks.
  invalid({ type: 'stream', url: '  ' }, 'invalid argument: stream sink requires url');
  invalid({ type: 'stream', url: 'http://127.0.0.1:9/x', timeoutMillis: 0 },
    'invalid argument: invalid ATOF streaming endpoint: endpoint timeout_millis must be greater than 0');
  invalid({ type: 'stream', url: 'http://127.0.0.1:9/x', transport: 'websocket' },
    "invalid argument: stream transport 'websocket' is not supported by this build");
  const headerEnv = { authorization: 'NR_NODE_TEST_UNSET' };
  assert.throws(() => new relay.AtofExporter({ type: 'stream', url: 'http://127.0.0.1:9/x', headerEnv }),
    /environment variable "NR_NODE_TEST_UNSET" for header "authorization" is not set/);
  // Types.
  assert.throws(() => new relay.AtofExporter('file'), TypeError);
  assert.throws(() => new relay.AtofExporter({ outputDirectory: 7 }), TypeError);
  assert.throws(() => new relay.AtofExporter({ type: 'stream', url: 'http://127.0.0.1:9/x', timeoutMillis: -1 }), TypeError);
  assert.throws(() => new relay.AtifExporter(null, 'a', '1'), { name: 'TypeError', message: 'sessionId must be a string' });
  assert.throws(() => new relay.AtifExporter('s', 'a', '1', 5), TypeError);
  assert.throws(() => new relay.AtifExporter('s', 'a', '1', null, { toolDefinitions: { a: 1 } }), TypeError);
  assert.throws(() => new relay.AtifExporter('s', 'a', '1', null, { extra: { n: 1n } }), TypeError);
  // A file sink ignores the stream options; a stream sink has no path.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-node-exporters-'));
  try {
    const f = new relay.AtofExporter({ outputDirectory: dir, filename: 'f.jsonl', transport: 'grpc', timeoutMillis: -5 });
    assert.equal(f.path, path.join(dir, 'f.jsonl'));
    f.shutdown();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const s = new relay.AtofExporter({ type: 'stream', url: 'http://127.0.0.1:9/x', timeoutMillis: 100 });
  assert.equal(s.path, null);
  s.shutdown();
});

test('register, deregister, forceFlush and shutdown: results and repeated calls', async (t) => {
  const dir = tmpdir(t);
  const x = new relay.AtofExporter({ outputDirectory: dir, filename: 'reg.jsonl' });
  assert.equal(x.register('reg-a'), undefined);
  assert.throws(() => x.register('reg-a'),
    (e) => e.code === 'NEMO_RELAY_E_ALREADY_EXISTS' && e.message === 'already exists: reg-a subscriber already exists');
  relay.registerSubscriber('reg-js', () => {});
  assert.throws(() => x.register('reg-js'), { code: 'NEMO_RELAY_E_ALREADY_EXISTS' });
  // Deregistration goes by global name, whoever registered it (as in the reference).
  assert.equal(x.deregister('reg-js'), true);
  assert.equal(relay.deregisterSubscriber('reg-js'), false);
  x.register('reg-b');
  relay.event('twice');
  x.forceFlush();
  assert.deepStrictEqual(readLines(x.path).map((l) => JSON.parse(l).name), ['twice', 'twice']);
  assert.deepStrictEqual(x.diagnostics().registrations, ['reg-a', 'reg-b']);
  assert.equal(x.deregister('reg-a'), true);
  assert.equal(x.deregister('reg-a'), false);
  assert.equal(x.forceFlush(), undefined);
  assert.equal(x.shutdown(), undefined);
  assert.equal(x.shutdown(), undefined); // harmless
  assert.equal(relay.deregisterSubscriber('reg-b'), false, 'shutdown removed the registrations');
  relay.event('after-shutdown');
  x.forceFlush();
  assert.deepStrictEqual(readLines(x.path).map((l) => JSON.parse(l).name), ['twice', 'twice']);
  assert.equal(x.diagnostics().shut_down, true);

  // ATIF: events emitted while not registered are not collected; clear keeps the registration.
  const a = new relay.AtifExporter('s-1', 'agent', '0.1');
  assert.equal(a.exportJson(),
    '{"schema_version":"ATIF-v1.7","session_id":"s-1","trajectory_id":"s-1","agent":{"name":"agent","version":"0.1"},' +
    '"steps":[],"final_metrics":{"total_steps":0}}');
  const call = () => relay.llmCallExecute('openai', { headers: {}, content: { messages: [{ role: 'user', content: 'hi' }] } },
    () => ({ choices: [{ message: { role: 'assistant', content: 'hello' } }] }));
  await call();
  a.register('atif-reg');
  assert.throws(() => a.register('atif-reg'), { message: 'already exists: atif-reg subscriber already exists' });
  await call();
  assert.equal(a.export().steps.length, 2);
  a.clear();
  assert.equal(a.export().steps.length, 0);
  await call();
  assert.equal(a.export().steps.length, 2);
  assert.equal(a.deregister('atif-reg'), true);
  assert.equal(a.deregister('atif-reg'), false);
  await call();
  assert.equal(a.export().steps.length, 2);
});

// MARK: - Stream sink against Tests/support/http_receiver.py

/** Starts the scripted receiver (it exits with our stdin); resolves with `{port, control(path, body?), stop()}`. */
async function startReceiver(t) {
  const child = spawn('python3', [path.join(ROOT, 'Tests', 'support', 'http_receiver.py'), '--idle-timeout', '60'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  t.after(stop);
  const line = await new Promise((resolve, reject) => {
    child.on('error', reject);
    readline.createInterface({ input: child.stdout }).once('line', resolve);
  });
  const { type, port } = JSON.parse(line);
  assert.equal(type, 'ready');
  const control = async (p, payload) => {
    const r = await fetch(`http://127.0.0.1:${port}/__control/${p}`,
      payload === undefined ? {} : { method: 'POST', body: JSON.stringify(payload) });
    return r.json();
  };
  const requests = async (count) => (await control(`wait?count=${count}&timeout_ms=10000`)).requests
    .filter((r) => r.complete)
    .map((r) => ({ ...r, body: Buffer.from(r.body_b64, 'base64').toString('utf8') }));
  return { port, url: `http://127.0.0.1:${port}/events`, control, requests, stop };
}

/** Emits `n` marks on a fresh stack and returns the JSON lines a subscriber got for them. */
async function emitMarks(n, prefix) {
  const seen = [];
  relay.registerSubscriber(`${prefix}-js`, (e) => seen.push(JSON.stringify(e)));
  try {
    relay.withScopeStack(relay.createScopeStack(), () => {
      for (let i = 0; i < n; i++) relay.event(`${prefix}-${i}`, null, { i, text: 'é\u2028' });
    });
    await relay.flushSubscribers();
  } finally {
    relay.deregisterSubscriber(`${prefix}-js`);
  }
  return seen;
}

test('stream sink: 200, every line arrives as the subscriber saw it', async (t) => {
  const rx = await startReceiver(t);
  const x = new relay.AtofExporter({ type: 'stream', url: rx.url, headers: { 'X-Custom': 'v1' }, timeoutMillis: 2000 });
  assert.equal(x.path, null);
  x.register('stream-200');
  const seen = await emitMarks(50, 'ok');
  x.forceFlush();
  x.shutdown();
  const reqs = await rx.requests(1);
  assert.ok(reqs.length >= 1);
  for (const r of reqs) {
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/events');
    const headers = Object.fromEntries(r.headers.map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(headers['content-type'], 'application/x-ndjson');
    assert.equal(headers['x-custom'], 'v1');
  }
  assert.equal(reqs.map((r) => r.body).join(''), seen.map((l) => `${l}\n`).join(''));
  const d = x.diagnostics();
  assert.equal(d.events_sent, 50);
  assert.equal(d.events_failed, 0);
});

test('stream sink: 429 with Retry-After and 503 are retried, nothing is lost', async (t) => {
  const rx = await startReceiver(t);
  await rx.control('script', [{ status: 429, retry_after: '1' }, { status: 503 }]);
  const x = new relay.AtofExporter({ type: 'stream', url: rx.url, timeoutMillis: 2000 });
  x.register('stream-retry');
  const started = Date.now();
  const seen = await emitMarks(20, 'retry');
  x.forceFlush();
  const elapsed = Date.now() - started;
  x.shutdown();
  const reqs = await rx.requests(3);
  assert.ok(reqs.length >= 3, `${reqs.length} requests`);
  // The first batch was sent three times (429, 503, 200); what the receiver accepted is every line once.
  assert.equal(reqs[1].body, reqs[0].body);
  assert.equal(reqs[2].body, reqs[0].body);
  assert.equal(reqs.slice(2).map((r) => r.body).join(''), seen.map((l) => `${l}\n`).join(''));
  assert.ok(elapsed >= 900, `Retry-After: 1 was honoured (${elapsed} ms)`);
  const d = x.diagnostics();
  assert.equal(d.events_sent, 20);
  assert.equal(d.events_failed, 0);
  assert.ok(d.retries >= 2, JSON.stringify(d));
});

test('stream sink: 400 is not retried and forceFlush throws', async (t) => {
  const rx = await startReceiver(t);
  await rx.control('script', [{ status: 400, body: 'bad batch' }]);
  const x = new relay.AtofExporter({ type: 'stream', url: rx.url, timeoutMillis: 2000 });
  x.register('stream-400');
  relay.event('rejected');
  assert.throws(() => x.forceFlush(),
    (e) => e instanceof relay.NemoRelayError && /400/.test(e.message) && e.message.includes(rx.url));
  assert.throws(() => x.forceFlush(), /400/, 'the failure stays reported');
  relay.event('accepted-later');
  assert.throws(() => x.shutdown(), /400/);
  const reqs = await rx.requests(2);
  assert.equal(reqs.length, 2, 'one request per batch: the 400 was not retried');
  assert.equal(JSON.parse(reqs[0].body).name, 'rejected');
  assert.equal(JSON.parse(reqs[1].body).name, 'accepted-later');
  assert.equal(x.diagnostics().events_failed, 1);
});

test('stream sink: a hanging endpoint never slows the agent; shutdown is bounded', async (t) => {
  const rx = await startReceiver(t);
  await rx.control('script', { script: [], default: { hang_ms: 20000 } });
  const x = new relay.AtofExporter({ type: 'stream', url: rx.url, timeoutMillis: 300 });
  x.register('stream-hang');
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const started = process.hrtime.bigint();
  relay.withScopeStack(relay.createScopeStack(), () => {
    for (let i = 0; i < 200; i++) relay.popScope(relay.pushScope(`hang-${i}`, relay.ScopeType.Function));
  });
  const emitMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(emitMs < 5000, `200 push/pops took ${emitMs} ms`);
  const t0 = Date.now();
  x.shutdown(); // waits about timeoutMillis + 2 s, then reports what is still queued as a warning
  const shutdownMs = Date.now() - t0;
  assert.ok(shutdownMs < 10000, `shutdown took ${shutdownMs} ms`);
  await tick();
  assert.ok(warnings.some((w) => w.code === 'NEMO_RELAY_EXPORTER_TIMEOUT'), warnings.map(String).join('\n'));
  const reqs = await rx.control('requests');
  assert.ok(reqs.requests.length >= 1, 'the sink did try');
});

// MARK: - Handles: garbage collection, helper restart, a killed writer

/** Whether the helper process holds `file` open (its /proc fd table). */
function helperHolds(file) {
  const dir = `/proc/${helper.child.pid}/fd`;
  for (const fd of fs.readdirSync(dir)) {
    try {
      if (fs.readlinkSync(path.join(dir, fd)) === file) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Collects garbage until `done()` holds (FinalizationRegistry callbacks and the posted free are asynchronous). */
async function collectUntil(done, what, between = null) {
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  for (let i = 0; i < 200; i++) {
    gc();
    await sleep(10);
    if (between) await between();
    if (done()) return;
  }
  assert.fail(`not released: ${what}`);
}

const noProc = !fs.existsSync('/proc/self/fd') && 'needs /proc';
test('an unreachable exporter releases its handle; a registered one stays alive', { skip: noProc }, async (t) => {
  const dir = tmpdir(t);
  const file = path.join(fs.realpathSync(dir), 'gc.jsonl');
  const make = (register) => {
    const x = new relay.AtofExporter({ outputDirectory: dir, filename: 'gc.jsonl' });
    if (register) x.register('gc-atof');
  };
  make(false);
  assert.ok(helperHolds(file), 'the sink holds its file');
  await collectUntil(() => !helperHolds(file), 'unregistered exporter');

  // Registered: the registration keeps it; events keep reaching the file after a GC.
  make(true);
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(10);
  }
  relay.event('still-registered');
  const other = new relay.AtifExporter('s', 'a', '1');
  await collectUntil(() => readLines(file).some((l) => JSON.parse(l).name === 'still-registered'), 'event written');
  assert.ok(helperHolds(file));
  // Deregistering the name (from any exporter) lets it go. The runtime keeps a deregistered lane
  // (and so the sink it delivers to) until a runtime flush sees it done, hence flushSubscribers.
  assert.equal(other.deregister('gc-atof'), true);
  await collectUntil(() => !helperHolds(file), 'deregistered exporter', () => relay.flushSubscribers());
});

test('a writer killed with SIGKILL leaves only whole lines', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'crash.jsonl');
  const script = `
    const relay = require(${JSON.stringify(path.join(__dirname, '..'))});
    const { helper } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'helper.js'))});
    const x = new relay.AtofExporter({ outputDirectory: ${JSON.stringify(dir)}, filename: 'crash.jsonl' });
    x.register('crash');
    process.stdout.write(JSON.stringify({ helper: helper.child.pid }) + '\\n', () => {
      const pad = 'x'.repeat(3000) + 'é🌦';
      for (let i = 0; ; i++) relay.event('crash-' + i, null, { i, pad });
    });`;
  // stderr is kept for the failure message: the child reports its lost helper before it is killed.
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const first = await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
  const { helper: helperPid } = JSON.parse(first);
  // Kill the writer (the helper) and its Node process mid-stream, once a good number of lines are out.
  for (let i = 0; i < 1000 && (!fs.existsSync(file) || fs.statSync(file).size < 2000000); i++) await sleep(5);
  process.kill(helperPid, 'SIGKILL');
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
  // The kill may land inside a write(2) and leave a torn last event; appending to the file again drops it.
  const torn = fs.readFileSync(file);
  const whole = torn.subarray(0, torn.lastIndexOf(0x0a) + 1);
  const again = new relay.AtofExporter({ outputDirectory: dir, filename: 'crash.jsonl' });
  again.shutdown();
  assert.ok(fs.readFileSync(file).equals(whole), 'only the torn tail was dropped');
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.length > 0 && text.endsWith('\n'), `the file ends with a whole line (${text.length} chars)\n${stderr}`);
  const lines = text.split('\n').slice(0, -1);
  assert.ok(lines.length > 100, `${lines.length} lines\n${stderr}`);
  lines.forEach((l, i) => {
    const e = JSON.parse(l);
    assert.equal(e.name, `crash-${i}`);
  });
});

test('after a helper restart an exporter throws a clear error; calls are refused until restartHelper(); new ones work', async (t) => {
  const dir = tmpdir(t);
  const x = new relay.AtofExporter({ outputDirectory: dir, filename: 'restart.jsonl' });
  const a = new relay.AtifExporter('s', 'a', '1');
  x.register('before-restart');
  const gen = helper.generation;
  process.kill(helper.child.pid, 'SIGKILL');
  for (let i = 0; i < 500 && helper.generation === gen; i++) await sleep(10);
  assert.notEqual(helper.generation, gen, 'the binding noticed the exit');
  const stale = {
    code: 'ERR_NEMO_RELAY_HELPER', message: 'this AtofExporter belongs to a NemoRelay helper that exited; make a new one',
  };
  assert.throws(() => x.register('after'), stale);
  assert.throws(() => x.deregister('before-restart'), stale);
  assert.throws(() => x.forceFlush(), stale);
  assert.throws(() => x.shutdown(), stale);
  assert.throws(() => x.diagnostics(), stale);
  assert.throws(() => a.exportJson(),
    { code: 'ERR_NEMO_RELAY_HELPER', message: /^this AtifExporter belongs to a NemoRelay helper that exited/ });
  assert.throws(() => a.clear(), { code: 'ERR_NEMO_RELAY_HELPER' });
  assert.equal(x.path, path.join(dir, 'restart.jsonl'));
  // Its registration could not come back: calls are refused (docs/node.md, "Helper process").
  assert.throws(() => relay.event('refused'), { code: 'ERR_NEMO_RELAY_HELPER', message: /"before-restart" cannot be restored/ });
  relay.restartHelper();

  const y = new relay.AtofExporter({ outputDirectory: dir, filename: 'restart.jsonl' });
  y.register('before-restart'); // the name is free in the new runtime
  relay.event('after-restart');
  y.shutdown();
  assert.deepStrictEqual(readLines(y.path).map((l) => JSON.parse(l).name), ['after-restart']);
});
