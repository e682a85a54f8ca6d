// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

@Suite struct SubscriberTests {
    static func index(_ e: Event) -> Int { Int(e.data["i"]?.int64Value ?? -1) }

    @Test func eachSubscriberSeesQueueOrder() throws {
        let (rt, a) = makeRuntime()
        let b = EventCollector()
        try rt.registerSubscriber(name: "b") { b.add($0) }
        let s = ScopeStack()
        for i in 0..<300 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(a.events.map(Self.index) == Array(0..<300))
        #expect(b.events.map(Self.index) == Array(0..<300))
        // Both subscribers share one record per event.
        #expect(zip(a.records, b.records).allSatisfy { $0 === $1 })
    }

    @Test func eventsFromOneThreadKeepTheirOrder() {
        let (rt, c) = makeRuntime()
        let group = DispatchGroup()
        for t in 0..<4 {
            group.enter()
            Thread {
                let s = ScopeStack()
                for i in 0..<50 { rt.mark("t\(t)", stack: s, data: ["i": .int(Int64(i))]) }
                group.leave()
            }.start()
        }
        group.wait()
        rt.flush()
        #expect(c.events.count == 200)
        for t in 0..<4 {
            #expect(c.events.filter { $0.name == "t\(t)" }.map(Self.index) == Array(0..<50))
        }
    }

    @Test func slowSubscriberDelaysNeitherEmitterNorOthers() throws {
        let (rt, fast) = makeRuntime()
        let release = DispatchSemaphore(value: 0)
        let slowCount = Box(0)
        // Subscribers cannot throw in Swift; a stuck one is the worst case.
        try rt.registerSubscriber(name: "slow") { _ in
            release.wait()
            slowCount.mutate { $0 += 1 }
        }
        let s = ScopeStack()
        let t0 = DispatchTime.now().uptimeNanoseconds
        for i in 0..<5 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        let emitNanos = DispatchTime.now().uptimeNanoseconds - t0
        #expect(emitNanos < 500_000_000)
        // The fast subscriber gets everything while the slow one is stuck on the first event.
        let deadline = Date().addingTimeInterval(5)
        while fast.events.count < 5 && Date() < deadline { usleep(1000) }
        #expect(fast.events.count == 5)
        #expect(slowCount.value == 0)
        // flush times out while the slow subscriber is stuck.
        #expect(!rt.flush(timeoutNanos: 50_000_000))
        for _ in 0..<5 { release.signal() }
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(slowCount.value == 5)
    }

    @Test func boundedQueueDropsAndCounts() throws {
        let rt = Runtime(clock: ManualClock(), subscriberOptions: SubscriberOptions(capacity: 4))
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let got = EventCollector()
        try rt.registerSubscriber(name: "blocked") { r in
            got.add(r)
            if Self.index(r.event) == 0 {
                entered.signal()
                release.wait()
            }
        }
        let s = ScopeStack()
        rt.mark("m", stack: s, data: ["i": 0])
        #expect(entered.wait(timeout: .now() + 5) == .success)
        // The lane is empty again (event 0 is being delivered): 4 fit, 6 are dropped.
        for i in 1...10 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        #expect(rt.droppedEvents == 6)
        release.signal()
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(got.events.map(Self.index) == [0, 1, 2, 3, 4])
        // The count survives deregistration.
        #expect(rt.deregisterSubscriber(name: "blocked"))
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(rt.droppedEvents == 6)
        #expect(SubscriberOptions(capacity: 0).capacity == 1)
    }

    @Test func flushFromInsideASubscriberReturns() throws {
        let (rt, _) = makeRuntime()
        let result = Box<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        try rt.registerSubscriber(name: "flusher") { _ in
            result.value = rt.flush()
            done.signal()
        }
        rt.mark("m", stack: ScopeStack())
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(result.value == true)
    }

    @Test func subscriberEmittingEventsIsNotRecursive() throws {
        let (rt, c) = makeRuntime()
        let depth = Box(0)
        let maxDepth = Box(0)
        try rt.registerSubscriber(name: "echo") { r in
            depth.mutate { $0 += 1 }
            maxDepth.mutate { $0 = max($0, depth.value) }
            if r.event.name == "first" { rt.mark("echo", stack: ScopeStack()) }
            depth.mutate { $0 -= 1 }
        }
        let s = ScopeStack()
        rt.mark("first", stack: s)
        rt.mark("second", stack: s)
        let deadline = Date().addingTimeInterval(5)
        while c.events.count < 3 && Date() < deadline { usleep(1000) }
        rt.flush()
        #expect(maxDepth.value == 1)
        // The echo is queued after the events already queued.
        #expect(c.events.map(\.name) == ["first", "second", "echo"])
    }

    @Test func noSubscriberMeansNoEventWork() throws {
        let rt = Runtime(clock: ManualClock())
        let work = Box<[String]>([])
        try rt.registerMetadataInjector("inj", priority: 0) { _, k in
            work.mutate { $0.append("injector") }
            k.resume(returning: [:])
        }
        for kind in [EventKind.mark, .scopeStart, .scopeEnd] {
            try rt.registerEventSanitizer(kind, "san", priority: 0) { _, f, k in
                work.mutate { $0.append("event-sanitizer") }
                k.resume(returning: f)
            }
        }
        try rt.registerLLMSanitizeRequest("llm-req", priority: 0) { r, _, k in
            work.mutate { $0.append("llm-sanitize") }
            k.resume(returning: r)
        }
        try rt.registerToolSanitizeRequest("tool-req", priority: 0) { _, a, k in
            work.mutate { $0.append("tool-sanitize") }
            k.resume(returning: a)
        }
        let s = ScopeStack()
        let h = rt.pushScope("p", type: .function, stack: s)
        rt.mark("m", stack: s)
        let r = runLLM(
            rt, LLMCallParams(name: "c", request: chatRequest("x"), responseCodec: FailingCodec()), stack: s,
            provider: returning(1))
        #expect(r?.success == 1)
        let t = runTool(rt, ToolCallParams(name: "t", args: [:]), stack: s) { _, k in
            k.resume(returning: ToolResult(result: 1))
        }
        #expect(t?.success?.result == 1)
        try rt.popScope(h, stack: s)
        #expect(rt.flush())
        #expect(work.value == [])
        #expect(rt.subscriberNames == [])
    }

    @Test func scopeLocalSubscriberSeesItsScopeOnly() throws {
        let (rt, all) = makeRuntime()
        let s = ScopeStack()
        let local = EventCollector()
        rt.mark("before", stack: s)
        let h = rt.pushScope("owner", type: .function, stack: s)
        try rt.registerSubscriber(scope: h, name: "local") { local.add($0) }
        #expect(throws: RelayError.alreadyExists("local subscriber already exists")) {
            try rt.registerSubscriber(scope: h, name: "local") { _ in }
        }
        rt.mark("inside", stack: s)
        // Work on another stack (even with `h` as explicit parent) is not seen.
        rt.mark("other-stack", stack: ScopeStack(), parent: h)
        try rt.popScope(h, stack: s)
        rt.mark("after", stack: s)
        rt.flush()
        #expect(local.events.map(\.name) == ["inside", "owner"])
        #expect(local.events.last?.kind == .scopeEnd)
        #expect(all.events.map(\.name) == ["before", "owner", "inside", "other-stack", "owner", "after"])
    }

    @Test func flushWaitsForSlowScopeLocalSubscribers() throws {
        let (rt, _) = makeRuntime()
        let s = ScopeStack()
        let local = EventCollector()
        let h = rt.pushScope("owner", type: .function, stack: s)
        try rt.registerSubscriber(scope: h, name: "slow-local") { r in
            usleep(50_000)
            local.add(r)
        }
        rt.mark("a", stack: s)
        rt.mark("b", stack: s)
        // While the scope is open...
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(local.events.map(\.name) == ["a", "b"])
        // ...and after it was popped (the lane is closed but still delivering its end event).
        rt.mark("c", stack: s)
        try rt.popScope(h, stack: s)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(local.events.map(\.name) == ["a", "b", "c", "owner"])
    }

    @Test func deregisteredSubscriberStillGetsQueuedEvents() throws {
        let rt = Runtime(clock: ManualClock())
        let release = DispatchSemaphore(value: 0)
        let got = EventCollector()
        try rt.registerSubscriber(name: "s") { r in
            if got.events.isEmpty { release.wait() }
            got.add(r)
        }
        let s = ScopeStack()
        for i in 0..<3 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        #expect(rt.deregisterSubscriber(name: "s"))
        rt.mark("m", stack: s, data: ["i": 99])  // after deregistration: not delivered
        release.signal()
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(got.events.map(Self.index) == [0, 1, 2])
        // The name is free again.
        try rt.registerSubscriber(name: "s") { _ in }
    }

    @Test func shutdownDeliversThenCloses() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        rt.mark("m", stack: s)
        rt.shutdown()
        #expect(c.events.count == 1)
        #expect(rt.subscriberNames.isEmpty)
        rt.mark("late", stack: s)
        #expect(rt.flush(timeoutNanos: 1_000_000_000))
        #expect(c.events.count == 1)
    }
}
