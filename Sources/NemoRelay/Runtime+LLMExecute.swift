// SPDX-License-Identifier: Apache-2.0

/// Steps 1 to 8 of a managed LLM call (docs/pipeline.md, "LLM call steps"), shared by plain and streaming execution.
///
/// Each step hands its result to the next through a continuation, so the call runs start to end
/// inside the caller's call when every callback answers at once, and resumes on whichever thread
/// completes a callback that answered later. There is no thread pool and no executor hop.
/// Subclasses supply what happens after the trace header (``run(_:_:)``) and on an early failure.
///
/// `@unchecked Sendable`: no lock: `request`, `annotated` and `pendingMarks` are touched by one step at a
/// time; each step starts only from the previous step's continuation, whose atomic resume orders the
/// hand-off between threads. The rest is immutable.
class LLMPipeline: @unchecked Sendable {
    let rt: Runtime
    let p: LLMCallParams
    let stack: ScopeStack
    let control: CallControl
    let locals: [Middleware]
    let parentUUID: RelayUUID

    var request: LLMRequest
    var annotated: JSON?
    var pendingMarks: [PendingMark] = []

    init(_ rt: Runtime, _ p: LLMCallParams, stack: ScopeStack, control: CallControl) {
        self.rt = rt
        self.p = p
        self.stack = stack
        self.control = control
        locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        parentUUID = p.parent?.uuid ?? stack.top.uuid
        request = p.request
    }

    /// Fails before the span started: no LLM events. Overridden by every subclass.
    func fail(_ e: RelayError) {}

    /// Runs the execution stage with the span started and the trace header set. Overridden by every subclass.
    func run(_ h: ScopeHandle, _ req: LLMRequest) {}

    var codecContext: CodecContext { CodecContext(requestCodec: p.codec, responseCodec: p.responseCodec) }

    // 1. Conditional-execution guardrails.
    func start() {
        let list = merged(rt.global.llmConditional, locals, \.llmConditional)
        guard !list.isEmpty else { return decode() }
        let req = request
        rt.runConditional(
            list, 0, callName: p.name, parent: parentUUID, stack: stack, control: control,
            startData: ["kind": "llm_conditional_execution"], invoke: { fn, c in fn(req, c) }
        ) { [self] err in
            if let err { return fail(err) }
            decode()
        }
    }

    // 2. Request decode.
    func decode() {
        guard let codec = p.codec else { return intercepts() }
        codec.decodeRequest(request) { [self] r in
            switch r {
            case .success(let a):
                annotated = a
                intercepts()
            case .failure(let e): fail(e)
            }
        }
    }

    // 3. Request intercepts.
    func intercepts() {
        rt.runLLMRequestIntercepts(
            merged(rt.global.llmRequest, locals, \.llmRequest), name: p.name, request: request, annotated: annotated,
            codecActive: p.codec != nil, control: control
        ) { [self] r in
            switch r {
            case .failure(let e): fail(e)
            case .success(let out):
                request = out.request
                annotated = out.annotatedRequest
                pendingMarks.append(contentsOf: out.pendingMarks)
                encode()
            }
        }
    }

    // 4. Session headers, then 5. encode.
    func encode() {
        let (sid, parentSid) = stack.sessionIDs()
        if let sid {
            request.headers["x-dynamo-session-id"] = .string(sid)
        }
        if let parentSid {
            request.headers["x-dynamo-parent-session-id"] = .string(parentSid)
        } else {
            request.headers = request.headers.removingKeys(caseInsensitive: ["x-dynamo-parent-session-id"])
        }
        guard let codec = p.codec, let annotated else { return begin() }
        codec.encodeRequest(annotated, original: request) { [self] r in
            switch r {
            case .success(let enc):
                request = LLMRequest(headers: request.headers, content: enc.content)
                begin()
            case .failure(let e): fail(e)
            }
        }
    }

    // 6. Handle, 7. start event.
    func begin() {
        let h = rt.makeLLMHandle(p, stack: stack)
        let fresh = stack.consumeFreshness(parent: parentUUID)
        guard rt.wantsEvents(stack) else { return execute(h) }
        // No request codec, no annotation to record (docs/events.md, "Category and profile"): one an
        // intercept returned is only passed along the intercept chain.
        rt.buildLLMStart(
            h, request: request, annotated: p.codec == nil ? nil : annotated, codec: p.codec, fresh: fresh,
            locals: locals, stack: stack
        ) { [self] ev in
            rt.publish(ev, stack: stack) { [self] in
                if !pendingMarks.isEmpty { rt.publishPendingMarks(pendingMarks, under: h, stack: stack) }
                execute(h)
            }
        }
    }

    // 8. Trace header; the execution stage runs with this call as the active one (captures inside
    // take its span as their parent).
    func execute(_ h: ScopeHandle) {
        var headers = request.headers.removingKeys(caseInsensitive: ["traceparent", "tracestate"])
        let (traceparent, tracestate) = stack.llmTraceHeaders(h.uuid)
        headers["traceparent"] = .string(traceparent)
        if let tracestate { headers["tracestate"] = .string(tracestate) }
        let req = LLMRequest(headers: headers, content: request.content)
        ActiveCall.$current.withValue(ActiveCall(h, stack: stack)) { run(h, req) }
    }
}

/// One managed non-streaming LLM call: the shared steps, then execution intercepts around the provider.
///
/// `@unchecked Sendable`: as ``LLMPipeline``; `provider` and `done` are immutable (`done` runs once).
final class LLMExecution: LLMPipeline, @unchecked Sendable {
    let provider: LLMProvider
    let done: (Result<JSON, RelayError>) -> Void

    init(
        _ rt: Runtime, _ p: LLMCallParams, stack: ScopeStack, control: CallControl, provider: @escaping LLMProvider,
        done: @escaping (Result<JSON, RelayError>) -> Void
    ) {
        self.provider = provider
        self.done = done
        super.init(rt, p, stack: stack, control: control)
    }

    override func fail(_ e: RelayError) {
        done(.failure(e))
    }

    // 9. Execution intercepts around the provider.
    override func run(_ h: ScopeHandle, _ req: LLMRequest) {
        let list = merged(rt.global.llmExecution, locals, \.llmExecution)
        let ctx = codecContext
        let name = p.name
        let control = control
        let provider = provider

        // Layer i wraps layers i+1...; the provider sits in the middle. Each `next` names its layer by
        // index (no closure holds the next layer's closure), so a long list costs no stack to build or free.
        // The layers inside an intercept run under a control of their own, revoked when that intercept
        // settles: inner layers it abandoned (still pending) end as cancelled, and the whole call's
        // cancellation reaches them first (innermost first).
        @Sendable func layer(_ i: Int, _ r: LLMRequest, _ c: Continuation<JSON>, _ control: CallControl) {
            guard i < list.count else {
                return Continuation.run(control, { inner in provider(r, inner) }) { c.resume($0) }
            }
            let reg = list[i]
            let inner = CallControl()
            let next = ExecutionNext { r, c in layer(i + 1, r, c, inner) }
            var ticket: UInt64?
            Continuation.run(
                control,
                { mine in
                    ticket = control.whenCancelled { inner.cancel() }
                    reg.fn(name, r, ctx, next, mine)
                }
            ) { result in
                next.active.store(false, ordering: .releasing)
                if let ticket { control.removePending(ticket) }
                inner.cancel()
                c.resume(result)
            }
        }
        layer(0, req, Continuation { [self] r in ActiveCall.outside { finish(h, r) } }, control)
    }

    // 10. Return, 11. end event.
    func finish(_ h: ScopeHandle, _ outcome: Result<JSON, RelayError>) {
        let r: Result<JSON, RelayError>
        if case .failure(let e) = outcome, e.kind == .cancelled || control.isCancelled {
            r = .failure(RelayError(.cancelled, "LLM execution cancelled"))
        } else {
            r = outcome
        }
        guard rt.wantsEvents(stack) else { return done(r) }
        switch r {
        case .success(let response):
            rt.buildLLMEnd(
                h, response: response, fallback: h.data, annotated: nil, context: codecContext,
                metadata: .withStatus(h.metadata, ok: true), timestamp: nil, locals: locals
            ) { [self] ev in
                rt.publish(ev, stack: stack) { [self] in done(r) }
            }
        case .failure(let e):
            rt.publish(rt.llmFailureEnd(h, e), stack: stack) { [self] in done(r) }
        }
    }
}

extension Runtime {
    /// Runs a managed LLM call (docs/pipeline.md, "Managed LLM call"); `done` receives the outcome exactly once.
    ///
    /// `done` may run before this function returns (every callback answered at once) or later, on the
    /// thread that completed the last pending callback. Cancel through `control`.
    public func llmExecute(
        _ p: LLMCallParams, stack: ScopeStack? = nil, control: CallControl = CallControl(),
        provider: @escaping LLMProvider, done: @escaping (Result<JSON, RelayError>) -> Void
    ) {
        liveCalls.insert(control)
        LLMExecution(
            self, p, stack: stack ?? ScopeStack.current, control: control, provider: provider,
            done: { [liveCalls] r in
                liveCalls.remove(control)
                done(r)
            }
        ).start()
    }

    /// Runs a managed LLM call and suspends until it ends; task cancellation cancels the call.
    public func llmCallExecute(
        _ p: LLMCallParams, stack: ScopeStack? = nil,
        provider: @escaping @Sendable (LLMRequest) async throws -> JSON
    ) async throws -> JSON {
        let control = CallControl()
        let stack = stack ?? ScopeStack.current
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (k: CheckedContinuation<JSON, Error>) in
                llmExecute(
                    p, stack: stack, control: control,
                    provider: { req, c in
                        Task {
                            do { c.resume(returning: try await provider(req)) } catch {
                                c.resume(throwing: RelayError.wrapping(error))
                            }
                        }
                    },
                    done: { k.resume(with: $0) })
            }
        } onCancel: {
            control.cancel()
        }
    }
}
