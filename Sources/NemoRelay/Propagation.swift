// SPDX-License-Identifier: Apache-2.0

/// Why a propagation context or one of its parts was refused.
///
/// `message` is the whole text a caller sees, exactly as the reference words it: validation failures
/// start with `invalid argument: `, a malformed uuid given as a constructor argument does not
/// (`invalid character: expected an optional prefix of ...`).
public struct PropagationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong.
    public enum Kind: Sendable, Equatable {
        /// A uuid string could not be parsed.
        case invalidUUID
        /// The wire JSON is malformed or has a field of the wrong type.
        case invalidJSON
        /// The values parse but are not usable: an unsupported version or an all-zero identifier.
        case invalidContext
    }

    /// What was wrong.
    public let kind: Kind
    /// The complete message.
    public let message: String

    /// Creates an error; `message` is the complete text.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The transport-neutral causal context that crosses a Relay boundary (docs/propagation.md).
///
/// Version 1 carries the Relay parent (`parent_uuid`), optionally the Relay root (`root_uuid`) and
/// optionally a W3C `traceparent`/`tracestate` pair. Values are always valid: constructing one checks
/// the version and refuses all-zero identifiers, and it drops invalid W3C values silently (a
/// `traceparent` of a later version is rewritten to version `00`), as the reference does.
public struct PropagationContext: Sendable, Hashable, CustomStringConvertible {
    /// The only wire-format version.
    public static let currentVersion: UInt16 = 1

    /// The wire-format version (always 1).
    public let version: UInt16
    /// The Relay root, when the sender knows one; nil for a rootless context.
    public let rootUUID: RelayUUID?
    /// The Relay event or scope that caused the boundary crossing.
    public let parentUUID: RelayUUID
    /// A valid W3C `traceparent` in its canonical form, if one is carried.
    public let traceparent: String?
    /// The canonical W3C `tracestate` that goes with `traceparent`, if any.
    public let tracestate: String?

    /// Checks and normalises a context: `version` must be 1, neither identifier may be all zero (or
    /// have an all-zero second half), and invalid W3C values are dropped.
    public init(
        parentUUID: RelayUUID, rootUUID: RelayUUID? = nil, version: UInt32 = 1, traceparent: String? = nil,
        tracestate: String? = nil
    ) throws(PropagationError) {
        try Self.validate(version: version, parent: parentUUID, root: rootUUID)
        self.init(
            checkedVersion: UInt16(version), parent: parentUUID, root: rootUUID,
            w3c: W3CTraceContext.normalize(traceparent: traceparent, tracestate: tracestate))
    }

    /// The constructor form of the bindings: uuid strings in any form the reference accepts (hyphenated,
    /// 32 hex digits, `{...}`, `urn:uuid:...`, either case). The parent is parsed first, then the root.
    public init(
        parentUUID: String, rootUUID: String? = nil, version: UInt32 = 1, traceparent: String? = nil,
        tracestate: String? = nil
    ) throws(PropagationError) {
        let parent = try RelayUUID.parseLenient(parentUUID)
        let root = try rootUUID.map { (s) throws(PropagationError) in try RelayUUID.parseLenient(s) }
        try self.init(
            parentUUID: parent, rootUUID: root, version: version, traceparent: traceparent, tracestate: tracestate)
    }

    /// Parses and checks the wire JSON (`from_json`); errors carry the reference's messages, positions included.
    public init(json: [UInt8]) throws(PropagationError) {
        let wire = try PropagationWireParser.parse(json)
        try self.init(
            parentUUID: wire.parent, rootUUID: wire.root, version: UInt32(wire.version), traceparent: wire.traceparent,
            tracestate: wire.tracestate)
    }

    /// Parses and checks the wire JSON text.
    public init(json: String) throws(PropagationError) {
        try self.init(json: Array(json.utf8))
    }

    init(checkedVersion: UInt16, parent: RelayUUID, root: RelayUUID?, w3c: (String, String?)?) {
        version = checkedVersion
        parentUUID = parent
        rootUUID = root
        traceparent = w3c?.0
        tracestate = w3c?.1
    }

    static func validate(version: UInt32, parent: RelayUUID, root: RelayUUID?) throws(PropagationError) {
        guard version == UInt32(currentVersion) else {
            throw PropagationError(
                .invalidContext, "invalid argument: unsupported propagation context version \(version); expected 1")
        }
        for (name, id) in [("parent_uuid", parent)] + (root.map { [("root_uuid", $0)] } ?? []) where id.low == 0 {
            throw PropagationError(
                .invalidContext, "invalid argument: propagation context \(name) is not a usable Relay identifier")
        }
    }

    /// The canonical wire JSON: `{"version":1,"root_uuid"?,"parent_uuid","traceparent"?,"tracestate"?}`.
    public var json: String {
        var w = JSONWriter(capacity: 200)
        w.bytes.append(contentsOf: "{\"version\":\(version)".utf8)
        if let rootUUID { w.bytes.append(contentsOf: ",\"root_uuid\":\"\(rootUUID)\"".utf8) }
        w.bytes.append(contentsOf: ",\"parent_uuid\":\"\(parentUUID)\"".utf8)
        if let traceparent {
            w.raw(",\"traceparent\":")
            w.writeString(traceparent)
        }
        if let tracestate {
            w.raw(",\"tracestate\":")
            w.writeString(tracestate)
        }
        w.raw("}")
        return String(decoding: w.bytes, as: UTF8.self)
    }

    public var description: String { json }

    /// The W3C `traceparent` for this context: the carried one, else `00-<root>-<parent tail>-01`.
    /// A rootless context without a carried `traceparent` has none.
    public func traceparentHeader() throws(PropagationError) -> String {
        if let traceparent { return traceparent }
        guard let rootUUID else {
            throw PropagationError(
                .invalidContext, "invalid argument: rootless propagation context cannot be converted to traceparent")
        }
        return parentUUID.traceparent(traceID: rootUUID)
    }

    /// The parsed W3C parent this context carries, if any.
    var w3cParent: W3CTraceContext? { traceparent.flatMap { W3CTraceContext.parse($0, tracestate: tracestate) } }
}

// MARK: - Lenient uuid parsing

extension RelayUUID {
    /// Parses a uuid as the reference does (hyphenated, 32 hex digits, `{hyphenated}` or
    /// `urn:uuid:hyphenated`; hex digits in either case) and words a failure as it does.
    public static func parseLenient(_ text: String) throws(PropagationError) -> RelayUUID {
        let b = Array(text.utf8)
        if let u = fastParse(b) { return u }
        throw PropagationError(.invalidUUID, parseFailure(text, b))
    }

    /// The accepted shapes: 32 hex digits, 36 hyphenated, 38 braced, 45 with the urn prefix.
    private static func fastParse(_ b: [UInt8]) -> RelayUUID? {
        switch b.count {
        case 32: return hexDigits(b[...], hyphenated: false)
        case 36: return hexDigits(b[...], hyphenated: true)
        case 38 where b[0] == UInt8(ascii: "{") && b[37] == UInt8(ascii: "}"):
            return hexDigits(b[1..<37], hyphenated: true)
        case 45 where b.starts(with: urnPrefix): return hexDigits(b[9...], hyphenated: true)
        default: return nil
        }
    }

    private static let urnPrefix = Array("urn:uuid:".utf8)

    private static func hexDigits(_ s: ArraySlice<UInt8>, hyphenated: Bool) -> RelayUUID? {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        var n = 0
        for (i, c) in s.enumerated() {
            if hyphenated && (i == 8 || i == 13 || i == 18 || i == 23) {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let d = hexValue(c) else { return nil }
            if n < 16 { hi = hi << 4 | UInt64(d) } else { lo = lo << 4 | UInt64(d) }
            n += 1
        }
        return n == 32 ? RelayUUID(high: hi, low: lo) : nil
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - 55
        default: return nil
        }
    }

    /// The detailed diagnosis of a string the fast path refused. A braced or urn input of the right
    /// length is diagnosed as its inner 36 characters alone, as the reference does.
    private static func parseFailure(_ text: String, _ b: [UInt8]) -> String {
        if b.count == 38 && b[0] == UInt8(ascii: "{") && b[37] == UInt8(ascii: "}") {
            return diagnose(b[1..<37], prefixed: false)
        }
        if b.count == 45 && b.starts(with: urnPrefix) { return diagnose(b[9...], prefixed: false) }
        return diagnose(b[...], prefixed: true)
    }

    private static func diagnose(_ input: ArraySlice<UInt8>, prefixed: Bool) -> String {
        var body = input
        var offset = 0
        var simple = true
        if prefixed && input.count >= 2 && input.first == UInt8(ascii: "{") && input.last == UInt8(ascii: "}") {
            body = input.dropFirst().dropLast()
            offset = 1
            simple = false
        } else if prefixed && input.starts(with: urnPrefix) {
            body = input.dropFirst(9)
            offset = 9
            simple = false
        }
        var hyphens = 0
        var bounds = [0, 0, 0, 0]
        var i = body.startIndex
        while i < body.endIndex {
            let c = body[i]
            let index = i - body.startIndex
            if c >= 0x80 || (c != UInt8(ascii: "-") && hexValue(c) == nil) {
                return
                    "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `\(decodeScalar(body, at: i))` at \(index + offset + 1)"
            }
            if c == UInt8(ascii: "-") {
                if hyphens < 4 { bounds[hyphens] = index }
                hyphens += 1
            }
            i += 1
        }
        if hyphens == 0 && simple {
            return "invalid length: expected length 32 for simple format, found \(input.count)"
        }
        if hyphens != 4 { return "invalid group count: expected 5, found \(hyphens + 1)" }
        let starts = [0, 9, 14, 19, 24]
        let expected = [8, 4, 4, 4, 12]
        for g in 0..<4 where bounds[g] != starts[g + 1] - 1 {
            return "invalid group length in group \(g): expected \(expected[g]), found \(bounds[g] - starts[g])"
        }
        // The last group is too long or too short; the reference measures it against the whole input.
        return "invalid group length in group 4: expected 12, found \(input.count - starts[4])"
    }

    /// The character that starts at byte `i` of valid UTF-8 `b`.
    private static func decodeScalar(_ b: ArraySlice<UInt8>, at i: Int) -> String {
        var end = i + 1
        while end < b.endIndex && b[end] & 0xC0 == 0x80 { end += 1 }
        return String(decoding: b[i..<end], as: UTF8.self)
    }
}
