// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// A one-shot result slot handed to every callback: resume it now, or later from any thread.
///
/// The pipeline continues on the thread that resumes it, with no executor hop. A second resume,
/// or a resume after the owning call was cancelled, returns `false` and changes nothing.
public final class Continuation<T>: @unchecked Sendable {
    private let state = Atomic<Bool>(false)
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
        if let owner { ticket = owner.addPending { self.resume(.failure(RelayError(.cancelled, "cancelled"))) } }
    }

    /// True once the continuation was resumed or cancelled.
    public var isResumed: Bool { state.load(ordering: .acquiring) }

    /// Delivers the result; returns false if it was already resumed (or cancelled).
    @discardableResult
    public func resume(_ result: Result<T, RelayError>) -> Bool {
        guard !state.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        owner?.removePending(ticket)
        let b = body
        body = nil
        b?(result)
        return true
    }

    /// Delivers a value.
    @discardableResult public func resume(returning value: T) -> Bool { resume(.success(value)) }
    /// Delivers an error.
    @discardableResult public func resume(throwing error: RelayError) -> Bool { resume(.failure(error)) }
}

/// Cancellation state of one managed call: a flag and the callback currently waited on.
public final class CallControl: @unchecked Sendable {
    private let lock = PThreadLock()
    private var cancelled = false
    private var nextTicket: UInt64 = 0
    private var pending: [(ticket: UInt64, cancel: () -> Void)] = []

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
