// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * ATOF JSON Lines and ATIF trajectory exporters (docs/exporters.md): `AtofExporter` and
 * `AtifExporter` as the reference's Node package names them. The work happens in the core; these
 * classes build the configuration JSON, hold the exporter handle and map failures to NemoRelayError.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');
const { NemoRelayError } = require('./errors');

const EXPORTER_OPTIONS_VERSION = 1;
const E_INVALID_ARGUMENT = 1;
const E_TIMEOUT = 11;
/** How long forceFlush, shutdown and exportJson wait for queued deliveries (ns, as a decimal string). */
const FLUSH_TIMEOUT_NS = '30000000000';

function invalid(message) {
  return new NemoRelayError(`invalid argument: ${message}`, E_INVALID_ARGUMENT);
}

function strMap(value, what) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${what} must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${what}["${k}"] must be a string`);
  }
  return { ...value };
}

function optionalString(value, what) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${what} must be a string`);
  return value;
}

/** The core configuration object for an `AtofExporter` config (camelCase in, the core's names out). */
function atofConfig(config) {
  const c = config ?? {};
  if (typeof c !== 'object' || Array.isArray(c)) throw invalid('AtofExporter config must be an object');
  const type = c.type ?? 'file';
  if (type === 'file') {
    const mode = c.mode ?? 'append';
    if (mode !== 'append' && mode !== 'overwrite') throw invalid("mode must be 'append' or 'overwrite'");
    const out = { sink_type: 'file', mode };
    const dir = optionalString(c.outputDirectory, 'outputDirectory');
    const filename = optionalString(c.filename, 'filename');
    if (dir !== undefined) out.output_directory = dir;
    if (filename !== undefined) out.filename = filename;
    return out;
  }
  if (type !== 'stream') throw invalid("type must be 'file' or 'stream'");
  const transport = c.transport ?? 'http_post';
  if (!['http_post', 'ndjson', 'websocket'].includes(transport)) {
    throw invalid("stream transport must be 'http_post', 'ndjson' or 'websocket'");
  }
  const policy = c.fieldNamePolicy ?? 'preserve';
  if (policy !== 'preserve' && policy !== 'replace_dots') {
    throw invalid("fieldNamePolicy must be 'preserve' or 'replace_dots'");
  }
  const out = {
    sink_type: 'stream',
    url: optionalString(c.url, 'url') ?? '',
    transport,
    headers: strMap(c.headers, 'headers'),
    header_env: strMap(c.headerEnv, 'headerEnv'),
    field_name_policy: policy,
  };
  if (c.timeoutMillis !== undefined) {
    if (!Number.isInteger(c.timeoutMillis)) throw invalid('timeoutMillis must be an integer');
    out.timeout_millis = c.timeoutMillis;
  }
  return out;
}

/** Holds an exporter handle of one helper process; a restarted helper makes it unusable. */
class Exporter {
  constructor(ctor, config, rt) {
    this._rt = rt;
    [this._ptr] = ffi.call(ctor, [null, [EXPORTER_OPTIONS_VERSION, JSON.stringify(config)]]);
    this._generation = helper.generation;
  }

  _handle() {
    if (!this._ptr) throw new NemoRelayError('misuse: the exporter was closed', 6);
    if (this._generation !== helper.generation) {
      throw new NemoRelayError('misuse: the exporter belonged to a helper process that has exited', 6);
    }
    return this._ptr;
  }

  /** Registers the exporter as a global subscriber named `name`. */
  register(name) {
    ffi.call('nemo_relay_exporter_register', [this._handle(), this._rt(), String(name)]);
  }

  /** @returns {boolean} whether a subscriber named `name` was removed. */
  deregister(name) {
    return ffi.call('nemo_relay_exporter_deregister', [null, this._handle(), this._rt(), String(name)])[0];
  }

  /** Counters: events written, dropped, failed, retried, the last error... */
  diagnostics() {
    return JSON.parse(ffi.call('nemo_relay_exporter_diagnostics', [null, this._handle()])[0]);
  }

  _bounded(name) {
    const r = ffi.rawCall(name, [this._handle(), FLUSH_TIMEOUT_NS]);
    if (r.ret > 0 && r.ret !== E_TIMEOUT) throw new NemoRelayError(r.err || `${name} failed`, r.ret);
  }
}

/** Writes every event as one JSON line to a file, or streams the lines to an HTTP endpoint. */
class AtofExporter extends Exporter {
  constructor(config, rt) {
    const core = atofConfig(config);
    super('nemo_relay_atof_exporter_new', core, rt);
    this._path = core.sink_type === 'file' ? ffi.call('nemo_relay_exporter_path', [null, this._ptr])[0] : null;
  }

  /** @returns {string | null} the JSONL file, or null for a stream sink. */
  get path() {
    return this._path;
  }

  /** Waits for queued delivery, then flushes; throws the first unreported write or network failure. */
  forceFlush() {
    this._bounded('nemo_relay_exporter_flush');
  }

  /** Flushes and closes; a second call is harmless. */
  shutdown() {
    this._bounded('nemo_relay_exporter_shutdown');
  }
}

/** Collects events and exports them as an ATIF v1.7 trajectory. */
class AtifExporter extends Exporter {
  constructor(sessionId, agentName, agentVersion, modelName, rt, extraOptions = {}) {
    for (const [what, v] of [['sessionId', sessionId], ['agentName', agentName], ['agentVersion', agentVersion]]) {
      if (typeof v !== 'string') throw invalid(`${what} must be a string`);
    }
    const config = { session_id: sessionId, agent_name: agentName, agent_version: agentVersion };
    const model = optionalString(modelName, 'modelName');
    if (model !== undefined) config.model_name = model;
    if (extraOptions.toolDefinitions !== undefined) config.tool_definitions = extraOptions.toolDefinitions;
    if (extraOptions.extra !== undefined) config.extra = extraOptions.extra;
    super('nemo_relay_atif_exporter_new', config, rt);
  }

  /** Waits for queued delivery, then returns the trajectory of every collected event as JSON text. */
  exportJson() {
    const r = ffi.rawCall('nemo_relay_atif_exporter_export', [null, this._handle(), FLUSH_TIMEOUT_NS]);
    if (r.ret > 0) throw new NemoRelayError(r.err || 'ATIF export failed', r.ret);
    return r.out[0];
  }

  /** The trajectory as an object. */
  export() {
    return JSON.parse(this.exportJson());
  }

  /** Drops the collected events; the registration stays. */
  clear() {
    ffi.call('nemo_relay_atif_exporter_clear', [this._handle()]);
  }
}

/** Binds the classes to the binding's runtime accessor (`rt()` of index.js). */
function exportersFor(rt) {
  return {
    AtofExporter: class extends AtofExporter {
      constructor(config) {
        super(config, rt);
      }
    },
    AtifExporter: class extends AtifExporter {
      constructor(sessionId, agentName, agentVersion, modelName, options) {
        super(sessionId, agentName, agentVersion, modelName, rt, options ?? {});
      }
    },
  };
}

module.exports = { exportersFor, atofConfig };
