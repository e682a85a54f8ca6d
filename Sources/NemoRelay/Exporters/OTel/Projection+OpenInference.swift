// SPDX-License-Identifier: Apache-2.0

/// The `openinference` projection: OpenInference span kinds, inputs, outputs and LLM messages (docs/otel.md,
/// "openinference").
enum OTelOpenInference {
    static func spanKindValue(_ e: OTelEvent) -> String {
        switch e.scopeType {
        case "agent": return "AGENT"
        case "tool": return "TOOL"
        case "llm": return "LLM"
        case "retriever": return "RETRIEVER"
        case "embedder": return "EMBEDDING"
        case "reranker": return "RERANKER"
        case "guardrail": return "GUARDRAIL"
        case "evaluator": return "EVALUATOR"
        default: return "CHAIN"
        }
    }

    static func startAttributes(_ e: OTelEvent, request: JSONObject?) -> [OTelAttribute] {
        var attrs: [OTelAttribute] = []
        attrs.reserveCapacity(12)
        attrs.append(OTelAttribute("openinference.span.kind", .string(spanKindValue(e))))
        OTelFull.pushIdentity(&attrs, e)
        if let id = e.toolCallID { attrs.append(OTelAttribute("tool_call.id", .string(id))) }
        // An LLM span takes its metadata from the end event only.
        if !e.isLLM {
            if let md = e.metadata { attrs.append(OTelAttribute("metadata", .string(OTelAttr.jsonText(md)))) }
            OTelAttr.pushTopLevel(&attrs, "openinference.metadata", e.metadata)
            OTelFull.pushHandleAttributes(&attrs, e)
            OTelAttr.pushTopLevel(&attrs, "nemo_relay.start.data", e.data)
            OTelAttr.pushTopLevel(&attrs, "nemo_relay.start.input", e.input)
        }
        if e.isTool {
            attrs.append(OTelAttribute("tool.name", .string(e.name)))
            attrs.append(OTelAttribute("tool_call.function.name", .string(e.name)))
        }
        if let input = e.input {
            let value: String
            let mime: String
            if e.isLLM {
                if let display = OTelDisplay.llmInput(input) {
                    (value, mime) = (display, "text/plain")
                } else {
                    var sanitized = input
                    if case .object(var o) = input {
                        o.removeValue(forKey: "headers")
                        sanitized = .object(o)
                    }
                    (value, mime) = (OTelAttr.jsonText(sanitized), "application/json")
                }
            } else {
                (value, mime) = (OTelAttr.jsonText(input), "application/json")
            }
            attrs.append(OTelAttribute("input.value", .string(value)))
            attrs.append(OTelAttribute("input.mime_type", .string(mime)))
            if e.isTool {
                attrs.append(OTelAttribute("tool.parameters", .string(value)))
                attrs.append(OTelAttribute("tool_call.function.arguments", .string(value)))
            }
        }
        if e.isLLM { pushLLMRequest(&attrs, e, request: request) }
        return attrs
    }

    static func endAttributes(_ e: OTelEvent, response: JSONObject?) -> [OTelAttribute] {
        var attrs: [OTelAttribute] = []
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.end.data", e.data)
        if let md = e.metadata { attrs.append(OTelAttribute("metadata", .string(OTelAttr.jsonText(md)))) }
        OTelAttr.pushTopLevel(&attrs, "openinference.metadata", e.metadata)
        OTelAttr.pushTopLevel(&attrs, "nemo_relay.end.output", e.output)
        OTelAttr.pushToolResultAnnotation(&attrs, e)
        if let output = e.output {
            if let display = OTelDisplay.text(output) {
                attrs.append(OTelAttribute("output.value", .string(display)))
                attrs.append(OTelAttribute("output.mime_type", .string("text/plain")))
            } else {
                attrs.append(OTelAttribute("output.value", .string(OTelAttr.jsonText(output))))
                attrs.append(OTelAttribute("output.mime_type", .string("application/json")))
            }
        }
        guard e.isLLM else { return attrs }
        let manual = OTelLLM.manualUsage(e.output)
        let usage: TokenUsage? = OTelLLM.normalizedUsage(response).map { $0.merged(with: manual) } ?? manual
        if let usage {
            func count(_ key: String, _ v: UInt64?) {
                if let v { attrs.append(OTelAttribute(key, .int(Int64(truncatingIfNeeded: v)))) }
            }
            count("llm.token_count.prompt", OTelLLM.inputTokens(provider: e.name, response: response, usage: usage))
            count("llm.token_count.completion", usage.completion)
            count("llm.token_count.total", OTelLLM.totalTokens(provider: e.name, response: response, usage: usage))
            count("llm.token_count.prompt_details.cache_read", usage.cacheRead)
            count("llm.token_count.prompt_details.cache_write", usage.cacheWrite)
        }
        if let (total, _) = OTelLLM.cost(e, response: response, usdOnly: true) {
            attrs.append(OTelAttribute("llm.cost.total", .double(total)))
        }
        if let annotated = e.annotatedResponse {
            pushResponse(&attrs, annotated)
        } else if case .object(let o)? = e.output, o["openclaw"]?.objectValue != nil {
            pushReplayResponse(&attrs, o)
        } else if let response {
            pushResponse(&attrs, response)
        }
        return attrs
    }

    /// The `full` mark attributes plus, for a mark span without a parent, `CHAIN` and the orphan flag.
    static func pushOrphanMark(_ attrs: inout [OTelAttribute]) {
        attrs.append(OTelAttribute("openinference.span.kind", .string("CHAIN")))
        attrs.append(OTelAttribute("nemo_relay.mark.orphan", .bool(true)))
    }

    /// A mark projected as a tool span: `TOOL`, the mark name as the tool, its data as the output.
    static func pushToolMark(_ attrs: inout [OTelAttribute], _ e: OTelEvent) {
        attrs.append(OTelAttribute("openinference.span.kind", .string("TOOL")))
        attrs.append(OTelAttribute("tool.name", .string(e.name)))
        attrs.append(OTelAttribute("tool_call.function.name", .string(e.name)))
        if let data = e.data {
            attrs.append(OTelAttribute("output.value", .string(OTelAttr.jsonText(data))))
            attrs.append(OTelAttribute("output.mime_type", .string("application/json")))
        }
        if let md = e.metadata { attrs.append(OTelAttribute("metadata", .string(OTelAttr.jsonText(md)))) }
    }

    // MARK: LLM requests

    static func pushLLMRequest(_ attrs: inout [OTelAttribute], _ e: OTelEvent, request: JSONObject?) {
        if let annotated = e.annotatedRequest {
            pushRequest(&attrs, annotated)
            return
        }
        if case .object(let input)? = e.input, case .object(let content)? = input["content"],
            content["source"]?.stringValue?.hasPrefix("openclaw.") == true || content["placeholderRequest"] != nil
        {
            if let provider = content["provider"]?.stringValue {
                attrs.append(OTelAttribute("llm.provider", .string(provider)))
            }
            pushReplayInput(&attrs, content)
            return
        }
        if let request { pushRequest(&attrs, request) }
    }

    static func pushRequest(_ attrs: inout [OTelAttribute], _ r: JSONObject) {
        if case .object(let params)? = r["params"] {
            var o = JSONObject(minimumCapacity: 4)
            for key in ["temperature", "max_tokens", "top_p", "stop"] {
                guard let v = params[key].nonNull else { continue }
                if key == "temperature" || key == "top_p", let d = v.doubleValue {
                    o[key] = .double(d)
                } else {
                    o[key] = OTelAttr.sortedDeep(v)
                }
            }
            attrs.append(OTelAttribute("llm.invocation_parameters", .string(OTelAttr.orderedJSONText(.object(o)))))
        }
        var index = 0
        if let instructions = r["instructions"].nonNull, let text = OTelDisplay.contentText(instructions) {
            pushMessage(&attrs, "llm.input_messages", index, role: "system", content: text)
            index += 1
        }
        for message in r["messages"]?.arrayValue ?? [] {
            guard case .object(let m) = message, let role = m["role"]?.stringValue else { continue }
            if role == "user", case .array(let parts)? = m["content"], !parts.isEmpty,
                parts.allSatisfy({ $0["type"]?.stringValue == "tool_result" })
            {
                for part in parts {
                    pushMessage(
                        &attrs, "llm.input_messages", index, role: "tool",
                        content: toolResultContent(part["content"] ?? .null),
                        toolCallID: part["tool_use_id"]?.stringValue ?? "")
                    index += 1
                }
                continue
            }
            let content: String?
            var shownRole = role
            var toolCallID: String?
            switch role {
            case "system", "developer", "user", "assistant":
                content = m["content"].nonNull.flatMap(OTelDisplay.contentText)
            case "tool":
                switch m["content"] {
                case .string(let s)?: content = s
                case let v? where !v.isNull: content = OTelAttr.jsonText(v)
                default: content = nil
                }
                toolCallID = m["tool_call_id"]?.stringValue ?? ""
            case "function":
                content = m["content"]?.stringValue.flatMap(OTelDisplay.stringText)
            case "tool_call":
                shownRole = "assistant"
                content = nil
            case "tool_result":
                shownRole = "tool"
                content = toolResultContent(m["output"] ?? .null)
                toolCallID = m["call_id"]?.stringValue ?? ""
            case "provider_native":
                let value = m["value"]
                shownRole = value?["role"]?.stringValue ?? "provider_native"
                content = value?["content"].flatMap(OTelDisplay.text)
            default:
                continue
            }
            pushMessage(&attrs, "llm.input_messages", index, role: shownRole, content: content, toolCallID: toolCallID)
            index += 1
        }
        for (i, tool) in (r["tools"]?.arrayValue ?? []).enumerated() {
            attrs.append(OTelAttribute("llm.tools.\(i).tool.json_schema", .string(toolSchemaText(tool))))
        }
    }

    /// A tool definition as the reference serializes it: `type`, then `function` (`name`, `description`,
    /// `parameters`, `strict`, extras), then the wrapper's extras; nested values with sorted keys.
    static func toolSchemaText(_ tool: JSON) -> String {
        guard case .object(let o) = tool else { return OTelAttr.jsonText(tool) }
        if o["type"]?.stringValue == "provider_native" {
            var out = JSONObject(minimumCapacity: 4)
            out["type"] = "provider_native"
            for key in ["provider", "kind", "value"] { if let v = o[key] { out[key] = OTelAttr.sortedDeep(v) } }
            return OTelAttr.orderedJSONText(.object(out))
        }
        guard let parts = try? FunctionToolParts.fromAnnotation(tool) else { return OTelAttr.jsonText(tool) }
        return OTelAttr.orderedJSONText(
            FunctionToolParts(
                name: parts.name, description: parts.description.map(OTelAttr.sortedDeep),
                parameters: parts.parameters.map(OTelAttr.sortedDeep), strict: parts.strict,
                functionExtras: sortedObject(parts.functionExtras), wrapperExtras: sortedObject(parts.wrapperExtras)
            ).annotation)
    }

    static func sortedObject(_ o: JSONObject) -> JSONObject {
        guard case .object(let sorted) = OTelAttr.sortedDeep(.object(o)) else { return o }
        return sorted
    }

    static func toolResultContent(_ content: JSON) -> String {
        if case .string(let s) = content { return s }
        return OTelAttr.jsonText(content)
    }

    static func pushMessage(
        _ attrs: inout [OTelAttribute], _ prefix: String, _ index: Int, role: String, content: String?,
        toolCallID: String? = nil
    ) {
        attrs.append(OTelAttribute("\(prefix).\(index).message.role", .string(role)))
        if let content { attrs.append(OTelAttribute("\(prefix).\(index).message.content", .string(content))) }
        if let toolCallID {
            attrs.append(OTelAttribute("\(prefix).\(index).message.tool_call_id", .string(toolCallID)))
        }
    }

    static func pushReplayInput(_ attrs: inout [OTelAttribute], _ content: JSONObject) {
        var index = 0
        if let system = content["systemPrompt"].flatMap(OTelDisplay.text) {
            pushMessage(&attrs, "llm.input_messages", index, role: "system", content: system)
            index += 1
        }
        if case .array(let messages)? = content["messages"] {
            let first = index
            for case .object(let m) in messages {
                guard let role = m["role"]?.stringValue, let text = m["content"].flatMap(OTelDisplay.text) else {
                    continue
                }
                pushMessage(&attrs, "llm.input_messages", index, role: role, content: text)
                index += 1
            }
            if index > first { return }
        }
        if let prompt = content["prompt"].flatMap(OTelDisplay.text) {
            pushMessage(&attrs, "llm.input_messages", index, role: "user", content: prompt)
        }
    }

    // MARK: LLM responses

    static func finishReason(_ v: JSON) -> String? {
        switch v {
        case .string(let s): return s
        case .object(let o): return o["unknown"]?.stringValue
        default: return nil
        }
    }

    static func pushResponse(_ attrs: inout [OTelAttribute], _ r: JSONObject) {
        if let reason = r["finish_reason"].nonNull.flatMap(finishReason) {
            attrs.append(OTelAttribute("llm.finish_reason", .string(reason)))
        }
        let message = r["message"].nonNull
        let calls = r["tool_calls"]?.arrayValue ?? []
        if message != nil || !calls.isEmpty {
            attrs.append(OTelAttribute("llm.output_messages.0.message.role", .string("assistant")))
        }
        if let text = message.flatMap(OTelDisplay.contentText) {
            attrs.append(OTelAttribute("llm.output_messages.0.message.content", .string(text)))
        }
        for (j, call) in calls.enumerated() {
            pushOutputToolCall(
                &attrs, j, id: call["id"]?.stringValue, name: call["name"]?.stringValue,
                arguments: OTelAttr.jsonText(call["arguments"] ?? .null))
        }
        if let summary = r["optimization_summary"]?.objectValue { OTelLLM.pushOptimization(&attrs, summary) }
    }

    static func pushOutputToolCall(
        _ attrs: inout [OTelAttribute], _ j: Int, id: String?, name: String?, arguments: String?
    ) {
        let p = "llm.output_messages.0.message.tool_calls.\(j).tool_call."
        if let id { attrs.append(OTelAttribute(p + "id", .string(id))) }
        if let name { attrs.append(OTelAttribute(p + "function.name", .string(name))) }
        if let arguments { attrs.append(OTelAttribute(p + "function.arguments", .string(arguments))) }
    }

    static func pushReplayResponse(_ attrs: inout [OTelAttribute], _ o: JSONObject) {
        guard o["role"] != nil || o["content"] != nil || o["tool_calls"] != nil else { return }
        let role = o["role"]?.stringValue ?? "assistant"
        attrs.append(OTelAttribute("llm.output_messages.0.message.role", .string(role)))
        if let text = o["content"].flatMap(OTelDisplay.text) {
            attrs.append(OTelAttribute("llm.output_messages.0.message.content", .string(text)))
        }
        for (j, call) in (o["tool_calls"]?.arrayValue ?? []).enumerated() {
            let id = (call["id"] ?? call["tool_call_id"] ?? call["call_id"])?.stringValue
            let name =
                call["name"]?.stringValue ?? call["toolName"]?.stringValue ?? call["tool_name"]?.stringValue
                ?? call["function"]?["name"]?.stringValue ?? call["function_name"]?.stringValue
            let raw = call["function"]?["arguments"] ?? call["arguments"] ?? call["args"] ?? call["input"]
            let arguments = raw.map { v -> String in v.stringValue ?? OTelAttr.jsonText(v) }
            pushOutputToolCall(&attrs, j, id: id, name: name, arguments: arguments)
        }
    }
}

/// Human-readable text of payloads, as the OpenInference projection shows them.
enum OTelDisplay {
    /// Rust's `str::trim`: Unicode white space at both ends removed.
    static func trimmed(_ s: String) -> String {
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }

    /// The text of a string: nothing when blank, the text of its JSON when it parses to displayable JSON,
    /// else the trimmed string.
    static func stringText(_ s: String) -> String? {
        let t = trimmed(s)
        guard !t.isEmpty else { return nil }
        if let first = t.utf8.first,
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
                || first == UInt8(ascii: "\""),
            let parsed = try? JSON.parse(t), let display = text(parsed)
        {
            return display
        }
        return t
    }

    /// The text of a JSON value: strings, the first displayable of `content`, `summary`, `message`, `text`,
    /// `prompt`, a Responses `output`, Chat `choices` or `tool_calls` of an object, content blocks of an array.
    static func text(_ value: JSON) -> String? {
        switch value {
        case .string(let s): return stringText(s)
        case .object(let o):
            for key in ["content", "summary", "message", "text", "prompt"] {
                if let v = o[key], let display = text(v) { return display }
            }
            if let v = o["output"], let display = responsesOutput(v) { return display }
            if let v = o["choices"], let display = chatChoices(v) { return display }
            if let v = o["tool_calls"], let display = toolCalls(v) { return display }
            return nil
        case .array(let items): return contentBlocks(items)
        default: return nil
        }
    }

    static func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }

    static func responsesOutput(_ value: JSON) -> String? {
        guard case .array(let items) = value else { return nil }
        var entries: [String] = []
        var tools: [String] = []
        for case .object(let o) in items {
            switch o["type"]?.stringValue {
            case "message"?:
                guard case .array(let parts)? = o["content"] else { continue }
                var texts: [String] = []
                for case .object(let p) in parts {
                    let type = p["type"]?.stringValue
                    if type == "output_text" || type == "text", let t = p["text"]?.stringValue { texts.append(t) }
                }
                if let t = nonEmpty(trimmed(texts.joined(separator: "\n\n"))) { entries.append(t) }
            case "function_call"?:
                if let name = o["name"]?.stringValue { tools.append(name) }
            default: continue
            }
        }
        if !tools.isEmpty { entries.append("Requested tools: " + tools.joined(separator: ", ")) }
        return nonEmpty(trimmed(entries.joined(separator: "\n")))
    }

    /// `role: text` for each displayable message (a tool message shows as omitted), blank-line separated.
    static func messages(_ value: JSON) -> String? {
        guard case .array(let items) = value else { return nil }
        var lines: [String] = []
        for m in items {
            let role = m["role"]?.stringValue ?? "message"
            if role == "tool" {
                lines.append("tool: Tool result omitted")
                continue
            }
            guard let display = m["content"].flatMap(text) ?? m["tool_calls"].flatMap(toolCalls) else { continue }
            lines.append(role + ": " + display)
        }
        return nonEmpty(trimmed(lines.joined(separator: "\n\n")))
    }

    static func chatChoices(_ value: JSON) -> String? {
        guard case .array(let choices) = value else { return nil }
        for choice in choices {
            guard let message = choice["message"] else { continue }
            let content = message["content"].flatMap(text)
            let calls = message["tool_calls"].flatMap(toolCalls)
            switch (content, calls) {
            case (let c?, let t?): return c + "\n" + t
            case (let c?, nil): return c
            case (nil, let t?): return t
            case (nil, nil): continue
            }
        }
        return nil
    }

    static func contentBlocks(_ items: [JSON]) -> String? {
        var entries: [String] = []
        for item in items {
            if case .string(let s) = item {
                entries.append(s)
                continue
            }
            if item["stripped"]?.boolValue == true { continue }
            switch item["type"]?.stringValue {
            case "thinking"?, "reasoning"?, "toolResult"?, "tool_result"?: continue
            default: break
            }
            if let t = item["text"]?.stringValue { entries.append(t) }
        }
        let names = items.compactMap(toolCallName)
        if !names.isEmpty { entries.append("Requested tools: " + names.joined(separator: ", ")) }
        return nonEmpty(trimmed(entries.filter { !trimmed($0).isEmpty }.joined(separator: "\n")))
    }

    static func toolCalls(_ value: JSON) -> String? {
        guard case .array(let calls) = value else { return nil }
        let names = calls.compactMap(toolCallName)
        return names.isEmpty ? nil : "Requested tools: " + names.joined(separator: ", ")
    }

    static func toolCallName(_ value: JSON) -> String? {
        value["name"]?.stringValue ?? value["toolName"]?.stringValue ?? value["function"]?["name"]?.stringValue
    }

    /// The display text of an LLM request payload: its messages, else the text of its body.
    static func llmInput(_ input: JSON) -> String? {
        var content = input
        if case .object(let o) = input, let c = o["content"] { content = c }
        if let m = content["messages"], let display = messages(m) { return display }
        return text(content)
    }

    /// The text of annotated message content: a string's text, or the text, refusal and native text parts
    /// joined by newlines.
    static func contentText(_ content: JSON) -> String? {
        switch content {
        case .string(let s): return stringText(s)
        case .array(let parts):
            var texts: [String] = []
            for part in parts {
                switch part["type"]?.stringValue {
                case "text"?: if let t = part["text"]?.stringValue { texts.append(t) }
                case "refusal"?: if let t = part["refusal"]?.stringValue { texts.append(t) }
                case "provider_native"?:
                    if let t = part["value"]?["text"]?.stringValue ?? part["value"]?["refusal"]?.stringValue {
                        texts.append(t)
                    }
                default: continue
                }
            }
            return nonEmpty(trimmed(texts.joined(separator: "\n")))
        default: return nil
        }
    }
}
