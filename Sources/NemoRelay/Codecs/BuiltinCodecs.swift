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

    /// Every built-in codec with the other names it accepts, in `ids` order:
    /// `[{"id": "openai_chat", "aliases": []}, ..., {"id": "oci_genai", "aliases": ["oci_genai_chat"]}, ...]`.
    /// Bindings read this list instead of keeping their own (docs/codecs.md, "Built-in codecs").
    public static var listing: JSON {
        .array(
            ids.map { id in
                let names = aliases.filter { $0.value == id }.map(\.key).sorted()
                return .object(["id": .string(id), "aliases": .array(names.map { .string($0) })])
            })
    }

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
