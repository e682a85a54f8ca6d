// SPDX-License-Identifier: Apache-2.0
'use strict';
// Operational logging (docs/logging.md): the environment is applied when the binding loads, in a fresh
// process per case (the configuration is process-wide, in the helper).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const INDEX = path.join(__dirname, '..', 'index.js');
const NAMES = ['NEMO_RELAY_LOG', 'NEMO_RELAY_LOG_STDERR', 'NEMO_RELAY_LOG_STDERR_FORMAT', 'NEMO_RELAY_LOG_CONFIG_PATH'];

function run(source, env) {
  const e = { ...process.env };
  for (const n of NAMES) delete e[n];
  Object.assign(e, env);
  return spawnSync(process.execPath, ['-e', `const relay = require(${JSON.stringify(INDEX)});\n${source}`], {
    env: e, encoding: 'utf8', timeout: 60000,
  });
}

test('an invalid environment makes require fail with the reference message', () => {
  for (const [env, message] of [
    [{ NEMO_RELAY_LOG: '' }, 'NEMO_RELAY_LOG must not be empty when set'],
    [{ NEMO_RELAY_LOG: 'loud' }, "invalid logging level 'loud'; expected error, warn, info, debug, or trace"],
    [{ NEMO_RELAY_LOG_STDERR_FORMAT: 'xml' }, "invalid logging format 'xml'; expected human or jsonl"],
    [{ NEMO_RELAY_LOG_CONFIG_PATH: '/nonexistent.txt' }, 'logging configuration path must identify a .toml file: /nonexistent.txt'],
  ]) {
    const r = run('', env);
    assert.notEqual(r.status, 0, JSON.stringify(env));
    assert.ok(r.stderr.includes(`failed to initialize NeMo Relay operational logging: invalid argument: ${message}`), r.stderr);
  }
});

test('records go to stderr as JSON lines, with the node target', () => {
  const r = run("relay.info('hello', { target: 'app', fields: { n: 1, s: 'x' } }); relay.debug('hidden');", {
    NEMO_RELAY_LOG: 'info', NEMO_RELAY_LOG_STDERR_FORMAT: 'jsonl',
  });
  assert.equal(r.status, 0, r.stderr);
  const records = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(records.map((x) => [x.event, x.message, x.target]), [
    ['logging_initialized', 'Operational logging initialized', 'nemo_relay.logging'],
    ['', 'hello', 'nemo_relay.node.app'],
    ['logging_shutdown_started', 'Operational logging shutdown started', 'nemo_relay.logging'],
  ]);
  assert.deepEqual(records[1].fields, { n: 1, s: 'x' });
  assert.equal(new Set(records.map((x) => x.root_relay_id)).size, 1);
});

test('by default only errors reach stderr, as human lines', () => {
  const r = run("relay.warn('quiet'); relay.error('loud', { fields: { k: true } });", {});
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR root=[0-9a-f]{8} target=nemo_relay\.node k=true loud\n$/);
});

test('misuse is refused', () => {
  const r = run(`
    for (const bad of [() => relay.log('INFO', 'x'), () => relay.info('x', { fields: [1] }), () => relay.info(1)]) {
      try { bad(); console.log('no error'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }
    }`, {});
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'NemoRelayError: invalid argument: invalid log level',
    'TypeError: log fields must be an object',
    'TypeError: message must be a string',
  ]);
});

test('a file sink is written when the helper exits, and runtime diagnostics reach it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nemo-relay-node-log-'));
  try {
    const log = path.join(dir, 'relay.jsonl');
    const config = path.join(dir, 'logging.toml');
    fs.writeFileSync(config, `[logging]\nlevel = "warn"\nstderr_enabled = false\nflush_interval_millis = 0\n\n[[logging.sinks]]\npath = ${JSON.stringify(log)}\nlevel = "warn"\n`);
    const r = run(`
      relay.registerMarkSanitizeGuardrail('bad', 1, () => { throw new Error('boom'); });
      relay.registerSubscriber('s', () => {});
      relay.event('m');
      relay.flushSubscribers().then(() => relay.warn('done'));`, { NEMO_RELAY_LOG_CONFIG_PATH: config });
    assert.equal(r.status, 0, r.stderr);
    const records = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const runtime = records.filter((x) => x.target === 'nemo_relay.runtime');
    assert.ok(runtime.length >= 1 && runtime.every((x) => x.level === 'warn'), JSON.stringify(records));
    assert.match(runtime[0].message, /'bad'.*boom/);
    assert.deepEqual(records.at(-1), { ...records.at(-1), level: 'warn', target: 'nemo_relay.node', message: 'done' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
