// SPDX-License-Identifier: Apache-2.0

// MARK: - Scopes and marks

extension Runtime {
    /// Opens a scope on `stack` (the calling thread's default when nil) and queues its start event.
    ///
    /// The parent is `parent` when given, else the current top; the scope is pushed on `stack` either way.
    @discardableResult
    public func pushScope(
        _ name: String, type: ScopeType, stack: ScopeStack? = nil, parent: ScopeHandle? = nil,
        attributes: UInt32 = 0, data: JSON = .null, metadata: JSON = .null, input: JSON = .null,
        timestamp: Nanoseconds? = nil
    ) -> ScopeHandle {
        let stack = stack ?? ScopeStack.current
        let now = timestamp ?? clock.now()
        let uuid = UUIDGenerator.next(nowNanos: now)
        let h = ScopeHandle(
            uuid: uuid, name: name, scopeType: type, kind: .scope, attributes: attributes,
            parentUUID: parent?.uuid ?? stack.top.uuid, data: data, metadata: metadata, startTime: now,
            propagationRootUUID: stack.propagationRoot(newAgent: type == .agent ? uuid : nil))
        h.ownerRuntime = serial
        stack.push(h)
        if wantsEvents(stack) {
            publish(
                Event(
                    kind: .scopeStart, uuid: uuid, parentUUID: h.parentUUID,
                    propagationRootUUID: h.propagationRootUUID, timestamp: now, name: name,
                    attributes: h.attributeNames, category: h.category, data: input, metadata: metadata),
                stack: stack)
        }
        return h
    }

    /// Closes the scope on top of `stack` and queues its end event; scope-local registrations vanish.
    ///
    /// End metadata is the start metadata merged with `metadata` (end keys win).
    public func popScope(
        _ handle: ScopeHandle, stack: ScopeStack? = nil, output: JSON = .null, metadata: JSON = .null,
        timestamp: Nanoseconds? = nil
    ) throws(RelayError) {
        let stack = stack ?? ScopeStack.current
        try stack.pop(handle)
        let end = endTime(after: handle.startTime, timestamp)
        if wantsEvents(stack) || handle.hasLocals.load(ordering: .relaxed) {
            // Publish before the scope-local registrations go, so its own subscribers see its end.
            let ev = Event(
                kind: .scopeEnd, uuid: handle.uuid, parentUUID: handle.parentUUID,
                propagationRootUUID: handle.propagationRootUUID, timestamp: end, name: handle.name,
                attributes: handle.attributeNames, category: handle.category,
                data: output, metadata: .mergeMetadata(handle.metadata, metadata))
            // Its own subscribers and middleware still apply to its end, though it is off the stack.
            publish(ev, stack: stack, ending: handle)
        }
        retireLocals(of: handle)
    }

    func retireLocals(of handle: ScopeHandle) {
        let lanes: [SubscriberLane] = handle.lock.withLock {
            handle.popped_ = true
            let l = handle.localLanes_
            handle.localLanes_ = []
            handle.locals_?.removeAll()
            handle.locals_ = nil
            handle.hasLocals.store(false, ordering: .releasing)
            return l
        }
        retireScopeLanes(lanes)
    }

    /// Queues a mark under `parent` (or the current top).
    public func mark(
        _ name: String, stack: ScopeStack? = nil, parent: ScopeHandle? = nil, data: JSON = .null,
        dataSchema: JSON? = nil, metadata: JSON = .null, severity: LogLevel? = nil, timestamp: Nanoseconds? = nil
    ) {
        let stack = stack ?? ScopeStack.current
        guard wantsEvents(stack) else { return }
        let now = timestamp ?? clock.now()
        var md = metadata
        if let severity { md = .mergeMetadata(md, ["nemo_relay.log.severity": .string(severity.name)]) }
        publish(
            Event(
                kind: .mark, uuid: UUIDGenerator.next(nowNanos: now), parentUUID: parent?.uuid ?? stack.top.uuid,
                propagationRootUUID: stack.propagationRoot(newAgent: nil), timestamp: now, name: name,
                data: data, dataSchema: dataSchema, metadata: md),
            stack: stack)
    }
}

// MARK: - Registration

/// The kinds of middleware registries (docs/middleware.md, "Registries").
public enum MiddlewareKind: Int32, Sendable, CaseIterable {
    case llmConditionalExecution = 0
    case llmRequestIntercept = 1
    case llmExecutionIntercept = 2
    case llmStreamExecutionIntercept = 3
    case llmSanitizeRequest = 4
    case llmSanitizeResponse = 5
    case toolConditionalExecution = 6
    case toolRequestIntercept = 7
    case toolExecutionIntercept = 8
    case toolSanitizeRequest = 9
    case toolSanitizeResponse = 10
    case markSanitize = 11
    case scopeStartSanitize = 12
    case scopeEndSanitize = 13
    case metadataInjector = 14
}

extension Runtime {
    /// The registry set that owns entries for `scope` (global when nil), created on first use.
    func middleware(for scope: ScopeHandle?) throws(RelayError) -> Middleware {
        guard let scope else { return global }
        return try scope.lock.withLock { () throws(RelayError) -> Middleware in
            if scope.popped_ { throw .notFound("scope \(scope.uuid) not found") }
            if let m = scope.locals_ { return m }
            let m = Middleware(depth: 1)
            scope.locals_ = m
            scope.hasLocals.store(true, ordering: .releasing)
            return m
        }
    }

    func add<F>(
        _ path: KeyPath<Middleware, Registry<F>>, scope: ScopeHandle?, name: String, priority: Int32,
        breakChain: Bool = false, _ fn: F
    ) throws(RelayError) {
        try middleware(for: scope)[keyPath: path].add(name: name, priority: priority, breakChain: breakChain, fn)
    }

    /// Removes the entry `name` of `kind` (globally, or from `scope`); returns whether one was removed.
    public func deregister(_ kind: MiddlewareKind, name: String, scope: ScopeHandle? = nil) throws(RelayError) -> Bool {
        let m = try middleware(for: scope)
        switch kind {
        case .llmConditionalExecution: return m.llmConditional.remove(name: name)
        case .llmRequestIntercept: return m.llmRequest.remove(name: name)
        case .llmExecutionIntercept: return m.llmExecution.remove(name: name)
        case .llmStreamExecutionIntercept: return m.llmStreamExecution.remove(name: name)
        case .llmSanitizeRequest: return m.llmSanitizeRequest.remove(name: name)
        case .llmSanitizeResponse: return m.llmSanitizeResponse.remove(name: name)
        case .toolConditionalExecution: return m.toolConditional.remove(name: name)
        case .toolRequestIntercept: return m.toolRequest.remove(name: name)
        case .toolExecutionIntercept: return m.toolExecution.remove(name: name)
        case .toolSanitizeRequest: return m.toolSanitizeRequest.remove(name: name)
        case .toolSanitizeResponse: return m.toolSanitizeResponse.remove(name: name)
        case .markSanitize: return m.markSanitize.remove(name: name)
        case .scopeStartSanitize: return m.scopeStartSanitize.remove(name: name)
        case .scopeEndSanitize: return m.scopeEndSanitize.remove(name: name)
        case .metadataInjector: return m.metadataInjector.remove(name: name)
        }
    }

    /// Registers an LLM conditional-execution guardrail.
    public func registerLLMConditionalGuardrail(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping LLMConditionalGuardrail
    ) throws(RelayError) { try add(\.llmConditional, scope: scope, name: name, priority: priority, fn) }

    /// Registers an LLM request intercept; `breakChain` stops the chain after it runs.
    public func registerLLMRequestIntercept(
        _ name: String, priority: Int32, breakChain: Bool = false, scope: ScopeHandle? = nil,
        _ fn: @escaping LLMRequestIntercept
    ) throws(RelayError) {
        try add(\.llmRequest, scope: scope, name: name, priority: priority, breakChain: breakChain, fn)
    }

    /// Registers an LLM execution intercept (an onion layer around the provider).
    public func registerLLMExecutionIntercept(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping LLMExecutionIntercept
    ) throws(RelayError) { try add(\.llmExecution, scope: scope, name: name, priority: priority, fn) }

    /// Registers an LLM stream execution intercept (an onion layer around stream production).
    public func registerLLMStreamExecutionIntercept(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping LLMStreamExecutionIntercept
    ) throws(RelayError) { try add(\.llmStreamExecution, scope: scope, name: name, priority: priority, fn) }

    /// Registers an LLM sanitize-request guardrail (changes only the recorded start payload).
    public func registerLLMSanitizeRequest(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping LLMSanitizeRequest
    ) throws(RelayError) { try add(\.llmSanitizeRequest, scope: scope, name: name, priority: priority, fn) }

    /// Registers an LLM sanitize-response guardrail (changes only the recorded end payload).
    public func registerLLMSanitizeResponse(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping LLMSanitizeResponse
    ) throws(RelayError) { try add(\.llmSanitizeResponse, scope: scope, name: name, priority: priority, fn) }

    /// Registers a tool conditional-execution guardrail.
    public func registerToolConditionalGuardrail(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping ToolConditionalGuardrail
    ) throws(RelayError) { try add(\.toolConditional, scope: scope, name: name, priority: priority, fn) }

    /// Registers a tool request intercept.
    public func registerToolRequestIntercept(
        _ name: String, priority: Int32, breakChain: Bool = false, scope: ScopeHandle? = nil,
        _ fn: @escaping ToolRequestIntercept
    ) throws(RelayError) {
        try add(\.toolRequest, scope: scope, name: name, priority: priority, breakChain: breakChain, fn)
    }

    /// Registers a tool execution intercept.
    public func registerToolExecutionIntercept(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping ToolExecutionIntercept
    ) throws(RelayError) { try add(\.toolExecution, scope: scope, name: name, priority: priority, fn) }

    /// Registers a tool sanitize-request guardrail.
    public func registerToolSanitizeRequest(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping ToolSanitize
    ) throws(RelayError) { try add(\.toolSanitizeRequest, scope: scope, name: name, priority: priority, fn) }

    /// Registers a tool sanitize-response guardrail.
    public func registerToolSanitizeResponse(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping ToolSanitize
    ) throws(RelayError) { try add(\.toolSanitizeResponse, scope: scope, name: name, priority: priority, fn) }

    /// Registers an event sanitizer for marks, scope starts or scope ends.
    public func registerEventSanitizer(
        _ kind: EventKind, _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping EventSanitize
    ) throws(RelayError) {
        switch kind {
        case .mark: try add(\.markSanitize, scope: scope, name: name, priority: priority, fn)
        case .scopeStart: try add(\.scopeStartSanitize, scope: scope, name: name, priority: priority, fn)
        case .scopeEnd: try add(\.scopeEndSanitize, scope: scope, name: name, priority: priority, fn)
        }
    }

    /// Registers an event metadata injector.
    public func registerMetadataInjector(
        _ name: String, priority: Int32, scope: ScopeHandle? = nil, _ fn: @escaping MetadataInjector
    ) throws(RelayError) { try add(\.metadataInjector, scope: scope, name: name, priority: priority, fn) }
}
