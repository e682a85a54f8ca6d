// SPDX-License-Identifier: Apache-2.0

/// The fields of a propagation context as the wire JSON gave them, before the context checks.
struct PropagationWire {
    var version: UInt16
    var root: RelayUUID?
    var parent: RelayUUID
    var traceparent: String?
    var tracestate: String?
}

/// Reads the propagation context wire JSON the way the reference does, so every failure has the
/// reference's message and position (`... at line L column C`, columns counted in bytes).
///
/// The input is an object with `version` (an integer 0...65535), `parent_uuid` (a uuid string),
/// optional `root_uuid` (a uuid string or null), `traceparent` and `tracestate` (strings or null);
/// other keys are skipped, repeated keys are refused. An array of the five values in that order (at
/// least the first three) is accepted too, as the reference accepts it. Skipped values are walked
/// iteratively, so nesting depth costs no stack.
struct PropagationWireParser {
    private let b: [UInt8]
    private var i = 0

    /// A failure: syntax errors carry their position at once, value errors get it when they surface.
    private struct Failure: Error {
        var message: String
        var position: (line: Int, column: Int)?
    }

    private static let expectedStruct = "struct PropagationContext"

    init(_ bytes: [UInt8]) { b = bytes }

    static func parse(_ bytes: [UInt8]) throws(PropagationError) -> PropagationWire {
        var p = PropagationWireParser(bytes)
        do throws(Failure) {
            let wire = try p.deserializeStruct()
            if p.parseWhitespace() != nil { throw p.peekError("trailing characters") }
            return wire
        } catch {
            let at = error.position ?? p.position(p.i)
            throw PropagationError(
                .invalidJSON,
                "invalid argument: invalid propagation context JSON: \(error.message) at line \(at.line) column \(at.column)"
            )
        }
    }

    // MARK: positions and errors

    private func position(_ index: Int) -> (line: Int, column: Int) {
        var line = 1
        var start = 0
        var k = 0
        while k < index {
            if b[k] == 0x0A {
                line += 1
                start = k + 1
            }
            k += 1
        }
        return (line, index - start)
    }

    /// An error about the byte just read.
    private func error(_ m: String) -> Failure { Failure(message: m, position: position(i)) }
    /// An error about the byte that was peeked.
    private func peekError(_ m: String) -> Failure { Failure(message: m, position: position(min(b.count, i + 1))) }
    /// A value error; its position is where reading stands when it surfaces.
    private func data(_ m: String) -> Failure { Failure(message: m, position: nil) }
    private func fix(_ f: Failure) -> Failure {
        f.position == nil ? Failure(message: f.message, position: position(i)) : f
    }

    private func peek() -> UInt8? { i < b.count ? b[i] : nil }

    private mutating func next() -> UInt8? {
        guard i < b.count else { return nil }
        i += 1
        return b[i - 1]
    }

    private mutating func parseWhitespace() -> UInt8? {
        while let c = peek(), c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { i += 1 }
        return peek()
    }

    // MARK: the struct

    private mutating func deserializeStruct() throws(Failure) -> PropagationWire {
        guard let c = parseWhitespace() else { throw peekError("EOF while parsing a value") }
        switch c {
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            i += 1
            // The reference reads the closing bracket even after a failure, which moves the position
            // a value error is reported at; the first failure wins.
            var result: Result<PropagationWire, Failure>
            do {
                result = .success(c == UInt8(ascii: "[") ? try visitSeq() : try visitMap())
            } catch {
                result = .failure(error)
            }
            var endFailure: Failure?
            do {
                if c == UInt8(ascii: "[") { try endSeq() } else { try endMap() }
            } catch {
                endFailure = error
            }
            switch result {
            case .success(let w):
                if let endFailure { throw endFailure }
                return w
            case .failure(let e):
                throw fix(e)
            }
        default:
            throw try peekInvalidType(Self.expectedStruct)
        }
    }

    private mutating func visitMap() throws(Failure) -> PropagationWire {
        var version: UInt16?
        var root: RelayUUID??
        var parent: RelayUUID?
        var traceparent: String??
        var tracestate: String??
        var first = true
        while try nextItem(&first, close: UInt8(ascii: "}")) {
            guard peek() == UInt8(ascii: "\"") else { throw peekError("key must be a string") }
            i += 1
            let key = try parseString()
            /// Refuses a repeated key, then reads past the colon.
            func field(seen: Bool) throws(Failure) {
                if seen { throw data("duplicate field `\(key)`") }
                try parseColon()
            }
            switch key {
            case "version":
                try field(seen: version != nil)
                version = try deserializeU16()
            case "root_uuid":
                try field(seen: root != nil)
                root = .some(try deserializeOptionalUUID())
            case "parent_uuid":
                try field(seen: parent != nil)
                parent = try deserializeUUID()
            case "traceparent":
                try field(seen: traceparent != nil)
                traceparent = .some(try deserializeOptionalString())
            case "tracestate":
                try field(seen: tracestate != nil)
                tracestate = .some(try deserializeOptionalString())
            default:
                try parseColon()
                try ignoreValue()
            }
        }
        guard let version else { throw data("missing field `version`") }
        guard let parent else { throw data("missing field `parent_uuid`") }
        return PropagationWire(
            version: version, root: root ?? nil, parent: parent, traceparent: traceparent ?? nil,
            tracestate: tracestate ?? nil)
    }

    private mutating func visitSeq() throws(Failure) -> PropagationWire {
        var first = true
        func invalidLength(_ n: Int) -> Failure {
            data("invalid length \(n), expected struct PropagationContext with 5 elements")
        }
        let close = UInt8(ascii: "]")
        guard try nextItem(&first, close: close) else { throw invalidLength(0) }
        let version = try deserializeU16()
        guard try nextItem(&first, close: close) else { throw invalidLength(1) }
        let root = try deserializeOptionalUUID()
        guard try nextItem(&first, close: close) else { throw invalidLength(2) }
        let parent = try deserializeUUID()
        var traceparent: String?
        var tracestate: String?
        if try nextItem(&first, close: close) {
            traceparent = try deserializeOptionalString()
            if try nextItem(&first, close: close) {
                tracestate = try deserializeOptionalString()
            }
        }
        return PropagationWire(
            version: version, root: root, parent: parent, traceparent: traceparent, tracestate: tracestate)
    }

    /// Positions reading at the next element of a list (`close` is `]`) or key of an object (`}`); false at
    /// `close`. `first` is true until the first item was found.
    private mutating func nextItem(_ first: inout Bool, close: UInt8) throws(Failure) -> Bool {
        let list = close == UInt8(ascii: "]")
        guard let c = parseWhitespace() else {
            throw peekError(list ? "EOF while parsing a list" : "EOF while parsing an object")
        }
        var start: UInt8? = c
        if c == close { return false }
        if c == UInt8(ascii: ",") && !first {
            i += 1
            start = parseWhitespace()
        } else if first {
            first = false
        } else {
            throw peekError(list ? "expected `,` or `]`" : "expected `,` or `}`")
        }
        guard let s = start else { throw peekError("EOF while parsing a value") }
        if s == close { throw peekError("trailing comma") }
        return true
    }

    private mutating func endSeq() throws(Failure) {
        switch parseWhitespace() {
        case UInt8(ascii: "]"): i += 1
        case UInt8(ascii: ","):
            i += 1
            if parseWhitespace() == UInt8(ascii: "]") { throw peekError("trailing comma") }
            throw peekError("trailing characters")
        case nil: throw peekError("EOF while parsing a list")
        default: throw peekError("trailing characters")
        }
    }

    private mutating func endMap() throws(Failure) {
        switch parseWhitespace() {
        case UInt8(ascii: "}"): i += 1
        case UInt8(ascii: ","): throw peekError("trailing comma")
        case nil: throw peekError("EOF while parsing an object")
        default: throw peekError("trailing characters")
        }
    }

    private mutating func parseColon() throws(Failure) {
        switch parseWhitespace() {
        case UInt8(ascii: ":"): i += 1
        case nil: throw peekError("EOF while parsing an object")
        default: throw peekError("expected `:`")
        }
    }

    // MARK: typed values

    private mutating func deserializeOption<T>(
        _ some: (inout PropagationWireParser) throws(Failure) -> T
    ) throws(Failure) -> T? {
        if parseWhitespace() == UInt8(ascii: "n") {
            i += 1
            try parseIdent("ull")
            return nil
        }
        return try some(&self)
    }

    private mutating func deserializeOptionalUUID() throws(Failure) -> RelayUUID? {
        try deserializeOption { (p) throws(Failure) in try p.deserializeUUID() }
    }

    private mutating func deserializeOptionalString() throws(Failure) -> String? {
        try deserializeOption { (p) throws(Failure) in try p.deserializeString() }
    }

    private mutating func deserializeU16() throws(Failure) -> UInt16 {
        guard let c = parseWhitespace() else { throw peekError("EOF while parsing a value") }
        let n: Number
        switch c {
        case UInt8(ascii: "-"):
            i += 1
            n = try parseNumber(positive: false)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            n = try parseNumber(positive: true)
        default:
            throw try peekInvalidType("u16")
        }
        switch n {
        case .unsigned(let v) where v <= UInt64(UInt16.max): return UInt16(v)
        case .unsigned, .signed: throw fix(data("invalid value: \(n.unexpected), expected u16"))
        case .float: throw fix(data("invalid type: \(n.unexpected), expected u16"))
        }
    }

    private mutating func deserializeUUID() throws(Failure) -> RelayUUID {
        let s = try deserializeString(expected: "a UUID string")
        do {
            return try RelayUUID.parseLenient(s)
        } catch {
            throw fix(data("UUID parsing failed: \(error.message)"))
        }
    }

    private mutating func deserializeString(expected: String = "a string") throws(Failure) -> String {
        guard let c = parseWhitespace() else { throw peekError("EOF while parsing a value") }
        guard c == UInt8(ascii: "\"") else { throw try peekInvalidType(expected) }
        i += 1
        return try parseString()
    }

    /// The error for a value of the wrong kind, naming what was found (the value is read first).
    private mutating func peekInvalidType(_ expected: String) throws(Failure) -> Failure {
        let found: String
        if let keyword = try parseKeyword(peek() ?? 0) {
            found = keyword
        } else {
            switch peek() ?? 0 {
            case UInt8(ascii: "-"):
                i += 1
                found = try parseNumber(positive: false).unexpected
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                found = try parseNumber(positive: true).unexpected
            case UInt8(ascii: "\""):
                i += 1
                found = "string " + Self.debugQuoted(try parseString())
            case UInt8(ascii: "["): found = "sequence"
            case UInt8(ascii: "{"): found = "map"
            default: return peekError("expected value")
            }
        }
        return fix(data("invalid type: \(found), expected \(expected)"))
    }

    /// Reads `null`, `true` or `false` when the peeked byte `c` starts one; returns how the reference names
    /// it in errors, or nil (nothing read) for any other byte.
    private mutating func parseKeyword(_ c: UInt8) throws(Failure) -> String? {
        switch c {
        case UInt8(ascii: "n"):
            i += 1
            try parseIdent("ull")
            return "null"
        case UInt8(ascii: "t"):
            i += 1
            try parseIdent("rue")
            return "boolean `true`"
        case UInt8(ascii: "f"):
            i += 1
            try parseIdent("alse")
            return "boolean `false`"
        default:
            return nil
        }
    }

    private mutating func parseIdent(_ rest: String) throws(Failure) {
        for expected in rest.utf8 {
            guard let c = next() else { throw error("EOF while parsing a value") }
            if c != expected { throw error("expected ident") }
        }
    }

    // MARK: numbers

    private enum Number {
        case unsigned(UInt64)
        case signed(Int64)
        case float(Double)

        var unexpected: String {
            switch self {
            case .unsigned(let v): return "integer `\(v)`"
            case .signed(let v): return "integer `\(v)`"
            case .float(let d):
                var w = JSONWriter(doubleSpelling: .reference)
                w.writeDouble(d)
                return "floating point `\(String(decoding: w.bytes, as: UTF8.self))`"
            }
        }
    }

    /// Reads a number (after its `-`): digits, then an optional fraction and exponent.
    private mutating func parseNumber(positive: Bool) throws(Failure) -> Number {
        let start = i
        guard let c = next() else { throw error("EOF while parsing a value") }
        try skipIntegerDigits(after: c)
        var isFloat = false
        if peek() == UInt8(ascii: ".") {
            isFloat = true
            i += 1
            let fractionStart = i
            while let d = peek(), isDigit(d) { i += 1 }
            if i == fractionStart {
                throw peek() == nil ? peekError("EOF while parsing a value") : peekError("invalid number")
            }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isFloat = true
            let mantissaEnd = i
            i += 1
            var positiveExponent = true
            if peek() == UInt8(ascii: "+") {
                i += 1
            } else if peek() == UInt8(ascii: "-") {
                i += 1
                positiveExponent = false
            }
            guard let e = next() else { throw error("EOF while parsing a value") }
            guard isDigit(e) else { throw error("invalid number") }
            var exponent = Int64(e - 48)
            while let d = peek(), isDigit(d) {
                i += 1
                exponent = exponent * 10 + Int64(d - 48)
                if exponent > Int64(Int32.max) {
                    // The reference gives up on an exponent beyond 32 bits: out of range when it grows
                    // a non-zero number, otherwise the rest is skipped and the value is zero.
                    let nonZero = b[start..<mantissaEnd].contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
                    if nonZero && positiveExponent { throw error("number out of range") }
                    while let d = peek(), isDigit(d) { i += 1 }
                    return .float(positive ? 0.0 : -0.0)
                }
            }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if !isFloat {
            if positive, let v = UInt64(text) { return .unsigned(v) }
            if !positive, let v = UInt64(text) {
                if v != 0 && v <= UInt64(Int64.max) + 1 { return .signed(Int64(truncatingIfNeeded: 0 &- v)) }
                return .float(-Double(v))
            }
        }
        guard let d = Double(text), d.isFinite else { throw error("number out of range") }
        return .float(positive ? d : -d)
    }

    /// Reads the integer digits after their first, `c` (already read): a lone `0` or a run starting at 1-9.
    private mutating func skipIntegerDigits(after c: UInt8) throws(Failure) {
        switch c {
        case UInt8(ascii: "0"):
            if let d = peek(), isDigit(d) { throw peekError("invalid number") }
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            while let d = peek(), isDigit(d) { i += 1 }
        default:
            throw error("invalid number")
        }
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    // MARK: strings

    /// Reads a string after its opening quote, checking escapes and UTF-8.
    private mutating func parseString() throws(Failure) -> String {
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("EOF while parsing a string") }
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid unicode code point") }
                return s
            case UInt8(ascii: "\\"):
                try parseEscape(&out)
            case 0..<0x20:
                throw error("control character (\\u0000-\\u001F) found while parsing a string")
            default:
                out.append(c)
            }
        }
    }

    private mutating func parseEscape(_ out: inout [UInt8]) throws(Failure) {
        guard let c = next() else { throw error("EOF while parsing a string") }
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            let n1 = try hexEscape()
            var scalar: UInt32
            switch n1 {
            case 0xDC00...0xDFFF: throw error("lone leading surrogate in hex escape")
            case 0xD800...0xDBFF:
                guard let s1 = peek() else { throw error("EOF while parsing a string") }
                i += 1
                guard s1 == UInt8(ascii: "\\") else { throw error("unexpected end of hex escape") }
                guard let s2 = peek() else { throw error("EOF while parsing a string") }
                i += 1
                guard s2 == UInt8(ascii: "u") else { throw error("unexpected end of hex escape") }
                let n2 = try hexEscape()
                guard (0xDC00...0xDFFF).contains(n2) else { throw error("lone leading surrogate in hex escape") }
                scalar = (UInt32(n1 - 0xD800) << 10 | UInt32(n2 - 0xDC00)) + 0x1_0000
            default:
                scalar = UInt32(n1)
            }
            guard let u = Unicode.Scalar(scalar) else { throw error("invalid unicode code point") }
            out.append(contentsOf: Array(String(Character(u)).utf8))
        default:
            throw error("invalid escape")
        }
    }

    private mutating func hexEscape() throws(Failure) -> UInt16 {
        guard i + 4 <= b.count else {
            i = b.count
            throw error("EOF while parsing a string")
        }
        // The reference takes all four characters before it looks at them.
        var n: UInt16 = 0
        var valid = true
        for c in b[i..<(i + 4)] {
            if let d = RelayUUID.hexValue(c) { n = n << 4 | UInt16(d) } else { valid = false }
        }
        i += 4
        guard valid else { throw error("invalid escape") }
        return n
    }

    /// Skips a string after its opening quote (escapes are checked, their values are not).
    private mutating func ignoreString() throws(Failure) {
        while true {
            guard let c = peek() else { throw error("EOF while parsing a string") }
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return
            case UInt8(ascii: "\\"):
                i += 1
                guard let e = next() else { throw error("EOF while parsing a string") }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"): _ = try hexEscape()
                default: throw error("invalid escape")
                }
            case 0..<0x20:
                throw error("control character (\\u0000-\\u001F) found while parsing a string")
            default:
                i += 1
            }
        }
    }

    // MARK: skipped values

    /// Skips one value of any kind and depth without recursion.
    private mutating func ignoreValue() throws(Failure) {
        var frames: [UInt8] = []
        var enclosing: UInt8?
        while true {
            guard let c = parseWhitespace() else { throw peekError("EOF while parsing a value") }
            var opened: UInt8?
            switch c {
            case UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "f"):
                _ = try parseKeyword(c)
            case UInt8(ascii: "-"):
                i += 1
                try ignoreNumber()
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                try ignoreNumber()
            case UInt8(ascii: "\""):
                i += 1
                try ignoreString()
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if let e = enclosing { frames.append(e) }
                enclosing = nil
                i += 1
                opened = c
            default:
                throw peekError("expected value")
            }
            var acceptComma: Bool
            var frame: UInt8
            if let opened {
                acceptComma = false
                frame = opened
            } else if let e = enclosing {
                acceptComma = true
                frame = e
                enclosing = nil
            } else if let f = frames.popLast() {
                acceptComma = true
                frame = f
            } else {
                return
            }
            closing: while true {
                let close = frame == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
                switch parseWhitespace() {
                case UInt8(ascii: ",") where acceptComma:
                    i += 1
                    break closing
                case close?:
                    i += 1
                    guard let f = frames.popLast() else { return }
                    frame = f
                    acceptComma = true
                case nil:
                    throw peekError(
                        frame == UInt8(ascii: "[") ? "EOF while parsing a list" : "EOF while parsing an object")
                default:
                    if acceptComma {
                        throw peekError(frame == UInt8(ascii: "[") ? "expected `,` or `]`" : "expected `,` or `}`")
                    }
                    break closing
                }
            }
            if frame == UInt8(ascii: "{") {
                switch parseWhitespace() {
                case UInt8(ascii: "\""): i += 1
                case nil: throw peekError("EOF while parsing an object")
                default: throw peekError("key must be a string")
                }
                try ignoreString()
                try parseColon()
            }
            enclosing = frame
        }
    }

    private mutating func ignoreNumber() throws(Failure) {
        try skipIntegerDigits(after: next() ?? 0)
        if peek() == UInt8(ascii: ".") {
            i += 1
            let start = i
            while let d = peek(), isDigit(d) { i += 1 }
            if i == start { throw peekError("invalid number") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            i += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
            guard let e = next(), isDigit(e) else { throw error("invalid number") }
            while let d = peek(), isDigit(d) { i += 1 }
        }
    }

    // MARK: text

    /// A string in double quotes with the escapes of Rust's `{:?}`.
    static func debugQuoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\0": out += "\\0"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default:
                if u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0xAD {
                    out += "\\u{" + String(u.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
