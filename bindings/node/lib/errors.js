// SPDX-License-Identifier: Apache-2.0
'use strict';

/** C status constants of nemo_relay.h, by value. */
const STATUS_NAMES = Object.freeze({
  0: 'NEMO_RELAY_OK',
  [-1]: 'NEMO_RELAY_PENDING',
  1: 'NEMO_RELAY_E_INVALID_ARGUMENT',
  2: 'NEMO_RELAY_E_NOT_FOUND',
  3: 'NEMO_RELAY_E_ALREADY_EXISTS',
  4: 'NEMO_RELAY_E_GUARDRAIL_REJECTED',
  5: 'NEMO_RELAY_E_INTERNAL',
  6: 'NEMO_RELAY_E_MISUSE',
  7: 'NEMO_RELAY_E_CALLBACK',
  8: 'NEMO_RELAY_E_CANCELLED',
  9: 'NEMO_RELAY_E_INVALID_JSON',
  10: 'NEMO_RELAY_E_VERSION',
  11: 'NEMO_RELAY_E_TIMEOUT',
  12: 'NEMO_RELAY_E_SCOPE_STACK_EMPTY',
  13: 'NEMO_RELAY_E_FULL',
});

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
