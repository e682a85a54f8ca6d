// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// A 128-bit identifier; the runtime mints version-7 values that increase in creation order.
public struct RelayUUID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The high 64 bits (timestamp, version and counter).
    public let high: UInt64
    /// The low 64 bits (variant and random bits).
    public let low: UInt64

    /// Wraps raw bits.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the hyphenated (or plain 32-digit) hex form; nil when malformed.
    public init?(_ text: String) {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        var n = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "-") { continue }
            let d: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt64(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt64(c - 55)
            default: return nil
            }
            if n < 16 { hi = hi << 4 | d } else if n < 32 { lo = lo << 4 | d } else { return nil }
            n += 1
        }
        guard n == 32 else { return nil }
        high = hi
        low = lo
    }

    public static func < (a: RelayUUID, b: RelayUUID) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// The lowercase hyphenated form.
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The 32 lowercase hex digits without hyphens.
    public var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        Self.hexDigits(high, 16, &out)
        Self.hexDigits(low, 16, &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The W3C `traceparent` value `00-<trace id>-<span id>-01`, with this span's low 64 bits as the span id.
    func traceparent(traceID: RelayUUID) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(55)
        out.append(contentsOf: [48, 48, 45])  // "00-"
        Self.hexDigits(traceID.high, 16, &out)
        Self.hexDigits(traceID.low, 16, &out)
        out.append(45)
        Self.hexDigits(low, 16, &out)
        out.append(contentsOf: [45, 48, 49])  // "-01"
        return String(decoding: out, as: UTF8.self)
    }

    func write(into out: inout [UInt8]) {
        Self.hexDigits(high >> 32, 8, &out)
        out.append(UInt8(ascii: "-"))
        Self.hexDigits((high >> 16) & 0xFFFF, 4, &out)
        out.append(UInt8(ascii: "-"))
        Self.hexDigits(high & 0xFFFF, 4, &out)
        out.append(UInt8(ascii: "-"))
        Self.hexDigits(low >> 48, 4, &out)
        out.append(UInt8(ascii: "-"))
        Self.hexDigits(low & 0xFFFF_FFFF_FFFF, 12, &out)
    }

    @inline(__always) static func hexDigits(_ v: UInt64, _ count: Int, _ out: inout [UInt8]) {
        var shift = (count - 1) * 4
        while shift >= 0 {
            let d = UInt8((v >> UInt64(shift)) & 0xF)
            out.append(d < 10 ? 48 + d : 87 + d)
            shift -= 4
        }
    }
}

/// Mints UUID v7 values: 48-bit milliseconds, then a 16-bit sequence that keeps them strictly increasing.
enum UUIDGenerator {
    /// `milliseconds << 16 | sequence`, advanced with compare-and-swap.
    private static let state = Atomic<UInt64>(0)
    private static let rng = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    static func next(nowNanos: Int64) -> RelayUUID {
        let ms = UInt64(max(0, nowNanos / 1_000_000)) & 0xFFFF_FFFF_FFFF
        var old = state.load(ordering: .relaxed)
        var new: UInt64
        repeat {
            new = max(old &+ 1, ms << 16)
            let (exchanged, original) = state.compareExchange(
                expected: old, desired: new, ordering: .relaxed)
            if exchanged { break }
            old = original
        } while true
        let stamp = new >> 16
        let seq = new & 0xFFFF
        let r = random()
        let high = stamp << 16 | 0x7000 | (seq >> 4)
        let low = 0x8000_0000_0000_0000 | ((seq & 0xF) << 58) | (r & 0x03FF_FFFF_FFFF_FFFF)
        return RelayUUID(high: high, low: low)
    }

    /// SplitMix64 over a shared atomic counter: lock-free and good enough for identifiers.
    static func random() -> UInt64 {
        var z = rng.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
