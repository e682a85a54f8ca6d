// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

/// The Rust examples of the published documentation pages "Wrap LLM calls" and "Provider codecs", in Swift idiom.
@Suite struct SeedExamplesTests {
    /// Seed 000: `llm_call_execute` with a parent handle and a model name.
    @Test func wrapAProviderCall() async throws {
        let rt = Runtime()
        let stack = ScopeStack()
        let parent = rt.currentHandle(stack: stack)
        let request = LLMRequest(content: ["messages": [["role": "user", "content": "hello"]]])

        let response = try await rt.llmCallExecute(
            LLMCallParams(name: "demo-provider", request: request, parent: parent, modelName: "demo-model"),
            stack: stack
        ) { req in
            ["text": "hi", "request": req.content]
        }

        #expect(response == ["text": "hi", "request": ["messages": [["role": "user", "content": "hello"]]]])
    }

    /// Seed 001: built-in request and response codecs on a managed call.
    @Test func providerCodecs() async throws {
        let (rt, collector) = makeRuntime()
        let request = LLMRequest(content: [
            "model": "gpt-4o-mini",
            "messages": [["role": "user", "content": "Explain scopes."]],
            "temperature": 0.2,
        ])

        let response = try await rt.llmCallExecute(
            LLMCallParams(
                name: "openai-chat", request: request, modelName: "gpt-4o-mini", codec: OpenAIChatCodec(),
                responseCodec: OpenAIChatCodec()),
            stack: ScopeStack()
        ) { providerRequest in
            [
                "id": "chatcmpl-demo",
                "model": providerRequest.content["model"] ?? .null,
                "choices": [["message": ["role": "assistant", "content": "Codec-enabled response."]]],
            ]
        }

        #expect(response["id"] == "chatcmpl-demo")
        rt.flush()
        let end = try #require(collector.events.last)
        #expect(end.categoryProfile?["annotated_response"]?["message"] == "Codec-enabled response.")
        #expect(collector.events.first?.categoryProfile?["annotated_request"]?["params"]?["temperature"] == 0.2)
    }

    /// The async tool wrapper maps a thrown Swift error to a callback failure naming its type.
    @Test func asyncToolFailureKeepsTheErrorType() async throws {
        struct Unavailable: Error {}
        let rt = Runtime()
        await #expect(throws: RelayError.self) {
            _ = try await rt.toolCallExecute(ToolCallParams(name: "t", args: [:]), stack: ScopeStack()) { _ in
                throw Unavailable()
            }
        }
        let ok = try await rt.toolCallExecute(ToolCallParams(name: "t", args: ["q": 1]), stack: ScopeStack()) { args in
            ToolResult(result: args, annotation: ["source": "test"])
        }
        #expect(ok.result == ["q": 1])
    }
}
