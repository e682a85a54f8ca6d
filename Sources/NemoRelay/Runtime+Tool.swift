// SPDX-License-Identifier: Apache-2.0

/// The parameters of a tool call (managed or manual).
public struct ToolCallParams: Sendable {
    /// The tool name.
    public var name: String
    /// The tool arguments.
    public var args: JSON
    /// Explicit parent scope; the current top when nil.
    public var parent: ScopeHandle?
    /// ``Attributes/remote`` and future tool bits.
    public var attributes: UInt32
    /// Application payload kept on the handle; the end `data` on failure.
    public var data: JSON
    /// Start metadata.
    public var metadata: JSON
    /// The provider's tool-call id, written to `category_profile.tool_call_id`.
    public var toolCallID: String?
    /// Start time for the manual lifecycle; now when nil.
    public var timestamp: Nanoseconds?

    public init(
        name: String, args: JSON, parent: ScopeHandle? = nil, attributes: UInt32 = 0, data: JSON = .null,
        metadata: JSON = .null, toolCallID: String? = nil, timestamp: Nanoseconds? = nil
    ) {
        self.name = name
        self.args = args
        self.parent = parent
        self.attributes = attributes
        self.data = data
        self.metadata = metadata
        self.toolCallID = toolCallID
        self.timestamp = timestamp
    }
}

extension Runtime {
    func makeToolHandle(_ p: ToolCallParams, stack: ScopeStack) -> ScopeHandle {
        let now = p.timestamp ?? clock.now()
        let h = ScopeHandle(
            uuid: UUIDGenerator.next(nowNanos: now), name: p.name, scopeType: .tool, kind: .tool,
            attributes: p.attributes, parentUUID: p.parent?.uuid ?? stack.top.uuid, data: p.data,
            metadata: p.metadata, startTime: now, toolCallID: p.toolCallID,
            propagationRootUUID: stack.propagationRoot(newAgent: nil))
        h.ownerRuntime = serial
        return h
    }

    private func toolProfile(_ h: ScopeHandle, annotation: JSON? = nil) -> JSON {
        var o = JSONObject()
        if let id = h.toolCallID { o["tool_call_id"] = .string(id) }
        if let annotation, !annotation.isNull { o["tool_result_annotation"] = annotation }
        return .object(o)
    }

    private func runToolSanitize(
        _ list: [Registration<ToolSanitize>], _ first: Int, tool: String, _ value: JSON,
        _ then: @escaping (JSON) -> Void
    ) {
        // The next value, or nil when the chain ended (`then` was called with null).
        func apply(_ i: Int, _ r: Result<JSON?, RelayError>) -> JSON? {
            switch r {
            case .success(let v?) where !v.isNull: return v
            case .success: then(.null)
            case .failure(let e):
                log(.warn, "Tool sanitize guardrail '\(list[i].name)' failed: \(e.displayText)")
                then(.null)
            }
            return nil
        }
        ChainStep<JSON?>.fold(
            from: first, count: list.count, value, control: nil, step: { i, v, c in list[i].fn(tool, v, c) },
            apply: { i, _, r in apply(i, r) }, then: then)
    }

    func publishToolStart(
        _ h: ScopeHandle, args: JSON, locals: [Middleware], stack: ScopeStack, then: @escaping () -> Void
    ) {
        guard wantsEvents(stack) else { return then() }
        let list = merged(global.toolSanitizeRequest, locals, \.toolSanitizeRequest)
        runToolSanitize(list, 0, tool: h.name, args) { [self] data in
            publish(
                Event(
                    kind: .scopeStart, uuid: h.uuid, parentUUID: h.parentUUID,
                    propagationRootUUID: h.propagationRootUUID, timestamp: h.startTime, name: h.name,
                    attributes: h.attributeNames, category: "tool", categoryProfile: toolProfile(h), data: data,
                    metadata: h.metadata),
                stack: stack, then: then)
        }
    }

    func publishToolEnd(
        _ h: ScopeHandle, result: ToolResult?, fallback: JSON, metadata: JSON, timestamp: Nanoseconds?,
        locals: [Middleware], stack: ScopeStack, then: @escaping () -> Void
    ) {
        guard wantsEvents(stack) else { return then() }
        let end = endTime(after: h.startTime, timestamp)
        func emit(_ data: JSON) {
            publish(
                Event(
                    kind: .scopeEnd, uuid: h.uuid, parentUUID: h.parentUUID,
                    propagationRootUUID: h.propagationRootUUID, timestamp: end, name: h.name,
                    attributes: h.attributeNames, category: "tool",
                    categoryProfile: toolProfile(h, annotation: result?.annotation), data: data, metadata: metadata),
                stack: stack, then: then)
        }
        guard let result, !result.result.isNull else { return emit(fallback) }
        let list = merged(global.toolSanitizeResponse, locals, \.toolSanitizeResponse)
        runToolSanitize(list, 0, tool: h.name, result.result) { data in emit(data) }
    }

    /// Starts a manual tool span (sanitized args, no intercepts).
    public func toolCall(_ p: ToolCallParams, stack: ScopeStack? = nil) -> ScopeHandle {
        let stack = stack ?? ScopeStack.current
        let h = makeToolHandle(p, stack: stack)
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        publishToolStart(h, args: p.args, locals: locals, stack: stack) {}
        return h
    }

    /// Ends a manual tool span; no status is added and `data` (or the handle's) replaces a null result.
    public func toolCallEnd(
        _ h: ScopeHandle, result: ToolResult?, data: JSON = .null, metadata: JSON = .null,
        timestamp: Nanoseconds? = nil, stack: ScopeStack? = nil
    ) {
        let stack = stack ?? ScopeStack.current
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        publishToolEnd(
            h, result: result, fallback: data.isNull ? h.data : data, metadata: .mergeMetadata(h.metadata, metadata),
            timestamp: timestamp, locals: locals, stack: stack
        ) {}
    }

    /// Runs a managed tool call (docs/pipeline.md, "Managed tool call"); `done` receives the outcome exactly once.
    public func toolExecute(
        _ p: ToolCallParams, stack: ScopeStack? = nil, control: CallControl = CallControl(),
        tool: @escaping ToolFunction, done userDone: @escaping (Result<ToolResult, RelayError>) -> Void
    ) {
        liveCalls.insert(control)
        let done: (Result<ToolResult, RelayError>) -> Void = { [liveCalls] r in
            liveCalls.remove(control)
            userDone(r)
        }
        let stack = stack ?? ScopeStack.current
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        let parent = p.parent?.uuid ?? stack.top.uuid
        let guards = merged(global.toolConditional, locals, \.toolConditional)
        let name = p.name
        let args0 = p.args
        runConditional(
            guards, 0, callName: name, parent: parent, stack: stack, control: control,
            startData: ["kind": "tool_conditional_execution", "target_name": .string(name)],
            invoke: { fn, c in fn(name, args0, c) }
        ) { [self] err in
            if let err { return done(.failure(err)) }
            let intercepts = merged(global.toolRequest, locals, \.toolRequest)
            runToolIntercepts(intercepts, 0, name: name, args: args0, control: control) { [self] r in
                switch r {
                case .failure(let e): done(.failure(e))
                case .success(let args):
                    var q = p
                    q.args = args
                    q.timestamp = nil
                    let h = makeToolHandle(q, stack: stack)
                    publishToolStart(h, args: args, locals: locals, stack: stack) { [self] in
                        runTool(h, args: args, locals: locals, stack: stack, control: control, tool: tool, done: done)
                    }
                }
            }
        }
    }

    func runToolIntercepts(
        _ list: [Registration<ToolRequestIntercept>], _ first: Int, name: String, args: JSON, control: CallControl?,
        _ then: @escaping (Result<JSON, RelayError>) -> Void
    ) {
        // The next args, or nil when the chain ended (`then` was called).
        func apply(_ i: Int, _ r: Result<JSON, RelayError>) -> JSON? {
            switch r {
            case .failure:
                then(r)
                return nil
            case .success(let a):
                if list[i].breakChain {
                    then(.success(a))
                    return nil
                }
                return a
            }
        }
        ChainStep<JSON>.fold(
            from: first, count: list.count, args, control: control, step: { i, a, c in list[i].fn(name, a, c) },
            apply: { i, _, r in apply(i, r) }, then: { then(.success($0)) })
    }

    private func runTool(
        _ h: ScopeHandle, args: JSON, locals: [Middleware], stack: ScopeStack, control: CallControl,
        tool: @escaping ToolFunction, done: @escaping (Result<ToolResult, RelayError>) -> Void
    ) {
        let list = merged(global.toolExecution, locals, \.toolExecution)
        let ctxBase = ToolExecutionContext(toolName: h.name, args: args, toolCallID: h.toolCallID)
        // Layer i wraps layers i+1...; the tool sits in the middle. Each `next` names its layer by index
        // (no closure holds the next layer's closure), so a long list costs no stack to build or free.
        // As for LLM calls: the layers inside an intercept run under a control revoked when it settles.
        @Sendable func layer(_ i: Int, _ a: JSON, _ c: Continuation<ToolResult>, _ control: CallControl) {
            guard i < list.count else {
                return Continuation.run(control, { inner in tool(a, inner) }) { c.resume($0) }
            }
            let reg = list[i]
            let inner = CallControl()
            let next = ToolNext { a, c in layer(i + 1, a, c, inner) }
            var ctx = ctxBase
            ctx.args = a
            var ticket: UInt64?
            Continuation.run(
                control,
                { mine in
                    ticket = control.whenCancelled { inner.cancel() }
                    reg.fn(ctx, next, mine)
                }
            ) { result in
                next.active.store(false, ordering: .releasing)
                if let ticket { control.removePending(ticket) }
                inner.cancel()
                c.resume(result)
            }
        }
        // The tool runs with this call as the active one (captures inside take its span as their parent).
        ActiveCall.$current.withValue(ActiveCall(h, stack: stack)) {
            layer(
                0, args,
                Continuation { [self] r in ActiveCall.outside { toolFinished(h, r, locals, stack, control, done) } },
                control)
        }
    }

    private func toolFinished(
        _ h: ScopeHandle, _ r: Result<ToolResult, RelayError>, _ locals: [Middleware], _ stack: ScopeStack,
        _ control: CallControl, _ done: @escaping (Result<ToolResult, RelayError>) -> Void
    ) {
        var r = r
        if case .failure(let e) = r, e.kind == .cancelled || control.isCancelled {
            r = .failure(RelayError(.cancelled, "tool execution cancelled"))
        }
        switch r {
        case .success(let result):
            if !result.pendingMarks.isEmpty { publishPendingMarks(result.pendingMarks, under: h, stack: stack) }
            publishToolEnd(
                h, result: result, fallback: h.data, metadata: .withStatus(h.metadata, ok: true),
                timestamp: nil,
                locals: locals, stack: stack
            ) { done(r) }
        case .failure(let e):
            guard wantsEvents(stack) else { return done(r) }
            publish(
                Event(
                    kind: .scopeEnd, uuid: h.uuid, parentUUID: h.parentUUID,
                    propagationRootUUID: h.propagationRootUUID, timestamp: endTime(after: h.startTime, nil),
                    name: h.name, attributes: h.attributeNames, category: "tool",
                    categoryProfile: toolProfile(h),
                    data: h.data, metadata: .withStatus(h.metadata, ok: false, error: e)),
                stack: stack
            ) { done(r) }
        }
    }
}
