// SPDX-License-Identifier: Apache-2.0

extension JSON {
    /// Compact UTF-8 JSON text; with `sortedKeys` object keys are written in byte order at every level.
    public func serialized(
        sortedKeys: Bool = false, doubleSpelling: JSONWriter.DoubleSpelling = .swift
    ) -> [UInt8] {
        var w = JSONWriter(sortedKeys: sortedKeys, doubleSpelling: doubleSpelling)
        w.write(self)
        return w.bytes
    }

    /// Compact JSON text as a Swift string.
    public func jsonString(sortedKeys: Bool = false) -> String {
        String(decoding: serialized(sortedKeys: sortedKeys), as: UTF8.self)
    }
}

extension JSON: CustomStringConvertible {
    public var description: String { jsonString() }
}

/// Appends compact JSON text to a byte buffer.
public struct JSONWriter {
    /// The text written so far.
    public var bytes: [UInt8] = []
    /// Whether object keys are written in byte order instead of insertion order.
    public let sortedKeys: Bool
    /// How non-integral numbers are spelled.
    public let doubleSpelling: DoubleSpelling

    /// The spellings of a finite double; both use the shortest digits that read back to the same value.
    public enum DoubleSpelling: Sendable {
        /// Swift's `description`: `1e-05`, `1e+16`, `0.0001`, `1.0`.
        case swift
        /// The reference runtime's export spelling: plain decimal for decimal exponents -5 through 15
        /// (`0.00001`, `1000000000000000.0`), otherwise an unpadded signed exponent (`1e-6`, `1.5e+16`).
        case reference
    }

    /// A writer with an empty buffer.
    public init(sortedKeys: Bool = false, capacity: Int = 256, doubleSpelling: DoubleSpelling = .swift) {
        self.sortedKeys = sortedKeys
        self.doubleSpelling = doubleSpelling
        bytes.reserveCapacity(capacity)
    }

    /// Appends raw, already valid JSON text.
    @inlinable public mutating func raw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends one value.
    public mutating func write(_ v: JSON) {
        let emitter = JSONEmitter(sortedKeys: sortedKeys, doubleSpelling: doubleSpelling)
        switch v {
        case .array, .object:
            // A container goes into a raw buffer first and is appended in one piece: each of its many
            // small writes then costs a capacity check and a store, not a call into `Array`.
            var out = ScratchBytes(capacity: 1024)
            defer { out.free() }
            emitter.write(v, to: &out)
            bytes.append(contentsOf: UnsafeBufferPointer(start: out.base, count: out.count))
        default:
            emitter.write(v, to: &bytes)
        }
    }

    /// Appends a signed integer in decimal.
    public mutating func writeInteger(_ i: Int64) { JSONEmitter.writeInteger(i, to: &bytes) }

    /// Appends a double in its shortest round-tripping form; non-finite values become null.
    public mutating func writeDouble(_ d: Double) {
        JSONEmitter(sortedKeys: sortedKeys, doubleSpelling: doubleSpelling).writeDouble(d, to: &bytes)
    }

    /// Appends a quoted, escaped string.
    public mutating func writeString(_ s: String) { JSONEmitter.writeString(s, to: &bytes) }
}

/// Where the serializer's routines put bytes: the public writer's array, or a raw buffer.
protocol JSONByteSink {
    mutating func append(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer)
}

extension Array: JSONByteSink where Element == UInt8 {
    @inline(__always) mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

/// A growable byte buffer without copy-on-write checks; its owner calls `free()` once.
struct ScratchBytes: JSONByteSink {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    func free() { base.deallocate() }

    @inline(__always) mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always) mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let from = bytes.baseAddress else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        UnsafeMutableRawPointer(base + count).copyMemory(from: from, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func grow(to needed: Int) {
        capacity = max(capacity * 2, needed)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        bigger.initialize(from: base, count: count)
        base.deallocate()
        base = bigger
    }
}

/// The serializer's routines, over either byte sink.
struct JSONEmitter {
    let sortedKeys: Bool
    let doubleSpelling: JSONWriter.DoubleSpelling

    @inline(__always) static func raw<S: JSONByteSink>(_ s: StaticString, to out: inout S) {
        out.appendBytes(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    func write<S: JSONByteSink>(_ v: JSON, to out: inout S) {
        switch v {
        case .null: Self.raw("null", to: &out)
        case .bool(let b): if b { Self.raw("true", to: &out) } else { Self.raw("false", to: &out) }
        case .int(let i): Self.writeInteger(i, to: &out)
        case .uint(let u):
            var text = String(u)
            text.withUTF8 { out.appendBytes(UnsafeRawBufferPointer($0)) }
        case .double(let d): writeDouble(d, to: &out)
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for i in a.indices {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(a[i], to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o): writeObject(o, to: &out)
        }
    }

    func writeObject<S: JSONByteSink>(_ o: JSONObject, to out: inout S) {
        out.append(UInt8(ascii: "{"))
        if sortedKeys && o.count > 1 {
            var first = true
            for i in Self.byteOrder(o.keys_) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.writeString(o.keys_[i], to: &out)
                out.append(UInt8(ascii: ":"))
                write(o.values_[i], to: &out)
            }
        } else {
            for i in o.keys_.indices {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(o.keys_[i], to: &out)
                out.append(UInt8(ascii: ":"))
                write(o.values_[i], to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The positions of `keys` in the byte order of the keys.
    static func byteOrder(_ keys: [String]) -> [Int] {
        // Most keys differ in their first eight bytes: compare those as one big-endian word (zero
        // padded), and the whole keys only when the words are equal.
        var order: [(prefix: UInt64, at: Int)] = []
        order.reserveCapacity(keys.count)
        for i in keys.indices {
            var key = keys[i]
            let prefix = key.withUTF8 { u in
                var word: UInt64 = 0
                for j in 0..<min(8, u.count) { word |= UInt64(u[j]) &<< UInt64(56 - 8 * j) }
                return word
            }
            order.append((prefix, i))
        }
        order.sort { a, b in
            if a.prefix != b.prefix { return a.prefix < b.prefix }
            return keys[a.at].utf8.lexicographicallyPrecedes(keys[b.at].utf8)
        }
        return order.map(\.at)
    }

    /// Appends a signed integer in decimal.
    static func writeInteger<S: JSONByteSink>(_ i: Int64, to out: inout S) {
        if i >= 0 && i < 10 {
            out.append(UInt8(ascii: "0") + UInt8(i))
            return
        }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 20 digits + sign
        withUnsafeMutableBytes(of: &tmp) { buf in
            var n = i.magnitude
            var p = buf.count
            repeat {
                p -= 1
                buf[p] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            } while n > 0
            if i < 0 {
                p -= 1
                buf[p] = UInt8(ascii: "-")
            }
            out.appendBytes(UnsafeRawBufferPointer(rebasing: buf[p...]))
        }
    }

    /// Appends a double in its shortest round-tripping form; non-finite values become null.
    func writeDouble<S: JSONByteSink>(_ d: Double, to out: inout S) {
        guard d.isFinite else {
            Self.raw("null", to: &out)
            return
        }
        switch doubleSpelling {
        case .swift:
            var text = d.description
            text.withUTF8 { out.appendBytes(UnsafeRawBufferPointer($0)) }
        case .reference: Self.writeReferenceDouble(d, to: &out)
        }
    }

    /// Re-spells Swift's shortest digits in the reference layout (see ``JSONWriter/DoubleSpelling/reference``).
    static func writeReferenceDouble<S: JSONByteSink>(_ d: Double, to out: inout S) {
        // Split `description` ("1.25e-07", "123.5", "0.001") into significant digits and the decimal
        // exponent of the first one.
        var text = Array(d.magnitude.description.utf8)
        var exponent = 0
        if let e = text.firstIndex(of: UInt8(ascii: "e")) {
            exponent = Int(String(decoding: text[(e + 1)...], as: UTF8.self)) ?? 0
            text.removeSubrange(e...)
        }
        var digits: [UInt8] = []
        var integerDigits = 0
        var zerosAfterPoint = 0
        var seenPoint = false
        for c in text {
            if c == UInt8(ascii: ".") {
                seenPoint = true
            } else if digits.isEmpty && c == UInt8(ascii: "0") {
                if seenPoint { zerosAfterPoint += 1 }
            } else {
                digits.append(c)
                if !seenPoint { integerDigits += 1 }
            }
        }
        while digits.count > 1, digits.last == UInt8(ascii: "0") { digits.removeLast() }
        if d.sign == .minus { out.append(UInt8(ascii: "-")) }
        guard !digits.isEmpty else {
            raw("0.0", to: &out)
            return
        }
        exponent += integerDigits > 0 ? integerDigits - 1 : -(zerosAfterPoint + 1)
        if exponent > 15 || exponent < -5 {
            out.append(digits[0])
            if digits.count > 1 {
                out.append(UInt8(ascii: "."))
                digits[1...].withUnsafeBytes { out.appendBytes($0) }
            }
            out.append(UInt8(ascii: "e"))
            out.append(UInt8(ascii: exponent < 0 ? "-" : "+"))
            writeInteger(Int64(exponent.magnitude), to: &out)
        } else if exponent < 0 {
            raw("0.", to: &out)
            for _ in 0..<(-exponent - 1) { out.append(UInt8(ascii: "0")) }
            digits.withUnsafeBytes { out.appendBytes($0) }
        } else {
            for i in 0...exponent { out.append(i < digits.count ? digits[i] : UInt8(ascii: "0")) }
            out.append(UInt8(ascii: "."))
            if digits.count > exponent + 1 {
                digits[(exponent + 1)...].withUnsafeBytes { out.appendBytes($0) }
            } else {
                out.append(UInt8(ascii: "0"))
            }
        }
    }

    /// Appends a quoted, escaped string.
    static func writeString<S: JSONByteSink>(_ s: String, to out: inout S) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { u in
            guard let base = u.baseAddress else { return }
            var runStart = 0
            var i = 0
            while true {
                // Skip eight plain bytes at a time, up to the first byte that may need an escape.
                while i + 8 <= u.count {
                    let hits = SWAR.escapeMask(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                    if hits != 0 {
                        i += hits.trailingZeroBitCount &>> 3
                        break
                    }
                    i += 8
                }
                guard i < u.count else { break }
                let c = u[i]
                i += 1
                if c >= 0x20 && c != 0x22 && c != 0x5C { continue }
                // The plain run before the escape goes out in one piece.
                let at = i - 1
                if runStart < at {
                    out.appendBytes(UnsafeRawBufferPointer(start: base + runStart, count: at - runStart))
                }
                runStart = i
                switch c {
                case 0x22: raw("\\\"", to: &out)
                case 0x5C: raw("\\\\", to: &out)
                case 0x0A: raw("\\n", to: &out)
                case 0x0D: raw("\\r", to: &out)
                case 0x09: raw("\\t", to: &out)
                case 0x08: raw("\\b", to: &out)
                case 0x0C: raw("\\f", to: &out)
                default:
                    raw("\\u00", to: &out)
                    let hex: StaticString = "0123456789abcdef"
                    out.append(hex.utf8Start[Int(c >> 4)])
                    out.append(hex.utf8Start[Int(c & 0xF)])
                }
            }
            if runStart < u.count {
                out.appendBytes(UnsafeRawBufferPointer(start: base + runStart, count: u.count - runStart))
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
