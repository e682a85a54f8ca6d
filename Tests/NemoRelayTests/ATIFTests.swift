// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// One golden ATIF case of `Tests/vectors/atif.json` (captured by `scripts/capture_atif_vectors.py`).
struct ATIFVector: Sendable, CustomTestStringConvertible {
    var name: String
    var options: ATIFOptions
    var events: [JSON]
    var expected: JSON
    var expectedJSON: String

    var testDescription: String { name }

    static let all: [ATIFVector] = {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("atif.json")
        guard let data = try? Data(contentsOf: url), case .array(let cases)? = try? JSON.parse([UInt8](data)) else {
            return []
        }
        return cases.compactMap { c in
            guard let name = c["name"]?.stringValue, let o = c["options"], let session = o["session_id"]?.stringValue,
                let agentName = o["agent_name"]?.stringValue, let version = o["agent_version"]?.stringValue,
                let events = c["events"]?.arrayValue, let expected = c["expected"],
                let expectedJSON = c["expected_json"]?.stringValue
            else { return nil }
            let options = ATIFOptions(
                sessionID: session, agentName: agentName, agentVersion: version,
                modelName: o["model_name"]?.stringValue,
                toolDefinitions: o["tool_definitions"], extra: o["extra"])
            return ATIFVector(
                name: name, options: options, events: events, expected: expected, expectedJSON: expectedJSON)
        }
    }()
}

/// The first differences between two JSON values, as `path: got vs expected` lines.
func jsonDifferences(_ got: JSON, _ expected: JSON, path: String = "$", limit: Int = 8) -> [String] {
    var out: [String] = []
    func walk(_ g: JSON?, _ e: JSON?, _ p: String) {
        guard out.count < limit, g != e else { return }
        switch (g, e) {
        case (.object(let go)?, .object(let eo)?):
            for k in Set(go.keys).union(eo.keys).sorted() { walk(go[k], eo[k], p + "." + k) }
        case (.array(let ga)?, .array(let ea)?) where ga.count == ea.count:
            for i in ga.indices { walk(ga[i], ea[i], p + "[\(i)]") }
        default:
            let gt = g?.jsonString(sortedKeys: true) ?? "<absent>"
            let et = e?.jsonString(sortedKeys: true) ?? "<absent>"
            out.append("\(p): got \(gt.prefix(300)), expected \(et.prefix(300))")
        }
    }
    walk(got, expected, path)
    return out
}

@Suite struct ATIFTests {
    // MARK: Golden vectors

    @Test func vectorFileIsComplete() {
        #expect(ATIFVector.all.count >= 15)
        let names = Set(ATIFVector.all.map(\.name))
        #expect(names.count == ATIFVector.all.count, "vector names are unique")
    }

    @Test(arguments: ATIFVector.all)
    func goldenVector(_ v: ATIFVector) {
        let got = ATIF.trajectory(events: v.events, options: v.options)
        let differences = jsonDifferences(got, v.expected)
        #expect(differences.isEmpty, "\(v.name):\n\(differences.joined(separator: "\n"))")
        let text = ATIF.jsonString(got)
        #expect(text == v.expectedJSON, "\(v.name): export_json bytes differ\n\(firstDifference(text, v.expectedJSON))")
    }

    func firstDifference(_ a: String, _ b: String) -> String {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        let i = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
        let from = max(0, i - 80)
        return "at byte \(i):\n  got      \(String(decoding: x[from..<min(x.count, i + 80)], as: UTF8.self))\n"
            + "  expected \(String(decoding: y[from..<min(y.count, i + 80)], as: UTF8.self))"
    }

    // MARK: Properties

    /// Every (sub-)trajectory numbers its steps 1...n and reports n as `final_metrics.total_steps`.
    static func numberingProblems(_ trajectory: JSON, path: String = "$") -> [String] {
        guard case .array(let steps)? = trajectory["steps"] else { return ["\(path): no steps array"] }
        var problems: [String] = []
        for (i, step) in steps.enumerated() where step["step_id"] != .int(Int64(i + 1)) {
            problems.append("\(path).steps[\(i)].step_id is \(step["step_id"] ?? .null)")
        }
        if trajectory["final_metrics"]?["total_steps"] != .int(Int64(steps.count)) {
            problems.append("\(path).final_metrics.total_steps is not \(steps.count)")
        }
        if trajectory["schema_version"] != "ATIF-v1.7" { problems.append("\(path): schema_version") }
        for (i, sub) in (trajectory["subagent_trajectories"]?.arrayValue ?? []).enumerated() {
            problems += numberingProblems(sub, path: "\(path).subagent_trajectories[\(i)]")
        }
        return problems
    }

    @Test(arguments: ATIFVector.all)
    func stepsAreNumberedAndCounted(_ v: ATIFVector) {
        let problems = Self.numberingProblems(ATIF.trajectory(events: v.events, options: v.options))
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test(arguments: ATIFVector.all)
    func outputRoundTripsThroughItsText(_ v: ATIFVector) throws {
        let trajectory = ATIF.trajectory(events: v.events, options: v.options)
        #expect(try JSON.parse(ATIF.json(trajectory)) == trajectory)
    }

    /// Marks never become steps, wherever they are inserted.
    @Test(arguments: ATIFVector.all)
    func marksDoNotChangeTheTrajectory(_ v: ATIFVector) {
        var events: [JSON] = []
        for (i, e) in v.events.enumerated() {
            events.append(e)
            guard case .object(var mark) = e else { continue }
            mark["kind"] = "mark"
            mark["scope_category"] = nil
            mark["uuid"] = .string(
                RelayUUID(high: 0x0123_4567_89AB_7000, low: 0x8000_0000_0000_0000 | UInt64(i)).description)
            mark["data"] = ["note": .int(Int64(i))]
            events.append(.object(mark))
        }
        #expect(ATIF.json(ATIF.trajectory(events: events, options: v.options)) == Array(v.expectedJSON.utf8))
    }

    /// Events are ordered by timestamp, so the order they are passed in does not matter when no two share one.
    @Test(arguments: ATIFVector.all)
    func inputOrderDoesNotMatterWithDistinctTimestamps(_ v: ATIFVector) {
        let stamps = v.events.compactMap { $0["timestamp"]?.stringValue }
        guard Set(stamps).count == stamps.count else { return }
        var rng = SeededRandom(seed: UInt64(v.name.utf8.count))
        let shuffled = v.events.shuffled(using: &rng)
        #expect(ATIF.json(ATIF.trajectory(events: shuffled, options: v.options)) == Array(v.expectedJSON.utf8))
    }

    @Test func noEventsGiveAnEmptyTrajectory() {
        let options = ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1")
        #expect(
            ATIF.jsonString(ATIF.trajectory(events: [], options: options))
                == #"{"schema_version":"ATIF-v1.7","session_id":"s","trajectory_id":"s","agent":{"name":"a","version":"1"},"steps":[],"final_metrics":{"total_steps":0}}"#
        )
    }

    // MARK: Building blocks

    /// A scope event in the subscriber form, with a distinct uuid and a time in milliseconds.
    static func scope(
        _ phase: String, _ category: String, _ name: String, uuid: Int, parent: Int?, ms: Int, data: JSON = .null,
        profile: JSON = .null, metadata: JSON = .null
    ) -> JSON {
        [
            "atof_version": "0.1", "attributes": [], "category": .string(category), "category_profile": profile,
            "data": data, "data_schema": nil, "kind": "scope", "metadata": metadata, "name": .string(name),
            "parent_uuid": parent.map { .string(uuidText($0)) } ?? .null, "propagation_root_uuid": nil,
            "scope_category": .string(phase),
            "timestamp": .string(RFC3339.string(1_767_323_045_000_000_000 + Int64(ms) * 1_000_000)),
            "uuid": .string(uuidText(uuid)),
        ]
    }

    static func uuidText(_ n: Int) -> String {
        RelayUUID(high: 0x019B_0000_0000_7000 | UInt64(n >> 16), low: 0x8000_0000_0000_0000 | UInt64(n)).description
    }

    /// One LLM call (fresh user turn) that asks for `calls`, with its tool runs.
    static func turn(_ n: Int, parent: Int, ms: Int, calls: [String]) -> [JSON] {
        let request: JSON = ["headers": [:], "content": ["messages": [["role": "user", "content": .string("q\(n)")]]]]
        let toolCalls: [JSON] = calls.map { id in
            ["id": .string(id), "type": "function", "function": ["name": "lookup", "arguments": "{}"]]
        }
        let response: JSON = [
            "choices": [["message": ["role": "assistant", "content": .null, "tool_calls": .array(toolCalls)]]],
            "usage": ["prompt_tokens": 3, "completion_tokens": 2],
        ]
        var events = [
            scope("start", "llm", "openai", uuid: n, parent: parent, ms: ms, data: request),
            scope("end", "llm", "openai", uuid: n, parent: parent, ms: ms + 1, data: response),
        ]
        for (k, id) in calls.enumerated() {
            let profile: JSON = ["tool_call_id": .string(id)]
            events.append(
                scope("start", "tool", "lookup", uuid: n + k + 1, parent: parent, ms: ms + 2, profile: profile))
            events.append(
                scope(
                    "end", "tool", "lookup", uuid: n + k + 1, parent: parent, ms: ms + 3, data: .string("r\(id)"),
                    profile: profile))
        }
        return events
    }

    @Test func sessionUUIDSelectsTheRootAgent() throws {
        var events = [
            Self.scope("start", "agent", "first", uuid: 1, parent: 900, ms: 0),
            Self.scope("start", "agent", "second", uuid: 2, parent: 900, ms: 1),
        ]
        events += Self.turn(10, parent: 1, ms: 10, calls: [])
        events += Self.turn(20, parent: 2, ms: 20, calls: [])
        let plain = ATIF.trajectory(
            events: events, options: ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1"))
        #expect(plain["steps"]?.arrayValue?.count == 4, "two roots and no matching session: one flat trajectory")
        let second = Self.uuidText(2)
        let forms = [
            second, second.uppercased(), second.replacingOccurrences(of: "-", with: ""), "{\(second)}",
            "urn:uuid:\(second)",
        ]
        for session in forms {
            let t = ATIF.trajectory(
                events: events, options: ATIFOptions(sessionID: session, agentName: "a", agentVersion: "1"))
            let steps = try #require(t["steps"]?.arrayValue)
            #expect(steps.map { $0["message"]?.stringValue } == ["q20", ""], "session \(session)")
            #expect(t["session_id"] == .string(session) && t["trajectory_id"] == .string(session))
        }
    }

    @Test func timestampsAreRewrittenWithAnOffsetOfZero() throws {
        var events = Self.turn(10, parent: 900, ms: 0, calls: [])
        events[0] = events[0].replacing("timestamp", with: "2026-01-02T05:04:05.5+02:00")
        events[1] = events[1].replacing("timestamp", with: "2026-01-02t03:04:05.1234567z")
        let t = ATIF.trajectory(events: events, options: ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1"))
        // The end now sorts before its start: the agent step comes first and keeps the call's timing.
        let steps = try #require(t["steps"]?.arrayValue)
        #expect(
            steps.map { $0["timestamp"]?.stringValue } == [
                "2026-01-02T03:04:05.123456700+00:00", "2026-01-02T03:04:05.500+00:00",
            ])
        #expect(steps.map { $0["source"] } == ["agent", "user"])
        #expect(steps[0]["extra"]?["invocation"]?["start_timestamp"] == .double(1_767_323_045.5))
        #expect(steps[0]["extra"]?["invocation"]?["end_timestamp"] == .double(1_767_323_045.123))
    }

    // MARK: Robustness

    @Test func hostileEventsAreSkippedOrTolerated() {
        let good = Self.turn(10, parent: 1, ms: 10, calls: ["c1"])
        var hostile: [JSON] = [
            1, "x", .null, [], [:], ["kind": "scope"], ["kind": 5, "uuid": "x"],
            ["kind": "scope", "uuid": 7, "timestamp": "2026-01-02T03:04:05Z"],
            ["kind": "scope", "uuid": .string(Self.uuidText(50)), "timestamp": "yesterday"],
            ["kind": "scope", "uuid": .string(Self.uuidText(51)), "timestamp": "2026-02-30T00:00:00Z"],
            ["kind": "scope", "uuid": .string(Self.uuidText(52)), "timestamp": "9999-12-31T23:59:59Z"],
            ["kind": "scope", "uuid": .string(Self.uuidText(53)), "timestamp": "2026-01-02T03:04:05+99:00"],
            Self.scope("end", "llm", "orphan-end", uuid: 60, parent: 1, ms: 5, data: ["choices": "nope", "usage": 3]),
            Self.scope(
                "start", "llm", "weird", uuid: 61, parent: 1, ms: 6, data: ["content": ["messages": [1, [2], nil]]]
            )
            .replacing("category_profile", with: "not an object"),
            Self.scope("end", "llm", "weird", uuid: 61, parent: 1, ms: 7, data: ["tool_calls": [["id": 5], "x"]]),
            Self.scope("start", "tool", "t", uuid: 62, parent: 61, ms: 8, data: .null, profile: ["tool_call_id": 9]),
            Self.scope("end", "tool", "t", uuid: 62, parent: 1, ms: 9, data: [[["deep": [1.5e300, -0.0]]]]),
            Self.scope("start", "agent", "loop-a", uuid: 70, parent: 71, ms: 1),
            Self.scope("start", "agent", "loop-b", uuid: 71, parent: 70, ms: 2),
            Self.scope("start", "llm", "in-loop", uuid: 72, parent: 70, ms: 3, data: ["content": "x"]),
            Self.scope("end", "llm", "in-loop", uuid: 72, parent: 70, ms: 4, data: "plain"),
            Self.scope("start", "agent", "dup", uuid: 73, parent: nil, ms: 0, metadata: "metadata as a string"),
            Self.scope("start", "agent", "dup", uuid: 73, parent: nil, ms: 0, metadata: ["session_id": 5]),
            Self.scope("start", "llm", "x", uuid: 74, parent: 1, ms: 11, data: .null),
            Self.scope("end", "llm", "x", uuid: 74, parent: 1, ms: 11, data: .null),
        ]
        hostile += good
        for session in ["s", Self.uuidText(70), Self.uuidText(71), Self.uuidText(73), ""] {
            let options = ATIFOptions(
                sessionID: session, agentName: "a", agentVersion: "1", toolDefinitions: "not an array", extra: .null)
            let t = ATIF.trajectory(events: hostile, options: options)
            #expect(Self.numberingProblems(t).isEmpty, "\(Self.numberingProblems(t))")
            #expect(t["agent"] == ["name": "a", "version": "1"])
            #expect((try? JSON.parse(ATIF.json(t))) == t)
        }
    }

    @Test func tenThousandEventsConvert() throws {
        var events: [JSON] = [Self.scope("start", "agent", "busy", uuid: 1, parent: 900, ms: 0)]
        for i in 0..<2_000 {
            events += Self.turn(10 + i * 10, parent: 1, ms: 10 + i * 10, calls: ["c\(i)-a", "c\(i)-b"])
        }
        events.append(Self.scope("end", "agent", "busy", uuid: 1, parent: 900, ms: 30_000))
        #expect(events.count == 12_002)
        let t = ATIF.trajectory(events: events, options: ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1"))
        let steps = try #require(t["steps"]?.arrayValue)
        #expect(steps.count == 4_000)
        #expect(steps.allSatisfy { $0["source"] == "user" || $0["observation"]?["results"]?.arrayValue?.count == 2 })
        #expect(
            t["final_metrics"] == [
                "total_prompt_tokens": 6_000, "total_completion_tokens": 4_000, "total_steps": 4_000,
            ])
        #expect(Self.numberingProblems(t).isEmpty)
    }

    @Test func deeplyNestedAgentsBecomeNestedTrajectories() throws {
        var events: [JSON] = []
        let depth = 200
        for d in 0..<depth {
            events.append(
                Self.scope(
                    "start", "agent", "level-\(d)", uuid: 1 + d * 10, parent: d == 0 ? 9_999 : 1 + (d - 1) * 10, ms: d))
            events += Self.turn(5 + d * 10, parent: 1 + d * 10, ms: 1_000 + d * 10, calls: [])
        }
        var t = ATIF.trajectory(events: events, options: ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1"))
        #expect(Self.numberingProblems(t).isEmpty)
        var levels = 1
        while let sub = t["subagent_trajectories"]?.arrayValue?.first {
            t = sub
            levels += 1
        }
        #expect(levels == depth)
    }

    // MARK: Our runtime's events

    @Test func runtimeEventsConvert() throws {
        let (rt, collector) = makeRuntime()
        let stack = ScopeStack()
        let agent = rt.pushScope("runtime-agent", type: .agent, stack: stack)
        let request = LLMRequest(content: ["model": "gpt-4o", "messages": [["role": "user", "content": "Weather?"]]])
        let first = rt.llmCall(LLMCallParams(name: "openai", request: request, modelName: "gpt-4o"), stack: stack)
        let call: JSON = [
            "id": "call_1", "type": "function", "function": ["name": "weather", "arguments": #"{"city":"Oslo"}"#],
        ]
        rt.llmCallEnd(
            first,
            LLMCallEndParams(response: [
                "model": "gpt-4o-2024",
                "choices": [["message": ["role": "assistant", "content": .null, "tool_calls": [call]]]],
                "usage": ["prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14],
            ]), stack: stack)
        let tool = rt.toolCall(
            ToolCallParams(name: "weather", args: ["city": "Oslo"], toolCallID: "call_1"), stack: stack)
        rt.toolCallEnd(tool, result: ToolResult(result: ["temp_c": 4]), stack: stack)
        try rt.popScope(agent, stack: stack)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        let t = ATIF.trajectory(
            events: collector.json, options: ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1"))
        let steps = try #require(t["steps"]?.arrayValue)
        #expect(steps.map { $0["source"] } == ["user", "agent"])
        #expect(steps[0]["message"] == "Weather?")
        #expect(steps[1]["model_name"] == "gpt-4o-2024")
        #expect(
            steps[1]["tool_calls"] == [
                ["tool_call_id": "call_1", "function_name": "weather", "arguments": ["city": "Oslo"]]
            ])
        #expect(steps[1]["observation"]?["results"]?[0]?["extra"]?["tool_result"] == ["temp_c": 4])
        #expect(steps[1]["metrics"] == ["prompt_tokens": 10, "completion_tokens": 4, "extra": ["total_tokens": 14]])
        #expect(steps[1]["extra"]?["ancestry"]?["parent_name"] == "runtime-agent")
        #expect(steps.allSatisfy { $0["timestamp"]?.stringValue?.hasSuffix("+00:00") == true })
    }
}

extension JSON {
    /// A copy of an object with `key` set to `value`.
    func replacing(_ key: String, with value: JSON) -> JSON {
        guard case .object(var o) = self else { return self }
        o[key] = value
        return .object(o)
    }

    /// The element at `index` of an array.
    subscript(index: Int) -> JSON? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
}

/// The golden run of `Tests/vectors/exporters.json`: the reference's raw events through our builder give
/// the reference's `export_json()` text byte for byte.
@Suite struct ATIFExporterScenarioTests {
    @Test func referenceEventsGiveTheReferenceTrajectory() throws {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("exporters.json")
        let doc = try JSON.parse(Array(try Data(contentsOf: url)))
        let scenario = try #require(doc["scenario"]?.objectValue)
        let events = try #require(scenario["atof_raw"]?.arrayValue)
        let expected = try #require(scenario["atif_json_raw"]?.stringValue)
        let tool: JSON = [
            "type": "function",
            "function": [
                "name": "get_weather", "description": "Current weather for a city.",
                "parameters": [
                    "type": "object", "properties": ["city": ["type": "string"]], "required": ["city"],
                ],
            ],
        ]
        let options = ATIFOptions(
            sessionID: "session-1", agentName: "demo-agent", agentVersion: "1.0.0", modelName: "gpt-4o-mini",
            toolDefinitions: [tool], extra: ["run": "exporter-scenario", "tags": ["golden"]])
        #expect(events.count == 23)
        #expect(ATIF.jsonString(ATIF.trajectory(events: events, options: options)) == expected)
    }

    @Test func theCollectingExporterBuildsFromWhatItWasDelivered() throws {
        let rt = Runtime()
        let e = Exporter.atif(ATIFOptions(sessionID: "s", agentName: "a", agentVersion: "1"))
        try e.register(on: rt, name: "atif")
        let s = ScopeStack()
        let request = LLMRequest(content: ["messages": [["role": "user", "content": "hi"]]])
        let llm = rt.llmCall(LLMCallParams(name: "openai", request: request), stack: s)
        let response: JSON = ["choices": [["message": ["role": "assistant", "content": "hello"]]]]
        rt.llmCallEnd(llm, LLMCallEndParams(response: response), stack: s)
        let t = try e.trajectory(flushTimeoutNanos: 10_000_000_000)
        #expect(t["steps"]?.arrayValue?.compactMap { $0["source"]?.stringValue } == ["user", "agent"])
        try e.clearCollected()
        #expect(try e.trajectory()["steps"]?.arrayValue?.isEmpty == true)
        #expect(e.diagnostics["kind"] == "atif")
        let dir = NSTemporaryDirectory() + "atif-\(UUID().uuidString)"
        let atof = try Exporter.atof(ATOFExporterConfig(json: ["output_directory": .string(dir)]))
        #expect(throws: RelayError.self) { try atof.trajectory() }
        try e.shutdown()
    }
}
