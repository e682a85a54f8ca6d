// SPDX-License-Identifier: Apache-2.0
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One event on its way to the subscribers: its metadata injectors and sanitizers, then delivery.
///
/// Everything but `children` and `delivered` is set before the publication is shared; those two are
/// guarded by the lock of the `PublicationOrder` of its stack.
final class Publication: @unchecked Sendable {
    let event: Event
    let targets: [SubscriberLane]
    let injectors: [Registration<MetadataInjector>]
    let sanitizers: [Registration<EventSanitize>]
    let order: PublicationOrder
    /// The scope a scope-end event closes: its callbacks still run inside it (``ScopeStack/top``).
    let ending: ScopeHandle?
    /// Runs once the event was delivered (for an event emitted inside a callback of the event it nests
    /// under: once queued, since that callback may wait for what follows).
    var then: (() -> Void)?
    /// Publications emitted from inside this one's injectors and sanitizers, in emission order.
    var children: [Publication] = []
    /// True once delivered: an event emitted later under this publication's context is not nested any more.
    var delivered = false
    /// Its start number in the runtime's ``InFlightPublications`` (set before it is shared).
    var seq: UInt64 = 0
    /// 0 while its chain runs on the starting thread, 1 when the chain ended there, 2 when the starting
    /// thread returned first (the chain ends later, on the thread that answers the last callback).
    let state = Atomic<Int>(0)

    init(
        _ event: Event, targets: [SubscriberLane], injectors: [Registration<MetadataInjector>],
        sanitizers: [Registration<EventSanitize>], order: PublicationOrder, ending: ScopeHandle?,
        then: (() -> Void)?
    ) {
        self.event = event
        self.ending = ending
        self.targets = targets
        self.injectors = injectors
        self.sanitizers = sanitizers
        self.order = order
        self.then = then
    }
}

/// The publication order of one scope stack: events of a stack reach subscribers in emission order,
/// even while an asynchronous injector or sanitizer of an earlier event has not answered yet; an
/// event emitted from inside an injector or sanitizer goes right after the event it runs for, before
/// the events queued after that one.
///
/// `lock` guards `busy` (a publication of this stack is being processed) and `queue` (what waits
/// behind it); `busyHint` mirrors `busy` for the lock-free fast path of a stack with nothing pending.
final class PublicationOrder: @unchecked Sendable {
    private let lock = PThreadLock()
    private var busy = false
    private var queue: [Publication] = []
    private var head = 0
    private let busyHint = Atomic<Bool>(false)

    /// True while a publication of this stack is in progress (a cheap check, exact on the emitting thread).
    var isBusy: Bool { busyHint.load(ordering: .acquiring) }

    /// What ``admit(_:parent:)`` did with a publication.
    enum Admission {
        /// The stack was free: process it now.
        case now
        /// Queued behind the publication in progress.
        case queued
        /// Queued right after `parent` (whose callback emitted it), behind `parent`'s earlier children.
        case nested
    }

    /// Takes the stack for `p`, or queues it behind the publication in progress, or, when `parent` (the
    /// publication whose callbacks run on this thread) is still in progress on this stack, after it.
    func admit(_ p: Publication, parent: Publication?) -> Admission {
        lock.lock()
        defer { lock.unlock() }
        if let parent, parent.order === self, !parent.delivered, busy {
            // Its caller runs `then` at once; cleared before another thread can reach `p`.
            p.then = nil
            parent.children.append(p)
            return .nested
        }
        if busy {
            queue.append(p)
            return .queued
        }
        busy = true
        busyHint.store(true, ordering: .releasing)
        return .now
    }

    /// Marks `p` delivered and returns the next publication to process (its children first), or nil
    /// when nothing waits (the stack is free again).
    func next(after p: Publication) -> Publication? {
        lock.lock()
        defer { lock.unlock() }
        p.delivered = true
        if !p.children.isEmpty {
            // Depth first: the children go before everything queued behind their parent.
            let kids = p.children
            p.children = []
            queue.replaceSubrange(head..<head, with: kids)
        }
        guard head < queue.count else {
            queue.removeAll(keepingCapacity: true)
            head = 0
            busy = false
            busyHint.store(false, ordering: .releasing)
            return nil
        }
        let n = queue[head]
        head += 1
        if head >= 64 && head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return n
    }
}

/// The publications of one runtime not yet delivered, so that a flush also waits for the events still
/// inside their injectors and sanitizers (docs/middleware.md, "Subscribers").
///
/// `lock` guards `next` and `open` (the start numbers of those in flight, ascending).
final class InFlightPublications: @unchecked Sendable {
    private let lock = PThreadLock()
    private let changed = PThreadCondition()
    private var next: UInt64 = 1
    private var open: [UInt64] = []

    /// Numbers `p` and counts it in flight.
    func begin(_ p: Publication) {
        lock.withLock {
            p.seq = next
            next += 1
            open.append(p.seq)
        }
    }

    /// `p` was delivered.
    func end(_ p: Publication) {
        lock.withLock {
            if let i = open.firstIndex(of: p.seq) { open.remove(at: i) }
            changed.broadcast()
        }
    }

    /// Waits until every publication begun before the call was delivered; false on timeout.
    func wait(deadline: Int64?) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let target = next
        while let first = open.first, first < target {
            if !changed.wait(lock, deadline: deadline) { return false }
        }
        return true
    }
}

/// The publication whose injectors and sanitizers run on the current thread, so events they emit are
/// nested under it (see ``PublicationOrder``).
///
/// The core sets it around each callback it calls; a binding whose callback answers later enters the
/// context captured with ``capture()`` around each piece of that callback it runs.
public final class EmissionContext: @unchecked Sendable {
    /// Immutable after init.
    let publication: Publication?

    init(_ p: Publication?) { publication = p }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            guard let p else { return }
            Unmanaged<Frame>.fromOpaque(p).release()
        }
        return k
    }()

    /// The per-thread stack of entered contexts (a linked list, top first); `owner` names who entered
    /// it (0: the core around a callback it calls).
    final class Frame {
        let context: EmissionContext?
        let below: Frame?
        let owner: UInt
        init(_ c: EmissionContext?, _ below: Frame?, owner: UInt) {
            context = c
            self.below = below
            self.owner = owner
        }
    }

    private static var top: Frame? {
        get { pthread_getspecific(key).map { Unmanaged<Frame>.fromOpaque($0).takeUnretainedValue() } }
        set {
            if let old = pthread_getspecific(key) { Unmanaged<Frame>.fromOpaque(old).release() }
            pthread_setspecific(key, newValue.map { Unmanaged.passRetained($0).toOpaque() })
        }
    }

    /// The publication whose callbacks run on this thread, if any.
    static var current: Publication? { top?.context?.publication }

    /// The scope whose end event's callbacks run on this thread for `order`'s stack, if any: to them
    /// that scope is still current (docs/middleware.md, "Event middleware").
    @inline(__always)
    static func endingScope(of order: PublicationOrder) -> ScopeHandle? {
        guard pthread_getspecific(key) != nil, let p = current, p.order === order else { return nil }
        return p.ending
    }

    /// The context of the callback running now on this thread (nil: none).
    public static func capture() -> EmissionContext? {
        guard let p = current else { return nil }
        return EmissionContext(p)
    }

    /// Makes `context` current on this thread until the matching ``leave(owner:)``; nil hides the outer
    /// one. `owner` (not 0) identifies the caller, e.g. the token a binding entered.
    public static func enter(_ context: EmissionContext?, owner: UInt) { top = Frame(context, top, owner: owner) }

    /// Ends the innermost ``enter(_:owner:)`` of this thread when `owner` entered it; nothing otherwise,
    /// so an unmatched leave cannot end a context someone else entered.
    public static func leave(owner: UInt) {
        if let t = top, t.owner == owner { top = t.below }
    }

    /// Runs `body` with `p`'s context current, then restores what was current before.
    @inline(__always)
    static func with(_ p: Publication, _ body: () -> Void) {
        let saved = top
        top = Frame(EmissionContext(p), saved, owner: 0)
        body()
        top = saved
    }
}
