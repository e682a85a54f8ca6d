// SPDX-License-Identifier: Apache-2.0
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point in time: nanoseconds since the Unix epoch, UTC.
public typealias Nanoseconds = Int64

/// The source of wall-clock time for events; inject a ``ManualClock`` in tests.
public protocol RelayClock: Sendable {
    /// The current time in nanoseconds since the Unix epoch.
    func now() -> Nanoseconds
}

/// The system's real-time clock.
public struct SystemClock: RelayClock {
    public init() {}

    public func now() -> Nanoseconds {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}

/// A clock that returns a settable time and advances by a fixed step on every read.
public final class ManualClock: RelayClock, Sendable {
    private let current: Mutex<Nanoseconds>
    private let step: Nanoseconds

    /// Starts at `start` and advances by `step` nanoseconds after each read.
    public init(start: Nanoseconds = 1_767_225_600_000_000_000, step: Nanoseconds = 1_000) {
        current = Mutex(start)
        self.step = step
    }

    public func now() -> Nanoseconds {
        current.withLock { current in
            let t = current
            current += step
            return t
        }
    }

    /// Sets the next value `now()` returns.
    public func set(_ t: Nanoseconds) { current.withLock { $0 = t } }
}

/// The monotonic deadline `timeoutNanos` from now; nil for none, saturating instead of overflowing, so
/// `Int64.max` means "as long as it takes" rather than "already passed".
@inline(__always) func monotonicDeadline(after timeoutNanos: Int64?) -> Int64? {
    guard let t = timeoutNanos else { return nil }
    let (sum, overflow) = monotonicNanos().addingReportingOverflow(max(0, t))
    return overflow ? Int64.max : sum
}

/// The monotonic clock, for measuring durations such as time to first chunk.
@inline(__always) func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

// MARK: - RFC 3339

enum RFC3339 {
    /// Writes `t` as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]+00:00`.
    static func write(_ t: Nanoseconds, into out: inout [UInt8]) {
        var secs = t / 1_000_000_000
        var nanos = t % 1_000_000_000
        if nanos < 0 {
            nanos += 1_000_000_000
            secs -= 1
        }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        digits(y, 4, &out)
        out.append(UInt8(ascii: "-"))
        digits(m, 2, &out)
        out.append(UInt8(ascii: "-"))
        digits(d, 2, &out)
        out.append(UInt8(ascii: "T"))
        digits(rem / 3600, 2, &out)
        out.append(UInt8(ascii: ":"))
        digits((rem / 60) % 60, 2, &out)
        out.append(UInt8(ascii: ":"))
        digits(rem % 60, 2, &out)
        if nanos != 0 {
            out.append(UInt8(ascii: "."))
            if nanos % 1_000_000 == 0 {
                digits(nanos / 1_000_000, 3, &out)
            } else if nanos % 1_000 == 0 {
                digits(nanos / 1_000, 6, &out)
            } else {
                digits(nanos, 9, &out)
            }
        }
        for c in "+00:00".utf8 { out.append(c) }
    }

    static func string(_ t: Nanoseconds) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(35)
        write(t, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func digits(_ v: Int64, _ width: Int, _ out: inout [UInt8]) {
        var v = v
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            v = -v
        }
        var buf: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { b in
            var i = b.count
            repeat {
                i -= 1
                b[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while (v > 0 || b.count - i < width) && i > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[i...]))
        }
    }
}

// MARK: - Locks

/// A small pthread mutex; the core's hot path uses locks, never actors.
///
/// `@unchecked Sendable`: no Swift state to guard: `m` never changes and points to the pthread mutex,
/// which is itself the thread-safe primitive (the compiler cannot see into C types).
package final class PThreadLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always) package func lock() { pthread_mutex_lock(m) }
    @inline(__always) package func unlock() { pthread_mutex_unlock(m) }
    /// Takes the lock if it is free; true when taken.
    @inline(__always) package func tryLock() -> Bool { pthread_mutex_trylock(m) == 0 }

    /// Takes the lock, polling until the monotonic `deadline` (nil: wait as long as it takes).
    package func lock(untilMonotonic deadline: Int64?) -> Bool {
        guard let deadline else {
            lock()
            return true
        }
        while !tryLock() {
            if monotonicNanos() >= deadline { return false }
            usleep(1000)
        }
        return true
    }

    @inline(__always) package func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }

    var raw: UnsafeMutablePointer<pthread_mutex_t> { m }
}

/// A mutex the owning thread may take again, for work that can re-enter itself through a user callback.
///
/// `@unchecked Sendable`: no Swift state to guard: `m` never changes and points to the pthread mutex.
final class PThreadRecursiveLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(m, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(m) }
    @inline(__always) func unlock() { pthread_mutex_unlock(m) }
}

/// A condition variable bound to a ``PThreadLock``.
///
/// `@unchecked Sendable`: no Swift state to guard: `c` never changes and points to the pthread condition,
/// always used with the ``PThreadLock`` passed to `wait`.
package final class PThreadCondition: @unchecked Sendable {
    private let c: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        c = .allocate(capacity: 1)
        c.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(c, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(c)
        c.deallocate()
    }

    package func wait(_ lock: PThreadLock) { pthread_cond_wait(c, lock.raw) }

    /// Waits until the monotonic deadline; returns false on timeout.
    package func wait(_ lock: PThreadLock, untilMonotonic deadline: Int64) -> Bool {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(c, lock.raw, &ts) == 0
    }

    /// Waits once, until signalled or the monotonic `deadline` (nil: without limit); false, without
    /// waiting, when the deadline has passed. Callers loop on their condition around it.
    package func wait(_ lock: PThreadLock, deadline: Int64?) -> Bool {
        guard let deadline else {
            wait(lock)
            return true
        }
        if monotonicNanos() >= deadline { return false }
        _ = wait(lock, untilMonotonic: deadline)
        return true
    }

    package func signal() { pthread_cond_signal(c) }
    package func broadcast() { pthread_cond_broadcast(c) }
}
