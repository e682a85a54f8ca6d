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
        switch v {
        case .null: raw("null")
        case .bool(let b): if b { raw("true") } else { raw("false") }
        case .int(let i): writeInteger(i)
        case .uint(let u): bytes.append(contentsOf: String(u).utf8)
        case .double(let d): writeDouble(d)
        case .string(let s): writeString(s)
        case .array(let a):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for e in a {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(e)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let o): writeObject(o)
        }
    }

    mutating func writeObject(_ o: JSONObject) {
        bytes.append(UInt8(ascii: "{"))
        if sortedKeys && o.count > 1 {
            let order = o.keys.indices.sorted { o.keys[$0].utf8.lexicographicallyPrecedes(o.keys[$1].utf8) }
            var first = true
            for i in order {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(o.keys[i])
                bytes.append(UInt8(ascii: ":"))
                write(o.values[i])
            }
        } else {
            let keys = o.keys
            let values = o.values
            for i in keys.indices {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(keys[i])
                bytes.append(UInt8(ascii: ":"))
                write(values[i])
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Appends a signed integer in decimal.
    public mutating func writeInteger(_ i: Int64) {
        if i >= 0 && i < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(i))
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
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[p...]))
        }
    }

    /// Appends a double in its shortest round-tripping form; non-finite values become null.
    public mutating func writeDouble(_ d: Double) {
        guard d.isFinite else {
            raw("null")
            return
        }
        switch doubleSpelling {
        case .swift: bytes.append(contentsOf: d.description.utf8)
        case .reference: writeReferenceDouble(d)
        }
    }

    /// Re-spells Swift's shortest digits in the reference layout (see ``DoubleSpelling/reference``).
    mutating func writeReferenceDouble(_ d: Double) {
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
        if d.sign == .minus { bytes.append(UInt8(ascii: "-")) }
        guard !digits.isEmpty else {
            raw("0.0")
            return
        }
        exponent += integerDigits > 0 ? integerDigits - 1 : -(zerosAfterPoint + 1)
        if exponent > 15 || exponent < -5 {
            bytes.append(digits[0])
            if digits.count > 1 {
                bytes.append(UInt8(ascii: "."))
                bytes.append(contentsOf: digits[1...])
            }
            bytes.append(UInt8(ascii: "e"))
            bytes.append(UInt8(ascii: exponent < 0 ? "-" : "+"))
            bytes.append(contentsOf: String(exponent.magnitude).utf8)
        } else if exponent < 0 {
            raw("0.")
            for _ in 0..<(-exponent - 1) { bytes.append(UInt8(ascii: "0")) }
            bytes.append(contentsOf: digits)
        } else {
            for i in 0...exponent { bytes.append(i < digits.count ? digits[i] : UInt8(ascii: "0")) }
            bytes.append(UInt8(ascii: "."))
            if digits.count > exponent + 1 {
                bytes.append(contentsOf: digits[(exponent + 1)...])
            } else {
                bytes.append(UInt8(ascii: "0"))
            }
        }
    }

    /// Appends a quoted, escaped string.
    public mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { u in
            var runStart = 0
            var i = 0
            while i < u.count {
                // Copy eight plain bytes at a time; only quotes, backslashes and controls need escapes.
                if let base = u.baseAddress, i + 8 <= u.count {
                    let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                    if !SWAR.needsEscape(w) {
                        i += 8
                        continue
                    }
                }
                let c = u[i]
                i += 1
                if c >= 0x20 && c != 0x22 && c != 0x5C { continue }
                let at = i - 1
                if runStart < at { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<at])) }
                runStart = at + 1
                switch c {
                case 0x22: raw("\\\"")
                case 0x5C: raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0x08: raw("\\b")
                case 0x0C: raw("\\f")
                default:
                    raw("\\u00")
                    let hex: StaticString = "0123456789abcdef"
                    bytes.append(hex.utf8Start[Int(c >> 4)])
                    bytes.append(hex.utf8Start[Int(c & 0xF)])
                }
            }
            if runStart < u.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension SWAR {
    /// True when the word holds a byte that JSON strings must escape: `"`, `\\` or below 0x20.
    @inline(__always) static func needsEscape(_ w: UInt64) -> Bool { escapeMask(w) != 0 }
}
