// SPDX-License-Identifier: Apache-2.0
// Streaming LLM calls: the provider pushes chunks into a producer, the consumer pulls them from a
// stream handle or gets them through callbacks. Every body runs inside `ffi { }`.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

/// The write end handed to a stream provider or stream execution intercept.
final class ProducerRef: Sendable {
    let sink: LLMStreamSink
    init(_ s: LLMStreamSink) { sink = s }
}

/// The read end of a streaming call held by a C handle.
final class StreamRef: Sendable {
    let stream: LLMStream
    init(_ s: LLMStream) { stream = s }
}

private func producerArg(_ p: OpaquePointer?) throws -> LLMStreamSink {
    guard p != nil else { throw FFIError.misuse("misuse: producer handle is NULL") }
    guard let r = HandleTable.shared.get(p, .producer, as: ProducerRef.self) else {
        throw FFIError.misuse("misuse: producer handle is invalid or was freed")
    }
    return r.sink
}

private func streamArg(_ p: OpaquePointer?) throws -> LLMStream {
    guard p != nil else { throw FFIError.misuse("misuse: stream handle is NULL") }
    guard let r = HandleTable.shared.get(p, .stream, as: StreamRef.self) else {
        throw FFIError.misuse("misuse: stream handle is invalid or was freed")
    }
    return r.stream
}

/// Boxes an optional callback of an options struct; a NULL `fn` means absent (its user data is freed).
private func optionalCallback(_ cb: nemo_relay_callback_t) -> CallbackBox? {
    guard cb.fn != nil else {
        cb.user_data_free?(cb.user_data)
        return nil
    }
    return try? CallbackBox(cb)
}

private func optionalDone(_ d: nemo_relay_done_t) -> DoneBox? {
    guard d.fn != nil else {
        d.user_data_free?(d.user_data)
        return nil
    }
    return try? DoneBox(d)
}

@_cdecl("nemo_relay_stream_options_init")
public func nemo_relay_stream_options_init(_ o: UnsafeMutablePointer<nemo_relay_stream_options_t>?, _ v: UInt32)
    -> Int32
{
    var d = nemo_relay_stream_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_STREAM_OPTIONS_VERSION, "stream options", d)
}

@_cdecl("nemo_relay_llm_stream_execute")
public func nemo_relay_llm_stream_execute(
    _ outStream: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ req: CString?,
    _ reqLen: Int, _ opts: UnsafePointer<nemo_relay_llm_options_t>?,
    _ streamOpts: UnsafePointer<nemo_relay_stream_options_t>?, _ provider: UnsafePointer<nemo_relay_callback_t>?
) -> Int32 {
    outStream?.pointee = nil
    return ffi {
        // Box every callback first: on any failure below, the boxes' destructors free the user data.
        let so = streamOpts?.pointee ?? nemo_relay_stream_options_t()
        let collector = optionalCallback(so.collector)
        let finalizer = optionalCallback(so.finalizer)
        let onChunk = optionalCallback(so.on_chunk)
        let onEnd = optionalDone(so.on_end)
        let pbox = try callbackArg(provider, "provider")
        if streamOpts != nil { try checkVersion(so.version, NEMO_RELAY_STREAM_OPTIONS_VERSION, "stream options") }
        if onChunk == nil && outStream == nil {
            throw FFIError.invalid("out_stream must not be NULL for a stream without an on_chunk callback")
        }
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try llmParams(try stringInput(name, "name"), try requestArg(req, reqLen), opts)
        try checkOwner(p.parent, rt, "parent")

        var options = LLMStreamOptions()
        if so.buffer_capacity > 0 { options.bufferCapacity = Int(so.buffer_capacity) }
        if let collector {
            options.collector = { chunk throws(RelayError) in
                _ = try Adapt.synchronous(collector, chunk, "stream collector")
            }
        }
        if let finalizer {
            options.finalizer = { () throws(RelayError) -> JSON in
                try Adapt.synchronous(finalizer, .null, "stream finalizer")
            }
        }
        if let onChunk {
            options.onChunk = { chunk, k in invoke(onChunk, chunk, k) { _ throws(RelayError) in () } }
            options.onEnd = { r in onEnd?.call(r.map { JSON.null }) }
        }
        let stream = rt.llmStreamExecute(p, stack: stack, options: options, provider: Adapt.streamProvider(pbox))
        if let outStream { outStream.pointee = HandleTable.shared.insert(StreamRef(stream), .stream) }
    }
}

/// The read end of a stream execution intercept's inner layers (include/nemo_relay.h, nemo_relay_token_next_stream;
/// docs/pipeline.md, "Transforming stream intercepts").
@_cdecl("nemo_relay_token_next_stream")
public func nemo_relay_token_next_stream(
    _ outInner: OutHandle?, _ tokenp: OpaquePointer?, _ req: CString?, _ reqLen: Int,
    _ innerOpts: UnsafePointer<nemo_relay_stream_options_t>?
) -> Int32 {
    outInner?.pointee = nil
    return ffi {
        // Box every callback first: on any failure below, the boxes' destructors free the user data.
        let so = innerOpts?.pointee ?? nemo_relay_stream_options_t()
        let collector = optionalCallback(so.collector)
        let finalizer = optionalCallback(so.finalizer)
        let onChunk = optionalCallback(so.on_chunk)
        let onEnd = optionalDone(so.on_end)
        if innerOpts != nil { try checkVersion(so.version, NEMO_RELAY_STREAM_OPTIONS_VERSION, "stream options") }
        if collector != nil || finalizer != nil {
            throw FFIError.invalid("an inner stream has no collector and no finalizer")
        }
        if onChunk == nil && outInner == nil {
            throw FFIError.invalid("out_inner must not be NULL for a stream without an on_chunk callback")
        }
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.invalid("execution continuation is no longer active")
        }
        guard let nextStream = token.nextStream else {
            throw FFIError.invalid("this token has no inner stream (only stream execution intercepts do)")
        }
        let request = try requestArg(req, reqLen)
        var options = LLMStreamOptions()
        if so.buffer_capacity > 0 { options.bufferCapacity = Int(so.buffer_capacity) }
        if let onChunk {
            options.onChunk = { chunk, k in invoke(onChunk, chunk, k) { _ throws(RelayError) in () } }
            options.onEnd = { r in onEnd?.call(r.map { JSON.null }) }
        }
        let stream = try nextStream(request, options)
        if let outInner { outInner.pointee = HandleTable.shared.insert(StreamRef(stream), .stream) }
    }
}

@_cdecl("nemo_relay_token_producer")
public func nemo_relay_token_producer(_ out: OutHandle?, _ tokenp: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.misuse("misuse: token is invalid or was already completed")
        }
        guard let sink = token.producer else {
            throw FFIError.invalid("this token has no producer (only stream providers and stream intercepts do)")
        }
        out.pointee = HandleTable.shared.insert(ProducerRef(sink), .producer)
    }
}

@_cdecl("nemo_relay_stream_push")
public func nemo_relay_stream_push(_ producer: OpaquePointer?, _ json: CString?, _ len: Int) -> Int32 {
    ffi {
        let sink = try producerArg(producer)
        guard let json else { throw FFIError.invalid("chunk must not be NULL") }
        let bytes = json.withMemoryRebound(to: UInt8.self, capacity: max(len, 1)) {
            Array(UnsafeBufferPointer(start: $0, count: len))
        }
        let chunk = try bytes.withUnsafeBufferPointer { try parseInput($0, "chunk") }
        // The consumer gets these bytes as they are, unless an intercept replaces the chunk.
        switch sink._push(chunk, bytes: bytes) {
        case .accepted: return
        case .full:
            throw FFIError(
                Int32(NEMO_RELAY_E_FULL), "stream buffer is full: push the chunk again once the consumer has read")
        case .closed:
            throw FFIError(Int32(NEMO_RELAY_E_CANCELLED), "stream was closed or cancelled: stop producing")
        case .finished:
            throw FFIError.misuse("misuse: the producer's token was already completed")
        }
    }
}

@_cdecl("nemo_relay_producer_on_cancel")
public func nemo_relay_producer_on_cancel(_ producer: OpaquePointer?, _ onCancel: UnsafePointer<nemo_relay_done_t>?)
    -> Int32
{
    ffi {
        guard let onCancel else { throw FFIError.invalid("on_cancel must not be NULL") }
        let box = try DoneBox(onCancel.pointee)
        let sink = try producerArg(producer)
        sink.onCancel {
            box.call(Int32(NEMO_RELAY_E_CANCELLED), Array("stream dropped before clean completion".utf8))
        }
    }
}

@_cdecl("nemo_relay_producer_free")
public func nemo_relay_producer_free(_ producer: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(producer, .producer)
}

@_cdecl("nemo_relay_stream_next")
public func nemo_relay_stream_next(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ streamp: OpaquePointer?, _ timeout: Int64
) -> Int32 {
    ffi {
        guard let out, let outLen else { throw FFIError.invalid("out and out_len must not be NULL") }
        out.pointee = nil
        outLen.pointee = 0
        let stream = try streamArg(streamp)
        let (read, bytes) = stream._nextWithBytes(timeoutNanos: timeout < 0 ? nil : timeout)
        switch read {
        case .chunk(let c): try writeOut(bytes ?? c.serialized(), out, outLen)
        case .finished: return
        case .timedOut: throw FFIError(Int32(NEMO_RELAY_E_TIMEOUT), "no chunk arrived before the timeout")
        case .failed(let e): throw e
        }
    }
}

@_cdecl("nemo_relay_stream_close")
public func nemo_relay_stream_close(_ streamp: OpaquePointer?) -> Int32 {
    ffi { try streamArg(streamp).close() }
}

@_cdecl("nemo_relay_stream_free")
public func nemo_relay_stream_free(_ streamp: OpaquePointer?) {
    LastError.clear()
    guard let r = HandleTable.shared.remove(streamp, .stream) as? StreamRef else { return }
    r.stream.release()
}
