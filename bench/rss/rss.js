// SPDX-License-Identifier: Apache-2.0
// Resident memory over N managed llmCallExecute calls from Node (one subscriber that keeps up, one request
// intercept): prints the RSS of the Node process and of its helper after each tenth of the calls.
//   node bench/rss/rss.js [calls]   (default 1,000,000; NEMO_RELAY_LIB_PATH and NEMO_RELAY_HELPER_PATH as usual)
'use strict';
const fs = require('node:fs');
const relay = require('../../bindings/node');

const n = Math.max(10, Number(process.argv[2] ?? 1000000));

function rssMb(pid) {
  try {
    const pages = Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return (pages * 4096) / 1048576;
  } catch {
    return NaN;
  }
}

function helperPid() {
  // The helper is the only child process of this one.
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

async function main() {
  relay.registerSubscriber('rss-sink', () => {});
  relay.registerLlmRequestIntercept('rss-pass', 0, false, ({ request }) => ({ request }));
  const request = new relay.LlmRequest({}, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
  const provider = async () => ({ id: 'r', choices: [] });
  await relay.llmCallExecute('warm', request, provider);
  const helper = helperPid();
  const row = (calls) =>
    console.log(`${String(calls).padStart(12)} ${rssMb(process.pid).toFixed(1).padStart(10)} ${rssMb(helper).toFixed(1).padStart(10)}`);
  console.log(`Node: RSS over ${n.toLocaleString('en-US')} managed llmCallExecute calls (one request intercept, one subscriber)`);
  console.log(`${'calls'.padStart(12)} ${'Node MB'.padStart(10)} ${'helper MB'.padStart(10)}`);
  row(0);
  const tenth = Math.floor(n / 10);
  for (let t = 1; t <= 10; t++) {
    for (let i = 0; i < tenth; i++) await relay.llmCallExecute('openai', request, provider);
    await relay.flushSubscribers();
    if (global.gc) global.gc();
    row(t * tenth);
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
