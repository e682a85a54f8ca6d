// SPDX-License-Identifier: Apache-2.0
// LLM calls, tokens and the inputs they share with tool calls.
// Every body runs inside `ffi { }`, which maps every failure to a status: no Swift error or trap crosses it.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Calls

/// A managed call in flight, for cancellation.
final class CallRef: Sendable {
    let control: CallControl
    init(_ c: CallControl) { control = c }
}

@_cdecl("nemo_relay_call_cancel")
public func nemo_relay_call_cancel(_ call: OpaquePointer?) -> Int32 {
    ffi {
        guard let c = HandleTable.shared.get(call, .call, as: CallRef.self) else {
            throw FFIError.misuse("misuse: call handle is invalid or was freed")
        }
        c.control.cancel()
    }
}

@_cdecl("nemo_relay_call_free")
public func nemo_relay_call_free(_ call: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(call, .call)
}

@_cdecl("nemo_relay_complete")
public func nemo_relay_complete(_ tokenp: OpaquePointer?, _ status: Int32, _ json: CString?, _ len: Int) -> Int32 {
    ffi {
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.misuse("misuse: token is invalid or was already completed")
        }
        if status == Int32(NEMO_RELAY_OK) {
            let v: JSON
            do {
                v = try jsonInput(json, len, "callback result") ?? .null
            } catch let e as FFIError {
                _ = token.finish(.failure(.callback(nil, e.message)))
                throw e
            }
            guard token.finish(.success(v)) else {
                throw FFIError.misuse("misuse: token was already completed or its call was cancelled")
            }
        } else {
            guard token.finish(.failure(callbackError(json, len, status: status))) else {
                throw FFIError.misuse("misuse: token was already completed or its call was cancelled")
            }
        }
    }
}

@_cdecl("nemo_relay_complete_failure")
public func nemo_relay_complete_failure(
    _ tokenp: OpaquePointer?, _ status: Int32, _ json: CString?, _ len: Int,
    _ id: UnsafePointer<nemo_relay_failure_id_t>?
) -> Int32 {
    guard let id else { return nemo_relay_complete(tokenp, status, json, len) }
    // Owned from here on: released when the failure goes, or below when it is never recorded.
    let identity = failureIdentity(id.pointee)
    return ffi {
        guard status != Int32(NEMO_RELAY_OK), status != Int32(NEMO_RELAY_PENDING) else {
            throw FFIError.invalid("nemo_relay_complete_failure needs a failure status")
        }
        guard identity.id != 0 else { throw FFIError.invalid("failure id must not be 0") }
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.misuse("misuse: token is invalid or was already completed")
        }
        var e = callbackError(json, len, status: status)
        e.identity = identity
        guard token.finish(.failure(e)) else {
            throw FFIError.misuse("misuse: token was already completed or its call was cancelled")
        }
    }
}

@_cdecl("nemo_relay_token_next")
public func nemo_relay_token_next(
    _ tokenp: OpaquePointer?, _ json: CString?, _ len: Int, _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    var box: DoneBox?
    let rc = ffi {
        guard let done else { throw FFIError.invalid("done must not be NULL") }
        box = try DoneBox(done.pointee)
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.invalid("execution continuation is no longer active")
        }
        guard let next = token.next else { throw FFIError.invalid("this token has no next step") }
        let input = try jsonInput(json, len, "next input") ?? .null
        guard let b = box else { return }
        box = nil
        try next(input, b)
    }
    return rc
}

@_cdecl("nemo_relay_token_enter")
public func nemo_relay_token_enter(_ tokenp: OpaquePointer?) -> Int32 {
    ffi {
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self), !token.done.load(ordering: .acquiring)
        else { throw FFIError.misuse("misuse: token is invalid or was already completed") }
        EmissionContext.enter(token.emission, owner: UInt(bitPattern: tokenp))
    }
}

@_cdecl("nemo_relay_token_leave")
public func nemo_relay_token_leave(_ tokenp: OpaquePointer?) {
    LastError.clear()
    EmissionContext.leave(owner: UInt(bitPattern: tokenp))
}

@_cdecl("nemo_relay_token_on_cancel")
public func nemo_relay_token_on_cancel(_ tokenp: OpaquePointer?, _ notice: UnsafePointer<nemo_relay_done_t>?)
    -> Int32
{
    ffi {
        guard let notice else { throw FFIError.invalid("notice must not be NULL") }
        // Boxed first: on any failure below the box's destructor runs `user_data_free` at once.
        let box = try DoneBox(notice.pointee)
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.misuse("misuse: token is invalid or was already completed")
        }
        let added = token.onCancel { e in
            box.call(Int32(NEMO_RELAY_E_CANCELLED), Array(e.displayText.utf8))
        }
        if !added { throw FFIError.misuse("misuse: token is invalid or was already completed") }
    }
}

func callbackArg(_ p: UnsafePointer<nemo_relay_callback_t>?, _ what: String) throws -> CallbackBox {
    guard let p else { throw FFIError.invalid("\(what) must not be NULL") }
    return try CallbackBox(p.pointee)
}

func codecArg(_ p: OpaquePointer?) throws -> (any LLMCodec)? {
    guard p != nil else { return nil }
    guard let c = HandleTable.shared.get(p, .codec, as: CodecRef.self) else {
        throw FFIError.misuse("misuse: codec handle is invalid or was freed")
    }
    return c.codec
}

/// A codec held by a C handle.
final class CodecRef: Sendable {
    let codec: any LLMCodec
    init(_ c: any LLMCodec) { codec = c }
}

func llmParams(_ name: String, _ req: LLMRequest, _ opts: UnsafePointer<nemo_relay_llm_options_t>?) throws
    -> LLMCallParams
{
    var p = LLMCallParams(name: name, request: req)
    guard let opts else { return p }
    let o = opts.pointee
    try checkVersion(o.version, NEMO_RELAY_LLM_OPTIONS_VERSION, "LLM options")
    p.parent = try optionalScopeArg(o.parent)
    p.attributes = o.attributes
    p.data = try jsonInput(o.data, o.data_len, "data") ?? .null
    p.metadata = try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null
    p.modelName = try optionalString(o.model_name, "model_name")
    p.annotatedRequest = try jsonInput(o.annotated_request, o.annotated_request_len, "annotated_request").nonNull
    p.codec = try codecArg(o.codec)
    p.responseCodec = try codecArg(o.response_codec)
    p.timestamp = optionalTime(o.has_timestamp, o.timestamp_ns)
    return p
}

func requestArg(_ json: CString?, _ len: Int) throws -> LLMRequest {
    guard let v = try jsonInput(json, len, "request") else { throw FFIError.invalid("request must not be NULL") }
    return try LLMRequest(json: v)
}

@_cdecl("nemo_relay_llm_call")
public func nemo_relay_llm_call(
    _ out: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ req: CString?,
    _ reqLen: Int, _ opts: UnsafePointer<nemo_relay_llm_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try llmParams(try stringInput(name, "name"), try requestArg(req, reqLen), opts)
        try checkOwner(p.parent, rt, "parent")
        out.pointee = HandleTable.shared.insert(rt.llmCall(p, stack: stack), .scope)
    }
}

@_cdecl("nemo_relay_llm_call_end")
public func nemo_relay_llm_call_end(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ llm: OpaquePointer?, _ resp: CString?, _ respLen: Int,
    _ opts: UnsafePointer<nemo_relay_llm_end_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let h = try scopeArg(llm, "LLM")
        try checkOwner(h, rt, "LLM")
        guard h.kind == .llm else { throw FFIError.invalid("handle is not an LLM call") }
        var p = LLMCallEndParams(response: try jsonInput(resp, respLen, "response") ?? .null)
        if let opts {
            let o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_LLM_END_OPTIONS_VERSION, "LLM end options")
            p.data = try jsonInput(o.data, o.data_len, "data") ?? .null
            p.metadata = try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null
            p.annotatedResponse = try jsonInput(o.annotated_response, o.annotated_response_len, "annotated_response")
                .nonNull
            p.responseCodec = try codecArg(o.response_codec)
            p.timestamp = optionalTime(o.has_timestamp, o.timestamp_ns)
        }
        rt.llmCallEnd(h, p, stack: stack)
    }
}

/// Starts a managed call: on a start failure both callbacks' destructors run and `done` is not called.
func startManaged(
    _ outCall: OutHandle?, _ provider: UnsafePointer<nemo_relay_callback_t>?, _ done: UnsafePointer<nemo_relay_done_t>?,
    _ body: (CallbackBox, DoneBox, CallControl) throws -> Void
) -> Int32 {
    ffi {
        var pbox: CallbackBox?
        var dbox: DoneBox?
        do {
            pbox = try callbackArg(provider, "provider")
            guard let done else { throw FFIError.invalid("done must not be NULL") }
            dbox = try DoneBox(done.pointee)
        } catch {
            if dbox == nil, let d = done?.pointee, d.fn != nil { d.user_data_free?(d.user_data) }
            throw error
        }
        let control = CallControl()
        guard let pbox, let dbox else { throw FFIError.invalid("callbacks are missing") }
        try body(pbox, dbox, control)
        if let outCall { outCall.pointee = HandleTable.shared.insert(CallRef(control), .call) }
    }
}

@_cdecl("nemo_relay_llm_execute")
public func nemo_relay_llm_execute(
    _ outCall: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ req: CString?,
    _ reqLen: Int, _ opts: UnsafePointer<nemo_relay_llm_options_t>?, _ provider: UnsafePointer<nemo_relay_callback_t>?,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    if outCall != nil { outCall!.pointee = nil }
    return startManaged(outCall, provider, done) { pbox, dbox, control in
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try llmParams(try stringInput(name, "name"), try requestArg(req, reqLen), opts)
        try checkOwner(p.parent, rt, "parent")
        rt.llmExecute(p, stack: stack, control: control, provider: Adapt.provider(pbox)) { r in dbox.call(r) }
    }
}
