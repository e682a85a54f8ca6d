// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Handle table

/// Object kinds that cross the boundary; the tag lives in the low bits of the handle value.
enum HandleTag: UInt {
    case runtime = 1
    case stack = 2
    case scope = 3
    case call = 4
    case token = 5
    case codec = 6
    case producer = 7
    case stream = 8
    case exporter = 9
}

/// Maps handle values to Swift objects so freed, foreign and double-freed handles are detected.
///
/// A handle is `(id << 4) | tag` with a never-reused id that starts at a random per-process point: a
/// stale or guessed pointer finds no entry and yields `NEMO_RELAY_E_MISUSE` instead of touching freed memory.
///
/// `@unchecked Sendable`: `lock` (the core's pthread lock) guards `objects` and `next`. A pthread mutex rather
/// than a Synchronization Mutex: every export looks a handle up, and the pthread lock measured ~10 ns cheaper
/// per lookup.
final class HandleTable: @unchecked Sendable {
    static let shared = HandleTable()
    private let lock = PThreadLock()
    private var objects: [UInt: any AnyObject & Sendable] = [:]
    /// The next id. It starts at a random point in [2^24, 2^40) chosen per process, so handle values
    /// are not small guessable integers (`(void *)0x11` is never a live handle) and a handle from
    /// another process never matches.
    private var next: UInt

    init() {
        var g = SystemRandomNumberGenerator()
        next = UInt.random(in: (1 << 24)..<(1 << 40), using: &g)
    }

    func insert(_ o: any AnyObject & Sendable, _ tag: HandleTag) -> OpaquePointer {
        lock.lock()
        let key = next << 4 | tag.rawValue
        next &+= 1
        objects[key] = o
        lock.unlock()
        // key >= 8: never the NULL pointer.
        return OpaquePointer(bitPattern: key) ?? OpaquePointer(UnsafeRawPointer(emptyCString.pointer))
    }

    func get<T: AnyObject>(_ p: OpaquePointer?, _ tag: HandleTag, as: T.Type) -> T? {
        guard let p else { return nil }
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(p)))
        guard key & 15 == tag.rawValue else { return nil }
        lock.lock()
        let o = objects[key]
        lock.unlock()
        return o as? T
    }

    @discardableResult
    func remove(_ p: OpaquePointer?, _ tag: HandleTag) -> (any AnyObject & Sendable)? {
        guard let p else { return nil }
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(p)))
        guard key & 15 == tag.rawValue else { return nil }
        lock.lock()
        let o = objects.removeValue(forKey: key)
        lock.unlock()
        return o
    }
}

// MARK: - Per-thread last error

enum LastError {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in free(p) }
        return k
    }()
    /// The failure identity reported with the message: a retained ``FailureIdentity`` (released at thread exit).
    private static let identityKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in if let p { Unmanaged<FailureIdentity>.fromOpaque(p).release() } }
        return k
    }()

    /// Clears the slot; exports call this on entry so it never holds an old message (or identity).
    @inline(__always) static func clear() {
        if let p = pthread_getspecific(key) {
            p.assumingMemoryBound(to: CChar.self).pointee = 0
        }
        if let i = pthread_getspecific(identityKey) {
            pthread_setspecific(identityKey, nil)
            Unmanaged<FailureIdentity>.fromOpaque(i).release()
        }
    }

    static func set(_ message: String, identity: FailureIdentity? = nil) {
        let old = pthread_getspecific(key)
        pthread_setspecific(key, strdup(message))
        free(old)
        let oldIdentity = pthread_getspecific(identityKey)
        pthread_setspecific(identityKey, identity.map { Unmanaged.passRetained($0).toOpaque() })
        if let oldIdentity { Unmanaged<FailureIdentity>.fromOpaque(oldIdentity).release() }
    }

    static var message: UnsafePointer<CChar> {
        if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return emptyCString.pointer
    }

    /// The id of the identity reported with the message; 0 when none.
    static var identityID: UInt64 {
        guard let i = pthread_getspecific(identityKey) else { return 0 }
        return Unmanaged<FailureIdentity>.fromOpaque(i).takeUnretainedValue().id
    }
}

/// An error on its way out through a status code.
struct FFIError: Error {
    let status: Int32
    let message: String

    init(_ status: Int32, _ message: String) {
        self.status = status
        self.message = message
    }

    static func misuse(_ what: String) -> FFIError { FFIError(Int32(NEMO_RELAY_E_MISUSE), what) }
    static func invalid(_ what: String) -> FFIError {
        FFIError(Int32(NEMO_RELAY_E_INVALID_ARGUMENT), "invalid argument: " + what)
    }
}

extension RelayError {
    /// The C status for this error class.
    var status: Int32 {
        switch kind {
        case .invalidArgument: return Int32(NEMO_RELAY_E_INVALID_ARGUMENT)
        case .notFound: return Int32(NEMO_RELAY_E_NOT_FOUND)
        case .alreadyExists: return Int32(NEMO_RELAY_E_ALREADY_EXISTS)
        case .guardrailRejected: return Int32(NEMO_RELAY_E_GUARDRAIL_REJECTED)
        case .internalError: return Int32(NEMO_RELAY_E_INTERNAL)
        case .scopeStackEmpty: return Int32(NEMO_RELAY_E_SCOPE_STACK_EMPTY)
        case .callback: return Int32(NEMO_RELAY_E_CALLBACK)
        case .cancelled: return Int32(NEMO_RELAY_E_CANCELLED)
        case .misuse: return Int32(NEMO_RELAY_E_MISUSE)
        case .timeout: return Int32(NEMO_RELAY_E_TIMEOUT)
        case .export: return Int32(NEMO_RELAY_E_INTERNAL)
        }
    }
}

/// Runs an export body: clears the error slot, maps every failure to a status and a message.
@inline(__always)
func ffi(_ body: () throws -> Void) -> Int32 {
    LastError.clear()
    do {
        try body()
        return Int32(NEMO_RELAY_OK)
    } catch let e as FFIError {
        LastError.set(e.message)
        return e.status
    } catch let e as RelayError {
        LastError.set(e.displayText, identity: e.identity)
        return e.status
    } catch {
        LastError.set("internal error: \(error)")
        return Int32(NEMO_RELAY_E_INTERNAL)
    }
}

// MARK: - Inputs

/// Parses an optional JSON input; NULL means absent (`nil`).
func jsonInput(_ p: UnsafePointer<CChar>?, _ len: Int, _ what: String) throws -> JSON? {
    guard let p else { return nil }
    return try p.withMemoryRebound(to: UInt8.self, capacity: max(len, 1)) { u in
        try parseInput(UnsafeBufferPointer(start: u, count: len), what)
    }
}

/// Parses input bytes, mapping a parse error to NEMO_RELAY_E_INVALID_JSON.
func parseInput(_ bytes: UnsafeBufferPointer<UInt8>, _ what: String) throws -> JSON {
    do {
        return try JSON.parse(bytes)
    } catch {
        throw FFIError(Int32(NEMO_RELAY_E_INVALID_JSON), "invalid JSON in \(what): \(error.description)")
    }
}

/// A required NUL-terminated UTF-8 string.
func stringInput(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let p else { throw FFIError.invalid("\(what) must not be NULL") }
    let n = strlen(p)
    let s = try p.withMemoryRebound(to: UInt8.self, capacity: n + 1) { u -> String in
        let buf = UnsafeBufferPointer(start: u, count: n)
        guard let s = String(validating: buf, as: UTF8.self) else {
            throw FFIError.invalid("\(what) is not valid UTF-8")
        }
        return s
    }
    return s
}

/// An optional NUL-terminated UTF-8 string.
func optionalString(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String? {
    guard p != nil else { return nil }
    return try stringInput(p, what)
}

/// Writes bytes to a library-owned buffer for `char **out, size_t *out_len`.
func writeOut(
    _ bytes: [UInt8], _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ outLen: UnsafeMutablePointer<Int>?
) throws {
    guard let out, let outLen else { throw FFIError.invalid("out and out_len must not be NULL") }
    guard let raw = malloc(bytes.count + 1) else {
        throw FFIError(Int32(NEMO_RELAY_E_INTERNAL), "internal error: out of memory")
    }
    let buf = raw.assumingMemoryBound(to: CChar.self)
    bytes.withUnsafeBytes { src in
        if let b = src.baseAddress { memcpy(buf, b, bytes.count) }
    }
    buf[bytes.count] = 0
    out.pointee = buf
    outLen.pointee = bytes.count
}

/// Checks an options struct's version: 0 < version <= supported.
func checkVersion(_ v: UInt32, _ supported: Int32, _ what: String) throws {
    guard v >= 1 && v <= UInt32(supported) else {
        throw FFIError(
            Int32(NEMO_RELAY_E_VERSION),
            "invalid argument: \(what) version \(v) is not supported (expected 1...\(supported))")
    }
}

// MARK: - Handle lookups

/// A reference to a stack held by a C handle.
final class StackRef: Sendable {
    let stack: ScopeStack
    init(_ s: ScopeStack) { stack = s }
}

func runtimeArg(_ p: OpaquePointer?) throws -> Runtime {
    guard p != nil else { throw FFIError.misuse("misuse: runtime handle is NULL") }
    guard let rt = HandleTable.shared.get(p, .runtime, as: Runtime.self) else {
        throw FFIError.misuse("misuse: runtime handle is invalid or was freed")
    }
    return rt
}

/// A stack argument; NULL means the calling thread's default stack.
func stackArg(_ p: OpaquePointer?) throws -> ScopeStack {
    guard p != nil else { return ScopeStack.current }
    guard let s = HandleTable.shared.get(p, .stack, as: StackRef.self) else {
        throw FFIError.misuse("misuse: stack handle is invalid or was freed")
    }
    return s.stack
}

func scopeArg(_ p: OpaquePointer?, _ what: String = "scope") throws -> ScopeHandle {
    guard p != nil else { throw FFIError.misuse("misuse: \(what) handle is NULL") }
    guard let h = HandleTable.shared.get(p, .scope, as: ScopeHandle.self) else {
        throw FFIError.misuse("misuse: \(what) handle is invalid or was freed")
    }
    return h
}

/// Refuses a scope handle made by another runtime (its events would reach the other runtime's
/// subscribers); handles of no runtime (a stack's implicit root) are accepted everywhere.
func checkOwner(_ h: ScopeHandle?, _ rt: Runtime, _ what: String = "scope") throws {
    guard let h, h.ownerRuntime != 0, h.ownerRuntime != rt.serial else { return }
    throw FFIError.misuse("misuse: \(what) handle belongs to another runtime")
}

func optionalScopeArg(_ p: OpaquePointer?, _ what: String = "parent") throws -> ScopeHandle? {
    guard p != nil else { return nil }
    return try scopeArg(p, what)
}

// MARK: - Outputs to callbacks

/// A process-lifetime C string (never freed), for static texts handed out by the library.
///
/// `@unchecked Sendable`: no lock, none needed: the bytes are written once in `init`, before the value
/// can be shared, and never written or freed afterwards, so every thread only reads them.
struct CStringConstant: @unchecked Sendable {
    let pointer: UnsafePointer<CChar>

    init(_ s: String) {
        let bytes = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        pointer = UnsafePointer(p)
    }
}

let emptyCString = CStringConstant("")

/// Hands `bytes` to `body` as a C pointer and length; an empty buffer still gets a valid pointer.
@inline(__always)
func withCBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
    bytes.withUnsafeBufferPointer { b in
        guard let base = b.baseAddress, b.count > 0 else { return body(emptyCString.pointer, 0) }
        return base.withMemoryRebound(to: CChar.self, capacity: b.count) { body($0, b.count) }
    }
}
