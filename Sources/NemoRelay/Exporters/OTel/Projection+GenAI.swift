// SPDX-License-Identifier: Apache-2.0

/// The `gen_ai` projection: the OpenTelemetry GenAI semantic conventions for agent, LLM, tool, retriever and
/// embedder scopes; other scopes keep only their name and parentage (docs/otel.md, "gen_ai").
enum OTelGenAI {
    static func hasSemantics(_ e: OTelEvent) -> Bool {
        switch e.scopeType {
        case "agent", "llm", "tool", "embedder", "retriever": return true
        default: return false
        }
    }

    static func operation(_ e: OTelEvent) -> String {
        switch e.scopeType {
        case "agent": return "invoke_agent"
        case "tool": return "execute_tool"
        case "embedder": return "embeddings"
        case "retriever": return "retrieval"
        case "llm":
            let name = asciiLowercased(e.name)
            if name.contains("generate_content") || name.contains("generatecontent") { return "generate_content" }
            if name.contains("completion") && !name.contains("chat") { return "text_completion" }
            return "chat"
        default: return "chat"
        }
    }

    static func spanName(_ e: OTelEvent, request: JSONObject?) -> String {
        guard hasSemantics(e) else { return e.name }
        let qualifier: String?
        switch e.scopeType {
        case "agent": qualifier = agentName(e)
        case "tool": qualifier = toolName(e)
        case "retriever": qualifier = dataSourceID(e)
        default: qualifier = requestModel(e, request: request)
        }
        let op = operation(e)
        guard let qualifier, !qualifier.isEmpty else { return op }
        return op + " " + qualifier
    }

    static func spanKind(_ e: OTelEvent) -> OTelSpanKind {
        switch e.scopeType {
        case "llm", "embedder", "retriever": return .client
        default: return .internal
        }
    }

    static func startAttributes(_ e: OTelEvent, request: JSONObject?) -> [OTelAttribute] {
        guard hasSemantics(e) else { return [] }
        var attrs: [OTelAttribute] = [OTelAttribute("gen_ai.operation.name", .string(operation(e)))]
        func push(_ key: String, _ value: String?) {
            if let value { attrs.append(OTelAttribute(key, .string(value))) }
        }
        switch e.scopeType {
        case "agent":
            push("gen_ai.conversation.id", conversationID(e))
            push("gen_ai.agent.name", agentName(e))
            push("gen_ai.agent.description", scalarString(e, ["gen_ai.agent.description", "agent_description"]))
            push("gen_ai.request.model", scalarString(e, ["gen_ai.request.model"]))
        case "llm":
            pushProviderAndServer(&attrs, e, request: request)
            push("gen_ai.conversation.id", conversationID(e))
            pushLLMRequest(&attrs, e, request: request)
            pushToolDefinitions(&attrs, request)
        case "tool":
            push("gen_ai.tool.name", toolName(e))
            push("gen_ai.tool.type", toolMetadata(e, ["gen_ai.tool.type", "tool_type"]))
            let callID = e.toolCallID.flatMap { OTelDisplay.trimmed($0).isEmpty ? nil : $0 }
            push("gen_ai.tool.call.id", callID ?? toolMetadata(e, ["gen_ai.tool.call.id", "tool_call_id"]))
            push(
                "gen_ai.tool.description",
                toolMetadata(e, ["gen_ai.tool.description", "tool_description", "description"]))
            push("gen_ai.agent.name", toolMetadata(e, ["gen_ai.agent.name", "agent_name"]))
            pushToolContent(&attrs, "gen_ai.tool.call.arguments", e.input)
        case "retriever":
            pushProviderAndServer(&attrs, e, request: request)
            push("gen_ai.data_source.id", dataSourceID(e))
            push("gen_ai.request.model", requestModel(e, request: request))
            if let k = scalarInt(e, ["gen_ai.retrieval.top_k", "top_k"]) {
                attrs.append(OTelAttribute("gen_ai.retrieval.top_k", .int(k)))
            }
        case "embedder":
            pushProviderAndServer(&attrs, e, request: request)
            push("gen_ai.request.model", requestModel(e, request: request))
        default:
            break
        }
        return attrs
    }

    static func endAttributes(_ e: OTelEvent, response: JSONObject?) -> [OTelAttribute] {
        var attrs: [OTelAttribute] = []
        let status = e.metadata?["otel.status_code"]?.stringValue
        let failed = status.map { asciiLowercased($0) == "error" } ?? false
        if failed {
            let type = scalarString(e, ["error.type", "error_type"]) ?? "_OTHER"
            attrs.append(OTelAttribute("error.type", .string(type)))
        }
        switch e.scopeType {
        case "llm":
            if let ttfc = e.profile?["time_to_first_chunk"]?.doubleValue {
                attrs.append(OTelAttribute("gen_ai.response.time_to_first_chunk", .double(ttfc)))
            }
            pushLLMResponse(&attrs, e, response: response)
        case "embedder":
            if let model = scalarString(e, ["gen_ai.response.model", "response_model", "model"]) {
                attrs.append(OTelAttribute("gen_ai.response.model", .string(model)))
            }
            if let n = scalarInt(e, ["gen_ai.usage.input_tokens", "input_tokens", "prompt_tokens"]) {
                attrs.append(OTelAttribute("gen_ai.usage.input_tokens", .int(n)))
            }
        case "tool":
            if !failed { pushToolContent(&attrs, "gen_ai.tool.call.result", e.output) }
        default:
            break
        }
        return attrs
    }

    // MARK: Lookups

    /// The first of `keys` in the category profile's extra members, then in the metadata, then in the
    /// payload (each also looked up in their `usage`, `request` and `response` objects).
    static func findScalar<T>(_ e: OTelEvent, _ keys: [String], _ convert: (JSON) -> T?) -> T? {
        if let profile = e.profile {
            for key in keys where !profileFields.contains(key) {
                if let v = profile[key], let t = convert(v) { return t }
            }
        }
        for source in [e.metadata, e.data] {
            guard case .object(let o)? = source else { continue }
            for key in keys {
                if let v = objectValue(o, key), let t = convert(v) { return t }
            }
        }
        return nil
    }

    /// The category profile's modelled members, which are not extras.
    static let profileFields: Set<String> = [
        "model_name", "tool_call_id", "subtype", "tool_result_annotation", "annotated_request", "annotated_response",
    ]

    static func objectValue(_ o: JSONObject, _ key: String) -> JSON? {
        if let v = o[key] { return v }
        for container in ["usage", "request", "response"] {
            if case .object(let nested)? = o[container], let v = nested[key] { return v }
        }
        return nil
    }

    static func scalarString(_ e: OTelEvent, _ keys: [String]) -> String? {
        findScalar(e, keys) { v -> String? in
            switch v {
            case .string(let s): return s
            case .bool(let b): return b ? "true" : "false"
            case .int, .uint, .double: return OTelAttr.jsonText(v)
            default: return nil
            }
        }
    }

    static func scalarInt(_ e: OTelEvent, _ keys: [String]) -> Int64? {
        findScalar(e, keys) { v -> Int64? in
            switch v {
            case .int(let i): return i
            case .uint(let u): return u <= UInt64(Int64.max) ? Int64(u) : nil
            default: return nil
            }
        }
    }

    static func conversationID(_ e: OTelEvent) -> String? {
        scalarString(e, ["gen_ai.conversation.id", "conversation_id", "session_id", "thread_id"])
    }

    static func agentName(_ e: OTelEvent) -> String { scalarString(e, ["gen_ai.agent.name"]) ?? e.name }

    static func toolName(_ e: OTelEvent) -> String { toolMetadata(e, ["gen_ai.tool.name"]) ?? e.name }

    /// A tool's descriptive string from the category profile's extras or the metadata, never from the payload
    /// (a tool's arguments are user content). A metadata value equal to the runtime's inferred default
    /// (`nemo_relay.tool.execution.defaults`) only counts when nothing explicit is found.
    static func toolMetadata(_ e: OTelEvent, _ keys: [String]) -> String? {
        var fallback: String?
        let defaults = e.metadata?["nemo_relay.tool.execution.defaults"]
        for key in keys {
            let fromProfile = profileFields.contains(key) ? nil : e.profile?[key]
            let fromMetadata = e.metadata?[key]
            for (value, inferred) in [
                (fromProfile, false), (fromMetadata, fromMetadata != nil && fromMetadata == defaults?[key]),
            ] {
                guard let text = value?.stringValue, !OTelDisplay.trimmed(text).isEmpty else { continue }
                if !inferred { return text }
                if fallback == nil { fallback = text }
            }
        }
        return fallback
    }

    static func dataSourceID(_ e: OTelEvent) -> String? {
        scalarString(e, ["gen_ai.data_source.id", "data_source_id", "index_name", "collection_name"])
    }

    static func requestModel(_ e: OTelEvent, request: JSONObject?) -> String? {
        request?["model"]?.stringValue ?? e.modelName
            ?? scalarString(e, ["gen_ai.request.model", "model", "model_name"])
    }

    static let providerNames: [(String, String)] = [
        ("azure_ai_inference", "azure.ai.inference"), ("azure ai inference", "azure.ai.inference"),
        ("azure_openai", "azure.ai.openai"), ("azure openai", "azure.ai.openai"), ("anthropic", "anthropic"),
        ("claude", "anthropic"), ("bedrock", "aws.bedrock"), ("cohere", "cohere"), ("deepseek", "deepseek"),
        ("gemini", "gcp.gemini"), ("vertex", "gcp.vertex_ai"), ("groq", "groq"), ("mistral", "mistral_ai"),
        ("openai", "openai"), ("gpt", "openai"), ("perplexity", "perplexity"),
    ]

    static func providerName(_ e: OTelEvent, request: JSONObject?) -> String? {
        if let p = scalarString(e, ["gen_ai.provider.name", "provider_name", "provider"]) { return p }
        let name = asciiLowercased(e.name)
        for (needle, provider) in providerNames where name.contains(needle) { return provider }
        switch request?["api_specific"]?["api"]?.stringValue {
        case "anthropic_messages"?: return "anthropic"
        case "openai_chat"?, "openai_responses"?: return "openai"
        case "oci_genai"?: return "oci.genai"
        case "bedrock_converse"?: return "aws.bedrock"
        default: return nil
        }
    }

    static func pushProviderAndServer(_ attrs: inout [OTelAttribute], _ e: OTelEvent, request: JSONObject?) {
        if let p = providerName(e, request: request) { attrs.append(OTelAttribute("gen_ai.provider.name", .string(p))) }
        if let a = scalarString(e, ["server.address", "server_address"]) {
            attrs.append(OTelAttribute("server.address", .string(a)))
        }
        if let p = scalarInt(e, ["server.port", "server_port"]) { attrs.append(OTelAttribute("server.port", .int(p))) }
    }

    // MARK: LLM requests

    static func pushLLMRequest(_ attrs: inout [OTelAttribute], _ e: OTelEvent, request: JSONObject?) {
        guard let r = request else {
            if let m = requestModel(e, request: nil) { attrs.append(OTelAttribute("gen_ai.request.model", .string(m))) }
            return
        }
        if let m = r["model"]?.stringValue ?? e.modelName {
            attrs.append(OTelAttribute("gen_ai.request.model", .string(m)))
        }
        let maxOutput = r["max_output_tokens"]?.atifCount
        if case .object(let params)? = r["params"] {
            if let t = params["temperature"]?.doubleValue {
                attrs.append(OTelAttribute("gen_ai.request.temperature", .double(t)))
            }
            if maxOutput == nil, let n = params["max_tokens"]?.atifCount, n <= UInt64(Int64.max) {
                attrs.append(OTelAttribute("gen_ai.request.max_tokens", .int(Int64(n))))
            }
            if let p = params["top_p"]?.doubleValue { attrs.append(OTelAttribute("gen_ai.request.top_p", .double(p))) }
            if case .array(let stops)? = params["stop"] {
                attrs.append(
                    OTelAttribute(
                        "gen_ai.request.stop_sequences",
                        .array(stops.compactMap { $0.stringValue.map(OTelValue.string) })))
            }
        }
        if let n = maxOutput, n <= UInt64(Int64.max) {
            attrs.append(OTelAttribute("gen_ai.request.max_tokens", .int(Int64(n))))
        }
        if r["stream"]?.boolValue == true { attrs.append(OTelAttribute("gen_ai.request.stream", .bool(true))) }
        if let instructions = r["instructions"].nonNull {
            let parts = contentParts(instructions)
            if !parts.isEmpty {
                attrs.append(OTelAttribute("gen_ai.system_instructions", .string(OTelAttr.jsonText(.array(parts)))))
            }
        }
        if case .array(let messages)? = r["messages"], !messages.isEmpty {
            let converted = messages.map(inputMessage)
            attrs.append(OTelAttribute("gen_ai.input.messages", .string(OTelAttr.jsonText(.array(converted)))))
        }
        if case .object(let api)? = r["api_specific"] {
            switch api["api"]?.stringValue {
            case "anthropic_messages"?:
                if let k = api["top_k"]?.atifCount, k <= UInt64(Int64.max) {
                    attrs.append(OTelAttribute("gen_ai.request.top_k", .int(Int64(k))))
                }
            case "openai_chat"?:
                if let v = api["frequency_penalty"]?.doubleValue {
                    attrs.append(OTelAttribute("gen_ai.request.frequency_penalty", .double(v)))
                }
                if let n = api["n"]?.atifCount, n != 1, n <= UInt64(Int64.max) {
                    attrs.append(OTelAttribute("gen_ai.request.choice.count", .int(Int64(n))))
                }
                if let v = api["presence_penalty"]?.doubleValue {
                    attrs.append(OTelAttribute("gen_ai.request.presence_penalty", .double(v)))
                }
                if case .int(let seed)? = api["seed"] { attrs.append(OTelAttribute("gen_ai.request.seed", .int(seed))) }
            default:
                break
            }
        }
    }

    /// `gen_ai.tool.definitions`: `{name, type}` of each function tool of the request.
    static func pushToolDefinitions(_ attrs: inout [OTelAttribute], _ request: JSONObject?) {
        guard case .array(let tools)? = request?["tools"] else { return }
        var definitions: [JSON] = []
        for tool in tools {
            guard tool["type"]?.stringValue == "function", let name = tool["function"]?["name"]?.stringValue else {
                continue
            }
            definitions.append(["name": .string(name), "type": "function"])
        }
        guard !definitions.isEmpty else { return }
        attrs.append(OTelAttribute("gen_ai.tool.definitions", .string(OTelAttr.jsonText(.array(definitions)))))
    }

    /// A tool's arguments or result as JSON text; a string holding JSON is read as that JSON.
    static func pushToolContent(_ attrs: inout [OTelAttribute], _ key: String, _ value: JSON?) {
        guard var value else { return }
        if case .string(let s) = value, let parsed = try? JSON.parse(s) { value = parsed }
        attrs.append(OTelAttribute(key, .string(OTelAttr.jsonText(value))))
    }

    // MARK: Messages

    static func textPart(_ text: String) -> JSON { ["type": "text", "content": .string(text)] }

    static func genericPart(_ kind: String, _ value: JSON) -> JSON {
        var o: JSONObject
        if case .object(let v) = value {
            o = v
        } else {
            o = JSONObject()
            o["content"] = value
        }
        o["type"] = .string(kind)
        return .object(o)
    }

    static func contentPart(_ part: JSON) -> JSON {
        let type = part["type"]?.stringValue ?? ""
        switch type {
        case "text": return textPart(part["text"]?.stringValue ?? "")
        case "refusal": return textPart(part["refusal"]?.stringValue ?? "")
        case "tool_use":
            return [
                "type": "tool_call", "id": part["id"] ?? .null, "name": part["name"] ?? .null,
                "arguments": part["input"] ?? .null,
            ]
        case "tool_result":
            return [
                "type": "tool_call_response", "id": part["tool_use_id"] ?? .null, "response": part["content"] ?? .null,
            ]
        case "provider_native": return genericPart(part["kind"]?.stringValue ?? "", part["value"] ?? .null)
        default: return genericPart(type, part)
        }
    }

    static func contentParts(_ content: JSON) -> [JSON] {
        switch content {
        case .string(let s): return [textPart(s)]
        case .array(let parts): return parts.map(contentPart)
        default: return []
        }
    }

    /// A request message in the GenAI input-message schema: `{role, parts, name?}`.
    static func inputMessage(_ m: JSON) -> JSON {
        let role = m["role"]?.stringValue ?? ""
        var name = m["name"]?.stringValue
        var shownRole = role
        var parts: [JSON] = []
        switch role {
        case "system", "developer":
            parts = contentParts(m["content"] ?? .null)
        case "user":
            let content = m["content"] ?? .null
            if case .array(let items) = content, !items.isEmpty,
                items.allSatisfy({ $0["type"]?.stringValue == "tool_result" })
            {
                shownRole = "tool"
            }
            parts = contentParts(content)
        case "assistant":
            if let content = m["content"].nonNull { parts = contentParts(content) }
            for call in m["tool_calls"]?.arrayValue ?? [] {
                let raw = call["function"]?["arguments"]?.stringValue ?? ""
                let arguments = (try? JSON.parse(raw)) ?? .string(raw)
                parts.append([
                    "type": "tool_call", "id": call["id"] ?? .null, "name": call["function"]?["name"] ?? .null,
                    "arguments": arguments,
                ])
            }
        case "tool":
            name = nil
            parts = [
                ["type": "tool_call_response", "id": m["tool_call_id"] ?? .null, "response": m["content"] ?? .null]
            ]
        case "function":
            shownRole = "tool"
            parts = [["type": "tool_call_response", "response": m["content"] ?? .null]]
        case "tool_call":
            shownRole = "assistant"
            name = nil
            parts = [
                [
                    "type": "tool_call", "id": m["call_id"] ?? .null, "name": m["name"] ?? .null,
                    "arguments": m["arguments"] ?? .null,
                ]
            ]
        case "tool_result":
            shownRole = "tool"
            name = nil
            parts = [["type": "tool_call_response", "id": m["call_id"] ?? .null, "response": m["output"] ?? .null]]
        case "provider_native":
            let value = m["value"] ?? .null
            shownRole = value["role"]?.stringValue ?? "provider_native"
            name = nil
            parts = [genericPart(m["kind"]?.stringValue ?? "", value)]
        default:
            parts = contentParts(m["content"] ?? .null)
        }
        var o: JSONObject = ["role": .string(shownRole), "parts": .array(parts)]
        if let name { o["name"] = .string(name) }
        return .object(o)
    }

    static func finishReason(_ v: JSON?) -> String? {
        switch v {
        case .string("complete")?: return "stop"
        case .string("length")?: return "length"
        case .string("tool_use")?: return "tool_call"
        case .string("content_filter")?: return "content_filter"
        case .string(let s)?: return s
        case .object(let o)?: return o["unknown"]?.stringValue
        default: return nil
        }
    }

    static func pushLLMResponse(_ attrs: inout [OTelAttribute], _ e: OTelEvent, response: JSONObject?) {
        guard let r = response else { return }
        if let id = r["id"]?.stringValue { attrs.append(OTelAttribute("gen_ai.response.id", .string(id))) }
        if let model = r["model"]?.stringValue { attrs.append(OTelAttribute("gen_ai.response.model", .string(model))) }
        let reason = finishReason(r["finish_reason"].nonNull)
        if let reason {
            attrs.append(OTelAttribute("gen_ai.response.finish_reasons", .array([.string(reason)])))
        }
        var parts = r["message"].nonNull.map(contentParts) ?? []
        for call in r["tool_calls"]?.arrayValue ?? [] {
            parts.append([
                "type": "tool_call", "id": call["id"] ?? .null, "name": call["name"] ?? .null,
                "arguments": call["arguments"] ?? .null,
            ])
        }
        if !parts.isEmpty {
            let message: JSON = [
                "role": "assistant", "parts": .array(parts), "finish_reason": .string(reason ?? "unknown"),
            ]
            attrs.append(OTelAttribute("gen_ai.output.messages", .string(OTelAttr.jsonText(.array([message])))))
        }
        if let usage = OTelLLM.normalizedUsage(r) {
            let provider = providerName(e, request: nil)
            func count(_ key: String, _ v: UInt64?) {
                if let v, v <= UInt64(Int64.max) { attrs.append(OTelAttribute(key, .int(Int64(v)))) }
            }
            count("gen_ai.usage.input_tokens", OTelLLM.inputTokens(provider: provider, response: r, usage: usage))
            count("gen_ai.usage.output_tokens", usage.completion)
            count("gen_ai.usage.cache_read.input_tokens", usage.cacheRead)
            count("gen_ai.usage.cache_write.input_tokens", usage.cacheWrite)
        }
    }
}
