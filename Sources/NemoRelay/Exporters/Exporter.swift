// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#endif

/// Where an exporter puts the events its registrations deliver (docs/exporters.md, "Exporters").
///
/// Every method runs off the emitting thread: ``consume(_:)`` on a subscriber lane's delivery thread,
/// the others on the thread that flushes or shuts the exporter down. A sink is shared by all of its
/// exporter's registrations, so it must tolerate concurrent `consume` calls.
protocol EventSink: AnyObject, Sendable {
    /// Takes a batch of delivered events (at most 64, in emission order for one registration).
    func consume(_ batch: [EventRecord])
    /// Pushes what the sink holds to its destination; throws the first failure not yet reported.
    func flush(deadline: Int64?) throws(RelayError)
    /// Flushes, then releases the destination; later batches are dropped and counted.
    func close(deadline: Int64?) throws(RelayError)
    /// Counters and the last error, for ``Exporter/diagnostics``.
    func diagnostics(into o: inout JSONObject)
}

/// An exporter: a subscriber whose events go to a sink (a file, an HTTP endpoint, a trajectory).
///
/// Register it on one or more runtimes under subscriber names; each registration gets its own bounded
/// queue and delivery thread, so the emitting thread only enqueues (docs/exporters.md). Failures of
/// the sink never reach the emitting call: they surface from ``flush(timeoutNanos:)``,
/// ``shutdown(timeoutNanos:)`` and ``diagnostics``.
///
/// `@unchecked Sendable`: `lock` guards `registrations`, `retired`, `retiredDropped`, `isShutDown` and
/// `shutdownOutcome`; the rest is immutable.
public final class Exporter: @unchecked Sendable {
    /// `atof` or `atif`: which exporter this is, for messages and diagnostics.
    public let kind: String
    let sink: any EventSink
    let queueOptions: SubscriberOptions

    private struct Registration {
        let runtime: Runtime
        let name: String
        let lane: SubscriberLane
    }

    /// Guards `registrations`, `retired`, `isShutDown` and `shutdownOutcome`.
    private let lock = PThreadLock()
    private var registrations: [Registration] = []
    /// Lanes deregistered but maybe still delivering; flush waits for them until they are done.
    private var retired: [SubscriberLane] = []
    private var retiredDropped: UInt64 = 0
    private var isShutDown = false
    private var shutdownOutcome: RelayError?

    init(kind: String, sink: any EventSink, queueCapacity: Int) {
        self.kind = kind
        self.sink = sink
        queueOptions = SubscriberOptions(capacity: queueCapacity)
    }

    /// Registers the exporter as a global subscriber of `runtime` named `name`.
    ///
    /// A name already used by any subscriber of that runtime fails with `already exists`; registering
    /// under two names delivers every event twice, as two subscribers would. After ``shutdown(timeoutNanos:)``
    /// events still arrive but are dropped and counted (`events_after_shutdown`).
    public func register(on runtime: Runtime, name: String) throws(RelayError) {
        try lock.withLock { () throws(RelayError) in
            // A shut-down exporter may be registered again, as in the reference: its sink drops and counts.
            let sink = self.sink
            let lane = try runtime.addGlobalLane(name: name, options: queueOptions) { batch in sink.consume(batch) }
            registrations.append(Registration(runtime: runtime, name: name, lane: lane))
        }
    }

    /// Removes the global subscriber `name` from `runtime`; true when one was removed.
    ///
    /// Like the reference, this removes whichever subscriber holds that name. Events it had queued
    /// are still delivered.
    @discardableResult
    public func deregister(from runtime: Runtime, name: String) -> Bool {
        guard let lane = runtime.removeGlobalLane(name: name) else { return false }
        lock.withLock {
            if let i = registrations.firstIndex(where: { $0.lane === lane }) {
                registrations.remove(at: i)
                retired.append(lane)
            }
        }
        return true
    }

    /// The subscriber names this exporter is registered under, in registration order.
    public var registeredNames: [String] { lock.withLock { registrations.map(\.name) } }

    /// Waits until every event queued for this exporter before the call was delivered, then flushes
    /// the sink. Throws the sink's first unreported failure, or `timeout` when the deadline passed.
    ///
    /// Called from a delivery thread (inside a subscriber) it skips the wait instead of deadlocking.
    public func flush(timeoutNanos: Int64? = nil) throws(RelayError) {
        let deadline = monotonicDeadline(after: timeoutNanos)
        let drained = waitForDeliveries(deadline: deadline)
        try sink.flush(deadline: deadline)
        if !drained {
            throw .timeout("the \(kind) exporter's queued events were not all delivered in time")
        }
    }

    /// Flushes, removes every registration, then closes the sink. Bounded by `timeoutNanos`; a second
    /// call does nothing and reports the first call's sink failure again, if any.
    public func shutdown(timeoutNanos: Int64? = 5_000_000_000) throws(RelayError) {
        let first: Bool = lock.withLock {
            if isShutDown { return false }
            isShutDown = true
            return true
        }
        if !first {
            if let e = lock.withLock({ shutdownOutcome }) { throw e }
            return
        }
        let deadline = monotonicDeadline(after: timeoutNanos)
        let drained = waitForDeliveries(deadline: deadline)
        let regs: [Registration] = lock.withLock {
            let r = registrations
            registrations.removeAll()
            return r
        }
        for r in regs {
            // Only our own lane: another subscriber may have taken the name since.
            if r.runtime.removeGlobalLane(name: r.name, only: r.lane) != nil {
                lock.withLock { retired.append(r.lane) }
            }
        }
        var outcome: RelayError?
        do throws(RelayError) {
            try sink.close(deadline: deadline)
        } catch {
            outcome = error
        }
        lock.withLock { shutdownOutcome = outcome }
        if let outcome { throw outcome }
        if !drained {
            throw .timeout("the \(kind) exporter shut down before its queued events were all delivered")
        }
    }

    /// Removes every registration without waiting; what they had queued is still exported in the
    /// background, and the sink closes when the last delivery is done. For handles released unshut.
    public func detach() {
        let regs: [Registration] = lock.withLock {
            let r = registrations
            registrations.removeAll()
            return r
        }
        for r in regs { _ = r.runtime.removeGlobalLane(name: r.name, only: r.lane) }
    }

    /// True once ``shutdown(timeoutNanos:)`` was called.
    public var isClosed: Bool { lock.withLock { isShutDown } }

    /// Events dropped because one of this exporter's queues was full.
    public var droppedEvents: UInt64 {
        lock.withLock {
            var n = retiredDropped
            for r in registrations { n &+= r.lane.droppedCount }
            for l in retired { n &+= l.droppedCount }
            return n
        }
    }

    /// A JSON object of counters: `kind`, `registrations`, `queue_dropped`, plus the sink's own
    /// (events written, failed, retried, the last error...). See docs/exporters.md.
    public var diagnostics: JSON {
        var o = JSONObject()
        o["kind"] = .string(kind)
        o["registrations"] = .array(registeredNames.map { .string($0) })
        o["queue_dropped"] = .uint(droppedEvents)
        o["shut_down"] = .bool(isClosed)
        sink.diagnostics(into: &o)
        return .object(o)
    }

    /// Waits for every live and retired lane to deliver what it had queued; false on timeout.
    private func waitForDeliveries(deadline: Int64?) -> Bool {
        if DeliveryThread.isCurrent { return true }
        let lanes: [(SubscriberLane, UInt64)] = lock.withLock {
            // Forget retired lanes that are done, keeping their drop counts.
            retired.removeAll { l in
                guard l.wait(until: l.enqueuedCount, deadline: monotonicNanos()) else { return false }
                retiredDropped &+= l.droppedCount
                return true
            }
            return (registrations.map(\.lane) + retired).map { ($0, $0.enqueuedCount) }
        }
        var ok = true
        for (l, target) in lanes where !l.wait(until: target, deadline: deadline) { ok = false }
        return ok
    }

}
