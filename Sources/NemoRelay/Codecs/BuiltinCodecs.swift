// SPDX-License-Identifier: Apache-2.0

/// Looks up the built-in provider codecs by their id.
public enum BuiltinCodecs {
    /// The ids of every built-in codec.
    public static let ids: [String] = [
        "openai_chat", "openai_responses", "anthropic_messages", "gemini_generate_content",
    ]

    /// The built-in codec with id `id` (one of ``ids``), or nil.
    public static func named(_ id: String) -> (any SynchronousLLMCodec)? {
        switch id {
        case "openai_chat": return OpenAIChatCodec()
        case "openai_responses": return OpenAIResponsesCodec()
        case "anthropic_messages": return AnthropicMessagesCodec()
        case "gemini_generate_content": return GeminiGenerateContentCodec()
        default: return nil
        }
    }
}
