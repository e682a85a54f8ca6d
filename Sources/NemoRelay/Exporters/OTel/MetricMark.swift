// SPDX-License-Identifier: Apache-2.0

/// Recognition and validation of metric marks: marks whose `data_schema` is `nemo.relay.metric_measurements`
/// carry metric recordings and never become trace data (docs/otel.md, "Marks").
enum OTelMetricMark {
    static let schemaName = "nemo.relay.metric_measurements"
    static let schemaVersion = "1"

    enum Classification: Equatable {
        case notMetric
        case valid
        case invalid(String)
    }

    static func classify(_ e: OTelEvent) -> Classification {
        guard e.phase == .mark, let schema = e.dataSchema, schema.name == schemaName else { return .notMetric }
        guard schema.version == schemaVersion else {
            return .invalid("unsupported metric schema version \(rustDebugQuoted(schema.version))")
        }
        guard let data = e.data else { return .invalid("metric mark data is missing") }
        do {
            try validate(envelope: data)
            return .valid
        } catch let failure {
            return .invalid(failure.message)
        }
    }

    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
        /// A decoding failure, worded as the reference's deserializer words it.
        static func decode(_ text: String) -> Failure { Failure("invalid metric envelope: " + text) }
        static func invalidType(_ v: JSON, _ expected: String) -> Failure {
            decode("invalid type: \(unexpected(v)), expected \(expected)")
        }
    }

    /// How the deserializer names an unexpected value.
    static func unexpected(_ v: JSON) -> String {
        switch v {
        case .double(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 1e16 { return "floating point `\(Int64(d)).0`" }
            return "floating point `\(d)`"
        case .string(let s): return "string \(rustDebugQuoted(s))"
        default: return v.serdeDescription
        }
    }

    static let measurementFields = [
        "name", "kind", "value_type", "value", "unit", "description", "attributes", "boundaries",
    ]
    static let kinds = ["counter", "up_down_counter", "gauge", "histogram"]
    static let valueTypes = ["u64", "i64", "f64"]

    struct Measurement {
        var name: String
        var kind: String
        var valueType: String
        var value: JSON
        var unit: String?
        var attributes: JSON?
        var boundaries: [Double]?
    }

    // MARK: Decoding

    static func validate(envelope data: JSON) throws(Failure) {
        var parsed: [Measurement]?
        switch data {
        case .object(let o):
            for key in sortedKeys(o) {
                guard key == "measurements" else {
                    throw .decode("unknown field `\(key)`, expected `measurements`")
                }
                parsed = try decodeList(o[key]!)
            }
            guard parsed != nil else { throw .decode("missing field `measurements`") }
        case .array(let items):
            guard let first = items.first else {
                throw .decode("invalid length 0, expected struct MetricEnvelope with 1 element")
            }
            parsed = try decodeList(first)
            if items.count > 1 { throw .decode("invalid length \(items.count), expected fewer elements in array") }
        default:
            throw .invalidType(data, "struct MetricEnvelope")
        }
        let measurements = parsed ?? []
        try validate(measurements)
    }

    static func decodeList(_ list: JSON) throws(Failure) -> [Measurement] {
        guard case .array(let raw) = list else { throw .invalidType(list, "a sequence") }
        var parsed: [Measurement] = []
        parsed.reserveCapacity(raw.count)
        for item in raw { parsed.append(try decodeMeasurement(item)) }
        return parsed
    }

    static func validate(_ parsed: [Measurement]) throws(Failure) {
        guard !parsed.isEmpty else { throw Failure("measurements must contain at least one entry") }
        for (i, m) in parsed.enumerated() {
            do {
                try check(m)
            } catch let failure {
                throw Failure("measurements[\(i)] \(failure.message)")
            }
        }
        var descriptors: [String: Int] = [:]
        for (i, m) in parsed.enumerated() {
            let key = asciiLowercased(m.name)
            if let previous = descriptors.updateValue(i, forKey: key) {
                let p = parsed[previous]
                if p.kind != m.kind || p.unit != m.unit || p.valueType != m.valueType {
                    throw Failure("measurements[\(i)] conflicts with the descriptor for measurements[\(previous)]")
                }
            }
        }
    }

    static func sortedKeys(_ o: JSONObject) -> [String] {
        o.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    static func decodeMeasurement(_ item: JSON) throws(Failure) -> Measurement {
        var fields: [String: JSON] = [:]
        switch item {
        case .object(let o):
            for key in sortedKeys(o) {
                guard measurementFields.contains(key) else {
                    let expected = measurementFields.map { "`\($0)`" }.joined(separator: ", ")
                    throw .decode("unknown field `\(key)`, expected one of \(expected)")
                }
                let v = o[key]!
                try checkFieldType(key, v)
                fields[key] = v
            }
            for key in ["name", "kind", "value_type", "value"] where fields[key] == nil {
                throw .decode("missing field `\(key)`")
            }
        case .array(let items):
            for (i, key) in measurementFields.enumerated() {
                guard i < items.count else {
                    throw .decode("invalid length \(i), expected struct MetricMeasurement with 8 elements")
                }
                try checkFieldType(key, items[i])
                fields[key] = items[i]
            }
            if items.count > measurementFields.count {
                throw .decode("invalid length \(items.count), expected fewer elements in array")
            }
        default:
            throw .invalidType(item, "struct MetricMeasurement")
        }
        var boundaries: [Double]?
        if case .array(let b)? = fields["boundaries"] { boundaries = b.compactMap(\.doubleValue) }
        return Measurement(
            name: fields["name"]?.stringValue ?? "", kind: variant(fields["kind"]) ?? "",
            valueType: variant(fields["value_type"]) ?? "", value: fields["value"] ?? .null,
            unit: fields["unit"]?.stringValue, attributes: fields["attributes"].nonNull, boundaries: boundaries)
    }

    /// The variant named by an enum value: a string, or the single key of a map.
    static func variant(_ v: JSON?) -> String? {
        switch v {
        case .string(let s)?: return s
        case .object(let o)?: return o.keys.first
        default: return nil
        }
    }

    static func checkFieldType(_ key: String, _ v: JSON) throws(Failure) {
        switch key {
        case "name":
            guard case .string = v else { throw .invalidType(v, "a string") }
        case "unit", "description":
            switch v {
            case .null, .string: break
            default: throw .invalidType(v, "a string")
            }
        case "kind", "value_type":
            let names = key == "kind" ? kinds : valueTypes
            let name: String
            switch v {
            case .string(let s): name = s
            case .object(let o):
                guard o.count == 1, let only = o.keys.first else {
                    throw .decode("invalid value: map, expected map with a single key")
                }
                name = only
            default: throw .invalidType(v, "string or map")
            }
            guard names.contains(name) else {
                let expected = names.map { "`\($0)`" }.joined(separator: ", ")
                throw .decode("unknown variant `\(name)`, expected one of \(expected)")
            }
            if case .object(let o) = v, let payload = o.values.first, !payload.isNull {
                throw .invalidType(payload, "unit variant")
            }
        case "boundaries":
            switch v {
            case .null: break
            case .array(let items):
                for item in items where !item.isNumber { throw .invalidType(item, "f64") }
            default: throw .invalidType(v, "a sequence")
            }
        default:
            break
        }
    }

    // MARK: Validation

    static func check(_ m: Measurement) throws(Failure) {
        let bytes = Array(m.name.utf8)
        let validName =
            bytes.first.map { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) } == true && bytes.count <= 255
            && bytes.dropFirst().allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 46 || c == 45
                    || c == 47
            }
        guard validName else {
            throw Failure(
                "name must be 1-255 ASCII bytes, start with a letter, and contain only letters, digits, '_', '.', '-', or '/'"
            )
        }
        if let b = m.boundaries {
            guard b.count <= 64 else { throw Failure("boundaries must contain at most 64 entries") }
            guard b.allSatisfy(\.isFinite) else { throw Failure("must be finite") }
            for i in b.indices.dropFirst() where b[i - 1] >= b[i] {
                throw Failure("boundaries must be strictly increasing without duplicates")
            }
            guard m.kind == "histogram" else { throw Failure("boundaries are only valid for histogram measurements") }
        }
        if let unit = m.unit, unit.utf8.count > 63 || !unit.utf8.allSatisfy({ $0 < 0x80 }) {
            throw Failure("unit must be ASCII and at most 63 bytes")
        }
        switch m.valueType {
        case "u64":
            guard case .int(let i) = m.value, i >= 0 else {
                throw Failure("value must be an unsigned integer no greater than i64::MAX")
            }
        case "i64":
            guard case .int = m.value else { throw Failure("value must be a signed integer") }
        default:
            guard let d = m.value.doubleValue else { throw Failure("value must be a number") }
            guard d.isFinite else { throw Failure("must be finite") }
            if m.kind == "counter" && d < 0 { throw Failure("counter values must be non-negative") }
        }
        let accepted: Bool
        switch (m.kind, m.valueType) {
        case ("counter", "u64"), ("counter", "f64"), ("up_down_counter", "i64"), ("up_down_counter", "f64"),
            ("gauge", _), ("histogram", "u64"), ("histogram", "f64"):
            accepted = true
        default:
            accepted = false
        }
        guard accepted else { throw Failure("kind \(m.kind) does not support value_type \(m.valueType)") }
        if let attributes = m.attributes { try checkAttributes(attributes) }
    }

    static func checkAttributes(_ v: JSON) throws(Failure) {
        guard case .object(let o) = v else { throw Failure("attributes must be a JSON object") }
        for key in sortedKeys(o) {
            if OTelDisplay.trimmed(key).isEmpty { throw Failure("attributes contains a blank attribute key") }
            try checkAttributeValue(o[key]!)
        }
    }

    enum AttributeType {
        case string, bool, int, double, array
    }

    @discardableResult
    static func checkAttributeValue(_ v: JSON) throws(Failure) -> AttributeType {
        switch v {
        case .string: return .string
        case .bool: return .bool
        case .int: return .int
        case .uint: throw Failure("attribute values must not exceed the maximum signed 64-bit integer")
        case .double(let d):
            guard d.isFinite else { throw Failure("must be finite") }
            return .double
        case .null: throw Failure("attribute values must not be null")
        case .object: throw Failure("attribute values must be primitive values or homogeneous primitive arrays")
        case .array(let items):
            guard let first = items.first else { throw Failure("attribute arrays must not be empty and untyped") }
            let mixed = Failure("attribute arrays must contain one primitive type")
            switch try checkAttributeValue(first) {
            case .string: guard items.allSatisfy({ $0.stringValue != nil }) else { throw mixed }
            case .bool: guard items.allSatisfy({ $0.boolValue != nil }) else { throw mixed }
            case .int: guard items.allSatisfy({ if case .int = $0 { true } else { false } }) else { throw mixed }
            case .double:
                guard items.allSatisfy({ if case .double(let d) = $0 { d.isFinite } else { false } }) else {
                    throw mixed
                }
            case .array: throw Failure("attribute arrays must contain primitive values")
            }
            return .array
        }
    }
}
