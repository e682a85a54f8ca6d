// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct MiddlewareTests {
    /// A request intercept that appends `label` to `log` and passes the request through.
    static func recorder(_ log: Box<[String]>, _ label: String, annotated: Bool = false) -> LLMRequestIntercept {
        { _, req, ann, c in
            log.mutate { $0.append(label) }
            c.resume(returning: RequestInterceptOutcome(request: req, annotatedRequest: ann))
        }
    }

    static func call(_ rt: Runtime, _ s: ScopeStack) -> Result<JSON, RelayError>? {
        runLLM(rt, LLMCallParams(name: "llm", request: chatRequest("hi")), stack: s, provider: returning(["ok": true]))
    }

    // MARK: Ordering (docs/middleware.md, "Ordering")

    @Test func ascendingPriorityThenNameInByteOrder() throws {
        let rt = Runtime(clock: ManualClock())
        let log = Box<[String]>([])
        // Registration order deliberately differs from run order.
        for (name, prio) in [("Z", 0), ("late", 5), ("A", 0), ("neg", -3), ("M", 0), ("a", 0)] as [(String, Int32)] {
            try rt.registerLLMRequestIntercept(name, priority: prio, Self.recorder(log, name))
        }
        _ = Self.call(rt, ScopeStack())
        #expect(log.value == ["neg", "A", "M", "Z", "a", "late"])
    }

    @Test func globalBeforeScopeLocalOuterBeforeInner() throws {
        let rt = Runtime(clock: ManualClock())
        let s = ScopeStack()
        let log = Box<[String]>([])
        let outer = rt.pushScope("outer", type: .agent, stack: s)
        let inner = rt.pushScope("inner", type: .function, stack: s)
        // Same priority and name in three registries: global, outer scope, inner scope.
        try rt.registerLLMRequestIntercept("same", priority: 0, scope: inner, Self.recorder(log, "inner"))
        try rt.registerLLMRequestIntercept("same", priority: 0, scope: outer, Self.recorder(log, "outer"))
        try rt.registerLLMRequestIntercept("same", priority: 0, Self.recorder(log, "global"))
        // Priority and name still rank first across registries.
        try rt.registerLLMRequestIntercept("early", priority: -1, scope: inner, Self.recorder(log, "inner-early"))
        try rt.registerLLMRequestIntercept("a-name", priority: 0, scope: inner, Self.recorder(log, "inner-a"))
        _ = Self.call(rt, s)
        #expect(log.value == ["inner-early", "inner-a", "global", "outer", "inner"])
        // Scope-local entries vanish when their scope is popped.
        try rt.popScope(inner, stack: s)
        log.value = []
        _ = Self.call(rt, s)
        #expect(log.value == ["global", "outer"])
        try rt.popScope(outer, stack: s)
        log.value = []
        _ = Self.call(rt, s)
        #expect(log.value == ["global"])
        // ...and registering on a popped scope fails.
        #expect(throws: RelayError.notFound("scope \(inner.uuid) not found")) {
            try rt.registerLLMRequestIntercept("again", priority: 0, scope: inner, Self.recorder(log, "x"))
        }
        #expect(throws: RelayError.notFound("scope \(outer.uuid) not found")) {
            try rt.deregister(.llmRequestIntercept, name: "same", scope: outer)
        }
        do {
            try rt.registerSubscriber(scope: outer, name: "s") { _ in }
            Issue.record("expected an error")
        } catch {
            #expect(error.displayText == "not found: scope \(outer.uuid) not found")
        }
    }

    @Test func scopeLocalAppliesOnlyWhileOnTheCurrentStack() throws {
        let rt = Runtime(clock: ManualClock())
        let s = ScopeStack()
        let log = Box<[String]>([])
        let a = rt.pushScope("a", type: .function, stack: s)
        try rt.registerLLMRequestIntercept("local", priority: 0, scope: a, Self.recorder(log, "local"))
        // Work on another stack naming `a` as explicit parent does not see it.
        let other = ScopeStack()
        _ = runLLM(
            rt, LLMCallParams(name: "llm", request: chatRequest("hi"), parent: a), stack: other, provider: returning(1))
        #expect(log.value == [])
        // Work on this stack with another explicit parent does.
        _ = runLLM(
            rt, LLMCallParams(name: "llm", request: chatRequest("hi"), parent: other.root), stack: s,
            provider: returning(1))
        #expect(log.value == ["local"])
    }

    // MARK: Registration rules (docs/middleware.md, "Registration rules")

    @Test func duplicateNamesAndDeregistration() throws {
        let rt = Runtime(clock: ManualClock())
        let s = ScopeStack()
        let log = Box<[String]>([])
        try rt.registerLLMRequestIntercept("X", priority: 0, Self.recorder(log, "x"))
        do {
            try rt.registerLLMRequestIntercept("X", priority: 9, Self.recorder(log, "x2"))
            Issue.record("expected a duplicate error")
        } catch {
            #expect(error == .alreadyExists("X already exists"))
            #expect(error.displayText == "already exists: X already exists")
            #expect(error.errorType == "already_exists")
        }
        // Each kind has its own registry, and a scope may reuse a global name.
        try rt.registerLLMExecutionIntercept("X", priority: 0) { _, r, _, next, c in next(r, c) }
        let h = rt.pushScope("h", type: .function, stack: s)
        try rt.registerLLMRequestIntercept("X", priority: 0, scope: h, Self.recorder(log, "local-x"))
        #expect(throws: RelayError.alreadyExists("X already exists")) {
            try rt.registerLLMRequestIntercept("X", priority: 0, scope: h, Self.recorder(log, "dup"))
        }
        #expect(try rt.deregister(.llmRequestIntercept, name: "X", scope: h))
        #expect(try !rt.deregister(.llmRequestIntercept, name: "X", scope: h))
        #expect(try rt.deregister(.llmRequestIntercept, name: "X"))
        #expect(try !rt.deregister(.llmRequestIntercept, name: "X"))
        #expect(try rt.deregister(.llmExecutionIntercept, name: "X"))
        #expect(try !rt.deregister(.toolRequestIntercept, name: "nope"))
        _ = Self.call(rt, s)
        #expect(log.value == [])
        // Subscribers use their own wording.
        try rt.registerSubscriber(name: "sub") { _ in }
        #expect(throws: RelayError.alreadyExists("sub subscriber already exists")) {
            try rt.registerSubscriber(name: "sub") { _ in }
        }
        #expect(rt.deregisterSubscriber(name: "sub"))
        #expect(!rt.deregisterSubscriber(name: "sub"))
    }

    @Test func everyKindRegistersAndDeregisters() throws {
        let rt = Runtime(clock: ManualClock())
        try rt.registerLLMConditionalGuardrail("n", priority: 0) { _, c in c.resume(returning: nil) }
        try rt.registerLLMRequestIntercept("n", priority: 0) { _, r, a, c in
            c.resume(returning: .init(request: r, annotatedRequest: a))
        }
        try rt.registerLLMExecutionIntercept("n", priority: 0) { _, r, _, next, c in next(r, c) }
        try rt.registerLLMStreamExecutionIntercept("n", priority: 0) { _, r, _, next, sink in next(r, sink) }
        try rt.registerLLMSanitizeRequest("n", priority: 0) { r, _, c in c.resume(returning: r) }
        try rt.registerLLMSanitizeResponse("n", priority: 0) { r, _, c in c.resume(returning: r) }
        try rt.registerToolConditionalGuardrail("n", priority: 0) { _, _, c in c.resume(returning: nil) }
        try rt.registerToolRequestIntercept("n", priority: 0) { _, a, c in c.resume(returning: a) }
        try rt.registerToolExecutionIntercept("n", priority: 0) { ctx, next, c in next(ctx.args, c) }
        try rt.registerToolSanitizeRequest("n", priority: 0) { _, a, c in c.resume(returning: a) }
        try rt.registerToolSanitizeResponse("n", priority: 0) { _, a, c in c.resume(returning: a) }
        for k in [EventKind.mark, .scopeStart, .scopeEnd] {
            try rt.registerEventSanitizer(k, "n", priority: 0) { _, f, c in c.resume(returning: f) }
        }
        try rt.registerMetadataInjector("n", priority: 0) { _, c in c.resume(returning: [:]) }
        for k in MiddlewareKind.allCases {
            #expect(try rt.deregister(k, name: "n"), "\(k)")
            #expect(try !rt.deregister(k, name: "n"), "\(k)")
        }
    }

    // MARK: break_chain (docs/middleware.md, "Ordering")

    @Test func breakChainStopsAfterTheFlaggedEntry() throws {
        let rt = Runtime(clock: ManualClock())
        let log = Box<[String]>([])
        try rt.registerLLMRequestIntercept("1", priority: 1, Self.recorder(log, "1"))
        try rt.registerLLMRequestIntercept("2", priority: 2, breakChain: true, Self.recorder(log, "2"))
        try rt.registerLLMRequestIntercept("3", priority: 3, Self.recorder(log, "3"))
        let r = Self.call(rt, ScopeStack())
        #expect(log.value == ["1", "2"])
        #expect(r?.success == ["ok": true])
        // Same for tool request intercepts.
        let tlog = Box<[String]>([])
        try rt.registerToolRequestIntercept("a", priority: 1) { _, a, c in
            tlog.mutate { $0.append("a") }
            c.resume(returning: ["step": "a"])
        }
        try rt.registerToolRequestIntercept("b", priority: 2, breakChain: true) { _, a, c in
            tlog.mutate { $0.append("b:\(a["step"]!.stringValue!)") }
            c.resume(returning: ["step": "b"])
        }
        try rt.registerToolRequestIntercept("c", priority: 3) { _, _, c in
            tlog.mutate { $0.append("c") }
            c.resume(returning: ["step": "c"])
        }
        let seen = Box<JSON>(nil)
        _ = runTool(rt, ToolCallParams(name: "t", args: [:]), stack: ScopeStack()) { a, c in
            seen.value = a
            c.resume(returning: ToolResult(result: 1))
        }
        #expect(tlog.value == ["a", "b:a"])
        #expect(seen.value == ["step": "b"])
    }

    // MARK: Event middleware (docs/middleware.md, "Event middleware")

    /// A deliberate difference from the reference (docs/middleware.md, "Event middleware"): with no
    /// subscriber, injectors and event sanitizers do not run.
    @Test func middlewareRunsOnlyWhenSomeoneListens() throws {
        let rt = Runtime(clock: ManualClock())
        let s = ScopeStack()
        let calls = Box(0)
        try rt.registerMetadataInjector("count", priority: 0) { _, k in
            calls.mutate { $0 += 1 }
            k.resume(returning: [:])
        }
        try rt.registerEventSanitizer(.mark, "count", priority: 0) { _, f, k in
            calls.mutate { $0 += 1 }
            k.resume(returning: f)
        }
        rt.mark("unheard", stack: s)
        #expect(calls.value == 0)
        try rt.registerSubscriber(name: "ignore") { _ in }
        rt.mark("heard", stack: s)
        rt.flush()
        #expect(calls.value == 2)
    }

    /// A scope's own injectors and end sanitizers apply to its end event, as in the reference.
    @Test func scopeLocalMiddlewareAppliesToItsOwnEnd() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let outer = rt.pushScope("outer", type: .agent, stack: s)
        let inner = rt.pushScope("inner", type: .function, stack: s)
        try rt.registerMetadataInjector("local", priority: 0, scope: inner) { _, k in
            k.resume(returning: ["local": true])
        }
        try rt.registerEventSanitizer(.scopeEnd, "end", priority: 0, scope: inner) { _, f, k in
            var f = f
            f.data = "sanitized"
            k.resume(returning: f)
        }
        try rt.popScope(inner, stack: s)
        try rt.popScope(outer, stack: s)
        rt.flush()
        let ends = c.events.filter { $0.kind == .scopeEnd }
        #expect(ends.map(\.name) == ["inner", "outer"])
        #expect(ends[0].metadata == ["local": true])
        #expect(ends[0].data == "sanitized")
        #expect(ends[1].metadata == .null)
        #expect(ends[1].data == .null)
    }

    @Test func injectorsThenSanitizers() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        try rt.registerMetadataInjector("inj", priority: 0) { _, k in
            k.resume(returning: ["tenant": "t1", "drop": true])
        }
        try rt.registerMetadataInjector("bad", priority: 1) { _, k in k.resume(returning: ["nested": ["x": 1]]) }
        try rt.registerMetadataInjector("list", priority: 2) { _, k in k.resume(returning: ["tags": ["a", "b"]]) }
        try rt.registerEventSanitizer(.mark, "san", priority: 0) { _, f, k in
            var f = f
            if case .object(var m) = f.metadata {
                m["drop"] = nil
                m["seen_tenant"] = m["tenant"]
                f.metadata = .object(m)
            }
            f.data = "redacted"
            k.resume(returning: f)
        }
        rt.mark("m", stack: s, data: "secret", metadata: ["own": 1])
        let h = rt.pushScope("p", type: .function, stack: s)
        try rt.popScope(h, stack: s)
        rt.flush()
        #expect(c.events[0].metadata == ["own": 1, "tenant": "t1", "seen_tenant": "t1", "tags": ["a", "b"]])
        #expect(c.events[0].data == "redacted")
        // Scope events get the injected keys but no mark sanitizer.
        #expect(c.events[1].metadata == ["tenant": "t1", "drop": true, "tags": ["a", "b"]])
    }

    @Test func failingEventSanitizerClearsFieldsAndStopsTheChain() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let ran = Box(false)
        try rt.registerEventSanitizer(.scopeStart, "fail", priority: 0) { _, _, k in
            k.resume(throwing: .callback("ValueError", "nope"))
        }
        try rt.registerEventSanitizer(.scopeStart, "after", priority: 1) { _, f, k in
            ran.value = true
            k.resume(returning: f)
        }
        let h = rt.pushSampleScope(s)
        rt.flush()
        #expect(!ran.value)
        #expect(c.events[0].data == .null && c.events[0].metadata == .null && c.events[0].categoryProfile == nil)
        #expect(h.name == "x")
    }
}

extension Runtime {
    /// Pushes a scope with input and metadata (helper for sanitizer tests).
    func pushSampleScope(_ s: ScopeStack) -> ScopeHandle {
        pushScope("x", type: .function, stack: s, metadata: ["m": 1], input: ["i": 1])
    }
}
