// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct OpenAIResponsesCodecTests: CodecTestSuite {
    let codec = OpenAIResponsesCodec()

    @Test func goldenVectors() throws { try expectGoldenVectors(count: 46) }

    @Test func roundTripOfEveryVectorInput() throws { try expectRoundTrips() }

    @Test func editedToolCallIsPatchedAndKeepsItsStatus() throws {
        let body = #"""
            {"model":"m","input":[{"role":"user","content":"hi"},
              {"type":"function_call","id":"fc_1","call_id":"c1","name":"f","arguments":"{\"a\":1}",
               "status":"completed"}]}
            """#
        let out = try reencode(body) { a in
            var msgs = a["messages"]?.arrayValue ?? []
            var call = msgs[1].objectValue ?? JSONObject()
            call["arguments"] = ["a": "[REDACTED]"]
            msgs[1] = .object(call)
            a["messages"] = .array(msgs)
        }
        #expect(
            out["input"]?.arrayValue?.last == [
                "type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f",
                "arguments": #"{"a":"[REDACTED]"}"#,
                "status": "completed",
            ])
    }

    @Test func unexpressibleFieldsAreRejected() throws {
        let body = #"{"model":"m","input":"hi"}"#
        #expect(throws: RelayError.self) { _ = try reencode(body) { a in a["params"] = ["stop": ["x"]] } }
        #expect(throws: RelayError.self) {
            _ = try reencode(body) { a in a["instructions"] = [["type": "text", "text": "x"]] }
        }
        #expect(throws: RelayError.self) {
            _ = try reencode(body) { a in
                a["messages"] = [["role": "tool", "tool_call_id": "c", "content": "chat-only"]]
            }
        }
    }

    @Test func freshAssistantTextIsOutputText() throws {
        let out = try reencode(#"{"model":"m","input":[{"role":"user","content":"hi"}]}"#) { a in
            var msgs = a["messages"]?.arrayValue ?? []
            msgs.append(["role": "assistant", "content": [["type": "text", "text": "hello"]]])
            a["messages"] = .array(msgs)
        }
        #expect(
            out["input"]?.arrayValue?.last == [
                "type": "message", "role": "assistant", "content": [["type": "output_text", "text": "hello"]],
            ])
    }
}
