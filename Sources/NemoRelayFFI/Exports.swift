// SPDX-License-Identifier: Apache-2.0
// The only @_cdecl code. Every body runs inside `ffi { }`, which maps every failure to a status:
// no Swift error or trap crosses the boundary.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

public typealias CString = UnsafePointer<CChar>
public typealias OutString = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
public typealias OutHandle = UnsafeMutablePointer<OpaquePointer?>

private let versionString = CStringConstant(NEMO_RELAY_VERSION_STRING)

// MARK: - Versions, errors, memory

@_cdecl("nemo_relay_version")
public func nemo_relay_version() -> CString { versionString.pointer }

@_cdecl("nemo_relay_version_number")
public func nemo_relay_version_number() -> Int32 { Int32(NEMO_RELAY_VERSION_NUMBER) }

private let statusNames: [Int32: CStringConstant] = {
    let names: [(Int32, String)] = [
        (Int32(NEMO_RELAY_OK), "NEMO_RELAY_OK"), (Int32(NEMO_RELAY_PENDING), "NEMO_RELAY_PENDING"),
        (Int32(NEMO_RELAY_E_INVALID_ARGUMENT), "NEMO_RELAY_E_INVALID_ARGUMENT"),
        (Int32(NEMO_RELAY_E_NOT_FOUND), "NEMO_RELAY_E_NOT_FOUND"),
        (Int32(NEMO_RELAY_E_ALREADY_EXISTS), "NEMO_RELAY_E_ALREADY_EXISTS"),
        (Int32(NEMO_RELAY_E_GUARDRAIL_REJECTED), "NEMO_RELAY_E_GUARDRAIL_REJECTED"),
        (Int32(NEMO_RELAY_E_INTERNAL), "NEMO_RELAY_E_INTERNAL"), (Int32(NEMO_RELAY_E_MISUSE), "NEMO_RELAY_E_MISUSE"),
        (Int32(NEMO_RELAY_E_CALLBACK), "NEMO_RELAY_E_CALLBACK"),
        (Int32(NEMO_RELAY_E_CANCELLED), "NEMO_RELAY_E_CANCELLED"),
        (Int32(NEMO_RELAY_E_INVALID_JSON), "NEMO_RELAY_E_INVALID_JSON"),
        (Int32(NEMO_RELAY_E_VERSION), "NEMO_RELAY_E_VERSION"), (Int32(NEMO_RELAY_E_TIMEOUT), "NEMO_RELAY_E_TIMEOUT"),
        (Int32(NEMO_RELAY_E_SCOPE_STACK_EMPTY), "NEMO_RELAY_E_SCOPE_STACK_EMPTY"),
        (Int32(NEMO_RELAY_E_FULL), "NEMO_RELAY_E_FULL"),
    ]
    var d: [Int32: CStringConstant] = [:]
    for (k, v) in names { d[k] = CStringConstant(v) }
    return d
}()
private let unknownStatus = CStringConstant("NEMO_RELAY_E_UNKNOWN")

@_cdecl("nemo_relay_status_str")
public func nemo_relay_status_str(_ status: Int32) -> CString {
    (statusNames[status] ?? unknownStatus).pointer
}

@_cdecl("nemo_relay_last_error_message")
public func nemo_relay_last_error_message() -> CString { LastError.message }

@_cdecl("nemo_relay_last_error_id")
public func nemo_relay_last_error_id() -> UInt64 { LastError.identityID }

@_cdecl("nemo_relay_free")
public func nemo_relay_free(_ p: UnsafeMutableRawPointer?) { free(p) }

// MARK: - Options init

func initOptions<T>(
    _ opts: UnsafeMutablePointer<T>?, _ version: UInt32, _ supported: Int32, _ what: String,
    _ value: T
) -> Int32 {
    ffi {
        guard let opts else { throw FFIError.invalid("\(what) must not be NULL") }
        try checkVersion(version, supported, what)
        opts.pointee = value
    }
}

@_cdecl("nemo_relay_runtime_options_init")
public func nemo_relay_runtime_options_init(_ o: UnsafeMutablePointer<nemo_relay_runtime_options_t>?, _ v: UInt32)
    -> Int32
{
    var d = nemo_relay_runtime_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_RUNTIME_OPTIONS_VERSION, "runtime options", d)
}

@_cdecl("nemo_relay_scope_options_init")
public func nemo_relay_scope_options_init(_ o: UnsafeMutablePointer<nemo_relay_scope_options_t>?, _ v: UInt32) -> Int32
{
    var d = nemo_relay_scope_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_SCOPE_OPTIONS_VERSION, "scope options", d)
}

@_cdecl("nemo_relay_mark_options_init")
public func nemo_relay_mark_options_init(_ o: UnsafeMutablePointer<nemo_relay_mark_options_t>?, _ v: UInt32) -> Int32 {
    var d = nemo_relay_mark_options_t()
    d.version = v
    d.severity = Int32(NEMO_RELAY_SEVERITY_NONE)
    return initOptions(o, v, NEMO_RELAY_MARK_OPTIONS_VERSION, "mark options", d)
}

@_cdecl("nemo_relay_llm_options_init")
public func nemo_relay_llm_options_init(_ o: UnsafeMutablePointer<nemo_relay_llm_options_t>?, _ v: UInt32) -> Int32 {
    var d = nemo_relay_llm_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_LLM_OPTIONS_VERSION, "LLM options", d)
}

@_cdecl("nemo_relay_llm_end_options_init")
public func nemo_relay_llm_end_options_init(_ o: UnsafeMutablePointer<nemo_relay_llm_end_options_t>?, _ v: UInt32)
    -> Int32
{
    var d = nemo_relay_llm_end_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_LLM_END_OPTIONS_VERSION, "LLM end options", d)
}

@_cdecl("nemo_relay_tool_options_init")
public func nemo_relay_tool_options_init(_ o: UnsafeMutablePointer<nemo_relay_tool_options_t>?, _ v: UInt32) -> Int32 {
    var d = nemo_relay_tool_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_TOOL_OPTIONS_VERSION, "tool options", d)
}

// MARK: - Runtime

@_cdecl("nemo_relay_runtime_new")
public func nemo_relay_runtime_new(_ out: OutHandle?, _ opts: UnsafePointer<nemo_relay_runtime_options_t>?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        var capacity = 65_536
        if let o = opts?.pointee {
            try checkVersion(o.version, NEMO_RELAY_RUNTIME_OPTIONS_VERSION, "runtime options")
            if o.subscriber_queue_capacity > 0 { capacity = Int(o.subscriber_queue_capacity) }
        }
        let rt = Runtime(subscriberOptions: SubscriberOptions(capacity: capacity))
        // Until a log callback is set, diagnostics go to the operational log (docs/logging.md).
        rt.setLogSink(OperationalLogger.runtimeSink)
        out.pointee = HandleTable.shared.insert(rt, .runtime)
    }
}

@_cdecl("nemo_relay_runtime_free")
public func nemo_relay_runtime_free(_ rt: OpaquePointer?) {
    LastError.clear()
    guard let r = HandleTable.shared.remove(rt, .runtime) as? Runtime else { return }
    r.shutdown(timeoutNanos: 5_000_000_000)
}

// MARK: - Stacks

@_cdecl("nemo_relay_stack_new")
public func nemo_relay_stack_new(_ out: OutHandle?, _ parent: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let s: ScopeStack
        if parent != nil {
            s = ScopeStack(forkingFrom: try stackArg(parent))
        } else {
            s = ScopeStack()
        }
        out.pointee = HandleTable.shared.insert(StackRef(s), .stack)
    }
}

@_cdecl("nemo_relay_stack_thread_default")
public func nemo_relay_stack_thread_default(_ out: OutHandle?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        out.pointee = HandleTable.shared.insert(StackRef(ScopeStack.current), .stack)
    }
}

@_cdecl("nemo_relay_stack_set_thread_default")
public func nemo_relay_stack_set_thread_default(_ stack: OpaquePointer?) -> Int32 {
    ffi {
        if stack == nil {
            ScopeStack.setCurrent(nil)
        } else {
            ScopeStack.setCurrent(try stackArg(stack))
        }
    }
}

@_cdecl("nemo_relay_stack_free")
public func nemo_relay_stack_free(_ stack: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(stack, .stack)
}

// MARK: - Scopes and marks

private func time(_ has: Bool, _ ns: Int64) -> Nanoseconds? { has ? ns : nil }

@_cdecl("nemo_relay_scope_begin")
public func nemo_relay_scope_begin(
    _ out: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ type: Int32,
    _ opts: UnsafePointer<nemo_relay_scope_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let name = try stringInput(name, "name")
        guard let t = ScopeType(rawValue: type) else { throw FFIError.invalid("unknown scope type \(type)") }
        var o = nemo_relay_scope_options_t()
        if let opts {
            o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_SCOPE_OPTIONS_VERSION, "scope options")
        }
        let parent = try optionalScopeArg(o.parent)
        try checkOwner(parent, rt, "parent")
        let h = rt.pushScope(
            name, type: t, stack: stack, parent: parent, attributes: o.attributes,
            data: try jsonInput(o.data, o.data_len, "data") ?? .null,
            metadata: try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null,
            input: try jsonInput(o.payload, o.payload_len, "input") ?? .null,
            timestamp: time(o.has_timestamp, o.timestamp_ns))
        out.pointee = HandleTable.shared.insert(h, .scope)
    }
}

@_cdecl("nemo_relay_scope_end")
public func nemo_relay_scope_end(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ scope: OpaquePointer?,
    _ opts: UnsafePointer<nemo_relay_scope_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let h = try scopeArg(scope)
        try checkOwner(h, rt)
        var o = nemo_relay_scope_options_t()
        if let opts {
            o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_SCOPE_OPTIONS_VERSION, "scope options")
        }
        try rt.popScope(
            h, stack: stack, output: try jsonInput(o.payload, o.payload_len, "output") ?? .null,
            metadata: try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null,
            timestamp: time(o.has_timestamp, o.timestamp_ns))
    }
}

@_cdecl("nemo_relay_scope_current")
public func nemo_relay_scope_current(_ out: OutHandle?, _ stackp: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        out.pointee = HandleTable.shared.insert(try stackArg(stackp).top, .scope)
    }
}

@_cdecl("nemo_relay_scope_info")
public func nemo_relay_scope_info(_ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ scope: OpaquePointer?)
    -> Int32
{
    ffi {
        let h = try scopeArg(scope)
        let kind: String
        switch h.kind {
        case .scope: kind = "scope"
        case .llm: kind = "llm"
        case .tool: kind = "tool"
        case .guardrail: kind = "guardrail"
        }
        let info: JSON = [
            "uuid": .string(h.uuid.description), "name": .string(h.name), "kind": .string(kind),
            "scope_type": .int(Int64(h.scopeType.rawValue)), "attributes": .int(Int64(h.attributes)),
            "parent_uuid": h.parentUUID.map { .string($0.description) } ?? .null, "data": h.data,
            "metadata": h.metadata, "start_time_ns": .string(String(h.startTime)),
            "model_name": h.modelName.map(JSON.string) ?? .null,
            "tool_call_id": h.toolCallID.map(JSON.string) ?? .null, "ended": .bool(h.isPopped),
        ]
        try writeOut(info.serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_scope_free")
public func nemo_relay_scope_free(_ scope: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(scope, .scope)
}

@_cdecl("nemo_relay_mark")
public func nemo_relay_mark(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ opts: UnsafePointer<nemo_relay_mark_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let name = try stringInput(name, "name")
        var o = nemo_relay_mark_options_t()
        o.severity = Int32(NEMO_RELAY_SEVERITY_NONE)
        if let opts {
            o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_MARK_OPTIONS_VERSION, "mark options")
        }
        var severity: LogLevel? = nil
        if o.severity != Int32(NEMO_RELAY_SEVERITY_NONE) {
            guard let s = LogLevel(rawValue: o.severity) else {
                throw FFIError.invalid("unknown severity \(o.severity)")
            }
            severity = s
        }
        let parent = try optionalScopeArg(o.parent)
        try checkOwner(parent, rt, "parent")
        rt.mark(
            name, stack: stack, parent: parent,
            data: try jsonInput(o.data, o.data_len, "data") ?? .null,
            dataSchema: try jsonInput(o.data_schema, o.data_schema_len, "data_schema").nonNull,
            metadata: try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null, severity: severity,
            timestamp: time(o.has_timestamp, o.timestamp_ns))
    }
}

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
    p.timestamp = time(o.has_timestamp, o.timestamp_ns)
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
            p.timestamp = time(o.has_timestamp, o.timestamp_ns)
        }
        rt.llmCallEnd(h, p, stack: stack)
    }
}

/// Starts a managed call: on a start failure both callbacks' destructors run and `done` is not called.
private func startManaged(
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

// MARK: - Tools

private func toolParams(_ name: String, _ args: JSON, _ opts: UnsafePointer<nemo_relay_tool_options_t>?) throws
    -> ToolCallParams
{
    var p = ToolCallParams(name: name, args: args)
    guard let opts else { return p }
    let o = opts.pointee
    try checkVersion(o.version, NEMO_RELAY_TOOL_OPTIONS_VERSION, "tool options")
    p.parent = try optionalScopeArg(o.parent)
    p.attributes = o.attributes
    p.data = try jsonInput(o.data, o.data_len, "data") ?? .null
    p.metadata = try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null
    p.toolCallID = try optionalString(o.tool_call_id, "tool_call_id")
    p.timestamp = time(o.has_timestamp, o.timestamp_ns)
    return p
}

@_cdecl("nemo_relay_tool_call")
public func nemo_relay_tool_call(
    _ out: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?,
    _ argsLen: Int, _ opts: UnsafePointer<nemo_relay_tool_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try toolParams(try stringInput(name, "name"), try jsonInput(args, argsLen, "args") ?? .null, opts)
        try checkOwner(p.parent, rt, "parent")
        out.pointee = HandleTable.shared.insert(rt.toolCall(p, stack: stack), .scope)
    }
}

@_cdecl("nemo_relay_tool_call_end")
public func nemo_relay_tool_call_end(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ tool: OpaquePointer?, _ result: CString?, _ resultLen: Int,
    _ opts: UnsafePointer<nemo_relay_tool_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let h = try scopeArg(tool, "tool")
        try checkOwner(h, rt, "tool")
        guard h.kind == .tool else { throw FFIError.invalid("handle is not a tool call") }
        var r: ToolResult? = nil
        if let v = try jsonInput(result, resultLen, "result"), !v.isNull {
            r = try toolResultFromJSON(v, "tool_call_end result")
        }
        var data = JSON.null
        var metadata = JSON.null
        var ts: Nanoseconds? = nil
        if let opts {
            let o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_TOOL_OPTIONS_VERSION, "tool options")
            data = try jsonInput(o.data, o.data_len, "data") ?? .null
            metadata = try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null
            ts = time(o.has_timestamp, o.timestamp_ns)
        }
        rt.toolCallEnd(h, result: r, data: data, metadata: metadata, timestamp: ts, stack: stack)
    }
}

@_cdecl("nemo_relay_tool_execute")
public func nemo_relay_tool_execute(
    _ outCall: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?,
    _ argsLen: Int, _ opts: UnsafePointer<nemo_relay_tool_options_t>?, _ tool: UnsafePointer<nemo_relay_callback_t>?,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    if outCall != nil { outCall!.pointee = nil }
    return startManaged(outCall, tool, done) { tbox, dbox, control in
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try toolParams(try stringInput(name, "name"), try jsonInput(args, argsLen, "args") ?? .null, opts)
        try checkOwner(p.parent, rt, "parent")
        rt.toolExecute(p, stack: stack, control: control, tool: Adapt.tool(tbox)) { r in
            dbox.call(r.map(toolResultJSON))
        }
    }
}

// MARK: - Middleware

@_cdecl("nemo_relay_register")
public func nemo_relay_register(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ kind: Int32, _ name: CString?, _ priority: Int32,
    _ flags: UInt32, _ cb: UnsafePointer<nemo_relay_callback_t>?
) -> Int32 {
    ffi {
        let box = try callbackArg(cb, "callback")
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        let name = try stringInput(name, "name")
        guard let k = MiddlewareKind(rawValue: kind) else { throw FFIError.invalid("unknown middleware kind \(kind)") }
        let brk = flags & UInt32(NEMO_RELAY_BREAK_CHAIN) != 0
        switch k {
        case .llmConditionalExecution:
            try rt.registerLLMConditionalGuardrail(name, priority: priority, scope: scope, Adapt.llmConditional(box))
        case .llmRequestIntercept:
            try rt.registerLLMRequestIntercept(
                name, priority: priority, breakChain: brk, scope: scope, Adapt.llmRequest(box))
        case .llmExecutionIntercept:
            try rt.registerLLMExecutionIntercept(name, priority: priority, scope: scope, Adapt.llmExecution(box))
        case .llmStreamExecutionIntercept:
            try rt.registerLLMStreamExecutionIntercept(
                name, priority: priority, scope: scope, Adapt.llmStreamExecution(box))
        case .llmSanitizeRequest:
            try rt.registerLLMSanitizeRequest(name, priority: priority, scope: scope, Adapt.llmSanitizeRequest(box))
        case .llmSanitizeResponse:
            try rt.registerLLMSanitizeResponse(name, priority: priority, scope: scope, Adapt.llmSanitizeResponse(box))
        case .toolConditionalExecution:
            try rt.registerToolConditionalGuardrail(name, priority: priority, scope: scope, Adapt.toolConditional(box))
        case .toolRequestIntercept:
            try rt.registerToolRequestIntercept(
                name, priority: priority, breakChain: brk, scope: scope, Adapt.toolRequest(box))
        case .toolExecutionIntercept:
            try rt.registerToolExecutionIntercept(name, priority: priority, scope: scope, Adapt.toolExecution(box))
        case .toolSanitizeRequest:
            try rt.registerToolSanitizeRequest(
                name, priority: priority, scope: scope, Adapt.toolSanitize(box, key: "args"))
        case .toolSanitizeResponse:
            try rt.registerToolSanitizeResponse(
                name, priority: priority, scope: scope, Adapt.toolSanitize(box, key: "result"))
        case .markSanitize:
            try rt.registerEventSanitizer(.mark, name, priority: priority, scope: scope, Adapt.eventSanitize(box))
        case .scopeStartSanitize:
            try rt.registerEventSanitizer(.scopeStart, name, priority: priority, scope: scope, Adapt.eventSanitize(box))
        case .scopeEndSanitize:
            try rt.registerEventSanitizer(.scopeEnd, name, priority: priority, scope: scope, Adapt.eventSanitize(box))
        case .metadataInjector:
            try rt.registerMetadataInjector(name, priority: priority, scope: scope, Adapt.metadataInjector(box))
        }
    }
}

@_cdecl("nemo_relay_deregister")
public func nemo_relay_deregister(
    _ out: UnsafeMutablePointer<Bool>?, _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ kind: Int32, _ name: CString?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        let name = try stringInput(name, "name")
        guard let k = MiddlewareKind(rawValue: kind) else { throw FFIError.invalid("unknown middleware kind \(kind)") }
        let removed = try rt.deregister(k, name: name, scope: scope)
        out?.pointee = removed
    }
}

// MARK: - Subscribers

/// Registers `deliver` as a lane; a missing fn frees the user data at once.
private func registerLane(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?, _ hasFn: Bool,
    _ ud: UnsafeMutableRawPointer?, _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
    _ deliver: @escaping (UserData) -> BatchSubscriber
) -> Int32 {
    ffi {
        let box = UserData(ud, udFree)
        guard hasFn else { throw FFIError.invalid("subscriber fn must not be NULL") }
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        try rt.registerBatchSubscriber(name: try stringInput(name, "name"), scope: scope, deliver(box))
    }
}

/// A subscriber's user data; its destructor runs after the last delivery (or at once on a failed registration).
///
/// `@unchecked Sendable`: immutable, as ``CallbackBox``.
final class UserData: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer?
    let free: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?

    init(_ p: UnsafeMutableRawPointer?, _ f: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) {
        pointer = p
        free = f
    }

    deinit { free?(pointer) }
}

@_cdecl("nemo_relay_subscriber_register")
public func nemo_relay_subscriber_register(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?, _ fn: nemo_relay_subscriber_fn?,
    _ ud: UnsafeMutableRawPointer?, _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
) -> Int32 {
    registerLane(rtp, owner, name, fn != nil, ud, udFree) { box in
        { batch in
            guard let fn else { return }
            for r in batch { withCBytes(r.bytes) { p, n in fn(p, n, box.pointer) } }
        }
    }
}

@_cdecl("nemo_relay_subscriber_register_batch")
public func nemo_relay_subscriber_register_batch(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?, _ fn: nemo_relay_subscriber_batch_fn?,
    _ ud: UnsafeMutableRawPointer?, _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
) -> Int32 {
    registerLane(rtp, owner, name, fn != nil, ud, udFree) { box in
        { batch in
            guard let fn else { return }
            var lines: [UInt8] = []
            lines.reserveCapacity(batch.count * 512)
            for r in batch {
                lines.append(contentsOf: r.bytes)
                lines.append(0x0A)
            }
            withCBytes(lines) { p, n in fn(p, n, batch.count, box.pointer) }
        }
    }
}

@_cdecl("nemo_relay_subscriber_deregister")
public func nemo_relay_subscriber_deregister(
    _ out: UnsafeMutablePointer<Bool>?, _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        let name = try stringInput(name, "name")
        let removed: Bool
        if let scope {
            removed = try rt.deregisterSubscriber(scope: scope, name: name)
        } else {
            removed = rt.deregisterSubscriber(name: name)
        }
        out?.pointee = removed
    }
}

@_cdecl("nemo_relay_flush")
public func nemo_relay_flush(_ rtp: OpaquePointer?, _ timeout: Int64) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        if !rt.flush(timeoutNanos: timeout < 0 ? nil : timeout) {
            throw FFIError(Int32(NEMO_RELAY_E_TIMEOUT), "flush timed out before every queued event was delivered")
        }
    }
}

@_cdecl("nemo_relay_dropped_events")
public func nemo_relay_dropped_events(_ out: UnsafeMutablePointer<UInt64>?, _ rtp: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        out.pointee = try runtimeArg(rtp).droppedEvents
    }
}
