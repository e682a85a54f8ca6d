// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#endif

/// The configuration of an ATOF exporter: one file sink or one stream sink (docs/exporters.md).
///
/// Field names and defaults follow the reference's `AtofExporterConfig`; ``init(json:)`` reads the
/// same names from a JSON object, which is how the C ABI and the bindings pass it.
public struct ATOFExporterConfig: Sendable {
    /// Where events go.
    public enum SinkType: String, Sendable {
        case file
        case stream
    }

    /// How an existing file is opened.
    public enum Mode: String, Sendable {
        /// Keep existing lines and add after them (the default).
        case append
        /// Truncate the file when the exporter is created.
        case overwrite
    }

    /// How a stream sink sends events.
    public enum Transport: String, Sendable {
        /// One HTTP POST per delivered batch, the body one JSON line per event.
        case httpPost = "http_post"
        /// One long-lived chunked HTTP POST, one JSON line per event.
        case ndjson
    }

    /// What a stream sink does to object keys before sending.
    public enum FieldNamePolicy: String, Sendable {
        /// Send the canonical names.
        case preserve
        /// Replace dots in object keys by underscores, recursively (collisions get `_2`, `_3`, ...).
        case replaceDots = "replace_dots"
    }

    /// `file` (default) or `stream`.
    public var sinkType: SinkType = .file
    /// The file sink's directory; nil means the current directory.
    public var outputDirectory: String?
    /// The file name; nil means `nemo-relay-events-<UTC %Y-%m-%d-%H.%M.%S>.jsonl`.
    public var filename: String?
    /// Append (default) or overwrite.
    public var mode: Mode = .append
    /// The stream sink's endpoint (`http://host[:port]/path`).
    public var url: String = ""
    /// `http_post` (default) or `ndjson`.
    public var transport: Transport = .httpPost
    /// Extra request headers, in order.
    public var headers: [(String, String)] = []
    /// Headers whose values are read from environment variables when the exporter is created.
    public var headerEnv: [(String, String)] = []
    /// Per-request timeout of a stream sink, in milliseconds (default 3000).
    public var timeoutMillis: Int = 3000
    /// Key policy of a stream sink.
    public var fieldNamePolicy: FieldNamePolicy = .preserve
    /// Attempts per batch of a stream sink, the first included (default 4): 429, 5xx and connection
    /// failures are retried with exponential backoff; other answers are not.
    public var maxAttempts: Int = 4
    /// Undelivered events kept per registration before new ones are dropped and counted.
    public var queueCapacity: Int = 65_536

    /// The defaults: a file sink in the current directory with a timestamped name.
    public init() {}

    /// Reads a configuration object; unknown keys are rejected so a typo never goes unnoticed.
    public init(json: JSON) throws(RelayError) {
        guard let o = json.objectValue else {
            if json.isNull { return }
            throw .invalidArgument("ATOF exporter config must be a JSON object")
        }
        var r = ConfigReader(o, "ATOF exporter config")
        if let s = try r.string("sink_type") {
            guard let t = SinkType(rawValue: s) else { throw .invalidArgument("sink_type must be 'file' or 'stream'") }
            sinkType = t
        }
        outputDirectory = try r.string("output_directory")
        filename = try r.string("filename")
        if let s = try r.string("mode") {
            guard let m = Mode(rawValue: s) else { throw .invalidArgument("mode must be 'append' or 'overwrite'") }
            mode = m
        }
        url = try r.string("url") ?? ""
        if let s = try r.string("transport") {
            guard let t = Transport(rawValue: s) else {
                if s == "websocket" {
                    throw .invalidArgument("stream transport 'websocket' is not supported by this build")
                }
                throw .invalidArgument("stream transport must be 'http_post' or 'ndjson'")
            }
            transport = t
        }
        headers = try r.stringMap("headers")
        headerEnv = try r.stringMap("header_env")
        if let n = try r.integer("timeout_millis", 0...86_400_000) { timeoutMillis = n }
        if let s = try r.string("field_name_policy") {
            guard let p = FieldNamePolicy(rawValue: s) else {
                throw .invalidArgument("field_name_policy must be 'preserve' or 'replace_dots'")
            }
            fieldNamePolicy = p
        }
        if let n = try r.integer("max_attempts", 1...100) { maxAttempts = n }
        if let n = try r.integer("queue_capacity", 1...(1 << 30)) { queueCapacity = n }
        try r.finish()
    }

    /// The default file name for the current UTC time.
    public static func defaultFilename(now: Nanoseconds = SystemClock().now()) -> String {
        var t = time_t(now / 1_000_000_000)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let date = "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))"
        return "nemo-relay-events-\(date)-\(two(tm.tm_hour)).\(two(tm.tm_min)).\(two(tm.tm_sec)).jsonl"
    }
}

extension Exporter {
    /// Creates an ATOF JSON Lines exporter; a file sink opens (and creates) its file now.
    public static func atof(_ config: ATOFExporterConfig) throws(RelayError) -> Exporter {
        let sink: any EventSink
        switch config.sinkType {
        case .file: sink = try ATOFFileSink(config)
        case .stream: sink = try ATOFStreamSink(config)
        }
        return Exporter(kind: "atof", sink: sink, queueCapacity: config.queueCapacity)
    }

    /// The JSONL file of an ATOF file sink; nil for other exporters.
    public var path: String? { (sink as? ATOFFileSink)?.path }
}

/// Writes each event's canonical JSON line to a file with one `write(2)` per delivered batch.
///
/// Nothing is buffered in user space: once a batch is delivered it is in the kernel, so a process
/// killed at any point leaves only whole lines (docs/exporters.md, "Crash safety").
///
/// `@unchecked Sendable`: `writeLock` guards `fd` and `buffer`; `stateLock` guards `closed`, `written`,
/// `bytes`, `failed`, `afterClose`, `lastError` and `unreported` (taken inside `writeLock`, never around it).
final class ATOFFileSink: EventSink, @unchecked Sendable {
    let path: String
    /// Guards `fd` and `buffer`; held across a `write(2)`, which may block (a FIFO, a stalled disk).
    private let writeLock = PThreadLock()
    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Guards `closed`, the counters, `lastError` and `unreported`; never held across I/O.
    private let stateLock = PThreadLock()
    private var closed = false
    private var written: UInt64 = 0
    private var bytes: UInt64 = 0
    private var failed: UInt64 = 0
    private var afterClose: UInt64 = 0
    private var lastError: String?
    /// The first failure; sticky, so every later flush and shutdown reports that events were lost.
    private var unreported: RelayError?

    /// Opens (and creates) the file; `allowNonRegular` lets tests use a FIFO or `/dev/full`.
    init(_ config: ATOFExporterConfig, allowNonRegular: Bool = false) throws(RelayError) {
        let dir = config.outputDirectory ?? ATOFFileSink.currentDirectory()
        let name = config.filename ?? ATOFExporterConfig.defaultFilename()
        path = ATOFFileSink.join(dir, name)
        let path = self.path
        func fail(_ reason: String) -> RelayError {
            RelayError(.export, "failed to open ATOF output file \"\(path)\": \(reason)")
        }
        guard !name.utf8.contains(0), !dir.utf8.contains(0) else { throw fail("path contains a NUL byte") }
        if dir.split(separator: "/").contains("..") {
            throw fail("observability directory '\(dir)' contains unsafe traversal")
        }
        let relative: String
        if name.hasPrefix("/") {
            let root = dir.hasSuffix("/") ? dir : dir + "/"
            guard !dir.isEmpty, name.hasPrefix(root) else {
                throw fail("observability output '\(name)' is outside configured directory '\(dir)'")
            }
            relative = String(name.dropFirst(root.count))
        } else {
            relative = name
        }
        let parts = relative.split(separator: "/")
        if parts.isEmpty || parts.contains("..") || parts.last == "." {
            throw fail("observability output must be a confined relative file path")
        }
        // Create the directory and any folders the file name adds (mode 0700 for the ones made here).
        let lastSlash = path.lastIndex(of: "/")
        if let lastSlash, lastSlash > path.startIndex {
            try ATOFFileSink.makeDirectories(String(path[..<lastSlash]), fail)
        }
        // Append mode reads too: a torn last event left by a killed writer is found and cut first.
        var flags = (config.mode == .append ? O_RDWR : O_WRONLY) | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
        flags |= config.mode == .append ? O_APPEND : O_TRUNC
        let leaf = String(parts.last ?? "")
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw fail("refusing symlinked observability file '\(leaf)'") }
            if errno == EISDIR { throw fail("observability output '\(leaf)' is not a regular file") }
            throw fail(ATOFFileSink.errnoText())
        }
        var st = stat()
        if fstat(fd, &st) != 0 || (!allowNonRegular && (st.st_mode & S_IFMT) != S_IFREG) {
            Glibc.close(fd)
            throw fail("observability output '\(leaf)' is not a regular file")
        }
        // Writes block again; later writes go to the end even if another writer appends meanwhile.
        _ = fcntl(fd, F_SETFL, O_APPEND)
        if (st.st_mode & S_IFMT) == S_IFREG {
            _ = fchmod(fd, 0o600)
            if config.mode == .append { ATOFFileSink.dropTornTail(fd, size: Int64(st.st_size)) }
        }
        self.fd = fd
    }

    /// Cuts a torn last event (bytes after the last `\n` that begin like an ATOF line) off a file about to
    /// be appended to.
    ///
    /// A process killed in the middle of a `write(2)` (even `SIGKILL`: the kernel may stop between pages)
    /// can leave the beginning of a batch without its end; appending after it would glue the next event to
    /// the fragment. Those bytes were never a whole event, so they are dropped (docs/exporters.md). A tail
    /// that does not start like an event line is not ours and is left alone.
    static func dropTornTail(_ fd: Int32, size: Int64) {
        guard size > 0 else { return }
        var lineStart: Int64 = 0
        var end = size
        var chunk = [UInt8](repeating: 0, count: 65_536)
        search: while end > 0 {
            let start = max(0, end - Int64(chunk.count))
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(end - start), off_t(start)) }
            guard n == Int(end - start) else { return }
            if let i = chunk[0..<n].lastIndex(of: 0x0A) {
                lineStart = start + Int64(i) + 1
                break search
            }
            end = start
        }
        guard lineStart < size else { return }
        let marker = Array("{\"atof_version\"".utf8)
        var head = [UInt8](repeating: 0, count: marker.count)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, marker.count, off_t(lineStart)) }
        let prefix = Array(head.prefix(max(0, n)))
        guard !prefix.isEmpty, marker.starts(with: prefix) else { return }
        _ = ftruncate(fd, off_t(lineStart))
    }

    /// The directory joined with the file name as the reference does: an absolute name wins, an empty
    /// directory leaves the name alone, nothing is normalised.
    static func join(_ dir: String, _ name: String) -> String {
        if name.hasPrefix("/") || dir.isEmpty { return name }
        return dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The open descriptor (-1 once closed), for sinks that reuse these path rules.
    var descriptor: Int32 { writeLock.withLock { fd } }

    func consume(_ batch: [EventRecord]) {
        writeLock.lock()
        defer { writeLock.unlock() }
        if stateLock.withLock({ closed }) || fd < 0 {
            closeFile()
            stateLock.withLock { afterClose &+= UInt64(batch.count) }
            return
        }
        buffer.removeAll(keepingCapacity: true)
        for r in batch {
            buffer.append(contentsOf: r.bytes)
            buffer.append(0x0A)
        }
        let err = ATOFFileSink.writeAll(fd, buffer)
        let n = buffer.count
        if buffer.capacity > 1 << 20 { buffer = [] }
        stateLock.withLock {
            if let err {
                failed &+= UInt64(batch.count)
                let text = "failed to write ATOF output file \"\(path)\": \(err)"
                lastError = text
                if unreported == nil { unreported = RelayError(.export, text) }
            } else {
                written &+= UInt64(batch.count)
                bytes &+= UInt64(n)
            }
        }
    }

    /// Closes the descriptor; the caller holds `writeLock`.
    private func closeFile() {
        guard fd >= 0 else { return }
        if Glibc.close(fd) != 0 {
            let text = "failed to close ATOF output file \"\(path)\": \(ATOFFileSink.errnoText())"
            stateLock.withLock {
                lastError = text
                if unreported == nil { unreported = RelayError(.export, text) }
            }
        }
        fd = -1
    }

    private func takeUnreported() -> RelayError? { stateLock.withLock { unreported } }

    func flush(deadline: Int64?) throws(RelayError) {
        if let e = takeUnreported() { throw e }
    }

    func close(deadline: Int64?) throws(RelayError) {
        stateLock.withLock { closed = true }
        if writeLock.lock(untilMonotonic: deadline) {
            closeFile()
            writeLock.unlock()
        } else if let e = takeUnreported() {
            throw e
        } else {
            // The delivery thread closes the file when its blocked write returns.
            throw .timeout("a write to ATOF output file \"\(path)\" is still blocked")
        }
        if let e = takeUnreported() { throw e }
    }

    func diagnostics(into o: inout JSONObject) {
        stateLock.withLock {
            o["path"] = .string(path)
            o["events_written"] = .uint(written)
            o["bytes_written"] = .uint(bytes)
            o["events_failed"] = .uint(failed)
            o["events_after_shutdown"] = .uint(afterClose)
            o["last_error"] = lastError.map { .string($0) } ?? .null
        }
    }

    /// Writes every byte, retrying short writes and EINTR; returns the error text on failure.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { raw -> String? in
            guard var p = raw.baseAddress else { return nil }
            var left = raw.count
            while left > 0 {
                let n = write(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errnoText()
                }
                if n == 0 { return "write returned 0" }
                p += n
                left -= n
            }
            return nil
        }
    }

    /// The error of `errno` as the reference words it: `No such file or directory (os error 2)`.
    static func errnoText(_ e: Int32 = errno) -> String {
        guard let s = strerror(e) else { return "os error \(e)" }
        return "\(String(cString: s)) (os error \(e))"
    }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "." }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `mkdir -p` with mode 0700 for the directories it creates.
    static func makeDirectories(_ dir: String, _ fail: (String) -> RelayError) throws(RelayError) {
        var prefix = dir.hasPrefix("/") ? "/" : ""
        for part in dir.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += part
            if mkdir(prefix, 0o700) != 0 {
                let e = errno
                var st = stat()
                if e == ENOTDIR || (e == EEXIST && stat(prefix, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR) {
                    throw fail("refusing unsafe observability directory component '\(part)': \(errnoText(ENOTDIR))")
                }
                if e != EEXIST { throw fail(errnoText(e)) }
            }
            prefix += "/"
        }
    }
}

/// Reads typed fields from a configuration object and rejects the keys it did not read.
struct ConfigReader {
    private let object: JSONObject
    private let what: String
    private var seen: Set<[UInt8]> = []

    init(_ object: JSONObject, _ what: String) {
        self.object = object
        self.what = what
    }

    private mutating func value(_ key: String) -> JSON? {
        seen.insert(Array(key.utf8))
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    mutating func string(_ key: String) throws(RelayError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw .invalidArgument("\(key) must be a string") }
        return s
    }

    mutating func integer(_ key: String, _ range: ClosedRange<Int>) throws(RelayError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.int64Value, i >= Int64(range.lowerBound), i <= Int64(range.upperBound) else {
            throw .invalidArgument("\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(i)
    }

    mutating func bool(_ key: String) throws(RelayError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw .invalidArgument("\(key) must be a boolean") }
        return b
    }

    mutating func json(_ key: String) -> JSON? { value(key) }

    mutating func stringMap(_ key: String) throws(RelayError) -> [(String, String)] {
        guard let v = value(key) else { return [] }
        guard let o = v.objectValue else { throw .invalidArgument("\(key) must be an object of strings") }
        var out: [(String, String)] = []
        for (k, e) in o {
            guard let s = e.stringValue else { throw .invalidArgument("\(key)[\"\(k)\"] must be a string") }
            out.append((k, s))
        }
        return out
    }

    func finish() throws(RelayError) {
        for (k, _) in object where !seen.contains(Array(k.utf8)) {
            throw .invalidArgument("unknown \(what) key \"\(k)\"")
        }
    }
}
