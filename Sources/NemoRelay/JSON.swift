// SPDX-License-Identifier: Apache-2.0

/// A JSON value with exact integers, ordered object keys and structural equality.
///
/// Integers that fit 64 bits are kept exactly (`int` for the signed range, `uint` above `Int64.max`);
/// every other number is a `double`. Equality is structural: object key order is irrelevant and
/// numbers compare by value (`1 == 1.0`).
public enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)
}

// MARK: - Accessors

extension JSON {
    /// True for `.null`.
    @inlinable public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The string payload, or nil for any other kind.
    @inlinable public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The boolean payload, or nil for any other kind.
    @inlinable public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The value with `null` mapped to nil: a key present with value null counts as absent.
    ///
    /// Prefer it to `flatMap { $0.isNull ? nil : $0 }`: `JSON` is `ExpressibleByNilLiteral`, so in that
    /// closure `nil` becomes `JSON.null` and the null survives.
    @inlinable public var nonNull: JSON? {
        if case .null = self { return nil }
        return self
    }

    /// The object payload, or nil for any other kind.
    @inlinable public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array payload, or nil for any other kind.
    @inlinable public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// True for the three number cases.
    @inlinable public var isNumber: Bool {
        switch self {
        case .int, .uint, .double: return true
        default: return false
        }
    }

    /// The numeric value as a Double (lossy above 2^53), or nil for non-numbers.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The value as an exact Int64 when it is an integer (or an integral double) in range.
    public var int64Value: Int64? {
        switch self {
        case .int(let i): return i
        case .uint(let u): return u <= UInt64(Int64.max) ? Int64(u) : nil
        case .double(let d):
            guard d.rounded() == d, d >= -9.223372036854775808e18, d < 9.223372036854775808e18 else { return nil }
            return Int64(d)
        default: return nil
        }
    }

    /// The member `key` of an object, or nil when absent or when this is not an object.
    @inlinable public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// A short name of the kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .uint, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

// MARK: - Literals

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var o = JSONObject(minimumCapacity: elements.count)
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
}

// MARK: - Structural equality

extension JSON: Equatable {
    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.uint(let a), .uint(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.int(let a), .uint(let b)), (.uint(let b), .int(let a)): return a >= 0 && UInt64(a) == b
        case (.int(let a), .double(let d)), (.double(let d), .int(let a)):
            return Double(a) == d && d.rounded() == d && d >= -9.223372036854775808e18
                && d < 9.223372036854775808e18 && Int64(d) == a
        case (.uint(let a), .double(let d)), (.double(let d), .uint(let a)):
            return Double(a) == d && d >= 0 && d < 1.8446744073709551616e19 && UInt64(d) == a
        default: return false
        }
    }
}

// MARK: - Ordered object

/// A JSON object that keeps insertion order and looks keys up by hash once it grows.
public struct JSONObject: Sendable, Equatable, Sequence {
    public typealias Element = (key: String, value: JSON)

    @usableFromInline var keys_: [String]
    @usableFromInline var values_: [JSON]
    /// Built lazily for objects above `indexThreshold` keys; nil otherwise.
    @usableFromInline var index: [JSONKey: Int]?

    @usableFromInline static var indexThreshold: Int { 12 }

    /// An empty object.
    public init() {
        keys_ = []
        values_ = []
        index = nil
    }

    /// An empty object with room for `n` keys.
    public init(minimumCapacity n: Int) {
        keys_ = []
        values_ = []
        keys_.reserveCapacity(n)
        values_.reserveCapacity(n)
        index = nil
    }

    /// An object of distinct `keys` and their `values`, with `index` when there are more than
    /// `indexThreshold` keys (as `rebuildIndex` would build it).
    init(keys: [String], values: [JSON], index: [JSONKey: Int]?) {
        keys_ = keys
        values_ = values
        self.index = index
    }

    /// The number of members.
    @inlinable public var count: Int { keys_.count }
    /// True when there are no members.
    @inlinable public var isEmpty: Bool { keys_.isEmpty }
    /// The keys in insertion order.
    @inlinable public var keys: [String] { keys_ }
    /// The values in insertion order.
    @inlinable public var values: [JSON] { values_ }

    /// Keys are byte sequences (RFC 8259): `"\u00e9"` and `"e\u0301"` are two keys, though Swift's
    /// `String ==` (canonical equivalence) would call them equal.
    @inlinable func position(of key: String) -> Int? {
        if let index { return index[JSONKey(key)] }
        for i in keys_.indices where JSONKey.same(keys_[i], key) { return i }
        return nil
    }

    /// True when `key` is present (even with a null value).
    @inlinable public func contains(_ key: String) -> Bool { position(of: key) != nil }

    /// Gets or sets a member; setting nil removes it, setting an existing key keeps its position.
    @inlinable public subscript(key: String) -> JSON? {
        get {
            guard let i = position(of: key) else { return nil }
            return values_[i]
        }
        set {
            if let newValue {
                if let i = position(of: key) {
                    values_[i] = newValue
                } else {
                    append(key, newValue)
                }
            } else {
                removeValue(forKey: key)
            }
        }
    }

    @usableFromInline mutating func append(_ key: String, _ value: JSON) {
        if keys_.capacity == 0 {
            // Most objects hold a handful of keys: skip the 1 -> 2 -> 4 regrowth.
            keys_.reserveCapacity(4)
            values_.reserveCapacity(4)
        }
        keys_.append(key)
        values_.append(value)
        if index != nil {
            index![JSONKey(key)] = keys_.count - 1
        } else if keys_.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    mutating func rebuildIndex() {
        guard keys_.count > Self.indexThreshold else {
            index = nil
            return
        }
        var d = [JSONKey: Int](minimumCapacity: keys_.count)
        for (i, k) in keys_.enumerated() { d[JSONKey(k)] = i }
        index = d
    }

    /// Removes `key` and returns its value, keeping the order of the others.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSON? {
        guard let i = position(of: key) else { return nil }
        keys_.remove(at: i)
        let v = values_.remove(at: i)
        if index != nil { rebuildIndex() }
        return v
    }

    /// The members in insertion order.
    public func makeIterator() -> AnyIterator<Element> {
        var i = 0
        let k = keys_
        let v = values_
        return AnyIterator {
            guard i < k.count else { return nil }
            defer { i += 1 }
            return (k[i], v[i])
        }
    }

    /// Calls `body` for each member in insertion order, without allocating an iterator.
    @inlinable public func forEach(_ body: (String, JSON) throws -> Void) rethrows {
        for i in keys_.indices { try body(keys_[i], values_[i]) }
    }

    /// Key-order-insensitive equality; keys compare by their bytes.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.keys_.elementsEqual(rhs.keys_, by: JSONKey.same) { return lhs.values_ == rhs.values_ }
        for i in lhs.keys_.indices {
            guard let v = rhs[lhs.keys_[i]], v == lhs.values_[i] else { return false }
        }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(minimumCapacity: elements.count)
        for (k, v) in elements { self[k] = v }
    }
}

/// An object key compared and hashed by its UTF-8 bytes, never by Unicode canonical equivalence.
@usableFromInline struct JSONKey: Hashable, Sendable {
    @usableFromInline let text: String

    @inlinable init(_ text: String) { self.text = text }

    @inlinable static func same(_ a: String, _ b: String) -> Bool {
        // Byte counts differ for most pairs of distinct keys, and are O(1) to read.
        guard a.utf8.count == b.utf8.count else { return false }
        let contiguous = a.utf8.withContiguousStorageIfAvailable { pa in
            b.utf8.withContiguousStorageIfAvailable { pb in bytesEqual(pa, pb) }
        }
        if let contiguous, let equal = contiguous { return equal }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// Byte equality of two buffers of the same count, eight bytes at a time.
    @inlinable static func bytesEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = a.count
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return n == b.count }
        var i = 0
        while i + 8 <= n {
            let wa = UnsafeRawPointer(pa + i).loadUnaligned(as: UInt64.self)
            if wa != UnsafeRawPointer(pb + i).loadUnaligned(as: UInt64.self) { return false }
            i += 8
        }
        while i < n {
            if pa[i] != pb[i] { return false }
            i += 1
        }
        return true
    }

    @inlinable static func == (l: JSONKey, r: JSONKey) -> Bool { same(l.text, r.text) }

    @inlinable func hash(into h: inout Hasher) {
        var t = text
        t.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

extension Optional where Wrapped == JSON {
    /// The value unless it is absent or null.
    @inlinable public var nonNull: JSON? {
        switch self {
        case .none, .some(.null): return .none
        case .some(let v): return v
        }
    }
}
