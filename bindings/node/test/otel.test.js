// SPDX-License-Identifier: Apache-2.0
'use strict';
// OpenTelemetrySubscriber: options checked as the reference's binding does, an OTLP file sink, and
// OTLP/HTTP to the scripted receiver Tests/support/otlp_receiver.py (one trace with parent links,
// retries of 503, a 400 reported from forceFlush).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const readline = require('node:readline');
const { spawn, spawnSync } = require('node:child_process');
const relay = require('..');

const ROOT = path.join(__dirname, '..', '..', '..');
const RECEIVER = path.join(ROOT, 'Tests', 'support', 'otlp_receiver.py');
const haveProto = spawnSync('python3', ['-c', 'import opentelemetry.proto'], { stdio: 'ignore' }).status === 0;

function tmpdir(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-node-otel-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function agentRun(name = 'agent') {
  relay.withScope(name, relay.ScopeType.Agent, () => {
    relay.withScope('step', relay.ScopeType.Function, () => {});
  });
}

async function startReceiver(t, script) {
  const args = [RECEIVER, '--idle-timeout', '60'];
  if (script) args.push('--script', JSON.stringify(script));
  const child = spawn('python3', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.stdin.end());
  const line = await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
  const { port } = JSON.parse(line);
  const get = (p) => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
  return { url: `http://127.0.0.1:${port}`, requests: async () => (await get('/__control/requests')).requests, spans: async () => (await get('/__control/spans')).spans };
}

test('options are checked with the reference messages', () => {
  assert.throws(() => new relay.OpenTelemetrySubscriber({ type: 'bogus', endpoint: 'http://127.0.0.1:9' }),
    /type must be 'full', 'gen_ai', or 'openinference', got "bogus"/);
  assert.throws(() => new relay.OpenTelemetrySubscriber({ type: 'full', endpoint: ' ' }), /endpoint is required and must be nonblank/);
  assert.throws(() => new relay.OpenTelemetrySubscriber({ type: 'full', endpoint: 'http://example.com:4318' }), /require HTTPS/);
  assert.throws(() => new relay.OpenTelemetrySubscriber({ type: 'full', endpoint: 'http://127.0.0.1:9', markProjection: 'Tool' }),
    /unknown variant `Tool`/);
  const s = new relay.OpenTelemetrySubscriber({ type: 'full', endpoint: 'http://127.0.0.1:9' });
  assert.deepEqual(s.runtimeDiagnostics(), []);
  s.shutdown();
});

test('the OTLP file sink writes one request per line', async (t) => {
  const dir = tmpdir(t);
  const s = new relay.OpenTelemetrySubscriber({ type: 'openinference', outputDirectory: dir, filename: 'spans.jsonl', serviceName: 'node-svc' });
  s.register('node-otel-file');
  agentRun();
  await relay.flushSubscribers();
  s.forceFlush();
  s.shutdown();
  const lines = fs.readFileSync(path.join(dir, 'spans.jsonl'), 'utf8').split('\n').filter(Boolean);
  assert.ok(lines.length >= 1);
  const rs = JSON.parse(lines[0]).resourceSpans[0];
  assert.deepEqual(rs.resource.attributes[0], { key: 'service.name', value: { stringValue: 'node-svc' } });
  const spans = lines.flatMap((l) => JSON.parse(l).resourceSpans[0].scopeSpans[0].spans);
  const agent = spans.find((sp) => sp.name === 'agent');
  const step = spans.find((sp) => sp.name === 'step');
  assert.equal(step.traceId, agent.traceId);
  assert.equal(step.parentSpanId, agent.spanId);
  assert.ok(agent.attributes.some((a) => a.key === 'openinference.span.kind' && a.value.stringValue === 'AGENT'));
});

test('OTLP/HTTP: one trace, 503 retried, 400 reported', { skip: !haveProto && 'opentelemetry-proto is not installed' }, async (t) => {
  const rx = await startReceiver(t, [{ status: 503 }]);
  const s = new relay.OpenTelemetrySubscriber({ type: 'full', endpoint: rx.url, headers: { 'X-Tenant': 't1' } });
  s.register('node-otel-http');
  t.after(() => { try { s.shutdown(); } catch { /* reported below */ } });
  agentRun();
  await relay.flushSubscribers();
  s.forceFlush();
  const reqs = await rx.requests();
  assert.equal(reqs.length, 2);
  assert.equal(reqs[1].path, '/v1/traces');
  assert.ok(reqs[1].headers.some(([k, v]) => k.toLowerCase() === 'x-tenant' && v === 't1'));
  const spans = (await rx.spans()).map((e) => e.span);
  const agent = spans.find((sp) => sp.name === 'agent');
  assert.equal(spans.find((sp) => sp.name === 'step').parentSpanId, agent.spanId);

  const rx2 = await startReceiver(t, [{ status: 400 }]);
  const s2 = new relay.OpenTelemetrySubscriber({ type: 'gen_ai', endpoint: rx2.url });
  s2.register('node-otel-400');
  agentRun();
  await relay.flushSubscribers();
  assert.throws(() => s2.forceFlush(), /OpenTelemetry trace export to http:\/\/127\.0\.0\.1:\d+ failed/);
  assert.equal((await rx2.requests()).length, 1);
  assert.equal(s2.runtimeDiagnostics()[0].code, 'otel.traces_export_failed');
  assert.throws(() => s2.shutdown());
});
