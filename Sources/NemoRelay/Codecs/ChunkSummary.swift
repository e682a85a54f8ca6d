// SPDX-License-Identifier: Apache-2.0

/// Builds the data of `llm.chunk` marks from a streamed provider chunk's shape (docs/pipeline.md, "llm.chunk data").
public enum ChunkSummary {
    /// The Anthropic stream event types that identify an Anthropic chunk.
    static let anthropicEvents: Set<String> = [
        "message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
        "message_stop", "ping",
    ]

    /// Summarizes one chunk: `chunk_index`, `provider` and, per provider shape, event type, indices,
    /// finish/stop reasons, status and normalized usage (keys with nothing to report are omitted).
    public static func summarize(_ chunk: JSON, index: Int) -> JSON {
        var s = JSONObject(minimumCapacity: 6)
        s["chunk_index"] = .int(Int64(index))
        guard case .object(let o) = chunk else {
            s["provider"] = "unknown"
            return .object(s)
        }
        if o["object"]?.stringValue == "chat.completion.chunk" {
            summarizeChat(o, into: &s)
        } else if case .string(let type)? = o["type"], type.hasPrefix("response.") {
            summarizeResponses(o, type: type, into: &s)
        } else if case .string(let type)? = o["type"], anthropicEvents.contains(type) {
            summarizeAnthropic(o, type: type, into: &s)
        } else {
            s["provider"] = "unknown"
        }
        return .object(s)
    }

    private static func summarizeChat(_ o: JSONObject, into s: inout JSONObject) {
        s["provider"] = "openai_chat_completions"
        s["event_type"] = "chat.completion.chunk"
        if case .array(let choices)? = o["choices"] {
            var indices: [JSON] = []
            var reasons: [JSON] = []
            for (position, c) in choices.enumerated() {
                let idx = c["index"].flatMap { $0.isInteger ? $0 : nil } ?? .int(Int64(position))
                indices.append(idx)
                if case .string(let reason)? = c["finish_reason"] {
                    reasons.append(["choice_index": idx, "finish_reason": .string(reason)])
                }
            }
            if !indices.isEmpty { s["choice_indices"] = .array(indices) }
            if !reasons.isEmpty { s["finish_reasons"] = .array(reasons) }
        }
        let reader = ResponseReader(surface: .openAIChat, strict: false)
        if case .object(let u)? = o["usage"], let usage = try? UsageNormalizer.openAIChat(u, reader) {
            if let j = usage.json(includeUncached: false) { s["usage"] = j }
        }
    }

    private static func summarizeResponses(_ o: JSONObject, type: String, into s: inout JSONObject) {
        s["provider"] = "openai_responses"
        s["event_type"] = .string(type)
        var indices = JSONObject()
        for key in ["output_index", "content_index"] {
            if let v = o[key], v.isInteger { indices[key] = v }
        }
        if !indices.isEmpty { s["indices"] = .object(indices) }
        if case .object(let response)? = o["response"] {
            if case .string(let status)? = response["status"] { s["status"] = .string(status) }
            let reader = ResponseReader(surface: .openAIResponses, strict: false)
            if case .object(let u)? = response["usage"], let usage = try? UsageNormalizer.openAIResponses(u, reader) {
                if let j = usage.json(includeUncached: false) { s["usage"] = j }
            }
        }
    }

    private static func summarizeAnthropic(_ o: JSONObject, type: String, into s: inout JSONObject) {
        s["provider"] = "anthropic_messages"
        s["event_type"] = .string(type)
        if let idx = o["index"], idx.isInteger { s["indices"] = ["index": idx] }
        var usageObject: JSONObject?
        var stopReason: JSON?
        switch type {
        case "message_start":
            if case .object(let message)? = o["message"] {
                usageObject = message["usage"]?.objectValue
                stopReason = message.value("stop_reason")
            }
        case "message_delta":
            usageObject = o["usage"]?.objectValue
            stopReason = o["delta"]?.objectValue?.value("stop_reason")
        default:
            break
        }
        if let stopReason, stopReason.stringValue != nil { s["stop_reason"] = stopReason }
        let reader = ResponseReader(surface: .anthropicMessages, strict: false)
        if let u = usageObject, let usage = try? UsageNormalizer.anthropic(u, reader) {
            if let j = usage.json(includeUncached: false) { s["usage"] = j }
        }
    }
}
