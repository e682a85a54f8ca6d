// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * ATOF JSON Lines and ATIF trajectory exporters (include/nemo_relay.h, "Exporters"): `AtofExporter`
 * and `AtifExporter` as the reference's Node package names them. The work happens in the core; these
 * classes check the options (with the reference's messages), build the configuration JSON, hold the
 * exporter handle and map failures to NemoRelayError.
 *
 * Handles: an exporter belongs to the helper process that was running when it was made; after that
 * helper exits every method throws (`ERR_NEMO_RELAY_HELPER`). An exporter stays reachable while it is
 * registered under some name (as in the reference, where the registration keeps the exporter alive);
 * once it is unreachable, a FinalizationRegistry releases its handle with `nemo_relay_exporter_free`,
 * which never blocks: events already queued are still exported in the background.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');
const { NemoRelayError, Status } = require('./errors');
const { toJsonValue } = require('./json');

const { CONSTANTS: { NEMO_RELAY_EXPORTER_OPTIONS_VERSION: EXPORTER_OPTIONS_VERSION } } = require('./abi');
/** How long forceFlush, shutdown and exportJson wait for queued deliveries of a file sink or ATIF (ms). */
const FLUSH_TIMEOUT_MS = 30000;
/** A stream sink waits about one request timeout plus this much, then reports what is still queued (ms). */
const STREAM_FLUSH_SLACK_MS = 2000;
/** The longest request timeout the core accepts (one day, in ms). */
const MAX_TIMEOUT_MS = 86400000;
const U32_MAX = 4294967295;

/** The runtime accessor of lib/runtime.js (`rt()`), set by bindRuntime. */
let runtime = () => {
  throw new NemoRelayError('exporters: no runtime bound', undefined, 'ERR_NEMO_RELAY_HELPER');
};

/** Registered exporters by subscriber name: a registration keeps its exporter (and its handle) alive. */
const registered = new Map();

const handles = new FinalizationRegistry(([ptr, gen]) => {
  // Handles of a lost helper mean nothing to a new one.
  if (gen === helper.generation) helper.post('nemo_relay_exporter_free', [ptr]);
});

/** A value error, with the reference binding's own message. */
function invalid(message) {
  return new NemoRelayError(message, Status.E_INVALID_ARGUMENT);
}

function optionalString(value, what) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  return value;
}

/** A copy of an object of strings (`undefined`/`null`: empty), checked as the reference does. */
function stringMap(value, what) {
  if (value === undefined || value === null) return {};
  const bad = () => invalid(`${what} must be an object of string values`);
  if (typeof value !== 'object' || Array.isArray(value)) throw bad();
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad();
    out[k] = v;
  }
  return out;
}

/**
 * The core configuration (the reference's snake_case keys) of an `AtofExporter` options object.
 * A file sink ignores the stream options and vice versa, as in the reference.
 * @param {any} config
 * @returns {Record<string, any>}
 */
function atofConfig(config) {
  const c = config ?? {};
  if (typeof c !== 'object' || Array.isArray(c)) throw new TypeError('AtofExporter config must be an object');
  const type = c.type ?? 'file';
  if (type === 'file') {
    const out = { sink_type: 'file' };
    // The helper's working directory is Node's when it started; process.cwd() is Node's now.
    out.output_directory = optionalString(c.outputDirectory, 'outputDirectory') ?? process.cwd();
    const filename = optionalString(c.filename, 'filename');
    if (filename !== undefined) out.filename = filename;
    if (c.mode !== undefined && c.mode !== null) {
      if (c.mode !== 'append' && c.mode !== 'overwrite') throw invalid("mode must be 'append' or 'overwrite'");
      out.mode = c.mode;
    }
    return out;
  }
  if (type !== 'stream') throw invalid("ATOF sink type must be 'file' or 'stream'");
  const url = optionalString(c.url, 'url');
  if (url === undefined) throw invalid('stream sink requires url');
  const transport = c.transport ?? 'http_post';
  if (!['http_post', 'websocket', 'ndjson'].includes(transport)) {
    throw invalid("stream transport must be 'http_post', 'websocket', or 'ndjson'");
  }
  const policy = c.fieldNamePolicy ?? 'preserve';
  if (policy !== 'preserve' && policy !== 'replace_dots') {
    throw invalid("stream field_name_policy must be 'preserve' or 'replace_dots'");
  }
  const out = {
    sink_type: 'stream',
    url,
    transport,
    headers: stringMap(c.headers, 'headers'),
    header_env: stringMap(c.headerEnv, 'headerEnv'),
    field_name_policy: policy,
  };
  if (c.timeoutMillis !== undefined && c.timeoutMillis !== null) {
    const t = c.timeoutMillis;
    if (!Number.isInteger(t) || t < 0 || t > U32_MAX) {
      throw new TypeError(`timeoutMillis must be an integer from 0 to ${U32_MAX}`);
    }
    out.timeout_millis = Math.min(t, MAX_TIMEOUT_MS);
  }
  return out;
}

/** The core configuration of `new AtifExporter(sessionId, agentName, agentVersion, modelName?, options?)`. */
function atifConfig(sessionId, agentName, agentVersion, modelName, options) {
  const config = {};
  for (const [key, what, v] of [
    ['session_id', 'sessionId', sessionId],
    ['agent_name', 'agentName', agentName],
    ['agent_version', 'agentVersion', agentVersion],
  ]) {
    if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
    config[key] = v;
  }
  const model = optionalString(modelName, 'modelName');
  if (model !== undefined) config.model_name = model;
  const o = options ?? {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError('AtifExporter options must be an object');
  if (o.toolDefinitions !== undefined && o.toolDefinitions !== null) {
    if (!Array.isArray(o.toolDefinitions)) throw new TypeError('toolDefinitions must be an array');
    config.tool_definitions = toJsonValue(o.toolDefinitions, 'toolDefinitions');
  }
  if (o.extra !== undefined && o.extra !== null) config.extra = toJsonValue(o.extra, 'extra');
  return config;
}

/** What both exporters share: the handle of one helper process and the subscriber-like calls. */
class Exporter {
  #ptr;
  #gen;
  #what;
  #timeoutNs;

  /** @param {string} ctor the `nemo_relay_*_exporter_new` export @param {object} config @param {number} timeoutMs */
  constructor(ctor, config, timeoutMs) {
    this.#what = new.target.name || 'exporter';
    // Declared now so that the finalizer's posted free finds its signature in this helper.
    ffi.declare('nemo_relay_exporter_free');
    [this.#ptr] = ffi.call(ctor, [null, [EXPORTER_OPTIONS_VERSION, JSON.stringify(config)]]);
    this.#gen = helper.generation;
    this.#timeoutNs = `${BigInt(timeoutMs) * 1000000n}`;
    handles.register(this, [this.#ptr, this.#gen]);
  }

  /** @internal the handle; throws when it belongs to a helper that has exited. */
  _handle() {
    if (this.#gen !== helper.generation) {
      const message = `this ${this.#what} belongs to a NemoRelay helper that exited; make a new one`;
      throw new NemoRelayError(message, undefined, 'ERR_NEMO_RELAY_HELPER');
    }
    return this.#ptr;
  }

  /** @internal how long flushes and exports wait (ns, decimal string). */
  get _timeoutNs() {
    return this.#timeoutNs;
  }

  /** Registers the exporter as a global subscriber named `name`; `already exists: ...` when taken. */
  register(name) {
    const n = String(name);
    ffi.call('nemo_relay_exporter_register', [this._handle(), runtime(), n]);
    registered.set(n, this);
  }

  /** Removes the global subscriber `name`, whoever registered it. @returns {boolean} whether one was removed. */
  deregister(name) {
    const n = String(name);
    const [removed] = ffi.call('nemo_relay_exporter_deregister', [null, this._handle(), runtime(), n]);
    if (removed) registered.delete(n);
    return removed;
  }

  /** Counters: registrations, events written or sent, dropped, failed, retried, the last error... */
  diagnostics() {
    return JSON.parse(ffi.call('nemo_relay_exporter_diagnostics', [null, this._handle()])[0]);
  }

  /** @internal flush or shutdown: a timeout is a warning (the reference returns then), any other failure throws. */
  _bounded(fn) {
    const r = ffi.rawCall(fn, [this._handle(), this.#timeoutNs]);
    if (r.ret === Status.E_TIMEOUT) {
      process.emitWarning(`${this.#what}: ${r.err || 'timed out'}`, { code: 'NEMO_RELAY_EXPORTER_TIMEOUT' });
    } else if (r.ret > 0) {
      throw new NemoRelayError(r.err || `${fn} failed`, r.ret);
    }
  }

  /** @internal forgets the names this exporter held (shutdown removed its registrations). */
  _forgetNames() {
    for (const [n, e] of registered) if (e === this) registered.delete(n);
  }
}

/** Writes every event as one JSON line to a file, or streams the lines to an HTTP endpoint. */
class AtofExporter extends Exporter {
  #path;

  /**
   * @param {object} [config] a file sink `{type?: 'file', outputDirectory?, filename?, mode?}` or a
   *   stream sink `{type: 'stream', url, transport?, headers?, headerEnv?, timeoutMillis?, fieldNamePolicy?}`
   */
  constructor(config) {
    const core = atofConfig(config);
    const timeoutMs = core.sink_type === 'stream'
      ? (core.timeout_millis ?? 3000) + STREAM_FLUSH_SLACK_MS
      : FLUSH_TIMEOUT_MS;
    super('nemo_relay_atof_exporter_new', core, timeoutMs);
    this.#path = core.sink_type === 'file' ? ffi.call('nemo_relay_exporter_path', [null, this._handle()])[0] : null;
  }

  /** @returns {string | null} the JSONL file (created by the constructor), or null for a stream sink. */
  get path() {
    return this.#path;
  }

  /**
   * Waits for queued delivery, then flushes the sink; throws when a write or a send failed (events
   * were lost). A stream still sending when the wait ends is a process warning, not an error.
   */
  forceFlush() {
    this._bounded('nemo_relay_exporter_flush');
  }

  /** Flushes, removes this exporter's registrations and closes the sink; a second call is harmless. */
  shutdown() {
    try {
      this._bounded('nemo_relay_exporter_shutdown');
    } finally {
      this._forgetNames();
    }
  }
}

/** Collects events and exports them as an ATIF v1.7 trajectory. */
class AtifExporter extends Exporter {
  /**
   * @param {string} sessionId the trajectory's `session_id` and `trajectory_id`
   * @param {string} agentName
   * @param {string} agentVersion
   * @param {string | null} [modelName]
   * @param {{toolDefinitions?: any[], extra?: any} | null} [options] the agent's tool definitions and extra
   */
  constructor(sessionId, agentName, agentVersion, modelName, options) {
    const config = atifConfig(sessionId, agentName, agentVersion, modelName, options);
    super('nemo_relay_atif_exporter_new', config, FLUSH_TIMEOUT_MS);
  }

  /** Waits for queued delivery, then returns the trajectory of every collected event as JSON text. */
  exportJson() {
    return ffi.call('nemo_relay_atif_exporter_export', [null, this._handle(), this._timeoutNs])[0];
  }

  /** The trajectory as an object (`JSON.parse(exportJson())`). */
  export() {
    return JSON.parse(this.exportJson());
  }

  /** Drops the collected events; the registration stays. */
  clear() {
    ffi.call('nemo_relay_atif_exporter_clear', [this._handle()]);
  }
}

/** The core configuration for an `OpenTelemetrySubscriber` options object (camelCase in, core names out). */
function otelConfig(config) {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw invalid('OpenTelemetrySubscriber config must be an object');
  }
  const c = config;
  const type = c.type;
  if (!['full', 'gen_ai', 'openinference'].includes(type)) {
    throw invalid(`type must be 'full', 'gen_ai', or 'openinference', got "${type}"`);
  }
  const out = { type };
  const set = (key, value, check) => {
    if (value === undefined || value === null) return;
    out[key] = check(value, key);
  };
  const str = (v, what) => optionalString(v, what);
  const list = (v, what) => {
    if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) throw invalid(`${what} must be a list of strings`);
    return [...v];
  };
  const millis = (v, what) => {
    if (!Number.isInteger(v) || v < 0 || v > MAX_TIMEOUT_MS) throw invalid(`${what} must be an integer from 0 to ${MAX_TIMEOUT_MS}`);
    return v;
  };
  if (c.outputDirectory !== undefined) {
    set('output_directory', c.outputDirectory, str);
    set('filename', c.filename, str);
    set('format', c.format, str);
    set('mode', c.mode, str);
  } else {
    const endpoint = optionalString(c.endpoint, 'endpoint');
    if (!endpoint || !endpoint.trim()) throw invalid('endpoint is required and must be nonblank');
    out.endpoint = endpoint;
    set('transport', c.transport, str);
    set('compression', c.compression, str);
    set('headers', c.headers, (v, what) => stringMap(v, what));
    set('header_env', c.headerEnv, (v, what) => stringMap(v, what));
    set('timeout_millis', c.timeoutMillis, millis);
  }
  set('service_name', c.serviceName, str);
  set('service_namespace', c.serviceNamespace, str);
  set('service_version', c.serviceVersion, str);
  set('instrumentation_scope', c.instrumentationScope, str);
  set('resource_attributes', c.resourceAttributes, (v, what) => stringMap(v, what));
  set('mark_projection', c.markProjection, str);
  set('mark_exclude_names', c.markExcludeNames, list);
  set('promote_metadata_prefixes', c.promoteMetadataPrefixes, list);
  set('completed_span_context_ttl_millis', c.completedSpanContextTtlMillis, millis);
  set('max_queue_size', c.maxQueueSize, millis);
  set('max_export_batch_size', c.maxExportBatchSize, millis);
  set('scheduled_delay_millis', c.scheduledDelayMillis, millis);
  if (c.attributeMappings !== undefined && c.attributeMappings !== null) {
    if (!Array.isArray(c.attributeMappings)) throw invalid('attributeMappings must be a list of {key, alias}');
    out.attribute_mappings = c.attributeMappings.map((m) => ({ key: String(m?.key), alias: String(m?.alias) }));
  }
  return out;
}

/** Exports events as OpenTelemetry spans over OTLP/HTTP (or to an OTLP file with `outputDirectory`). */
class OpenTelemetrySubscriber extends Exporter {
  /**
   * @param {object} config `{type: 'full'|'gen_ai'|'openinference', endpoint, transport?, headers?, headerEnv?,
   *   resourceAttributes?, serviceName?, serviceNamespace?, serviceVersion?, instrumentationScope?, timeoutMillis?,
   *   markProjection?, markExcludeNames?, attributeMappings?, promoteMetadataPrefixes?}`, or a file sink with
   *   `outputDirectory` (and `filename?`, `format?: 'json_lines'|'proto'`, `mode?`) instead of `endpoint`
   */
  constructor(config) {
    super('nemo_relay_otel_exporter_new', otelConfig(config), FLUSH_TIMEOUT_MS);
  }

  /** Exports every finished span now; throws when an export failed. */
  forceFlush() {
    ffi.call('nemo_relay_exporter_flush', [this._handle(), this._timeoutNs]);
  }

  /** Flushes, removes the registrations and stops the exporter; a second call is harmless. */
  shutdown() {
    try {
      ffi.call('nemo_relay_exporter_shutdown', [this._handle(), this._timeoutNs]);
    } finally {
      this._forgetNames();
    }
  }

  /** @returns {{code: string, message: string, count: number}[]} dropped spans, failed exports, ... */
  runtimeDiagnostics() {
    return (this.diagnostics().runtime_diagnostics ?? []).map((d) => ({ code: d.code, message: d.message, count: Number(d.count) }));
  }
}

/**
 * Internal: the ATIF trajectory of a JSON array of events (text) under an ATIF configuration (text,
 * the core's key names), as `nemo_relay_atif_trajectory` returns it. A pure function of its inputs.
 * @param {string} eventsJson
 * @param {string} configJson
 * @returns {string}
 */
function atifTrajectory(eventsJson, configJson) {
  return ffi.call('nemo_relay_atif_trajectory', [null, String(eventsJson), String(configJson)])[0];
}

/** Binds the classes to the binding's runtime accessor (`rt()` of lib/runtime.js). */
function bindRuntime(rt) {
  runtime = rt;
}

/** The global subscriber `name` was removed by another API: it keeps no exporter alive any more. */
function forgetName(name) {
  registered.delete(name);
}

/**
 * The helper exited: its registrations are gone, so they keep nothing alive any more.
 * @returns {string[]} the names that were registered (they cannot be restored: docs/node.md, "Helper process")
 */
function onHelperLost() {
  const names = [...registered.keys()];
  registered.clear();
  return names;
}

module.exports = {
  AtofExporter, AtifExporter, OpenTelemetrySubscriber, otelConfig, atofConfig, atifConfig, atifTrajectory, bindRuntime, forgetName, onHelperLost,
};
