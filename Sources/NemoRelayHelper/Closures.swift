// SPDX-License-Identifier: Apache-2.0
import CFFI
import Foundation

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

    init(id: Int, ret: String, value: Int64, params: [String], out: Output) throws {
        self.id = id
        self.out = out
        self.value = value
        guard let r = Kind(rawValue: ret), r == .void || r == .i32 else {
            throw ProtocolError("closures return void or i32")
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
        let capture = SyncCapture.active()
        var line =
            capture
            ? "[\(id),["
            : "{\"id\":\(out.nextId()),\"op\":\"\(Op.invoke.rawValue)\",\"args\":{\"closure\":\(id),\"args\":["
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
        if capture {
            SyncCapture.append(line + "]]")
        } else {
            out.send(line + "]}}\n")
        }
        if self.ret == .i32, let ret { ret.storeBytes(of: value, as: Int64.self) }  // ffi_arg is word-sized
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
    nonisolated(unsafe) static var thread: pthread_t?
    nonisolated(unsafe) static var items: [String] = []

    static func active() -> Bool {
        guard let t = thread else { return false }
        return pthread_equal(t, pthread_self()) != 0
    }

    static func append(_ item: String) { items.append(item) }

    /// The captured invokes as a reply field (`,"inv":[...]`), or "" when none; empties the buffer.
    static func take() -> String {
        if items.isEmpty { return "" }
        let s = ",\"inv\":[" + items.joined(separator: ",") + "]"
        items.removeAll(keepingCapacity: true)
        return s
    }
}

// MARK: - Output

/// The protocol stream to Node (stdout): lines are queued and written by one thread, so no caller
/// (a subscriber delivery thread, the sync-channel thread completing a token) ever blocks on a full pipe.
final class Output: @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [UInt8] = []
    private var ids = 0
    private let fd: Int32

    init(fd: Int32) {
        self.fd = fd
        let t = Thread { [self] in run() }
        t.name = "nemo-relay-helper-writer"
        t.start()
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
