// SPDX-License-Identifier: Apache-2.0

/// A W3C Trace Context parent (www.w3.org/TR/trace-context): trace id, parent id, sampled flag and
/// the member list of its `tracestate`.
///
/// Parsing follows the reference runtime, which is more lenient than the recommendation in a few
/// places: surrounding Unicode whitespace is ignored, the fields are read as hexadecimal numbers (so
/// `+1` or a short id are accepted and zero-padded when written back), a version other than `ff` may
/// carry extra fields, and only the sampled bit of the flags survives. Ids must be lowercase and not
/// all zero.
struct W3CTraceContext: Sendable, Equatable {
    /// The 128-bit trace id.
    let traceID: RelayUUID
    /// The 64-bit parent (span) id.
    let spanID: UInt64
    /// Flag bit 0.
    let sampled: Bool

    /// The canonical `traceparent` of a child with span id `span` (this context's own when nil).
    func header(span: UInt64? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(55)
        out.append(contentsOf: [48, 48, 45])  // "00-"
        RelayUUID.hexDigits(traceID.high, 16, &out)
        RelayUUID.hexDigits(traceID.low, 16, &out)
        out.append(45)
        RelayUUID.hexDigits(span ?? spanID, 16, &out)
        out.append(contentsOf: sampled ? [45, 48, 49] : [45, 48, 48])
        return String(decoding: out, as: UTF8.self)
    }

    /// The 16 trace-id bytes.
    var traceIDBytes: [UInt8] { Self.bytes(traceID.high) + Self.bytes(traceID.low) }
    /// The 8 span-id bytes.
    var spanIDBytes: [UInt8] { Self.bytes(spanID) }

    static func bytes(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }

    /// Parses a `traceparent`; nil when it is not a valid W3C parent. `tracestate` is not consulted
    /// (an invalid one never invalidates the parent).
    static func parse(_ traceparent: String, tracestate: String? = nil) -> W3CTraceContext? {
        let text = trimUnicodeWhitespace(Array(traceparent.unicodeScalars))
        // Split on "-", dropping one empty field after a trailing "-".
        var parts: [[Unicode.Scalar]] = [[]]
        for s in text {
            if s == "-" { parts.append([]) } else { parts[parts.count - 1].append(s) }
        }
        if parts.last?.isEmpty == true { parts.removeLast() }
        guard parts.count >= 4, let version = radix16(parts[0], bits: 8) else { return nil }
        guard version <= 254, version != 0 || parts.count == 4 else { return nil }
        for i in 1...3 where parts[i].contains(where: { ("A"..."Z").contains($0) }) { return nil }
        guard let trace = radix16Wide(parts[1]), let span = radix16(parts[2], bits: 64),
            let flags = radix16(parts[3], bits: 8)
        else { return nil }
        guard trace.high != 0 || trace.low != 0, span != 0 else { return nil }
        return W3CTraceContext(traceID: trace, spanID: span, sampled: flags & 1 == 1)
    }

    /// Validates a `traceparent`/`tracestate` pair: the canonical `traceparent` (nil when invalid or
    /// absent) and the canonical `tracestate` (nil when absent, empty, invalid or without a parent).
    static func normalize(traceparent: String?, tracestate: String?) -> (String, String?)? {
        guard let traceparent, let parent = parse(traceparent) else { return nil }
        return (parent.header(), tracestate.flatMap(normalizeTraceState))
    }

    // MARK: tracestate

    /// The canonical `tracestate` (members joined by `,`), or nil when it is empty or invalid: more
    /// than 32 list members (empty ones counted), a malformed member, an invalid key or value, or a
    /// repeated key. Spaces and tabs around members are dropped.
    static func normalizeTraceState(_ value: String) -> String? {
        let items = Array(value.utf8).split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard items.count <= 32 else { return nil }
        var keys: Set<ArraySlice<UInt8>> = []
        var out: [UInt8] = []
        for item in items {
            let member = trimSpacesAndTabs(item)
            if member.isEmpty { continue }
            guard let eq = member.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let key = member[member.startIndex..<eq]
            let val = member[(eq + 1)...]
            guard validKey(key), validValue(val), keys.insert(key).inserted else { return nil }
            if !out.isEmpty { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: member)
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    private static func trimSpacesAndTabs(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var a = s.startIndex
        var b = s.endIndex
        while a < b && (s[a] == 0x20 || s[a] == 0x09) { a += 1 }
        while b > a && (s[b - 1] == 0x20 || s[b - 1] == 0x09) { b -= 1 }
        return s[a..<b]
    }

    private static func isLower(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func isKeyChar(_ c: UInt8) -> Bool {
        isLower(c) || isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "*")
            || c == UInt8(ascii: "/")
    }

    /// `lcalpha 0*255(keychar)`, or `(lcalpha / DIGIT) 0*240(keychar) "@" lcalpha 0*12(keychar)`.
    static func validKey(_ key: ArraySlice<UInt8>) -> Bool {
        guard let first = key.first else { return false }
        if let at = key.firstIndex(of: UInt8(ascii: "@")) {
            let tenant = key[key.startIndex..<at]
            let system = key[(at + 1)...]
            guard let t0 = tenant.first, isLower(t0) || isDigit(t0), tenant.count <= 241,
                tenant.dropFirst().allSatisfy(isKeyChar)
            else { return false }
            guard let s0 = system.first, isLower(s0), system.count <= 13, system.dropFirst().allSatisfy(isKeyChar)
            else { return false }
            return true
        }
        return isLower(first) && key.count <= 256 && key.dropFirst().allSatisfy(isKeyChar)
    }

    /// 1 to 256 printable ASCII characters other than `,` and `=`, not ending in a space.
    static func validValue(_ value: ArraySlice<UInt8>) -> Bool {
        guard let last = value.last, value.count <= 256, last != 0x20 else { return false }
        return value.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") }
    }

    // MARK: helpers

    /// Unicode `White_Space` characters, as Rust's `str::trim` removes them.
    static func isUnicodeWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default: return false
        }
    }

    private static func trimUnicodeWhitespace(_ s: [Unicode.Scalar]) -> ArraySlice<Unicode.Scalar> {
        var a = 0
        var b = s.count
        while a < b && isUnicodeWhitespace(s[a]) { a += 1 }
        while b > a && isUnicodeWhitespace(s[b - 1]) { b -= 1 }
        return s[a..<b]
    }

    /// An unsigned hexadecimal number as Rust's `from_str_radix` reads it: an optional `+`, then at
    /// least one digit of either case, no overflow of `bits`.
    private static func radix16(_ s: [Unicode.Scalar], bits: Int) -> UInt64? {
        var digits = s[...]
        if digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in digits {
            guard c.isASCII, let d = RelayUUID.hexValue(UInt8(c.value)) else { return nil }
            guard v >> (bits - 4) == 0 else { return nil }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// The 128-bit form of ``radix16(_:bits:)``.
    private static func radix16Wide(_ s: [Unicode.Scalar]) -> RelayUUID? {
        var digits = s[...]
        if digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for c in digits {
            guard c.isASCII, let d = RelayUUID.hexValue(UInt8(c.value)) else { return nil }
            guard hi >> 60 == 0 else { return nil }
            hi = hi << 4 | lo >> 60
            lo = lo << 4 | UInt64(d)
        }
        return RelayUUID(high: hi, low: lo)
    }
}
