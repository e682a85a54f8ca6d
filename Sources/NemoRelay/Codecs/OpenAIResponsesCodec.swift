// SPDX-License-Identifier: Apache-2.0

/// The OpenAI Responses codec (`openai_responses`): request decode/encode and response decode.
public struct OpenAIResponsesCodec: SynchronousLLMCodec {
    /// Creates the codec.
    public init() {}

    /// The codec id, `openai_responses`.
    public var id: String { "openai_responses" }

    static let surface = CodecSurface.openAIResponses

    static let traits = RequestCodecTraits(
        surface: .openAIResponses,
        apiKeys: [
            "background", "context_management", "conversation", "moderation", "prompt", "prompt_cache_key",
            "prompt_cache_options", "prompt_cache_retention", "safety_identifier", "stream_options", "text",
        ].map { (annotation: $0, body: $0) },
        commonFields: [
            "store", "previous_response_id", "truncation", "reasoning", "include", "user", "metadata", "service_tier",
            "parallel_tool_calls", "max_output_tokens", "max_tool_calls", "top_logprobs", "stream",
        ],
        unsupportedFields: [],
        consumedBodyKeys: ["input", "instructions", "model", "temperature", "top_p", "tools", "tool_choice"])

    // MARK: Request decode

    /// Decodes a Responses request body into the annotated request.
    public func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        .object(try Self.decodeBody(RequestCodecCore.body(request)))
    }

    static func decodeBody(_ body: JSONObject) throws(RelayError) -> JSONObject {
        let s = surface
        guard let input = body.value("input") else {
            throw .invalidArgument("OpenAI Responses request is missing input")
        }
        var messages: [JSON] = []
        switch input {
        case .string:
            messages = [["role": "user", "content": input]]
        case .array(let items):
            messages.reserveCapacity(items.count)
            for item in items { messages.append(try decodeItem(item)) }
        default:
            throw .invalidArgument("OpenAI Responses input must be a string or an array")
        }
        var a = JSONObject(minimumCapacity: 8)
        a["messages"] = .array(messages)
        if let instructions = body.value("instructions") {
            guard case .string = instructions else {
                throw .invalidArgument("OpenAI Responses instructions must be a string or null")
            }
            a["instructions"] = instructions
        }
        if let model = try readField(body, "model", .string, s) { a["model"] = model }
        var params = JSONObject(minimumCapacity: 3)
        if let t = try readField(body, "temperature", .number, s) { params["temperature"] = t }
        if let m = try readField(body, "max_output_tokens", .nonNegativeInteger, s) { params["max_tokens"] = m }
        if let p = try readField(body, "top_p", .number, s) { params["top_p"] = p }
        if !params.isEmpty { a["params"] = .object(params) }
        try RequestCodecCore.decodeTools(body, s, into: &a, decodeTool)
        if let choice = body.value("tool_choice") { a["tool_choice"] = decodeToolChoice(choice) }
        try RequestCodecCore.decodeSharedFields(body, traits, into: &a)
        return a
    }

    static let messageItemKeys = ["type", "role", "content"]
    static let typedRoles: Set<String> = ["system", "developer", "user", "assistant"]

    static func native(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "role")
    }

    static func nativePart(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "type")
    }

    static func decodeItem(_ item: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = item else {
            throw .invalidArgument("OpenAI Responses input item must be an object")
        }
        let type = o["type"]?.stringValue
        switch type {
        case nil, "message"?:
            guard o.keys(subsetOf: messageItemKeys), case .string(let role)? = o["role"], typedRoles.contains(role),
                let content = o.value("content"), let decoded = decodeContent(content)
            else { return native(type ?? "message", item) }
            if let t = o["type"], t.stringValue == nil { return native("message", item) }
            // A string-content item without `type` already has the annotated shape: share it.
            if type == nil, case .string = content, o.count == 2 { return item }
            return .object(JSONObject(distinctKeys: SharedKeys.roleContent, values: [.string(role), decoded]))
        case "function_call"?:
            guard case .string(let callId)? = o["call_id"], case .string(let name)? = o["name"],
                case .string(let args)? = o["arguments"]
            else { return native("function_call", item) }
            if let id = o["id"], id.stringValue == nil { return native("function_call", item) }
            var m = JSONObject(minimumCapacity: o.count + 1)
            m["role"] = "tool_call"
            m["call_id"] = .string(callId)
            m["name"] = .string(name)
            m["arguments"] = parseToolArguments(args)
            o.forEach { k, v in
                if k != "type", k != "call_id", k != "name", k != "arguments" { m[k] = v }
            }
            return .object(m)
        case "function_call_output"?:
            guard case .string(let callId)? = o["call_id"], let output = o["output"] else {
                return native("function_call_output", item)
            }
            if let id = o["id"], id.stringValue == nil { return native("function_call_output", item) }
            var m = JSONObject(minimumCapacity: o.count + 1)
            m["role"] = "tool_result"
            m["call_id"] = .string(callId)
            m["output"] = output
            o.forEach { k, v in
                if k != "type", k != "call_id", k != "output" { m[k] = v }
            }
            return .object(m)
        case let other?:
            return native(other, item)
        }
    }

    /// Decoded message content, or nil when it cannot be represented (the item becomes native).
    static func decodeContent(_ content: JSON) -> JSON? {
        switch content {
        case .string: return content
        case .array(let parts):
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts {
                guard let d = decodePart(p) else { return nil }
                out.append(d)
            }
            return .array(out)
        default:
            return nil
        }
    }

    static func decodePart(_ part: JSON) -> JSON? {
        guard case .object(let o) = part else { return nil }
        guard case .string(let type)? = o["type"] else { return nativePart("unknown", part) }
        switch type {
        case "input_text", "output_text":
            guard o["text"]?.stringValue != nil else { return nativePart(type, part) }
            var t = o
            t["type"] = "text"
            return .object(t)
        case "input_image":
            var img = o
            img.removeValue(forKey: "type")
            return ["type": "image", "image": .object(img)]
        case "input_file":
            var f = o
            f.removeValue(forKey: "type")
            return ["type": "file", "file": .object(f)]
        case "refusal":
            guard o.keys(subsetOf: ["type", "refusal"]), o["refusal"]?.stringValue != nil else {
                return nativePart(type, part)
            }
            return part
        default:
            return nativePart(type, part)
        }
    }

    static let flatToolKeys: Set<String> = ["type", "name", "description", "parameters", "strict"]

    static func decodeTool(_ t: JSON) -> JSON {
        guard case .object(let o) = t, case .string(let type)? = o["type"] else { return nativePart("unknown", t) }
        guard type == "function", case .string(let name)? = o["name"] else { return nativePart(type, t) }
        if let d = o.value("description"), d.stringValue == nil { return nativePart(type, t) }
        if let st = o.value("strict"), st.boolValue == nil { return nativePart(type, t) }
        var wx = JSONObject()
        o.forEach { k, v in
            if !flatToolKeys.contains(k) { wx[k] = v }
        }
        return FunctionToolParts(
            name: name, description: o.value("description"), parameters: o.value("parameters"),
            strict: o.value("strict"), functionExtras: JSONObject(), wrapperExtras: wx
        ).annotation
    }

    static func decodeToolChoice(_ v: JSON) -> JSON {
        AnnotatedToolChoice.decodeOpenAI(v, surface) { o in
            guard o.count == 2, o["type"]?.stringValue == "function", case .string(let name)? = o["name"] else {
                return nil
            }
            return name
        }
    }

    // MARK: Request encode

    /// Merges an edited annotation back onto the original Responses request.
    public func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        var body = JSONObject()
        let (a, b) = try RequestCodecCore.beginEncode(
            annotated, original: original, Self.traits, body: &body, decodeBody: Self.decodeBody)

        if case .string? = body["input"] {
            let messages = try RequestCodecCore.annotatedMessages(a)
            // A string input stays a string while the edit leaves one plain user message.
            if a["messages"] != b["messages"] {
                if messages.count == 1, case .object(let m) = messages[0], m["role"]?.stringValue == "user",
                    case .string(let text)? = m["content"], m.keys(subsetOf: ["role", "content"])
                {
                    body["input"] = .string(text)
                } else {
                    body["input"] = .array(
                        try ItemMerge.merge(annotated: messages, baseline: [], originals: nil, fresh: Self.encodeItem))
                }
            }
        } else {
            try RequestCodecCore.encodeMessages(a, b, body: &body, key: "input", fresh: Self.encodeItem)
        }

        if RequestCodecCore.changed(a["instructions"], b["instructions"]) {
            switch a.value("instructions") {
            case nil: body.removeValue(forKey: "instructions")
            case .string(let s)?: body["instructions"] = .string(s)
            default: throw unencodableFields(Self.surface)
            }
        }

        let (ap, bp) = try RequestCodecCore.encodeSamplingParams(a, b, body: &body)
        if let v = try RequestCodecCore.changedMaxTokens(ap, bp) {
            RequestCodecCore.write(&body, "max_output_tokens", v)
        }
        if RequestCodecCore.changed(ap["stop"], bp["stop"]) { throw unencodableFields(Self.surface) }

        try RequestCodecCore.encodeTools(a, b, body: &body, fresh: Self.encodeTool)
        try RequestCodecCore.encodeToolChoice(
            a, b, body: &body, Self.surface, function: { ["type": "function", "name": .string($0)] })
        return LLMRequest(headers: original.headers, content: .object(body))
    }

    static func encodeItem(_ m: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(m, "messages")
        let role = try messageRole(o)
        switch role {
        case "system", "developer", "user", "assistant":
            guard let content = o.value("content") else {
                if role == "assistant" {
                    throw .invalidArgument("assistant message without content cannot be encoded for OpenAI Responses")
                }
                throw .invalidArgument("invalid messages: \(role) message is missing content")
            }
            if o.value("tool_calls") != nil {
                throw .invalidArgument("assistant tool_calls cannot be encoded for OpenAI Responses")
            }
            var r = JSONObject(minimumCapacity: 3)
            r["type"] = "message"
            r["role"] = .string(role)
            r["content"] = try encodeContent(content, assistant: role == "assistant")
            return .object(r)
        case "tool_call":
            guard case .string(let callId)? = o["call_id"], case .string(let name)? = o["name"] else {
                throw .invalidArgument("invalid messages: tool_call is missing call_id or name")
            }
            var r = JSONObject(minimumCapacity: o.count + 1)
            r["type"] = "function_call"
            r["call_id"] = .string(callId)
            r["name"] = .string(name)
            r["arguments"] = .string(argumentsString(o["arguments"] ?? .object(JSONObject())))
            o.forEach { k, v in
                if k != "role", k != "call_id", k != "name", k != "arguments" { r[k] = v }
            }
            return .object(r)
        case "tool_result":
            guard case .string(let callId)? = o["call_id"] else {
                throw .invalidArgument("invalid messages: tool_result is missing call_id")
            }
            var r = JSONObject(minimumCapacity: o.count + 1)
            r["type"] = "function_call_output"
            r["call_id"] = .string(callId)
            r["output"] = o["output"] ?? .null
            o.forEach { k, v in
                if k != "role", k != "call_id", k != "output" { r[k] = v }
            }
            return .object(r)
        case "provider_native":
            return try nativeValue(o, what: "message", for: surface)
        default:
            throw .invalidArgument("message role \(role) cannot be encoded for OpenAI Responses")
        }
    }

    static func encodeContent(_ content: JSON, assistant: Bool) throws(RelayError) -> JSON {
        switch content {
        case .string: return content
        case .array(let parts):
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts { out.append(try encodePart(p, assistant: assistant)) }
            return .array(out)
        default:
            throw .invalidArgument("invalid messages: content must be a string or an array")
        }
    }

    static func encodePart(_ p: JSON, assistant: Bool) throws(RelayError) -> JSON {
        let o = try requireObject(p, "content part")
        let type = o["type"]?.stringValue ?? ""
        switch type {
        case "text":
            var t = o
            t["type"] = .string(assistant ? "output_text" : "input_text")
            return .object(t)
        case "image":
            guard case .object(let img)? = o["image"] else { throw .invalidArgument("invalid content part: image") }
            var r = JSONObject(minimumCapacity: img.count + 1)
            r["type"] = "input_image"
            img.forEach { k, v in r[k] = v }
            return .object(r)
        case "image_url":
            guard case .object(let img)? = o["image_url"], let url = img["url"] else {
                throw .invalidArgument("invalid content part: image_url")
            }
            var r: JSONObject = ["type": "input_image", "image_url": url]
            if let d = img["detail"] { r["detail"] = d }
            return .object(r)
        case "file":
            guard case .object(let f)? = o["file"] else { throw .invalidArgument("invalid content part: file") }
            var r = JSONObject(minimumCapacity: f.count + 1)
            r["type"] = "input_file"
            f.forEach { k, v in r[k] = v }
            return .object(r)
        case "audio":
            return ["type": "input_audio", "input_audio": o["audio"] ?? .null]
        case "refusal":
            return ["type": "refusal", "refusal": o["refusal"] ?? ""]
        case "provider_native":
            return try nativeValue(o, what: "content part", for: surface)
        default:
            throw .invalidArgument("content part \(type) cannot be encoded for OpenAI Responses")
        }
    }

    static func encodeTool(_ t: JSON) throws(RelayError) -> JSON {
        try FunctionToolParts.encode(t, for: surface) {
            $0.flat(type: "function", parametersKey: "parameters", defaultParameters: nil)
        }
    }

    // MARK: Response decode

    /// Decodes a Responses API response into the annotated response.
    public func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        try Self.decodeResponseValue(response)
    }

    static let responseKeys: Set<String> = [
        "id", "model", "output", "usage", "status", "incomplete_details", "previous_response_id", "store",
        "service_tier", "truncation", "reasoning",
    ]

    static func decodeResponseValue(_ response: JSON) throws(RelayError) -> JSON {
        let r = ResponseReader(surface: surface, strict: true)
        var out = JSONObject(minimumCapacity: 8)
        var api = JSONObject(minimumCapacity: 6)
        let o = try r.begin(response, structName: "RawResponsesResponse", out: &out, api: &api)
        var texts: [String] = []
        var toolCalls: [JSON] = []
        if let output = try r.array(o, "output") {
            api["output_items"] = .array(output)
            for item in output {
                guard let it = try r.object(item, structName: "RawOutputItem") else { continue }
                switch it["type"]?.stringValue {
                case "message"?:
                    if let parts = try r.array(it, "content") {
                        for p in parts {
                            if case .object(let po) = p, po["type"]?.stringValue == "output_text",
                                case .string(let t)? = po["text"]
                            {
                                texts.append(t)
                            }
                        }
                    }
                case "output_text"?:
                    if let t = try r.string(it, "text") { texts.append(t) }
                case "function_call"?:
                    let callId = try r.string(it, "call_id") ?? ""
                    let name = try r.string(it, "name") ?? ""
                    let args = try r.string(it, "arguments").map(parseToolArguments) ?? .object(JSONObject())
                    toolCalls.append(["id": .string(callId), "name": .string(name), "arguments": args])
                default:
                    break
                }
            }
        }
        if !texts.isEmpty {
            out["message"] = .string(texts.joined(separator: "\n"))
        } else if let t = o.value("output_text")?.stringValue {
            out["message"] = .string(t)
        }
        if !toolCalls.isEmpty { out["tool_calls"] = .array(toolCalls) }
        let incomplete = try r.object(o, "incomplete_details", structName: "IncompleteDetails")
        if let status = try r.string(o, "status") {
            let reason = try incomplete.flatMap { (d: JSONObject) throws(RelayError) -> String? in
                try r.string(d, "reason")
            }
            out["finish_reason"] = FinishReason.openAIResponses(status: status, incompleteReason: reason)
            api["status"] = .string(status)
        }
        if let usage = try r.object(o, "usage", structName: "RawUsage") {
            if let u = try UsageNormalizer.openAIResponses(usage, r).json() { out["usage"] = u }
            if let d = usage.value("input_tokens_details") { api["input_tokens_details"] = d }
            if let d = usage.value("output_tokens_details") { api["output_tokens_details"] = d }
        }
        for key in ["incomplete_details", "previous_response_id", "store", "service_tier", "truncation", "reasoning"] {
            if let v = o.value(key) { api[key] = v }
        }
        return r.finish(o, knownKeys: responseKeys, out: &out, api: api)
    }
}
