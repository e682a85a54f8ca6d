// SPDX-License-Identifier: Apache-2.0
'use strict';
// The Node binding's benchmark (issue #7): microseconds per scope push+pop, per managed llmCallExecute
// round trip (request -> helper -> provider callback in JS -> completion -> done) with no middleware
// and with a subscriber, managed calls per second with 64 calls in flight, and microseconds per chunk
// of a streaming call (one push, collector, llm.chunk mark and consumer read per chunk). Next to each wall-clock
// figure it prints the CPU time both processes spent per operation (Node + helper, from
// process.cpuUsage and /proc), which stays meaningful when other work shares the machine. Run it
// against the release build:
//   swift build -c release
//   bin=$(swift build -c release --show-bin-path)
//   NEMO_RELAY_LIB_PATH=$bin/libnemorelay.so NEMO_RELAY_HELPER_PATH=$bin/NemoRelayHelper node bench/node_bench.js [iterations]
const fs = require('node:fs');
const relay = require('../bindings/node');
const { helper } = require('../bindings/node/lib/helper');

const n = Number(process.argv[2] ?? 5000);
const warmup = Math.max(200, n / 10);
const request = { headers: {}, content: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } };
const provider = () => ({ ok: true });

function now() {
  return process.hrtime.bigint();
}

/** CPU microseconds used so far by this process and by the helper (all threads; Linux /proc). */
function cpu() {
  const u = process.cpuUsage();
  let h = NaN;
  try {
    const f = fs.readFileSync(`/proc/${helper.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    h = ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime + stime in USER_HZ (100) ticks
  } catch {}
  return { node: u.user + u.system, helper: h };
}

/** Starts a measurement; `end(count)` returns wall and CPU microseconds per operation. */
function start() {
  const t0 = now();
  const c0 = cpu();
  return (count) => {
    const wall = Number(now() - t0) / 1000;
    const c1 = cpu();
    return { wall: wall / count, seconds: wall / 1e6, node: (c1.node - c0.node) / count, helper: (c1.helper - c0.helper) / count };
  };
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
  const row = (label, value, unit, m) => {
    const c = `cpu/op: node ${m.node.toFixed(1)} us + helper ${Number.isNaN(m.helper) ? '?' : m.helper.toFixed(1)} us`;
    console.log(`${label.padEnd(40)} ${value.toFixed(1).padStart(9)} ${unit.padEnd(8)} ${c}`);
  };
  console.log(`nemo-relay-node benchmark, ${n} iterations, helper ${process.env.NEMO_RELAY_HELPER_PATH ?? '(default)'}`);

  for (let i = 0; i < warmup; i++) pushPop();
  let end = start();
  for (let i = 0; i < n; i++) pushPop();
  let m = end(n);
  row('scope push+pop', m.wall, 'us', m);

  await sequential(warmup);
  end = start();
  await sequential(n);
  m = end(n);
  row('llmCallExecute, no middleware', m.wall, 'us', m);

  let events = 0;
  relay.registerSubscriber('bench', () => { events++; });
  await sequential(warmup);
  await relay.flushSubscribers();
  events = 0;
  end = start();
  await sequential(n);
  await relay.flushSubscribers();
  m = end(n);
  row('llmCallExecute, one subscriber (+flush)', m.wall, 'us', m);
  if (events !== 2 * n) throw new Error(`subscriber saw ${events} events, expected ${2 * n}`);
  relay.deregisterSubscriber('bench');

  const total = Math.max(n * 4, 20000);
  await concurrent(warmup, 64);
  end = start();
  await concurrent(total, 64);
  m = end(total);
  row('llmCallExecute, 64 concurrent', total / m.seconds, 'calls/s', m);

  // Streaming: one call of `chunks` chunks, with a collector and a finalizer, read to the end.
  const chunks = n;
  const stream = async (count) => {
    let collected = 0;
    const s = await relay.llmStreamCallExecute('bench', request, async function* () {
      for (let i = 0; i < count; i++) yield { i, delta: 'x' };
    }, () => { collected++; }, () => ({ collected }));
    let read = 0;
    while ((await s.next()) !== null) read++;
    if (read !== count || collected !== count) throw new Error(`stream read ${read}, collected ${collected} of ${count}`);
  };
  await stream(warmup);
  end = start();
  await stream(chunks);
  m = end(chunks);
  row('llmStreamCallExecute, per chunk', m.wall, 'us', m);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
