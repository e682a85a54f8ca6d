// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct AnthropicMessagesCodecTests: CodecTestSuite {
    let codec = AnthropicMessagesCodec()

    @Test func goldenVectors() throws { try expectGoldenVectors(count: 47) }

    @Test func roundTripOfEveryVectorInput() throws { try expectRoundTrips() }

    @Test func parallelHintWithoutToolChoiceCreatesAutoChoice() throws {
        let out = try reencode(#"{"model":"c","max_tokens":5,"messages":[]}"#) { a in a["parallel_tool_calls"] = false }
        #expect(out["tool_choice"] == ["type": "auto", "disable_parallel_tool_use": true])
        let back = try reencode(
            #"{"model":"c","max_tokens":5,"messages":[],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}"#
        ) {
            a in a["parallel_tool_calls"] = nil
        }
        #expect(back["tool_choice"] == ["type": "any"])
    }

    @Test func editedSystemBlockIsPatched() throws {
        let body = #"""
            {"model":"c","max_tokens":5,"messages":[],"system":[
              {"type":"text","text":"one","cache_control":{"type":"ephemeral"}},{"type":"text","text":"two"}]}
            """#
        let out = try reencode(body) { a in
            a["instructions"] = [
                ["type": "text", "text": "one (edited)", "cache_control": ["type": "ephemeral"]],
                ["type": "text", "text": "two"],
            ]
        }
        #expect(
            out["system"] == [
                ["type": "text", "text": "one (edited)", "cache_control": ["type": "ephemeral"]],
                ["type": "text", "text": "two"],
            ])
    }

    @Test func userProfileIdAndFreshToolsRoundTrip() throws {
        let body = #"{"model":"c","max_tokens":5,"messages":[],"anthropic-user-profile-id":"p1"}"#
        let annotated = try codec.decode(LLMRequest(content: try JSON.parse(body)))
        #expect(annotated["api_specific"] == ["api": "anthropic_messages", "user_profile_id": "p1"])
        let out = try reencode(body) { a in
            a["api_specific"] = ["api": "anthropic_messages", "user_profile_id": "p2"]
            a["tools"] = [
                [
                    "type": "function",
                    "function": ["name": "f", "description": "d", "parameters": ["type": "object"], "strict": true],
                ]
            ]
        }
        #expect(out["anthropic-user-profile-id"] == "p2")
        #expect(
            out["tools"] == [["name": "f", "description": "d", "input_schema": ["type": "object"], "strict": true]])
    }
}
