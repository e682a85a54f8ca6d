// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Owned callbacks

/// A C callback with its user data; the user data's destructor runs when the last reference goes.
///
/// `@unchecked Sendable`: immutable; the C function pointers and the opaque user data are never written
/// after `init`, and the C contract (include/nemo_relay.h, Threads) lets callbacks run on any thread.
final class CallbackBox: @unchecked Sendable {
    let fn: nemo_relay_callback_fn
    let userData: UnsafeMutableRawPointer?
    let userDataFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?

    init(_ cb: nemo_relay_callback_t) throws {
        guard let fn = cb.fn else {
            cb.user_data_free?(cb.user_data)
            throw FFIError.invalid("callback fn must not be NULL")
        }
        self.fn = fn
        userData = cb.user_data
        userDataFree = cb.user_data_free
    }

    deinit { userDataFree?(userData) }
}

/// A done callback, called at most once; its destructor runs afterwards.
///
/// `@unchecked Sendable`: immutable, as ``CallbackBox``.
final class DoneBox: @unchecked Sendable {
    let fn: nemo_relay_done_fn
    let userData: UnsafeMutableRawPointer?
    let userDataFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?

    init(_ d: nemo_relay_done_t) throws {
        guard let fn = d.fn else {
            d.user_data_free?(d.user_data)
            throw FFIError.invalid("done fn must not be NULL")
        }
        self.fn = fn
        userData = d.user_data
        userDataFree = d.user_data_free
    }

    deinit { userDataFree?(userData) }

    func call(_ status: Int32, _ bytes: [UInt8]) {
        withCBytes(bytes) { p, n in fn(status, p, n, userData) }
    }

    func call(_ r: Result<JSON, RelayError>) {
        switch r {
        case .success(let v): call(Int32(NEMO_RELAY_OK), v.serialized())
        case .failure(let e):
            // While `fn` runs, the thread's last error is this failure: nemo_relay_last_error_id() reads its id.
            LastError.set(e.displayText, identity: e.identity)
            call(e.status, Array(e.kind == .callback ? e.message.utf8 : e.displayText.utf8))
            LastError.clear()
        }
    }
}

/// Reads a callback's failure payload: `{"type", "message"}` JSON (with an optional `"qualname"`), or
/// plain text.
func callbackError(_ p: UnsafePointer<CChar>?, _ len: Int, status: Int32) -> RelayError {
    guard let p, len > 0 else {
        return .callback(nil, "callback failed with \(String(cString: nemo_relay_status_str(status)))")
    }
    let bytes = p.withMemoryRebound(to: UInt8.self, capacity: len) { Array(UnsafeBufferPointer(start: $0, count: len)) }
    if case .object(let o)? = try? JSON.parse(bytes), let m = o["message"]?.stringValue {
        return .callback(o["type"]?.stringValue, m, qualifiedName: o["qualname"]?.stringValue)
    }
    return .callback(nil, String(decoding: bytes, as: UTF8.self))
}

/// The user data of a ``nemo_relay_failure_id_t``, released with the failure.
///
/// `@unchecked Sendable`: immutable; the C contract lets `user_data_free` run on any thread.
private final class FailureUserData: @unchecked Sendable {
    let userData: UnsafeMutableRawPointer?
    let userDataFree: Free

    typealias Free = @convention(c) (UnsafeMutableRawPointer?) -> Void

    init(_ userData: UnsafeMutableRawPointer?, _ userDataFree: @escaping Free) {
        self.userData = userData
        self.userDataFree = userDataFree
    }

    func free() { userDataFree(userData) }
}

/// The ``FailureIdentity`` of a C failure id: its `user_data_free` runs when the last error holding it goes.
func failureIdentity(_ f: nemo_relay_failure_id_t) -> FailureIdentity {
    guard let release = f.user_data_free else { return FailureIdentity(id: f.id, release: nil) }
    let ud = FailureUserData(f.user_data, release)
    return FailureIdentity(id: f.id, release: { ud.free() })
}

// MARK: - Tokens

/// The completion token of one callback invocation.
///
/// `@unchecked Sendable`: `done` (atomic exchange) admits the one completion; `handle`, `producer`,
/// `nextStream` and `call` are set by ``invoke`` before the token's handle is published to C (through the handle table's lock)
/// and only read afterwards.
final class Token: @unchecked Sendable {
    private let resume: (Result<JSON, RelayError>) -> Bool
    /// Cancels the callback's continuation (its notices run); false once it resumed or was cancelled.
    private let cancelContinuation: (RelayError) -> Bool
    /// Adds a cancellation notice to the callback's continuation (``Continuation/onCancel(_:)``).
    let onCancel: (@escaping @Sendable (RelayError) -> Void) -> Bool
    /// The inner layers, for execution-intercept tokens.
    let next: ((JSON, DoneBox) throws -> Void)?
    let done = Atomic<Bool>(false)
    var handle: OpaquePointer?
    /// The output of a stream provider or stream execution intercept.
    var producer: LLMStreamSink?
    /// The inner layers as a stream the intercept reads, for stream execution intercept tokens
    /// (``nemo_relay_token_next_stream``).
    var nextStream: ((LLMRequest, LLMStreamOptions) throws -> LLMStream)?
    /// The managed LLM or tool call a provider, tool or execution-intercept token belongs to.
    var call: ScopeHandle?
    /// The event whose injector or sanitizer received this token (``nemo_relay_token_enter``).
    var emission: EmissionContext?

    init(
        resume: @escaping (Result<JSON, RelayError>) -> Bool, cancel: @escaping (RelayError) -> Bool,
        onCancel: @escaping (@escaping @Sendable (RelayError) -> Void) -> Bool, next: ((JSON, DoneBox) throws -> Void)?
    ) {
        self.resume = resume
        self.cancelContinuation = cancel
        self.onCancel = onCancel
        self.next = next
    }

    /// Completes once; false when it was already completed or its call was cancelled.
    func finish(_ r: Result<JSON, RelayError>) -> Bool {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        HandleTable.shared.remove(handle, .token)
        return resume(r)
    }

    /// Completes once as cancelled, running the continuation's cancellation notices; false when it was
    /// already completed or cancelled.
    func cancel() -> Bool {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        HandleTable.shared.remove(handle, .token)
        return cancelContinuation(RelayError(.cancelled, "cancelled"))
    }
}

/// Calls a C callback with `input` and routes its answer, now or later, into `c` through `map`.
func invoke<T>(
    _ box: CallbackBox, _ input: JSON, _ c: Continuation<T>, next: ((JSON, DoneBox) throws -> Void)? = nil,
    nextStream: ((LLMRequest, LLMStreamOptions) throws -> LLMStream)? = nil, producer: LLMStreamSink? = nil,
    managed: Bool = false, map: @escaping (JSON) throws(RelayError) -> T
) {
    let token = Token(
        resume: { r in
            switch r {
            case .success(let v):
                do throws(RelayError) { return c.resume(returning: try map(v)) } catch {
                    return c.resume(throwing: error)
                }
            case .failure(let e): return c.resume(throwing: e)
            }
        }, cancel: { c.cancel($0) }, onCancel: { c.onCancel($0) }, next: next)
    let h = HandleTable.shared.insert(token, .token)
    token.handle = h
    token.nextStream = nextStream
    if managed { token.call = ActiveCall.current?.handle }
    token.emission = EmissionContext.capture()
    if let producer {
        token.producer = producer
        // Closing the stream completes a pending producer token as cancelled.
        producer.onCancel { [weak token] in _ = token?.cancel() }
    }
    let bytes = input.serialized()
    let rc = withCBytes(bytes) { p, n in box.fn(h, p, n, box.userData) }
    if rc == Int32(NEMO_RELAY_PENDING) || token.done.load(ordering: .acquiring) { return }
    if rc == Int32(NEMO_RELAY_OK) {
        _ = token.finish(.failure(.callback(nil, "callback returned NEMO_RELAY_OK without completing its token")))
    } else {
        _ = token.finish(.failure(.callback(nil, "callback failed with \(String(cString: nemo_relay_status_str(rc)))")))
    }
}

/// The answer of a callback that completed before returning.
final class SyncAnswer: Sendable {
    private let slot = Mutex<Result<JSON, RelayError>?>(nil)
    var value: Result<JSON, RelayError>? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}

// MARK: - JSON shapes of callback results

func unexpected(_ what: String, _ v: JSON) -> RelayError {
    .internalError("\(what) returned unexpected type: \(v.kindName)")
}

func requestFromJSON(_ v: JSON, _ what: String) throws(RelayError) -> LLMRequest {
    guard case .object = v else { throw unexpected(what, v) }
    return try LLMRequest(json: v)
}

func pendingMarks(_ v: JSON?) throws(RelayError) -> [PendingMark] {
    guard let v, !v.isNull else { return [] }
    guard case .array(let a) = v else { throw .invalidArgument("pending_marks must be an array") }
    var out: [PendingMark] = []
    for m in a {
        guard case .object(let o) = m, let name = o["name"]?.stringValue else {
            throw .invalidArgument("pending mark must be an object with a string name")
        }
        out.append(
            PendingMark(
                name: name, category: o["category"]?.stringValue,
                categoryProfile: o["category_profile"].nonNull, data: o["data"] ?? .null,
                metadata: o["metadata"] ?? .null, dataSchema: o["data_schema"].nonNull,
                severity: o["severity"]?.stringValue))
    }
    return out
}

func toolResultFromJSON(_ v: JSON, _ what: String) throws(RelayError) -> ToolResult {
    guard case .object(let o) = v, o.contains("result") else {
        throw .invalidArgument("\(what) must return {\"result\": ..., \"annotation\": ...}; got \(v.kindName)")
    }
    let ann = o["annotation"].nonNull
    return ToolResult(result: o["result"] ?? .null, annotation: ann, pendingMarks: try pendingMarks(o["pending_marks"]))
}

func toolResultJSON(_ r: ToolResult) -> JSON {
    ["result": r.result, "annotation": r.annotation ?? .null]
}

func eventJSON(_ e: Event) -> JSON { e.json }

// MARK: - Adapters from C callbacks to core middleware

enum Adapt {
    static func provider(_ box: CallbackBox) -> LLMProvider {
        { req, c in invoke(box, req.json, c, managed: true) { v throws(RelayError) in v } }
    }

    static func tool(_ box: CallbackBox) -> ToolFunction {
        { args, c in
            invoke(box, args, c, managed: true) { v throws(RelayError) in
                try toolResultFromJSON(v, "tool execution callback")
            }
        }
    }

    static func llmConditional(_ box: CallbackBox) -> LLMConditionalGuardrail {
        { req, c in
            invoke(box, ["request": req.json], c) { v throws(RelayError) -> String? in
                switch v {
                case .null: return nil
                case .string(let s): return s
                default: throw unexpected("LLM conditional guardrail", v)
                }
            }
        }
    }

    static func toolConditional(_ box: CallbackBox) -> ToolConditionalGuardrail {
        { name, args, c in
            invoke(box, ["tool_name": .string(name), "args": args], c) { v throws(RelayError) -> String? in
                switch v {
                case .null: return nil
                case .string(let s): return s
                default: throw unexpected("tool conditional guardrail", v)
                }
            }
        }
    }

    static func llmRequest(_ box: CallbackBox) -> LLMRequestIntercept {
        { name, req, ann, c in
            invoke(box, ["name": .string(name), "request": req.json, "annotated_request": ann ?? .null], c) {
                v throws(RelayError) in
                guard case .object(let o) = v, let r = o["request"] else {
                    throw .internalError(
                        "LLM request intercept must return LLMRequestInterceptOutcome: got \(v.kindName)")
                }
                let a = o["annotated_request"].nonNull
                return RequestInterceptOutcome(
                    request: try requestFromJSON(r, "LLM request intercept"), annotatedRequest: a,
                    pendingMarks: try pendingMarks(o["pending_marks"]))
            }
        }
    }

    static func llmExecution(_ box: CallbackBox) -> LLMExecutionIntercept {
        { name, req, ctx, next, c in
            let inner: (JSON, DoneBox) throws -> Void = { input, done in
                let r = try LLMRequest(json: input)
                next(r, Continuation { done.call($0) })
            }
            invoke(
                box, ["name": .string(name), "request": req.json, "context": ctx.json], c, next: inner, managed: true
            ) {
                v throws(RelayError) in v
            }
        }
    }

    static func llmStreamExecution(_ box: CallbackBox) -> LLMStreamExecutionIntercept {
        { name, req, ctx, next, sink in
            // The inner layers' chunks go straight to this layer's output; `done` gets their end.
            let inner: (JSON, DoneBox) throws -> Void = { input, done in
                let r = try LLMRequest(json: input)
                next(r, LLMStreamSink(forwardingChunksTo: sink, end: { res in done.call(res.map { JSON.null }) }))
            }
            // Or the intercept reads them and pushes what it wants (docs/pipeline.md, "Transforming stream intercepts").
            let innerStream: (LLMRequest, LLMStreamOptions) throws -> LLMStream = { r, options in
                try next.stream(r, options: options)
            }
            invoke(
                box, ["name": .string(name), "request": req.json, "context": ctx.json],
                Continuation { r in sink.end(r.map { _ in () }) }, next: inner, nextStream: innerStream, producer: sink,
                managed: true
            ) { v throws(RelayError) in v }
        }
    }

    static func streamProvider(_ box: CallbackBox) -> LLMStreamProvider {
        { req, sink in
            invoke(box, req.json, Continuation { r in sink.end(r.map { _ in () }) }, producer: sink, managed: true) {
                v throws(RelayError) in v
            }
        }
    }

    /// A callback that must answer before it returns (stream collectors and finalizers).
    static func synchronous(_ box: CallbackBox, _ input: JSON, _ what: String) throws(RelayError) -> JSON {
        let answer = SyncAnswer()
        invoke(box, input, Continuation { answer.value = $0 }) { v throws(RelayError) in v }
        guard let r = answer.value else {
            throw .callback(nil, "\(what) must complete its token before returning")
        }
        return try r.get()
    }

    static func llmSanitizeRequest(_ box: CallbackBox) -> LLMSanitizeRequest {
        { req, ctx, c in
            invoke(box, ["request": req.json, "context": ctx.json], c) { v throws(RelayError) -> LLMRequest? in
                if v.isNull { return nil }
                return try requestFromJSON(v, "LLM sanitize-request guardrail")
            }
        }
    }

    static func llmSanitizeResponse(_ box: CallbackBox) -> LLMSanitizeResponse {
        { resp, ctx, c in
            invoke(box, ["response": resp, "context": ctx.json], c) { v throws(RelayError) -> JSON? in
                v.nonNull
            }
        }
    }

    static func toolRequest(_ box: CallbackBox) -> ToolRequestIntercept {
        { name, args, c in invoke(box, ["tool_name": .string(name), "args": args], c) { v throws(RelayError) in v } }
    }

    static func toolExecution(_ box: CallbackBox) -> ToolExecutionIntercept {
        { ctx, next, c in
            let inner: (JSON, DoneBox) throws -> Void = { args, done in
                next(args, Continuation { r in done.call(r.map(toolResultJSON)) })
            }
            let input: JSON = [
                "tool_name": .string(ctx.toolName), "args": ctx.args,
                "tool_call_id": ctx.toolCallID.map(JSON.string) ?? .null,
            ]
            invoke(box, input, c, next: inner, managed: true) { v throws(RelayError) in
                try toolResultFromJSON(v, "tool execution intercept")
            }
        }
    }

    static func toolSanitize(_ box: CallbackBox, key: String) -> ToolSanitize {
        { name, payload, c in
            invoke(box, ["tool_name": .string(name), key: payload], c) { v throws(RelayError) -> JSON? in v }
        }
    }

    static func eventSanitize(_ box: CallbackBox) -> EventSanitize {
        { ev, f, c in
            let fields: JSON = ["data": f.data, "category_profile": f.categoryProfile ?? .null, "metadata": f.metadata]
            invoke(box, ["event": eventJSON(ev), "fields": fields], c) { v throws(RelayError) -> EventFields in
                guard case .object(let o) = v else { throw unexpected("event sanitizer", v) }
                let p = o["category_profile"].nonNull
                return EventFields(data: o["data"] ?? .null, categoryProfile: p, metadata: o["metadata"] ?? .null)
            }
        }
    }

    static func metadataInjector(_ box: CallbackBox) -> MetadataInjector {
        { ev, c in invoke(box, ["event": eventJSON(ev)], c) { v throws(RelayError) in v } }
    }
}
