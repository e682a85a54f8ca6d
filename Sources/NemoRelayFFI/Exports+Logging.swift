// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// Operational logging (docs/logging.md). The core parses the configuration and renders records; the
// sinks live here, in the C library, because they write to stderr and to files: the Swift core never
// prints. One configuration per process, as in the reference: a binding applies the environment's at
// import and shuts it down at exit.

/// An open file sink. Only touched with `OperationalLogger.state` locked.
struct OpenFileSink {
    let config: OperationalLog.FileSink
    /// The resolved (absolute) path.
    let path: String
    var fd: Int32
    /// Bytes in the file, pending ones included.
    var size: UInt64
    var pending: [UInt8] = []
    var pendingRecords = 0

    /// Writes what is pending; a failing write drops it (logging never fails the caller).
    mutating func flush() {
        guard !pending.isEmpty else { return }
        OperationalLogger.writeAll(fd, pending)
        pending.removeAll(keepingCapacity: true)
        pendingRecords = 0
    }

    /// `<name>.jsonl` becomes `<name>.1.jsonl` (the older ones move up, the oldest beyond the count
    /// goes), and a new empty file takes the name.
    mutating func rotate() {
        flush()
        close(fd)
        let kept = config.retainedFiles ?? 1
        if kept > 1 {
            for i in stride(from: kept - 1, through: 1, by: -1) {
                _ = rename(OperationalLog.rotatedPath(path, i), OperationalLog.rotatedPath(path, i + 1))
            }
        }
        _ = rename(path, OperationalLog.rotatedPath(path, 1))
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0o644)
        size = 0
    }

    mutating func append(_ record: [UInt8]) {
        guard fd >= 0 else { return }
        if let max = config.maxFileSizeBytes, size > 0, size + UInt64(record.count) > max { rotate() }
        pending.append(contentsOf: record)
        pendingRecords += 1
        size += UInt64(record.count)
        if pendingRecords >= config.queueCapacity { flush() }
    }
}

/// The configured logger of this process.
struct LoggingState {
    let config: OperationalLog.Config
    let rootRelayID: String
    var files: [OpenFileSink]
    /// Bumped by every configuration, so that a flusher thread of an earlier one stops.
    let generation: UInt64
}

/// The process-wide operational logger.
enum OperationalLogger {
    /// The configuration in force, nil before `configure` and after `shutdown`; the lock also
    /// serializes every write, so records never interleave.
    static let state = Mutex<LoggingState?>(nil)
    static let generations = Atomic<UInt64>(0)
    static let exitHookInstalled = Atomic<Bool>(false)
    /// Serializes configuration from the environment, so that two first calls configure once.
    static let configuring = Mutex<Void>(())

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }

    static func osError(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (os error \(code))"
    }

    /// The text of a configuration file.
    static func readFile(_ path: String) throws(RelayError) -> String {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .invalidArgument("failed to read logging configuration \(path): \(osError(errno))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw .invalidArgument("failed to read logging configuration \(path): \(osError(errno))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= 1 << 20 else {
                throw .invalidArgument("failed to read logging configuration \(path): larger than 1 MiB")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument("failed to read logging configuration \(path): stream did not contain valid UTF-8")
        }
        return text
    }

    /// `path` made absolute against the working directory.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path
    }

    /// Opens (creating its directories) a file sink.
    static func open(_ sink: OperationalLog.FileSink, at path: String) throws(RelayError) -> OpenFileSink {
        var dir = ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        for part in parts {
            dir += "/" + part
            if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw .invalidArgument("failed to open logging sink \(sink.path): \(osError(errno))")
            }
        }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .invalidArgument("failed to open logging sink \(sink.path): \(osError(errno))") }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? UInt64(max(0, st.st_size)) : 0
        return OpenFileSink(config: sink, path: path, fd: fd, size: size)
    }

    /// Applies the environment's configuration (the built-in one when no variable is set) unless one
    /// is in force.
    static func configureFromEnvironment() throws(RelayError) {
        try configuring.withLock { _ throws(RelayError) in
            if state.withLock({ $0 != nil }) { return }
            let config = try OperationalLog.config(
                environment: { name in getenv(name).map { String(cString: $0) } },
                read: { path throws(RelayError) in try readFile(path) })
            try configure(config ?? OperationalLog.Config())
        }
    }

    /// Replaces the configuration in force: opens the file sinks (all or none), then logs
    /// `logging_initialized`.
    static func configure(_ config: OperationalLog.Config) throws(RelayError) {
        var files: [OpenFileSink] = []
        var seen: Set<String> = []
        do throws(RelayError) {
            for sink in config.sinks {
                let path = absolute(sink.path)
                guard seen.insert(path).inserted else {
                    throw .invalidArgument("duplicate logging sink path \(sink.path)")
                }
                files.append(try open(sink, at: path))
            }
        } catch {
            for f in files { close(f.fd) }
            throw error
        }
        shutdown()
        let generation = generations.add(1, ordering: .relaxed).newValue
        state.withLock {
            $0 = LoggingState(
                config: config, rootRelayID: OperationalLog.newRootRelayID(now: SystemClock().now()), files: files,
                generation: generation)
        }
        if !exitHookInstalled.exchange(true, ordering: .relaxed) {
            atexit { OperationalLogger.shutdown() }
        }
        if config.flushIntervalMillis > 0 && !files.isEmpty {
            startFlusher(generation: generation, intervalMillis: config.flushIntervalMillis)
        }
        emit(
            .info, target: "nemo_relay.logging", event: "logging_initialized",
            message: "Operational logging initialized",
            fields: ["file_sink_count": .int(Int64(files.count))])
    }

    /// Logs `logging_shutdown_started`, flushes and closes the file sinks; records emitted afterwards
    /// are dropped until the next configuration. Does nothing when none is in force.
    static func shutdown() {
        emit(
            .info, target: "nemo_relay.logging", event: "logging_shutdown_started",
            message: "Operational logging shutdown started", fields: [:])
        state.withLock { s in
            guard var current = s else { return }
            for i in current.files.indices {
                current.files[i].flush()
                close(current.files[i].fd)
            }
            s = nil
        }
    }

    /// Emits one record to every sink whose level admits it.
    static func emit(_ level: LogLevel, target: String, event: String, message: String, fields: JSONObject) {
        state.withLock { s in
            guard s != nil else { return }
            let config = s!.config
            guard level.rawValue >= config.level.rawValue else { return }
            let now = SystemClock().now()
            var rendered: [OperationalLog.Format: [UInt8]] = [:]
            func record(_ format: OperationalLog.Format) -> [UInt8] {
                if let r = rendered[format] { return r }
                let r = OperationalLog.render(
                    format, rootRelayID: s!.rootRelayID, time: now, level: level, target: target, event: event,
                    message: message, fields: fields)
                rendered[format] = r
                return r
            }
            if config.stderrEnabled { writeAll(2, record(config.stderrFormat)) }
            for i in s!.files.indices where level.rawValue >= s!.files[i].config.level.rawValue {
                s!.files[i].append(record(s!.files[i].config.format))
            }
        }
    }

    /// The runtime's diagnostics, for a runtime with no log callback of its own.
    static let runtimeSink: @Sendable (LogLevel, String) -> Void = { level, message in
        OperationalLogger.emit(level, target: "nemo_relay.runtime", event: "", message: message, fields: [:])
    }

    final class FlusherArgs {
        let generation: UInt64
        let intervalMillis: UInt64
        init(generation: UInt64, intervalMillis: UInt64) {
            self.generation = generation
            self.intervalMillis = intervalMillis
        }
    }

    /// A thread that flushes the file sinks every `intervalMillis` while configuration `generation`
    /// is in force.
    static func startFlusher(generation: UInt64, intervalMillis: UInt64) {
        let args = Unmanaged.passRetained(FlusherArgs(generation: generation, intervalMillis: intervalMillis))
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { raw in
                let args = Unmanaged<FlusherArgs>.fromOpaque(raw!).takeRetainedValue()
                var pause = timespec(
                    tv_sec: Int(args.intervalMillis / 1000), tv_nsec: Int(args.intervalMillis % 1000) * 1_000_000)
                while true {
                    var rest = timespec()
                    while nanosleep(&pause, &rest) != 0 && errno == EINTR { pause = rest }
                    pause = timespec(
                        tv_sec: Int(args.intervalMillis / 1000), tv_nsec: Int(args.intervalMillis % 1000) * 1_000_000)
                    let live = OperationalLogger.state.withLock { s -> Bool in
                        guard s != nil, s!.generation == args.generation else { return false }
                        for i in s!.files.indices { s!.files[i].flush() }
                        return true
                    }
                    if !live { return nil }
                }
            }, args.toOpaque())
        if started == 0 {
            pthread_detach(thread)
        } else {
            args.release()
        }
    }
}

@_cdecl("nemo_relay_logging_init")
public func nemo_relay_logging_init() -> Int32 {
    ffi {
        do throws(RelayError) {
            try OperationalLogger.configureFromEnvironment()
        } catch {
            throw FFIError(error.status, "failed to initialize NeMo Relay operational logging: \(error.displayText)")
        }
    }
}

@_cdecl("nemo_relay_logging_shutdown")
public func nemo_relay_logging_shutdown() {
    LastError.clear()
    OperationalLogger.shutdown()
}

@_cdecl("nemo_relay_log_emit")
public func nemo_relay_log_emit(
    _ level: CString?, _ target: CString?, _ event: CString?, _ message: CString?, _ fields: CString?, _ len: Int
) -> Int32 {
    ffi {
        guard let l = OperationalLog.recordLevel(try stringInput(level, "level")) else {
            throw FFIError.invalid("invalid log level")
        }
        var f = JSONObject()
        if let v = try jsonInput(fields, len, "fields") {
            guard case .object(let o) = v else { throw FFIError.invalid("log fields must be an object") }
            f = o
        }
        OperationalLogger.emit(
            l, target: try optionalString(target, "target") ?? "", event: try optionalString(event, "event") ?? "",
            message: try optionalString(message, "message") ?? "", fields: f)
    }
}
