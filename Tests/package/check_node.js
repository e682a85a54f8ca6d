// SPDX-License-Identifier: Apache-2.0
'use strict';
// Run by Tests/package/run.sh in an empty project that installed only the nemo-relay-node tarball.
// Checks that the package and its helper come from node_modules, that the helper maps no Swift
// toolchain file, and that a scope around a managed tool call produces the expected events.
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const toolchain = process.argv[2];
for (const v of ['NEMO_RELAY_LIB_PATH', 'NEMO_RELAY_HELPER_PATH', 'LD_LIBRARY_PATH', 'LD_PRELOAD', 'NODE_PATH']) {
  assert.strictEqual(process.env[v], undefined, `${v} is set`);
}
const main = require.resolve('nemo-relay-node');
assert.ok(main.startsWith(path.join(process.cwd(), 'node_modules')), `nemo-relay-node resolved to ${main}`);
const relay = require('nemo-relay-node');

/** The helper's memory map: the child of this process whose executable is NemoRelayHelper. */
function helperMaps() {
  for (const task of fs.readdirSync(`/proc/${process.pid}/task`)) {
    const children = fs.readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim().split(/\s+/);
    for (const pid of children.filter(Boolean)) {
      const exe = fs.readlinkSync(`/proc/${pid}/exe`);
      if (exe.endsWith('/NemoRelayHelper')) return { exe, maps: fs.readFileSync(`/proc/${pid}/maps`, 'utf8') };
    }
  }
  throw new Error('no NemoRelayHelper child process found');
}

async function run() {
  const events = [];
  relay.registerSubscriber('package-check', (e) => events.push(e));
  const result = await relay.withScope('package-agent', relay.ScopeType.Agent, () =>
    relay.toolCallExecute('add', { a: 2, b: 3 }, async (args) => ({ result: { sum: args.a + args.b } })));
  assert.deepStrictEqual(result.result, { sum: 5 });
  const { exe, maps } = helperMaps();
  await relay.flushSubscribers();
  const seen = events.filter((e) => e.kind === 'scope').map((e) => [e.scope_category, e.category, e.name]);
  assert.deepStrictEqual(seen, [
    ['start', 'agent', 'package-agent'], ['start', 'tool', 'add'], ['end', 'tool', 'add'], ['end', 'agent', 'package-agent'],
  ]);
  const nodeModules = path.join(process.cwd(), 'node_modules', 'nemo-relay-node', 'native');
  assert.ok(exe.startsWith(nodeModules), `helper ${exe}`);
  const libs = new Set(maps.split('\n').filter((l) => l.includes('libnemorelay')).map((l) => l.trim().split(/\s+/).pop()));
  assert.ok(libs.size === 1 && [...libs][0].startsWith(nodeModules), `library ${[...libs]}`);
  assert.ok(!maps.includes(toolchain), `the helper maps a file of ${toolchain}`);
  assert.ok(!maps.includes('libswift'), 'the helper maps a Swift runtime library');
  console.log(`node: nemo-relay-node from ${path.dirname(main)}, helper ${exe}, library ${[...libs][0]}, ${events.length} events`);
}

run().catch((e) => {
  console.error(e);
  process.exit(1);
});
