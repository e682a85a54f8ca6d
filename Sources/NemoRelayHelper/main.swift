// SPDX-License-Identifier: Apache-2.0
// The Node FFI host: loads libnemorelay.so and calls its exports through libffi on behalf of Node.
//
// Two channels, both JSON Lines of `{id, op, args}` requests and `{id, ok|error}` responses:
// - sync: a pair of FIFOs in the directory given by `--fifo-dir`. Node writes a request and blocks in
//   readSync until the answer; this is what lets `pushScope`, `registerX` or `decode` stay synchronous
//   in JavaScript. The first line on it is the `hello` with the versions.
// - async: stdin/stdout. stdout carries the helper's own `invoke` requests (C called a closure) and the
//   answers to async requests; requests flagged `bg` (e.g. `nemo_relay_flush`, which blocks) run on a
//   thread of their own; requests with id 0 are run without an answer. The helper exits on stdin EOF.
import CFFI

#if canImport(Glibc)
    import Glibc
#endif

signal(SIGPIPE, SIG_IGN)

// MARK: - Startup

var fifoDir: String?
for a in CommandLine.arguments.dropFirst() where a.hasPrefix("--fifo-dir=") {
    fifoDir = String(a.dropFirst("--fifo-dir=".count))
}
guard let fifoDir else {
    fail("usage: NemoRelayHelper --fifo-dir=<dir> (started by nemo-relay-node)\n", status: 2)
}

let requestPath = fifoDir + "/req"
let responsePath = fifoDir + "/res"
// Create both FIFOs under temporary names and rename them into place: Node polls for `res` and
// must never see a FIFO that is not ready.
for p in [requestPath, responsePath] {
    let tmp = p + ".tmp"
    unlink(tmp)
    guard mkfifo(tmp, 0o600) == 0 else {
        fail("nemo-relay-helper: mkfifo \(tmp) failed: errno \(errno)\n", status: 3)
    }
}
rename(requestPath + ".tmp", requestPath)
rename(responsePath + ".tmp", responsePath)

/// `NEMO_RELAY_LIB_PATH` when set, else `libnemorelay.so` beside this executable (docs/packaging.md).
@Sendable func libraryPath() -> String {
    environment("NEMO_RELAY_LIB_PATH") ?? executableDirectory() + "/libnemorelay.so"
}

let output = Output(fd: 1)
/// Safe without a lock: the sync thread sets it once and then opens `libraryReady`; the main thread
/// reads it only after waiting on that gate (the gate's lock orders the two).
nonisolated(unsafe) var library: Library?
let libraryReady = Gate()
/// The live closures by id. `@unchecked Sendable`: `lock` guards `live` and `last`.
final class ClosureTable: @unchecked Sendable {
    private let lock = Condition()
    private var live: [Int: Closure] = [:]
    private var last = 0

    /// A fresh closure id.
    func nextID() -> Int {
        lock.lock()
        defer { lock.unlock() }
        last += 1
        return last
    }

    func insert(_ c: Closure, id: Int) {
        lock.lock()
        live[id] = c
        lock.unlock()
    }

    func remove(_ id: Int) -> Closure? {
        lock.lock()
        defer { lock.unlock() }
        return live.removeValue(forKey: id)
    }
}
let closures = ClosureTable()

// MARK: - Requests

/// Runs one request and returns its response line (without the newline).
@Sendable func handle(_ line: UnsafeBufferPointer<UInt8>, lib: Library) -> (id: Int, bg: Bool, run: () -> String) {
    guard let obj = (try? JSONLine.parse(line)) as? [String: Any] else {
        return (0, false, { "{\"id\":0,\"error\":\"malformed request\"}" })
    }
    let id = (obj["id"] as? Number)?.intValue ?? 0
    let args = obj["args"] as? [String: Any] ?? [:]
    let run: () -> String = {
        do {
            guard let op = Op(rawValue: obj["op"] as? String ?? "") else {
                throw ProtocolError("unknown op \(obj["op"] ?? "nil")")
            }
            let body: String
            switch op {
            case .declare:
                try lib.declare(args)
                body = "null"
            case .call:
                let e = try lib.export(args["fn"] as? String ?? "")
                body = try e.call(args["args"] as? [Any] ?? []).body
            case .batch:
                body = runBatch(obj["args"] as? [Any] ?? [], lib: lib)
            case .closure:
                let cid = closures.nextID()
                let probe = try (args["probe"] as? String).map {
                    unsafeBitCast(try lib.symbol($0), to: (@convention(c) () -> UInt64).self)
                }
                let c = try Closure(
                    id: cid, ret: args["ret"] as? String ?? "void", value: try int64(args["value"]),
                    params: args["params"] as? [String] ?? [], wait: (args["wait"] as? Number)?.boolValue ?? false,
                    cancels: (args["cancel"] as? Number)?.boolValue ?? false, probe: probe, out: output)
                closures.insert(c, id: cid)
                body = "{\"closure\":\(cid),\"fn\":\(UInt(bitPattern: c.code))}"
            case .release:
                let cid = (args["closure"] as? Number)?.intValue ?? 0
                let c = closures.remove(cid)
                c?.release()
                body = c == nil ? "false" : "true"
            case .hello, .invoke, .cancel:
                throw ProtocolError("\(op.rawValue) is sent by the helper, not to it")
            case .reply:
                throw ProtocolError("reply answers a waiting closure's invoke only")
            }
            return "{\"id\":\(id),\"ok\":\(body)}"
        } catch {
            var s = "{\"id\":\(id),\"error\":"
            appendQuoted(&s, "\(error)")
            return s + "}"
        }
    }
    return (id, (obj["bg"] as? Number)?.boolValue ?? false, run)
}

/// Runs the calls of a `batch` in order and answers one `{ok}` or `{error}` per call, each with the
/// invokes that call raised on the sync thread (`inv`), so Node can run them in that call's context. An argument
/// `{"$out":[i, j]}` stands for out value `j` of call `i` of the same batch (e.g. the scope that
/// `nemo_relay_scope_begin` made, passed on to `nemo_relay_scope_info`); a call whose reference is
/// missing fails without running.
@Sendable func runBatch(_ calls: [Any], lib: Library) -> String {
    var outs: [[UInt64]?] = []
    var parts: [String] = []
    for item in calls {
        do {
            guard let c = item as? [String: Any], let fn = c["fn"] as? String else {
                throw ProtocolError("a batch holds {fn, args} calls")
            }
            var a = c["args"] as? [Any] ?? []
            for (k, v) in a.enumerated() {
                guard case .object(let o) = Value(v), let ref = o["$out"] as? [Any], ref.count == 2 else { continue }
                let (ci, oi) = (Int(try int64(ref[0])), Int(try int64(ref[1])))
                guard ci >= 0, ci < outs.count, let o = outs[ci], oi >= 0, oi < o.count else {
                    throw ProtocolError("\(fn): batch reference \(ci).\(oi) has no value")
                }
                a[k] = Number(o[oi])
            }
            let r = try lib.export(fn).call(a)
            outs.append(r.status > 0 ? nil : r.outs)
            parts.append("{\"ok\":" + r.body + (SyncCapture.active() ? SyncCapture.take() : "") + "}")
        } catch {
            outs.append(nil)
            var s = "{\"error\":"
            appendQuoted(&s, "\(error)")
            parts.append(s + (SyncCapture.active() ? SyncCapture.take() : "") + "}")
        }
    }
    return "[" + parts.joined(separator: ",") + "]"
}

/// Reads newline-terminated requests from `file` until EOF; `each` sees one line's bytes, without the newline.
@Sendable func readLines(_ file: UnsafeMutablePointer<FILE>, _ each: (UnsafeBufferPointer<UInt8>) -> Void) {
    var buf: UnsafeMutablePointer<CChar>?
    var cap = 0
    while true {
        var n = getline(&buf, &cap, file)
        if n <= 0 { break }
        let bytes = UnsafeRawPointer(buf!).assumingMemoryBound(to: UInt8.self)
        if bytes[n - 1] == 0x0a { n -= 1 }
        each(UnsafeBufferPointer(start: bytes, count: n))
    }
    free(buf)
}

// MARK: - Sync channel

startThread(name: "nr-helper-sync", stackSize: 8 << 20) {
    // Opening blocks until Node opened the other end of each FIFO.
    guard let req = fopen(requestPath, "r") else { exit(4) }
    let res = open(responsePath, O_WRONLY)
    guard res >= 0 else { exit(4) }
    unlink(requestPath)
    unlink(responsePath)
    let lib: Library
    do {
        lib = try Library(path: libraryPath())
        let ver = try Export(lib: lib, name: "nemo_relay_version", ret: "cstr", params: []).callCString()
        var hello =
            "{\"id\":0,\"op\":\"\(Op.hello.rawValue)\",\"args\":{\"protocol\":\(Kind.protocolVersion),\"version\":"
        appendQuoted(&hello, ver)
        hello += ",\"pid\":\(getpid())}}\n"
        _ = writeAll(res, Array(hello.utf8))
    } catch {
        var hello =
            "{\"id\":0,\"op\":\"\(Op.hello.rawValue)\",\"args\":{\"protocol\":\(Kind.protocolVersion),\"error\":"
        appendQuoted(&hello, "\(error)")
        hello += "}}\n"
        _ = writeAll(res, Array(hello.utf8))
        exit(5)
    }
    library = lib
    libraryReady.open()
    SyncCapture.thread.store(pthread_self(), ordering: .releasing)
    let serve: (UnsafeBufferPointer<UInt8>) -> Void = { line in
        let r = handle(line, lib: lib)
        var reply = r.run()
        // Callbacks C raised on this thread during the request ride along in its reply.
        let inv = SyncCapture.take()
        if !inv.isEmpty { reply.insert(contentsOf: inv, at: reply.index(before: reply.endIndex)) }
        reply += "\n"
        if !writeAll(res, Array(reply.utf8)) { exit(0) }
    }
    SyncWait.request = req
    SyncWait.response = res
    SyncWait.serve = serve
    if let complete = try? lib.symbol("nemo_relay_complete") {
        SyncWait.complete = unsafeBitCast(
            complete,
            to: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int) -> Int32).self)
    }
    if let completeFailure = try? lib.symbol("nemo_relay_complete_failure") {
        SyncWait.completeFailure = unsafeBitCast(completeFailure, to: SyncWait.CompleteFailure.self)
    }
    if let onCancel = try? lib.symbol("nemo_relay_token_on_cancel") {
        CancelNotice.output = output
        CancelNotice.register = unsafeBitCast(
            onCancel, to: (@convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?) -> Int32).self)
    }
    readLines(req, serve)
    exit(0)  // Node closed the sync channel
}

// MARK: - Async channel (main thread)

// Read stdin at once so that EOF ends the helper even while the FIFOs wait for Node.
var asyncLib: Library?
// A stream of its own on fd 0: Swift 6 does not let the C `stdin` global be named.
guard let input = fdopen(0, "r") else { fail("nemo-relay helper: cannot read stdin\n", status: 70) }
readLines(input) { line in
    if asyncLib == nil {
        libraryReady.wait()
        asyncLib = library
    }
    let r = handle(line, lib: asyncLib!)
    if r.id == 0 {
        _ = r.run()  // posted by Node (frees): no answer wanted
    } else if r.bg {
        startThread(name: "nr-helper-bg") { output.send(r.run() + "\n") }
    } else {
        output.send(r.run() + "\n")
    }
}
exit(0)
