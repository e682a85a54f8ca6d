// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct EventTests {
    static let scopeKeys = [
        "atof_version", "attributes", "category", "category_profile", "data", "data_schema", "kind", "metadata", "name",
        "parent_uuid", "propagation_root_uuid", "scope_category", "timestamp", "uuid",
    ]
    static let markKeys = scopeKeys.filter { $0 != "attributes" && $0 != "scope_category" }

    // MARK: Field table (docs/events.md, "Fields")

    @Test func everyFieldIsPresentWithNulls() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let h = rt.pushScope("f", type: .function, stack: s)
        rt.mark("m", stack: s)
        try rt.popScope(h, stack: s)
        rt.flush()
        let lines = c.json
        #expect(lines.count == 3)
        // Keys are written sorted, so the line's key order is the table order.
        #expect(lines[0].objectValue?.keys == Self.scopeKeys)
        #expect(lines[1].objectValue?.keys == Self.markKeys)
        #expect(lines[2].objectValue?.keys == Self.scopeKeys)
        let start = lines[0]
        #expect(start["kind"] == "scope" && start["scope_category"] == "start" && start["atof_version"] == "0.1")
        #expect(start["attributes"] == [])
        #expect(start["category"] == "function")
        for k in ["category_profile", "data", "data_schema", "metadata"] { #expect(start[k] == .null, "\(k)") }
        #expect(lines[2]["scope_category"] == "end")
        let mark = lines[1]
        #expect(mark["kind"] == "mark")
        for k in ["category", "category_profile", "data", "data_schema", "metadata"] {
            #expect(mark[k] == .null, "\(k)")
        }
        #expect(mark["parent_uuid"] == .string(h.uuid.description))
        // Start and end share uuid and parent.
        #expect(lines[0]["uuid"] == lines[2]["uuid"])
        #expect(lines[0]["parent_uuid"] == lines[2]["parent_uuid"])
        // uuid v7, lowercase hyphenated.
        let u = lines[0]["uuid"]!.stringValue!
        #expect(u.count == 36 && u == u.lowercased() && Array(u)[14] == "7")
        #expect(RelayUUID(u)?.description == u)
    }

    @Test func theJSONValueEqualsTheParsedLine() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let agent = rt.pushScope(
            "agent", type: .agent, stack: s, attributes: 1, data: ["z": 1, "a": ["b": 1e-7, "c": .uint(UInt64.max)]],
            metadata: ["k": "é"])
        rt.mark("m", stack: s, data: [.null, -0.0, "x"], dataSchema: ["name": "n", "version": "1"])
        try rt.popScope(agent, stack: s, output: "done")
        rt.flush()
        #expect(c.records.count == 3)
        for r in c.records { #expect(r.event.json == (try JSON.parse(r.bytes))) }
    }

    @Test func uuidsIncreaseInCreationOrder() {
        var last = UUIDGenerator.next(nowNanos: 0)
        for _ in 0..<10_000 {
            let u = UUIDGenerator.next(nowNanos: 1_767_225_600_000_000_000)
            #expect(u > last)
            #expect((u.high >> 12) & 0xF == 7)
            #expect(u.low >> 62 == 0b10)
            last = u
        }
    }

    @Test func categoriesAndProfiles() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        for t in ScopeType.allCases {
            let h = rt.pushScope("s", type: t, stack: s)
            try rt.popScope(h, stack: s)
        }
        rt.flush()
        let expected = [
            "agent", "function", "tool", "llm", "retriever", "embedder", "reranker", "guardrail", "evaluator", "custom",
            "unknown",
        ]
        #expect(c.events.filter { $0.kind == .scopeStart }.map(\.category) == expected)
        // Plain scopes of every type (Custom included) have a null profile.
        #expect(c.json.allSatisfy { $0["category_profile"] == .null })
        // LLM and tool handles have {} when there is nothing to report.
        let (rt2, c2) = makeRuntime()
        let l = rt2.llmCall(LLMCallParams(name: "l", request: chatRequest("x")), stack: s)
        rt2.llmCallEnd(l, LLMCallEndParams(response: 1), stack: s)
        let t = rt2.toolCall(ToolCallParams(name: "t", args: 1), stack: s)
        rt2.toolCallEnd(t, result: ToolResult(result: 2), stack: s)
        rt2.flush()
        #expect(c2.json.map { $0["category_profile"] } == [[:], [:], [:], [:]])
        #expect(c2.json.map { $0["category"] } == ["llm", "llm", "tool", "tool"])
    }

    @Test func attributeNames() {
        #expect(Attributes.names(0, kind: .scope) == [])
        #expect(Attributes.names(3, kind: .scope) == ["parallel", "relocatable"])
        #expect(Attributes.names(0xFFFF_FFF0 | 2, kind: .scope) == ["relocatable"])
        #expect(Attributes.names(3, kind: .tool) == ["remote"])
        #expect(Attributes.names(3, kind: .llm) == ["stateful", "streaming"])
        #expect(Attributes.names(2, kind: .llm) == ["streaming"])
        #expect(Attributes.names(7, kind: .guardrail) == [])
    }

    // MARK: RFC 3339 (docs/events.md, "Timestamps")

    static let stamps: [(Nanoseconds, String)] = [
        (0, "1970-01-01T00:00:00+00:00"),
        (123_000, "1970-01-01T00:00:00.000123+00:00"),
        (500_000_000, "1970-01-01T00:00:00.500+00:00"),
        (1_000_000, "1970-01-01T00:00:00.001+00:00"),
        (1, "1970-01-01T00:00:00.000000001+00:00"),
        (120_000_000, "1970-01-01T00:00:00.120+00:00"),
        (123_456_700, "1970-01-01T00:00:00.123456700+00:00"),
        (1_795_388_759_331_503_935, "2026-11-22T23:05:59.331503935+00:00"),
        (1_709_164_800_000_000_000, "2024-02-29T00:00:00+00:00"),
        (1_767_225_599_999_999_000, "2025-12-31T23:59:59.999999+00:00"),
        (-1, "1969-12-31T23:59:59.999999999+00:00"),
        (951_782_400_000_000_000, "2000-02-29T00:00:00+00:00"),
        (Int64.max, "2262-04-11T23:47:16.854775807+00:00"),
    ]

    @Test(arguments: stamps)
    func rfc3339(_ c: (Nanoseconds, String)) {
        #expect(RFC3339.string(c.0) == c.1)
    }

    @Test func eventTimestampsUseTheFormat() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        rt.mark("m", stack: s, timestamp: 1_767_225_600_000_123_000)
        rt.flush()
        #expect(c.json[0]["timestamp"] == "2026-01-01T00:00:00.000123+00:00")
        #expect(c.events[0].timestampString == "2026-01-01T00:00:00.000123+00:00")
    }

    // MARK: Default end time (docs/events.md, "Timestamps")

    @Test func defaultEndIsAtLeastOneMicrosecondAfterStart() throws {
        let clock = ManualClock(start: 1_000_000_000_000, step: 1)
        let (rt, c) = makeRuntime(clock: clock)
        let s = ScopeStack()
        // A start in the future: the end is start + 1 µs.
        let future: Nanoseconds = 2_000_000_000_000
        let h = rt.pushScope("future", type: .function, stack: s, timestamp: future)
        try rt.popScope(h, stack: s)
        // A start in the past: the end is now.
        let h2 = rt.pushScope("past", type: .function, stack: s, timestamp: 5)
        clock.set(3_000_000_000_000)
        try rt.popScope(h2, stack: s)
        // An explicit end is not validated: earlier than the start is emitted as given.
        let h3 = rt.pushScope("explicit", type: .function, stack: s, timestamp: 10_000)
        try rt.popScope(h3, stack: s, timestamp: 9_000)
        // Same rule for LLM and tool ends.
        let later: Nanoseconds = 4_000_000_000_000
        let l = rt.llmCall(LLMCallParams(name: "l", request: chatRequest("x"), timestamp: later), stack: s)
        rt.llmCallEnd(l, LLMCallEndParams(response: 1), stack: s)
        let t = rt.toolCall(ToolCallParams(name: "t", args: 1, timestamp: later), stack: s)
        rt.toolCallEnd(t, result: nil, stack: s)
        rt.flush()
        let ev = c.events
        #expect(ev[0].timestamp == future && ev[1].timestamp == future + 1_000)
        #expect(ev[2].timestamp == 5 && ev[3].timestamp == 3_000_000_000_000)
        #expect(ev[4].timestamp == 10_000 && ev[5].timestamp == 9_000)
        #expect(ev[7].timestamp == later + 1_000)
        #expect(ev[9].timestamp == later + 1_000)
        #expect(rt.endTime(after: 100, nil) >= 1_100)
        #expect(rt.endTime(after: 100, 50) == 50)
    }

    // MARK: Metadata merge (docs/events.md, "Metadata and status")

    static let merges: [(JSON, JSON, JSON)] = [
        (["a": 1, "b": 2], ["b": 3, "c": 4], ["a": 1, "b": 3, "c": 4]),
        (["a": 1], nil, ["a": 1]),
        (nil, ["a": 1], ["a": 1]),
        (["a": 1], [1, 2], [1, 2]),
        (["a": 1], "text", "text"),
        ([1, 2], ["a": 1], ["a": 1]),
        ("s", nil, "s"),
        (["a": ["x": 1]], ["a": ["y": 2]], ["a": ["y": 2]]),  // shallow
        (nil, nil, nil),
    ]

    @Test(arguments: merges)
    func metadataMerge(_ c: (JSON, JSON, JSON)) throws {
        #expect(JSON.mergeMetadata(c.0, c.1) == c.2)
        // The same rule applies to a scope's end event.
        let (rt, col) = makeRuntime()
        let s = ScopeStack()
        let h = rt.pushScope("x", type: .function, stack: s, metadata: c.0)
        try rt.popScope(h, stack: s, metadata: c.1)
        rt.flush()
        #expect(col.events.map(\.metadata) == [c.0, c.2])
    }

    @Test func statusKeys() {
        #expect(
            JSON.withStatus(["otel.status_description": "old", "k": 1], ok: true) == ["k": 1, "otel.status_code": "OK"])
        #expect(JSON.withStatus([1, 2], ok: true) == ["otel.status_code": "OK"])
        #expect(
            JSON.withStatus(nil, ok: false, error: .invalidArgument("bad"))
                == [
                    "otel.status_code": "ERROR", "otel.status_description": "invalid argument: bad",
                    "error.type": "invalid_argument",
                ])
        #expect(
            JSON.withStatus(nil, ok: false, error: .callback("ValueError", "boom"))
                == [
                    "otel.status_code": "ERROR", "otel.status_description": "internal error: ValueError: boom",
                    "error.type": "internal_error", "exception.type": "ValueError",
                ])
        #expect(
            JSON.withStatus(nil, ok: false, error: RelayError(.cancelled, "LLM execution cancelled"))
                == ["otel.status_code": "ERROR", "otel.status_description": "LLM execution cancelled"])
    }

    @Test func manualEndsStatusRules() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        // Manual llm.call_end adds OK and drops a description; manual tools.call_end adds nothing.
        let l = rt.llmCall(
            LLMCallParams(name: "l", request: chatRequest("x"), metadata: ["otel.status_description": "x", "a": 1]),
            stack: s)
        rt.llmCallEnd(l, LLMCallEndParams(response: 1, metadata: ["b": 2]), stack: s)
        let t = rt.toolCall(ToolCallParams(name: "t", args: 1, metadata: ["a": 1]), stack: s)
        rt.toolCallEnd(t, result: ToolResult(result: 2), metadata: ["b": 2], stack: s)
        // scope.pop adds nothing.
        let h = rt.pushScope("p", type: .function, stack: s)
        try rt.popScope(h, stack: s)
        rt.flush()
        #expect(c.events[1].metadata == ["a": 1, "b": 2, "otel.status_code": "OK"])
        #expect(c.events[3].metadata == ["a": 1, "b": 2])
        #expect(c.events[5].metadata == .null)
    }

    @Test func markSeverityAndSchema() {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        rt.mark(
            "m", stack: s, data: "payload", dataSchema: ["name": "schema", "version": "1"], metadata: ["k": "v"],
            severity: .error)
        rt.mark("n", stack: s, severity: .warn)
        rt.mark("o", stack: s, metadata: [1, 2])
        rt.flush()
        #expect(c.events[0].metadata == ["k": "v", "nemo_relay.log.severity": "error"])
        #expect(c.json[0]["data_schema"] == ["name": "schema", "version": "1"])
        #expect(c.json[0]["data"] == "payload")
        #expect(c.events[1].metadata == ["nemo_relay.log.severity": "warn"])
        #expect(c.events[2].metadata == [1, 2])
        #expect(LogLevel.allNames == ["trace", "debug", "info", "warn", "error"])
    }

    @Test func dataAndMetadataPassThroughAnyJSON() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let h = rt.pushScope(
            "x", type: .function, stack: s, data: "never-emitted", metadata: "meta", input: [1, "two"])
        try rt.popScope(h, stack: s, output: "out")
        rt.flush()
        #expect(c.events[0].data == [1, "two"])
        #expect(c.events[0].metadata == "meta")
        #expect(c.events[1].data == "out")
        #expect(!c.lines[0].contains("never-emitted"))
    }

    @Test func serializedMatchesJSONView() {
        let e = Event(
            kind: .scopeStart, uuid: RelayUUID(high: 1, low: 2), parentUUID: nil, propagationRootUUID: nil,
            timestamp: 0,
            name: "n\"q", attributes: ["parallel"], category: nil, categoryProfile: ["b": 1, "a": 2],
            data: ["z": 1, "y": 2])
        let text = String(decoding: e.serialized(), as: UTF8.self)
        #expect(
            text
                == #"{"atof_version":"0.1","attributes":["parallel"],"category":null,"category_profile":{"a":2,"b":1},"data":{"y":2,"z":1},"data_schema":null,"kind":"scope","metadata":null,"name":"n\"q","parent_uuid":null,"scope_category":"start","timestamp":"1970-01-01T00:00:00+00:00","uuid":"00000000-0000-0001-0000-000000000002"}"#
        )
        // No propagation root (a stack imported from a rootless context): the key is absent, as in the reference.
        #expect(e.json.objectValue?["propagation_root_uuid"] == nil)
        #expect(e.json["name"] == "n\"q")
    }
}

extension LogLevel {
    static var allNames: [String] { [LogLevel.trace, .debug, .info, .warn, .error].map(\.name) }
}
