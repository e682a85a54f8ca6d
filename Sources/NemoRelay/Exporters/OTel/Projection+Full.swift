// SPDX-License-Identifier: Apache-2.0

/// The `full` projection: every event field under `nemo_relay.*` (docs/otel.md, "full").
enum OTelFull {
    /// CLIENT for calls that leave the process (llm, tool, retriever, embedder, reranker), else INTERNAL; shared
    /// with `openinference`.
    static func spanKind(_ e: OTelEvent) -> OTelSpanKind {
        switch e.scopeType {
        case "llm", "tool", "retriever", "embedder", "reranker": return .client
        default: return .internal
        }
    }

    /// `nemo_relay.uuid`, `nemo_relay.parent_uuid` (empty without a parent), `nemo_relay.scope_type`.
    static func pushIdentity(_ attrs: inout [OTelAttribute], _ e: OTelEvent) {
        attrs.append(OTelAttribute("nemo_relay.uuid", .string(e.uuidText)))
        attrs.append(OTelAttribute("nemo_relay.parent_uuid", .string(e.parentText ?? "")))
        attrs.append(OTelAttribute("nemo_relay.scope_type", .string(e.scopeType)))
    }

    /// `nemo_relay.handle_attributes`: the scope's flags as a JSON array.
    static func pushHandleAttributes(_ attrs: inout [OTelAttribute], _ e: OTelEvent) {
        guard let flags = e.handleAttributes else { return }
        attrs.append(
            OTelAttribute("nemo_relay.handle_attributes", .string(OTelAttr.jsonText(.array(flags.map(JSON.string))))))
    }

    static func startAttributes(_ e: OTelEvent) -> [OTelAttribute] {
        var attrs: [OTelAttribute] = []
        attrs.reserveCapacity(8)
        pushIdentity(&attrs, e)
        if let id = e.toolCallID { attrs.append(OTelAttribute("nemo_relay.tool_call_id", .string(id))) }
        pushHandleAttributes(&attrs, e)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.start.data", e.data)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.start.metadata", e.metadata)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.start.input", e.input)
        return attrs
    }

    static func endAttributes(_ e: OTelEvent, response: JSONObject?) -> [OTelAttribute] {
        var attrs: [OTelAttribute] = []
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.end.data", e.data)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.end.metadata", e.metadata)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.end.output", e.output)
        OTelAttr.pushToolResultAnnotation(&attrs, e)
        if e.isLLM, let (total, currency) = OTelLLM.cost(e, response: response, usdOnly: false) {
            attrs.append(OTelAttribute("nemo_relay.llm.cost.total", .double(total)))
            attrs.append(OTelAttribute("nemo_relay.llm.cost.currency", .string(currency)))
        }
        if let summary = e.annotatedResponse?["optimization_summary"]?.objectValue {
            OTelLLM.pushOptimization(&attrs, summary)
        }
        return attrs
    }

    /// The attributes of a mark (also used by `openinference`).
    static func markAttributes(_ e: OTelEvent) -> [OTelAttribute] {
        var attrs: [OTelAttribute] = []
        attrs.append(OTelAttribute("nemo_relay.mark.uuid", .string(e.uuidText)))
        attrs.append(OTelAttribute("nemo_relay.mark.parent_uuid", .string(e.parentText ?? "")))
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.mark.data", e.data)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.mark.metadata", e.metadata)
        if let category = e.category { attrs.append(OTelAttribute("nemo_relay.mark.category", .string(category))) }
        if let profile = e.profile {
            OTelAttr.pushTopLevel(&attrs, "nemo_relay.mark.category_profile", .object(profile))
        }
        return attrs
    }
}

/// LLM payload readings shared by the projections: usage, cost and optimization summaries.
enum OTelLLM {
    /// The usage of a normalized response.
    static func normalizedUsage(_ response: JSONObject?) -> TokenUsage? {
        guard case .object(let u)? = response?["usage"] else { return nil }
        return TokenUsage(
            prompt: u["prompt_tokens"]?.atifCount, completion: u["completion_tokens"]?.atifCount,
            total: u["total_tokens"]?.atifCount, cacheRead: u["cache_read_tokens"]?.atifCount,
            cacheWrite: u["cache_write_tokens"]?.atifCount)
    }

    /// Usage read from a non-provider payload's `usage` (first) and `token_usage` objects.
    static func manualUsage(_ output: JSON?) -> TokenUsage? {
        guard case .object(let o)? = output, let raw = TokenUsage(raw: o) else { return nil }
        let (prompt, completion, reportedTotal) = (raw.prompt, raw.completion, raw.total)
        // A reported total is kept only when it covers the reported components.
        var total = reportedTotal
        if let t = reportedTotal {
            let (sum, overflow) = (prompt ?? 0).addingReportingOverflow(completion ?? 0)
            let minimum = overflow ? UInt64.max : sum
            if minimum != 0 && t < minimum { total = nil }
        }
        return TokenUsage(
            prompt: prompt, completion: completion, total: total, cacheRead: raw.cacheRead, cacheWrite: raw.cacheWrite)
    }

    /// Whether the provider reports cache tokens apart from the prompt tokens (Anthropic).
    static func separateCacheTokens(provider: String?, response: JSONObject?) -> Bool {
        if response?["api_specific"]?["api"]?.stringValue == "anthropic_messages" { return true }
        guard let provider else { return false }
        let p = asciiLowercased(provider)
        return p.hasPrefix("anthropic") || p.hasPrefix("claude")
    }

    /// Prompt tokens, plus cache reads and writes where the provider counts them separately.
    static func inputTokens(provider: String?, response: JSONObject?, usage: TokenUsage) -> UInt64? {
        guard let prompt = usage.prompt else { return nil }
        guard separateCacheTokens(provider: provider, response: response) else { return prompt }
        var total = prompt
        for extra in [usage.cacheRead, usage.cacheWrite] {
            guard let extra else { continue }
            let (sum, overflow) = total.addingReportingOverflow(extra)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// The total tokens, recomputed from the cache-inclusive input where the provider separates cache tokens.
    static func totalTokens(provider: String?, response: JSONObject?, usage: TokenUsage) -> UInt64? {
        guard separateCacheTokens(provider: provider, response: response) else { return usage.total }
        if let input = inputTokens(provider: provider, response: response, usage: usage),
            let output = usage.completion
        {
            let (sum, overflow) = input.addingReportingOverflow(output)
            return overflow ? nil : sum
        }
        return usage.total
    }

    /// A cost object's total, else the sum of its components; nil when it has neither.
    static func costTotal(_ c: JSONObject) -> Double? {
        if let total = c["total"]?.doubleValue { return total }
        return ATIFPayload.componentSum(c)
    }

    /// The cost of an LLM end and its currency: the normalized usage's cost, else a cost in the raw payload's
    /// `usage`/`token_usage` (`cost_usd`, or a `cost` object). With `usdOnly`, only USD costs count.
    static func cost(_ e: OTelEvent, response: JSONObject?, usdOnly: Bool) -> (Double, String)? {
        if case .object(let usage)? = response?["usage"], let cost = usage["cost"].nonNull {
            guard case .object(let c) = cost, let total = costTotal(c) else { return nil }
            let currency = c["currency"]?.stringValue ?? "USD"
            if usdOnly && asciiLowercased(currency) != "usd" { return nil }
            return (total, currency)
        }
        guard case .object(let o)? = e.output else { return nil }
        for key in ["usage", "token_usage"] {
            guard case .object(let u)? = o[key] else { continue }
            if let total = u["cost_usd"]?.doubleValue { return (total, "USD") }
            guard case .object(let c)? = u["cost"] else { continue }
            let currency = c["currency"]?.stringValue
            if usdOnly, let currency, asciiLowercased(currency) != "usd" { continue }
            guard let total = costTotal(c) else { continue }
            return (total, currency ?? "USD")
        }
        return nil
    }

    /// `nemo_relay.llm.optimization.*` from a response's optimization summary.
    static func pushOptimization(_ attrs: inout [OTelAttribute], _ s: JSONObject) {
        let p = "nemo_relay.llm.optimization."
        if let m = s["baseline_model"]?["model"]?.stringValue {
            attrs.append(OTelAttribute(p + "baseline_model", .string(m)))
        }
        if let m = s["effective_model"]?["model"]?.stringValue {
            attrs.append(OTelAttribute(p + "effective_model", .string(m)))
        }
        for (field, key) in [("prompt_tokens", "prompt_tokens_saved"), ("total_tokens", "total_tokens_saved")] {
            if let n = s["tokens_saved"]?[field]?.atifCount {
                attrs.append(OTelAttribute(p + key, .int(n > UInt64(Int64.max) ? Int64.max : Int64(n))))
            }
        }
        for label in ["baseline", "actual"] {
            guard case .object(let c)? = s[label + "_cost"] else { continue }
            if let total = costTotal(c) { attrs.append(OTelAttribute(p + label + "_cost", .double(total))) }
            attrs.append(OTelAttribute(p + label + "_cost_currency", .string(c["currency"]?.stringValue ?? "")))
            if let v = c["pricing_source"]?.stringValue {
                attrs.append(OTelAttribute(p + label + "_pricing_source", .string(v)))
            }
            if let v = c["pricing_as_of"]?.stringValue {
                attrs.append(OTelAttribute(p + label + "_pricing_as_of", .string(v)))
            }
        }
        let currency = s["currency"]?.stringValue
        if let saved = s["estimated_cost_saved"]?.doubleValue {
            attrs.append(OTelAttribute(p + "estimated_cost_saved", .double(saved)))
            if let currency { attrs.append(OTelAttribute(p + "estimated_cost_saved_currency", .string(currency))) }
        }
        if let currency { attrs.append(OTelAttribute(p + "currency", .string(currency))) }
        attrs.append(
            OTelAttribute(p + "status", .string(s["status"]?.stringValue == "partial" ? "partial" : "complete")))
        for field in ["pricing_source", "pricing_as_of"] {
            let v = s["baseline_cost"]?[field]?.stringValue ?? s["actual_cost"]?[field]?.stringValue
            if let v { attrs.append(OTelAttribute(p + field, .string(v))) }
        }
    }
}
