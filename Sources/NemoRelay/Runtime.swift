// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// Severity of a runtime diagnostic or of a mark (`nemo_relay.log.severity`).
public enum LogLevel: Int32, Sendable {
    case trace = 0
    case debug = 1
    case info = 2
    case warn = 3
    case error = 4

    /// The lowercase name.
    public var name: String {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }
}

/// The runtime: global middleware, subscribers and the event pipeline. It is an explicit object,
/// safe for concurrent use (internally locked); there are no process-wide singletons to initialise.
///
/// `@unchecked Sendable`: `lanesLock` guards `lanes`, `closedLanes` and `scopeLanes`; `logLock` guards
/// `logSink`; the counters are atomics and the rest is immutable.
public final class Runtime: @unchecked Sendable {
    /// The source of event timestamps.
    public let clock: any RelayClock
    /// A process-unique number (never reused), recorded on the scope handles this runtime makes.
    public let serial: UInt64 = Runtime.serials.add(1, ordering: .relaxed).newValue
    private static let serials = Atomic<UInt64>(0)
    let global = Middleware(depth: 0)
    /// Streams whose end event is not recorded yet, so ``shutdown(timeoutNanos:)`` can end them.
    let liveStreams = LiveStreams()
    /// Managed LLM and tool calls not finished yet, so ``shutdown(timeoutNanos:)`` can cancel them.
    let liveCalls = LiveSet<CallControl>()
    /// Events inside their injectors and sanitizers, waited for by ``flush(timeoutNanos:)``.
    let inFlight = InFlightPublications()

    private let lanesLock = PThreadLock()
    private var lanes: [SubscriberLane] = []
    private let laneCount = Atomic<Int>(0)
    /// Scope-local subscriber lanes alive anywhere (fast check for the no-subscriber path).
    let localLaneCount = Atomic<Int>(0)
    private var closedLanes: [SubscriberLane] = []
    /// Scope-local lanes still open, so `flush` and `droppedEvents` see them too.
    private var scopeLanes: [SubscriberLane] = []
    let subscriberOptions: SubscriberOptions
    private let droppedClosed = Atomic<UInt64>(0)

    private let logLock = PThreadLock()
    private var logSink: (@Sendable (LogLevel, String) -> Void)?

    /// Creates a runtime; `clock` is injectable for tests.
    public init(clock: any RelayClock = SystemClock(), subscriberOptions: SubscriberOptions = SubscriberOptions()) {
        self.clock = clock
        self.subscriberOptions = subscriberOptions
    }

    deinit {
        for l in lanes { l.close() }
    }

    // MARK: Diagnostics

    /// Routes runtime diagnostics (subscriber failures, codec failures) to `sink`; the core never prints.
    public func setLogSink(_ sink: (@Sendable (LogLevel, String) -> Void)?) {
        logLock.withLock { logSink = sink }
    }

    func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard let s = logLock.withLock({ logSink }) else { return }
        s(level, message())
    }

    // MARK: Subscribers

    /// Registers a global subscriber; a duplicate name fails with `already exists`.
    public func registerSubscriber(name: String, _ fn: @escaping Subscriber) throws(RelayError) {
        try addLane(name: name, scope: nil) { batch in for r in batch { fn(r) } }
    }

    /// Registers a subscriber owned by `scope`: it sees events queued while the scope is on the stack.
    public func registerSubscriber(scope: ScopeHandle, name: String, _ fn: @escaping Subscriber) throws(RelayError) {
        try addLane(name: name, scope: scope) { batch in for r in batch { fn(r) } }
    }

    /// Registers a subscriber that receives events in batches (globally, or owned by `scope`).
    public func registerBatchSubscriber(
        name: String, scope: ScopeHandle? = nil, _ fn: @escaping BatchSubscriber
    ) throws(RelayError) {
        try addLane(name: name, scope: scope, fn)
    }

    private func addLane(name: String, scope: ScopeHandle?, _ deliver: @escaping BatchSubscriber) throws(RelayError) {
        guard let scope else {
            _ = try addGlobalLane(name: name, options: subscriberOptions, deliver)
            return
        }
        let lane: SubscriberLane = try scope.lock.withLock { () throws(RelayError) -> SubscriberLane in
            if scope.popped_ { throw .notFound("scope \(scope.uuid) not found") }
            if scope.localLanes_.contains(where: { $0.name == name }) {
                throw .alreadyExists("\(name) subscriber already exists")
            }
            let lane = SubscriberLane(name: name, options: subscriberOptions, deliver: deliver)
            try lane.checkStarted()
            scope.localLanes_.append(lane)
            scope.hasLocals.store(true, ordering: .releasing)
            return lane
        }
        lanesLock.withLock { scopeLanes.append(lane) }
        localLaneCount.add(1, ordering: .relaxed)
    }

    /// Adds a global lane and returns it, so an exporter can wait for exactly its own deliveries.
    func addGlobalLane(
        name: String, options: SubscriberOptions, _ deliver: @escaping BatchSubscriber
    ) throws(RelayError) -> SubscriberLane {
        try lanesLock.withLock { () throws(RelayError) -> SubscriberLane in
            if lanes.contains(where: { $0.name == name }) {
                throw .alreadyExists("\(name) subscriber already exists")
            }
            let lane = SubscriberLane(name: name, options: options, deliver: deliver)
            try lane.checkStarted()
            lanes.append(lane)
            laneCount.store(lanes.count, ordering: .releasing)
            return lane
        }
    }

    /// Removes a global subscriber; events already queued for it are still delivered.
    @discardableResult
    public func deregisterSubscriber(name: String) -> Bool {
        removeGlobalLane(name: name) != nil
    }

    /// Removes and closes the global lane named `name` (only if it is `only`, when given); it still
    /// delivers what it had queued.
    func removeGlobalLane(name: String, only: SubscriberLane? = nil) -> SubscriberLane? {
        lanesLock.withLock {
            guard let i = lanes.firstIndex(where: { $0.name == name }) else { return nil }
            if let only, lanes[i] !== only { return nil }
            let l = lanes.remove(at: i)
            l.close()
            closedLanes.append(l)
            laneCount.store(lanes.count, ordering: .releasing)
            return l
        }
    }

    /// Removes a scope-local subscriber.
    public func deregisterSubscriber(scope: ScopeHandle, name: String) throws(RelayError) -> Bool {
        let lane: SubscriberLane? = try scope.lock.withLock { () throws(RelayError) -> SubscriberLane? in
            if scope.popped_ { throw .notFound("scope \(scope.uuid) not found") }
            guard let i = scope.localLanes_.firstIndex(where: { $0.name == name }) else { return nil }
            return scope.localLanes_.remove(at: i)
        }
        guard let lane else { return false }
        retireScopeLanes([lane])
        return true
    }

    /// Closes scope-local lanes (deregistered, or their scope ended); `flush` still waits for them.
    func retireScopeLanes(_ retired: [SubscriberLane]) {
        guard !retired.isEmpty else { return }
        for l in retired { l.close() }
        lanesLock.withLock {
            scopeLanes.removeAll { l in retired.contains { $0 === l } }
            closedLanes.append(contentsOf: retired)
        }
        localLaneCount.subtract(retired.count, ordering: .relaxed)
    }

    /// Events dropped because a subscriber's queue was full, summed over all subscribers.
    public var droppedEvents: UInt64 {
        lanesLock.withLock {
            var n = droppedClosed.load(ordering: .relaxed)
            for l in lanes { n &+= l.dropped }
            for l in scopeLanes { n &+= l.dropped }
            for l in closedLanes { n &+= l.dropped }
            return n
        }
    }

    /// Names of the global subscribers.
    public var subscriberNames: [String] { lanesLock.withLock { lanes.map(\.name) } }

    /// Waits until every event published before the call was delivered, those still inside their
    /// injectors and sanitizers included; returns false on timeout.
    ///
    /// Called from a subscriber (a delivery thread) it returns true at once instead of deadlocking.
    @discardableResult
    public func flush(timeoutNanos: Int64? = nil) -> Bool {
        if DeliveryThread.isCurrent { return true }
        let deadline = monotonicDeadline(after: timeoutNanos)
        // Events still inside their injectors and sanitizers first (not from inside one: it would wait
        // for itself).
        var ok = EmissionContext.current != nil || inFlight.wait(deadline: deadline)
        // Closed lanes that finished delivering are forgotten, but released only after `lanesLock`:
        // the last reference to a lane may hold a binding's user data, whose destructor can need the
        // Python GIL while this thread has released it and a thread holding it waits for `lanesLock`
        // (issue 13 item 8).
        var forgotten: [SubscriberLane] = []
        let targets: [(SubscriberLane, UInt64)] = lanesLock.withLock {
            closedLanes.removeAll { l in
                guard l.wait(until: l.enqueuedCount, deadline: monotonicNanos()) else { return false }
                droppedClosed.add(l.dropped, ordering: .relaxed)
                forgotten.append(l)
                return true
            }
            return (lanes + scopeLanes + closedLanes).map { ($0, $0.enqueuedCount) }
        }
        forgotten.removeAll()
        for (l, t) in targets where !l.wait(until: t, deadline: deadline) { ok = false }
        return ok
    }

    /// Ends every stream still running (dropped, reason `runtime_shutdown`), cancels every managed call still
    /// pending, flushes, then closes every subscriber.
    public func shutdown(timeoutNanos: Int64? = 5_000_000_000) {
        for s in liveStreams.takeAll() { s.close(.runtimeShutdown) }
        // A managed call still waiting for a callback ends as cancelled: its end event is recorded, its
        // done callback runs (E_CANCELLED) and what it holds is released.
        for c in liveCalls.takeAll() { _ = c.cancel() }
        flush(timeoutNanos: timeoutNanos)
        lanesLock.withLock {
            for l in lanes { l.close() }
            closedLanes.append(contentsOf: lanes)
            lanes.removeAll()
            laneCount.store(0, ordering: .releasing)
        }
    }

    // MARK: Publication

    /// True when an event queued now on `stack` would reach someone.
    @inline(__always)
    func wantsEvents(_ stack: ScopeStack) -> Bool {
        if laneCount.load(ordering: .relaxed) > 0 { return true }
        if localLaneCount.load(ordering: .relaxed) == 0 { return false }
        var l: [SubscriberLane] = []
        stack.localLanes(into: &l)
        return !l.isEmpty
    }

    /// Runs metadata injectors and event sanitizers, then queues the event for every subscriber.
    ///
    /// Events of one stack reach subscribers in emission order (``PublicationOrder``): while an
    /// injector or sanitizer of an earlier event has not answered, later events wait behind it, and an
    /// event emitted from inside one of its callbacks goes right after it. `then` runs once the event
    /// was delivered, except for an event emitted inside a callback of the one it follows: that callback
    /// may be waiting for what `then` starts, so it runs at once.
    func publish(_ event: Event, stack: ScopeStack, ending: ScopeHandle? = nil, then: (() -> Void)? = nil) {
        var targets: [SubscriberLane] = lanesLock.withLock { lanes }
        if localLaneCount.load(ordering: .relaxed) > 0 { stack.localLanes(into: &targets) }
        // The end event of a scope just popped is still its own: its local subscribers receive it and
        // its local middleware applies to it (docs/middleware.md, "Event middleware").
        var endingLocals: Middleware?
        if let ending, ending.hasLocals.load(ordering: .relaxed) {
            ending.lock.withLock {
                targets.append(contentsOf: ending.localLanes_)
                endingLocals = ending.locals_
            }
        }
        if targets.isEmpty {
            then?()
            return
        }
        var locals = stack.mayHaveLocals ? stack.localMiddleware() : []
        if let endingLocals { locals.append(endingLocals) }
        let injectors = merged(global.metadataInjector, locals, \.metadataInjector)
        let sanitizers: [Registration<EventSanitize>]
        switch event.kind {
        case .mark: sanitizers = merged(global.markSanitize, locals, \.markSanitize)
        case .scopeStart: sanitizers = merged(global.scopeStartSanitize, locals, \.scopeStartSanitize)
        case .scopeEnd: sanitizers = merged(global.scopeEndSanitize, locals, \.scopeEndSanitize)
        }
        let order = stack.publicationOrder
        if injectors.isEmpty && sanitizers.isEmpty && !order.isBusy {
            deliver(event, to: targets)
            then?()
            return
        }
        let p = Publication(
            event, targets: targets, injectors: injectors, sanitizers: sanitizers, order: order,
            // An event emitted inside an end event's callbacks keeps that scope current for its own.
            ending: ending ?? EmissionContext.endingScope(of: order), then: then)
        inFlight.begin(p)
        switch order.admit(p, parent: EmissionContext.current) {
        case .now: process(p)
        case .queued: break  // `then` runs once its turn came and it was delivered
        case .nested:
            // Emitted inside a callback of the event it follows, which may wait for what comes next
            // (`admit` cleared `p.then`: this is the caller's own reference).
            then?()
        }
    }

    /// Processes `first` and then, on this thread, whatever its stack queued behind it, until the queue
    /// is empty or a callback answers later (the thread that answers then continues).
    private func process(_ first: Publication) {
        var next: Publication? = first
        while let p = next {
            run(p)
            // 1: the chain ended on this thread, go on; otherwise the thread that ends it goes on.
            guard p.state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).original == 1
            else { return }
            next = finish(p)
        }
    }

    /// Runs `p`'s injectors and sanitizers and delivers it; when it ends after `process` returned, the
    /// ending thread continues with the stack's queue.
    private func run(_ p: Publication) {
        inject(p, p.event, 0) { [self] ev in
            sanitize(p, ev, 0) { [self] ev in
                deliver(ev, to: p.targets)
                inFlight.end(p)
                if !p.state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
                    // `process` already returned: continue the stack's queue from here.
                    if let n = finish(p) { process(n) }
                }
            }
        }
    }

    /// After `p` was delivered: frees its stack (or takes the next publication, returned) and runs its
    /// `then`, in that order, so events `then` emits on a free stack are not held back.
    private func finish(_ p: Publication) -> Publication? {
        let n = p.order.next(after: p)
        let then = p.then
        p.then = nil
        then?()
        return n
    }

    private func deliver(_ event: Event, to targets: [SubscriberLane]) {
        let r = EventRecord(event)
        for l in targets { l.enqueue(r) }
    }

    private func inject(_ p: Publication, _ event: Event, _ first: Int, _ then: @escaping (Event) -> Void) {
        let list = p.injectors
        // Merges injector i's answer into `ev`; an injector's failure only skips it.
        func apply(_ i: Int, _ ev: inout Event, _ result: Result<JSON, RelayError>) {
            let reg = list[i]
            switch result {
            case .success(.object(let add)) where Runtime.isFlatMetadata(add):
                var m: JSONObject
                switch ev.metadata {
                case .object(let o): m = o
                case .null: m = JSONObject()
                default:
                    log(.warn, "Event metadata injector '\(reg.name)' skipped: event metadata is not an object")
                    return
                }
                add.forEach { k, v in m[k] = v }
                ev.metadata = .object(m)
            case .success(let other):
                log(.warn, "Event metadata injector '\(reg.name)' returned invalid metadata: \(other.kindName)")
            case .failure(let e):
                log(.warn, "Event metadata injector '\(reg.name)' failed: \(e.displayText)")
            }
        }
        ChainStep<JSON>.fold(
            from: first, count: list.count, event, control: nil,
            step: { i, ev, c in EmissionContext.with(p) { list[i].fn(ev, c) } },
            apply: { i, ev, r in
                var next = ev
                apply(i, &next, r)
                return next
            }, then: then)
    }

    static func isFlatMetadata(_ o: JSONObject) -> Bool {
        func scalar(_ v: JSON) -> Bool {
            switch v {
            case .null, .bool, .int, .uint, .double, .string: return true
            default: return false
            }
        }
        for v in o.values {
            if scalar(v) { continue }
            guard case .array(let a) = v else { return false }
            guard let first = a.first else { continue }
            for e in a where !scalar(e) || e.kindName != first.kindName { return false }
        }
        return true
    }

    private func sanitize(_ p: Publication, _ event: Event, _ first: Int, _ then: @escaping (Event) -> Void) {
        let list = p.sanitizers
        // Applies sanitizer i's answer to `ev`; false when a failure blanked it and ended the chain.
        func apply(_ i: Int, _ ev: inout Event, _ result: Result<EventFields, RelayError>) -> Bool {
            switch result {
            case .success(let f):
                ev.data = f.data
                ev.categoryProfile = f.categoryProfile
                ev.metadata = f.metadata
                return true
            case .failure(let e):
                log(.warn, "Event sanitizer '\(list[i].name)' failed: \(e.displayText)")
                ev.data = .null
                ev.categoryProfile = nil
                ev.metadata = .null
                then(ev)
                return false
            }
        }
        ChainStep<EventFields>.fold(
            from: first, count: list.count, event, control: nil,
            step: { i, ev, c in
                EmissionContext.with(p) {
                    list[i].fn(
                        ev, EventFields(data: ev.data, categoryProfile: ev.categoryProfile, metadata: ev.metadata), c)
                }
            },
            apply: { i, ev, r in
                var next = ev
                return apply(i, &next, r) ? next : nil
            }, then: then)
    }

    // MARK: Time

    /// The default end time: now, but at least one microsecond after `start`.
    @inline(__always)
    func endTime(after start: Nanoseconds, _ explicit: Nanoseconds?) -> Nanoseconds {
        if let explicit { return explicit }
        return max(clock.now(), start &+ 1_000)
    }
}
