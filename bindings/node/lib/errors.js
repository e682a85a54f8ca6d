// SPDX-License-Identifier: Apache-2.0
'use strict';

const { CONSTANTS } = require('./abi');

/** C status constants of nemo_relay.h, by value. */
const STATUS_NAMES = Object.freeze(Object.fromEntries(Object.entries(CONSTANTS)
  .filter(([name]) => /^NEMO_RELAY_(OK|PENDING|E_\w+)$/.test(name)).map(([name, value]) => [value, name])));

/** Status values by C constant name. */
const Status = Object.freeze(Object.fromEntries(Object.entries(STATUS_NAMES).map(([v, k]) => [k.replace('NEMO_RELAY_', ''), Number(v)])));

/**
 * An error of the NemoRelay runtime. The message keeps the reference's text (`guardrail rejected: ...`,
 * `not found: ...`); `.code` is the C constant name and `.status` its number.
 */
class NemoRelayError extends Error {
  /**
   * @param {string} message
   * @param {number} [status] a nemo_relay_status_t; undefined for binding-side failures
   * @param {string} [code] overrides the code derived from `status`
   */
  constructor(message, status, code) {
    super(message);
    this.name = 'NemoRelayError';
    /** @type {number | undefined} */
    this.status = status;
    /** @type {string} */
    this.code = code ?? STATUS_NAMES[status] ?? 'NEMO_RELAY_E_UNKNOWN';
  }
}

module.exports = { NemoRelayError, STATUS_NAMES, Status };
