// SPDX-License-Identifier: Apache-2.0
// What the helper used Foundation for, on Glibc alone: JSON numbers and null, a lock, a condition,
// threads, stderr, the environment and the executable's path. Without Foundation the statically
// linked helper of the Node package carries no ICU data (about 45 MB less; docs/packaging.md).
#if canImport(Glibc)
    import Glibc
#endif

// MARK: - JSON values

/// A JSON number or boolean of a request, as read by ``JSONLine``; the accessors convert the way
/// the binding's values need (integers exactly, doubles truncated, booleans as 0/1).
final class Number: CustomStringConvertible {
    enum Storage {
        case int(Int64), uint(UInt64), double(Double), bool(Bool)
    }

    let storage: Storage

    init(_ v: Int64) { storage = .int(v) }
    init(_ v: UInt64) { storage = .uint(v) }
    init(_ v: Double) { storage = .double(v) }
    init(_ v: Bool) { storage = .bool(v) }

    var int64Value: Int64 {
        switch storage {
        case .int(let v): return v
        case .uint(let v): return Int64(bitPattern: v)
        case .double(let v): return v.isFinite && abs(v) < 9.2e18 ? Int64(v) : 0
        case .bool(let v): return v ? 1 : 0
        }
    }

    var intValue: Int { Int(truncatingIfNeeded: int64Value) }
    var int32Value: Int32 { Int32(truncatingIfNeeded: int64Value) }

    var boolValue: Bool {
        switch storage {
        case .bool(let v): return v
        case .double(let v): return v != 0
        default: return int64Value != 0
        }
    }

    var description: String {
        switch storage {
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return v ? "true" : "false"
        }
    }
}

/// JSON `null` inside a request (an absent key reads as Swift `nil` instead). Stateless, so Sendable.
final class Null: CustomStringConvertible, Sendable {
    static let shared = Null()
    var description: String { "null" }
}

// MARK: - Threads and locks

/// A mutex with a condition variable; `lock`/`unlock` bracket the state it guards (stated at each use).
final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for a `signal`; the caller holds the lock and re-checks its predicate.
    func wait() { pthread_cond_wait(cond, mutex) }
    func signal() { pthread_cond_signal(cond) }
    func broadcast() { pthread_cond_broadcast(cond) }
}

/// A one-shot gate: `wait` returns once `open` was called (the library being loaded).
final class Gate: @unchecked Sendable {
    private let cond = Condition()
    /// Guarded by `cond`.
    private var opened = false

    func open() {
        cond.lock()
        opened = true
        cond.broadcast()
        cond.unlock()
    }

    func wait() {
        cond.lock()
        while !opened { cond.wait() }
        cond.unlock()
    }
}

/// Starts a detached thread running `body`; `name` is for the error raised when it cannot start.
func startThread(name: String, stackSize: Int = 0, _ body: @escaping () -> Void) {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    defer { pthread_attr_destroy(&attr) }
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    if stackSize > 0 { pthread_attr_setstacksize(&attr, stackSize) }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var tid = pthread_t()
    let rc = pthread_create(
        &tid, &attr,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(box).release()
        fail("nemo-relay-helper: cannot start thread \(name): error \(rc)\n", status: 6)
    }
}

// MARK: - Process

/// Writes `message` to stderr and exits with `status`.
func fail(_ message: String, status: Int32) -> Never {
    // write(2) on fd 2: the C `stderr` stream is shared mutable state Swift 6 does not let us name.
    var bytes = Array(message.utf8)
    var at = 0
    while at < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + at, $0.count - at) }
        if n <= 0 { break }
        at += n
    }
    exit(status)
}

/// An environment variable, or nil when unset or empty.
func environment(_ name: String) -> String? {
    guard let v = getenv(name), v.pointee != 0 else { return nil }
    return String(cString: v)
}

/// The directory holding this executable (`/proc/self/exe`), else that of `argv[0]`.
func executableDirectory() -> String {
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    let exe =
        n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    guard let slash = exe.lastIndex(of: "/") else { return "." }
    return slash == exe.startIndex ? "/" : String(exe[..<slash])
}
