// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Streaming LLM calls: `LlmStream` (the read end, with back-pressure), pumping a provider's or stream
 * intercept's async iterable into its producer (`pumpStream`), `InnerStream` and `next(request)` of
 * stream execution intercepts, and `llmStreamCallExecute`.
 * @module
 */
const ffi = require('./ffi');
const { helper } = require('./helper');
const { NemoRelayError, Status } = require('./errors');
const { toJsonValue, cstr } = require('./json');
const { CONSTANTS: C } = require('./abi');
const {
  als, carry, state, registry, addEntry, wakeRoomWaiters, roomOrAbort, rt, complete, keepFailure, failureIdStruct,
  errorMessage, recordCallbackError, failure, effectiveStack,
} = require('./runtime');
const { fail, callbackStruct } = require('./callbacks');
const { requestJson } = require('./scopes');
const { codecPair } = require('./codecs');
const { llmOptions } = require('./calls');

// MARK: - Streaming LLM calls

const NEW_STREAM = Symbol('LlmStream');

/**
 * Chunks an `LlmStream` holds for its reader before it stops taking more (docs/node.md, "Streams").
 * Past it the chunk callback's token stays pending, so the library's stream buffer (1024 chunks) fills
 * and then the producer's pushes report NEMO_RELAY_E_FULL: a reader that stops reading holds at most
 * this many chunks in JS and the buffer's in the library, and the provider waits.
 */
const STREAM_HIGH_WATER_MARK = 64;

/**
 * The read end of a streaming LLM call. Chunks reach it through the C callback consumer (`on_chunk`)
 * and wait here until `next()` takes them. Each chunk is answered at once while fewer than
 * `STREAM_HIGH_WATER_MARK` wait; past that the answer waits for the reader (back-pressure).
 */
class LlmStream {
  #queue = [];
  #head = 0;
  /** Answers the chunk callback held back while the queue is full, or null. */
  #held = null;
  /** @type {Array<{resolve: Function, reject: Function}>} */
  #waiters = [];
  #ended = false;
  #error = null;
  #closed = false;
  #ptr = 0;
  #gen = -1;
  /** @type {(() => any) | null} */
  #onClose = null;

  constructor(key) {
    if (key !== NEW_STREAM) throw new TypeError('LlmStream has no public constructor');
  }

  /**
   * The next chunk, or `null` once the stream is exhausted (or closed); rejects with the stream's
   * failure (the provider's or collector's own error, ...) after the chunks produced before it.
   * @returns {Promise<any>}
   */
  next() {
    if (this.#head < this.#queue.length) {
      const c = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      if (this.#held && this.buffered < STREAM_HIGH_WATER_MARK) this.#release();
      return Promise.resolve(c);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Stops the stream early: the producer is cancelled, the finalizer runs on the partial state and the
   * end event records `stream dropped before clean completion`. Unread chunks are discarded; `next()`
   * then resolves `null`. Idempotent. Rejects with the error of the native close or of the cleanup.
   * @returns {Promise<void>}
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    const errors = [];
    if (!this.#ended && this.#ptr && this.#gen === helper.generation) {
      try {
        ffi.call('nemo_relay_stream_close', [this.#ptr]);
      } catch (e) {
        errors.push(e);
      }
    }
    if (this.#held) this.#release(); // the library waits for the held chunk's answer to end the stream
    this._end(null);
    if (this.#onClose) {
      try {
        await this.#onClose();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'closing the stream failed');
  }

  /** Reads the stream with `for await`; leaving the loop early closes it. */
  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const value = await this.next();
        return value === null ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Chunks received and not read yet: at most `STREAM_HIGH_WATER_MARK` (docs/node.md, "Streams").
   * @returns {number}
   */
  get buffered() {
    return this.#queue.length - this.#head;
  }

  /** The most chunks a stream holds for its reader before the provider is held back. */
  static get highWaterMark() {
    return STREAM_HIGH_WATER_MARK;
  }

  #release() {
    const answer = this.#held;
    this.#held = null;
    answer();
    wakeRoomWaiters();
  }

  /** @internal a chunk from on_chunk; `answer()` completes its token (the library then sends the next) */
  _push(chunk, answer) {
    if (this.#closed || this.#ended) return answer();
    const w = this.#waiters.shift();
    if (w) w.resolve(chunk);
    else this.#queue.push(chunk);
    if (this.buffered < STREAM_HIGH_WATER_MARK) answer();
    else this.#held = answer;
  }

  /** @internal the outcome (null: clean end); settles every waiting `next()` */
  _end(error) {
    if (!this.#ended) {
      this.#ended = true;
      if (error && !this.#closed) this.#error = error;
    }
    this._freeHandle();
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) {
      if (this.#error) w.reject(this.#error);
      else w.resolve(null);
    }
  }

  /** @internal */
  _attach(ptr, gen, onClose) {
    this.#ptr = ptr;
    this.#gen = gen;
    this.#onClose = onClose;
    if (this.#ended) this._freeHandle();
  }

  _freeHandle() {
    if (this.#ptr && this.#gen === helper.generation) ffi.callLater('nemo_relay_stream_free', [this.#ptr]);
    this.#ptr = 0;
  }
}

/** Runs a collector or finalizer synchronously for a waiting closure and returns its `{status, json}`. */
function syncAnswer(run, record) {
  try {
    const v = run();
    return { status: Status.OK, json: JSON.stringify(toJsonValue(v === undefined ? null : v, 'callback result')) };
  } catch (err) {
    recordCallbackError(record, err);
    // The helper fails the token with nemo_relay_complete_failure and this failure id.
    return {
      status: Status.E_CALLBACK,
      json: JSON.stringify({ type: err instanceof Error ? err.name : 'Error', message: errorMessage(err) }),
      failure: failureIdStruct(keepFailure(err)),
    };
  }
}

/** A `nemo_relay_callback_t` answered synchronously (the helper waits for it), or an absent one. */
function waitStruct(fn) {
  if (fn === null || fn === undefined) return [0, 0, 0];
  rt();
  return [state.fn.wait, addEntry({ onWait: fn }), state.fn.free];
}

function thenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

/** The async iterator of what a stream provider or intercept returned; TypeError for anything else. */
function asyncIteratorOf(src, what) {
  if (src !== null && src !== undefined) {
    if (typeof src[Symbol.asyncIterator] === 'function') return src[Symbol.asyncIterator]();
    if (typeof src.next === 'function') return src;
  }
  throw new TypeError(`${what} must return an async iterable or an async iterator`);
}

/**
 * Feeds the async iterable `produce(signal)` returns into the producer of a stream provider's (or
 * stream intercept's) `token`, then completes the token: OK at the end, the error when producing
 * fails. A full buffer is retried on the next turn; a cancelled stream (closed early, collector
 * failure) stops the iterator (`return()`) and aborts `signal`.
 */
function pumpStream(token, produce, stack) {
  const gen = helper.generation;
  const ac = new AbortController();
  let cancelled = false;
  const cancelId = addEntry({ onDone() { cancelled = true; ac.abort(); } });
  let producer;
  try {
    [[producer]] = ffi.callBatch([
      ['nemo_relay_token_producer', [null, token]],
      ['nemo_relay_producer_on_cancel', [{ $out: [0, 0] }, [state.fn.done, cancelId, state.fn.free]]],
    ]);
  } catch (err) {
    registry.delete(cancelId);
    return fail(token, err, null, gen);
  }
  const run = async () => {
    let it = null;
    try {
      let src = produce(ac.signal);
      if (thenable(src)) src = await src;
      it = asyncIteratorOf(src, 'a stream provider');
      while (!cancelled) {
        const r = await it.next();
        if (r.done) {
          it = null;
          break;
        }
        if (cancelled) break;
        const json = JSON.stringify(toJsonValue(r.value === undefined ? null : r.value, 'stream chunk'));
        let a;
        for (;;) {
          if (gen !== helper.generation) throw new NemoRelayError('the NemoRelay helper of this stream exited', undefined, 'ERR_NEMO_RELAY_HELPER');
          a = ffi.rawCall('nemo_relay_stream_push', [producer, json]);
          if (a.ret !== Status.E_FULL) break;
          await roomOrAbort(ac.signal); // the consumer's buffer is full: wait until its reader reads
        }
        if (a.ret === Status.E_CANCELLED) cancelled = true;
        else if (a.ret > 0) throw new NemoRelayError(a.err || 'nemo_relay_stream_push failed', a.ret);
      }
      if (it && typeof it.return === 'function') {
        try {
          await it.return();
        } catch (err) {
          recordCallbackError('stream provider cleanup', err);
        }
      }
      complete(token, Status.OK, 'null', gen); // after a cancellation the token is already answered
    } catch (err) {
      fail(token, err, null, gen);
    } finally {
      helper.release();
      if (gen === helper.generation) ffi.callLater('nemo_relay_producer_free', [producer]);
    }
  };
  helper.hold();
  // A stream provider (the one caller with a stack) keeps its token in the store: captures name the call.
  if (stack) als.run(carry({ stack, callToken: token }), run);
  else run();
}

/**
 * The inner layers' chunks, as a stream execution intercept's `next(request)` resolves with them
 * (docs/pipeline.md, "Transforming stream intercepts"): the read end of `nemo_relay_token_next_stream`,
 * fed by the library's callback consumer. A chunk's token stays pending while a chunk waits unread
 * here, so the library's bounded inner buffer (1024 chunks) holds the rest and the inner layers wait
 * for the intercept. Same reading surface as `LlmStream`: `next()`, `close()`, `for await`.
 */
class InnerStream {
  #queue = [];
  /** @type {Array<{resolve: Function, reject: Function}>} */
  #waiters = [];
  #parked = 0;
  #ended = false;
  #error = null;
  #closed = false;
  #ptr = 0;
  #gen;

  constructor(gen) {
    this.#gen = gen;
  }

  /**
   * The next inner chunk, or `null` once the inner layers ended (or the stream was closed); rejects
   * with the inner layers' failure (their own error) after their chunks.
   * @returns {Promise<any>}
   */
  next() {
    if (this.#queue.length > 0) {
      const c = this.#queue.shift();
      this.#resume();
      return Promise.resolve(c);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Stops reading: the inner layers are cancelled (their `signal` aborts), the intercept goes on and
   * the call ends as the intercept's own output does. Unread chunks are discarded. Idempotent.
   * @returns {Promise<void>}
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    if (!this.#ended && this.#ptr && this.#gen === helper.generation) ffi.call('nemo_relay_stream_close', [this.#ptr]);
    this._end(null);
  }

  /** Reads the inner chunks with `for await` (or `yield*`); leaving the loop early closes the stream. */
  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const value = await this.next();
        return value === null ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** @internal on_chunk: hand the chunk to a waiting reader and take the next, or hold it. */
  _chunk(token, chunk) {
    if (this.#closed || this.#ended) return complete(token, Status.OK, 'null', this.#gen);
    const w = this.#waiters.shift();
    if (w) {
      w.resolve(chunk);
      return complete(token, Status.OK, 'null', this.#gen);
    }
    this.#queue.push(chunk);
    this.#resume(); // at most one token is held, the newest chunk's
    this.#parked = token;
  }

  #resume() {
    const t = this.#parked;
    this.#parked = 0;
    if (t) complete(t, Status.OK, 'null', this.#gen);
  }

  /** @internal on_end (null: clean end), a close, or the helper's loss. */
  _end(error) {
    if (!this.#ended) {
      this.#ended = true;
      if (error && !this.#closed) this.#error = error;
      helper.release();
    }
    this.#resume();
    if (this.#ptr && this.#gen === helper.generation) ffi.callLater('nemo_relay_stream_free', [this.#ptr]);
    this.#ptr = 0;
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) {
      if (this.#error) w.reject(this.#error);
      else w.resolve(null);
    }
  }

  /** @internal */
  _attach(ptr) {
    this.#ptr = ptr;
    if (this.#ended) this._end(null);
  }
}

/**
 * `next(request)` of a stream execution intercept: runs the inner layers and resolves with their
 * chunks (an `InnerStream`), which the intercept reads, transforms and yields as it likes;
 * `yield* await next(req)` passes them through unchanged.
 */
function streamNextFor(token) {
  const gen = helper.generation;
  return (request) => {
    if (gen !== helper.generation) {
      return Promise.reject(new NemoRelayError('next: the NemoRelay helper of this call exited', undefined, 'ERR_NEMO_RELAY_HELPER'));
    }
    let json;
    try {
      json = requestJson(request, 'invalid LlmRequest from JS next');
    } catch (e) {
      return Promise.reject(e);
    }
    const inner = new InnerStream(gen);
    const onChunk = callbackStruct((t, chunk) => inner._chunk(t, chunk));
    const endId = addEntry({
      onDone(status, text, failureId) { inner._end(status === Status.OK ? null : failure(status, text, failureId)); },
      onLost(reason) { inner._end(reason); },
    });
    helper.hold();
    const so = [C.NEMO_RELAY_STREAM_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, ...onChunk, state.fn.done, endId, 0];
    let ptr;
    try {
      [ptr] = ffi.call('nemo_relay_token_next_stream', [null, token, json, so]);
    } catch (e) {
      if (registry.delete(endId)) helper.release();
      return Promise.reject(e);
    }
    inner._attach(ptr);
    return Promise.resolve(inner);
  };
}

/**
 * The managed streaming pipeline with C codec pointers (shared by the raw and the typed API).
 * Resolves with the stream once the provider (or a stream intercept's first chunk, or the end) is
 * reached; rejects when the call fails before that (guardrail rejection, intercept failure, ...).
 */
function llmStreamWith(name, request, func, collector, finalizer, handle, attributes, data, metadata, modelName, codec, responseCodec, onClose = null) {
  const req = requestJson(request);
  if (typeof func !== 'function') throw new TypeError('func must be a function');
  if (collector !== null && collector !== undefined && typeof collector !== 'function') throw new TypeError('collector must be a function');
  if (finalizer !== null && finalizer !== undefined && typeof finalizer !== 'function') throw new TypeError('finalizer must be a function');
  const stack = effectiveStack();
  const opts = llmOptions(handle, attributes, data, metadata, modelName, codec, responseCodec);
  const stream = new LlmStream(NEW_STREAM);
  return new Promise((resolve, reject) => {
    let settled = false;
    const started = () => {
      if (!settled) {
        settled = true;
        resolve(stream);
      }
    };
    const provider = callbackStruct((token, input) => {
      started();
      pumpStream(token, (signal) => func(input, signal), stack);
    });
    const collect = collector ? (chunk) => syncAnswer(() => {
      const r = collector(chunk);
      if (thenable(r)) Promise.resolve(r).catch((e) => recordCallbackError('stream collector', e));
      return null;
    }, 'stream collector') : null;
    const finalize = finalizer ? () => syncAnswer(() => {
      const v = finalizer();
      if (thenable(v)) throw new TypeError('a stream finalizer must return its value synchronously');
      return v;
    }, 'stream finalizer') : null;
    const onChunk = callbackStruct((token, chunk) => {
      started();
      // Answered at once while the reader keeps up; held back once STREAM_HIGH_WATER_MARK chunks wait.
      const gen = helper.generation;
      stream._push(chunk, () => complete(token, Status.OK, 'null', gen));
    });
    const endId = addEntry({
      onDone(status, text, failureId) {
        helper.release();
        const err = status === Status.OK ? null : failure(status, text, failureId);
        if (err && !settled) {
          settled = true;
          reject(err);
        }
        started();
        stream._end(err);
      },
      onLost(reason) {
        helper.release();
        if (!settled) {
          settled = true;
          reject(reason);
        }
        stream._end(reason);
      },
    });
    helper.hold();
    const so = [C.NEMO_RELAY_STREAM_OPTIONS_VERSION, 0, ...waitStruct(collect), ...waitStruct(finalize), ...onChunk, state.fn.done, endId, 0];
    let r;
    try {
      r = ffi.rawCall('nemo_relay_llm_stream_execute', [null, rt(), stack._ptr, cstr(name), req, opts, so, provider]);
    } catch (e) {
      if (registry.delete(endId)) helper.release();
      settled = true;
      return reject(e);
    }
    if (typeof r.ret === 'number' && r.ret > 0) {
      if (registry.delete(endId)) helper.release();
      settled = true;
      return reject(new NemoRelayError(r.err || 'stream did not start', r.ret));
    }
    stream._attach(r.out[0], helper.generation, onClose);
  });
}

/**
 * Runs a managed streaming LLM call. `func(request, signal)` returns an async iterable (or iterator,
 * or a Promise of one) of chunks; `collector(chunk)` sees a copy of each chunk synchronously;
 * `finalizer()` is called once when the stream ends (or is closed) and returns the end event's payload.
 * @returns {Promise<LlmStream>}
 */
function llmStreamCallExecute(name, request, func, collector, finalizer, handle, attributes, data, metadata, modelName,
  codecDecode, codecEncode, responseCodecDecode) {
  const [c, rc] = codecPair(codecDecode, codecEncode, responseCodecDecode);
  try {
    return llmStreamWith(name, request, func, collector, finalizer, handle, attributes, data, metadata, modelName, c, rc);
  } finally {
    if (c) ffi.callLater('nemo_relay_codec_free', [c]);
    if (rc) ffi.callLater('nemo_relay_codec_free', [rc]);
  }
}

module.exports = { LlmStream, pumpStream, streamNextFor, llmStreamWith, llmStreamCallExecute };
