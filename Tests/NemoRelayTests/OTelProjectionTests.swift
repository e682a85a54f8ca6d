// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// One configuration of `Tests/vectors/otel.json` (captured by `scripts/capture_otel_vectors.sh`): the raw
/// events of the scenario and the spans the reference exported for them.
struct OTelVector: Sendable, CustomTestStringConvertible {
    var name: String
    var config: JSON
    var events: [JSON]
    var spans: [JSON]
    var diagnostics: [JSON]

    var testDescription: String { name }

    static let all: [OTelVector] = {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("otel.json")
        guard let data = try? Data(contentsOf: url), let root = try? JSON.parse([UInt8](data)),
            case .object(let configurations)? = root["configurations"]
        else { return [] }
        return configurations.compactMap { name, c in
            guard let config = c["config"], let events = c["events_raw"]?.arrayValue,
                let spans = c["spans_raw"]?.arrayValue
            else { return nil }
            return OTelVector(
                name: name, config: config, events: events, spans: spans,
                diagnostics: c["runtime_diagnostics"]?.arrayValue ?? [])
        }
    }()

    static func named(_ name: String) -> OTelVector? { all.first { $0.name == name } }

    /// The projection configuration the vector's `OpenTelemetryConfig` attributes describe.
    var projectionConfig: OTelProjectionConfig {
        var c = OTelProjectionConfig(type: OTelProjectionType(rawValue: config["type"]?.stringValue ?? "") ?? .full)
        if let m = config["mark_projection"]?.stringValue, let p = OTelMarkProjection(rawValue: m) {
            c.markProjection = p
        }
        if let names = config["mark_exclude_names"]?.arrayValue { c.markExcludeNames = names.compactMap(\.stringValue) }
        if let mappings = config["attribute_mappings"]?.arrayValue {
            c.attributeMappings = mappings.compactMap { m in
                guard let k = m["key"]?.stringValue, let a = m["alias"]?.stringValue else { return nil }
                return (k, a)
            }
        }
        if let prefixes = config["promote_metadata_prefixes"]?.arrayValue {
            c.promoteMetadataPrefixes = prefixes.compactMap(\.stringValue)
        }
        if let ttl = config["completed_span_context_ttl_millis"]?.int64Value {
            c.completedSpanContextTTLNanos = ttl * 1_000_000
        }
        return c
    }
}

/// OTLP/JSON of a span as the vectors record it: hex ids, integer enums, 64-bit integers as decimal
/// strings, default values omitted.
enum OTLPTestJSON {
    static func value(_ v: OTelValue) -> JSON {
        switch v {
        case .string(let s): return ["stringValue": .string(s)]
        case .bool(let b): return ["boolValue": .bool(b)]
        case .int(let i): return ["intValue": .string(String(i))]
        case .double(let d): return ["doubleValue": .double(d)]
        case .array(let items):
            return ["arrayValue": items.isEmpty ? .object(JSONObject()) : ["values": .array(items.map(value))]]
        case .kvlist(let kvs): return ["kvlistValue": ["values": .array(kvs.map(attribute))]]
        case .bytes(let b): return ["bytesValue": .string(Data(b).base64EncodedString())]
        }
    }

    static func attribute(_ a: OTelAttribute) -> JSON { ["key": .string(a.key), "value": value(a.value)] }

    static func span(_ s: OTelSpan) -> JSON {
        var o = JSONObject()
        o["traceId"] = .string(hexString(s.traceID))
        o["spanId"] = .string(hexString(s.spanID))
        if !s.traceState.isEmpty { o["traceState"] = .string(s.traceState) }
        if !s.parentSpanID.isEmpty { o["parentSpanId"] = .string(hexString(s.parentSpanID)) }
        o["name"] = .string(s.name)
        if s.kind != .unspecified { o["kind"] = .int(Int64(s.kind.rawValue)) }
        o["startTimeUnixNano"] = .string(String(s.startTimeUnixNano))
        o["endTimeUnixNano"] = .string(String(s.endTimeUnixNano))
        if !s.attributes.isEmpty { o["attributes"] = .array(s.attributes.map(attribute)) }
        if !s.events.isEmpty {
            o["events"] = .array(
                s.events.map { e in
                    var eo = JSONObject()
                    eo["timeUnixNano"] = .string(String(e.timeUnixNano))
                    eo["name"] = .string(e.name)
                    if !e.attributes.isEmpty { eo["attributes"] = .array(e.attributes.map(attribute)) }
                    return .object(eo)
                })
        }
        if s.droppedEventsCount != 0 { o["droppedEventsCount"] = .int(Int64(s.droppedEventsCount)) }
        var status = JSONObject()
        if !s.statusMessage.isEmpty { status["message"] = .string(s.statusMessage) }
        if s.statusCode != .unset { status["code"] = .int(Int64(s.statusCode.rawValue)) }
        o["status"] = .object(status)
        if s.flags != 0 { o["flags"] = .int(Int64(s.flags)) }
        return .object(o)
    }
}

/// Feeds `events` through a builder; returns the spans in order (as OTLP JSON) and the builder.
func projectSpans(_ events: [JSON], _ config: OTelProjectionConfig) -> ([JSON], OTelSpanBuilder) {
    var builder = OTelSpanBuilder(config: config)
    var spans: [JSON] = []
    for e in events { spans += builder.consume(e).map(OTLPTestJSON.span) }
    return (spans, builder)
}

/// The first differences between two span lists, per span.
func spanListDifferences(_ got: [JSON], _ expected: [JSON]) -> [String] {
    var out: [String] = []
    if got.count != expected.count {
        out.append("span count \(got.count), expected \(expected.count)")
        out.append("  got names: \(got.map { $0["name"]?.stringValue ?? "?" })")
        out.append("  expected:  \(expected.map { $0["name"]?.stringValue ?? "?" })")
    }
    for i in 0..<min(got.count, expected.count) where got[i] != expected[i] {
        let name = expected[i]["name"]?.stringValue ?? "?"
        out.append("span \(i) (\(name)):")
        out += jsonDifferences(got[i], expected[i], path: "  $").map { "  " + $0 }
        if out.count > 40 { break }
    }
    return out
}

@Suite struct OTelProjectionTests {
    static let engineConfigurations = ["full", "full_mark_event", "full_mark_tool", "full_custom"]

    @Test(arguments: engineConfigurations)
    func fullProjectionMatchesTheReference(_ name: String) throws {
        let v = try #require(OTelVector.named(name), "vector \(name) missing")
        let (spans, builder) = projectSpans(v.events, v.projectionConfig)
        let diffs = spanListDifferences(spans, v.spans)
        #expect(diffs.isEmpty, "\(name):\n\(diffs.joined(separator: "\n"))")
        #expect(builder.diagnostics.count == v.diagnostics.count)
        #expect(builder.openSpanCount == 0)
    }

    static let openInferenceConfigurations = ["openinference", "openinference_mark_tool", "openinference_custom"]

    @Test(arguments: openInferenceConfigurations)
    func openInferenceProjectionMatchesTheReference(_ name: String) throws {
        let v = try #require(OTelVector.named(name), "vector \(name) missing")
        let (spans, builder) = projectSpans(v.events, v.projectionConfig)
        let diffs = spanListDifferences(spans, v.spans)
        #expect(diffs.isEmpty, "\(name):\n\(diffs.joined(separator: "\n"))")
        #expect(builder.diagnostics.count == v.diagnostics.count)
    }

    @Test func genAIProjectionMatchesTheReference() throws {
        let v = try #require(OTelVector.named("gen_ai"), "vector gen_ai missing")
        let (spans, builder) = projectSpans(v.events, v.projectionConfig)
        let diffs = spanListDifferences(spans, v.spans)
        #expect(diffs.isEmpty, "gen_ai:\n\(diffs.joined(separator: "\n"))")
        #expect(builder.diagnostics.count == v.diagnostics.count)
    }
}

/// One configuration of one case of `Tests/vectors/otel_cases.json` (captured by
/// `scripts/capture_otel_case_vectors.sh`).
struct OTelCaseVector: Sendable, CustomTestStringConvertible {
    var vector: OTelVector
    var testDescription: String { vector.name }

    static let all: [OTelCaseVector] = {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("otel_cases.json")
        guard let data = try? Data(contentsOf: url), let root = try? JSON.parse([UInt8](data)),
            case .array(let cases)? = root["cases"]
        else { return [] }
        var out: [OTelCaseVector] = []
        for c in cases {
            guard let name = c["name"]?.stringValue, case .object(let configurations)? = c["configurations"] else {
                continue
            }
            configurations.forEach { label, v in
                guard let config = v["config"], let events = v["events_raw"]?.arrayValue,
                    let spans = v["spans_raw"]?.arrayValue
                else { return }
                out.append(
                    OTelCaseVector(
                        vector: OTelVector(
                            name: "\(name)/\(label)", config: config, events: events, spans: spans,
                            diagnostics: v["runtime_diagnostics"]?.arrayValue ?? [])))
            }
        }
        return out
    }()
}

@Suite struct OTelProjectionCaseTests {
    static func cases(_ type: String) -> [OTelCaseVector] {
        OTelCaseVector.all.filter { $0.vector.config["type"]?.stringValue == type }
    }

    static func check(_ c: OTelCaseVector) {
        let v = c.vector
        let (spans, builder) = projectSpans(v.events, v.projectionConfig)
        let diffs = spanListDifferences(spans, v.spans)
        #expect(diffs.isEmpty, "\(v.name):\n\(diffs.joined(separator: "\n"))")
        let got: [JSON] = builder.diagnostics.map {
            ["code": .string($0.code), "message": .string($0.message), "count": .int(Int64($0.count))]
        }
        #expect(got == v.diagnostics, "\(v.name) diagnostics:\n\(jsonDifferences(.array(got), .array(v.diagnostics)))")
    }

    @Test func casesAreLoaded() {
        #expect(Self.cases("full").count >= 6)
        #expect(Self.cases("openinference").count >= 5)
        #expect(Self.cases("gen_ai").count >= 4)
    }

    @Test(arguments: cases("full"))
    func fullCaseMatchesTheReference(_ c: OTelCaseVector) { Self.check(c) }

    @Test(arguments: cases("openinference"))
    func openInferenceCaseMatchesTheReference(_ c: OTelCaseVector) { Self.check(c) }

    @Test(arguments: cases("gen_ai"))
    func genAICaseMatchesTheReference(_ c: OTelCaseVector) { Self.check(c) }
}

/// Imported propagation parents (`Tests/vectors/otel_propagation.json`): the events do not carry the imported
/// context, so the tests answer the builder's remote-parent question from the context the stack was created
/// from, as an exporter does from the scope stack.
@Suite struct OTelPropagationTests {
    static let root: JSON? = {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("otel_propagation.json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSON.parse([UInt8](data))
    }()

    static func bytes(hex: Substring) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    static func uuidBytes(_ text: String) -> [UInt8]? {
        guard let u = RelayUUID(text) else { return nil }
        return bytes(hex: Substring(u.hex))
    }

    /// The remote parent a stack created from `context` (a PropagationContext result) continues: the imported
    /// traceparent when there is one, else the root uuid's trace with the parent uuid's tail; none when rootless.
    static func remoteParent(_ context: JSON) -> (String) -> OTelRemoteParent? {
        let parent = context["parent_uuid"]?.stringValue.flatMap(RelayUUID.init)?.description
        var remote: OTelRemoteParent?
        if let tp = context["traceparent"]?.stringValue {
            let parts = tp.split(separator: "-")
            if parts.count == 4, let trace = bytes(hex: parts[1]), let span = bytes(hex: parts[2]) {
                remote = OTelRemoteParent(
                    traceID: trace, spanID: span, traceState: context["tracestate"]?.stringValue ?? "")
            }
        } else if let rootText = context["root_uuid"]?.stringValue, let trace = uuidBytes(rootText),
            let parentText = context["parent_uuid"]?.stringValue, let p = uuidBytes(parentText)
        {
            remote = OTelRemoteParent(traceID: trace, spanID: Array(p[8..<16]))
        }
        return { uuid in uuid == parent ? remote : nil }
    }

    static var stackCases: [String] {
        (root?["stack"]?.arrayValue ?? []).compactMap { c in
            c["raw"]?["spans"] != nil ? c["name"]?.stringValue : nil
        }
    }

    @Test func casesAreLoaded() {
        #expect(Self.stackCases.count >= 6)
    }

    @Test(arguments: stackCases)
    func importedParentsContinueTheRemoteTrace(_ name: String) throws {
        let c = try #require(Self.root?["stack"]?.arrayValue?.first { $0["name"]?.stringValue == name })
        let raw = try #require(c["raw"])
        let context = try #require(raw["context"]?["result"])
        let events = try #require(raw["events"]?.arrayValue)
        let expected = try #require(raw["spans"]?.arrayValue)
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let remote = Self.remoteParent(context)
        var spans: [JSON] = []
        for e in events { spans += builder.consume(e, remoteParent: remote).map(OTLPTestJSON.span) }
        let diffs = spanListDifferences(spans, expected)
        #expect(diffs.isEmpty, "\(name):\n\(diffs.joined(separator: "\n"))")
    }

    @Test func twoProcessesShareOneTrace() throws {
        let raw = try #require(Self.root?["two_process"]?["raw"])
        let sent = try #require(raw["sent_to_b"]?.arrayValue)
        let contexts = try sent.map { s in try JSON.parse(try #require(s["context"]?.stringValue)) }
        let eventsA = try #require(raw["events_a"]?.arrayValue)
        let eventsB = try #require(raw["events_b"]?.arrayValue)
        // The vector annotates each span with the request that carried it and that request's user agent.
        let expected = try #require(raw["spans"]?.arrayValue).map { span -> JSON in
            guard case .object(var o) = span else { return span }
            o.removeValue(forKey: "request")
            o.removeValue(forKey: "user_agent")
            return .object(o)
        }
        try #require(contexts.count == 2 && eventsB.count == 8 && expected.count == 6)
        var b = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        var spans: [JSON] = []
        for (job, context) in contexts.enumerated() {
            let remote = Self.remoteParent(context)
            for e in eventsB[(4 * job)..<(4 * job + 4)] {
                spans += b.consume(e, remoteParent: remote).map(OTLPTestJSON.span)
            }
        }
        let (a, _) = projectSpans(eventsA, OTelProjectionConfig(type: .full))
        let diffs = spanListDifferences(spans + a, expected)
        #expect(diffs.isEmpty, "\(diffs.joined(separator: "\n"))")
    }
}
