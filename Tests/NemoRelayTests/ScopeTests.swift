// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

@Suite struct ScopeTests {
    // MARK: Stack basics (docs/scopes.md, "Stack operations", "Stacks and the implicit root")

    @Test func freshStackHasOnlyTheImplicitRoot() {
        let s = ScopeStack()
        #expect(s.depth == 1)
        #expect(s.top === s.root)
        #expect(s.root.name == "root")
        #expect(s.root.scopeType == .agent)
        #expect(s.root.parentUUID == nil)
        #expect(s.root.attributes == 0)
        #expect(ScopeStack().root.uuid != s.root.uuid)
    }

    @Test func pushAndPopMoveTheTop() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let a = rt.pushScope("a", type: .function, stack: s)
        let b = rt.pushScope("b", type: .function, stack: s)
        #expect(s.top === b)
        #expect(b.parentUUID == a.uuid)
        #expect(a.parentUUID == s.root.uuid)
        try rt.popScope(b, stack: s)
        #expect(s.top === a)
        try rt.popScope(a, stack: s)
        #expect(s.top === s.root)
        rt.flush()
        #expect(c.events.map(\.name) == ["a", "b", "b", "a"])
        #expect(b.isPopped && a.isPopped)
    }

    // MARK: Pop errors (2.1 table); no event is emitted on error

    @Test func popErrors() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        // Root is the only entry.
        #expect(throws: RelayError.invalidArgument("root scope cannot be removed")) {
            try rt.popScope(s.root, stack: s)
        }
        let a = rt.pushScope("a", type: .function, stack: s)
        let b = rt.pushScope("b", type: .function, stack: s)
        // On the stack but not on top.
        #expect(throws: RelayError.invalidArgument("scope handle is not at the top of the stack")) {
            try rt.popScope(a, stack: s)
        }
        // The root with scopes above it.
        #expect(throws: RelayError.invalidArgument("scope handle is not at the top of the stack")) {
            try rt.popScope(s.root, stack: s)
        }
        try rt.popScope(b, stack: s)
        // Already popped.
        #expect(throws: RelayError.notFound("scope handle not found")) { try rt.popScope(b, stack: s) }
        // Another stack's handle.
        let other = ScopeStack()
        let x = rt.pushScope("x", type: .function, stack: other)
        #expect(throws: RelayError.notFound("scope handle not found")) { try rt.popScope(x, stack: s) }
        // Display texts.
        do {
            try rt.popScope(b, stack: s)
        } catch {
            #expect(error.displayText == "not found: scope handle not found")
            #expect(error.errorType == "not_found")
        }
        let fresh = ScopeStack()
        do {
            try rt.popScope(fresh.root, stack: fresh)
        } catch {
            #expect(error.displayText == "invalid argument: root scope cannot be removed")
        }
        rt.flush()
        // Only the successful operations emitted: a start, b start, b end, x start.
        #expect(
            c.events.map { "\($0.name):\($0.kind)" } == ["a:scopeStart", "b:scopeStart", "b:scopeEnd", "x:scopeStart"])
        #expect(s.top === a)
    }

    // MARK: propagation_root_uuid (docs/scopes.md, "Identifiers and the propagation root")

    @Test func propagationRootFunctionThenAgent() throws {
        // root > F(Function) > X(Agent) > L(LLM): X for X and L, root for F.
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let f = rt.pushScope("F", type: .function, stack: s)
        let x = rt.pushScope("X", type: .agent, stack: s)
        let l = rt.llmCall(LLMCallParams(name: "L", request: chatRequest("hi")), stack: s)
        #expect(f.propagationRootUUID == s.root.uuid)
        #expect(x.propagationRootUUID == x.uuid)
        #expect(l.propagationRootUUID == x.uuid)
        rt.llmCallEnd(l, LLMCallEndParams(response: ["ok": true]), stack: s)
        try rt.popScope(x, stack: s)
        try rt.popScope(f, stack: s)
        rt.flush()
        let roots = Dictionary(grouping: c.events, by: \.name).mapValues { Set($0.map(\.propagationRootUUID)) }
        #expect(roots["F"] == [s.root.uuid])
        #expect(roots["X"] == [x.uuid])
        #expect(roots["L"] == [x.uuid])
    }

    @Test func propagationRootOutermostAgentWins() throws {
        // root > A(Agent) > B(Function) > C(Agent): A for A, B and C (and for marks and tools inside).
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let a = rt.pushScope("A", type: .agent, stack: s)
        let b = rt.pushScope("B", type: .function, stack: s)
        let cc = rt.pushScope("C", type: .agent, stack: s)
        rt.mark("m", stack: s)
        let t = rt.toolCall(ToolCallParams(name: "t", args: [:]), stack: s)
        rt.toolCallEnd(t, result: ToolResult(result: 1), stack: s)
        for h in [cc, b, a] { try rt.popScope(h, stack: s) }
        rt.flush()
        #expect(c.events.count == 9)
        #expect(c.events.allSatisfy { $0.propagationRootUUID == a.uuid })
        // Tool and LLM scopes pushed as plain scopes never become the root either.
        let s2 = ScopeStack()
        let tool = rt.pushScope("tool", type: .tool, stack: s2)
        let llm = rt.pushScope("llm", type: .llm, stack: s2)
        #expect(tool.propagationRootUUID == s2.root.uuid)
        #expect(llm.propagationRootUUID == s2.root.uuid)
    }

    // MARK: Explicit and popped parents (docs/scopes.md, "Stack operations")

    @Test func explicitParentIsRecordedButScopeGoesOnTheCurrentStack() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let a = rt.pushScope("a", type: .function, stack: s)
        let b = rt.pushScope("b", type: .function, stack: s)
        let other = ScopeStack()
        let child = rt.pushScope("child", type: .function, stack: other, parent: a)
        #expect(child.parentUUID == a.uuid)
        #expect(other.top === child)
        #expect(s.top === b)
        rt.mark("m", stack: other, parent: b)
        try rt.popScope(child, stack: other)
        rt.flush()
        #expect(c.events.filter { $0.name == "child" }.allSatisfy { $0.parentUUID == a.uuid })
        #expect(c.events.first { $0.name == "m" }?.parentUUID == b.uuid)
    }

    @Test func poppedHandleMayStillBeAParent() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let gone = rt.pushScope("gone", type: .function, stack: s, data: ["kept": true])
        try rt.popScope(gone, stack: s)
        rt.mark("late-mark", stack: s, parent: gone)
        let late = rt.pushScope("late-scope", type: .function, stack: s, parent: gone)
        try rt.popScope(late, stack: s)
        rt.flush()
        #expect(c.events.first { $0.name == "late-mark" }?.parentUUID == gone.uuid)
        #expect(c.events.filter { $0.name == "late-scope" }.map(\.parentUUID) == [gone.uuid, gone.uuid])
        // Handles are values: still readable after the end.
        #expect(gone.name == "gone" && gone.data == ["kept": true] && gone.isPopped)
        // Scope-local registration on a popped scope fails.
        #expect(throws: RelayError.notFound("scope \(gone.uuid) not found")) {
            try rt.registerMetadataInjector("i", priority: 0, scope: gone) { _, k in k.resume(returning: [:]) }
        }
    }

    // MARK: Forks (docs/scopes.md, "Threads and async contexts")

    @Test func forkIsIsolated() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let agent = rt.pushScope("agent", type: .agent, stack: s)
        let seen = EventCollector()
        try rt.registerSubscriber(scope: agent, name: "local") { seen.add($0) }
        let fork = ScopeStack(forkingFrom: s)
        // Seeded from the parent's top; parentage and propagation root preserved.
        #expect(fork.top === agent)
        #expect(fork.root === s.root)
        let inFork = rt.pushScope("in-fork", type: .function, stack: fork)
        #expect(inFork.parentUUID == agent.uuid)
        #expect(inFork.propagationRootUUID == agent.uuid)
        #expect(s.top === agent)  // the parent stack did not change
        let inParent = rt.pushScope("in-parent", type: .function, stack: s)
        #expect(fork.top === inFork)
        // Inherited entries cannot be popped from the fork.
        try rt.popScope(inFork, stack: fork)
        #expect(throws: RelayError.notFound("scope handle not found")) { try rt.popScope(agent, stack: fork) }
        try rt.popScope(inParent, stack: s)
        rt.flush()
        // Scope-local subscribers are not inherited: the local lane saw only the parent stack's events.
        #expect(seen.events.map(\.name) == ["in-parent", "in-parent"])
        #expect(c.events.map(\.name) == ["agent", "in-fork", "in-parent", "in-fork", "in-parent"])
        // A fork of a fresh stack: its root cannot be removed either.
        let f2 = ScopeStack(forkingFrom: ScopeStack())
        #expect(throws: RelayError.invalidArgument("root scope cannot be removed")) {
            try rt.popScope(f2.root, stack: f2)
        }
    }

    @Test func aForkKeepsTheParentsRootForItsOwnAgents() throws {
        let (rt, _) = makeRuntime()
        // No Agent in the parent: the fork's spans keep the parent stack's root, its own Agent included.
        let s = ScopeStack()
        let fn = rt.pushScope("parent-fn", type: .function, stack: s)
        let fork = ScopeStack(forkingFrom: s)
        let childAgent = rt.pushScope("child-agent", type: .agent, stack: fork)
        #expect(childAgent.propagationRootUUID == s.root.uuid)
        #expect(rt.pushScope("inner", type: .function, stack: fork).propagationRootUUID == s.root.uuid)
        // A fresh stack's first Agent is its root, as before.
        let fresh = ScopeStack()
        let agent = rt.pushScope("agent", type: .agent, stack: fresh)
        #expect(agent.propagationRootUUID == agent.uuid)
        try rt.popScope(fn, stack: s)
    }

    @Test func threadsGetTheirOwnDefaultStack() {
        let main = ScopeStack.current
        #expect(ScopeStack.current === main)
        let other = Box<RelayUUID?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            other.value = ScopeStack.current.root.uuid
            done.signal()
        }.start()
        done.wait()
        #expect(other.value != nil && other.value != main.root.uuid)
        // An installed stack is shared, not copied.
        let shared = ScopeStack()
        let seen = Box<ScopeStack?>(nil)
        let sem = DispatchSemaphore(value: 0)
        Thread {
            ScopeStack.setCurrent(shared)
            seen.value = ScopeStack.current
            ScopeStack.setCurrent(nil)
            sem.signal()
        }.start()
        sem.wait()
        #expect(seen.value === shared)
    }

    // MARK: Agent freshness (docs/scopes.md, "Agent freshness")

    @Test func firstLLMStartConsumesTheOwningAgent() throws {
        let rt = Runtime(clock: ManualClock())
        let s = ScopeStack()
        // The root is an agent and starts fresh.
        #expect(s.consumeFreshness(parent: s.root.uuid))
        #expect(!s.consumeFreshness(parent: s.root.uuid))
        let a = rt.pushScope("a", type: .agent, stack: s)
        let f = rt.pushScope("f", type: .function, stack: s)
        // Owner of an LLM under f is a (nearest agent at or below the parent).
        #expect(s.consumeFreshness(parent: f.uuid))
        #expect(!s.consumeFreshness(parent: a.uuid))
        let b = rt.pushScope("b", type: .agent, stack: s)
        #expect(s.consumeFreshness(parent: b.uuid))
        // An explicit parent below b resolves to a, which was consumed.
        #expect(!s.consumeFreshness(parent: f.uuid))
        // A child stack has fresh agents again.
        let fork = ScopeStack(forkingFrom: s)
        #expect(fork.consumeFreshness(parent: b.uuid))
        // Re-pushing a new agent scope is fresh.
        try rt.popScope(b, stack: s)
        let b2 = rt.pushScope("b2", type: .agent, stack: s)
        #expect(s.consumeFreshness(parent: b2.uuid))
    }

    @Test func onlyLLMStartsConsumeFreshness() throws {
        let (rt, _) = makeRuntime()
        let s = ScopeStack()
        let a = rt.pushScope("a", type: .agent, stack: s)
        rt.mark("m", stack: s)
        let t = rt.toolCall(ToolCallParams(name: "t", args: [:]), stack: s)
        rt.toolCallEnd(t, result: nil, stack: s)
        _ = runTool(rt, ToolCallParams(name: "t2", args: [:]), stack: s) { _, c in
            c.resume(returning: ToolResult(result: 1))
        }
        let p = rt.pushScope("plain", type: .function, stack: s)
        try rt.popScope(p, stack: s)
        // A rejected LLM call does not consume it either.
        try rt.registerLLMConditionalGuardrail("no", priority: 0) { _, c in c.resume(returning: "blocked") }
        _ = runLLM(rt, LLMCallParams(name: "x", request: chatRequest("hi")), stack: s, provider: returning(1))
        _ = try rt.deregister(.llmConditionalExecution, name: "no")
        // A manual LLM call consumes it.
        let l = rt.llmCall(LLMCallParams(name: "l", request: chatRequest("hi")), stack: s)
        rt.llmCallEnd(l, LLMCallEndParams(response: 1), stack: s)
        #expect(!s.consumeFreshness(parent: a.uuid))
    }

    @Test func managedLLMConsumesFreshness() {
        let (rt, _) = makeRuntime()
        let s = ScopeStack()
        _ = runLLM(rt, LLMCallParams(name: "x", request: chatRequest("hi")), stack: s, provider: returning(1))
        #expect(!s.consumeFreshness(parent: s.root.uuid))
    }
}
