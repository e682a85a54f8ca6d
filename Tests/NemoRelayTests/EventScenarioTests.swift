// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

// MARK: - Normalisation and comparison

/// Replaces uuids by `<uuid:N>` (first appearance, `<uuid:1>` = the stack root) and timestamps by
/// `<ts:N>` (first appearance), as described in Tests/vectors/README.md, "Event scenarios".
struct Placeholders {
    private var uuids: [String: Int] = [:]
    private var stamps: [String: Int] = [:]

    init(root: RelayUUID) { uuids[root.description] = 1 }

    mutating func normalise(_ event: JSON) -> JSON {
        guard case .object(var o) = event else { return event }
        for key in ["parent_uuid", "propagation_root_uuid", "uuid"] {
            guard case .string(let u)? = o[key] else { continue }
            let n = uuids[u] ?? (uuids.count + 1)
            uuids[u] = n
            o[key] = .string("<uuid:\(n)>")
        }
        if case .string(let t)? = o["timestamp"] {
            let n = stamps[t] ?? (stamps.count + 1)
            stamps[t] = n
            o["timestamp"] = .string("<ts:\(n)>")
        }
        if case .object(var p)? = o["category_profile"], p["time_to_first_chunk"] != nil {
            p["time_to_first_chunk"] = "<seconds>"
            o["category_profile"] = .object(p)
        }
        return .object(o)
    }
}

/// Field-by-field differences between produced and expected events (empty when they match).
func eventDifferences(_ got: [JSON], _ expected: [JSON]) -> [String] {
    var out: [String] = []
    if got.count != expected.count { out.append("event count \(got.count), expected \(expected.count)") }
    for i in 0..<min(got.count, expected.count) {
        guard let g = got[i].objectValue, let e = expected[i].objectValue else {
            out.append("event \(i) is not an object")
            continue
        }
        let keys = Set(g.keys).union(e.keys).sorted()
        for k in keys where g[k] != e[k] {
            out.append(
                "event \(i) (\(e["name"]?.stringValue ?? "?")) field \(k): got \(g[k]?.jsonString(sortedKeys: true) ?? "<absent>"), expected \(e[k]?.jsonString(sortedKeys: true) ?? "<absent>")"
            )
        }
    }
    return out
}

// MARK: - The scenarios

@Suite(.serialized) struct EventScenarioTests {
    static let vectors: [JSON] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors/events.json")
        let data = try! Data(contentsOf: url)
        return try! JSON.parse([UInt8](data)).arrayValue!
    }()

    static func scenario(_ name: String) -> JSON { vectors.first { $0["name"]?.stringValue == name }! }

    static let ok: JSON = ["otel.status_code": "OK"]

    /// Runs `body` on a fresh runtime and stack, then returns the normalised events.
    static func run(_ body: (Runtime, ScopeStack) throws -> Void) rethrows -> [JSON] {
        let (rt, c) = makeRuntime()
        let stack = ScopeStack()
        try body(rt, stack)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        var ph = Placeholders(root: stack.root.uuid)
        return c.json.map { ph.normalise($0) }
    }

    // Each runner reproduces the `calls` of one scenario and returns (produced, expected) events.
    static let runners: [(String, @Sendable () throws -> ([JSON], [JSON]))] = [
        ("nested_scopes_and_marks", nestedScopesAndMarks),
        ("managed_llm_call_with_openai_chat_codecs", managedLLMWithCodecs),
        ("managed_and_manual_tool_calls", toolCalls),
        ("llm_conditional_guardrail_rejection", guardrailRejection),
        ("agent_session_history_projection_and_streaming", projectionAndStreaming),
        ("llm_provider_error_with_sanitized_request", providerErrorSanitized),
    ]

    static func expected(_ name: String) -> [JSON] { scenario(name)["events"]!.arrayValue! }

    static func nestedScopesAndMarks() throws -> ([JSON], [JSON]) {
        let got = try run { rt, s in
            // `scope(...)` context manager: push, then pop with OK (or ERROR + message) metadata.
            let agent = rt.pushScope(
                "research-agent", type: .agent, stack: s, metadata: ["session_id": "s-1"], input: ["task": "summarise"])
            rt.mark("plan-ready", stack: s, data: ["steps": 2])
            let fetch = rt.pushScope("fetch", type: .function, stack: s, attributes: Attributes.parallel)
            try rt.popScope(fetch, stack: s, output: ["docs": 3], metadata: ["cache": "miss"])
            rt.mark("explicit-parent-mark", stack: s, parent: agent, metadata: ["k": "v"])
            try rt.popScope(agent, stack: s, metadata: ok)
            let failing = rt.pushScope("failing-step", type: .function, stack: s)
            try rt.popScope(
                failing, stack: s,
                metadata: ["otel.status_code": "ERROR", "otel.status_description": "step exploded"])
        }
        return (got, expected("nested_scopes_and_marks"))
    }

    static func managedLLMWithCodecs() throws -> ([JSON], [JSON]) {
        let exp = expected("managed_llm_call_with_openai_chat_codecs")
        // The reference records the request body and the provider response unchanged, so the
        // vector doubles as the input of the call.
        let content = exp[1]["data"]!["content"]!
        let response = exp[2]["data"]!
        let seen = Box<LLMRequest?>(nil)
        let got = try run { rt, s in
            let agent = rt.pushScope("chat-agent", type: .agent, stack: s)
            let p = LLMCallParams(
                name: "openai",
                request: LLMRequest(
                    headers: ["authorization": "Bearer sk-secret", "x-request-id": "req-1"], content: content),
                metadata: ["attempt": 1], modelName: "gpt-4o-mini", codec: OpenAIChatCodec(),
                responseCodec: OpenAIChatCodec())
            let r = runLLM(rt, p, stack: s) { req, c in
                seen.value = req
                c.resume(returning: response)
            }
            #expect(r?.success == response)
            try rt.popScope(agent, stack: s, metadata: ok)
        }
        // The provider keeps the credential header and gets the session and trace headers.
        #expect(seen.value?.headers["authorization"] == "Bearer sk-secret")
        #expect(seen.value?.headers["x-dynamo-session-id"] == "chat-agent")
        #expect(seen.value?.headers["traceparent"] != nil)
        return (got, exp)
    }

    static func toolCalls() throws -> ([JSON], [JSON]) {
        let got = run { rt, s in
            let ok = runTool(
                rt,
                ToolCallParams(
                    name: "get_weather", args: ["city": "Paris"], metadata: ["attempt": 1], toolCallID: "call_1"),
                stack: s
            ) { _, c in
                c.resume(
                    returning: ToolResult(result: ["temp_c": 18, "city": "Paris"], annotation: ["source": "cache"]))
            }
            #expect(ok?.success?.result == ["temp_c": 18, "city": "Paris"])
            let bad = runTool(
                rt,
                ToolCallParams(
                    name: "get_time", args: ["tz": "Asia/Tokyo"], attributes: Attributes.remote,
                    data: ["fallback": "n/a"], toolCallID: "call_2"),
                stack: s
            ) { _, c in c.resume(throwing: .callback("RuntimeError", "service unavailable")) }
            #expect(bad?.failure == .callback("RuntimeError", "service unavailable"))
            let h = rt.toolCall(
                ToolCallParams(name: "manual_tool", args: ["q": 1], metadata: ["phase": "start"]), stack: s)
            rt.toolCallEnd(h, result: ToolResult(result: "done"), metadata: ["phase": "end"], stack: s)
        }
        return (got, expected("managed_and_manual_tool_calls"))
    }

    static func guardrailRejection() throws -> ([JSON], [JSON]) {
        let got = try run { rt, s in
            try rt.registerLLMConditionalGuardrail("allow-all", priority: 1) { _, c in c.resume(returning: nil) }
            try rt.registerLLMConditionalGuardrail("block-secrets", priority: 2) { req, c in
                c.resume(returning: req.content.jsonString().contains("secret") ? "request mentions a secret" : nil)
            }
            let r1 = runLLM(
                rt, LLMCallParams(name: "openai", request: chatRequest("tell me the secret"), modelName: "gpt-4o"),
                stack: s, provider: returning(["ok": true]))
            #expect(r1?.failure?.displayText == "guardrail rejected: request mentions a secret")
            let r2 = runLLM(
                rt, LLMCallParams(name: "openai", request: chatRequest("hello"), modelName: "gpt-4o"), stack: s,
                provider: returning(["ok": true]))
            #expect(r2?.success == ["ok": true])
        }
        return (got, expected("llm_conditional_guardrail_rejection"))
    }

    /// The seven Anthropic stream events whose `llm.chunk` summaries the scenario records.
    static let anthropicChunks: [JSON] = [
        [
            "type": "message_start",
            "message": [
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
                "content": [], "stop_reason": nil, "stop_sequence": nil,
                "usage": ["input_tokens": 25, "output_tokens": 1],
            ],
        ],
        ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]],
        ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": "Hello"]],
        ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": " world"]],
        ["type": "content_block_stop", "index": 0],
        [
            "type": "message_delta", "delta": ["stop_reason": "end_turn", "stop_sequence": nil],
            "usage": ["output_tokens": 3],
        ],
        ["type": "message_stop"],
    ]

    /// A managed call under a fresh agent (full history on its start), then a streaming call under the
    /// same agent: current-turn projection, one `llm.chunk` mark per chunk, and the end event with the
    /// finalizer's Messages-shaped value, its annotation and `time_to_first_chunk`.
    static func projectionAndStreaming() throws -> ([JSON], [JSON]) {
        let all = expected("agent_session_history_projection_and_streaming")
        let content = all[1]["data"]!["content"]!
        let response = all[2]["data"]!
        let final = all[11]["data"]!
        var streamed = content.objectValue!
        streamed["messages"] = .array(
            content["messages"]!.arrayValue! + [
                ["role": "assistant", "content": "4"], ["role": "user", "content": "Say hello to the world"],
            ])
        streamed["stream"] = true
        let headers: JSONObject = ["x-api-key": "sk-ant", "anthropic-version": "2023-06-01"]
        let got = try run { rt, s in
            let agent = rt.pushScope("assistant-session", type: .agent, stack: s)
            var p = LLMCallParams(
                name: "anthropic", request: LLMRequest(headers: headers, content: content),
                modelName: "claude-sonnet-4-20250514", codec: AnthropicMessagesCodec(),
                responseCodec: AnthropicMessagesCodec())
            let r = runLLM(rt, p, stack: s, provider: returning(response))
            #expect(r?.success == response)

            p.request = LLMRequest(headers: headers, content: .object(streamed))
            p.attributes = Attributes.streaming
            let text = Box("")
            let seen = Box<LLMRequest?>(nil)
            let options = LLMStreamOptions(
                collector: { chunk throws(RelayError) in
                    if let t = chunk["delta"]?["text"]?.stringValue { text.mutate { $0 += t } }
                },
                finalizer: { () throws(RelayError) -> JSON in
                    #expect(text.value == "Hello world")
                    return final
                })
            let stream = rt.llmStreamExecute(p, stack: s, options: options) { req, sink in
                seen.value = req
                for c in anthropicChunks { #expect(sink.push(c) == .accepted) }
                sink.finish()
            }
            var chunks: [JSON] = []
            while case .chunk(let c) = stream.next(timeoutNanos: 0) { chunks.append(c) }
            #expect(chunks == anthropicChunks)
            #expect(stream.next(timeoutNanos: 0) == .finished)
            // The provider receives the full history, with the session and trace headers.
            #expect(seen.value?.content == .object(streamed))
            #expect(seen.value?.headers["x-dynamo-session-id"] == "assistant-session")
            #expect(seen.value?.headers["traceparent"] != nil)
            try rt.popScope(agent, stack: s, metadata: ok)
        }
        return (got, all)
    }

    static func providerErrorSanitized() throws -> ([JSON], [JSON]) {
        let got = try run { rt, s in
            try rt.registerLLMSanitizeRequest("redact-ssn", priority: 10) { req, _, c in
                var r = req
                let text = r.content.jsonString().replacingOccurrences(of: "123-45-6789", with: "[SSN]")
                r.content = try! JSON.parse(text)
                c.resume(returning: r)
            }
            let p = LLMCallParams(
                name: "openai", request: chatRequest("My SSN is 123-45-6789"), data: ["retry": 0], modelName: "gpt-4o",
                codec: OpenAIChatCodec(), responseCodec: OpenAIChatCodec())
            let r = runLLM(rt, p, stack: s) { req, c in
                // The provider sees the unsanitized request.
                #expect(req.content.jsonString().contains("123-45-6789"))
                c.resume(throwing: .callback("ConnectionError", "upstream timeout"))
            }
            #expect(r?.failure == .callback("ConnectionError", "upstream timeout"))
        }
        return (got, expected("llm_provider_error_with_sanitized_request"))
    }

    @Test func everyVectorScenarioHasARunner() {
        let names = Self.vectors.compactMap { $0["name"]?.stringValue }
        #expect(names.sorted() == Self.runners.map(\.0).sorted())
    }

    @Test func scenariosMatchTheVectors() throws {
        var passed = 0
        var failed = 0
        for (name, runner) in Self.runners {
            let (got, exp) = try runner()
            let diffs = eventDifferences(got, exp)
            if diffs.isEmpty { passed += 1 } else { failed += 1 }
            #expect(diffs.isEmpty, "\(name):\n  \(diffs.joined(separator: "\n  "))")
        }
        print("events.json scenarios: \(passed) passed, \(failed) failed")
    }

    /// The comparison itself notices a changed field, a missing event and a renumbered uuid.
    @Test func comparisonDetectsDifferences() throws {
        let (got, exp) = try Self.nestedScopesAndMarks()
        #expect(eventDifferences(got, exp).isEmpty)
        var changed = exp
        var e = changed[3].objectValue!
        e["data"] = ["docs": 4]
        changed[3] = .object(e)
        #expect(eventDifferences(got, changed).count == 1)
        #expect(!eventDifferences(Array(got.dropLast()), exp).isEmpty)
        var renumbered = exp
        var m = renumbered[1].objectValue!
        m["parent_uuid"] = "<uuid:1>"
        renumbered[1] = .object(m)
        #expect(eventDifferences(got, renumbered).count == 1)
    }

    /// Every produced line is canonical: keys sorted, compact, and re-serializes to the same bytes.
    @Test func linesAreCanonical() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let h = rt.pushScope("a", type: .agent, stack: s, metadata: ["z": 1, "a": ["y": 2, "b": 3]])
        rt.mark("m", stack: s, data: ["k": "v"])
        try rt.popScope(h, stack: s)
        rt.flush()
        for r in c.records {
            let parsed = try JSON.parse(r.bytes)
            #expect(parsed.serialized(sortedKeys: true) == r.bytes)
            #expect(!String(decoding: r.bytes, as: UTF8.self).contains(" "))
        }
    }
}
