// SPDX-License-Identifier: Apache-2.0
'use strict';
// The hostile-input catalogue for the Node binding (issue 13). Each test is named after its catalogue
// entry ("<entry>: <case>"); cases that can take the process down run in a child process, and every
// wait is bounded so a regression fails instead of hanging the suite.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const relay = require('..');

const req = (content = {}) => new relay.LlmRequest({}, content);

/** Runs `code` in a child Node with this binding as `relay`; returns {status, signal, stdout, stderr}. */
function runChild(code, timeoutMs = 60_000) {
  const pkg = JSON.stringify(path.join(__dirname, '..'));
  const r = spawnSync(process.execPath, ['-e', `const relay = require(${pkg});\n${code}`], {
    encoding: 'utf8', timeout: timeoutMs, env: process.env,
  });
  if (r.error) assert.fail(`child failed: ${r.error.message}; stderr: ${r.stderr}`);
  return r;
}

/** Collects every event name a global subscriber sees until `flushSubscribers`. */
function collect(name) {
  const seen = [];
  relay.registerSubscriber(name, (e) => seen.push(e));
  return { seen, close: () => relay.deregisterSubscriber(name) };
}

// ---- nan-infinity (and the other values JSON cannot carry): a TypeError naming the path ---------

test('nan-infinity: NaN, Infinity, BigInt and undefined in arrays are refused with their path', () => {
  const cases = [
    [{ t: NaN }, /non-finite number NaN at \$(\.content)?\.t is not JSON/],
    [{ a: [1, Infinity] }, /non-finite number Infinity at \$(\.content)?\.a\[1\]/],
    [{ a: [-Infinity] }, /non-finite number -Infinity at \$(\.content)?\.a\[0\]/],
    [{ n: 10n }, /BigInt at \$(\.content)?\.n is not JSON/],
    [{ a: [1, undefined] }, /undefined at \$(\.content)?\.a\[1\]/],
  ];
  for (const [content, re] of cases) {
    assert.throws(() => req(content), (e) => e instanceof TypeError && re.test(e.message));
    assert.throws(() => relay.event('bad', null, content), (e) => e instanceof TypeError && re.test(e.message));
  }
  // An undefined object property is absent, as JSON.stringify leaves it out.
  assert.deepStrictEqual(req({ a: 1, b: undefined }).content, { a: 1 });
});

test('nan-infinity: a provider, a tool and a stream returning NaN fail their call with the TypeError', async () => {
  await assert.rejects(relay.llmCallExecute('p', req(), () => ({ score: NaN })),
    (e) => /non-finite number NaN at \$\.score/.test(e.message));
  await assert.rejects(relay.toolCallExecute('t', {}, () => ({ result: { big: 1n } })),
    (e) => /BigInt at \$\.result\.big/.test(e.message));
  assert.throws(() => relay.toolCallExecute('t', { x: Infinity }, () => 1),
    (e) => e instanceof TypeError && /Infinity at \$\.x/.test(e.message));
  const stream = await relay.llmStreamCallExecute('s', req(), async function* () {
    yield { d: 1 };
    yield { d: [undefined] };
  });
  const got = [];
  await assert.rejects((async () => { for await (const c of stream) got.push(c); })(),
    (e) => /undefined at \$\.d\[0\]/.test(e.message));
  assert.deepStrictEqual(got, [{ d: 1 }]);
});

module.exports = { runChild, collect, req };
