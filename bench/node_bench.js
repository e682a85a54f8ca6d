// SPDX-License-Identifier: Apache-2.0
'use strict';
// The Node binding's benchmark (issue #7): microseconds per scope push+pop, per managed llmCallExecute
// round trip (request -> helper -> provider callback in JS -> completion -> done) with no middleware
// and with a subscriber, and managed calls per second with 64 calls in flight. Run it against the
// release build:
//   swift build -c release
//   bin=$(swift build -c release --show-bin-path)
//   NEMO_RELAY_LIB_PATH=$bin/libnemorelay.so NEMO_RELAY_HELPER_PATH=$bin/NemoRelayHelper node bench/node_bench.js [iterations]
const relay = require('../bindings/node');

const n = Number(process.argv[2] ?? 5000);
const warmup = Math.max(200, n / 10);
const request = { headers: {}, content: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } };
const provider = () => ({ ok: true });

function now() {
  return process.hrtime.bigint();
}

function usPer(t0, count) {
  return Number(now() - t0) / 1000 / count;
}

function pushPop() {
  const h = relay.pushScope('bench', relay.ScopeType.Function);
  relay.popScope(h);
}

async function sequential(count) {
  for (let i = 0; i < count; i++) await relay.llmCallExecute('bench', request, provider);
}

async function concurrent(total, width) {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await relay.llmCallExecute('bench', request, provider);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
}

async function main() {
  const rows = [];
  const row = (label, value, unit) => {
    rows.push([label, value, unit]);
    console.log(`${label.padEnd(44)} ${value.toFixed(1).padStart(9)} ${unit}`);
  };
  console.log(`nemo-relay-node benchmark, ${n} iterations, helper ${process.env.NEMO_RELAY_HELPER_PATH ?? '(default)'}`);

  for (let i = 0; i < warmup; i++) pushPop();
  let t0 = now();
  for (let i = 0; i < n; i++) pushPop();
  row('scope push+pop', usPer(t0, n), 'us');

  await sequential(warmup);
  t0 = now();
  await sequential(n);
  row('llmCallExecute, no middleware', usPer(t0, n), 'us');

  let events = 0;
  relay.registerSubscriber('bench', () => { events++; });
  await sequential(warmup);
  await relay.flushSubscribers();
  events = 0;
  t0 = now();
  await sequential(n);
  await relay.flushSubscribers();
  row('llmCallExecute, one subscriber (+flush)', usPer(t0, n), 'us');
  if (events !== 2 * n) throw new Error(`subscriber saw ${events} events, expected ${2 * n}`);
  relay.deregisterSubscriber('bench');

  const total = Math.max(n * 4, 20000);
  await concurrent(warmup, 64);
  t0 = now();
  await concurrent(total, 64);
  row('llmCallExecute, 64 concurrent', total / (Number(now() - t0) / 1e9), 'calls/s');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
