// SPDX-License-Identifier: Apache-2.0

/// The OpenAI Chat Completions codec (`openai_chat`): request decode/encode and response decode.
public struct OpenAIChatCodec: SynchronousLLMCodec {
    /// Creates the codec.
    public init() {}

    /// The codec id, `openai_chat`.
    public var id: String { "openai_chat" }

    static let surface = CodecSurface.openAIChat

    static let traits = RequestCodecTraits(
        surface: .openAIChat,
        apiKeys: [
            "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs", "modalities",
            "moderation", "n", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
            "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
            "stream_options", "verbosity", "web_search_options",
        ].map { (annotation: $0, body: $0) },
        commonFields: ["store", "user", "metadata", "service_tier", "parallel_tool_calls", "top_logprobs", "stream"],
        unsupportedFields: [
            "instructions", "previous_response_id", "truncation", "reasoning", "include", "max_output_tokens",
            "max_tool_calls",
        ],
        consumedBodyKeys: [
            "messages", "model", "temperature", "top_p", "max_completion_tokens", "max_tokens", "stop", "tools",
            "tool_choice",
        ])

    // MARK: Request decode

    /// Decodes a Chat Completions request body into the annotated request.
    public func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        .object(try Self.decodeBody(RequestCodecCore.body(request)))
    }

    static func decodeBody(_ body: JSONObject) throws(RelayError) -> JSONObject {
        let s = surface
        let messages = try RequestCodecCore.decodeMessages(body, s, decodeMessage)

        var a = JSONObject(minimumCapacity: 8)
        a["messages"] = .array(messages)
        if let model = try readField(body, "model", .string, s) { a["model"] = model }

        var params = JSONObject(minimumCapacity: 4)
        if let t = try readField(body, "temperature", .number, s) { params["temperature"] = t }
        let maxCompletion = try readField(body, "max_completion_tokens", .nonNegativeInteger, s)
        let maxTokens = try readField(body, "max_tokens", .nonNegativeInteger, s)
        if let m = maxCompletion ?? maxTokens { params["max_tokens"] = m }
        if let p = try readField(body, "top_p", .number, s) { params["top_p"] = p }
        if let stop = body.value("stop") {
            switch stop {
            case .string: params["stop"] = .array([stop])
            case .array(let entries):
                for e in entries where e.stringValue == nil {
                    throw .invalidArgument("OpenAI Chat stop must be a string or an array of strings")
                }
                params["stop"] = stop
            default:
                throw .invalidArgument("OpenAI Chat stop must be a string or an array of strings")
            }
        }
        if !params.isEmpty { a["params"] = .object(params) }

        try RequestCodecCore.decodeTools(body, s, into: &a, decodeTool)
        if let choice = body.value("tool_choice") { a["tool_choice"] = decodeToolChoice(choice) }
        try RequestCodecCore.decodeSharedFields(body, traits, into: &a)
        return a
    }

    static let plainMessageKeys = ["role", "content", "name"]
    static let assistantMessageKeys = ["role", "content", "tool_calls", "name"]
    static let toolMessageKeys = ["role", "content", "tool_call_id"]
    static let toolCallKeys = ["id", "type", "function"]
    static let toolCallFunctionKeys = ["name", "arguments"]

    static func native(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "role")
    }

    static func decodeMessage(_ item: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = item else { throw .invalidArgument("OpenAI Chat message must be an object") }
        guard case .string(let role)? = o["role"] else { throw .invalidArgument("OpenAI Chat message is missing role") }
        let name = o.value("name")
        if let name, name.stringValue == nil { return native(role, item) }
        switch role {
        case "system", "developer", "user":
            guard o.keys(subsetOf: plainMessageKeys) else { return native(role, item) }
            guard let content = o.value("content") else {
                throw .invalidArgument("OpenAI Chat message content must be a string or array")
            }
            let (decoded, same) = try decodeContent(content)
            // The annotation equals the provider message: share it instead of rebuilding.
            if same, !o.hasNullValue { return item }
            var m = JSONObject(minimumCapacity: 3)
            m["role"] = .string(role)
            m["content"] = decoded
            if let name { m["name"] = name }
            return .object(m)
        case "assistant":
            guard o.keys(subsetOf: assistantMessageKeys) else { return native(role, item) }
            var m = JSONObject(minimumCapacity: 4)
            var same = !o.hasNullValue
            m["role"] = "assistant"
            if let content = o.value("content") {
                let (decoded, sameContent) = try decodeContent(content)
                m["content"] = decoded
                same = same && sameContent
            }
            if let calls = o.value("tool_calls") {
                guard case .array(let entries) = calls else { return native(role, item) }
                var out: [JSON] = []
                out.reserveCapacity(entries.count)
                for e in entries {
                    guard let call = try decodeToolCall(e) else { return native(role, item) }
                    out.append(call)
                }
                m["tool_calls"] = .array(out)
            }
            if same { return item }
            if let name { m["name"] = name }
            return .object(m)
        case "tool":
            guard o.keys(subsetOf: toolMessageKeys) else { return native(role, item) }
            guard let content = o.value("content") else {
                throw .invalidArgument("OpenAI Chat message content must be a string or array")
            }
            guard case .string(let callId)? = o.value("tool_call_id") else { return native(role, item) }
            let (decoded, same) = try decodeContent(content)
            if same, !o.hasNullValue { return item }
            var m = JSONObject(minimumCapacity: 3)
            m["role"] = "tool"
            m["content"] = decoded
            m["tool_call_id"] = .string(callId)
            return .object(m)
        case "function":
            guard o.keys(subsetOf: plainMessageKeys), let name else { return native(role, item) }
            let content = o.value("content")
            if let content, content.stringValue == nil { return native(role, item) }
            if o.count == 3 { return item }
            var m = JSONObject(minimumCapacity: 3)
            m["role"] = "function"
            m["content"] = content ?? .null
            m["name"] = name
            return .object(m)
        default:
            return native(role, item)
        }
    }

    /// A typed tool call, nil when the entry cannot be represented (the message becomes native).
    static func decodeToolCall(_ e: JSON) throws(RelayError) -> JSON? {
        guard case .object(let c) = e, c.keys(subsetOf: toolCallKeys) else { return nil }
        guard c["type"]?.stringValue == "function" else { return nil }
        guard let id = c.value("id") else { throw .invalidArgument("OpenAI Chat function tool call is missing id") }
        guard id.stringValue != nil else { return nil }
        guard let fn = c.value("function") else {
            throw .invalidArgument("OpenAI Chat function tool call is missing function")
        }
        guard case .object(let f) = fn, f.keys(subsetOf: toolCallFunctionKeys) else { return nil }
        guard let name = f.value("name") else {
            throw .invalidArgument("OpenAI Chat function tool call is missing name")
        }
        guard let args = f.value("arguments") else {
            throw .invalidArgument("OpenAI Chat function tool call is missing arguments")
        }
        guard name.stringValue != nil, args.stringValue != nil else { return nil }
        if c.count == 3, f.count == 2 { return e }
        return ["id": id, "type": "function", "function": ["name": name, "arguments": args]]
    }

    /// The annotated content and whether it equals the provider content (so the message can be shared).
    static func decodeContent(_ content: JSON) throws(RelayError) -> (JSON, Bool) {
        switch content {
        case .string: return (content, true)
        case .array(let parts):
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            var same = true
            for p in parts {
                let d = try decodePart(p)
                if same, case .object(let po) = p, case .object(let dobj) = d, po["type"] == dobj["type"] {
                    // text, image_url and refusal parts are returned unchanged
                } else {
                    same = false
                }
                out.append(d)
            }
            return same ? (content, true) : (.array(out), false)
        default:
            throw .invalidArgument("OpenAI Chat message content must be a string or array")
        }
    }

    static func nativePart(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "type")
    }

    static func decodePart(_ part: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = part else { throw .invalidArgument("OpenAI Chat content part must be an object") }
        guard case .string(let type)? = o["type"] else { return nativePart("unknown", part) }
        switch type {
        case "text":
            guard o["text"]?.stringValue != nil else { return nativePart(type, part) }
            return part
        case "image_url":
            guard case .object(let img)? = o["image_url"], img["url"]?.stringValue != nil,
                img.keys(subsetOf: ["url", "detail"])
            else { return nativePart(type, part) }
            if let d = img["detail"], d.stringValue == nil { return nativePart(type, part) }
            return part
        case "input_audio":
            guard o.keys(subsetOf: ["type", "input_audio"]), let audio = o["input_audio"] else {
                return nativePart(type, part)
            }
            return ["type": "audio", "audio": audio]
        case "file":
            guard o.keys(subsetOf: ["type", "file"]), let file = o["file"] else { return nativePart(type, part) }
            return ["type": "file", "file": file]
        case "refusal":
            guard o.keys(subsetOf: ["type", "refusal"]), let r = o["refusal"], r.stringValue != nil else {
                return nativePart(type, part)
            }
            return part
        default:
            return nativePart(type, part)
        }
    }

    static func decodeTool(_ t: JSON) -> JSON {
        guard case .object(let o) = t else { return nativePart("unknown", t) }
        guard case .string(let type)? = o["type"] else { return nativePart("unknown", t) }
        guard type == "function", case .object(let f)? = o["function"], case .string(let name)? = f["name"] else {
            return nativePart(type, t)
        }
        if let d = f.value("description"), d.stringValue == nil { return nativePart(type, t) }
        if let st = f.value("strict"), st.boolValue == nil { return nativePart(type, t) }
        if f["description"]?.isNull != true, f["parameters"]?.isNull != true, f["strict"]?.isNull != true {
            return t
        }
        return FunctionToolParts(name: name, wrapper: o, function: f).annotation
    }

    static func decodeToolChoice(_ v: JSON) -> JSON {
        AnnotatedToolChoice.decodeOpenAI(v, surface) { o in
            guard o.count == 2, o["type"]?.stringValue == "function", case .object(let f)? = o["function"],
                f.count == 1, case .string(let name)? = f["name"]
            else { return nil }
            return name
        }
    }

    // MARK: Request encode

    /// Merges an edited annotation back onto the original Chat Completions request.
    public func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        var body = JSONObject()
        let (a, b) = try RequestCodecCore.beginEncode(
            annotated, original: original, Self.traits, body: &body, decodeBody: Self.decodeBody)

        try RequestCodecCore.encodeMessages(a, b, body: &body, key: "messages", fresh: Self.encodeMessage)

        // params
        let (ap, bp) = try RequestCodecCore.encodeSamplingParams(a, b, body: &body)
        if let maxTokens = try RequestCodecCore.changedMaxTokens(ap, bp) {
            if let v = maxTokens {
                let useCompletion = body.contains("max_completion_tokens") || !body.contains("max_tokens")
                body[useCompletion ? "max_completion_tokens" : "max_tokens"] = v
            } else {
                body.removeValue(forKey: "max_completion_tokens")
                body.removeValue(forKey: "max_tokens")
            }
        }
        if RequestCodecCore.changed(ap["stop"], bp["stop"]) {
            if let stop = try RequestCodecCore.stopList(ap["stop"]) {
                if stop.count == 1, case .string? = body["stop"] {
                    body["stop"] = .string(stop[0])
                } else {
                    body["stop"] = .array(stop.map(JSON.string))
                }
            } else {
                body.removeValue(forKey: "stop")
            }
        }

        try RequestCodecCore.encodeTools(a, b, body: &body, fresh: Self.encodeTool)
        try RequestCodecCore.encodeToolChoice(
            a, b, body: &body, Self.surface, function: AnnotatedToolChoice.functionAnnotation)
        return LLMRequest(headers: original.headers, content: .object(body))
    }

    static func encodeMessage(_ m: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(m, "messages")
        let role = try messageRole(o)
        var r = JSONObject(minimumCapacity: 4)
        switch role {
        case "system", "developer", "user":
            r["role"] = .string(role)
            guard let content = o.value("content") else {
                throw .invalidArgument("invalid messages: \(role) message is missing content")
            }
            r["content"] = try encodeContent(content)
            if let name = o.value("name") { r["name"] = name }
        case "assistant":
            r["role"] = "assistant"
            if let content = o.value("content") { r["content"] = try encodeContent(content) }
            if let calls = o.value("tool_calls") {
                guard case .array(let entries) = calls else {
                    throw .invalidArgument("invalid messages: tool_calls must be an array")
                }
                var out: [JSON] = []
                out.reserveCapacity(entries.count)
                for e in entries {
                    guard case .object(let c) = e, case .object(let f)? = c["function"],
                        case .string(let name)? = f["name"], let id = c["id"]?.stringValue
                    else { throw .invalidArgument("invalid messages: malformed tool call") }
                    let args = argumentsString(f["arguments"] ?? .string("{}"))
                    out.append([
                        "id": .string(id), "type": "function",
                        "function": ["name": .string(name), "arguments": .string(args)],
                    ])
                }
                r["tool_calls"] = .array(out)
            }
            if let name = o.value("name") { r["name"] = name }
        case "tool":
            r["role"] = "tool"
            guard let content = o.value("content") else {
                throw .invalidArgument("invalid messages: tool message is missing content")
            }
            r["content"] = try encodeContent(content)
            guard let callId = o["tool_call_id"]?.stringValue else {
                throw .invalidArgument("invalid messages: tool message is missing tool_call_id")
            }
            r["tool_call_id"] = .string(callId)
        case "function":
            r["role"] = "function"
            r["content"] = o["content"] ?? .null
            guard let name = o["name"]?.stringValue else {
                throw .invalidArgument("invalid messages: function message is missing name")
            }
            r["name"] = .string(name)
        case "provider_native":
            return try nativeValue(o, what: "message", for: surface)
        default:
            throw .invalidArgument("message role \(role) cannot be encoded for OpenAI Chat")
        }
        return .object(r)
    }

    static func encodeContent(_ content: JSON) throws(RelayError) -> JSON {
        switch content {
        case .string: return content
        case .array(let parts):
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts { out.append(try encodePart(p)) }
            return .array(out)
        default:
            throw .invalidArgument("invalid messages: content must be a string or an array")
        }
    }

    static func encodePart(_ p: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(p, "content part")
        let type = o["type"]?.stringValue ?? ""
        switch type {
        case "text", "image_url", "refusal":
            return p
        case "audio":
            return ["type": "input_audio", "input_audio": o["audio"] ?? .null]
        case "file":
            return ["type": "file", "file": o["file"] ?? .null]
        case "provider_native":
            return try nativeValue(o, what: "content part", for: surface)
        default:
            throw .invalidArgument("content part \(type) cannot be encoded for OpenAI Chat")
        }
    }

    static func encodeTool(_ t: JSON) throws(RelayError) -> JSON {
        try FunctionToolParts.encode(t, for: surface) { $0.annotation }
    }

    // MARK: Response decode

    /// Decodes a Chat Completions response into the annotated response.
    public func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        try Self.decodeResponseValue(response)
    }

    static let responseKeys: Set<String> = ["id", "model", "choices", "usage", "system_fingerprint", "service_tier"]

    static func decodeResponseValue(_ response: JSON) throws(RelayError) -> JSON {
        let r = ResponseReader(surface: surface, strict: true)
        var out = JSONObject(minimumCapacity: 8)
        var api = JSONObject(minimumCapacity: 4)
        let o = try r.begin(response, structName: "RawChatCompletion", out: &out, api: &api)
        if let choices = try r.array(o, "choices"), let first = choices.first,
            let choice = try r.object(first, structName: "RawChoice")
        {
            if let message = try r.object(choice, "message", structName: "RawMessage") {
                if let content = message.value("content") {
                    guard case .string = content else { throw r.invalidType(content, expected: "a string") }
                    out["message"] = content
                }
                if let calls = try r.array(message, "tool_calls") {
                    var toolCalls: [JSON] = []
                    for c in calls {
                        guard let call = try r.object(c, structName: "RawToolCall") else { continue }
                        guard let fn = try r.object(call, "function", structName: "RawFunction"),
                            let name = try r.string(fn, "name")
                        else { continue }
                        let id = try r.string(call, "id") ?? ""
                        let args = try r.string(fn, "arguments").map(parseToolArguments) ?? .object(JSONObject())
                        toolCalls.append(["id": .string(id), "name": .string(name), "arguments": args])
                    }
                    if !toolCalls.isEmpty { out["tool_calls"] = .array(toolCalls) }
                }
            }
            if let reason = try r.string(choice, "finish_reason") {
                out["finish_reason"] = FinishReason.openAIChat(reason)
            }
            if let logprobs = choice.value("logprobs") { api["logprobs"] = logprobs }
        }
        if let usage = try r.object(o, "usage", structName: "RawUsage"),
            let u = try UsageNormalizer.openAIChat(usage, r).json()
        {
            out["usage"] = u
        }
        if let fp = o.value("system_fingerprint") { api["system_fingerprint"] = fp }
        if let tier = o.value("service_tier") { api["service_tier"] = tier }
        return r.finish(o, knownKeys: responseKeys, out: &out, api: api)
    }
}
