// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

@Suite struct ProjectionTests {
    static func message(_ role: String, _ content: String) -> JSON {
        ["role": .string(role), "content": .string(content)]
    }

    @Test func keepsPrecedingSystemMessagesAndTheCurrentTurn() {
        let annotated: JSON = [
            "instructions": "top",
            "messages": [
                Self.message("system", "s1"), Self.message("developer", "d1"), Self.message("user", "u1"),
                Self.message("assistant", "a1"), Self.message("system", "s2"), Self.message("user", "u2"),
                Self.message("assistant", "a2"),
            ],
        ]
        let projected = projectCurrentTurn(annotated)
        #expect(
            projected?["messages"] == [
                Self.message("system", "s1"), Self.message("system", "s2"), Self.message("user", "u2"),
                Self.message("assistant", "a2"),
            ])
        #expect(projected?["instructions"] == "top")
    }

    @Test func returnsNilWhenNothingIsDropped() {
        let a: JSON = [
            "messages": [Self.message("system", "s"), Self.message("user", "u"), Self.message("assistant", "x")]
        ]
        #expect(projectCurrentTurn(a) == nil)
        #expect(projectCurrentTurn(["messages": []]) == nil)
        #expect(projectCurrentTurn("not an object") == nil)
    }

    @Test func withoutUserKeepsSystemAndLastMessage() {
        let a: JSON = [
            "messages": [
                Self.message("system", "s"), Self.message("assistant", "a1"), Self.message("developer", "d"),
                Self.message("assistant", "a2"),
            ]
        ]
        #expect(projectCurrentTurn(a)?["messages"] == [Self.message("system", "s"), Self.message("assistant", "a2")])
    }

    @Test func anthropicToolResultOnlyUserMessageCounts() throws {
        let body = try JSON.parse(
            #"""
            {"model":"c","max_tokens":10,"messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"w","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"}]}]}
            """#)
        let annotated = try AnthropicMessagesCodec().decode(LLMRequest(content: body))
        let projected = try #require(projectCurrentTurn(annotated))
        #expect(projected["messages"]?.arrayValue?.count == 1)
        #expect(projected["messages"]?.arrayValue?.first?["role"] == "user")
    }

    @Test func responsesToolResultIsNotAUserMessage() throws {
        let body = try JSON.parse(
            #"""
            {"model":"m","input":[
              {"role":"user","content":"hello"},{"role":"assistant","content":"hi"},
              {"role":"user","content":"weather?"},
              {"type":"function_call","call_id":"c1","name":"w","arguments":"{}"},
              {"type":"function_call_output","call_id":"c1","output":"sunny"}]}
            """#)
        let annotated = try OpenAIResponsesCodec().decode(LLMRequest(content: body))
        let kept = try #require(projectCurrentTurn(annotated)?["messages"]?.arrayValue)
        #expect(kept.map { $0["role"] } == ["user", "tool_call", "tool_result"])
        #expect(kept.first?["content"] == "weather?")
    }

    /// The streaming call of `agent_session_history_projection_and_streaming` logs only the current turn.
    @Test func matchesTheEventsVector() throws {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("events.json")
        let root = try JSON.parse([UInt8](Data(contentsOf: url)))
        let scenario = try #require(
            root.arrayValue?.first { $0["name"] == "agent_session_history_projection_and_streaming" })
        let starts = (scenario["events"]?.arrayValue ?? []).filter {
            $0["category"] == "llm" && $0["scope_category"] == "start"
        }
        let second = try #require(starts.last)
        let body = try JSON.parse(
            #"""
            {"model":"claude-sonnet-4-20250514","max_tokens":100,"system":"You are friendly.","stream":true,
             "messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello! How can I help?"},
               {"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"},
               {"role":"user","content":"Say hello to the world"}]}
            """#)
        let codec = AnthropicMessagesCodec()
        let original = LLMRequest(content: body)
        let projected = try #require(projectCurrentTurn(try codec.decode(original)))
        #expect(projected == second["category_profile"]?["annotated_request"])
        let encoded = try codec.encode(projected, original: original)
        #expect(encoded.content == second["data"]?["content"])
    }
}
