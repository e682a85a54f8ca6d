// SPDX-License-Identifier: Apache-2.0

/// Looks up the built-in provider codecs by their id.
public enum BuiltinCodecs {
    /// The ids of every built-in codec (the ids the codecs report).
    public static let ids: [String] = [
        "openai_chat", "openai_responses", "anthropic_messages", "gemini_generate_content", "oci_genai",
        "bedrock_converse",
    ]

    /// Other names accepted for a built-in codec, and the id each stands for.
    public static let aliases: [String: String] = ["oci_genai_chat": "oci_genai"]

    /// The built-in codec with id (or alias) `id`, or nil.
    public static func named(_ id: String) -> (any SynchronousLLMCodec)? {
        switch aliases[id] ?? id {
        case "openai_chat": return OpenAIChatCodec()
        case "openai_responses": return OpenAIResponsesCodec()
        case "anthropic_messages": return AnthropicMessagesCodec()
        case "gemini_generate_content": return GeminiGenerateContentCodec()
        case "oci_genai": return OCIGenAIChatCodec()
        case "bedrock_converse": return BedrockConverseCodec()
        default: return nil
        }
    }
}
