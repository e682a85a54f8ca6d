// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct OpenAIChatCodecTests: CodecTestSuite {
    let codec = OpenAIChatCodec()

    @Test func goldenVectors() throws { try expectGoldenVectors(count: 65) }

    @Test func roundTripOfEveryVectorInput() throws { try expectRoundTrips() }

    @Test func patchedPartKeepsProviderExtras() throws {
        let body = #"""
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"text","text":"old","cache_control":{"type":"ephemeral"}},
              {"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}
            """#
        let out = try reencode(body) { a in
            var msgs = a["messages"]?.arrayValue ?? []
            var m = msgs[0].objectValue ?? JSONObject()
            var parts = m["content"]?.arrayValue ?? []
            var p = parts[0].objectValue ?? JSONObject()
            p["text"] = "new"
            parts[0] = .object(p)
            m["content"] = .array(parts)
            msgs[0] = .object(m)
            a["messages"] = .array(msgs)
        }
        #expect(
            out["messages"]?.arrayValue?.first?["content"]?.arrayValue?.first
                == ["type": "text", "text": "new", "cache_control": ["type": "ephemeral"]])
    }

    @Test func removingMaxTokensDeletesBothKeys() throws {
        let out = try reencode(#"{"model":"m","messages":[],"max_tokens":5,"max_completion_tokens":7}"#) { a in
            a["params"] = nil
        }
        #expect(out == ["model": "m", "messages": []])
    }

    @Test func nativeToolChoiceAndToolsFromOtherProvidersAreRejected() throws {
        let body = #"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[]}}"#
        let out = try reencode(body) { a in a["model"] = "m2" }
        #expect(out["tool_choice"] == ["type": "allowed_tools", "mode": "auto", "tools": []])
        #expect(throws: RelayError.self) {
            _ = try reencode(body) { a in
                a["tools"] = [
                    [
                        "type": "provider_native", "provider": "openai_responses", "kind": "web_search",
                        "value": ["type": "web_search"],
                    ]
                ]
            }
        }
    }

    @Test func decodeErrorsAreInvalidArguments() throws {
        for text in [
            #"{"messages":[{"role":"user","content":[5]}]}"#, #"{"messages":[5]}"#,
            #"{"messages":[],"stop":5}"#, #"{"messages":[],"tools":{}}"#, #"{"messages":[],"max_tokens":-1}"#,
            #"{"messages":[],"stream":"yes"}"#,
        ] {
            #expect(throws: RelayError.self, "\(text)") { try codec.decode(LLMRequest(content: try JSON.parse(text))) }
        }
    }
}
