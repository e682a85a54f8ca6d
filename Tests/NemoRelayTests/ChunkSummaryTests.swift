// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

@Suite struct ChunkSummaryTests {
    /// The seven Anthropic SSE events of `agent_session_history_projection_and_streaming`.
    static let anthropicEvents = #"""
        [{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],
          "model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,
          "usage":{"input_tokens":25,"output_tokens":1}}},
         {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},
         {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}},
         {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}},
         {"type":"content_block_stop","index":0},
         {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}},
         {"type":"message_stop"}]
        """#

    @Test func anthropicChunksMatchTheEventsVector() throws {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("events.json")
        let root = try JSON.parse([UInt8](Data(contentsOf: url)))
        let scenario = try #require(
            root.arrayValue?.first { $0["name"] == "agent_session_history_projection_and_streaming" })
        let expected = (scenario["events"]?.arrayValue ?? []).filter { $0["name"] == "llm.chunk" }.map {
            $0["data"] ?? .null
        }
        let chunks = try #require(try JSON.parse(Self.anthropicEvents).arrayValue)
        #expect(expected.count == chunks.count)
        for (i, chunk) in chunks.enumerated() {
            #expect(ChunkSummary.summarize(chunk, index: i) == expected[i], "chunk \(i)")
        }
    }

    @Test func geminiStreamChunks() throws {
        let chunks = try #require(
            try JSON.parse(
                #"""
                [{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"modelVersion":"g"},
                 {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP"}],
                  "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"thoughtsTokenCount":3,
                   "cachedContentTokenCount":1}},
                 {"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":9}}]
                """#
            ).arrayValue)
        let summaries = chunks.enumerated().map { ChunkSummary.summarize($1, index: $0) }
        func with(_ index: Int, _ extra: JSONObject) -> JSON {
            var o: JSONObject = [
                "chunk_index": .int(Int64(index)), "provider": "gemini_generate_content",
                "event_type": "streamGenerateContent",
            ]
            extra.forEach { k, v in o[k] = v }
            return .object(o)
        }
        #expect(summaries[0] == with(0, ["choice_indices": [0]]))
        let usage: JSON = ["prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 10, "cache_read_tokens": 1]
        let reasons: JSON = [["choice_index": 0, "finish_reason": "STOP"]]
        #expect(summaries[1] == with(1, ["choice_indices": [0], "finish_reasons": reasons, "usage": usage]))
        #expect(summaries[2] == with(2, ["usage": ["prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 9]]))
    }

    @Test func bedrockConverseStreamEvents() throws {
        let events = try #require(
            try JSON.parse(
                #"""
                [{"messageStart":{"role":"assistant"}},
                 {"contentBlockStart":{"start":{"toolUse":{"toolUseId":"t","name":"f"}},"contentBlockIndex":1}},
                 {"contentBlockDelta":{"delta":{"text":"Hi"},"contentBlockIndex":0}},
                 {"contentBlockStop":{"contentBlockIndex":0}},
                 {"messageStop":{"stopReason":"tool_use"}},
                 {"metadata":{"usage":{"inputTokens":10,"outputTokens":4,"totalTokens":30,"cacheReadInputTokens":16},
                  "metrics":{"latencyMs":120}}}]
                """#
            ).arrayValue)
        let summaries = events.enumerated().map { ChunkSummary.summarize($1, index: $0) }
        func s(_ i: Int, _ type: String, _ extra: JSONObject = [:]) -> JSON {
            var o: JSONObject = [
                "chunk_index": .int(Int64(i)), "provider": "bedrock_converse", "event_type": .string(type),
            ]
            extra.forEach { k, v in o[k] = v }
            return .object(o)
        }
        #expect(summaries[0] == s(0, "messageStart"))
        #expect(summaries[1] == s(1, "contentBlockStart", ["indices": ["contentBlockIndex": 1]]))
        #expect(summaries[2] == s(2, "contentBlockDelta", ["indices": ["contentBlockIndex": 0]]))
        #expect(summaries[3] == s(3, "contentBlockStop", ["indices": ["contentBlockIndex": 0]]))
        #expect(summaries[4] == s(4, "messageStop", ["stop_reason": "tool_use"]))
        let usage: JSON = ["prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 30, "cache_read_tokens": 16]
        #expect(summaries[5] == s(5, "metadata", ["usage": usage]))
    }

    @Test func ociStreamEventsStayUnknownAsInTheReference() throws {
        let event = try JSON.parse(
            #"{"index":0,"message":{"role":"ASSISTANT","content":[{"type":"TEXT","text":"x"}]}}"#)
        #expect(ChunkSummary.summarize(event, index: 3) == ["chunk_index": 3, "provider": "unknown"])
        // Two members: not a ConverseStream event.
        let two = try JSON.parse(#"{"messageStop":{"stopReason":"end_turn"},"x":1}"#)
        #expect(ChunkSummary.summarize(two, index: 0) == ["chunk_index": 0, "provider": "unknown"])
    }

    @Test func openAIChatChunk() throws {
        let chunk = try JSON.parse(
            #"""
            {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"},
             {"index":1,"delta":{"content":"x"},"finish_reason":null}],
             "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
                      "prompt_tokens_details":{"cached_tokens":4}}}
            """#)
        let expected: JSON = [
            "chunk_index": 3, "provider": "openai_chat_completions", "event_type": "chat.completion.chunk",
            "choice_indices": [0, 1], "finish_reasons": [["choice_index": 0, "finish_reason": "stop"]],
            "usage": ["prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cache_read_tokens": 4],
        ]
        #expect(ChunkSummary.summarize(chunk, index: 3) == expected)
    }

    @Test func openAIResponsesChunks() throws {
        let delta = try JSON.parse(
            #"{"type":"response.output_text.delta","output_index":0,"content_index":1,"delta":"x"}"#)
        #expect(
            ChunkSummary.summarize(delta, index: 0) == [
                "chunk_index": 0, "provider": "openai_responses", "event_type": "response.output_text.delta",
                "indices": ["output_index": 0, "content_index": 1],
            ])
        let done = try JSON.parse(
            #"""
            {"type":"response.completed","response":{"status":"completed",
             "usage":{"input_tokens":7,"output_tokens":2,"total_tokens":9}}}
            """#)
        #expect(
            ChunkSummary.summarize(done, index: 5) == [
                "chunk_index": 5, "provider": "openai_responses", "event_type": "response.completed",
                "status": "completed", "usage": ["prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9],
            ])
    }

    @Test func unknownShapes() throws {
        for chunk: JSON in [
            ["type": "error", "error": ["type": "overloaded_error"]],
            ["choices": [["index": 0, "delta": ["content": "x"]]]],
            "text", 42, .null, [1, 2],
        ] {
            #expect(ChunkSummary.summarize(chunk, index: 1) == ["chunk_index": 1, "provider": "unknown"])
        }
    }

    @Test func malformedUsageIsIgnored() throws {
        let chunk: JSON = ["type": "message_delta", "usage": ["output_tokens": "many"], "delta": ["stop_reason": 5]]
        #expect(
            ChunkSummary.summarize(chunk, index: 0) == [
                "chunk_index": 0, "provider": "anthropic_messages", "event_type": "message_delta",
            ])
    }
}
