// SPDX-License-Identifier: Apache-2.0
import CFFI
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Closures

/// A libffi closure that forwards every C call to Node as an `invoke` request and returns a fixed value.
///
/// The helper never waits for Node inside a closure: callbacks of the completion protocol return
/// NEMO_RELAY_PENDING (the declared `value`) and Node answers later with an FFI `call`, so no helper
/// thread ever blocks on JavaScript.
final class Closure: @unchecked Sendable {
    let id: Int
    let params: [Kind]
    let ret: Kind
    let value: Int64
    let types: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    var cif = ffi_cif()
    var closure: UnsafeMutablePointer<ffi_closure>?
    var code: UnsafeMutableRawPointer?
    let out: Output
    /// A callback that must answer before it returns (stream collectors and finalizers): see ``SyncWait``.
    let wait: Bool
    /// An export `uint64_t (void)` called first at every invocation, on the calling thread, whose value is
    /// appended to the invoke's arguments (Node passes `nemo_relay_last_error_id` for done callbacks).
    let probe: (@convention(c) () -> UInt64)?
    /// A callback whose pending token Node wants to hear about when it is cancelled: see ``CancelNotice``.
    let cancels: Bool

    init(
        id: Int, ret: String, value: Int64, params: [String], wait: Bool = false, cancels: Bool = false,
        probe: (@convention(c) () -> UInt64)? = nil, out: Output
    ) throws {
        self.id = id
        self.out = out
        self.value = value
        self.wait = wait
        self.probe = probe
        self.cancels = cancels
        guard let r = Kind(rawValue: ret), r == .void || r == .i32 else {
            throw ProtocolError("closures return void or i32")
        }
        if (wait || cancels) && (r != .i32 || params.first != Kind.ptr.rawValue) {
            throw ProtocolError("a waiting or cancelling closure is a callback: it returns i32, takes the token first")
        }
        self.ret = r
        var ks: [Kind] = []
        var scalars: [UnsafeMutablePointer<ffi_type>] = []
        for p in params {
            guard let k = Kind(rawValue: p) else { throw ProtocolError("unknown closure parameter kind \(p)") }
            switch k {
            case .ptr: scalars.append(nr_ffi_ptr())
            case .i32: scalars.append(nr_ffi_s32())
            case .json, .rawjson: scalars += [nr_ffi_ptr(), nr_ffi_u64()]
            default: throw ProtocolError("closure parameters are ptr, i32, json or rawjson")
            }
            ks.append(k)
        }
        self.params = ks
        types = .allocate(capacity: max(scalars.count, 1))
        for (i, t) in scalars.enumerated() { types[i] = t }
        guard nr_ffi_prep_cif(&cif, UInt32(scalars.count), r == .void ? nr_ffi_void() : nr_ffi_s32(), types) == FFI_OK
        else { throw ProtocolError("ffi_prep_cif failed for a closure") }
        var c: UnsafeMutableRawPointer?
        let user = Unmanaged.passUnretained(self).toOpaque()
        guard let cl = nr_ffi_closure_new(&cif, closureHandler, user, &c) else {
            throw ProtocolError("ffi_closure_alloc failed")
        }
        closure = cl
        code = c
    }

    func release() {
        if let c = closure { nr_ffi_closure_free(c) }
        closure = nil
    }

    /// Marshals the C arguments into an invoke: appended to the sync reply under construction when C
    /// called the closure on the sync-channel thread (during a request Node is blocked on), else sent
    /// as an `invoke` line on stdout.
    func invoked(_ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ ret: UnsafeMutableRawPointer?) {
        if wait {
            answerNow(args, ret)
            return
        }
        let probed = probe?()
        let capture = SyncCapture.active()
        var line =
            capture
            ? "[\(id),["
            : "{\"id\":\(out.nextId()),\"op\":\"\(Op.invoke.rawValue)\",\"args\":{\"closure\":\(id),\"args\":["
        appendArgs(&line, args)
        if let probed { line += ",\(probed)" }
        if capture {
            SyncCapture.append(line + "]]")
        } else {
            out.send(line + "]}}\n")
        }
        // Asked after the invoke went out, so Node always sees a token's cancel after its invoke.
        if cancels { CancelNotice.ask(UnsafeMutableRawPointer(bitPattern: args[0]!.load(as: Int.self)), capture) }
        if self.ret == .i32, let ret { ret.storeBytes(of: value, as: Int64.self) }  // ffi_arg is word-sized
    }

    /// A waiting closure: asks Node on the sync channel, completes the token (its first argument) with
    /// the answer and returns NEMO_RELAY_OK. Off the sync thread Node cannot be asked without risking a
    /// deadlock, so the callback fails instead.
    private func answerNow(_ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ ret: UnsafeMutableRawPointer?) {
        let token = UnsafeMutableRawPointer(bitPattern: args[0]!.load(as: Int.self))
        var status: Int32 = 7  // NEMO_RELAY_E_CALLBACK
        var json = "{\"type\":\"Error\",\"message\":\"this callback can only run on the helper's sync thread\"}"
        var failure: SyncWait.FailureID?
        if SyncCapture.active() {
            var line = "{\"op\":\"\(Op.invoke.rawValue)\",\"args\":{\"closure\":\(id),\"args\":["
            appendArgs(&line, args)
            if let a = SyncWait.ask(line + "]}}\n") { (status, json, failure) = a }
        }
        if let failure, let completeFailure = SyncWait.completeFailure {
            // nemo_relay_failure_id_t {uint64_t id; void *user_data; void (*user_data_free)(void *)} (LP64)
            let f = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
            defer { f.deallocate() }
            f.storeBytes(of: failure.id, toByteOffset: 0, as: UInt64.self)
            f.storeBytes(of: failure.userData, toByteOffset: 8, as: UInt.self)
            f.storeBytes(of: failure.free, toByteOffset: 16, as: UInt.self)
            _ = json.withCString { completeFailure(token, status, $0, strlen($0), f) }
        } else {
            _ = json.withCString { SyncWait.complete?(token, status, $0, strlen($0)) }
        }
        ret?.storeBytes(of: Int64(0), as: Int64.self)
    }

    /// Appends the C arguments as JSON array items.
    private func appendArgs(_ line: inout String, _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        var i = 0
        for (n, k) in params.enumerated() {
            if n > 0 { line += "," }
            switch k {
            case .ptr:
                line += String(UInt(bitPattern: args[i]!.load(as: Int.self)))
                i += 1
            case .i32:
                line += String(args[i]!.load(as: Int32.self))
                i += 1
            default:
                let p = UnsafePointer<UInt8>(bitPattern: args[i]!.load(as: Int.self))
                let len = Int(args[i + 1]!.load(as: UInt64.self))
                i += 2
                guard let p else {
                    line += "null"
                    break
                }
                let bytes = UnsafeBufferPointer(start: p, count: len)
                if k == .rawjson, len > 0, !bytes.contains(0x0a), !bytes.contains(0x0d) {
                    line += String(decoding: bytes, as: UTF8.self)
                } else {
                    appendQuoted(&line, String(decoding: bytes, as: UTF8.self))
                }
            }
        }
    }
}

private let closureHandler: nr_ffi_handler = { _, ret, args, user in
    guard let user, let args else { return }
    Unmanaged<Closure>.fromOpaque(user).takeUnretainedValue().invoked(args, ret)
}

// MARK: - Sync capture

/// Invokes raised on the sync-channel thread while it serves a request. They travel inside that
/// request's reply (`"inv":[[closure,[args]],...]`), so a callback C calls during `nemo_relay_llm_execute`
/// or `nemo_relay_complete` (the provider, middleware, the done callback) reaches Node without a pipe
/// hop of its own. Only the sync thread touches the buffer.
enum SyncCapture {
    /// The sync thread's `pthread_t` (0 until it runs), stored once before it serves requests.
    static let thread = Atomic<UInt>(0)
    /// Safe without a lock: only the sync thread reads or writes it (every caller checks `active()`).
    nonisolated(unsafe) static var items: [String] = []

    static func active() -> Bool {
        let t = thread.load(ordering: .acquiring)
        return t != 0 && pthread_equal(t, pthread_self()) != 0
    }

    static func append(_ item: String) { items.append(item) }

    /// Sets the captured invokes aside (a nested request must not carry its caller's), returning them.
    static func stash() -> [String] {
        let saved = items
        items.removeAll(keepingCapacity: false)
        return saved
    }

    /// Puts invokes set aside by ``stash()`` back, before any captured since.
    static func restore(_ saved: [String]) { items = saved + items }

    /// The captured invokes as a reply field (`,"inv":[...]`), or "" when none; empties the buffer.
    static func take() -> String {
        if items.isEmpty { return "" }
        let s = ",\"inv\":[" + items.joined(separator: ",") + "]"
        items.removeAll(keepingCapacity: true)
        return s
    }
}

// MARK: - Waiting callbacks

/// Callbacks that must answer before they return (the C ABI's stream collector and finalizer).
///
/// They run on the sync thread while it serves a request Node is blocked on, so the helper asks Node on
/// the sync channel itself: it writes an `invoke` line where Node expects the answer, then serves the
/// requests Node sends meanwhile (the JS callback may call the API) until Node's `reply`
/// (`{"op":"reply","args":{"status","json"}}`), and completes the token with it.
enum SyncWait {
    // Safe without a lock: the sync thread sets these once, before it serves its first request, and
    // only the sync thread reads them (a waiting callback runs there).
    nonisolated(unsafe) static var request: UnsafeMutablePointer<FILE>?
    nonisolated(unsafe) static var response: Int32 = -1
    /// Serves one nested request line (writes its answer).
    nonisolated(unsafe) static var serve: ((UnsafeBufferPointer<UInt8>) -> Void)?
    /// `nemo_relay_complete`.
    nonisolated(unsafe) static var complete:
        (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int) -> Int32)?
    /// `nemo_relay_complete_failure` (its last parameter points at a `nemo_relay_failure_id_t`).
    nonisolated(unsafe) static var completeFailure: CompleteFailure?

    typealias CompleteFailure =
        @convention(c) (
            UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?
        ) -> Int32

    /// A reply's `failure`: `[id, user_data, user_data_free]`, the fields of a `nemo_relay_failure_id_t`.
    struct FailureID {
        let id: UInt64
        let userData: UInt
        let free: UInt
    }

    private static let replyPrefix = Array("{\"op\":\"\(Op.reply.rawValue)\"".utf8)

    /// Sends `line` and serves Node until its reply: `(status, json, failure)`, or nil when the reply is
    /// unreadable.
    static func ask(_ line: String) -> (Int32, String, FailureID?)? {
        guard let request, let serve else { return nil }
        let saved = SyncCapture.stash()
        defer { SyncCapture.restore(saved) }
        if !writeAll(response, Array(line.utf8)) { exit(0) }
        var buf: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(buf) }
        while true {
            var n = getline(&buf, &cap, request)
            if n <= 0 { exit(0) }  // Node closed the sync channel
            let bytes = UnsafeRawPointer(buf!).assumingMemoryBound(to: UInt8.self)
            if bytes[n - 1] == 0x0a { n -= 1 }
            let b = UnsafeBufferPointer(start: bytes, count: n)
            guard n >= replyPrefix.count, replyPrefix.elementsEqual(b[0..<replyPrefix.count]) else {
                serve(b)
                continue
            }
            guard let obj = (try? JSONLine.parse(b)) as? [String: Any], let a = obj["args"] as? [String: Any],
                let status = (a["status"] as? Number)?.int32Value
            else { return nil }
            var failure: FailureID?
            if let f = a["failure"] as? [Any], f.count == 3, let id = (f[0] as? Number)?.int64Value,
                let ud = (f[1] as? Number)?.int64Value, let fr = (f[2] as? Number)?.int64Value
            {
                failure = FailureID(
                    id: UInt64(bitPattern: id), userData: UInt(bitPattern: Int(ud)), free: UInt(bitPattern: Int(fr)))
            }
            return (status, a["json"] as? String ?? "null", failure)
        }
    }
}

// MARK: - Cancellation notices

/// Tells Node when a callback's pending token is cancelled (`nemo_relay_token_on_cancel`), so the
/// JavaScript callback's `AbortSignal` fires.
///
/// A cancel travels like an invoke: on the sync thread it rides in the reply under construction (an
/// `inv` item `[0,[token]]`; closure ids start at 1), elsewhere it is a `{"op":"cancel","args":{"token"}}`
/// line on stdout. Either way Node sees it in order with the callbacks the same cancellation runs
/// (an abandoned `next`'s done comes right after), so the signal aborts before the JS callback could
/// settle because of them. Node must also see a token's invoke before its cancel: a token whose invoke
/// went out on stdout gets its cancel on stdout too (one writer, in order); a sync reply is handled
/// before any stdout line that follows it.
enum CancelNotice {
    /// `nemo_relay_token_on_cancel`; nil with a library that lacks it (then no notices).
    // Safe without a lock: the sync thread sets it once, before it serves its first request; closures
    // (which read it) only exist after requests.
    nonisolated(unsafe) static var register: (@convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?) -> Int32)?
    /// Where stdout notices are written. Set once at startup, as `register`.
    nonisolated(unsafe) static var output: Output?

    /// `nemo_relay_done_t` as C lays it out: `fn`, `user_data`, `user_data_free`.
    private struct Done {
        var fn: @convention(c) (Int32, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Void
        var userData: UnsafeMutableRawPointer?
        var userDataFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    }

    /// Asks for `token`'s cancellation notice; the token itself is the user data (handles are never
    /// reused). `captured`: the token's invoke rode in a sync reply.
    static func ask(_ token: UnsafeMutableRawPointer?, _ captured: Bool) {
        guard let register, token != nil else { return }
        var done = Done(fn: captured ? noticeAnywhere : noticeOnStdout, userData: token, userDataFree: nil)
        // A token Node already completed is refused (NEMO_RELAY_E_MISUSE): nothing to tell then.
        _ = withUnsafePointer(to: &done) { register(token, UnsafeRawPointer($0)) }
    }

    static func send(_ token: UnsafeMutableRawPointer?) {
        output?.send("{\"op\":\"\(Op.cancel.rawValue)\",\"args\":{\"token\":\(UInt(bitPattern: token))}}\n")
    }
}

private let noticeAnywhere: @convention(c) (Int32, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Void = {
    _, _, _, token in
    if SyncCapture.active() {
        SyncCapture.append("[0,[\(UInt(bitPattern: token))]]")
    } else {
        CancelNotice.send(token)
    }
}

private let noticeOnStdout: @convention(c) (Int32, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Void = {
    _, _, _, token in CancelNotice.send(token)
}

// MARK: - Output

/// The protocol stream to Node (stdout): lines are queued and written by one thread, so no caller
/// (a subscriber delivery thread, the sync-channel thread completing a token) ever blocks on a full pipe.
final class Output: @unchecked Sendable {
    private let cond = Condition()
    /// Guarded by `cond`.
    private var queue: [UInt8] = []
    /// Guarded by `cond`.
    private var ids = 0
    private let fd: Int32

    init(fd: Int32) {
        self.fd = fd
        startThread(name: "nr-helper-write") { [self] in run() }
    }

    func nextId() -> Int {
        cond.lock()
        defer { cond.unlock() }
        ids += 1
        return ids
    }

    func send(_ line: String) {
        cond.lock()
        queue.append(contentsOf: line.utf8)
        cond.signal()
        cond.unlock()
    }

    private func run() {
        while true {
            cond.lock()
            while queue.isEmpty { cond.wait() }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            cond.unlock()
            if !writeAll(fd, batch) { exit(0) }  // Node went away
        }
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { b in
        var off = 0
        while off < b.count {
            let n = write(fd, b.baseAddress! + off, b.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            off += n
        }
        return true
    }
}
