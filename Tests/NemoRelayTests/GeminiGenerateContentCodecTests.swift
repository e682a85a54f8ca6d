// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct GeminiGenerateContentCodecTests: CodecTestSuite {
    let codec = GeminiGenerateContentCodec()

    @Test func goldenVectors() throws { try expectGoldenVectors(count: 96) }

    @Test func roundTripOfEveryVectorInput() throws { try expectRoundTrips() }

    static let history = #"""
        {"contents":[{"role":"user","parts":[{"text":"q"}]},
         {"role":"model","parts":[{"text":"plan","thought":true,"thoughtSignature":"s1"},{"text":"a"},
          {"functionCall":{"name":"f","args":{"x":1}},"thoughtSignature":"s2"}]},
         {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"r":1},"willContinue":false}}]}],
         "generationConfig":{"topK":3}}
        """#

    @Test func editedAssistantTextKeepsThoughtAndSignatures() throws {
        let out = try reencode(Self.history) { a in
            var m = try #require(a["messages"]?.arrayValue)
            m[1] = ["role": "assistant", "content": "b", "tool_calls": m[1]["tool_calls"] ?? .null]
            a["messages"] = .array(m)
        }
        let parts = try #require(out["contents"]?[1]?["parts"]?.arrayValue)
        #expect(parts.count == 3)
        #expect(parts[0] == ["text": "plan", "thought": true, "thoughtSignature": "s1"])
        #expect(parts[1] == ["text": "b"])
        #expect(parts[2]["thoughtSignature"] == "s2")
        #expect(out["generationConfig"] == ["topK": 3])
    }

    @Test func droppedFirstTurnLeavesTheOthersVerbatim() throws {
        // Every message shifts by one; each remaining content item must still be its own original,
        // thought parts and signatures included, not a patch of its neighbour.
        let out = try reencode(Self.history) { a in
            var m = try #require(a["messages"]?.arrayValue)
            m.removeFirst()
            m.append(["role": "user", "content": "next"])
            a["messages"] = .array(m)
        }
        let original = try #require(try JSON.parse(Self.history)["contents"]?.arrayValue)
        let contents = try #require(out["contents"]?.arrayValue)
        #expect(Array(contents.prefix(2)) == Array(original.dropFirst()))
        #expect(contents.last == ["role": "user", "parts": [["text": "next"]]])
    }

    @Test func editedToolResultKeepsUnmodeledMembers() throws {
        let out = try reencode(Self.history) { a in
            var m = try #require(a["messages"]?.arrayValue)
            m[2] = ["role": "tool", "tool_call_id": "f", "content": "plain text"]
            a["messages"] = .array(m)
        }
        let fr = try #require(out["contents"]?[2]?["parts"]?[0]?["functionResponse"])
        #expect(fr["response"] == ["output": "plain text"])
        #expect(fr["willContinue"] == false)
        #expect(fr["name"] == "f")
    }

    @Test func toolCallsAppendedAfterVisibleText() throws {
        let out = try reencode(#"{"contents":[{"role":"user","parts":[{"text":"q"}]}]}"#) { a in
            var m = try #require(a["messages"]?.arrayValue)
            m.append([
                "role": "assistant", "content": "calling",
                "tool_calls": [["id": "c1", "type": "function", "function": ["name": "g", "arguments": "{}"]]],
            ])
            m.append(["role": "tool", "tool_call_id": "c1", "content": "[1,2]"])
            a["messages"] = .array(m)
        }
        let contents = try #require(out["contents"]?.arrayValue)
        #expect(contents.count == 3)
        #expect(
            contents[1] == [
                "role": "model",
                "parts": [["text": "calling"], ["functionCall": ["name": "g", "id": "c1", "args": [:]]]],
            ])
        #expect(
            contents[2]
                == [
                    "role": "user",
                    "parts": [["functionResponse": ["id": "c1", "name": "g", "response": ["output": [1, 2]]]]],
                ])
    }

    @Test func stringifiedArgumentsUseTheReferenceSpelling() throws {
        let body = try JSON.parse(
            #"{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"b":1e16,"a":1.5e-7,"c":-0.0}}}]}]}"#
        )
        let a = try codec.decode(LLMRequest(content: body))
        #expect(a["messages"]?[0]?["tool_calls"]?[0]?["function"]?["arguments"] == #"{"a":1.5e-7,"b":1e+16,"c":-0.0}"#)
    }
}
