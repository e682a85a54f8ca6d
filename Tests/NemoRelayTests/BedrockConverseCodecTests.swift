// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct BedrockConverseCodecTests: CodecTestSuite {
    let codec = BedrockConverseCodec()

    @Test func goldenVectors() throws { try expectGoldenVectors(count: 58) }

    @Test func roundTripOfEveryVectorInput() throws { try expectRoundTrips() }

    static let history = #"""
        {"modelId":"m","messages":[
         {"role":"user","content":[{"text":"q"}]},
         {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"r","signature":"s"}}},
          {"toolUse":{"toolUseId":"a","name":"f","input":{"x":1}}},{"toolUse":{"toolUseId":"b","name":"f","input":{}}}]},
         {"role":"user","content":[{"toolResult":{"toolUseId":"a","content":[{"text":"1"}],"status":"success"}},
          {"toolResult":{"toolUseId":"b","content":[{"json":{"ok":true}}],"status":"error"}}]}]}
        """#

    @Test func parallelResultsDecodeToToolMessagesAndEditInPlace() throws {
        let a = try codec.decode(LLMRequest(content: try JSON.parse(Self.history)))
        let messages = try #require(a["messages"]?.arrayValue)
        #expect(messages.count == 4)
        #expect(messages[2] == ["role": "tool", "tool_call_id": "a", "content": "1"])
        #expect(messages[3] == ["role": "tool", "tool_call_id": "b", "content": #"{"ok":true}"#])
        let out = try reencode(Self.history) { a in
            var m = try #require(a["messages"]?.arrayValue)
            m[3] = ["role": "tool", "tool_call_id": "b", "content": "not json"]
            a["messages"] = .array(m)
        }
        let turn = try #require(out["messages"]?[2]?["content"]?.arrayValue)
        #expect(turn.count == 2)
        #expect(turn[0]["toolResult"]?["status"] == "success")
        #expect(turn[1] == ["toolResult": ["toolUseId": "b", "content": [["text": "not json"]], "status": "error"]])
    }

    @Test func editedAssistantKeepsReasoningAndUnchangedToolUses() throws {
        let out = try reencode(Self.history) { a in
            var m = try #require(a["messages"]?.arrayValue)
            var calls = try #require(m[1]["tool_calls"]?.arrayValue)
            calls[1] = ["id": "b", "type": "function", "function": ["name": "f", "arguments": #"{"y":2}"#]]
            m[1] = ["role": "assistant", "content": m[1]["content"] ?? .null, "tool_calls": .array(calls)]
            a["messages"] = .array(m)
        }
        let blocks = try #require(out["messages"]?[1]?["content"]?.arrayValue)
        #expect(blocks.count == 3)
        #expect(blocks[0]["reasoningContent"]?["reasoningText"]?["signature"] == "s")
        #expect(blocks[1] == ["toolUse": ["toolUseId": "a", "name": "f", "input": ["x": 1]]])
        #expect(blocks[2] == ["toolUse": ["toolUseId": "b", "name": "f", "input": ["y": 2]]])
    }

    @Test func droppingATurnKeepsTheOthersVerbatim() throws {
        let out = try reencode(Self.history) { a in
            var m = try #require(a["messages"]?.arrayValue)
            m.removeFirst()
            a["messages"] = .array(m)
        }
        let original = try JSON.parse(Self.history)
        #expect(out["messages"]?.arrayValue == Array(try #require(original["messages"]?.arrayValue).dropFirst()))
    }

    @Test func toolChoiceNoneIsRefused() throws {
        #expect(throws: RelayError.self) {
            _ = try reencode(#"{"messages":[],"toolConfig":{"tools":[]}}"#) { a in a["tool_choice"] = "none" }
        }
    }
}
