// SPDX-License-Identifier: Apache-2.0

/// The parameters of an LLM call (managed or manual), mirroring the Rust `LlmCallExecuteParams`.
public struct LLMCallParams: Sendable {
    /// Logical provider or call name, recorded as the event name and passed to intercepts.
    public var name: String
    /// The raw request.
    public var request: LLMRequest
    /// Explicit parent scope; the current top of the stack when nil.
    public var parent: ScopeHandle?
    /// ``Attributes`` LLM bits (`stateful`, `streaming`).
    public var attributes: UInt32
    /// Application payload kept on the handle; the end `data` when there is no usable output.
    public var data: JSON
    /// Start metadata.
    public var metadata: JSON
    /// Model name written to `category_profile.model_name`.
    public var modelName: String?
    /// Request codec: enables annotations for intercepts and the start event.
    public var codec: (any LLMCodec)?
    /// Response codec: adds `annotated_response` to the end event; never changes the result.
    public var responseCodec: (any LLMCodec)?
    /// A ready annotation for the manual start event.
    public var annotatedRequest: JSON?
    /// Start time for the manual lifecycle; now when nil.
    public var timestamp: Nanoseconds?

    public init(
        name: String, request: LLMRequest, parent: ScopeHandle? = nil, attributes: UInt32 = 0, data: JSON = .null,
        metadata: JSON = .null, modelName: String? = nil, codec: (any LLMCodec)? = nil,
        responseCodec: (any LLMCodec)? = nil, annotatedRequest: JSON? = nil, timestamp: Nanoseconds? = nil
    ) {
        self.name = name
        self.request = request
        self.parent = parent
        self.attributes = attributes
        self.data = data
        self.metadata = metadata
        self.modelName = modelName
        self.codec = codec
        self.responseCodec = responseCodec
        self.annotatedRequest = annotatedRequest
        self.timestamp = timestamp
    }
}

/// The parameters of a manual LLM end, mirroring the Rust `LlmCallEndParams`.
public struct LLMCallEndParams: Sendable {
    public var response: JSON
    public var data: JSON
    public var metadata: JSON
    public var annotatedResponse: JSON?
    public var responseCodec: (any LLMCodec)?
    public var timestamp: Nanoseconds?

    public init(
        response: JSON, data: JSON = .null, metadata: JSON = .null, annotatedResponse: JSON? = nil,
        responseCodec: (any LLMCodec)? = nil, timestamp: Nanoseconds? = nil
    ) {
        self.response = response
        self.data = data
        self.metadata = metadata
        self.annotatedResponse = annotatedResponse
        self.responseCodec = responseCodec
        self.timestamp = timestamp
    }
}

/// Credential headers that never reach events (matched case-insensitively).
let credentialHeaders: Set<String> = [
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "anthropic-api-key", "x-goog-api-key",
]

extension JSONObject {
    /// A copy without the keys whose lowercase form is in `names` (`self` when none matches).
    func removingKeys(caseInsensitive names: Set<String>) -> JSONObject {
        var hit = false
        forEach { k, _ in if !hit && names.contains(asciiLowercased(k)) { hit = true } }
        guard hit else { return self }
        var out = JSONObject(minimumCapacity: count)
        forEach { k, v in
            if !names.contains(asciiLowercased(k)) { out[k] = v }
        }
        return out
    }
}

/// `s` with ASCII capitals lowered; allocation-free when there are none.
@inline(__always) func asciiLowercased(_ s: String) -> String {
    var needs = false
    for c in s.utf8 where c >= 65 && c <= 90 {
        needs = true
        break
    }
    return needs ? String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self) : s
}

// MARK: - Manual lifecycle

extension Runtime {
    /// Starts a manual LLM span and queues its start event (credentials stripped, sanitizers applied).
    public func llmCall(_ p: LLMCallParams, stack: ScopeStack? = nil) -> ScopeHandle {
        let stack = stack ?? ScopeStack.current
        let h = makeLLMHandle(p, stack: stack)
        let fresh = stack.consumeFreshness(parent: h.parentUUID ?? stack.top.uuid)
        if wantsEvents(stack) {
            let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
            buildLLMStart(
                h, request: p.request, annotated: p.annotatedRequest, codec: nil, fresh: fresh, locals: locals,
                stack: stack
            ) { [self] ev in publish(ev, stack: stack) }
        }
        return h
    }

    /// Ends a manual LLM span: data is the sanitized response, metadata gains `otel.status_code: OK`.
    public func llmCallEnd(_ h: ScopeHandle, _ p: LLMCallEndParams, stack: ScopeStack? = nil) {
        let stack = stack ?? ScopeStack.current
        guard wantsEvents(stack) else { return }
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        let ctx = CodecContext(requestCodec: nil, responseCodec: p.responseCodec)
        let fallback = p.data.isNull ? h.data : p.data
        buildLLMEnd(
            h, response: p.response, fallback: fallback, annotated: p.annotatedResponse, context: ctx,
            metadata: .withStatus(.mergeMetadata(h.metadata, p.metadata), ok: true), timestamp: p.timestamp,
            locals: locals
        ) { [self] ev in publish(ev, stack: stack) }
    }

    func makeLLMHandle(_ p: LLMCallParams, stack: ScopeStack) -> ScopeHandle {
        let now = p.timestamp ?? clock.now()
        let h = ScopeHandle(
            uuid: UUIDGenerator.next(nowNanos: now), name: p.name, scopeType: .llm, kind: .llm,
            attributes: p.attributes, parentUUID: p.parent?.uuid ?? stack.top.uuid, data: p.data,
            metadata: p.metadata, startTime: now, modelName: p.modelName,
            propagationRootUUID: stack.propagationRoot(newAgent: nil))
        h.ownerRuntime = serial
        return h
    }

    // MARK: Start and end events

    /// Builds the LLM start event: credentials stripped, current-turn projection, sanitizers, re-derivation.
    func buildLLMStart(
        _ h: ScopeHandle, request: LLMRequest, annotated: JSON?, codec: (any LLMCodec)?, fresh: Bool,
        locals: [Middleware], stack: ScopeStack, then: @escaping @Sendable (Event) -> Void
    ) {
        let observed = LLMRequest(
            headers: request.headers.removingKeys(caseInsensitive: credentialHeaders),
            content: request.content)
        let ctx = CodecContext(requestCodec: codec, responseCodec: nil)
        let sanitizers = merged(global.llmSanitizeRequest, locals, \.llmSanitizeRequest)

        @Sendable func finish(_ payload: LLMRequest?, _ ann: JSON?) {
            var profile = JSONObject()
            if let m = h.modelName { profile["model_name"] = .string(m) }
            if let ann, payload != nil { profile["annotated_request"] = ann }
            then(
                Event(
                    kind: .scopeStart, uuid: h.uuid, parentUUID: h.parentUUID,
                    propagationRootUUID: h.propagationRootUUID, timestamp: h.startTime, name: h.name,
                    attributes: h.attributeNames, category: "llm", categoryProfile: .object(profile),
                    data: payload?.json ?? .null, metadata: h.metadata))
        }

        @Sendable func sanitizeThenFinish(_ observed: LLMRequest, _ annotation: JSON?) {
            guard !sanitizers.isEmpty else { return finish(observed, annotation) }
            let before = observed
            runSanitizeRequest(sanitizers, 0, observed, ctx) { [self] result in
                guard let result else { return finish(nil, nil) }
                if result == before { return finish(result, annotation) }
                // The payload changed: the annotation is re-derived from what will be recorded.
                guard let codec else { return finish(result, annotation) }
                codec.decodeRequest(result) { [self] d in
                    switch d {
                    case .success(let a): finish(result, a)
                    case .failure(let e):
                        log(.warn, "LLM start annotation re-derivation failed: \(e.displayText)")
                        finish(result, nil)
                    }
                }
            }
        }

        // docs/pipeline.md, "Current-turn projection": only with a codec, once the owning agent is no longer fresh.
        if !fresh, let codec, let full = annotated, let projected = projectCurrentTurn(full) {
            codec.encodeRequest(projected, original: observed) { [self] r in
                switch r {
                case .success(let enc):
                    sanitizeThenFinish(LLMRequest(headers: observed.headers, content: enc.content), projected)
                case .failure(let e):
                    log(.debug, "current-turn projection encode failed, keeping full history: \(e.displayText)")
                    sanitizeThenFinish(observed, annotated)
                }
            }
            return
        }
        sanitizeThenFinish(observed, annotated)
    }

    private func runSanitizeRequest(
        _ list: [Registration<LLMSanitizeRequest>], _ first: Int, _ value: LLMRequest, _ ctx: CodecContext,
        _ then: @escaping (LLMRequest?) -> Void
    ) {
        // The next value, or nil when the chain ended (`then` was called).
        ChainStep<LLMRequest?>.fold(
            from: first, count: list.count, value, control: nil,
            step: { i, v, c in list[i].fn(v, ctx, c) },
            apply: { [self] i, _, r in
                switch r {
                case .success(let v?): return v
                case .success(nil): then(nil)
                case .failure(let e):
                    log(.warn, "LLM sanitize-request guardrail '\(list[i].name)' failed: \(e.displayText)")
                    then(nil)
                }
                return nil
            }, then: { then($0) })
    }

    private func runSanitizeResponse(
        _ list: [Registration<LLMSanitizeResponse>], _ first: Int, _ value: JSON, _ ctx: CodecContext,
        _ then: @escaping (JSON?) -> Void
    ) {
        // The next value, or nil when the chain ended (`then` was called).
        ChainStep<JSON?>.fold(
            from: first, count: list.count, value, control: nil,
            step: { i, v, c in list[i].fn(v, ctx, c) },
            apply: { [self] i, _, r in
                switch r {
                case .success(let v?) where !v.isNull: return v
                case .success: then(nil)
                case .failure(let e):
                    log(.warn, "LLM sanitize-response guardrail '\(list[i].name)' failed: \(e.displayText)")
                    then(nil)
                }
                return nil
            }, then: { then($0) })
    }

    /// Builds the LLM end event of a successful call: sanitized payload, then the response annotation.
    func buildLLMEnd(
        _ h: ScopeHandle, response: JSON, fallback: JSON, annotated: JSON?, context: CodecContext, metadata: JSON,
        timestamp: Nanoseconds?, extraProfile: JSONObject = JSONObject(), locals: [Middleware],
        then: @escaping @Sendable (Event) -> Void
    ) {
        let end = endTime(after: h.startTime, timestamp)
        @Sendable func finish(_ data: JSON, _ ann: JSON?) {
            var profile = JSONObject()
            if let m = h.modelName { profile["model_name"] = .string(m) }
            if let ann { profile["annotated_response"] = ann }
            extraProfile.forEach { k, v in profile[k] = v }
            then(
                Event(
                    kind: .scopeEnd, uuid: h.uuid, parentUUID: h.parentUUID,
                    propagationRootUUID: h.propagationRootUUID, timestamp: end, name: h.name,
                    attributes: h.attributeNames, category: "llm", categoryProfile: .object(profile), data: data,
                    metadata: metadata))
        }
        if response.isNull { return finish(fallback, annotated) }
        let sanitizers = merged(global.llmSanitizeResponse, locals, \.llmSanitizeResponse)
        runSanitizeResponse(sanitizers, 0, response, context) { [self] payload in
            guard let payload else { return finish(.null, nil) }
            if let annotated { return finish(payload, annotated) }
            guard let codec = context.responseCodec else { return finish(payload, nil) }
            codec.decodeResponse(payload) { [self] r in
                switch r {
                case .success(let a): finish(payload, a)
                case .failure(let e):
                    log(.warn, "Response codec decode_response() failed: \(e.displayText)")
                    finish(payload, nil)
                }
            }
        }
    }

    /// Builds the LLM end event of a failed or cancelled call.
    func llmFailureEnd(_ h: ScopeHandle, _ error: RelayError, extraProfile: JSONObject = JSONObject()) -> Event {
        var profile = JSONObject()
        if let m = h.modelName { profile["model_name"] = .string(m) }
        extraProfile.forEach { k, v in profile[k] = v }
        return Event(
            kind: .scopeEnd, uuid: h.uuid, parentUUID: h.parentUUID, propagationRootUUID: h.propagationRootUUID,
            timestamp: endTime(after: h.startTime, nil), name: h.name, attributes: h.attributeNames, category: "llm",
            categoryProfile: .object(profile), data: h.data, metadata: .withStatus(h.metadata, ok: false, error: error))
    }

    /// Queues the pending marks an intercept asked for, one microsecond after the span start.
    func publishPendingMarks(_ marks: [PendingMark], under h: ScopeHandle, stack: ScopeStack) {
        for m in marks {
            var md = m.metadata
            if let s = m.severity { md = .mergeMetadata(md, ["nemo_relay.log.severity": .string(s)]) }
            let t = h.startTime &+ 1_000
            publish(
                Event(
                    kind: .mark, uuid: UUIDGenerator.next(nowNanos: t), parentUUID: h.uuid,
                    propagationRootUUID: h.propagationRootUUID, timestamp: t, name: m.name, category: m.category,
                    categoryProfile: m.categoryProfile, data: m.data, dataSchema: m.dataSchema, metadata: md),
                stack: stack)
        }
    }
}

// MARK: - Guardrails shared by LLM and tool calls

extension Runtime {
    /// Runs conditional-execution guardrails with their guardrail scope events; `then` gets nil to proceed.
    ///
    /// A rejection emits a mark named `callName`; standalone checks pass nil and emit none.
    func runConditional<F>(
        _ list: [Registration<F>], _ first: Int, callName: String?, parent: RelayUUID, stack: ScopeStack,
        control: CallControl?, startData: JSON, invoke: @escaping (F, Continuation<String?>) -> Void,
        then: @escaping (RelayError?) -> Void
    ) {
        let emit = wantsEvents(stack)
        let root = stack.propagationRoot(newAgent: nil)
        // Ends guardrail i's scope; false when the chain ended (`then` was called).
        func apply(_ i: Int, _ uuid: RelayUUID, _ start: Nanoseconds, _ r: Result<String?, RelayError>) -> Bool {
            let reg = list[i]
            func scopeEnd(_ data: JSON) -> Event {
                Event(
                    kind: .scopeEnd, uuid: uuid, parentUUID: parent, propagationRootUUID: root,
                    timestamp: endTime(after: start, nil), name: reg.name, category: "guardrail", data: data)
            }
            switch r {
            case .success(nil):
                if emit { publish(scopeEnd(["allowed": true, "rejected": false]), stack: stack) }
                return true
            case .success(let reason?):
                if emit {
                    publish(
                        scopeEnd(["allowed": false, "rejected": true, "rejection_reason": .string(reason)]),
                        stack: stack)
                }
                // Standalone guardrail checks (no call name) emit no rejection mark.
                if emit, let callName {
                    let t = clock.now()
                    publish(
                        Event(
                            kind: .mark, uuid: UUIDGenerator.next(nowNanos: t), parentUUID: parent,
                            propagationRootUUID: root, timestamp: t, name: callName,
                            data: ["rejected": true, "rejection_reason": .string(reason)]),
                        stack: stack)
                }
                then(RelayError(.guardrailRejected, reason))
                return false
            case .failure(let e):
                if emit { publish(scopeEnd(["allowed": false, "error": .string(e.displayText)]), stack: stack) }
                then(e)
                return false
            }
        }
        // Iterates while guardrails answer at once; one answered later re-enters here on its thread.
        func loop(_ from: Int) {
            var i = from
            while i < list.count {
                let reg = list[i]
                let start = clock.now()
                let uuid = UUIDGenerator.next(nowNanos: start)
                if emit {
                    publish(
                        Event(
                            kind: .scopeStart, uuid: uuid, parentUUID: parent, propagationRootUUID: root,
                            timestamp: start, name: reg.name, category: "guardrail", data: startData),
                        stack: stack)
                }
                let at = i
                guard
                    let r = ChainStep.run(
                        control, { c in invoke(reg.fn, c) },
                        later: { r in if apply(at, uuid, start, r) { loop(at + 1) } })
                else { return }
                guard apply(i, uuid, start, r) else { return }
                i += 1
            }
            then(nil)
        }
        loop(first)
    }
}
