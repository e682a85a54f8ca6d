// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A codec whose methods are C callbacks of the completion protocol.
final class CallbackCodec: LLMCodec, Sendable {
    let id: String
    let decodeBox: CallbackBox?
    let encodeBox: CallbackBox?
    let responseBox: CallbackBox?

    init(id: String, decode: CallbackBox?, encode: CallbackBox?, response: CallbackBox?) {
        self.id = id
        decodeBox = decode
        encodeBox = encode
        responseBox = response
    }

    /// Custom codec failures are wrapped the way the reference wraps them.
    private static func wrap(_ method: String, _ e: RelayError) -> RelayError {
        guard e.kind == .callback else { return e }
        let detail = e.exceptionType.map { "\($0): \(e.message)" } ?? e.message
        return .internalError("Codec \(method)() failed: \(detail)")
    }

    private func missing(_ method: String) -> RelayError {
        .invalidArgument("codec '\(id)' has no \(method) method")
    }

    func decodeRequest(_ request: LLMRequest, completion: @escaping Completion<JSON>) {
        guard let box = decodeBox else { return completion(.failure(missing("decode"))) }
        invoke(box, request.json, Continuation { completion($0.mapError { Self.wrap("decode", $0) }) }) {
            v throws(RelayError) in
            guard case .object = v else {
                throw .internalError(
                    "Codec decode() returned unexpected type (expected AnnotatedLLMRequest): \(v.kindName)")
            }
            return v
        }
    }

    func encodeRequest(_ annotated: JSON, original: LLMRequest, completion: @escaping Completion<LLMRequest>) {
        guard let box = encodeBox else { return completion(.failure(missing("encode"))) }
        invoke(
            box, ["annotated": annotated, "original": original.json],
            Continuation { completion($0.mapError { Self.wrap("encode", $0) }) }
        ) { v throws(RelayError) in
            guard case .object(let o) = v, o["content"] != nil else {
                throw .internalError("Codec encode() returned unexpected type (expected LlmRequest): \(v.kindName)")
            }
            return try LLMRequest(json: v)
        }
    }

    func decodeResponse(_ response: JSON, completion: @escaping Completion<JSON>) {
        guard let box = responseBox else { return completion(.failure(missing("decode_response"))) }
        invoke(box, response, Continuation { completion($0.mapError { Self.wrap("decode_response", $0) }) }) {
            v throws(RelayError) in
            guard case .object = v else {
                throw .internalError(
                    "Response codec decode_response() returned unexpected type (expected AnnotatedLLMResponse): \(v.kindName)"
                )
            }
            return v
        }
    }
}

/// Runs a completion-based operation and waits for it when it answers later.
/// How long a standalone codec call waits for a custom codec that answers later (NEMO_RELAY_PENDING).
let codecAnswerTimeoutNanos: Int64 = 10_000_000_000

private func waitFor<T>(_ start: (@escaping Completion<T>) -> Void) -> Result<T, RelayError> {
    let slot = ResultSlot<T>()
    start { r in
        slot.lock.withLock {
            slot.value = r
            slot.ready.broadcast()
        }
    }
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    let deadline = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + codecAnswerTimeoutNanos
    slot.lock.lock()
    while slot.value == nil {
        if !slot.ready.wait(slot.lock, untilMonotonic: deadline) && slot.value == nil {
            slot.lock.unlock()
            // The codec may still answer later; its answer then lands in the abandoned slot.
            return .failure(.timeout("the custom codec did not answer within 10 s"))
        }
    }
    let v = slot.value ?? .failure(.internalError("codec finished without a result"))
    slot.lock.unlock()
    return v
}

/// Where a waited-for result lands.
///
/// `@unchecked Sendable`: `lock` guards `value`; `ready` is signalled when it is set.
final class ResultSlot<T>: @unchecked Sendable {
    let lock = PThreadLock()
    let ready = PThreadCondition()
    var value: Result<T, RelayError>?
}

private func codecHandle(_ p: OpaquePointer?) throws -> any LLMCodec {
    guard p != nil else { throw FFIError.misuse("misuse: codec handle is NULL") }
    guard let c = HandleTable.shared.get(p, .codec, as: CodecRef.self) else {
        throw FFIError.misuse("misuse: codec handle is invalid or was freed")
    }
    return c.codec
}

@_cdecl("nemo_relay_codec_builtin")
public func nemo_relay_codec_builtin(_ out: OutHandle?, _ id: CString?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let id = try stringInput(id, "id")
        guard let c = BuiltinCodecs.named(id) else {
            throw RelayError.notFound(
                "codec '\(id)' is not a built-in codec (\(BuiltinCodecs.ids.joined(separator: ", ")))")
        }
        out.pointee = HandleTable.shared.insert(CodecRef(c), .codec)
    }
}

@_cdecl("nemo_relay_codec_new")
public func nemo_relay_codec_new(
    _ out: OutHandle?, _ id: CString?, _ cbs: UnsafePointer<nemo_relay_codec_callbacks_t>?
) -> Int32 {
    ffi {
        guard let cbs else { throw FFIError.invalid("callbacks must not be NULL") }
        let t = cbs.pointee
        // Take ownership of every user_data first, so each is freed exactly once whatever fails.
        func own(_ c: nemo_relay_callback_t) -> CallbackBox? {
            guard c.fn != nil else {
                c.user_data_free?(c.user_data)
                return nil
            }
            return try? CallbackBox(c)
        }
        let d = own(t.decode)
        let e = own(t.encode)
        let r = own(t.decode_response)
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        try checkVersion(t.version, NEMO_RELAY_CODEC_CALLBACKS_VERSION, "codec callbacks")
        let name = try stringInput(id, "id")
        guard d != nil || e != nil || r != nil else { throw FFIError.invalid("a codec needs at least one method") }
        out.pointee = HandleTable.shared.insert(
            CodecRef(CallbackCodec(id: name, decode: d, encode: e, response: r)), .codec)
    }
}

@_cdecl("nemo_relay_codec_free")
public func nemo_relay_codec_free(_ codec: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(codec, .codec)
}

@_cdecl("nemo_relay_codec_decode")
public func nemo_relay_codec_decode(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ codec: OpaquePointer?, _ req: CString?, _ len: Int
) -> Int32 {
    ffi {
        let c = try codecHandle(codec)
        guard let v = try jsonInput(req, len, "request") else { throw FFIError.invalid("request must not be NULL") }
        let request = try LLMRequest(json: v)
        let annotated = try waitFor { c.decodeRequest(request, completion: $0) }.get()
        try writeOut(annotated.serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_codec_encode")
public func nemo_relay_codec_encode(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ codec: OpaquePointer?, _ ann: CString?, _ annLen: Int,
    _ orig: CString?, _ origLen: Int
) -> Int32 {
    ffi {
        let c = try codecHandle(codec)
        guard let a = try jsonInput(ann, annLen, "annotated") else {
            throw FFIError.invalid("annotated must not be NULL")
        }
        guard let o = try jsonInput(orig, origLen, "original") else {
            throw FFIError.invalid("original must not be NULL")
        }
        let original = try LLMRequest(json: o)
        let encoded = try waitFor { c.encodeRequest(a, original: original, completion: $0) }.get()
        try writeOut(encoded.json.serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_codec_decode_response")
public func nemo_relay_codec_decode_response(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ codec: OpaquePointer?, _ resp: CString?, _ len: Int
) -> Int32 {
    ffi {
        let c = try codecHandle(codec)
        let response = try jsonInput(resp, len, "response") ?? .null
        let annotated = try waitFor { c.decodeResponse(response, completion: $0) }.get()
        try writeOut(annotated.serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_chunk_summary")
public func nemo_relay_chunk_summary(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ chunk: CString?, _ len: Int, _ index: UInt64
) -> Int32 {
    ffi {
        guard let v = try jsonInput(chunk, len, "chunk") else { throw FFIError.invalid("chunk must not be NULL") }
        guard index <= UInt64(Int.max) else { throw FFIError.invalid("chunk_index is out of range") }
        try writeOut(ChunkSummary.summarize(v, index: Int(index)).serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_annotated_request_queries")
public func nemo_relay_annotated_request_queries(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ annotated: CString?, _ len: Int
) -> Int32 {
    ffi {
        guard let v = try jsonInput(annotated, len, "annotated") else {
            throw FFIError.invalid("annotated must not be NULL")
        }
        guard case .object = v else { throw FFIError.invalid("annotated must be a JSON object, got \(v.kindName)") }
        try writeOut(AnnotatedRequestQueries.all(v).serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_codec_builtin_list")
public func nemo_relay_codec_builtin_list(_ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?) -> Int32 {
    ffi { try writeOut(BuiltinCodecs.listing.serialized(), out, outLen) }
}

@_cdecl("nemo_relay_annotated_request_check")
public func nemo_relay_annotated_request_check(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ fields: CString?, _ len: Int, _ flags: UInt32
) -> Int32 {
    ffi {
        guard let v = try jsonInput(fields, len, "fields") else { throw FFIError.invalid("fields must not be NULL") }
        guard case .object(let o) = v else { throw FFIError.invalid("fields must be a JSON object, got \(v.kindName)") }
        guard flags & ~UInt32(NEMO_RELAY_ANNOTATED_CHECK_CONSTRUCT) == 0 else {
            throw FFIError.invalid("unknown flags \(flags)")
        }
        let constructing = flags & UInt32(NEMO_RELAY_ANNOTATED_CHECK_CONSTRUCT) != 0
        let answer: JSON
        do throws(AnnotatedRequestCheck.Failure) {
            answer = ["fields": .object(try AnnotatedRequestCheck.check(o, constructing: constructing))]
        } catch {
            answer = ["error": ["kind": .string(error.kind.rawValue), "message": .string(error.message)]]
        }
        try writeOut(answer.serialized(), out, outLen)
    }
}
