// SPDX-License-Identifier: Apache-2.0

/// The identity a span hands to its children: trace id, span id, trace state, and whether it came from another
/// process (docs/otel.md, "Ids and parents").
struct OTelSpanContext: Sendable {
    var traceHigh: UInt64
    var traceLow: UInt64
    var spanID: UInt64
    var traceState: String
    var isRemote: Bool

    var traceBytes: [UInt8] { OTelSpanContext.bytes(traceHigh) + OTelSpanContext.bytes(traceLow) }
    var spanBytes: [UInt8] { OTelSpanContext.bytes(spanID) }

    static func bytes(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
    }

    static func word(_ b: ArraySlice<UInt8>) -> UInt64 {
        b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The context of a remote parent; nil when its ids have the wrong length or are zero.
    init?(remote r: OTelRemoteParent) {
        guard r.traceID.count == 16, r.spanID.count == 8 else { return nil }
        traceHigh = OTelSpanContext.word(r.traceID[0..<8])
        traceLow = OTelSpanContext.word(r.traceID[8..<16])
        spanID = OTelSpanContext.word(r.spanID[0..<8])
        guard traceHigh | traceLow != 0, spanID != 0 else { return nil }
        traceState = r.traceState
        isRemote = true
    }

    init(traceHigh: UInt64, traceLow: UInt64, spanID: UInt64, traceState: String, isRemote: Bool) {
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.spanID = spanID
        self.traceState = traceState
        self.isRemote = isRemote
    }
}

/// The span contexts of recently completed scopes, so late children and marks stay in their trace.
///
/// An entry lives until an event arrives more than the TTL after its scope's end (event time, not wall
/// time), or until 4096 newer entries push it out, or until a scope with the same uuid starts again. Expiry
/// pops a min-heap keyed by end time; stale heap entries (replaced or removed contexts) are skipped by
/// generation and compacted when they outnumber the live ones.
struct OTelCompletedContexts: Sendable {
    static let capacity = 4096

    struct Entry: Sendable {
        var closedAt: Nanoseconds
        var context: OTelSpanContext
        var generation: UInt64
    }

    struct HeapItem: Sendable {
        var closedAt: Nanoseconds
        var uuid: RelayUUID
        var generation: UInt64
    }

    private(set) var entries: [RelayUUID: Entry] = [:]
    private var heap: [HeapItem] = []
    private var nextGeneration: UInt64 = 0

    var count: Int { entries.count }

    func context(_ uuid: RelayUUID) -> OTelSpanContext? { entries[uuid]?.context }

    mutating func remove(_ uuid: RelayUUID) {
        entries.removeValue(forKey: uuid)
    }

    mutating func record(_ uuid: RelayUUID, closedAt: Nanoseconds, context: OTelSpanContext) {
        nextGeneration &+= 1
        entries[uuid] = Entry(closedAt: closedAt, context: context, generation: nextGeneration)
        push(HeapItem(closedAt: closedAt, uuid: uuid, generation: nextGeneration))
        while entries.count > Self.capacity, let oldest = popLive() {
            entries.removeValue(forKey: oldest.uuid)
        }
        if heap.count > 2 * Self.capacity + 64 { compact() }
    }

    /// Removes the entries that ended more than `ttl` before `now`; returns how many.
    mutating func expire(now: Nanoseconds, ttl: Int64) -> Int {
        var expired = 0
        while let top = heap.first {
            guard isLive(top) else {
                popTop()
                continue
            }
            let (age, overflow) = now.subtractingReportingOverflow(top.closedAt)
            guard !overflow, age > ttl else { break }
            popTop()
            entries.removeValue(forKey: top.uuid)
            expired += 1
        }
        return expired
    }

    private func isLive(_ item: HeapItem) -> Bool { entries[item.uuid]?.generation == item.generation }

    private mutating func popLive() -> HeapItem? {
        while let top = heap.first {
            popTop()
            if isLive(top) { return top }
        }
        return nil
    }

    private mutating func compact() {
        heap = heap.filter(isLive)
        heap.sort { Self.less($0, $1) }
    }

    private static func less(_ a: HeapItem, _ b: HeapItem) -> Bool {
        a.closedAt != b.closedAt ? a.closedAt < b.closedAt : a.generation < b.generation
    }

    private mutating func push(_ item: HeapItem) {
        heap.append(item)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func popTop() {
        guard !heap.isEmpty else { return }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < heap.count, Self.less(heap[l], heap[m]) { m = l }
            if r < heap.count, Self.less(heap[r], heap[m]) { m = r }
            guard m != i else { break }
            heap.swapAt(i, m)
            i = m
        }
    }
}
