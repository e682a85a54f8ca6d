// SPDX-License-Identifier: Apache-2.0
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Receives delivered events on the subscriber's own delivery thread.
public typealias Subscriber = @Sendable (EventRecord) -> Void

/// Receives the events a delivery thread took from its queue in one go (at most 64, in queue order).
///
/// Bindings whose callbacks need a lock of their own (Python's GIL) take it once per batch.
public typealias BatchSubscriber = @Sendable ([EventRecord]) -> Void

/// What a subscriber lane does when its queue is full.
///
/// The queue is bounded so a slow consumer can never grow memory without limit: when it holds
/// `capacity` undelivered events, the newest event is dropped for that subscriber only and counted.
public struct SubscriberOptions: Sendable {
    /// Undelivered events kept per subscriber before new ones are dropped.
    public var capacity: Int

    public init(capacity: Int = 65_536) { self.capacity = max(1, capacity) }
}

/// One subscriber's bounded queue and delivery thread.
///
/// Each subscriber has its own lane, so a slow or failing subscriber delays neither the emitting
/// thread nor the other subscribers; events reach each subscriber in queue order.
///
/// `@unchecked Sendable`: `lock` guards `deliver`, `ring`, `head`, `count`, `enqueued`, `delivered`,
/// `dropped`, `closed`, `exited`, `sleeping`, `flushWaiters` and `threadError` (`hasWork` and `progress`
/// are its conditions); `queuedHint` is an atomic hint.
final class SubscriberLane: @unchecked Sendable {
    let name: String
    /// Receives each batch of events taken from the queue (up to 64, in queue order). Released (under
    /// `lock`) when the delivery thread exits, so what the callback holds (user data, an exporter's
    /// file) is freed as soon as the last event was delivered, not when the lane object goes away.
    private var deliver: BatchSubscriber?
    let capacity: Int

    private let lock = PThreadLock()
    private let hasWork = PThreadCondition()
    private let progress = PThreadCondition()
    private var ring: [EventRecord?]
    private var head = 0
    private var count = 0
    private var enqueued: UInt64 = 0
    private var delivered: UInt64 = 0
    private(set) var dropped: UInt64 = 0
    private var closed = false
    /// Set when the delivery thread has exited (or never started): nothing more will be delivered.
    private var exited = false
    private var sleeping = false
    private var flushWaiters = 0
    /// `enqueued`, readable without the lock, so the delivery thread can wait briefly by spinning.
    private let queuedHint = Atomic<UInt64>(0)
    /// How long a delivery thread that just ran dry watches for more work before it sleeps.
    static let spinNanos: Int64 = 20_000

    init(name: String, options: SubscriberOptions, deliver: @escaping BatchSubscriber) {
        self.name = name
        self.deliver = deliver
        capacity = options.capacity
        ring = Array(repeating: nil, count: min(options.capacity, 1024))
        startThread()
    }

    private func startThread() {
        var tid = pthread_t()
        let arg = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(
            &tid, nil,
            { p in
                let lane = Unmanaged<SubscriberLane>.fromOpaque(p!).takeRetainedValue()
                lane.run()
                return nil
            }, arg)
        if rc == 0 {
            pthread_detach(tid)
        } else {
            Unmanaged<SubscriberLane>.fromOpaque(arg).release()
            lock.withLock {
                closed = true
                exited = true
                deliver = nil
                threadError = rc
            }
        }
    }

    /// The `pthread_create` error when the delivery thread could not be started (the lane is dead).
    private var threadError: Int32 = 0

    /// Fails when the delivery thread could not be started, so registration reports it instead of
    /// leaving a subscriber whose events silently vanish.
    func checkStarted() throws(RelayError) {
        let rc = lock.withLock { threadError }
        guard rc != 0 else { return }
        let text = strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
        throw .internalError("cannot start the delivery thread of subscriber '\(name)': \(text)")
    }

    /// Queues `r`; returns false (and counts a drop) when the lane is full or closed.
    @discardableResult
    func enqueue(_ r: EventRecord) -> Bool {
        lock.lock()
        if closed || count >= capacity {
            if !closed { dropped &+= 1 }
            lock.unlock()
            return false
        }
        if count == ring.count { grow() }
        ring[(head + count) % ring.count] = r
        count += 1
        enqueued &+= 1
        queuedHint.store(enqueued, ordering: .releasing)
        let wake = sleeping
        if wake { sleeping = false }
        lock.unlock()
        if wake { hasWork.signal() }
        return true
    }

    private func grow() {
        let n = min(capacity, max(ring.count * 2, 16))
        var new = [EventRecord?](repeating: nil, count: n)
        for i in 0..<count { new[i] = ring[(head + i) % ring.count] }
        ring = new
        head = 0
    }

    private func run() {
        DeliveryThread.mark()
        guard let deliver = lock.withLock({ deliver }) else { return }
        var batch: [EventRecord] = []
        batch.reserveCapacity(64)
        lock.lock()
        while true {
            if count == 0 && !closed {
                // Busy producers emit in bursts: watch for the next event briefly before sleeping, so the
                // emitting thread rarely pays for a futex wake-up. Idle lanes still sleep after ~20 us.
                let seen = enqueued
                lock.unlock()
                let deadline = monotonicNanos() &+ Self.spinNanos
                var spins = 0
                while queuedHint.load(ordering: .acquiring) == seen {
                    spins &+= 1
                    if spins & 63 == 0 && monotonicNanos() >= deadline { break }
                }
                lock.lock()
            }
            while count == 0 && !closed {
                sleeping = true
                hasWork.wait(lock)
            }
            if count == 0 && closed { break }
            while count > 0 && batch.count < 64 {
                batch.append(ring[head]!)
                ring[head] = nil
                head = (head + 1) % ring.count
                count -= 1
            }
            lock.unlock()
            deliver(batch)
            let n = UInt64(batch.count)
            batch.removeAll(keepingCapacity: true)
            lock.lock()
            delivered &+= n
            if flushWaiters > 0 { progress.broadcast() }
        }
        exited = true
        let last = self.deliver
        self.deliver = nil
        lock.unlock()
        progress.broadcast()
        // What the callback holds (a binding's user data, whose destructor may need the Python GIL)
        // is released here, with no lock held: released under `lock`, a thread holding the GIL and
        // waiting for `lanesLock` while `flush` (which holds `lanesLock` and takes this lock, with
        // the GIL released) runs would close a cycle. The optimizer may end the local `deliver`'s
        // lifetime at its last use, so both references are kept to this point explicitly.
        withExtendedLifetime((deliver, last)) {}
    }

    /// Events dropped because this lane's queue was full.
    var droppedCount: UInt64 { lock.withLock { dropped } }

    /// The number of events queued so far, the flush target.
    var enqueuedCount: UInt64 { lock.withLock { enqueued } }

    /// Waits until `target` events were delivered or the deadline passes; true when reached.
    func wait(until target: UInt64, deadline: Int64?) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        flushWaiters += 1
        defer { flushWaiters -= 1 }
        // A closed lane still delivers what it queued (the batch in flight included), so wait for
        // the thread to deliver rather than for the queue to look empty.
        while delivered < target {
            if exited { return false }
            if !progress.wait(lock, deadline: deadline) { return false }
        }
        return true
    }

    /// Stops accepting events; the thread delivers what is queued, then exits.
    func close() {
        lock.lock()
        closed = true
        let wake = sleeping
        sleeping = false
        lock.unlock()
        if wake { hasWork.signal() }
        hasWork.broadcast()
    }
}

/// Marks delivery threads so `flush` called from a subscriber returns at once instead of deadlocking.
enum DeliveryThread {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    static func mark() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1)) }
    static var isCurrent: Bool { pthread_getspecific(key) != nil }
}
