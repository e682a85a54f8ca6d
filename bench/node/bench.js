// SPDX-License-Identifier: Apache-2.0
'use strict';
// Microseconds per managed llmCallExecute round trip (request -> helper -> provider callback in JS ->
// completion -> done), sequential, after a warm-up.
//   NEMO_RELAY_LIB_PATH=... NEMO_RELAY_HELPER_PATH=... node bench/node/bench.js [iterations]
const relay = require('../../bindings/node');

async function main() {
  const n = Number(process.argv[2] ?? 2000);
  const request = { headers: {}, content: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } };
  const provider = () => ({ ok: true });
  for (let i = 0; i < 200; i++) await relay.llmCallExecute('bench', request, provider);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await relay.llmCallExecute('bench', request, provider);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`llmCallExecute: ${us.toFixed(1)} us per managed call round trip (${n} calls)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
