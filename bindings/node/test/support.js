// SPDX-License-Identifier: Apache-2.0
'use strict';
// Shared test helpers: the vectors folder and the event normalisation of Tests/vectors/README.md, "Event scenarios".
const fs = require('node:fs');
const path = require('node:path');

const VECTORS = path.join(__dirname, '..', '..', '..', 'Tests', 'vectors');

function loadVectors(file) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, file), 'utf8'));
}

/** Replaces uuids by `<uuid:N>` (first appearance; `rootUuid` is 1) and timestamps by `<ts:N>`. */
function normaliseEvents(events, rootUuid) {
  const uuids = new Map([[rootUuid, 1]]);
  const stamps = new Map();
  return events.map((e) => {
    const o = { ...e };
    for (const k of ['parent_uuid', 'propagation_root_uuid', 'uuid']) {
      if (typeof o[k] !== 'string') continue;
      if (!uuids.has(o[k])) uuids.set(o[k], uuids.size + 1);
      o[k] = `<uuid:${uuids.get(o[k])}>`;
    }
    if (typeof o.timestamp === 'string') {
      if (!stamps.has(o.timestamp)) stamps.set(o.timestamp, stamps.size + 1);
      o.timestamp = `<ts:${stamps.get(o.timestamp)}>`;
    }
    if (o.category_profile && 'time_to_first_chunk' in o.category_profile) {
      o.category_profile = { ...o.category_profile, time_to_first_chunk: '<seconds>' };
    }
    return o;
  });
}

module.exports = { VECTORS, loadVectors, normaliseEvents };
