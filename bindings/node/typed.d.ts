// SPDX-License-Identifier: Apache-2.0
// Hand-written declarations of nemo-relay-node/typed.
import type { Json, LlmStream, ScopeHandle, ToolExecutionResult as RootToolExecutionResult } from './index';

export type JsonPrimitive = string | number | boolean | null;
export type JsonArray = JsonValue[];
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;
export type ToolExecutionResult<T> = { result: T; annotation?: JsonValue };
export type LlmRequestShape = { headers: JsonObject; content: JsonValue };
export interface LlmCodec {
  decode(request: LlmRequestShape): JsonValue;
  encode(annotated: JsonValue, original: LlmRequestShape): LlmRequestShape;
}
export interface LlmResponseCodec {
  decodeResponse(response: JsonValue): JsonValue;
}
export interface Codec<T, TJson = JsonValue> {
  toJson(value: T): TJson;
  fromJson(data: TJson): T;
}
export declare class JsonPassthrough implements Codec<any, any> {
  toJson<T>(value: T): T;
  fromJson<T>(data: T): T;
}
export type TypedToolExecuteOptions = {
  handle?: ScopeHandle | null; attributes?: number | null; data?: Json | null; metadata?: Json | null; toolCallId?: string | null;
};
export type TypedLlmExecuteOptions = {
  handle?: ScopeHandle | null; attributes?: number | null; data?: Json | null; metadata?: Json | null; modelName?: string | null;
  codec?: LlmCodec | null; responseCodec?: LlmResponseCodec | null;
};
export type TypedLlmStreamExecuteOptions = TypedLlmExecuteOptions;

export function typedToolExecute<TArgs, TResult>(
  name: string, args: TArgs, func: (args: TArgs, signal: AbortSignal) => ToolExecutionResult<TResult> | Promise<ToolExecutionResult<TResult>>,
  argsCodec: Codec<TArgs>, resultCodec: Codec<TResult>, options?: TypedToolExecuteOptions): Promise<ToolExecutionResult<TResult>>;
export function typedLlmExecute<TRequest extends LlmRequestShape, TResponse>(
  name: string, request: TRequest, func: (request: TRequest, signal: AbortSignal) => TResponse | Promise<TResponse>,
  responseCodec: Codec<TResponse>, options?: TypedLlmExecuteOptions): Promise<TResponse>;
/**
 * A managed streaming call with typed chunks: each chunk is encoded with `chunkCodec.toJson`, the collector
 * gets `chunkCodec.fromJson(chunk)`, the finalizer's value is encoded with `responseCodec.toJson`; the
 * stream's `close()` also calls the source iterator's `return()` (AggregateError when both fail).
 */
export function typedLlmStreamExecute<TRequest extends LlmRequestShape, TChunk, TResponse>(
  name: string, request: TRequest,
  func: (request: TRequest, signal: AbortSignal) => AsyncIterable<TChunk> | Promise<AsyncIterable<TChunk>>,
  collector: ((chunk: TChunk) => void) | null, finalizer: (() => TResponse) | null, chunkCodec: Codec<TChunk>, responseCodec: Codec<TResponse>,
  options?: TypedLlmStreamExecuteOptions): Promise<LlmStream>;
export type { RootToolExecutionResult };
