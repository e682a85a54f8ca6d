// SPDX-License-Identifier: Apache-2.0

/// Token counts of an LLM call, as the OpenTelemetry projections report them and as payloads give them.
struct TokenUsage {
    var prompt: UInt64?
    var completion: UInt64?
    var total: UInt64?
    var cacheRead: UInt64?
    var cacheWrite: UInt64?

    var isEmpty: Bool {
        prompt == nil && completion == nil && total == nil && cacheRead == nil && cacheWrite == nil
    }

    /// Field by field, `self` first.
    func merged(with other: TokenUsage?) -> TokenUsage {
        guard let other else { return self }
        return TokenUsage(
            prompt: prompt ?? other.prompt, completion: completion ?? other.completion,
            total: total ?? other.total, cacheRead: cacheRead ?? other.cacheRead,
            cacheWrite: cacheWrite ?? other.cacheWrite)
    }
}

extension TokenUsage {
    /// The counts of a payload's raw `usage` (first) and `token_usage` objects under their common spellings
    /// (camelCase, Anthropic's cache keys, OpenAI's `*_tokens_details.cached_tokens`), shared by the ATIF and
    /// OpenTelemetry projections; `total` is as reported, unchecked against the components. Nil when `o` has
    /// neither object or neither holds any of the counts.
    init?(raw o: JSONObject) {
        let usage = o["usage"]?.objectValue
        let tokenUsage = o["token_usage"]?.objectValue
        guard usage != nil || tokenUsage != nil else { return nil }
        func first(_ keys: [String]) -> UInt64? {
            for source in [usage, tokenUsage] {
                guard let source else { continue }
                for key in keys { if let v = source[key]?.atifCount { return v } }
            }
            return nil
        }
        func nested(_ parent: String) -> UInt64? {
            for source in [usage, tokenUsage] {
                if let v = source?[parent]?["cached_tokens"]?.atifCount { return v }
            }
            return nil
        }
        prompt = first(["prompt_tokens", "input_tokens", "inputTokens", "input"])
        completion = first(["completion_tokens", "output_tokens", "completionTokens", "outputTokens", "output"])
        total = first(["total_tokens", "totalTokens", "total"])
        cacheRead =
            first(["cached_tokens", "cachedTokens"]) ?? nested("prompt_tokens_details")
            ?? nested("input_tokens_details")
            ?? first([
                "cache_read_tokens", "cache_read_input_tokens", "cacheReadTokens", "cacheReadInputTokens", "cacheRead",
            ])
        cacheWrite = first([
            "cache_write_tokens", "cache_creation_input_tokens", "cacheWriteTokens", "cacheCreationInputTokens",
            "cacheWrite",
        ])
        // Only tells whether there is a usage at all: a payload reporting just this count still has one.
        let uncached = first(["uncached_input_tokens", "uncachedInputTokens"])
        if isEmpty && uncached == nil { return nil }
    }
}
