// SPDX-License-Identifier: Apache-2.0
// Hand-written declarations of nemo-relay-node (the root package). See README.md and docs/node.md.

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** Optional positional parameters accept null or undefined. */
type Opt<T> = T | null | undefined;

export declare const ScopeType: {
  readonly Agent: 0; readonly Function: 1; readonly Tool: 2; readonly Llm: 3; readonly Retriever: 4; readonly Embedder: 5;
  readonly Reranker: 6; readonly Guardrail: 7; readonly Evaluator: 8; readonly Custom: 9; readonly Unknown: 10;
};
export type ScopeType = (typeof ScopeType)[keyof typeof ScopeType];
export declare const LogSeverity: { readonly Trace: 0; readonly Debug: 1; readonly Info: 2; readonly Warn: 3; readonly Error: 4 };
export type LogSeverity = (typeof LogSeverity)[keyof typeof LogSeverity];

/** Errors of the runtime: `.code` is the C constant name (e.g. `NEMO_RELAY_E_NOT_FOUND`), `.status` its value. */
export declare class NemoRelayError extends Error {
  readonly code: string;
  readonly status: number | undefined;
}

export declare class ScopeHandle {
  private constructor();
  readonly uuid: string;
  readonly name: string;
  readonly scopeType: ScopeType;
  readonly attributes: number;
  readonly parentUuid: string | null;
  readonly data: Json | null;
  readonly metadata: Json | null;
}
export declare class LlmHandle extends ScopeHandle {}
export declare class ToolHandle extends ScopeHandle {}
export declare class ScopeStack {
  constructor();
}

export type LlmRequestJson = { headers: Record<string, Json>; content: Json };
export declare class LlmRequest {
  constructor(headers: Json, content: Json);
  readonly headers: Record<string, Json>;
  readonly content: Json;
  toJSON(): LlmRequestJson;
}

export type ToolExecutionResult = { result: Json; annotation?: Json };
export type PendingMarkSpec = {
  name: string; category?: string; categoryProfile?: Json; data?: Json; dataSchema?: DataSchema; metadata?: Json;
  severity?: 'trace' | 'debug' | 'info' | 'warn' | 'warning' | 'error';
};
export type ToolExecutionOutcome = ToolExecutionResult & { pendingMarks?: PendingMarkSpec[] };
export type LlmRequestInterceptOutcome = {
  request: LlmRequestJson; annotated?: Json | null; pendingMarks?: PendingMarkSpec[];
};
export type DataSchema = { name: string; version: string };
export type EventSanitizeFields = { data?: Json; categoryProfile?: Json; metadata?: Json };
export type CodecIdentity = { kind: 'none' } | { kind: 'builtin'; id: string } | { kind: 'runtime'; id: string } | { kind: 'opaque' };
export type SanitizerContext = { codec: CodecIdentity; resolveCodec(): BuiltinCodec | null };

/** An ATOF 0.1 event as delivered to subscribers (snake_case, canonical runtime JSON). */
export type RelayEvent = {
  kind: 'scope' | 'mark';
  atof_version: '0.1';
  uuid: string;
  parent_uuid: string | null;
  propagation_root_uuid?: string | null;
  timestamp: string;
  name: string;
  scope_category?: 'start' | 'end';
  attributes?: string[];
  category?: string | null;
  category_profile: { [key: string]: Json } | null;
  data: Json;
  data_schema: DataSchema | null;
  metadata: { [key: string]: Json } | null;
};

/** The read end of a streaming LLM call (from llmStreamCallExecute / typedLlmStreamExecute). */
export declare class LlmStream implements AsyncIterable<Json> {
  private constructor();
  /** The next chunk; `null` once the stream is exhausted or closed; rejects with the stream's failure. */
  next(): Promise<Json | null>;
  /** Chunks received and not read yet; at most `LlmStream.highWaterMark` (back-pressure, docs/node.md "Streams"). */
  readonly buffered: number;
  /** The most chunks a stream holds for its reader before its provider is held back (64). */
  static readonly highWaterMark: number;
  /** Closes early (producer cancelled, dropped end); idempotent; rejects with a cleanup error. */
  close(): Promise<void>;
  /** `for await` over the chunks; leaving the loop early closes the stream. */
  [Symbol.asyncIterator](): AsyncIterator<Json>;
}
/** What a stream provider or stream execution intercept returns. */
export type ChunkSource = AsyncIterable<Json> | AsyncIterator<Json>;

// Scopes
export function getHandle(): ScopeHandle;
export function pushScope(
  name: string, scopeType: ScopeType, handle?: Opt<ScopeHandle>, attributes?: Opt<number>, data?: Opt<Json>,
  metadata?: Opt<Json>, input?: Opt<Json>, timestamp?: Opt<number>): ScopeHandle;
export function popScope(handle: ScopeHandle, output?: Opt<Json>, timestamp?: Opt<number>, metadata?: Opt<Json>): void;
export function withScope<T>(
  name: string, scopeType: ScopeType, callback: (handle: ScopeHandle, signal: AbortSignal) => T | Promise<T>,
  handle?: Opt<ScopeHandle>, attributes?: Opt<number>, data?: Opt<Json>, metadata?: Opt<Json>, input?: Opt<Json>): Promise<unknown>;
export function event(
  name: string, handle?: Opt<ScopeHandle>, data?: Opt<Json>, metadata?: Opt<Json>, timestamp?: Opt<number>,
  dataSchema?: Opt<DataSchema>, severity?: Opt<LogSeverity>): void;
export function createScopeStack(): ScopeStack;
export function currentScopeStack(): ScopeStack;
export function withScopeStack<T>(stack: ScopeStack, callback: () => T): T;
export function setThreadScopeStack(stack: ScopeStack): void;
export function scopeStackActive(): boolean;

// LLM calls
export type CodecDecodeFn = (request: LlmRequestJson) => Json;
export type CodecEncodeFn = (payload: { annotated: Json; original: LlmRequestJson }) => LlmRequestJson;
export type ResponseCodecDecodeFn = (response: Json) => Json;
export function llmCallExecute(
  name: string, request: LlmRequestJson | LlmRequest, func: (request: LlmRequestJson, signal: AbortSignal) => unknown,
  handle?: Opt<ScopeHandle>, attributes?: Opt<number>, data?: Opt<Json>, metadata?: Opt<Json>, modelName?: Opt<string>,
  codecDecode?: Opt<CodecDecodeFn>, codecEncode?: Opt<CodecEncodeFn>, responseCodecDecode?: Opt<ResponseCodecDecodeFn>): Promise<unknown>;
export const llmCallExecuteAsync: typeof llmCallExecute;
/**
 * Runs a managed streaming LLM call. `func` returns an async iterable (or iterator, or a Promise of one)
 * of chunks; `collector` sees a copy of each chunk synchronously; `finalizer` runs once at the end (or
 * on close) and returns the end event's payload. Resolves once the provider runs; rejects on a failure
 * before that (guardrail rejection, stream intercept failure, ...).
 */
export function llmStreamCallExecute(
  name: string, request: LlmRequestJson | LlmRequest,
  func: (request: LlmRequestJson, signal: AbortSignal) => ChunkSource | Promise<ChunkSource>,
  collector?: Opt<(chunk: Json) => void>, finalizer?: Opt<() => Json>, handle?: Opt<ScopeHandle>, attributes?: Opt<number>,
  data?: Opt<Json>, metadata?: Opt<Json>, modelName?: Opt<string>, codecDecode?: Opt<CodecDecodeFn>,
  codecEncode?: Opt<CodecEncodeFn>, responseCodecDecode?: Opt<ResponseCodecDecodeFn>): Promise<LlmStream>;
export function llmCall(
  name: string, request: LlmRequestJson | LlmRequest, handle?: Opt<ScopeHandle>, attributes?: Opt<number>, data?: Opt<Json>,
  metadata?: Opt<Json>, modelName?: Opt<string>, timestamp?: Opt<number>): LlmHandle;
export function llmCallEnd(handle: LlmHandle, response: Json, data?: Opt<Json>, metadata?: Opt<Json>, timestamp?: Opt<number>): void;
/** Rejects: no C export for the partial pipeline yet. */
export function llmConditionalExecution(request: LlmRequestJson | LlmRequest): Promise<void>;
/** Rejects: no C export for the partial pipeline yet. */
export function llmRequestIntercepts(name: string, request: LlmRequestJson | LlmRequest): Promise<{
  request: LlmRequestJson; annotated: Json | null; pendingMarks: PendingMarkSpec[]; optimizationContributions: Json[] }>;

// Tool calls
export function toolCallExecute(
  name: string, args: Json, func: (args: Json, signal: AbortSignal) => ToolExecutionResult | Promise<ToolExecutionResult>,
  handle?: Opt<ScopeHandle>, attributes?: Opt<number>, data?: Opt<Json>, metadata?: Opt<Json>, toolCallId?: Opt<string>
): Promise<ToolExecutionResult>;
export const toolCallExecuteAsync: typeof toolCallExecute;
export function toolCall(
  name: string, args: Json, handle?: Opt<ScopeHandle>, attributes?: Opt<number>, data?: Opt<Json>, metadata?: Opt<Json>,
  toolCallId?: Opt<string>, timestamp?: Opt<number>): ToolHandle;
export function toolCallEnd(
  handle: ToolHandle, result: ToolExecutionResult, data?: Opt<Json>, metadata?: Opt<Json>, timestamp?: Opt<number>): void;
/** Rejects: no C export for the partial pipeline yet. */
export function toolRequestIntercepts(name: string, args: Json): Promise<Json>;
/** Rejects: no C export for the partial pipeline yet. */
export function toolConditionalExecution(name: string, args: Json): Promise<void>;

// Middleware (priority ascending: lower runs first)
export function registerLlmRequestIntercept(name: string, priority: number, breakChain: boolean, callback: (input: { name: string; request: LlmRequestJson; annotated: Json | null }, signal: AbortSignal) => LlmRequestInterceptOutcome | Promise<LlmRequestInterceptOutcome>): void;
export function scopeRegisterLlmRequestIntercept(scopeUuid: string, name: string, priority: number, breakChain: boolean, callback: (input: { name: string; request: LlmRequestJson; annotated: Json | null }, signal: AbortSignal) => LlmRequestInterceptOutcome | Promise<LlmRequestInterceptOutcome>): void;
export function deregisterLlmRequestIntercept(name: string): boolean;
export function scopeDeregisterLlmRequestIntercept(scopeUuid: string, name: string): boolean;
export function registerLlmExecutionIntercept(name: string, priority: number, callback: (request: LlmRequestJson, next: (request: LlmRequestJson | LlmRequest) => Promise<Json>, signal: AbortSignal) => Json | Promise<Json>): void;
export function scopeRegisterLlmExecutionIntercept(scopeUuid: string, name: string, priority: number, callback: (request: LlmRequestJson, next: (request: LlmRequestJson | LlmRequest) => Promise<Json>, signal: AbortSignal) => Json | Promise<Json>): void;
export function deregisterLlmExecutionIntercept(name: string): boolean;
export function scopeDeregisterLlmExecutionIntercept(scopeUuid: string, name: string): boolean;
/**
 * A stream execution intercept: its chunks feed the stream; `next(request)` runs the inner layers, whose
 * chunks flow straight to the output (the C ABI does not hand them to the intercept): the iterable it
 * resolves with yields nothing and ends (or throws) when they end, so `yield* await next(req)` keeps order.
 */
export type LlmStreamExecutionInterceptFn = (request: LlmRequestJson, next: (request: LlmRequestJson | LlmRequest) => Promise<AsyncIterable<Json>>, signal: AbortSignal) => ChunkSource | Promise<ChunkSource>;
export function registerLlmStreamExecutionIntercept(name: string, priority: number, callback: LlmStreamExecutionInterceptFn): void;
export function scopeRegisterLlmStreamExecutionIntercept(scopeUuid: string, name: string, priority: number, callback: LlmStreamExecutionInterceptFn): void;
export function deregisterLlmStreamExecutionIntercept(name: string): boolean;
export function scopeDeregisterLlmStreamExecutionIntercept(scopeUuid: string, name: string): boolean;
export function registerLlmConditionalExecutionGuardrail(name: string, priority: number, callback: (request: LlmRequestJson, signal: AbortSignal) => string | null | undefined | Promise<string | null | undefined>): void;
export function scopeRegisterLlmConditionalExecutionGuardrail(scopeUuid: string, name: string, priority: number, callback: (request: LlmRequestJson, signal: AbortSignal) => string | null | undefined | Promise<string | null | undefined>): void;
export function deregisterLlmConditionalExecutionGuardrail(name: string): boolean;
export function scopeDeregisterLlmConditionalExecutionGuardrail(scopeUuid: string, name: string): boolean;
export function registerLlmSanitizeRequestGuardrail(name: string, priority: number, callback: (request: LlmRequestJson, context: SanitizerContext, signal: AbortSignal) => Json | Promise<Json>): void;
export function scopeRegisterLlmSanitizeRequestGuardrail(scopeUuid: string, name: string, priority: number, callback: (request: LlmRequestJson, context: SanitizerContext, signal: AbortSignal) => Json | Promise<Json>): void;
export function deregisterLlmSanitizeRequestGuardrail(name: string): boolean;
export function scopeDeregisterLlmSanitizeRequestGuardrail(scopeUuid: string, name: string): boolean;
export function registerLlmSanitizeResponseGuardrail(name: string, priority: number, callback: (response: Json, context: SanitizerContext, signal: AbortSignal) => Json | Promise<Json>): void;
export function scopeRegisterLlmSanitizeResponseGuardrail(scopeUuid: string, name: string, priority: number, callback: (response: Json, context: SanitizerContext, signal: AbortSignal) => Json | Promise<Json>): void;
export function deregisterLlmSanitizeResponseGuardrail(name: string): boolean;
export function scopeDeregisterLlmSanitizeResponseGuardrail(scopeUuid: string, name: string): boolean;
export function registerToolRequestIntercept(name: string, priority: number, breakChain: boolean, callback: (toolName: string, args: Json, signal: AbortSignal) => Json | Promise<Json>): void;
export function scopeRegisterToolRequestIntercept(scopeUuid: string, name: string, priority: number, breakChain: boolean, callback: (toolName: string, args: Json, signal: AbortSignal) => Json | Promise<Json>): void;
export function deregisterToolRequestIntercept(name: string): boolean;
export function scopeDeregisterToolRequestIntercept(scopeUuid: string, name: string): boolean;
export function registerToolExecutionIntercept(name: string, priority: number, callback: (args: Json, next: (args: Json) => Promise<ToolExecutionResult>, signal: AbortSignal) => ToolExecutionOutcome | Promise<ToolExecutionOutcome>): void;
export function scopeRegisterToolExecutionIntercept(scopeUuid: string, name: string, priority: number, callback: (args: Json, next: (args: Json) => Promise<ToolExecutionResult>, signal: AbortSignal) => ToolExecutionOutcome | Promise<ToolExecutionOutcome>): void;
export function deregisterToolExecutionIntercept(name: string): boolean;
export function scopeDeregisterToolExecutionIntercept(scopeUuid: string, name: string): boolean;
export function registerToolConditionalExecutionGuardrail(name: string, priority: number, callback: (toolName: string, args: Json, signal: AbortSignal) => string | null | undefined | Promise<string | null | undefined>): void;
export function scopeRegisterToolConditionalExecutionGuardrail(scopeUuid: string, name: string, priority: number, callback: (toolName: string, args: Json, signal: AbortSignal) => string | null | undefined | Promise<string | null | undefined>): void;
export function deregisterToolConditionalExecutionGuardrail(name: string): boolean;
export function scopeDeregisterToolConditionalExecutionGuardrail(scopeUuid: string, name: string): boolean;
export function registerToolSanitizeRequestGuardrail(name: string, priority: number, callback: (toolName: string, args: Json, signal: AbortSignal) => Json | Promise<Json>): void;
export function scopeRegisterToolSanitizeRequestGuardrail(scopeUuid: string, name: string, priority: number, callback: (toolName: string, args: Json, signal: AbortSignal) => Json | Promise<Json>): void;
export function deregisterToolSanitizeRequestGuardrail(name: string): boolean;
export function scopeDeregisterToolSanitizeRequestGuardrail(scopeUuid: string, name: string): boolean;
export function registerToolSanitizeResponseGuardrail(name: string, priority: number, callback: (toolName: string, result: Json, signal: AbortSignal) => Json | Promise<Json>): void;
export function scopeRegisterToolSanitizeResponseGuardrail(scopeUuid: string, name: string, priority: number, callback: (toolName: string, result: Json, signal: AbortSignal) => Json | Promise<Json>): void;
export function deregisterToolSanitizeResponseGuardrail(name: string): boolean;
export function scopeDeregisterToolSanitizeResponseGuardrail(scopeUuid: string, name: string): boolean;
export function registerMarkSanitizeGuardrail(name: string, priority: number, callback: (event: RelayEvent, fields: EventSanitizeFields) => EventSanitizeFields | Promise<EventSanitizeFields>): void;
export function scopeRegisterMarkSanitizeGuardrail(scopeUuid: string, name: string, priority: number, callback: (event: RelayEvent, fields: EventSanitizeFields) => EventSanitizeFields | Promise<EventSanitizeFields>): void;
export function deregisterMarkSanitizeGuardrail(name: string): boolean;
export function scopeDeregisterMarkSanitizeGuardrail(scopeUuid: string, name: string): boolean;
export function registerScopeSanitizeStartGuardrail(name: string, priority: number, callback: (event: RelayEvent, fields: EventSanitizeFields) => EventSanitizeFields | Promise<EventSanitizeFields>): void;
export function scopeRegisterScopeSanitizeStartGuardrail(scopeUuid: string, name: string, priority: number, callback: (event: RelayEvent, fields: EventSanitizeFields) => EventSanitizeFields | Promise<EventSanitizeFields>): void;
export function deregisterScopeSanitizeStartGuardrail(name: string): boolean;
export function scopeDeregisterScopeSanitizeStartGuardrail(scopeUuid: string, name: string): boolean;
export function registerScopeSanitizeEndGuardrail(name: string, priority: number, callback: (event: RelayEvent, fields: EventSanitizeFields) => EventSanitizeFields | Promise<EventSanitizeFields>): void;
export function scopeRegisterScopeSanitizeEndGuardrail(scopeUuid: string, name: string, priority: number, callback: (event: RelayEvent, fields: EventSanitizeFields) => EventSanitizeFields | Promise<EventSanitizeFields>): void;
export function deregisterScopeSanitizeEndGuardrail(name: string): boolean;
export function scopeDeregisterScopeSanitizeEndGuardrail(scopeUuid: string, name: string): boolean;
export function registerEventMetadataInjector(name: string, priority: number, callback: (event: RelayEvent) => Record<string, string | number | boolean | string[] | number[] | boolean[]> | null | undefined): void;
export function scopeRegisterEventMetadataInjector(scopeUuid: string, name: string, priority: number, callback: (event: RelayEvent) => Record<string, string | number | boolean | string[] | number[] | boolean[]> | null | undefined): void;
export function deregisterEventMetadataInjector(name: string): boolean;
export function scopeDeregisterEventMetadataInjector(scopeUuid: string, name: string): boolean;

// Subscribers
export function registerSubscriber(name: string, callback: (event: RelayEvent) => void | Promise<void>): void;
export function deregisterSubscriber(name: string): boolean;
export function scopeRegisterSubscriber(scopeUuid: string, name: string, callback: (event: RelayEvent) => void | Promise<void>): void;
export function scopeDeregisterSubscriber(scopeUuid: string, name: string): boolean;
export function flushSubscribers(): Promise<void>;
export function droppedEvents(): number;
export function getLastCallbackError(): string | null;

/** Options of an operational record (docs/logging.md). */
export type LogOptions = { target?: string; fields?: Record<string, Json> | null };
/** Emits an operational record (target `nemo_relay.node[.<target>]`); dropped below the configured level. */
export function log(level: 'trace' | 'debug' | 'info' | 'warn' | 'warning' | 'error', message: string, options?: LogOptions): void;
export function trace(message: string, options?: LogOptions): void;
export function debug(message: string, options?: LogOptions): void;
export function info(message: string, options?: LogOptions): void;
export function warn(message: string, options?: LogOptions): void;
export function error(message: string, options?: LogOptions): void;
export function clearLastCallbackError(): void;

// The helper process
/** After a helper loss that left registrations unrestorable (exporters, scope-local): continue with a new helper. */
export function restartHelper(): void;

// Codecs
export declare abstract class BuiltinCodec {
  readonly id: string;
  decode(request: LlmRequestJson | LlmRequest): Json;
  encode(annotated: Json, original: LlmRequestJson | LlmRequest): LlmRequestJson;
  decodeResponse(response: Json): Json;
}
export declare class OpenAIChatCodec extends BuiltinCodec { constructor(); }
export declare class OpenAIResponsesCodec extends BuiltinCodec { constructor(); }
export declare class AnthropicMessagesCodec extends BuiltinCodec { constructor(); }
export declare class GeminiGenerateContentCodec extends BuiltinCodec { constructor(); }
export declare class OCIGenAIChatCodec extends BuiltinCodec { constructor(); }
export declare class BedrockConverseCodec extends BuiltinCodec { constructor(); }

// Exporters (include/nemo_relay.h, "Exporters"). Every method is synchronous. An exporter belongs to
// the helper process that made it: after that helper exits its methods throw (`ERR_NEMO_RELAY_HELPER`).
// A registered exporter stays alive; an unregistered, unreachable one is released by the garbage
// collector (without waiting: what its registrations queued is still exported).
/** An ATOF JSON Lines file sink: one line per event, the bytes a subscriber receives, plus `\n`. */
export type AtofFileSinkConfig = {
  type?: 'file';
  /** Default: the current directory. Created (with parents) by the constructor. */
  outputDirectory?: string;
  /** Default `nemo-relay-events-<UTC %Y-%m-%d-%H.%M.%S>.jsonl`; relative to `outputDirectory`. */
  filename?: string;
  /** `append` (default) keeps existing lines; `overwrite` truncates the file in the constructor. */
  mode?: 'append' | 'overwrite';
};
/** An ATOF stream sink: the same lines sent to an HTTP endpoint (429, 5xx and connection failures retried). */
export type AtofStreamSinkConfig = {
  type: 'stream';
  url: string;
  /** `http_post` (default): one POST per delivered batch; `ndjson`: one chunked POST; `websocket`: refused by this build. */
  transport?: 'http_post' | 'websocket' | 'ndjson';
  headers?: Record<string, string>;
  /** Header name to environment variable, read by the constructor. */
  headerEnv?: Record<string, string>;
  /** Per request, default 3000; forceFlush and shutdown wait about this plus 2 s. */
  timeoutMillis?: number;
  /** `replace_dots` replaces dots in object keys by underscores (collisions get `_2`, `_3`, ...). */
  fieldNamePolicy?: 'preserve' | 'replace_dots';
};
export type AtofExporterConfig = AtofFileSinkConfig | AtofStreamSinkConfig;
/** Bad options throw from the constructor (`mode must be ...`, `stream transport ...`, an unopenable file). */
export declare class AtofExporter {
  constructor(config?: Opt<AtofExporterConfig>);
  /** The JSONL file, or null for a stream sink. */
  readonly path: string | null;
  /** Registers as a global subscriber named `name`; throws `already exists: ...` when the name is taken. */
  register(name: string): void;
  /** Removes the global subscriber `name`, whoever registered it; true when one was removed. */
  deregister(name: string): boolean;
  /** Waits for queued delivery, then flushes; throws when events were lost (a write failed, an endpoint refused). */
  forceFlush(): void;
  /** Flushes, removes this exporter's registrations and closes the sink; a second call is harmless. */
  shutdown(): void;
  /** Counters: `registrations`, `queue_dropped`, `events_written` or `events_sent`, `events_failed`, `last_error`... */
  diagnostics(): { [key: string]: Json };
}
/** Options of `AtifExporter` beyond the reference's four arguments: the agent's tool definitions and extra. */
export type AtifExporterOptions = { toolDefinitions?: Json[] | null; extra?: Json | null };
/** Collects events while registered and builds an ATIF v1.7 trajectory from them. */
export declare class AtifExporter {
  constructor(
    sessionId: string, agentName: string, agentVersion: string, modelName?: Opt<string>, options?: Opt<AtifExporterOptions>);
  register(name: string): void;
  deregister(name: string): boolean;
  /** Waits for queued delivery, then returns the trajectory as JSON text (`session_id`, `agent`, `steps`...); keeps the events. */
  exportJson(): string;
  /** `JSON.parse(exportJson())`. */
  export(): { [key: string]: Json };
  /** Drops the collected events; the registration stays. */
  clear(): void;
  diagnostics(): { [key: string]: Json };
}

/** Options of `OpenTelemetrySubscriber`: an OTLP/HTTP endpoint, or an OTLP file with `outputDirectory`. */
export type OpenTelemetryConfig = {
  type: 'full' | 'gen_ai' | 'openinference';
  endpoint?: string;
  transport?: 'http_binary' | 'http_json';
  /** Ours: gzip request bodies (`Content-Encoding: gzip`), using the system's zlib. */
  compression?: 'none' | 'gzip';
  headers?: { [name: string]: string };
  headerEnv?: { [name: string]: string };
  timeoutMillis?: number;
  outputDirectory?: string;
  filename?: string;
  format?: 'json_lines' | 'proto';
  mode?: 'append' | 'overwrite';
  serviceName?: string;
  serviceNamespace?: string;
  serviceVersion?: string;
  instrumentationScope?: string;
  resourceAttributes?: { [key: string]: string };
  markProjection?: 'inherit' | 'event' | 'tool';
  markExcludeNames?: string[];
  attributeMappings?: { key: string; alias: string }[];
  promoteMetadataPrefixes?: string[];
  completedSpanContextTtlMillis?: number;
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
};

export declare class OpenTelemetrySubscriber {
  constructor(config: OpenTelemetryConfig);
  register(name: string): void;
  deregister(name: string): boolean;
  /** Exports every finished span now; throws when an export failed. */
  forceFlush(): void;
  shutdown(): void;
  runtimeDiagnostics(): { code: string; message: string; count: number }[];
  diagnostics(): { [key: string]: Json };
}

/**
 * Relay causal context for crossing a process boundary (frozen plain object; absent parts are null).
 * `propagationContextToJson` gives the reference's snake_case wire JSON.
 */
export type PropagationContext = {
  readonly version: number;
  readonly rootUuid: string | null;
  readonly parentUuid: string;
  /** A valid W3C traceparent carried with the context (canonical form), or null. */
  readonly traceparent: string | null;
  /** Its W3C tracestate, or null. */
  readonly tracestate: string | null;
};
/** What the functions taking a context accept: `version`, `rootUuid`, `traceparent`, `tracestate` may be omitted. */
export type PropagationContextInit = {
  version?: Opt<number>;
  rootUuid?: Opt<string>;
  parentUuid: string;
  traceparent?: Opt<string>;
  tracestate?: Opt<string>;
};
/**
 * Builds a context like the reference's `PropagationContext(...)`: a malformed or all-zero uuid or a
 * version other than 1 throws; an invalid traceparent/tracestate is dropped silently.
 */
export function createPropagationContext(
  parentUuid: string, rootUuid?: Opt<string>,
  options?: Opt<{ version?: Opt<number>; traceparent?: Opt<string>; tracestate?: Opt<string> }>): PropagationContext;
/** The current parent and its root; inside a managed LLM/tool callback the parent is the call's span. */
export function capturePropagationContext(): PropagationContext;
/** The current parent without a root: the receiver starts a new trace. */
export function captureRootlessPropagationContext(): PropagationContext;
/** The current parent with `rootUuid` (or none) as its root. */
export function capturePropagationContextWithRoot(rootUuid?: Opt<string>): PropagationContext;
/** The W3C traceparent of the current parent; throws when only the stack root exists. */
export function captureTraceparent(): string;
/** The snake_case wire JSON: `{"version":1,"root_uuid"?,"parent_uuid","traceparent"?,"tracestate"?}`. */
export function propagationContextToJson(ctx: PropagationContextInit): string;
/** Reads a wire context; throws `invalid propagation context JSON: ...` or `unsupported propagation context version N; expected 1`. */
export function propagationContextFromJson(text: string): PropagationContext;
/** The carried traceparent, else one derived from the root (a rootless context without one throws). */
export function propagationContextToTraceparent(ctx: PropagationContextInit): string;
/** A stack that continues `ctx`: its first scope's parent is `ctx.parentUuid`. */
export function createScopeStackFromPropagation(ctx: PropagationContextInit): ScopeStack;
