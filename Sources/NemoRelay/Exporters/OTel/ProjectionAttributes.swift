// SPDX-License-Identifier: Apache-2.0

/// Attribute building blocks shared by the three projections (docs/otel.md, "Common rules").
enum OTelAttr {
    // MARK: JSON values

    /// Compact JSON with object keys in byte order and the reference's double spelling, the text every
    /// JSON-valued attribute carries.
    static func jsonText(_ value: JSON) -> String {
        String(decoding: value.serialized(sortedKeys: true, doubleSpelling: .reference), as: UTF8.self)
    }

    /// Compact JSON keeping the key order given (for values whose order the reference fixes).
    static func orderedJSONText(_ value: JSON) -> String {
        String(decoding: value.serialized(sortedKeys: false, doubleSpelling: .reference), as: UTF8.self)
    }

    /// One attribute per top-level member of an object (`prefix.member`), or one attribute named `prefix`
    /// for any other value; nothing for nil.
    static func pushTopLevel(_ attrs: inout [OTelAttribute], _ prefix: String, _ value: JSON?) {
        guard let value else { return }
        if case .object(let o) = value {
            // The reference reads payloads as maps ordered by key.
            let keys = o.keys
            var sorted = true
            for i in keys.indices.dropFirst() where !keys[i - 1].utf8.lexicographicallyPrecedes(keys[i].utf8) {
                sorted = false
                break
            }
            if sorted {
                o.forEach { k, v in pushValue(&attrs, prefix + "." + k, v) }
            } else {
                let values = o.values
                for i in keys.indices.sorted(by: { keys[$0].utf8.lexicographicallyPrecedes(keys[$1].utf8) }) {
                    pushValue(&attrs, prefix + "." + keys[i], values[i])
                }
            }
        } else {
            pushValue(&attrs, prefix, value)
        }
    }

    /// A scalar as its typed attribute, an integer above `Int64.max` as decimal text, an array or object as
    /// JSON text; null is skipped.
    static func pushValue(_ attrs: inout [OTelAttribute], _ key: String, _ value: JSON) {
        switch value {
        case .null: return
        case .bool(let b): attrs.append(OTelAttribute(key, .bool(b)))
        case .string(let s): attrs.append(OTelAttribute(key, .string(s)))
        case .int(let i): attrs.append(OTelAttribute(key, .int(i)))
        case .uint(let u):
            attrs.append(OTelAttribute(key, u <= UInt64(Int64.max) ? .int(Int64(u)) : .string(String(u))))
        case .double(let d): attrs.append(OTelAttribute(key, .double(d)))
        case .array, .object: attrs.append(OTelAttribute(key, .string(jsonText(value))))
        }
    }

    /// The same value with every object's keys in byte order (for nesting sorted values inside an ordered
    /// object).
    static func sortedDeep(_ value: JSON) -> JSON { value.atifCanonical }

    // MARK: Session identity

    /// `session.id`, `user.id`, `nemo_relay.agent.kind` from metadata and `nemo_relay.session.instance_id`
    /// from the event's propagation root.
    static func pushSessionIdentity(_ attrs: inout [OTelAttribute], _ e: OTelEvent) {
        if let v = e.metadataString("session_id") { attrs.append(OTelAttribute("session.id", .string(v))) }
        if let v = e.metadataString("user_id") { attrs.append(OTelAttribute("user.id", .string(v))) }
        if let v = e.metadataString("agent_kind") { attrs.append(OTelAttribute("nemo_relay.agent.kind", .string(v))) }
        if let root = e.propagationRoot {
            attrs.append(OTelAttribute("nemo_relay.session.instance_id", .string(root)))
        }
    }

    /// `nemo_relay.tool.result.annotation`: the tool end's result annotation as one JSON attribute.
    static func pushToolResultAnnotation(_ attrs: inout [OTelAttribute], _ e: OTelEvent) {
        guard e.phase == .end, e.isTool, let annotation = e.toolResultAnnotation else { return }
        attrs.append(OTelAttribute("nemo_relay.tool.result.annotation", .string(jsonText(annotation))))
    }

    // MARK: Attribute mappings

    /// The attributes a span keeps from its start to resolve mappings at its end: mapped keys and aliases.
    static func mappingInputs(_ attrs: [OTelAttribute], _ mappings: [(key: String, alias: String)]) -> [OTelAttribute] {
        guard !mappings.isEmpty else { return [] }
        return attrs.filter { a in mappings.contains { a.key == $0.key || a.key == $0.alias } }
    }

    /// One alias per mapping whose alias is not projected already and whose key is (its last value).
    static func mappingAliases(_ projected: [OTelAttribute], _ mappings: [(key: String, alias: String)])
        -> [OTelAttribute]
    {
        guard !mappings.isEmpty else { return [] }
        var existing = Set<String>()
        for a in projected { existing.insert(a.key) }
        var out: [OTelAttribute] = []
        for m in mappings where !existing.contains(m.alias) {
            if let source = projected.last(where: { $0.key == m.key }) {
                out.append(OTelAttribute(m.alias, source.value))
            }
        }
        return out
    }

    // MARK: Metadata promotion

    static let reservedNamespaces = [
        "error.", "exception.", "gen_ai.", "input.", "llm.", "nemo_relay.", "openinference.", "output.", "server.",
        "service.", "session.", "tool.", "tool_call.", "user.",
    ]

    static func isReserved(_ key: String) -> Bool {
        key == "metadata" || reservedNamespaces.contains { key.hasPrefix($0) }
    }

    /// Appends typed copies of the top-level metadata members matching `prefixes` to `target`, skipping keys
    /// already in `target` or `protected`; returns the promoted keys and the refused ones with their reasons.
    static func promote(
        into target: inout [OTelAttribute], metadata: JSON?, prefixes: [String], protected: Set<String>
    ) -> (promoted: Set<String>, issues: [(key: String, reason: String)]) {
        guard !prefixes.isEmpty, case .object(let md)? = metadata else { return ([], []) }
        var existing = protected
        for a in target { existing.insert(a.key) }
        var promoted = Set<String>()
        var issues: [(key: String, reason: String)] = []
        let keys = md.keys
        let values = md.values
        for i in keys.indices.sorted(by: { keys[$0].utf8.lexicographicallyPrecedes(keys[$1].utf8) }) {
            let key = keys[i]
            let value = values[i]
            guard prefixes.contains(where: { key.hasPrefix($0) }) else { continue }
            if isReserved(key) {
                issues.append((key, "attribute key is reserved by Relay or an OpenTelemetry projection"))
                continue
            }
            guard !existing.contains(key) else { continue }
            switch promotedValue(value) {
            case .success(let v):
                target.append(OTelAttribute(key, v))
                existing.insert(key)
                promoted.insert(key)
            case .failure(let reason):
                issues.append((key, reason.text))
            }
        }
        return (promoted, issues)
    }

    struct Refusal: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// A metadata value as a typed attribute value: scalars, and arrays of one primitive type.
    static func promotedValue(_ value: JSON) -> Result<OTelValue, Refusal> {
        switch value {
        case .string(let s): return .success(.string(s))
        case .bool(let b): return .success(.bool(b))
        case .int(let i): return .success(.int(i))
        case .uint(let u):
            return u <= UInt64(Int64.max)
                ? .success(.int(Int64(u))) : .failure(Refusal("unsigned integer is larger than OTLP i64"))
        case .double(let d): return .success(.double(d))
        case .null: return .failure(Refusal("null values are not OTLP attributes"))
        case .object: return .failure(Refusal("object values are not supported"))
        case .array(let items): return promotedArray(items)
        }
    }

    static func promotedArray(_ items: [JSON]) -> Result<OTelValue, Refusal> {
        guard let first = items.first else { return .success(.array([])) }
        let mixed = Refusal("array values must have one primitive type")
        switch first {
        case .string:
            var out: [OTelValue] = []
            out.reserveCapacity(items.count)
            for case .string(let s) in items { out.append(.string(s)) }
            return out.count == items.count ? .success(.array(out)) : .failure(mixed)
        case .bool:
            var out: [OTelValue] = []
            out.reserveCapacity(items.count)
            for case .bool(let b) in items { out.append(.bool(b)) }
            return out.count == items.count ? .success(.array(out)) : .failure(mixed)
        case .int, .uint, .double:
            guard items.allSatisfy(\.isNumber) else { return .failure(mixed) }
            var ints: [OTelValue] = []
            ints.reserveCapacity(items.count)
            for item in items {
                switch item {
                case .int(let i): ints.append(.int(i))
                case .uint(let u) where u <= UInt64(Int64.max): ints.append(.int(Int64(u)))
                default: break
                }
            }
            if ints.count == items.count { return .success(.array(ints)) }
            if items.contains(where: {
                if case .uint(let u) = $0 { return u > UInt64(Int64.max) } else { return false }
            }
            ) {
                return .failure(Refusal("array contains an unsigned integer larger than OTLP i64"))
            }
            return .success(.array(items.map { .double($0.doubleValue ?? 0) }))
        case .null: return .failure(Refusal("arrays of null are not OTLP attributes"))
        case .array, .object: return .failure(Refusal("nested arrays and objects are not supported"))
        }
    }

    static let metadataFamilies = [
        "nemo_relay.start.metadata.", "nemo_relay.end.metadata.", "nemo_relay.mark.metadata.",
        "openinference.metadata.",
    ]

    /// Removes the promoted keys from the metadata families of `attrs`; a `metadata` attribute is replaced by
    /// one written without them, at the end.
    static func stripPromoted(_ attrs: inout [OTelAttribute], promoted: Set<String>, metadata: JSON?) {
        guard !promoted.isEmpty else { return }
        var hadMetadata = false
        attrs.removeAll { a in
            if a.key == "metadata" {
                hadMetadata = true
                return true
            }
            for family in metadataFamilies where a.key.hasPrefix(family) {
                if promoted.contains(String(a.key.dropFirst(family.count))) { return true }
            }
            return false
        }
        guard hadMetadata, case .object(let md)? = metadata else { return }
        var kept = JSONObject(minimumCapacity: md.count)
        md.forEach { k, v in if !promoted.contains(k) { kept[k] = v } }
        attrs.append(OTelAttribute("metadata", .string(jsonText(.object(kept)))))
    }
}

/// Bounded diagnostics in the reference's shape: at most 32 codes, each with a count and its distinct
/// messages joined by newlines within 1024 characters (docs/otel.md, "Diagnostics").
public struct OTelDiagnostics: Sendable {
    struct Entry: Sendable {
        var messages: [String]
        var message: String
        var count: Int
    }

    static let maxCodes = 32
    static let maxMessageCharacters = 1024

    var entries: [String: Entry] = [:]

    /// No diagnostics.
    public init() {}

    /// Adds `count` occurrences of `code` with `message`; returns the code's total, or 0 when the code was
    /// dropped because 32 other codes are recorded already.
    @discardableResult
    public mutating func record(code: String, message: String, count: Int = 1) -> Int {
        let count = max(count, 1)
        let message = Self.truncated(message)
        if var entry = entries[code] {
            let (sum, overflow) = entry.count.addingReportingOverflow(count)
            entry.count = overflow ? Int.max : sum
            if !entry.messages.contains(message) {
                var messages = entry.messages
                messages.append(message)
                messages.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                let combined = messages.joined(separator: "\n")
                if combined.unicodeScalars.count <= Self.maxMessageCharacters {
                    entry.messages = messages
                    entry.message = combined
                }
            }
            entries[code] = entry
            return entry.count
        }
        guard entries.count < Self.maxCodes else { return 0 }
        entries[code] = Entry(messages: [message], message: message, count: count)
        return count
    }

    /// The diagnostics in code order.
    public var all: [(code: String, message: String, count: Int)] {
        entries.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { code in
            let e = entries[code]!
            return (code, e.message, e.count)
        }
    }

    static func truncated(_ message: String) -> String {
        guard message.unicodeScalars.count > maxMessageCharacters else { return message }
        var out = String.UnicodeScalarView(message.unicodeScalars.prefix(maxMessageCharacters - 1))
        out.append("\u{2026}")
        return String(out)
    }
}

/// Rust's `{:?}` rendering of a string: quoted, with quotes, backslashes and control characters escaped.
func rustDebugQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\0": out += "\\0"
        default:
            if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
