// SPDX-License-Identifier: Apache-2.0

/// Operational logging (docs/logging.md): the configuration read from the environment or from a TOML
/// file, and the rendering of one record as a human line or a JSON line. This type only computes;
/// the C library owns the process-wide sinks that write what it renders (stderr and files).
public enum OperationalLog {
    /// Where records go and from which severity.
    public struct Config: Sendable, Equatable {
        /// The minimum severity of every record (file sinks may raise their own).
        public var level: LogLevel = .error
        /// Whether records are written to stderr.
        public var stderrEnabled = true
        /// The encoding of the stderr sink.
        public var stderrFormat: Format = .human
        /// How often file sinks are flushed, in milliseconds; 0 flushes at shutdown (or when a sink's
        /// queue is full) only.
        public var flushIntervalMillis: UInt64 = 1000
        /// The file sinks.
        public var sinks: [FileSink] = []

        /// The built-in configuration: errors, human lines on stderr, no file.
        public init() {}
    }

    /// A file sink: records of `level` or more severe, appended to `path` in `format`.
    public struct FileSink: Sendable, Equatable {
        /// The file; a relative path is resolved against the working directory when the sink opens.
        public var path: String
        /// The sink's minimum severity (default info).
        public var level: LogLevel = .info
        /// The encoding (default JSON lines).
        public var format: Format = .jsonl
        /// How many records may wait for a flush before the sink writes them (1...8192, default 1024).
        public var queueCapacity = 1024
        /// Rotation: the size a file may reach before it becomes `<name>.1<ext>`, and how many rotated
        /// files are kept; both or neither.
        public var maxFileSizeBytes: UInt64?
        /// See `maxFileSizeBytes`.
        public var retainedFiles: Int?

        /// A sink with the default settings.
        public init(path: String) { self.path = path }
    }

    /// The encoding of a sink.
    public enum Format: String, Sendable {
        /// `<timestamp> <LEVEL> root=<id prefix> target=<target> [event=<event>] [key=value ...] <message>`.
        case human
        /// One JSON object per line: `event`, `fields`, `level`, `message`, `root_relay_id`, `target`,
        /// `timestamp`.
        case jsonl
    }

    /// The largest `queue_capacity`.
    public static let maxQueueCapacity = 8192

    /// The environment variables read, in the order of their checks.
    public static let environmentNames = [
        "NEMO_RELAY_LOG", "NEMO_RELAY_LOG_STDERR", "NEMO_RELAY_LOG_STDERR_FORMAT", "NEMO_RELAY_LOG_CONFIG_PATH",
    ]

    // MARK: - Parsing values

    static func trimmedLowercase(_ raw: String) -> String {
        var s = Substring(raw)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" || c == "\r" { s.removeLast() }
        return s.lowercased()
    }

    /// A configured level: `error`, `warn` (or `warning`), `info`, `debug`, `trace`, in any case.
    public static func level(_ raw: String) throws(RelayError) -> LogLevel {
        switch trimmedLowercase(raw) {
        case "error": return .error
        case "warn", "warning": return .warn
        case "info": return .info
        case "debug": return .debug
        case "trace": return .trace
        case let other:
            throw .invalidArgument("invalid logging level '\(other)'; expected error, warn, info, debug, or trace")
        }
    }

    /// The level of an emitted record: exactly `trace`, `debug`, `info`, `warn`, `warning` or `error`.
    public static func recordLevel(_ raw: String) -> LogLevel? {
        switch raw {
        case "trace": return .trace
        case "debug": return .debug
        case "info": return .info
        case "warn", "warning": return .warn
        case "error": return .error
        default: return nil
        }
    }

    /// A configured format: `human`, `jsonl` (or `json`), in any case.
    public static func format(_ raw: String) throws(RelayError) -> Format {
        switch trimmedLowercase(raw) {
        case "human": return .human
        case "jsonl", "json": return .jsonl
        case let other: throw .invalidArgument("invalid logging format '\(other)'; expected human or jsonl")
        }
    }

    // MARK: - Environment

    /// The configuration the environment asks for, or nil when no logging variable is set (the
    /// built-in configuration applies). `read` returns a configuration file's text or throws the
    /// reason it cannot.
    public static func config(
        environment get: (String) -> String?, read: (String) throws(RelayError) -> String
    ) throws(RelayError) -> Config? {
        let values = environmentNames.map(get)
        for (name, v) in zip(environmentNames, values) where v == "" {
            throw .invalidArgument("\(name) must not be empty when set")
        }
        if let path = values[3] {
            guard values[0] == nil, values[1] == nil, values[2] == nil else {
                throw .invalidArgument(
                    "NEMO_RELAY_LOG_CONFIG_PATH cannot be combined with NEMO_RELAY_LOG or NEMO_RELAY_LOG_STDERR or "
                        + "NEMO_RELAY_LOG_STDERR_FORMAT")
            }
            guard path.hasPrefix("/") else {
                throw .invalidArgument("logging configuration path must be absolute: \(path)")
            }
            guard path.hasSuffix(".toml") else {
                throw .invalidArgument("logging configuration path must identify a .toml file: \(path)")
            }
            let text = try read(path)
            do throws(RelayError) {
                return try config(toml: text)
            } catch {
                throw .invalidArgument("invalid logging configuration in \(path): \(error.displayText)")
            }
        }
        guard values.contains(where: { $0 != nil }) else { return nil }
        var c = Config()
        if let v = values[0] { c.level = try level(v) }
        if let v = values[1] {
            switch trimmedLowercase(v) {
            case "true", "1": c.stderrEnabled = true
            case "false", "0": c.stderrEnabled = false
            case let other:
                throw .invalidArgument("invalid NEMO_RELAY_LOG_STDERR value '\(other)'; expected true or false")
            }
        }
        if let v = values[2] { c.stderrFormat = try format(v) }
        return c
    }

    // MARK: - Configuration file

    /// The configuration of a TOML document's `[logging]` table (docs/logging.md, "Configuration file").
    /// Only the subset that table needs is read: `[logging]`, `[[logging.sinks]]`, `key = value` with
    /// strings, integers and booleans, and comments; other tables are skipped.
    public static func config(toml: String) throws(RelayError) -> Config {
        let doc = try LoggingTOML.parse(toml)
        guard let logging = doc.logging else {
            throw .invalidArgument("logging configuration requires a [logging] section")
        }
        var c = Config()
        if let v = logging.entries["level"] { c.level = try level(try doc.string(v, expected: "a string")) }
        if let v = logging.entries["stderr_enabled"] { c.stderrEnabled = try doc.bool(v) }
        if let v = logging.entries["stderr_format"] {
            c.stderrFormat = try format(try doc.string(v, expected: "a string"))
        }
        if let v = logging.entries["flush_interval_millis"] { c.flushIntervalMillis = try doc.unsigned(v, "u64") }
        for table in doc.sinks {
            guard let p = table.entries["path"] else { throw .invalidArgument("logging sink requires path") }
            let path = try doc.string(p, expected: "path string")
            guard !path.isEmpty else { throw .invalidArgument("logging sink path must not be empty") }
            var s = FileSink(path: path)
            if let v = table.entries["level"] { s.level = try level(try doc.string(v, expected: "a string")) }
            if let v = table.entries["format"] { s.format = try format(try doc.string(v, expected: "a string")) }
            if let v = table.entries["queue_capacity"] {
                let q = try doc.unsigned(v, "usize")
                guard q > 0 else { throw .invalidArgument("logging sink queue_capacity must be greater than 0") }
                guard q <= UInt64(maxQueueCapacity) else {
                    throw .invalidArgument(
                        "logging sink queue_capacity \(q) exceeds maximum \(maxQueueCapacity) entries per file sink")
                }
                s.queueCapacity = Int(q)
            }
            let size = try table.entries["max_file_size_bytes"].map { v throws(RelayError) in try doc.unsigned(v, "u64")
            }
            let kept = try table.entries["retained_files"].map { v throws(RelayError) in try doc.unsigned(v, "usize") }
            guard (size == nil) == (kept == nil) else {
                throw .invalidArgument(
                    "logging sink max_file_size_bytes and retained_files must be configured together")
            }
            if let size, let kept {
                guard size > 0 else {
                    throw .invalidArgument("logging sink max_file_size_bytes must be greater than 0")
                }
                guard kept > 0 else { throw .invalidArgument("logging sink retained_files must be greater than 0") }
                s.maxFileSizeBytes = size
                s.retainedFiles = Int(min(kept, 1 << 20))
            }
            c.sinks.append(s)
        }
        return c
    }

    // MARK: - Records

    /// The n-th rotated name of `path`: `relay.jsonl` becomes `relay.1.jsonl`, `relay` becomes `relay.1`.
    public static func rotatedPath(_ path: String, _ n: Int) -> String {
        let slash = path.lastIndex(of: "/")
        let name = slash.map { path[path.index(after: $0)...] } ?? path[...]
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "\(path).\(n)" }
        return "\(path[..<dot]).\(n)\(path[dot...])"
    }

    /// One record in `format`, newline included. `fields` are written in key order; a null field is
    /// written as `None`, as the reference writes it.
    public static func render(
        _ format: Format, rootRelayID: String, time: Nanoseconds, level: LogLevel, target: String, event: String,
        message: String, fields: JSONObject
    ) -> [UInt8] {
        let timestamp = millisTimestamp(time)
        let keys = fields.map(\.key).sorted()
        switch format {
        case .jsonl:
            var f = JSONObject(minimumCapacity: keys.count)
            for k in keys { f[k] = fieldValue(fields[k] ?? .null) }
            let record: JSONObject = [
                "event": .string(event), "fields": .object(f), "level": .string(level.name),
                "message": .string(message), "root_relay_id": .string(rootRelayID), "target": .string(target),
                "timestamp": .string(timestamp),
            ]
            var out = JSON.object(record).serialized()
            out.append(UInt8(ascii: "\n"))
            return out
        case .human:
            let short = rootRelayID.split(separator: "-", maxSplits: 1).first.map(String.init) ?? rootRelayID
            var line = "\(timestamp) \(level.name.uppercased()) root=\(short) target=\(target)"
            if !event.isEmpty { line += " event=\(event)" }
            for k in keys {
                switch fieldValue(fields[k] ?? .null) {
                case .string(let s): line += " \(k)=\(s)"
                case let v: line += " \(k)=\(v.jsonString())"
                }
            }
            if !message.isEmpty { line += " \(message)" }
            line += "\n"
            return Array(line.utf8)
        }
    }

    /// A field as the reference writes it: null as `None`, an integral float as an integer.
    static func fieldValue(_ v: JSON) -> JSON {
        switch v {
        case .null: return "None"
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return .int(Int64(d))
        default: return v
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func millisTimestamp(_ t: Nanoseconds) -> String {
        let whole = t - ((t % 1_000_000_000) + 1_000_000_000) % 1_000_000_000
        var out: [UInt8] = []
        RFC3339.write(whole, into: &out)
        out.removeLast(6)  // +00:00
        let ms = (((t % 1_000_000_000) + 1_000_000_000) % 1_000_000_000) / 1_000_000
        out.append(UInt8(ascii: "."))
        for d in [ms / 100, ms / 10 % 10, ms % 10] { out.append(UInt8(ascii: "0") + UInt8(d)) }
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// A fresh root relay id for the records of one configuration (a version-7 UUID).
    public static func newRootRelayID(now: Nanoseconds) -> String {
        UUIDGenerator.next(nowNanos: now).description
    }
}

/// The subset of TOML a `[logging]` table needs, with the reference's error texts
/// (`TOML parse error at line L, column C`, the line, a caret under the offending token, the reason).
struct LoggingTOML {
    /// A value and where it sits, for error reports.
    struct Value {
        enum Kind {
            case string(String)
            case integer(Int64)
            case bool(Bool)
        }
        var kind: Kind
        var line: Int
        var column: Int
        var span: Int
    }

    /// The `key = value` entries of one table, in file order.
    struct Table {
        var entries: [String: Value] = [:]
    }

    var lines: [Substring] = []
    var logging: Table?
    var sinks: [Table] = []

    static let loggingKeys = ["level", "stderr_enabled", "stderr_format", "flush_interval_millis", "sinks"]
    static let sinkKeys = ["path", "level", "format", "queue_capacity", "max_file_size_bytes", "retained_files"]

    /// `TOML parse error at line L, column C` with the line and a caret, then `reason`.
    func error(_ line: Int, _ column: Int, _ span: Int, _ reason: String) -> RelayError {
        let gutter = String(repeating: " ", count: String(line).count)
        let text = line <= lines.count ? String(lines[line - 1]) : ""
        let caret = String(repeating: " ", count: column - 1) + String(repeating: "^", count: max(span, 1))
        return .invalidArgument(
            "invalid logging TOML: TOML parse error at line \(line), column \(column)\n\(gutter) |\n\(line) | \(text)\n"
                + "\(gutter) | \(caret)\n\(reason)\n")
    }

    func describe(_ v: Value) -> String {
        switch v.kind {
        case .string(let s): return "string \(JSON.string(s).jsonString())"
        case .integer(let i): return "integer `\(i)`"
        case .bool(let b): return "boolean `\(b)`"
        }
    }

    func string(_ v: Value, expected: String) throws(RelayError) -> String {
        guard case .string(let s) = v.kind else {
            throw error(v.line, v.column, v.span, "invalid type: \(describe(v)), expected \(expected)")
        }
        return s
    }

    func bool(_ v: Value) throws(RelayError) -> Bool {
        guard case .bool(let b) = v.kind else {
            throw error(v.line, v.column, v.span, "invalid type: \(describe(v)), expected a boolean")
        }
        return b
    }

    func unsigned(_ v: Value, _ type: String) throws(RelayError) -> UInt64 {
        guard case .integer(let i) = v.kind else {
            throw error(v.line, v.column, v.span, "invalid type: \(describe(v)), expected \(type)")
        }
        guard i >= 0 else { throw error(v.line, v.column, v.span, "invalid value: \(describe(v)), expected \(type)") }
        return UInt64(i)
    }

    /// Where the current `key = value` lines go.
    enum Section { case logging, sink, other, none }

    static func parse(_ text: String) throws(RelayError) -> LoggingTOML {
        var doc = LoggingTOML()
        doc.lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        var section = Section.none
        for (i, raw) in doc.lines.enumerated() {
            let line = i + 1
            let chars = Array(raw)
            var p = 0
            func skipSpace() { while p < chars.count, chars[p] == " " || chars[p] == "\t" { p += 1 } }
            skipSpace()
            if p == chars.count || chars[p] == "#" { continue }
            if chars[p] == "[" {
                let start = p
                let array = p + 1 < chars.count && chars[p + 1] == "["
                guard let close = chars[p...].firstIndex(of: "]") else {
                    throw doc.error(line, chars.count + 1, 1, "unclosed table, expected `]`")
                }
                let name = String(chars[(p + (array ? 2 : 1))..<close]).filter { $0 != " " && $0 != "\t" }
                p = close + 1
                if array {
                    guard p < chars.count, chars[p] == "]" else {
                        throw doc.error(line, p + 1, 1, "unclosed array of tables, expected `]]`")
                    }
                    p += 1
                }
                skipSpace()
                guard p == chars.count || chars[p] == "#" else {
                    throw doc.error(line, p + 1, 1, "expected newline, `#`")
                }
                switch (name, array) {
                case ("logging", false):
                    guard doc.logging == nil else {
                        throw doc.error(line, start + 1, close - start + 1, "duplicate key")
                    }
                    doc.logging = Table()
                    section = .logging
                case ("logging.sinks", true):
                    if doc.logging == nil { doc.logging = Table() }
                    doc.sinks.append(Table())
                    section = .sink
                case _ where name == "logging" || name.hasPrefix("logging."):
                    throw doc.error(
                        line, start + 1, p - start,
                        "unsupported table \(array ? "[[\(name)]]" : "[\(name)]"); the logging configuration reads "
                            + "[logging] and [[logging.sinks]]")
                default:
                    section = .other
                }
                continue
            }
            // key = value
            let keyStart = p
            while p < chars.count, chars[p].isLetter || chars[p].isNumber || chars[p] == "_" || chars[p] == "-" {
                p += 1
            }
            guard p > keyStart else { throw doc.error(line, p + 1, 1, "invalid key") }
            let key = String(chars[keyStart..<p])
            let keySpan = p - keyStart
            skipSpace()
            guard p < chars.count, chars[p] == "=" else {
                throw doc.error(line, p + 1, 1, "expected `.`, `=`")
            }
            p += 1
            skipSpace()
            let valueStart = p
            let kind: Value.Kind
            if p < chars.count, chars[p] == "\"" || chars[p] == "'" {
                let quote = chars[p]
                p += 1
                var s = ""
                var closed = false
                while p < chars.count {
                    let c = chars[p]
                    if c == quote {
                        closed = true
                        p += 1
                        break
                    }
                    if c == "\\" && quote == "\"" {
                        guard p + 1 < chars.count else { break }
                        p += 1
                        switch chars[p] {
                        case "\"": s.append("\"")
                        case "\\": s.append("\\")
                        case "n": s.append("\n")
                        case "t": s.append("\t")
                        case "r": s.append("\r")
                        case "b": s.append("\u{8}")
                        case "f": s.append("\u{c}")
                        case "u", "U":
                            let n = chars[p] == "u" ? 4 : 8
                            guard p + n < chars.count, let code = UInt32(String(chars[(p + 1)...(p + n)]), radix: 16),
                                let scalar = Unicode.Scalar(code)
                            else { throw doc.error(line, p + 1, 1, "invalid unicode escape") }
                            s.unicodeScalars.append(scalar)
                            p += n
                        default: throw doc.error(line, p + 1, 1, "invalid escape sequence")
                        }
                        p += 1
                        continue
                    }
                    s.append(c)
                    p += 1
                }
                guard closed else { throw doc.error(line, valueStart + 1, chars.count - valueStart, "invalid string") }
                kind = .string(s)
            } else {
                while p < chars.count, chars[p] != " ", chars[p] != "\t", chars[p] != "#" { p += 1 }
                let token = String(chars[valueStart..<p])
                if token == "true" || token == "false" {
                    kind = .bool(token == "true")
                } else if let i = Int64(token.filter { $0 != "_" }), !token.isEmpty,
                    token.first != "_", token.last != "_"
                {
                    kind = .integer(i)
                } else {
                    throw doc.error(
                        line, valueStart + 1, max(p - valueStart, 1),
                        "unsupported value; the logging configuration reads strings, integers and booleans")
                }
            }
            let value = Value(kind: kind, line: line, column: valueStart + 1, span: p - valueStart)
            skipSpace()
            guard p == chars.count || chars[p] == "#" else { throw doc.error(line, p + 1, 1, "expected newline, `#`") }
            switch section {
            case .none:
                if key == "logging" {
                    throw doc.error(
                        line, value.column, value.span,
                        "invalid type: \(doc.describe(value)), expected struct RawLoggingConfig")
                }
            case .other:
                continue
            case .logging:
                try doc.check(key, value, keySpan, keyStart + 1, loggingKeys, doc.logging?.entries[key] != nil)
                if key == "sinks" {
                    throw doc.error(
                        line, value.column, value.span, "invalid type: \(doc.describe(value)), expected a sequence")
                }
                doc.logging?.entries[key] = value
            case .sink:
                let last = doc.sinks.count - 1
                try doc.check(key, value, keySpan, keyStart + 1, sinkKeys, doc.sinks[last].entries[key] != nil)
                doc.sinks[last].entries[key] = value
            }
        }
        return doc
    }

    /// Refuses an unknown or repeated key.
    func check(
        _ key: String, _ value: Value, _ keySpan: Int, _ keyColumn: Int, _ known: [String], _ existing: Bool
    ) throws(RelayError) {
        guard known.contains(key) else {
            let expected = known.map { "`\($0)`" }.joined(separator: ", ")
            throw error(value.line, keyColumn, keySpan, "unknown field `\(key)`, expected one of \(expected)")
        }
        guard !existing else { throw error(value.line, keyColumn, keySpan, "duplicate key") }
    }
}
