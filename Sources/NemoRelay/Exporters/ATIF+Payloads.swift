// SPDX-License-Identifier: Apache-2.0

/// Reading messages, tool calls, turn state and metrics out of LLM request and response payloads
/// (docs/atif.md, "Steps").
enum ATIFPayload {
    /// The body of a `{content, headers}` request envelope, or the input unchanged.
    static func unwrapRequest(_ input: JSON) -> JSON {
        if case .object(let o) = input, let content = o["content"], o["headers"] != nil { return content }
        return input
    }

    /// A schema-compatible message: strings and ATIF content parts as they are, null as `""`, anything else
    /// as its compact JSON text.
    static func contentValue(_ value: JSON) -> JSON {
        switch value {
        case .string: return value
        case .array where isContentParts(value): return value
        case .null: return ""
        default: return .string(value.atifText)
        }
    }

    /// True for an array whose every element is a `text` part with a string `text` or an `image` part whose
    /// source has a supported `media_type` and a string `path` (an empty array qualifies).
    static func isContentParts(_ value: JSON) -> Bool {
        guard case .array(let parts) = value else { return false }
        return parts.allSatisfy { part in
            guard case .object(let o) = part else { return false }
            switch o["type"]?.stringValue {
            case "text"?: return o["text"]?.stringValue != nil
            case "image"?:
                guard case .object(let source)? = o["source"] else { return false }
                let media = ["image/jpeg", "image/png", "image/gif", "image/webp"]
                return media.contains(source["media_type"]?.stringValue ?? "") && source["path"]?.stringValue != nil
            default: return false
            }
        }
    }

    /// A tool output usable as observation content (a string or content parts).
    static func observationContent(_ value: JSON) -> JSON? {
        switch value {
        case .string: return value
        case .array where isContentParts(value): return value
        default: return nil
        }
    }

    /// A tool output kept as `extra.tool_result` (anything that is not null, a string or content parts).
    static func toolResultExtra(_ value: JSON) -> JSON? {
        switch value {
        case .null, .string: return nil
        case .array where isContentParts(value): return nil
        default: return value
        }
    }

    // MARK: Response messages

    /// The agent message of a raw response: content, `assistant_message.content`, the first chat choice,
    /// `answer`, Responses output text, `""` for tool-call-only payloads, else the whole payload.
    static func responseMessage(_ output: JSON) -> JSON {
        guard case .object(let o) = output else { return contentValue(output) }
        if let content = o["content"].nonNull {
            return anthropicText(o, content) ?? contentValue(content)
        }
        if case .object(let assistant)? = o["assistant_message"], let content = assistant["content"].nonNull {
            return contentValue(content)
        }
        if let content = firstChoiceMessageField(o, "content"), !content.isNull { return contentValue(content) }
        if let answer = o["answer"].nonNull { return contentValue(answer) }
        if let text = responsesOutputText(o) { return .string(text) }
        if toolCallArray(o) != nil { return "" }
        return contentValue(output)
    }

    /// The joined non-blank text blocks of an Anthropic `message` (or `""` when it only uses tools).
    static func anthropicText(_ o: JSONObject, _ content: JSON) -> JSON? {
        guard o["type"]?.stringValue == "message", case .array(let blocks) = content else { return nil }
        var texts: [String] = []
        var usesTools = false
        for case .object(let block) in blocks {
            switch block["type"]?.stringValue {
            case "text"?:
                if let text = block["text"]?.stringValue, !isBlank(text) { texts.append(text) }
            case "tool_use"?: usesTools = true
            default: break
            }
        }
        if texts.isEmpty { return usesTools ? "" : nil }
        return .string(texts.joined(separator: "\n"))
    }

    static func isBlank(_ s: String) -> Bool { s.unicodeScalars.allSatisfy(\.properties.isWhitespace) }

    /// `choices[0].message.<field>` of `raw_response` when present, else of the payload itself.
    static func firstChoiceMessageField(_ o: JSONObject, _ field: String) -> JSON? {
        let raw = o["raw_response"] ?? .object(o)
        guard case .object(let r) = raw, case .array(let choices)? = r["choices"],
            case .object(let choice)? = choices.first,
            case .object(let message)? = choice["message"]
        else { return nil }
        return message[field]
    }

    /// `output_text`, or the joined `output_text` parts of the Responses output items.
    static func responsesOutputText(_ o: JSONObject) -> String? {
        if let text = o["output_text"]?.stringValue { return text }
        guard case .array(let items)? = o["output"] else { return nil }
        var texts: [String] = []
        for case .object(let item) in items {
            switch item["type"]?.stringValue {
            case "message"?:
                if case .array(let content)? = item["content"] { collectText(content, type: "output_text", &texts) }
            case "output_text"?:
                if let text = item["text"]?.stringValue { texts.append(text) }
            default: break
            }
        }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }

    static func collectText(_ blocks: [JSON], type: String, _ texts: inout [String]) {
        for case .object(let block) in blocks where block["type"]?.stringValue == type {
            if let text = block["text"]?.stringValue { texts.append(text) }
        }
    }

    /// The message of an annotated response: its text, nil for content parts (the raw payload decides), `""`
    /// when it has no message.
    static func annotatedResponseMessage(_ response: JSONObject) -> JSON? {
        switch response["message"] {
        case .string(let text)?: return .string(text)
        case .null?, .none: return ""
        default: return nil
        }
    }

    // MARK: Request messages and turn state

    /// The latest user message of a request body: chat `messages`, Responses `input`, `prompt`, or the body.
    static func userMessage(_ input: JSON) -> JSON {
        guard case .object(let o) = input else { return contentValue(input) }
        if case .array(let messages)? = o["messages"] {
            let user = messages.reversed().lazy.compactMap(\.objectValue).first { m in
                guard let role = m["role"]?.stringValue else { return true }
                return role == "user"
            }
            if let content = user?["content"] { return contentValue(content) }
        }
        if let input = o["input"], let message = responsesInputMessage(input) { return message }
        if let prompt = o["prompt"] { return contentValue(prompt) }
        return contentValue(input)
    }

    static func responsesInputMessage(_ input: JSON) -> JSON? {
        if case .string = input { return input }
        guard case .array(let items) = input else { return nil }
        for case .object(let item) in items.reversed() where item["role"]?.stringValue == "user" {
            guard let content = item["content"] else { continue }
            if let message = responsesInputContent(content) { return message }
        }
        return nil
    }

    static func responsesInputContent(_ content: JSON) -> JSON? {
        if case .string = content { return content }
        guard case .array(let parts) = content else { return nil }
        var texts: [String] = []
        collectText(parts, type: "input_text", &texts)
        if texts.isEmpty { collectText(parts, type: "text", &texts) }
        if texts.isEmpty { return isContentParts(content) ? content : nil }
        return .string(texts.joined(separator: "\n"))
    }

    /// Whether a request starts a fresh user turn or continues the current one after tool work.
    enum Turn {
        case fresh
        case continuation
    }

    /// The user step message of an LLM start, or nil when the request continues the turn (and has an end).
    static func userStepMessage(_ event: ATIFEvent, content: JSON, hasPairedEnd: Bool) -> JSON? {
        let annotated = event.annotatedRequest
        let turn = annotated.flatMap(annotatedTurn) ?? rawTurn(content)
        if hasPairedEnd && turn == .continuation { return nil }
        if let annotated, let text = annotatedUserText(annotated) { return .string(text) }
        return userMessage(content)
    }

    /// The text of the last user message of an annotated request (nil when it has parts or there is none).
    static func annotatedUserText(_ request: JSONObject) -> String? {
        guard case .array(let messages)? = request["messages"] else { return nil }
        let user = messages.reversed().lazy.compactMap(\.objectValue).first { $0["role"]?.stringValue == "user" }
        return user?["content"]?.stringValue
    }

    static func annotatedTurn(_ request: JSONObject) -> Turn? {
        guard case .array(let messages)? = request["messages"] else { return nil }
        for case .object(let m) in messages.reversed() {
            switch m["role"]?.stringValue {
            case "system"?, "developer"?: continue
            case "user"?:
                guard case .array(let parts)? = m["content"] else { return .fresh }
                let types = parts.map { $0["type"]?.stringValue ?? "" }
                if types.contains(where: { ["text", "image_url", "image", "audio", "file"].contains($0) }) {
                    return .fresh
                }
                return types.contains(where: { $0 == "tool_use" || $0 == "tool_result" }) ? .continuation : .fresh
            case "assistant"?, "tool"?, "function"?, "tool_call"?, "tool_result"?: return .continuation
            case "provider_native"?:
                if let turn = providerNativeTurn(m["value"]) { return turn }
            default: continue
            }
        }
        return nil
    }

    static func providerNativeTurn(_ value: JSON?) -> Turn? {
        guard case .object(let o)? = value else { return nil }
        if o["type"] != nil { return responsesItemTurn(o) }
        switch o["role"]?.stringValue {
        case "system"?, "developer"?, nil: return nil
        case "user"?: return .fresh
        default: return .continuation
        }
    }

    static func rawTurn(_ input: JSON) -> Turn? {
        guard case .object(let o) = input else { return nil }
        if case .array(let messages)? = o["messages"] {
            for case .object(let m) in messages.reversed() {
                switch m["role"]?.stringValue {
                case "system"?, "developer"?: continue
                case "user"?, nil:
                    guard let content = m["content"] else { return .fresh }
                    return startsNewTurn(content) ? .fresh : .continuation
                default: return .continuation
                }
            }
        }
        if let items = o["input"] {
            if case .string = items { return .fresh }
            if case .array(let list) = items {
                for case .object(let item) in list.reversed() {
                    if let turn = responsesItemTurn(item) { return turn }
                }
            }
        }
        return o["prompt"] != nil ? .fresh : nil
    }

    static func responsesItemTurn(_ item: JSONObject) -> Turn? {
        switch item["type"]?.stringValue {
        case "message"?:
            switch item["role"]?.stringValue {
            case "system"?, "developer"?: return nil
            case "user"?, nil: return .fresh
            default: return .continuation
            }
        case .some: return .continuation
        case nil: return nil
        }
    }

    static func startsNewTurn(_ content: JSON) -> Bool {
        switch content {
        case .array(let parts):
            if parts.contains(where: isUserInputPart) { return true }
            return !parts.contains(where: isToolContinuationPart)
        case .object: return isUserInputPart(content) || !isToolContinuationPart(content)
        default: return true
        }
    }

    static func isUserInputPart(_ part: JSON) -> Bool {
        let types = [
            "text", "input_text", "image_url", "image", "input_image", "audio", "input_audio", "file", "document",
        ]
        return types.contains(part["type"]?.stringValue ?? "")
    }

    static func isToolContinuationPart(_ part: JSON) -> Bool {
        let type = part["type"]?.stringValue
        return type == "tool_result" || type == "tool_use"
    }

    // MARK: Tool calls

    /// `tool_calls`, `assistant_message.tool_calls` or the first chat choice's `tool_calls`, when an array.
    static func toolCallArray(_ o: JSONObject) -> [JSON]? {
        if case .array(let calls)? = o["tool_calls"] { return calls }
        if case .object(let assistant)? = o["assistant_message"], case .array(let calls)? = assistant["tool_calls"] {
            return calls
        }
        if case .array(let calls)? = firstChoiceMessageField(o, "tool_calls") { return calls }
        return nil
    }

    /// The tool calls a response asks for, from a tool-call array, Responses `function_call` items or Anthropic
    /// `tool_use` blocks; nil when there are none (or an entry is not an object).
    static func toolCalls(_ output: JSON) -> [ATIFToolCall]? {
        guard case .object(let o) = output else { return nil }
        var entries: [JSON]
        var responsesItems = false
        if let array = toolCallArray(o), !array.isEmpty {
            entries = array
        } else if case .array(let items)? = o["output"],
            case let calls = items.filter({ $0["type"]?.stringValue == "function_call" }), !calls.isEmpty
        {
            entries = calls
            responsesItems = true
        } else if o["type"]?.stringValue == "message", case .array(let blocks)? = o["content"],
            case let uses = blocks.filter({ $0["type"]?.stringValue == "tool_use" }), !uses.isEmpty
        {
            entries = uses
        } else {
            return nil
        }
        var calls: [ATIFToolCall] = []
        calls.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            guard case .object(let call) = entry else { return nil }
            let idKeys = responsesItems ? ["call_id", "id", "tool_call_id"] : ["id", "tool_call_id", "call_id"]
            var id = firstPresent(call, idKeys)?.stringValue ?? ""
            let function = call["function"]?.objectValue
            let name =
                (function?["name"] ?? firstPresent(call, ["name", "toolName", "tool_name", "function_name"]))?
                .stringValue ?? ""
            if id.isEmpty && !name.isEmpty { id = "\(name):\(index + 1)" }
            let arguments = normalizeArguments(
                function?["arguments"] ?? firstPresent(call, ["arguments", "args", "input"]))
            if id.isEmpty && name.isEmpty { continue }
            calls.append(ATIFToolCall(id: id, name: name, arguments: arguments, extra: toolCallExtra(call)))
        }
        return calls.isEmpty ? nil : calls
    }

    static func firstPresent(_ o: JSONObject, _ keys: [String]) -> JSON? {
        for key in keys { if let v = o[key] { return v } }
        return nil
    }

    /// Objects as they are; strings parsed (objects kept, other values as `{"value": v}`, unparsable text as
    /// `{"raw": s}`); null or missing as `{}`; other values as `{"value": v}`.
    static func normalizeArguments(_ raw: JSON?) -> JSON {
        switch raw {
        case .none, .null?: return .object(JSONObject())
        case .object(let o)?: return .object(o)
        case .string(let text)?:
            guard let parsed = try? JSON.parse(text) else { return ["raw": .string(text)] }
            if case .object = parsed { return parsed }
            return ["value": parsed]
        case let value?: return ["value": value]
        }
    }

    static let toolCallKeys: Set<String> = [
        "id", "tool_call_id", "call_id", "type", "function", "name", "tool_name", "function_name", "arguments",
        "args", "input",
    ]

    /// The keys of a tool call that are not its id, type, name or arguments (and the same inside `function`).
    static func toolCallExtra(_ call: JSONObject) -> JSON? {
        var extra = JSONObject()
        call.forEach { k, v in if !toolCallKeys.contains(k) { extra[k] = v } }
        if case .object(let function)? = call["function"] {
            var rest = JSONObject()
            function.forEach { k, v in if k != "name" && k != "arguments" { rest[k] = v } }
            if !rest.isEmpty { extra["function"] = .object(rest) }
        }
        return extra.isEmpty ? Optional<JSON>.none : .object(extra)
    }

    // MARK: Reasoning

    static func reasoningEffort(_ content: JSON) -> JSON? {
        guard case .object(let o) = content else { return nil }
        return o["reasoning_effort"].nonNull
    }

    static func reasoningContent(_ output: JSON) -> String? { output["reasoning"]?.stringValue }
}

// MARK: - Metrics

/// Token usage as the reference's codecs normalize it.
struct ATIFUsage {
    var prompt: UInt64?
    var completion: UInt64?
    var cacheRead: UInt64?
    var cacheWrite: UInt64?

    /// Field by field, `self` first.
    func merged(with other: ATIFUsage?) -> ATIFUsage {
        guard let other else { return self }
        return ATIFUsage(
            prompt: prompt ?? other.prompt, completion: completion ?? other.completion,
            cacheRead: cacheRead ?? other.cacheRead, cacheWrite: cacheWrite ?? other.cacheWrite)
    }
}

extension ATIFPayload {
    /// Usage keys that have a metric of their own; every other key of `usage`/`token_usage` goes to
    /// `metrics.extra`.
    static let knownUsageKeys: Set<String> = [
        "prompt_tokens", "input_tokens", "inputTokens", "input", "completion_tokens", "output_tokens",
        "completionTokens", "outputTokens", "output", "cached_tokens", "cachedTokens", "cache_read_tokens",
        "cacheReadTokens", "cache_read_input_tokens", "cacheReadInputTokens", "cacheRead",
        "cache_creation_input_tokens", "cacheCreationInputTokens", "cache_write_tokens", "cacheWriteTokens",
        "cacheWrite", "cost_usd", "cost", "prompt_tokens_details", "input_tokens_details", "prompt_token_ids",
        "completion_token_ids", "logprobs",
    ]

    /// The metrics of an LLM end: the normalized response's usage completed by the raw `usage`/`token_usage`
    /// (prompt tokens include Anthropic cache reads and writes), the USD cost, token ids, logprobs and the
    /// unmapped usage keys; nil when none of them is known.
    static func metrics(_ output: JSON, provider: String, normalized: JSONObject?) -> ATIFMetrics? {
        guard case .object(let o) = output else { return nil }
        let rawUsage: JSONObject? = o["token_usage"] != nil ? o["token_usage"]?.objectValue : o["usage"]?.objectValue
        let normalizedUsage = normalized?["usage"]?.objectValue
        let fallback = manualUsage(o)
        var usage: ATIFUsage? = fallback
        if let normalizedUsage {
            let n = ATIFUsage(
                prompt: normalizedUsage["prompt_tokens"]?.atifCount,
                completion: normalizedUsage["completion_tokens"]?.atifCount,
                cacheRead: normalizedUsage["cache_read_tokens"]?.atifCount,
                cacheWrite: normalizedUsage["cache_write_tokens"]?.atifCount)
            usage = n.merged(with: fallback)
        }
        var prompt = usage?.prompt
        if let p = prompt, separateCacheTokens(provider: provider, normalized: normalized) {
            var total: UInt64? = p
            for extra in [usage?.cacheRead, usage?.cacheWrite] {
                guard let t = total, let extra else { continue }
                let (sum, overflow) = t.addingReportingOverflow(extra)
                total = overflow ? nil : sum
            }
            prompt = total
        }
        let cacheRead = usage?.cacheRead
        let cacheWrite = usage?.cacheWrite
        let cached: UInt64? =
            switch (cacheRead, cacheWrite) {
            case (let r?, let w?): r &+ w
            case (let v?, nil), (nil, let v?): v
            case (nil, nil): nil
            }
        let cost: Double?
        if let source = normalizedUsage?["cost"], !source.isNull {
            cost = costTotal(source)
        } else {
            cost = manualCost(o)
        }
        let promptIDs = rawUsage?["prompt_token_ids"]?.arrayValue.map { $0.compactMap(\.atifCount) }
        let completionIDs = rawUsage?["completion_token_ids"]?.arrayValue.map { $0.compactMap(\.atifCount) }
        let logprobs = rawUsage?["logprobs"]?.arrayValue.map { $0.compactMap(\.doubleValue) }
        var extra = JSONObject()
        for key in ["usage", "token_usage"] {
            guard case .object(let u)? = o[key] else { continue }
            u.forEach { k, v in if !knownUsageKeys.contains(k) { extra[k] = v } }
        }
        if let summary = normalized?["optimization_summary"], !summary.isNull {
            var relay = extra["nemo_relay"]?.objectValue ?? JSONObject()
            relay["optimization"] = summary
            extra["nemo_relay"] = .object(relay)
        }
        let completion = usage?.completion
        if prompt == nil && completion == nil && cached == nil && cost == nil && extra.isEmpty { return nil }
        return ATIFMetrics(
            prompt: prompt, completion: completion, cached: cached, cost: cost, promptTokenIDs: promptIDs,
            completionTokenIDs: completionIDs, logprobs: logprobs,
            extra: extra.isEmpty ? Optional<JSON>.none : .object(extra))
    }

    /// Anthropic reports uncached, cache-read and cache-write input tokens separately.
    static func separateCacheTokens(provider: String, normalized: JSONObject?) -> Bool {
        if normalized?["api_specific"]?["api"]?.stringValue == "anthropic_messages" { return true }
        let p = provider.lowercased()
        return p.hasPrefix("anthropic") || p.hasPrefix("claude")
    }

    /// The USD total of a normalized cost: `total`, else the sum of its components; nil for other currencies.
    static func costTotal(_ cost: JSON) -> Double? {
        guard case .object(let c) = cost, isUSD(c["currency"]?.stringValue) else { return nil }
        if let total = c["total"]?.doubleValue { return total }
        return componentSum(c)
    }

    /// `USD` in any ASCII letter case.
    static func isUSD(_ currency: String?) -> Bool { currency.map(asciiLowercased) == "usd" }

    static func componentSum(_ c: JSONObject) -> Double? {
        var sum: Double?
        for key in ["input", "output", "cache_read", "cache_write"] {
            if let v = c[key]?.doubleValue { sum = (sum ?? 0) + v }
        }
        return sum
    }

    /// Usage read from the raw `usage` (first) and `token_usage` objects under their common spellings.
    static func manualUsage(_ o: JSONObject) -> ATIFUsage? {
        guard let raw = TokenUsage(raw: o) else { return nil }
        return ATIFUsage(
            prompt: raw.prompt, completion: raw.completion, cacheRead: raw.cacheRead, cacheWrite: raw.cacheWrite)
    }

    /// A USD cost from the raw `usage` (first) or `token_usage`: `cost_usd`, or a `cost` object in USD (or
    /// without a currency but with a `total` or a runtime `source`).
    static func manualCost(_ o: JSONObject) -> Double? {
        for key in ["usage", "token_usage"] {
            guard case .object(let u)? = o[key] else { continue }
            if let total = u["cost_usd"]?.doubleValue { return total }
            guard case .object(let c)? = u["cost"] else { continue }
            let accepted: Bool
            if let currency = c["currency"]?.stringValue {
                accepted = isUSD(currency)
            } else {
                let source = c["source"]?.stringValue
                accepted = source == "provider_reported" || source == "model_pricing" || c["total"]?.doubleValue != nil
            }
            guard accepted, let total = c["total"]?.doubleValue ?? componentSum(c) else { continue }
            return total
        }
        return nil
    }
}
