// SPDX-License-Identifier: Apache-2.0

/// A JSON parse failure with the byte offset where it was detected.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong.
    public let reason: String
    /// The zero-based byte offset into the input.
    public let offset: Int

    public var description: String { "\(reason) at byte \(offset)" }
}

extension JSON {
    /// The deepest nesting the parser accepts, so hostile input cannot exhaust the stack.
    public static let maxParseDepth = 512

    /// Parses UTF-8 JSON text (RFC 8259); trailing non-whitespace and invalid UTF-8 are rejected.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSON {
        var p = JSONParser(bytes)
        p.skipWhitespace()
        let v = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.pos != bytes.count { throw p.error("unexpected trailing characters") }
        return v
    }

    /// Parses JSON text held in a byte array.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON {
        do {
            return try bytes.withUnsafeBufferPointer { buf in try JSON.parse(buf) }
        } catch let e as JSONParseError {
            throw e
        } catch {
            throw JSONParseError(reason: "\(error)", offset: 0)
        }
    }

    /// Parses JSON text held in a Swift string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        var t = text
        do {
            return try t.withUTF8 { buf in try JSON.parse(buf) }
        } catch let e as JSONParseError {
            throw e
        } catch {
            throw JSONParseError(reason: "\(error)", offset: 0)
        }
    }
}

/// A recursive-descent parser. Containers are built on two stacks (member keys and values) and moved
/// out into exactly sized arrays when they close, so no array regrows and no element is copied.
struct JSONParser: ~Copyable {
    let b: UnsafeBufferPointer<UInt8>
    var pos: Int = 0
    var scratch: [UInt8] = []
    /// The keys of the objects being parsed, innermost last.
    var keys = MoveStack<String>(capacity: 32)
    /// The elements and member values of the containers being parsed, innermost last.
    var values = MoveStack<JSON>(capacity: 64)

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    func error(_ reason: String, at: Int? = nil) -> JSONParseError {
        JSONParseError(reason: reason, offset: at ?? pos)
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < b.count {
            let c = b[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSON {
        guard pos < b.count else { throw error("unexpected end of input") }
        switch b[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= b.count else { throw error("invalid literal") }
        let w = word.utf8Start
        for i in 0..<n where b[pos + i] != w[i] { throw error("invalid literal", at: pos + i) }
        pos += n
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSON {
        if depth > JSON.maxParseDepth { throw error("nesting too deep") }
        pos += 1
        skipWhitespace()
        if pos < b.count && b[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(JSONObject())
        }
        let keyMark = keys.count
        let valueMark = values.count
        // Duplicate keys are found by a scan of the members so far, or by hash above the threshold
        // where a `JSONObject` indexes its keys (the index then becomes the object's).
        var index: [JSONKey: Int]? = nil
        while true {
            skipWhitespace()
            guard pos < b.count, b[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard pos < b.count, b[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
            pos += 1
            skipWhitespace()
            let v = try parseValue(depth: depth)
            // A duplicate key keeps its first position and takes the last value.
            let count = keys.count - keyMark
            if index != nil {
                if let i = index![JSONKey(key)] {
                    values.replace(at: valueMark + i, with: v)
                } else {
                    index![JSONKey(key)] = count
                    keys.push(key)
                    values.push(v)
                }
            } else if let i = keys.firstIndex(of: key, from: keyMark) {
                values.replace(at: valueMark + i - keyMark, with: v)
            } else {
                keys.push(key)
                values.push(v)
                if count + 1 > JSONObject.indexThreshold { index = keys.index(from: keyMark) }
            }
            skipWhitespace()
            guard pos < b.count else { throw error("unexpected end of input") }
            if b[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            if b[pos] == UInt8(ascii: "}") {
                pos += 1
                let members = keys.popArray(from: keyMark)
                return .object(JSONObject(keys: members, values: values.popArray(from: valueMark), index: index))
            }
            throw error("expected ',' or '}'")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSON {
        if depth > JSON.maxParseDepth { throw error("nesting too deep") }
        pos += 1
        skipWhitespace()
        if pos < b.count && b[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array([])
        }
        let mark = values.count
        while true {
            skipWhitespace()
            values.push(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < b.count else { throw error("unexpected end of input") }
            if b[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            if b[pos] == UInt8(ascii: "]") {
                pos += 1
                return .array(values.popArray(from: mark))
            }
            throw error("expected ',' or ']'")
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: no escapes. `high` collects the bytes' top bits: zero means ASCII, which needs no
        // UTF-8 validation.
        var high: UInt64 = 0
        let n = b.count
        while true {
            // Eight bytes at a time up to the first quote, backslash or control byte.
            if let base = b.baseAddress {
                while pos + 8 <= n {
                    let w = UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)
                    let hits = SWAR.escapeMask(w)
                    if hits != 0 {
                        // The lowest flagged byte is the first candidate; the bytes before it are plain.
                        let plain = hits.trailingZeroBitCount &>> 3
                        high |= w & ((1 &<< (UInt64(plain) &* 8)) &- 1)
                        pos += plain
                        break
                    }
                    high |= w
                    pos += 8
                }
            }
            guard pos < n else { throw error("unterminated string", at: start - 1) }
            let c = b[pos]
            if c == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: b[start..<pos])
                pos += 1
                if high & SWAR.highs == 0 { return String(decoding: slice, as: UTF8.self) }
                return try validatedString(slice, base: start)
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("control character in string") }
            // A plain byte the word test flagged (it may, next to a byte above 0x7F).
            high |= UInt64(c)
            pos += 1
        }
        // Slow path with escapes.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<pos]))
        while pos < b.count {
            let c = b[pos]
            if c == UInt8(ascii: "\"") {
                // Validate the raw input bytes, not the unescaped ones, so the offset points into the
                // input. Escapes are ASCII and decode to whole, valid sequences, so the unescaped
                // text is valid exactly when the raw bytes are.
                if let bad = firstInvalidUTF8(UnsafeBufferPointer(rebasing: b[start..<pos])) {
                    throw error("invalid UTF-8 in string", at: start + bad)
                }
                pos += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") {
                scratch.append(c)
                pos += 1
                continue
            }
            pos += 1
            guard pos < b.count else { break }
            let e = b[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard pos + 6 <= b.count, b[pos] == UInt8(ascii: "\\"), b[pos + 1] == UInt8(ascii: "u") else {
                        throw error("lone leading surrogate in escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid low surrogate in escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("lone trailing surrogate in escape")
                }
                appendUTF8(scalar)
            default:
                throw error("invalid escape", at: pos - 1)
            }
        }
        throw error("unterminated string", at: start - 1)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= b.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            scratch.append(UInt8(s))
        } else if s < 0x800 {
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else if s < 0x10000 {
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else {
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    /// Decodes UTF-8, rejecting malformed sequences with the offset of the first bad byte.
    func validatedString(_ buf: UnsafeBufferPointer<UInt8>, base: Int) throws(JSONParseError) -> String {
        // One validating pass; the offset of a failure is found only when there is one.
        if let s = String(validating: buf, as: UTF8.self) { return s }
        throw error("invalid UTF-8 in string", at: base + (firstInvalidUTF8(buf) ?? 0))
    }

    mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = pos
        var negative = false
        if b[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        guard pos < b.count, b[pos] >= UInt8(ascii: "0"), b[pos] <= UInt8(ascii: "9") else {
            throw error("invalid number")
        }
        var mantissa: UInt64 = 0
        var overflow = false
        var digits = 0
        if b[pos] == UInt8(ascii: "0") {
            pos += 1
            digits = 1
            if pos < b.count, b[pos] >= UInt8(ascii: "0"), b[pos] <= UInt8(ascii: "9") {
                throw error("leading zero in number")
            }
        } else {
            while pos < b.count, b[pos] >= UInt8(ascii: "0"), b[pos] <= UInt8(ascii: "9") {
                let d = UInt64(b[pos] - UInt8(ascii: "0"))
                let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(d)
                if o1 || o2 { overflow = true } else { mantissa = m2 }
                digits += 1
                pos += 1
            }
        }
        var isInteger = true
        var fracDigits = 0
        if pos < b.count, b[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            let fs = pos
            while pos < b.count, b[pos] >= UInt8(ascii: "0"), b[pos] <= UInt8(ascii: "9") {
                if !overflow {
                    let d = UInt64(b[pos] - UInt8(ascii: "0"))
                    let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
                    let (m2, o2) = m1.addingReportingOverflow(d)
                    if o1 || o2 { overflow = true } else { mantissa = m2 }
                }
                pos += 1
            }
            fracDigits = pos - fs
            if fracDigits == 0 { throw error("expected digits after '.'") }
        }
        var hasExponent = false
        if pos < b.count, b[pos] == UInt8(ascii: "e") || b[pos] == UInt8(ascii: "E") {
            isInteger = false
            hasExponent = true
            pos += 1
            if pos < b.count, b[pos] == UInt8(ascii: "+") || b[pos] == UInt8(ascii: "-") { pos += 1 }
            let es = pos
            while pos < b.count, b[pos] >= UInt8(ascii: "0"), b[pos] <= UInt8(ascii: "9") { pos += 1 }
            if pos == es { throw error("expected digits in exponent") }
        }
        if isInteger && !overflow {
            if negative {
                // "-0" keeps its sign as the double -0.0, as serde_json (the reference) reads it.
                if mantissa == 0 { return .double(-0.0) }
                if mantissa <= UInt64(Int64.max) { return .int(-Int64(mantissa)) }
                if mantissa == UInt64(Int64.max) + 1 { return .int(Int64.min) }
            } else {
                if mantissa <= UInt64(Int64.max) { return .int(Int64(mantissa)) }
                return .uint(mantissa)
            }
        }
        // Exact fast path (Clinger): mantissa and power of ten both exactly representable.
        if !overflow && !hasExponent && mantissa < (1 << 53) && fracDigits <= 22 {
            var d = Double(mantissa) / JSONParser.powersOfTen[fracDigits]
            if negative { d = -d }
            return .double(d)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<pos]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw error("number out of range", at: start) }
        return .double(d)
    }

    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]
}

/// Returns the offset of the first byte that is not part of a well-formed UTF-8 sequence.
func firstInvalidUTF8(_ buf: UnsafeBufferPointer<UInt8>) -> Int? {
    var i = 0
    let n = buf.count
    while i < n {
        let c = buf[i]
        if c < 0x80 {
            i += 1
            continue
        }
        var need = 0
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED: need = 2; hi = 0x9F
        case 0xF0: need = 3; lo = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; hi = 0x8F
        default: return i
        }
        guard i + need < n else { return i }
        let b1 = buf[i + 1]
        if b1 < lo || b1 > hi { return i }
        var k = 2
        while k <= need {
            let bk = buf[i + k]
            if bk < 0x80 || bk > 0xBF { return i }
            k += 1
        }
        i += need + 1
    }
    return nil
}

/// Word-at-a-time byte tests for the string scanners of the parser and the writer.
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The top bit of each byte of the little-endian word that may be `"`, `\\` or below 0x20.
    ///
    /// Every such byte is flagged; a byte next above a flagged or a non-ASCII byte may be flagged too
    /// (the borrow of the zero-byte test), so the lowest flag is at or before the first true one.
    /// Bytes above 0x7F pass unflagged: they are never escaped and end no string.
    @inline(__always) static func escapeMask(_ w: UInt64) -> UInt64 {
        let low = w & ~highs  // a byte above 0x7F must not match `"` or `\\` by its low seven bits
        let quote = low ^ (ones &* 0x22)
        let backslash = low ^ (ones &* 0x5C)
        let control = w & (ones &* 0xE0)  // zero exactly where the byte is below 0x20
        return ((((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & ~w & highs)
            | ((control &- ones) & ~control & highs)
    }
}

/// A stack that moves a run of its top elements out into an exactly sized array, without copying
/// (retaining) them; what it still holds when it goes away (a failed parse) is released.
struct MoveStack<Element>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inline(__always) mutating func push(_ e: consuming Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: e)
        count += 1
    }

    mutating func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    /// Replaces the element at `i` (an absolute position).
    @inline(__always) mutating func replace(at i: Int, with e: consuming Element) {
        base[i] = e
    }
}

extension MoveStack where Element == JSON {
    /// Moves the elements from `mark` to the top out, in order, into a new array.
    mutating func popArray(from mark: Int) -> [JSON] {
        let n = count - mark
        if n == 0 { return [] }
        // `reserveCapacity` then `append` stays specialized; `init(unsafeUninitializedCapacity:)` here
        // went through the runtime's generic metadata lookup on every call.
        var a = [JSON]()
        a.reserveCapacity(n)
        for i in mark..<count { a.append((base + i).move()) }
        count = mark
        return a
    }
}

extension MoveStack where Element == String {
    /// Moves the elements from `mark` to the top out, in order, into a new array.
    mutating func popArray(from mark: Int) -> [String] {
        let n = count - mark
        if n == 0 { return [] }
        // `reserveCapacity` then `append` stays specialized; `init(unsafeUninitializedCapacity:)` here
        // went through the runtime's generic metadata lookup on every call.
        var a = [String]()
        a.reserveCapacity(n)
        for i in mark..<count { a.append((base + i).move()) }
        count = mark
        return a
    }

    /// The position of the first key from `mark` up that has the bytes of `key`.
    func firstIndex(of key: String, from mark: Int) -> Int? {
        var i = mark
        while i < count {
            if JSONKey.same(base[i], key) { return i }
            i += 1
        }
        return nil
    }

    /// The hash index of the keys from `mark` up, by position relative to `mark`.
    func index(from mark: Int) -> [JSONKey: Int] {
        var d = [JSONKey: Int](minimumCapacity: (count - mark) * 2)
        for i in mark..<count { d[JSONKey(base[i])] = i - mark }
        return d
    }
}
