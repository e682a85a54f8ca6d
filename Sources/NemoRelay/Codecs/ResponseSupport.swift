// SPDX-License-Identifier: Apache-2.0

/// Reads typed members of a provider response, strictly (decode errors) or leniently (chunk summaries).
struct ResponseReader {
    let surface: CodecSurface
    /// When false, members of the wrong type read as absent instead of failing.
    let strict: Bool

    func fail(_ reason: String) -> RelayError {
        .internalError("\(surface.rawValue) response decode: \(reason)")
    }

    func invalidType(_ v: JSON, expected: String) -> RelayError {
        fail("invalid type: \(v.serdeDescription), expected \(expected)")
    }

    /// The top-level response object.
    func root(_ v: JSON, structName: String) throws(RelayError) -> JSONObject {
        guard case .object(let o) = v else { throw invalidType(v, expected: "struct \(structName)") }
        return o
    }

    /// Starts a response decode: the top-level object, with `id` and `model` read into `out` and the
    /// surface's `api` tag into `api`.
    @inline(__always) func begin(
        _ response: JSON, structName: String, out: inout JSONObject, api: inout JSONObject
    ) throws(RelayError) -> JSONObject {
        let o = try root(response, structName: structName)
        api["api"] = .string(surface.api)
        if let id = try string(o, "id") { out["id"] = .string(id) }
        if let model = try string(o, "model") { out["model"] = .string(model) }
        return o
    }

    /// Ends a response decode: `api_specific`, then every top-level member not in `knownKeys`.
    @inline(__always) func finish(
        _ o: JSONObject, knownKeys: Set<String>, out: inout JSONObject, api: JSONObject
    ) -> JSON {
        out["api_specific"] = .object(api)
        o.forEach { k, v in
            if !knownKeys.contains(k) { out[k] = v }
        }
        return .object(out)
    }

    func string(_ o: JSONObject, _ key: String) throws(RelayError) -> String? {
        guard let v = o.value(key) else { return nil }
        guard case .string(let s) = v else {
            if strict { throw invalidType(v, expected: "a string") }
            return nil
        }
        return s
    }

    func array(_ o: JSONObject, _ key: String) throws(RelayError) -> [JSON]? {
        guard let v = o.value(key) else { return nil }
        guard case .array(let a) = v else {
            if strict { throw invalidType(v, expected: "a sequence") }
            return nil
        }
        return a
    }

    func object(_ o: JSONObject, _ key: String, structName: String) throws(RelayError) -> JSONObject? {
        guard let v = o.value(key) else { return nil }
        return try object(v, structName: structName)
    }

    func object(_ v: JSON, structName: String) throws(RelayError) -> JSONObject? {
        guard case .object(let obj) = v else {
            if strict { throw invalidType(v, expected: "struct \(structName)") }
            return nil
        }
        return obj
    }

    func bool(_ o: JSONObject, _ key: String) throws(RelayError) -> Bool? {
        guard let v = o.value(key) else { return nil }
        guard case .bool(let b) = v else {
            if strict { throw invalidType(v, expected: "a boolean") }
            return nil
        }
        return b
    }

    /// A token count: a non-negative integer (serde `u64`).
    func count(_ o: JSONObject, _ key: String) throws(RelayError) -> UInt64? {
        guard let v = o.value(key) else { return nil }
        switch v {
        case .int(let i) where i >= 0: return UInt64(i)
        case .uint(let u): return u
        case .int:
            if strict { throw fail("invalid value: \(v.serdeDescription), expected u64") }
            return nil
        default:
            if strict { throw invalidType(v, expected: "u64") }
            return nil
        }
    }
}

/// Response usage in the normalized names of docs/annotated-request.md, "Usage".
struct NormalizedUsage {
    var promptTokens: UInt64?
    var completionTokens: UInt64?
    var totalTokens: UInt64?
    var cacheReadTokens: UInt64?
    var cacheWriteTokens: UInt64?
    var uncachedInputTokens: UInt64?
    var cost: JSON?

    /// The usage object, or nil when nothing is known.
    func json(includeUncached: Bool = true) -> JSON? {
        var o = JSONObject(minimumCapacity: 7)
        if let promptTokens { o["prompt_tokens"] = Self.number(promptTokens) }
        if let completionTokens { o["completion_tokens"] = Self.number(completionTokens) }
        if let totalTokens { o["total_tokens"] = Self.number(totalTokens) }
        if let cacheReadTokens { o["cache_read_tokens"] = Self.number(cacheReadTokens) }
        if let cacheWriteTokens { o["cache_write_tokens"] = Self.number(cacheWriteTokens) }
        if includeUncached, let uncachedInputTokens { o["uncached_input_tokens"] = Self.number(uncachedInputTokens) }
        if let cost { o["cost"] = cost }
        return o.isEmpty ? nil : .object(o)
    }

    static func number(_ u: UInt64) -> JSON {
        u <= UInt64(Int64.max) ? .int(Int64(u)) : .uint(u)
    }
}

/// Usage normalization shared by the response codecs and the stream chunk summaries.
enum UsageNormalizer {
    /// OpenAI Chat usage (`prompt_tokens`, `prompt_tokens_details.cached_tokens`, …).
    static func openAIChat(_ u: JSONObject, _ r: ResponseReader) throws(RelayError) -> NormalizedUsage {
        try openAI(
            u, r, prompt: "prompt_tokens", completion: "completion_tokens", details: "prompt_tokens_details",
            detailsStruct: "PromptTokensDetails")
    }

    /// OpenAI Responses usage (`input_tokens`, `input_tokens_details.cached_tokens`, …).
    static func openAIResponses(_ u: JSONObject, _ r: ResponseReader) throws(RelayError) -> NormalizedUsage {
        try openAI(
            u, r, prompt: "input_tokens", completion: "output_tokens", details: "input_tokens_details",
            detailsStruct: "InputTokensDetails")
    }

    /// The OpenAI usage shape both OpenAI surfaces share under their own key names: prompt, completion and
    /// `total_tokens` counts, `cached_tokens` inside the details object, and the provider cost.
    static func openAI(
        _ u: JSONObject, _ r: ResponseReader, prompt: String, completion: String, details: String,
        detailsStruct: String
    ) throws(RelayError) -> NormalizedUsage {
        var n = NormalizedUsage()
        n.promptTokens = try r.count(u, prompt)
        n.completionTokens = try r.count(u, completion)
        n.totalTokens = try r.count(u, "total_tokens")
        if let d = try r.object(u, details, structName: detailsStruct) {
            n.cacheReadTokens = try r.count(d, "cached_tokens")
        }
        n.uncachedInputTokens = uncached(prompt: n.promptTokens, cached: n.cacheReadTokens)
        n.cost = providerCost(u)
        return n
    }

    /// Anthropic usage (`input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`, …).
    static func anthropic(_ u: JSONObject, _ r: ResponseReader) throws(RelayError) -> NormalizedUsage {
        var n = NormalizedUsage()
        n.promptTokens = try r.count(u, "input_tokens")
        n.completionTokens = try r.count(u, "output_tokens")
        if let p = n.promptTokens, let c = n.completionTokens {
            let (sum, overflow) = p.addingReportingOverflow(c)
            if !overflow { n.totalTokens = sum }
        }
        n.cacheReadTokens = try r.count(u, "cache_read_input_tokens")
        n.cacheWriteTokens = try r.count(u, "cache_creation_input_tokens")
        n.uncachedInputTokens = n.promptTokens
        n.cost = providerCost(u)
        return n
    }

    static func uncached(prompt: UInt64?, cached: UInt64?) -> UInt64? {
        guard let prompt, let cached, cached <= prompt else { return nil }
        return prompt - cached
    }

    /// A provider-reported cost from `usage.cost` (number or object) or `usage.cost_usd`.
    static func providerCost(_ u: JSONObject) -> JSON? {
        let raw = u.value("cost") ?? u.value("cost_usd")
        guard let raw else { return nil }
        var o = JSONObject(minimumCapacity: 4)
        o["currency"] = "USD"
        o["source"] = "provider_reported"
        switch raw {
        case .int, .uint, .double:
            o["total"] = raw
        case .object(let c):
            c.forEach { k, v in
                if k != "currency" && k != "source" { o[k] = v }
            }
            if let currency = c.value("currency") { o["currency"] = currency }
        default:
            return nil
        }
        return .object(o)
    }
}

/// Finish-reason normalization (docs/annotated-request.md, "Finish reason").
enum FinishReason {
    static func unknown(_ raw: String) -> JSON { ["unknown": .string(raw)] }

    static func openAIChat(_ raw: String) -> JSON {
        switch raw {
        case "stop": return "complete"
        case "length": return "length"
        case "tool_calls", "function_call": return "tool_use"
        case "content_filter": return "content_filter"
        default: return unknown(raw)
        }
    }

    static func openAIResponses(status: String, incompleteReason: String?) -> JSON {
        switch status {
        case "completed": return "complete"
        case "incomplete":
            switch incompleteReason {
            case "max_output_tokens"?: return "length"
            case "content_filter"?: return "content_filter"
            case let other?: return unknown(other)
            case nil: return unknown("incomplete")
            }
        default: return unknown(status)
        }
    }

    static func anthropic(_ raw: String) -> JSON {
        switch raw {
        case "end_turn": return "complete"
        case "max_tokens": return "length"
        case "tool_use": return "tool_use"
        default: return unknown(raw)
        }
    }
}
