// SPDX-License-Identifier: Apache-2.0
// MARK: - Request parsing

/// A small JSON reader for request lines, straight from the bytes `getline` returned.
///
/// It yields native Swift values (`[String: Any]`, `[Any]`, `String`, ``Number``, ``Null``): no
/// bridging casts on any argument.
struct JSONLine {
    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0

    /// Parses one complete JSON document from `bytes`.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Any {
        var p = JSONLine(b: bytes)
        p.space()
        let v = try p.value()
        p.space()
        guard p.i == bytes.count else { throw ProtocolError("trailing bytes after the request") }
        return v
    }

    private init(b: UnsafeBufferPointer<UInt8>) { self.b = b }

    private mutating func space() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
    }

    private func bad() -> ProtocolError { ProtocolError("malformed JSON at byte \(i)") }

    private mutating func literal(_ s: StaticString, _ v: Any) throws -> Any {
        let n = s.utf8CodeUnitCount
        guard i + n <= b.count else { throw bad() }
        for k in 0..<n where b[i + k] != s.utf8Start[k] { throw bad() }
        i += n
        return v
    }

    private mutating func value() throws -> Any {
        guard i < b.count else { throw bad() }
        switch b[i] {
        case 0x7b: return try object()
        case 0x5b: return try array()
        case 0x22: return try string()
        case 0x74: return try literal("true", Number(true))
        case 0x66: return try literal("false", Number(false))
        case 0x6e: return try literal("null", Null.shared)
        default: return try number()
        }
    }

    private mutating func object() throws -> [String: Any] {
        i += 1
        var o: [String: Any] = [:]
        space()
        if i < b.count, b[i] == 0x7d {
            i += 1
            return o
        }
        while true {
            space()
            guard i < b.count, b[i] == 0x22 else { throw bad() }
            let k = try string()
            space()
            guard i < b.count, b[i] == 0x3a else { throw bad() }
            i += 1
            space()
            o[k] = try value()
            space()
            guard i < b.count else { throw bad() }
            if b[i] == 0x2c {
                i += 1
                continue
            }
            guard b[i] == 0x7d else { throw bad() }
            i += 1
            return o
        }
    }

    private mutating func array() throws -> [Any] {
        i += 1
        var a: [Any] = []
        space()
        if i < b.count, b[i] == 0x5d {
            i += 1
            return a
        }
        while true {
            space()
            a.append(try value())
            space()
            guard i < b.count else { throw bad() }
            if b[i] == 0x2c {
                i += 1
                continue
            }
            guard b[i] == 0x5d else { throw bad() }
            i += 1
            return a
        }
    }

    private mutating func string() throws -> String {
        i += 1
        let start = i
        while i < b.count, b[i] != 0x22, b[i] != 0x5c { i += 1 }
        guard i < b.count else { throw bad() }
        if b[i] == 0x22 {  // no escapes: one copy
            let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        var out = Array(b[start..<i])
        while true {
            guard i < b.count else { throw bad() }
            let c = b[i]
            if c == 0x22 {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c != 0x5c {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < b.count else { throw bad() }
            let e = b[i]
            i += 1
            switch e {
            case 0x22, 0x5c, 0x2f: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0c)
            case 0x6e: out.append(0x0a)
            case 0x72: out.append(0x0d)
            case 0x74: out.append(0x09)
            case 0x75:
                var u = try hex4()
                if (0xd800..<0xdc00).contains(u), i + 6 <= b.count, b[i] == 0x5c, b[i + 1] == 0x75 {
                    i += 2
                    let lo = try hex4()
                    if (0xdc00..<0xe000).contains(lo) {
                        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)
                    } else {
                        out.append(contentsOf: Array(String(Unicode.Scalar(0xfffd)!).utf8))
                        u = lo
                    }
                }
                let scalar = Unicode.Scalar(u) ?? Unicode.Scalar(0xfffd)!
                out.append(contentsOf: Array(String(scalar).utf8))
            default: throw bad()
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count else { throw bad() }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: throw bad()
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func number() throws -> Number {
        let start = i
        var integral = true
        if i < b.count, b[i] == 0x2d { i += 1 }
        while i < b.count {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 {
                i += 1
            } else if c == 0x2e || c == 0x65 || c == 0x45 || c == 0x2b || c == 0x2d {
                integral = false
                i += 1
            } else {
                break
            }
        }
        guard i > start else { throw bad() }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if integral {
            if let n = Int64(text) { return Number(n) }
            if let n = UInt64(text) { return Number(n) }
        }
        guard let d = Double(text) else { throw bad() }
        return Number(d)
    }
}
