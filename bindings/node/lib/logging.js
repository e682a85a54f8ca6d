// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Operational logging (docs/logging.md): `log` and its level shorthands, emitted by the core under
 * target `nemo_relay.node[.<target>]`.
 * @module
 */
const ffi = require('./ffi');
const { toJsonValue } = require('./json');
const { rt } = require('./runtime');

// MARK: - Operational logging (docs/logging.md)

/**
 * Emits a structured operational record (target `nemo_relay.node[.<target>]`).
 * @param {string} level `trace`, `debug`, `info`, `warn` (or `warning`) or `error`
 * @param {string} message
 * @param {{target?: string, fields?: object | null}} [options]
 */
function log(level, message, options = {}) {
  const { target = '', fields = null } = options ?? {};
  for (const [what, v] of [['level', level], ['message', message], ['target', target]]) {
    if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  }
  if (fields !== null && fields !== undefined && (typeof fields !== 'object' || Array.isArray(fields))) {
    throw new TypeError('log fields must be an object');
  }
  const f = fields == null ? null : JSON.stringify(toJsonValue(fields, 'fields'));
  rt();
  ffi.call('nemo_relay_log_emit', [level, target ? `nemo_relay.node.${target}` : 'nemo_relay.node', null, message, f]);
}
const trace = (message, options) => log('trace', message, options);
const debug = (message, options) => log('debug', message, options);
const info = (message, options) => log('info', message, options);
const warn = (message, options) => log('warn', message, options);
const error = (message, options) => log('error', message, options);

module.exports = { log, trace, debug, info, warn, error };
