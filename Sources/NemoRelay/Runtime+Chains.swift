// SPDX-License-Identifier: Apache-2.0

/// The accumulated result of an LLM request-intercept chain.
public struct LLMInterceptChainResult: Sendable {
    public var request: LLMRequest
    public var annotatedRequest: JSON?
    public var pendingMarks: [PendingMark]
}

extension Runtime {
    /// Runs LLM request intercepts with the codec content rules (docs/pipeline.md, "LLM call steps", step 3).
    func runLLMRequestIntercepts(
        _ list: [Registration<LLMRequestIntercept>], name: String, request: LLMRequest, annotated: JSON?,
        codecActive: Bool, control: CallControl?, then: @escaping (Result<LLMInterceptChainResult, RelayError>) -> Void
    ) {
        var state = LLMInterceptChainResult(request: request, annotatedRequest: annotated, pendingMarks: [])
        // Folds step i's result into `state`; false when the chain ended (`then` was called).
        func apply(_ i: Int, _ before: LLMRequest, _ r: Result<RequestInterceptOutcome, RelayError>) -> Bool {
            let reg = list[i]
            switch r {
            case .failure(let e):
                then(.failure(e))
                return false
            case .success(let outcome):
                if codecActive {
                    if outcome.request.content != before.content {
                        then(
                            .failure(
                                .invalidArgument(
                                    "LLM request intercept '\(reg.name)' changed request.content while a request codec is active; modify annotated_request instead"
                                )))
                        return false
                    }
                    guard outcome.annotatedRequest != nil else {
                        then(
                            .failure(
                                .invalidArgument(
                                    "LLM request intercept '\(reg.name)' omitted annotated_request while a request codec is active"
                                )))
                        return false
                    }
                }
                state.annotatedRequest = outcome.annotatedRequest
                state.request = outcome.request
                state.pendingMarks.append(contentsOf: outcome.pendingMarks)
                if reg.breakChain {
                    then(.success(state))
                    return false
                }
                return true
            }
        }
        ChainStep<RequestInterceptOutcome>.fold(
            from: 0, count: list.count, state.request, control: control,
            step: { i, before, c in list[i].fn(name, before, state.annotatedRequest, c) },
            apply: { i, before, r in apply(i, before, r) ? state.request : nil },
            then: { _ in then(.success(state)) })
    }

    /// Runs only the LLM conditional-execution guardrails (guardrail scopes are emitted, no rejection mark).
    public func llmConditionalExecution(
        _ request: LLMRequest, stack: ScopeStack? = nil, done: @escaping (Result<Void, RelayError>) -> Void
    ) {
        let stack = stack ?? ScopeStack.current
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        runConditional(
            merged(global.llmConditional, locals, \.llmConditional), 0, callName: nil, parent: stack.top.uuid,
            stack: stack, control: nil, startData: ["kind": "llm_conditional_execution"],
            invoke: { fn, c in fn(request, c) }
        ) { err in done(err.map { .failure($0) } ?? .success(())) }
    }

    /// Runs only the LLM request-intercept chain, without a codec and without emitting anything.
    public func llmRequestIntercepts(
        name: String, request: LLMRequest, stack: ScopeStack? = nil,
        done: @escaping (Result<LLMInterceptChainResult, RelayError>) -> Void
    ) {
        let stack = stack ?? ScopeStack.current
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        runLLMRequestIntercepts(
            merged(global.llmRequest, locals, \.llmRequest), name: name, request: request, annotated: nil,
            codecActive: false, control: nil, then: done)
    }

    /// Runs only the tool conditional-execution guardrails for `tool`.
    public func toolConditionalExecution(
        _ tool: String, args: JSON, stack: ScopeStack? = nil, done: @escaping (Result<Void, RelayError>) -> Void
    ) {
        let stack = stack ?? ScopeStack.current
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        runConditional(
            merged(global.toolConditional, locals, \.toolConditional), 0, callName: nil, parent: stack.top.uuid,
            stack: stack, control: nil,
            startData: ["kind": "tool_conditional_execution", "target_name": .string(tool)],
            invoke: { fn, c in fn(tool, args, c) }
        ) { err in done(err.map { .failure($0) } ?? .success(())) }
    }

    /// Runs only the tool request-intercept chain for `tool`, emitting nothing.
    public func toolRequestIntercepts(
        _ tool: String, args: JSON, stack: ScopeStack? = nil, done: @escaping (Result<JSON, RelayError>) -> Void
    ) {
        let stack = stack ?? ScopeStack.current
        let locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        runToolIntercepts(
            merged(global.toolRequest, locals, \.toolRequest), 0, name: tool, args: args, control: nil, done)
    }
}
