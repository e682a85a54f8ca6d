// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

/// Hand-written events: malformed input, volume, depth, the builder's bounds and its remote-parent contract.
@Suite struct OTelBuilderRobustnessTests {
    static let t0: Int64 = 1_767_225_600_000_000_000

    /// A uuid whose high half is `hi` and low half `lo` (never zero).
    static func uuid(_ n: Int, _ tag: UInt64 = 0x8000_0000_0000_0000) -> String {
        RelayUUID(high: 0x0195_8bbf_66d4_7000 | UInt64(n >> 16), low: tag | UInt64(n)).description
    }

    static func time(_ nanos: Int64) -> JSON {
        var out: [UInt8] = []
        RFC3339.write(nanos, into: &out)
        return .string(String(decoding: out, as: UTF8.self))
    }

    static func scope(
        _ phase: String, _ uuid: String, parent: String?, name: String = "s", category: String = "function",
        at: Int64 = t0, data: JSON = .null, metadata: JSON = .null, profile: JSON = .null
    ) -> JSON {
        [
            "atof_version": "0.1", "kind": "scope", "scope_category": .string(phase), "uuid": .string(uuid),
            "parent_uuid": parent.map(JSON.string) ?? .null, "timestamp": time(at), "name": .string(name),
            "category": .string(category), "attributes": [], "data": data, "metadata": metadata,
            "category_profile": profile, "data_schema": .null,
        ]
    }

    static func mark(
        _ uuid: String, parent: String?, name: String = "m", at: Int64 = t0, data: JSON = .null,
        metadata: JSON = .null, schema: JSON = .null
    ) -> JSON {
        [
            "atof_version": "0.1", "kind": "mark", "uuid": .string(uuid),
            "parent_uuid": parent.map(JSON.string) ?? .null,
            "timestamp": time(at), "name": .string(name), "data": data, "metadata": metadata, "data_schema": schema,
            "category": .null, "category_profile": .null,
        ]
    }

    // MARK: Malformed events

    @Test func malformedEventsNeverCrash() {
        let a = Self.uuid(1)
        var hostile: [JSON] = [
            .null, 5, "scope", [1, 2], [:], ["kind": "scope"], ["kind": "scope", "uuid": "not-a-uuid"],
            ["kind": "scope", "uuid": .string(a), "scope_category": "start", "timestamp": "yesterday"],
            ["kind": "mark", "uuid": .string(a), "timestamp": 5],
            ["kind": "sideways", "uuid": .string(a), "timestamp": Self.time(Self.t0)],
        ]
        // Every field with the wrong type, on starts, ends and marks of every projection-relevant category.
        let wrong: [JSON] = [5, "x", [1, ["a": 1]], ["k": [["deep": true]]], true, .null, -1.5, .uint(UInt64.max)]
        let fields = [
            "name", "category", "metadata", "data", "attributes", "category_profile", "parent_uuid",
            "propagation_root_uuid", "data_schema",
        ]
        for (i, w) in wrong.enumerated() {
            for category in ["llm", "tool", "agent", "retriever", "embedder", "nonsense"] {
                for phase in ["start", "end"] {
                    for field in fields {
                        guard case .object(var o) = Self.scope(phase, Self.uuid(100 + i), parent: a, category: category)
                        else { continue }
                        o[field] = w
                        hostile.append(.object(o))
                    }
                }
                let profiles: [JSON] = [
                    ["annotated_request": w, "annotated_response": w, "model_name": w, "tool_call_id": w],
                    ["annotated_request": ["messages": w, "tools": w, "params": w, "instructions": w]],
                    ["annotated_response": ["usage": w, "tool_calls": w, "message": w, "finish_reason": w]],
                    [
                        "annotated_response": [
                            "usage": ["cost": w, "prompt_tokens": w], "tool_calls": [w], "optimization_summary": w,
                        ]
                    ],
                    ["tool_result_annotation": w, "time_to_first_chunk": w, "gen_ai.tool.name": w],
                ]
                for p in profiles {
                    hostile.append(Self.scope("start", Self.uuid(200 + i), parent: a, category: category, profile: p))
                    hostile.append(
                        Self.scope(
                            "end", Self.uuid(200 + i), parent: a, category: category, data: w, metadata: w, profile: p))
                }
            }
            hostile.append(Self.mark(Self.uuid(300 + i), parent: a, data: w, metadata: w, schema: w))
            hostile.append(
                Self.mark(
                    Self.uuid(400 + i), parent: a, data: ["measurements": [w]],
                    schema: ["name": "nemo.relay.metric_measurements", "version": "1"]))
        }
        for type in [OTelProjectionType.full, .openInference, .genAI] {
            for projection in [OTelMarkProjection.inherit, .tool] {
                var config = OTelProjectionConfig(type: type)
                config.markProjection = projection
                config.promoteMetadataPrefixes = ["", "k", "x"]
                config.attributeMappings = [("nemo_relay.uuid", "a.u"), ("", "")]
                var builder = OTelSpanBuilder(config: config)
                _ = builder.consume(Self.scope("start", a, parent: nil, category: "agent"))
                var spans = 0
                for e in hostile { spans += builder.consume(e).count }
                spans += builder.consume(Self.scope("end", a, parent: nil, category: "agent")).count
                #expect(spans > 0)
                #expect(builder.diagnostics.count <= 32)
            }
        }
    }

    @Test func endsWithoutStartsAndRepeatedStarts() throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let a = Self.uuid(1)
        #expect(builder.consume(Self.scope("end", a, parent: nil)).isEmpty)
        #expect(builder.consume(Self.scope("start", a, parent: nil, name: "first")).isEmpty)
        // A second start for an open scope finishes the first span where the second begins.
        let replaced = builder.consume(Self.scope("start", a, parent: nil, name: "second", at: Self.t0 + 5))
        #expect(replaced.map(\.name) == ["first"])
        #expect(replaced.first?.endTimeUnixNano == UInt64(Self.t0 + 5))
        #expect(replaced.first?.statusCode == .unset)
        let ended = builder.consume(Self.scope("end", a, parent: nil, at: Self.t0 + 9))
        #expect(ended.map(\.name) == ["second"])
        #expect(builder.consume(Self.scope("end", a, parent: nil)).isEmpty)
        #expect(builder.openSpanCount == 0)
    }

    // MARK: Volume and depth

    @Test func hundredThousandEventsStayBounded() {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let root = Self.uuid(0)
        _ = builder.consume(Self.scope("start", root, parent: nil, category: "agent"))
        var spans = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for i in 1...33_333 {
                let s = Self.uuid(i)
                let at = Self.t0 + Int64(i) * 1000
                spans +=
                    builder.consume(
                        Self.scope(
                            "start", s, parent: root, category: i % 3 == 0 ? "llm" : "tool", at: at,
                            data: ["i": .int(Int64(i))], metadata: ["session_id": "s"])
                    ).count
                spans += builder.consume(Self.mark(Self.uuid(i, 0x9000_0000_0000_0000), parent: s, at: at + 1)).count
                spans +=
                    builder.consume(
                        Self.scope("end", s, parent: root, at: at + 2, metadata: ["otel.status_code": "OK"])
                    ).count
            }
        }
        spans += builder.consume(Self.scope("end", root, parent: nil, category: "agent", at: Self.t0 + 1 << 40)).count
        #expect(spans == 33_334)
        #expect(builder.openSpanCount == 0)
        #expect(builder.completedContextCount <= OTelCompletedContexts.capacity)
        #expect(elapsed < .seconds(60), "100k events took \(elapsed)")
    }

    @Test func deepParentChainsNeedNoRecursion() throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .openInference))
        let depth = 20_000
        let ids = (0..<depth).map { Self.uuid($0) }
        for i in 0..<depth {
            #expect(builder.consume(Self.scope("start", ids[i], parent: i == 0 ? nil : ids[i - 1])).isEmpty)
        }
        var finished: [OTelSpan] = []
        for i in stride(from: depth - 1, through: 0, by: -1) {
            finished += builder.consume(Self.scope("end", ids[i], parent: i == 0 ? nil : ids[i - 1]))
        }
        try #require(finished.count == depth)
        let trace = try #require(RelayUUID(ids[0]))
        let traceBytes = OTelSpanContext.bytes(trace.high) + OTelSpanContext.bytes(trace.low)
        #expect(finished.allSatisfy { $0.traceID == traceBytes })
        #expect(finished.last?.parentSpanID == [])
        #expect(finished[0].parentSpanID == finished[1].spanID)
    }

    // MARK: Completed contexts and remote parents

    @Test func completedContextsAreCappedOldestFirst() throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let n = OTelCompletedContexts.capacity + 100
        let ids = (1...n).map { Self.uuid($0) }
        for (i, id) in ids.enumerated() {
            _ = builder.consume(Self.scope("start", id, parent: nil, at: Self.t0 + Int64(i)))
            _ = builder.consume(Self.scope("end", id, parent: nil, at: Self.t0 + Int64(i)))
        }
        #expect(builder.completedContextCount == OTelCompletedContexts.capacity)
        let evicted = try #require(
            builder.consume(Self.mark(Self.uuid(1, 0xA000_0000_0000_0000), parent: ids[0])).first)
        #expect(evicted.parentSpanID.isEmpty)
        let kept = try #require(
            builder.consume(Self.mark(Self.uuid(2, 0xA000_0000_0000_0000), parent: ids[n - 1])).first)
        let last = try #require(RelayUUID(ids[n - 1]))
        #expect(kept.parentSpanID == OTelSpanContext.bytes(last.low))
        #expect(kept.attributes.contains(OTelAttribute("nemo_relay.mark.orphan", .bool(true))))
    }

    @Test func remoteParentsAreAskedOnlyForUnknownParents() throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let imported = Self.uuid(9, 0xB000_0000_0000_0000)
        let a = Self.uuid(1)
        let b = Self.uuid(2)
        var asked: [String] = []
        let remote = { (uuid: String) -> OTelRemoteParent? in
            asked.append(uuid)
            guard uuid == imported else { return nil }
            return OTelRemoteParent(traceID: Array(1...16), spanID: Array(1...8), traceState: "vendor=a")
        }
        _ = builder.consume(Self.scope("start", a, parent: imported), remoteParent: remote)
        _ = builder.consume(Self.scope("start", b, parent: a), remoteParent: remote)
        let child = try #require(builder.consume(Self.scope("end", b, parent: a), remoteParent: remote).first)
        let top = try #require(builder.consume(Self.scope("end", a, parent: imported), remoteParent: remote).first)
        #expect(asked == [imported])
        #expect(top.traceID == Array(1...16))
        #expect(top.parentSpanID == Array(1...8))
        #expect(top.flags == 0x301)
        #expect(top.traceState == "vendor=a")
        #expect(child.traceID == Array(1...16))
        #expect(child.flags == 0x101)
        #expect(child.traceState == "vendor=a")
        // Session identity belongs to trace roots only; a span under a remote parent is not one.
        #expect(!top.attributes.contains { $0.key == "nemo_relay.session.instance_id" })

        // Unusable remote parents start a new trace.
        for bad in [
            OTelRemoteParent(traceID: [1, 2], spanID: Array(1...8)),
            OTelRemoteParent(traceID: Array(repeating: 0, count: 16), spanID: Array(1...8)),
            OTelRemoteParent(traceID: Array(1...16), spanID: Array(repeating: 0, count: 8)),
        ] {
            var fresh = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
            _ = fresh.consume(Self.scope("start", a, parent: imported)) { _ in bad }
            let span = try #require(fresh.consume(Self.scope("end", a, parent: imported)).first)
            #expect(span.parentSpanID.isEmpty && span.flags == 0x101)
        }
    }

    // MARK: Events and diagnostics

    @Test func spansKeepAtMost128Events() throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let a = Self.uuid(1)
        _ = builder.consume(Self.scope("start", a, parent: nil))
        for i in 0..<200 { _ = builder.consume(Self.mark(Self.uuid(i, 0xC000_0000_0000_0000), parent: a)) }
        let span = try #require(
            builder.consume(
                Self.scope("end", a, parent: nil, metadata: ["otel.status_code": "ERROR", "exception.type": "E"])
            ).first)
        #expect(span.events.count == OTelSpanBuilder.maxEventsPerSpan)
        // The exception event is the 201st: dropped like the marks before it.
        #expect(span.droppedEventsCount == 73)
        #expect(span.statusCode == .error)
    }

    @Test func diagnosticsAreBounded() {
        var config = OTelProjectionConfig(type: .full)
        config.promoteMetadataPrefixes = ["app."]
        var builder = OTelSpanBuilder(config: config)
        var metadata = JSONObject()
        for i in 0..<40 { metadata["app.k\(i)"] = ["object": .int(Int64(i))] }
        _ = builder.consume(Self.scope("start", Self.uuid(1), parent: nil, metadata: .object(metadata)))
        let d = builder.diagnostics
        #expect(d.count == 32)
        #expect(d.map(\.code) == d.map(\.code).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(d.allSatisfy { $0.count == 1 })

        // The exporter's own codes share the store and its bound.
        #expect(builder.recordDiagnostic(code: "otel.spans_dropped", message: "dropped", count: 5) == 0)
        var other = OTelSpanBuilder(config: config)
        #expect(other.recordDiagnostic(code: "otel.spans_dropped", message: "dropped", count: 5) == 5)
        #expect(other.recordDiagnostic(code: "otel.spans_dropped", message: "dropped", count: 2) == 7)
        #expect(other.diagnostics.map(\.count) == [7])

        var recorder = OTelDiagnostics()
        for i in 0..<100 { recorder.record(code: "c", message: String(repeating: "m", count: 30) + "\(i)") }
        let entry = recorder.all[0]
        #expect(entry.count == 100)
        #expect(entry.message.unicodeScalars.count <= 1024)
        recorder.record(code: "long", message: String(repeating: "é", count: 2000))
        #expect(recorder.all.first { $0.code == "long" }?.message.unicodeScalars.count == 1024)
    }

    /// Metric mark messages as the reference words them (observed with nemo-relay 0.10.4).
    @Test(
        arguments: [
            ([1] as JSON, "invalid metric envelope: invalid type: integer `1`, expected a sequence"),
            ("s", "invalid metric envelope: invalid type: string \"s\", expected struct MetricEnvelope"),
            (5, "invalid metric envelope: invalid type: integer `5`, expected struct MetricEnvelope"),
            (1.5, "invalid metric envelope: invalid type: floating point `1.5`, expected struct MetricEnvelope"),
            (true, "invalid metric envelope: invalid type: boolean `true`, expected struct MetricEnvelope"),
            ([], "invalid metric envelope: invalid length 0, expected struct MetricEnvelope with 1 element"),
            ([["measurements": []]], "invalid metric envelope: invalid type: map, expected a sequence"),
            (["measurements": .null], "invalid metric envelope: invalid type: null, expected a sequence"),
            (
                ["measurements": [5]],
                "invalid metric envelope: invalid type: integer `5`, expected struct MetricMeasurement"
            ),
            (
                ["measurements": [["name": 5, "kind": "gauge", "value_type": "i64", "value": 1]]],
                "invalid metric envelope: invalid type: integer `5`, expected a string"
            ),
            (
                ["measurements": [["name": "n", "kind": "gauge", "value_type": "i64", "value": 1, "unit": 5]]],
                "invalid metric envelope: invalid type: integer `5`, expected a string"
            ),
            (
                ["measurements": [["value": 1, "name": "n", "kind": "gauge"]]],
                "invalid metric envelope: missing field `value_type`"
            ),
            (
                ["measurements": [["name": "n", "kind": "counter", "value_type": "i64", "value": 1, "extra": 2]]],
                "invalid metric envelope: unknown field `extra`, expected one of `name`, `kind`, `value_type`, `value`, "
                    + "`unit`, `description`, `attributes`, `boundaries`"
            ),
            (
                [
                    "measurements": [
                        ["name": "n", "kind": "gauge", "value_type": "i64", "value": 1],
                        ["name": "N", "kind": "counter", "value_type": "u64", "value": 1],
                    ]
                ],
                "measurements[1] conflicts with the descriptor for measurements[0]"
            ),
            (
                [
                    "measurements": [
                        ["name": "n", "kind": "histogram", "value_type": "f64", "value": 1.5, "boundaries": [2, 1]]
                    ]
                ],
                "measurements[0] boundaries must be strictly increasing without duplicates"
            ),
            (
                [
                    "measurements": [
                        ["name": "n", "kind": "gauge", "value_type": "f64", "value": 1.5, "boundaries": [1]]
                    ]
                ],
                "measurements[0] boundaries are only valid for histogram measurements"
            ),
            (
                [
                    "measurements": [
                        ["name": "n", "kind": "gauge", "value_type": "f64", "value": 1, "attributes": ["a": [1, "x"]]]
                    ]
                ],
                "measurements[0] attribute arrays must contain one primitive type"
            ),
            (
                ["measurements": [["name": "n", "kind": "gauge", "value_type": "u64", "value": -1, "unit": "é"]]],
                "measurements[0] unit must be ASCII and at most 63 bytes"
            ),
        ] as [(JSON, String)])
    func metricMarkMessages(_ data: JSON, _ message: String) throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .full))
        let a = Self.uuid(1)
        _ = builder.consume(Self.scope("start", a, parent: nil))
        let spans = builder.consume(
            Self.mark(
                Self.uuid(2), parent: a, name: "m9", data: data,
                schema: ["name": "nemo.relay.metric_measurements", "version": "1"]))
        #expect(spans.isEmpty)
        let d = try #require(builder.diagnostics.first)
        #expect(d.code == "otel.metric_mark_invalid")
        #expect(d.message == "OpenTelemetry metric mark \"m9\" was dropped atomically: " + message)
        let span = try #require(builder.consume(Self.scope("end", a, parent: nil)).first)
        #expect(span.events.isEmpty)
    }

    @Test func validMetricMarksVanish() throws {
        var builder = OTelSpanBuilder(config: OTelProjectionConfig(type: .openInference))
        let a = Self.uuid(1)
        _ = builder.consume(Self.scope("start", a, parent: nil))
        let data: JSON = [
            "measurements": [
                ["name": "latency", "kind": "histogram", "value_type": "f64", "value": 0.5, "boundaries": [0.1, 1]],
                ["name": "calls", "kind": "counter", "value_type": "u64", "value": 2, "attributes": ["route": "a"]],
            ]
        ]
        let schema: JSON = ["name": "nemo.relay.metric_measurements", "version": "1"]
        #expect(builder.consume(Self.mark(Self.uuid(2), parent: a, data: data, schema: schema)).isEmpty)
        #expect(builder.consume(Self.mark(Self.uuid(3), parent: nil, data: data, schema: schema)).isEmpty)
        let span = try #require(builder.consume(Self.scope("end", a, parent: nil)).first)
        #expect(span.events.isEmpty)
        #expect(builder.diagnostics.isEmpty)
    }
}
