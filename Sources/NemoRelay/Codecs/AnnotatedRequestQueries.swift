// SPDX-License-Identifier: Apache-2.0

/// The questions a framework asks of an annotated request: its system prompt, its last user message
/// and whether the conversation holds tool calls. One definition for every binding; the answers are
/// the reference's, pinned by `Tests/vectors/annotated_queries.json` (docs/annotated-request.md,
/// "Queries").
public enum AnnotatedRequestQueries {
    /// The text of `content`: a string itself, else the first `text` part of a part list that has one.
    /// Non-text parts (images, tool results) are skipped; anything else has no text.
    public static func firstText(_ content: JSON?) -> String? {
        switch content {
        case .string(let s)?:
            return s
        case .array(let parts)?:
            for part in parts {
                guard let o = part.objectValue, o["type"]?.stringValue == "text" else { continue }
                if let text = o["text"]?.stringValue { return text }
            }
            return nil
        default:
            return nil
        }
    }

    /// The `instructions`' text when they have one, else the text of the first `system` or `developer`
    /// message that has text; nil when none does.
    public static func systemPrompt(_ request: JSON) -> String? {
        if let text = firstText(request["instructions"]) { return text }
        for m in request["messages"]?.arrayValue ?? [] {
            guard let role = m["role"]?.stringValue, role == "system" || role == "developer" else { continue }
            if let text = firstText(m["content"]) { return text }
        }
        return nil
    }

    /// The text of the last `user` message that has text: a user turn holding only tool results or
    /// images is skipped. Nil when no user message has text.
    public static func lastUserMessage(_ request: JSON) -> String? {
        for m in (request["messages"]?.arrayValue ?? []).reversed() where m["role"]?.stringValue == "user" {
            if let text = firstText(m["content"]) { return text }
        }
        return nil
    }

    /// True when a message carries a tool call: a `tool_call` message, an assistant message with a
    /// non-empty `tool_calls` list, or an assistant message whose content holds a `tool_use` block.
    public static func hasToolCalls(_ request: JSON) -> Bool {
        (request["messages"]?.arrayValue ?? []).contains { m in
            switch m["role"]?.stringValue {
            case "tool_call":
                return true
            case "assistant":
                if let calls = m["tool_calls"]?.arrayValue, !calls.isEmpty { return true }
                return (m["content"]?.arrayValue ?? []).contains { $0["type"]?.stringValue == "tool_use" }
            default:
                return false
            }
        }
    }

    /// All three answers as one object: `{"system_prompt", "last_user_message", "has_tool_calls"}`
    /// (absent texts are `null`).
    public static func all(_ request: JSON) -> JSON {
        [
            "system_prompt": systemPrompt(request).map(JSON.string) ?? .null,
            "last_user_message": lastUserMessage(request).map(JSON.string) ?? .null,
            "has_tool_calls": .bool(hasToolCalls(request)),
        ]
    }
}
