// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#endif

/// Sends a batch of finished spans somewhere (an OTLP/HTTP endpoint, a file); runs on the export thread.
protocol OTelSpanTransport: AnyObject, Sendable {
    /// Exports `spans`; nil on success, else the failure in words. `rejected` receives the spans a
    /// partial-success answer reported as rejected.
    func export(_ spans: [OTelSpan], rejected: inout Int64, cancelled: @escaping () -> Bool) -> String?
    /// Releases the destination (closes the file or the connection).
    func close()
    /// Where spans go, for messages: `scheme://host:port` or the file path.
    var destination: String { get }
}

/// The batch span processor (docs/exporters.md, "OpenTelemetry traces"): a bounded queue of finished spans and
/// one export thread that sends a batch when `maxExportBatchSize` spans are waiting or `scheduledDelay` passed, and
/// everything at flush. A full queue drops new spans and counts them. Nothing here runs on the thread that
/// emitted the events.
///
/// `@unchecked Sendable`: `lock` guards `queue`, `flushRequested`, `flushDone`, `closed`, `exited` and the
/// counters (`dropped` ... `lastError`); `wake` and `progress` are its conditions.
final class OTelBatchProcessor: @unchecked Sendable {
    let transport: any OTelSpanTransport
    let maxQueue: Int
    let maxBatch: Int
    let delayNanos: Int64

    /// Guards every field below.
    private let lock = PThreadLock()
    private let wake = PThreadCondition()
    private let progress = PThreadCondition()
    private var queue: [OTelSpan] = []
    private var flushRequested: UInt64 = 0
    private var flushDone: UInt64 = 0
    private var closed = false
    private var exited = false
    private(set) var dropped: UInt64 = 0
    private(set) var exported: UInt64 = 0
    private(set) var failedExports: UInt64 = 0
    private(set) var failedSpans: UInt64 = 0
    private(set) var rejectedSpans: UInt64 = 0
    /// The last export's failure; cleared by a later success ("has not recovered" until then).
    private(set) var lastFailure: String?
    private(set) var lastError: String?

    init(transport: any OTelSpanTransport, maxQueue: Int, maxBatch: Int, delayMillis: Int) throws(RelayError) {
        self.transport = transport
        self.maxQueue = max(1, maxQueue)
        self.maxBatch = max(1, min(maxBatch, maxQueue))
        delayNanos = Int64(delayMillis) * 1_000_000
        var tid = pthread_t()
        let arg = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(
            &tid, nil,
            { p in
                Unmanaged<OTelBatchProcessor>.fromOpaque(p!).takeRetainedValue().run()
                return nil
            }, arg)
        guard rc == 0 else {
            Unmanaged<OTelBatchProcessor>.fromOpaque(arg).release()
            throw .internalError("cannot start the OpenTelemetry export thread: error \(rc)")
        }
        pthread_detach(tid)
    }

    /// Queues finished spans; drops (and counts) what does not fit.
    func enqueue(_ spans: [OTelSpan]) {
        guard !spans.isEmpty else { return }
        lock.lock()
        if closed {
            dropped &+= UInt64(spans.count)
            lock.unlock()
            return
        }
        let room = max(0, maxQueue - queue.count)
        // The export thread sleeps without a deadline while the queue is empty: the first span wakes it to
        // start the scheduled delay, a full batch wakes it to send at once.
        let wasEmpty = queue.isEmpty
        queue.append(contentsOf: spans.prefix(room))
        if spans.count > room { dropped &+= UInt64(spans.count - room) }
        let wake = (wasEmpty && !queue.isEmpty) || queue.count >= maxBatch
        lock.unlock()
        if wake { self.wake.signal() }
    }

    private func run() {
        lock.lock()
        var nextTick = monotonicNanos() &+ delayNanos
        while true {
            while !closed && flushRequested == flushDone && queue.count < maxBatch {
                if queue.isEmpty {
                    wake.wait(lock)
                    nextTick = monotonicNanos() &+ delayNanos
                    continue
                }
                if monotonicNanos() >= nextTick { break }
                _ = wake.wait(lock, untilMonotonic: nextTick)
            }
            if queue.isEmpty {
                flushDone = flushRequested
                progress.broadcast()
                if closed { break }
                continue
            }
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            lock.unlock()
            var rejected: Int64 = 0
            let failure = transport.export(batch, rejected: &rejected) { [self] in lock.withLock { closed } }
            lock.lock()
            nextTick = monotonicNanos() &+ delayNanos
            if let failure {
                failedExports &+= 1
                failedSpans &+= UInt64(batch.count)
                lastFailure = failure
                lastError = failure
            } else {
                exported &+= UInt64(batch.count)
                lastFailure = nil
            }
            if rejected > 0 { rejectedSpans &+= UInt64(rejected) }
            if queue.isEmpty {
                flushDone = flushRequested
                progress.broadcast()
            }
        }
        exited = true
        lock.unlock()
        progress.broadcast()
        transport.close()
    }

    /// Exports everything queued now; false when the deadline passed first.
    func flush(deadline: Int64?) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if exited { return queue.isEmpty }
        flushRequested &+= 1
        let target = flushRequested
        wake.signal()
        while flushDone < target && !exited {
            if !progress.wait(lock, deadline: deadline) { return false }
        }
        return true
    }

    /// Flushes (bounded), then stops the thread; spans still queued at the deadline are dropped and counted.
    func shutdown(deadline: Int64?) -> Bool {
        let drained = flush(deadline: deadline)
        lock.withLock {
            closed = true
            if !drained {
                dropped &+= UInt64(queue.count)
                queue.removeAll()
            }
        }
        wake.broadcast()
        return drained
    }

    /// Counters for the diagnostics.
    var snapshot:
        (
            dropped: UInt64, exported: UInt64, failedExports: UInt64, failedSpans: UInt64, rejected: UInt64,
            lastFailure: String?, lastError: String?, queued: Int
        )
    {
        lock.withLock {
            (dropped, exported, failedExports, failedSpans, rejectedSpans, lastFailure, lastError, queue.count)
        }
    }
}
