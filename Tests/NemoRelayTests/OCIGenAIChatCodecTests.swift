// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct OCIGenAIChatCodecTests: CodecTestSuite {
    let codec = OCIGenAIChatCodec()

    @Test func goldenVectors() throws { try expectGoldenVectors(count: 67) }

    @Test func roundTripOfEveryVectorInput() throws { try expectRoundTrips() }

    static let generic = #"""
        {"compartmentId":"c","servingMode":{"servingType":"ON_DEMAND","modelId":"m"},
         "chatRequest":{"apiFormat":"GENERIC","topK":5,"messages":[
          {"role":"USER","content":[{"type":"TEXT","text":"a","cacheControl":{"type":"ephemeral"}}]},
          {"role":"ASSISTANT","content":[{"type":"TEXT","text":"b"}],"refusal":null}]}}
        """#

    @Test func editedMessageKeepsPartAndMessageMembers() throws {
        let out = try reencode(Self.generic) { a in
            a["messages"] = [["role": "user", "content": "A"], ["role": "assistant", "content": "b"]]
        }
        let messages = try #require(out["chatRequest"]?["messages"]?.arrayValue)
        #expect(
            messages[0] == [
                "role": "USER", "content": [["type": "TEXT", "text": "A", "cacheControl": ["type": "ephemeral"]]],
            ])
        #expect(messages[1]["refusal"] == .null)
        #expect(out["chatRequest"]?["topK"] == 5)
        #expect(out["compartmentId"] == "c")
    }

    @Test func aliasNamesTheSameCodec() {
        #expect(BuiltinCodecs.named("oci_genai_chat")?.id == "oci_genai")
    }

    @Test func functionToolsAndCallsAreWrittenFlat() throws {
        let out = try reencode(Self.generic) { a in
            a["tools"] = [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]]
            var m = try #require(a["messages"]?.arrayValue)
            m.append([
                "role": "assistant", "content": .null,
                "tool_calls": [["id": "", "type": "function", "function": ["name": "f", "arguments": ["x": 1]]]],
            ])
            a["messages"] = .array(m)
        }
        #expect(out["chatRequest"]?["tools"] == [["type": "FUNCTION", "name": "f", "parameters": ["type": "object"]]])
        #expect(
            out["chatRequest"]?["messages"]?[2]
                == [
                    "role": "ASSISTANT", "content": [],
                    "toolCalls": [["type": "FUNCTION", "name": "f", "arguments": #"{"x":1}"#]],
                ])
    }

    @Test func nonObjectResponseIsKeptRaw() throws {
        #expect(try codec.decodeResponse("text") == ["raw": "text"])
    }
}
