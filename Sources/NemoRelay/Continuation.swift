// SPDX-License-Identifier: Apache-2.0
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A one-shot result slot handed to every callback: resume it now, or later from any thread.
///
/// The pipeline continues on the thread that resumes it, with no executor hop. A second resume,
/// or a resume after the owning call was cancelled, returns `false` and changes nothing.
///
/// A pending continuation is *cancelled* when its owning call is (``CallControl/cancel()``: the caller
/// cancelled the call, the runtime shut down, a stream was closed) or when ``cancel(_:)`` is called
/// directly. ``onCancel(_:)`` asks to be told: the notice runs once, on the cancelling thread, before
/// the cancellation reaches the pipeline; never after a resume.
///
/// `@unchecked Sendable`: `state` (atomic compare-exchange) admits exactly one outcome, a resume or a
/// cancellation; `body` and `ticket` are written in `init`, before the continuation is shared, and
/// afterwards only the winner of `state` reads and clears them. `notices` (its own mutex) holds the
/// cancellation notices while `state` is pending; `noticed` is set before the first notice is added.
public final class Continuation<T>: @unchecked Sendable {
    /// 0 pending, 1 resumed, 2 cancelled.
    private let state = Atomic<UInt8>(0)
    /// Set (sequentially consistent, before `state` is read under `notices`) once a notice was asked
    /// for, so a resume without notices never takes the mutex.
    private let noticed = Atomic<Bool>(false)
    private let notices = Mutex<[@Sendable (RelayError) -> Void]>([])
    private var body: ((Result<T, RelayError>) -> Void)?
    /// The call this continuation belongs to, so cancellation can reach a pending callback.
    private let owner: CallControl?
    private var ticket: UInt64 = 0

    /// Wraps the code to run with the result.
    public init(_ body: @escaping (Result<T, RelayError>) -> Void) {
        self.body = body
        self.owner = nil
    }

    init(owner: CallControl?, _ body: @escaping (Result<T, RelayError>) -> Void) {
        self.body = body
        self.owner = owner
        // The control holds this continuation strongly until it resumes, so a cancel can reach it.
        if let owner { ticket = owner.addPending { self.cancel(RelayError(.cancelled, "cancelled")) } }
    }

    /// True once the continuation was resumed or cancelled.
    public var isResumed: Bool { state.load(ordering: .acquiring) != 0 }

    /// True once the continuation was cancelled (rather than resumed).
    public var isCancelled: Bool { state.load(ordering: .acquiring) == 2 }

    /// Delivers the result; returns false if it was already resumed (or cancelled).
    @discardableResult
    public func resume(_ result: Result<T, RelayError>) -> Bool {
        guard state.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged else {
            return false
        }
        owner?.removePending(ticket)
        // Dropped outside the mutex: releasing a notice may run foreign destructors.
        if noticed.load(ordering: .sequentiallyConsistent) { _ = takeNotices() }
        let b = body
        body = nil
        if let b { StackTrampoline.run(b, result) }
        return true
    }

    /// Delivers a value.
    @discardableResult public func resume(returning value: T) -> Bool { resume(.success(value)) }
    /// Delivers an error.
    @discardableResult public func resume(throwing error: RelayError) -> Bool { resume(.failure(error)) }

    /// Cancels the continuation if it is still pending: runs its cancellation notices, then delivers
    /// `error` (kind `.cancelled`) to the pipeline. Returns false if it was already resumed or cancelled.
    @discardableResult
    public func cancel(_ error: RelayError) -> Bool {
        guard state.compareExchange(expected: 0, desired: 2, ordering: .sequentiallyConsistent).exchanged else {
            return false
        }
        owner?.removePending(ticket)
        if noticed.load(ordering: .sequentiallyConsistent) {
            for n in takeNotices() { n(error) }
        }
        let b = body
        body = nil
        if let b { StackTrampoline.run(b, .failure(error)) }
        return true
    }

    /// Asks to be told when this continuation is cancelled while pending.
    ///
    /// `notice` runs at most once, with the cancellation error: on the cancelling thread, before the
    /// cancellation is delivered to the pipeline; at once (on this thread) if the continuation was
    /// already cancelled. It never runs once the continuation was resumed: it is then released.
    /// Returns false (and drops `notice` unrun) when the continuation was already resumed.
    @discardableResult
    public func onCancel(_ notice: @escaping @Sendable (RelayError) -> Void) -> Bool {
        noticed.store(true, ordering: .sequentiallyConsistent)
        let s = notices.withLock { list -> UInt8 in
            let s = state.load(ordering: .sequentiallyConsistent)
            if s == 0 { list.append(notice) }
            return s
        }
        if s == 2 { notice(RelayError(.cancelled, "cancelled")) }
        return s != 1
    }

    private func takeNotices() -> [@Sendable (RelayError) -> Void] {
        notices.withLock { list in
            let taken = list
            list = []
            return taken
        }
    }
}

/// Cancellation state of one managed call: a flag and the callback currently waited on.
///
/// `@unchecked Sendable`: `lock` guards `cancelled`, `nextTicket`, `pending` (whose cancel closures are
/// not Sendable: they only resume a continuation, which is) and `unlink`.
public final class CallControl: @unchecked Sendable {
    private let lock = PThreadLock()
    private var cancelled = false
    private var nextTicket: UInt64 = 0
    private var pending: [(ticket: UInt64, cancel: () -> Void)] = []
    /// Drops this control's link to the control it is a ``child()`` of.
    private var unlink: (() -> Void)?

    public init() {}

    /// True once ``cancel()`` was called.
    public var isCancelled: Bool { lock.withLock { cancelled } }

    func addPending(_ c: @escaping () -> Void) -> UInt64 {
        lock.withLock {
            nextTicket &+= 1
            pending.append((nextTicket, c))
            return nextTicket
        }
    }

    /// Runs `body` when the call is cancelled, at once if it already was; the ticket (nil when it ran) removes it.
    func whenCancelled(_ body: @escaping () -> Void) -> UInt64? {
        lock.lock()
        if cancelled {
            lock.unlock()
            body()
            return nil
        }
        nextTicket &+= 1
        let t = nextTicket
        pending.append((t, body))
        lock.unlock()
        return t
    }

    func removePending(_ t: UInt64) {
        lock.withLock {
            if let i = pending.lastIndex(where: { $0.ticket == t }) { pending.remove(at: i) }
        }
    }

    /// A control cancelled whenever this one is, but not the other way round: the inner layers behind a
    /// transforming stream intercept's inner stream (docs/pipeline.md, "Transforming stream intercepts").
    /// ``detach()`` drops the link once the child's work ended, so the parent keeps no notice of it.
    func child() -> CallControl {
        let c = CallControl()
        // Held until detached or cancelled: nothing else need keep a layer's control alive.
        if let t = whenCancelled({ c.cancel() }) {
            c.lock.withLock { c.unlink = { [weak self] in self?.removePending(t) } }
        }
        return c
    }

    /// Drops the link made by ``child()`` (nothing for a control that is no child, or was detached).
    func detach() {
        let u = lock.withLock { () -> (() -> Void)? in
            let u = unlink
            unlink = nil
            return u
        }
        u?()
    }

    /// Cancels the call: a pending callback completes as cancelled; returns false if already cancelled.
    @discardableResult
    public func cancel() -> Bool {
        lock.lock()
        if cancelled {
            lock.unlock()
            return false
        }
        cancelled = true
        let waiting = pending
        pending = []
        lock.unlock()
        // Innermost first, so an intercept sees its `next` fail before it is cancelled itself.
        for p in waiting.reversed() { p.cancel() }
        return true
    }
}

// MARK: - Running a callback

extension Continuation {
    /// Runs `body` with a fresh continuation and hands its result to `then`.
    @inline(__always)
    static func run(
        _ control: CallControl?, _ body: (Continuation<T>) -> Void,
        then: @escaping (Result<T, RelayError>) -> Void
    ) {
        if let control, control.isCancelled {
            then(.failure(RelayError(.cancelled, "cancelled")))
            return
        }
        body(Continuation(owner: control, then))
    }
}

// MARK: - Chains that do not grow the stack

/// Hands one chain step's result back to the loop that started it, or on to the thread that completes it.
///
/// A step whose callback completes before returning only records its result here and the chain's loop
/// continues with it, so a chain of any length costs constant stack when every callback answers at
/// once. A step completed after its callback returned (PENDING, from any thread) calls `later` on the
/// completing thread, which re-enters the chain's loop there.
///
/// `state` orders the hand-off: `answer` is written before the resumer moves it from 0 to 1 and read
/// by the starter only after it saw 1; once the starter moved it from 0 to 2 only the resumer runs.
///
/// `@unchecked Sendable`: no lock: `state` (atomic compare-exchange, above) orders every access to `answer`.
final class ChainStep<T>: @unchecked Sendable {
    private let state = Atomic<UInt8>(0)
    private var answer: Result<T, RelayError>?

    /// Runs `start` with a fresh continuation owned by `control`.
    ///
    /// Returns the result if the continuation was resumed before `start` returned; otherwise nil,
    /// and `later` receives the result on the thread that resumes it.
    @inline(__always)
    static func run(
        _ control: CallControl?, _ start: (Continuation<T>) -> Void,
        later: @escaping (Result<T, RelayError>) -> Void
    ) -> Result<T, RelayError>? {
        if let control, control.isCancelled { return .failure(RelayError(.cancelled, "cancelled")) }
        let step = ChainStep<T>()
        start(
            Continuation(owner: control) { r in
                step.answer = r
                if step.state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
                    return
                }
                step.answer = nil
                later(r)
            })
        if step.state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged {
            return nil
        }
        let r = step.answer
        step.answer = nil
        return r
    }
}

extension ChainStep {
    /// Runs the chain steps `from..<count` in order, threading a value through them without growing the
    /// stack: `step(i, value, c)` starts step i; `apply(i, value, result)` gives the value for the next
    /// step, or nil when the chain ended there (it then called its own completion). While steps answer
    /// at once this is a loop; a step that answers later resumes the chain on the thread that answered.
    /// `then` receives the value after the last step.
    static func fold<V>(
        from: Int, count: Int, _ value: V, control: CallControl?,
        step: @escaping (Int, V, Continuation<T>) -> Void,
        apply: @escaping (Int, V, Result<T, RelayError>) -> V?,
        then: @escaping (V) -> Void
    ) {
        var i = from
        var value = value
        while i < count {
            let v = value
            let at = i
            guard
                let r = run(
                    control, { c in step(at, v, c) },
                    later: { r in
                        guard let next = apply(at, v, r) else { return }
                        fold(from: at + 1, count: count, next, control: control, step: step, apply: apply, then: then)
                    })
            else { return }
            guard let next = apply(at, v, r) else { return }
            value = next
            i += 1
        }
        then(value)
    }
}

/// The calling thread's run loop for continuations that would otherwise nest too deep.
///
/// Continuations and execution-onion layers normally run inline. The outermost one on a thread
/// becomes the driver; deeper down, once less than a safety margin of the thread's stack is left,
/// work is queued instead and the driver runs it after the stack unwound back to it, still on the
/// same thread. Onion layers (an execution intercept calling its `next` from inside its callback)
/// nest real callback frames, so this is what keeps thousands of them within a small stack; for a
/// callback that needs the inner result before it returns, the inner layers then finish after it
/// returned (it sees them as running later), where they would otherwise have overflowed the stack.
///
/// Only its own thread touches an instance (it lives in a thread-specific slot), so it needs no lock.
final class StackTrampoline {
    private var queue: [() -> Void] = []
    private var running = false
    /// Work queued once the stack pointer is below this address (the stack grows down).
    private let lowWater: UInt

    /// `pthread_getattr_np` (a GNU extension the Glibc module does not declare), looked up once.
    private static let getattr: (@convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32)? = {
        guard let f = dlsym(nil, "pthread_getattr_np") else { return nil }
        return unsafeBitCast(
            f, to: (@convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32).self)
    }()

    private init() {
        var attr = pthread_attr_t()
        var low: UInt = 0
        if let getattr = StackTrampoline.getattr, getattr(pthread_self(), &attr) == 0 {
            var addr: UnsafeMutableRawPointer?
            var size = 0
            if pthread_attr_getstack(&attr, &addr, &size) == 0, let addr, size > 0 {
                let margin = min(size / 2, max(64 << 10, size / 4))
                low = UInt(bitPattern: addr) + UInt(margin)
            }
            pthread_attr_destroy(&attr)
        }
        lowWater = low
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            guard let p else { return }
            Unmanaged<StackTrampoline>.fromOpaque(p).release()
        }
        return k
    }()

    private static var current: StackTrampoline {
        if let p = pthread_getspecific(key) {
            return Unmanaged<StackTrampoline>.fromOpaque(p).takeUnretainedValue()
        }
        let t = StackTrampoline()
        pthread_setspecific(key, Unmanaged.passRetained(t).toOpaque())
        return t
    }

    @inline(never)
    private static func stackAddress() -> UInt {
        var probe: UInt8 = 0
        return withUnsafeMutablePointer(to: &probe) { UInt(bitPattern: $0) }
    }

    /// Runs `body(arg)` now, or queues it for this thread's driver when the stack is nearly used up.
    static func run<A>(_ body: @escaping (A) -> Void, _ arg: A) {
        let t = current
        if t.running {
            if stackAddress() < t.lowWater {
                t.queue.append { body(arg) }
            } else {
                body(arg)
            }
            return
        }
        t.running = true
        body(arg)
        var i = 0
        while i < t.queue.count {
            let work = t.queue[i]
            i += 1
            work()
            if i >= 4096 && i * 2 >= t.queue.count {
                t.queue.removeFirst(i)
                i = 0
            }
        }
        t.queue.removeAll(keepingCapacity: false)
        t.running = false
    }
}
