// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// Events of one stack reach subscribers in emission order, also while an injector or sanitizer
/// answers later; an event emitted inside such a callback goes right after its event (issue 13 #7).
@Suite struct EventOrderTests {
    /// Continuations a sanitizer parked, answered by the test.
    final class Parked: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(EventFields, Continuation<EventFields>)] = []
        func add(_ f: EventFields, _ k: Continuation<EventFields>) { lock.withLock { items.append((f, k)) } }
        func take() -> [(EventFields, Continuation<EventFields>)] {
            lock.withLock {
                defer { items = [] }
                return items
            }
        }
    }

    @Test func laterEventsWaitForAnEarlierEventsPendingSanitizer() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let parked = Parked()
        try rt.registerEventSanitizer(.mark, "late", priority: 0) { ev, f, k in
            if ev.name == "outer" { parked.add(f, k) } else { k.resume(returning: f) }
        }
        rt.mark("outer", stack: s)
        rt.mark("later", stack: s)
        let other = ScopeStack()
        rt.mark("other-stack", stack: other)
        // A flush waits for the pending event too (and times out here).
        #expect(!rt.flush(timeoutNanos: 50_000_000))
        // Another stack is not held back; this one is.
        let until = Date().addingTimeInterval(10)
        while c.events.isEmpty && Date() < until { usleep(1000) }
        #expect(c.events.map(\.name) == ["other-stack"])
        let waiting = parked.take()
        #expect(waiting.count == 1)
        // Answered from another thread, which then delivers the queue behind it.
        let t = Thread { for (f, k) in waiting { k.resume(returning: f) } }
        t.start()
        while !t.isFinished { usleep(1000) }
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(c.events.map(\.name) == ["other-stack", "outer", "later"])
    }

    @Test func flushWaitsForEventsStillInsideTheirSanitizers() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        try rt.registerEventSanitizer(.mark, "slow", priority: 0) { _, f, k in
            Thread {
                usleep(50_000)
                var clean = f
                clean.data = "clean"
                k.resume(returning: clean)
            }.start()
        }
        rt.mark("slow", stack: s, data: "secret")
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(c.events.map(\.data) == ["clean"])
    }

    @Test func theScopeAnEndEventClosesIsCurrentInsideItsMiddleware() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let seen = Box<[String]>([])
        try rt.registerEventSanitizer(.scopeEnd, "current", priority: 0) { ev, f, k in
            seen.value.append("\(ev.name):\(rt.currentHandle(stack: s).name)")
            rt.mark("in-\(ev.name)", stack: s)
            k.resume(returning: f)
        }
        try rt.registerEventSanitizer(.mark, "current", priority: 0) { ev, f, k in
            seen.value.append("\(ev.name):\(rt.currentHandle(stack: s).name)")
            k.resume(returning: f)
        }
        let outer = rt.pushScope("outer", type: .agent, stack: s)
        let inner = rt.pushScope("inner", type: .function, stack: s)
        try rt.popScope(inner, stack: s)
        rt.mark("after", stack: s)
        try rt.popScope(outer, stack: s)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(seen.value == ["inner:inner", "in-inner:inner", "after:outer", "outer:outer", "in-outer:outer"])
        let names = Dictionary(c.events.map { ($0.uuid, $0.name) }, uniquingKeysWith: { a, _ in a })
        let parents = c.events.filter { $0.kind == .mark }.map { "\($0.name)<\(names[$0.parentUUID!] ?? "root")" }
        #expect(parents == ["in-inner<inner", "after<outer", "in-outer<outer"])
        #expect(rt.currentHandle(stack: s).name == "root")
    }

    @Test func anEventEmittedInsideASanitizerFollowsItsEvent() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        try rt.registerEventSanitizer(.mark, "nest", priority: 0) { ev, f, k in
            if ev.name == "outer" { rt.mark("nested", stack: s) }
            k.resume(returning: f)
        }
        rt.mark("outer", stack: s)
        rt.mark("later", stack: s)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(c.events.map(\.name) == ["outer", "nested", "later"])
    }

    @Test func anEventEmittedLaterInsideAPendingSanitizerGoesBeforeTheQueue() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let parked = Parked()
        let context = Box<EmissionContext?>(nil)
        try rt.registerEventSanitizer(.mark, "late", priority: 0) { ev, f, k in
            if ev.name == "outer" {
                context.value = EmissionContext.capture()
                parked.add(f, k)
            } else {
                k.resume(returning: f)
            }
        }
        rt.mark("outer", stack: s)
        rt.mark("later", stack: s)
        // The callback goes on later: what it emits inside its context nests under "outer".
        EmissionContext.enter(context.value, owner: 1)
        rt.mark("nested", stack: s)
        EmissionContext.leave(owner: 2)  // not its owner: nothing happens
        EmissionContext.leave(owner: 1)
        for (f, k) in parked.take() { k.resume(returning: f) }
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(c.events.map(\.name) == ["outer", "nested", "later"])
    }

    @Test func orderHoldsForManyEventsBehindSanitizersThatAnswerOnOtherThreads() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        try rt.registerMetadataInjector("late", priority: 0) { ev, k in
            let i = Int(ev.data["i"]?.int64Value ?? 0)
            if i % 3 == 0 {
                Thread {
                    usleep(UInt32(100 * (i % 5)))
                    k.resume(returning: ["i3": true])
                }.start()
            } else {
                k.resume(returning: [:])
            }
        }
        for i in 0..<200 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        let deadline = Date().addingTimeInterval(20)
        while c.events.count < 200 && Date() < deadline {
            rt.flush(timeoutNanos: 100_000_000)
            usleep(1000)
        }
        #expect(c.events.map(SubscriberTests.index) == Array(0..<200))
    }
}
