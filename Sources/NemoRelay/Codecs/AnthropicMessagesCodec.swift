// SPDX-License-Identifier: Apache-2.0

/// The Anthropic Messages codec (`anthropic_messages`): request decode/encode and response decode.
public struct AnthropicMessagesCodec: SynchronousLLMCodec {
    /// Creates the codec.
    public init() {}

    /// The codec id, `anthropic_messages`.
    public var id: String { "anthropic_messages" }

    static let surface = CodecSurface.anthropicMessages

    static let traits = RequestCodecTraits(
        surface: .anthropicMessages,
        apiKeys: [
            (annotation: "cache_control", body: "cache_control"), (annotation: "container", body: "container"),
            (annotation: "inference_geo", body: "inference_geo"), (annotation: "output_config", body: "output_config"),
            (annotation: "thinking", body: "thinking"), (annotation: "top_k", body: "top_k"),
            (annotation: "user_profile_id", body: "anthropic-user-profile-id"),
        ],
        commonFields: ["metadata", "service_tier", "stream"],
        unsupportedFields: [
            "store", "previous_response_id", "truncation", "reasoning", "include", "max_output_tokens",
            "max_tool_calls", "top_logprobs", "user",
        ],
        consumedBodyKeys: [
            "messages", "system", "model", "temperature", "top_p", "max_tokens", "stop_sequences", "tools",
            "tool_choice",
        ])

    // MARK: Request decode

    /// Decodes a Messages API request body into the annotated request.
    public func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        .object(try Self.decodeBody(RequestCodecCore.body(request)))
    }

    static func decodeBody(_ body: JSONObject) throws(RelayError) -> JSONObject {
        let s = surface
        let messages = try RequestCodecCore.decodeMessages(body, s, decodeMessage)
        var a = JSONObject(minimumCapacity: 8)
        a["messages"] = .array(messages)
        if let system = body.value("system") { a["instructions"] = try decodeContent(system) }
        if let model = try readField(body, "model", .string, s) { a["model"] = model }
        var params = JSONObject(minimumCapacity: 4)
        if let t = try readField(body, "temperature", .number, s) { params["temperature"] = t }
        if let m = try readField(body, "max_tokens", .nonNegativeInteger, s) { params["max_tokens"] = m }
        if let p = try readField(body, "top_p", .number, s) { params["top_p"] = p }
        if let stop = body.value("stop_sequences") {
            guard case .array(let entries) = stop else {
                let found = stop.serdeDescription
                throw .invalidArgument(
                    "invalid Anthropic stop_sequences value: invalid type: \(found), expected a sequence")
            }
            for e in entries where e.stringValue == nil {
                throw .invalidArgument(
                    "invalid Anthropic stop_sequences value: invalid type: \(e.serdeDescription), expected a string")
            }
            params["stop"] = stop
        }
        if !params.isEmpty { a["params"] = .object(params) }
        try RequestCodecCore.decodeTools(body, s, into: &a, decodeTool)
        if let choice = body.value("tool_choice") {
            a["tool_choice"] = decodeToolChoice(choice)
            if case .bool(let disable)? = choice["disable_parallel_tool_use"] {
                a["parallel_tool_calls"] = .bool(!disable)
            }
        }
        try RequestCodecCore.decodeSharedFields(body, traits, into: &a)
        return a
    }

    static func native(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "role")
    }

    static func nativeBlock(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "type")
    }

    static let messageKeys = ["role", "content"]

    static func decodeMessage(_ item: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = item else { throw .invalidArgument("Anthropic Messages message must be an object") }
        guard case .string(let role)? = o["role"] else {
            throw .invalidArgument("Anthropic Messages message is missing role")
        }
        guard role == "user" || role == "assistant" || role == "system", o.keys(subsetOf: messageKeys) else {
            return native(role, item)
        }
        guard let content = o.value("content") else {
            throw .invalidArgument("Anthropic Messages content must be a string or an array")
        }
        let (decoded, same) = try decodeBlocks(content)
        // The annotation equals the provider message: share it instead of rebuilding.
        if same, o.count == 2 { return item }
        return .object(JSONObject(distinctKeys: SharedKeys.roleContent, values: [.string(role), decoded]))
    }

    static func decodeContent(_ content: JSON) throws(RelayError) -> JSON {
        try decodeBlocks(content).0
    }

    /// The annotated content and whether it equals the provider content.
    static func decodeBlocks(_ content: JSON) throws(RelayError) -> (JSON, Bool) {
        switch content {
        case .string: return (content, true)
        case .array(let blocks):
            var out: [JSON] = []
            out.reserveCapacity(blocks.count)
            var same = true
            for b in blocks {
                let (d, sameBlock) = try decodeBlock(b)
                same = same && sameBlock
                out.append(d)
            }
            return same ? (content, true) : (.array(out), false)
        default:
            throw .invalidArgument("Anthropic Messages content must be a string or an array")
        }
    }

    static let toolUseKeys = ["type", "id", "name", "input"]
    static let toolResultKeys = ["type", "tool_use_id", "content", "is_error"]

    static func decodeBlock(_ block: JSON) throws(RelayError) -> JSON {
        try decodeBlock(block).0
    }

    /// The annotated block and whether it equals the provider block.
    static func decodeBlock(_ block: JSON) throws(RelayError) -> (JSON, Bool) {
        guard case .object(let o) = block else {
            throw .invalidArgument("Anthropic Messages content block must be an object")
        }
        guard case .string(let type)? = o["type"] else { return (nativeBlock("unknown", block), false) }
        switch type {
        case "text":
            guard o["text"]?.stringValue != nil else { return (nativeBlock(type, block), false) }
            return (block, true)
        case "image", "document":
            var inner = o
            inner.removeValue(forKey: "type")
            let d: JSON =
                type == "image"
                ? ["type": "image", "image": .object(inner)] : ["type": "file", "file": .object(inner)]
            return (d, false)
        case "tool_use":
            guard o.keys(subsetOf: toolUseKeys) else { return (nativeBlock(type, block), false) }
            guard let id = o.value("id") else { throw .invalidArgument("Anthropic tool_use block is missing id") }
            guard let name = o.value("name") else { throw .invalidArgument("Anthropic tool_use block is missing name") }
            guard let input = o["input"] else { throw .invalidArgument("Anthropic tool_use block is missing input") }
            guard id.stringValue != nil, name.stringValue != nil else { return (nativeBlock(type, block), false) }
            if o.count == 4 { return (block, true) }
            return (["type": "tool_use", "id": id, "name": name, "input": input], false)
        case "tool_result":
            guard o.keys(subsetOf: toolResultKeys) else { return (nativeBlock(type, block), false) }
            guard let useId = o.value("tool_use_id") else {
                throw .invalidArgument("Anthropic tool_result block is missing tool_use_id")
            }
            guard useId.stringValue != nil else { return (nativeBlock(type, block), false) }
            if let e = o.value("is_error"), e.boolValue == nil { return (nativeBlock(type, block), false) }
            if !o.hasNullValue { return (block, true) }
            var r = JSONObject(minimumCapacity: 4)
            r["type"] = "tool_result"
            r["tool_use_id"] = useId
            if let c = o.value("content") { r["content"] = c }
            if let e = o.value("is_error") { r["is_error"] = e }
            return (.object(r), false)
        default:
            return (nativeBlock(type, block), false)
        }
    }

    static let toolKnownKeys: Set<String> = ["name", "description", "input_schema", "strict"]

    static func decodeTool(_ t: JSON) -> JSON {
        guard case .object(let o) = t else { return nativeBlock("unknown", t) }
        if let type = o["type"] { return nativeBlock(type.stringValue ?? "unknown", t) }
        guard case .string(let name)? = o["name"], let schema = o.value("input_schema") else {
            return nativeBlock("unknown", t)
        }
        if let d = o.value("description"), d.stringValue == nil { return nativeBlock("unknown", t) }
        if let st = o.value("strict"), st.boolValue == nil { return nativeBlock("unknown", t) }
        var wx = JSONObject()
        o.forEach { k, v in
            if !toolKnownKeys.contains(k) { wx[k] = v }
        }
        return FunctionToolParts(
            name: name, description: o.value("description"), parameters: schema, strict: o.value("strict"),
            functionExtras: JSONObject(), wrapperExtras: wx
        ).annotation
    }

    static func decodeToolChoice(_ v: JSON) -> JSON {
        if case .object(let o) = v, case .string(let type)? = o["type"] {
            let flagOK = o["disable_parallel_tool_use"].map { $0.boolValue != nil } ?? true
            switch type {
            case "auto" where flagOK && o.keys(subsetOf: ["type", "disable_parallel_tool_use"]): return "auto"
            case "any" where flagOK && o.keys(subsetOf: ["type", "disable_parallel_tool_use"]): return "required"
            case "none" where flagOK && o.keys(subsetOf: ["type", "disable_parallel_tool_use"]): return "none"
            case "tool" where flagOK && o.keys(subsetOf: ["type", "name", "disable_parallel_tool_use"]):
                if case .string(let name)? = o["name"] { return AnnotatedToolChoice.functionAnnotation(name) }
            default: break
            }
        }
        return providerNative(surface, kind: "tool_choice", value: v, tag: nil)
    }

    // MARK: Request encode

    /// Merges an edited annotation back onto the original Messages API request.
    public func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        var body = JSONObject()
        let (a, b) = try RequestCodecCore.beginEncode(
            annotated, original: original, Self.traits, body: &body, decodeBody: Self.decodeBody)

        try RequestCodecCore.encodeMessages(a, b, body: &body, key: "messages", fresh: Self.encodeMessage)

        if RequestCodecCore.changed(a["instructions"], b["instructions"]) {
            switch a.value("instructions") {
            case nil: body.removeValue(forKey: "system")
            case .string(let s)?: body["system"] = .string(s)
            case .array(let parts)?:
                let baseParts = b["instructions"]?.arrayValue ?? []
                body["system"] = .array(
                    try ItemMerge.merge(
                        annotated: parts, baseline: baseParts, originals: body["system"]?.arrayValue,
                        fresh: Self.encodeBlock))
            default:
                throw .invalidArgument("invalid instructions: expected a string or an array of parts")
            }
        }

        let (ap, bp) = try RequestCodecCore.encodeSamplingParams(a, b, body: &body)
        if let v = try RequestCodecCore.changedMaxTokens(ap, bp) { RequestCodecCore.write(&body, "max_tokens", v) }
        if RequestCodecCore.changed(ap["stop"], bp["stop"]) {
            let stop = try RequestCodecCore.stopList(ap["stop"])
            RequestCodecCore.write(&body, "stop_sequences", stop.map { .array($0.map(JSON.string)) })
        }

        try RequestCodecCore.encodeTools(a, b, body: &body, fresh: Self.encodeTool)
        try Self.encodeToolChoice(a, b, &body)
        return LLMRequest(headers: original.headers, content: .object(body))
    }

    static func encodeToolChoice(_ a: JSONObject, _ b: JSONObject, _ body: inout JSONObject) throws(RelayError) {
        let choiceChanged = RequestCodecCore.changed(a["tool_choice"], b["tool_choice"])
        let parallelChanged = RequestCodecCore.changed(a["parallel_tool_calls"], b["parallel_tool_calls"])
        guard choiceChanged || parallelChanged else { return }
        let parallel = a.value("parallel_tool_calls")
        if let parallel, parallel.boolValue == nil {
            throw .invalidArgument("invalid parallel_tool_calls: expected a boolean")
        }
        var choice: JSON?
        if choiceChanged {
            if let c = a.value("tool_choice") {
                switch try AnnotatedToolChoice.parse(c, for: surface) {
                case .mode("required"): choice = ["type": "any"]
                case .mode(let m): choice = ["type": .string(m)]
                case .function(let n): choice = ["type": "tool", "name": .string(n)]
                case .native(let v): choice = v
                }
            }
        } else {
            choice = body.value("tool_choice")
        }
        let flag = "disable_parallel_tool_use"
        switch parallel?.boolValue {
        case false?:
            var o = choice?.objectValue ?? ["type": "auto"]
            o[flag] = true
            choice = .object(o)
        case true?:
            if case .object(var o)? = choice, o.contains(flag) {
                o[flag] = false
                choice = .object(o)
            }
        case nil:
            if case .object(var o)? = choice, o.contains(flag) {
                o.removeValue(forKey: flag)
                choice = .object(o)
            }
        }
        RequestCodecCore.write(&body, "tool_choice", choice)
    }

    static func encodeMessage(_ m: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(m, "messages")
        let role = try messageRole(o)
        switch role {
        case "user", "assistant", "system":
            guard let content = o.value("content") else {
                throw .invalidArgument("invalid messages: \(role) message is missing content")
            }
            if o.value("tool_calls") != nil {
                throw .invalidArgument("assistant tool_calls cannot be encoded for Anthropic Messages")
            }
            return ["role": .string(role), "content": try encodeContent(content)]
        case "provider_native":
            return try nativeValue(o, what: "message", for: surface)
        default:
            throw .invalidArgument("message role \(role) cannot be encoded for Anthropic Messages")
        }
    }

    static func encodeContent(_ content: JSON) throws(RelayError) -> JSON {
        switch content {
        case .string: return content
        case .array(let parts):
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts { out.append(try encodeBlock(p)) }
            return .array(out)
        default:
            throw .invalidArgument("invalid messages: content must be a string or an array")
        }
    }

    static func encodeBlock(_ p: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(p, "content part")
        let type = o["type"]?.stringValue ?? ""
        switch type {
        case "text", "tool_use":
            return p
        case "image", "file":
            guard case .object(let inner)? = o[type] else { throw .invalidArgument("invalid content part: \(type)") }
            var r = JSONObject(minimumCapacity: inner.count + 1)
            r["type"] = .string(type == "image" ? "image" : "document")
            inner.forEach { k, v in r[k] = v }
            return .object(r)
        case "image_url":
            guard case .string(let url)? = o["image_url"]?["url"] else {
                throw .invalidArgument("invalid content part: image_url")
            }
            return ["type": "image", "source": ["type": "url", "url": .string(url)]]
        case "tool_result":
            var r = JSONObject(minimumCapacity: 4)
            r["type"] = "tool_result"
            r["tool_use_id"] = o["tool_use_id"] ?? ""
            if let c = o.value("content") { r["content"] = c }
            if let e = o.value("is_error") { r["is_error"] = e }
            return .object(r)
        case "provider_native":
            return try nativeValue(o, what: "content part", for: surface)
        default:
            throw .invalidArgument("content part \(type) cannot be encoded for Anthropic Messages")
        }
    }

    static func encodeTool(_ t: JSON) throws(RelayError) -> JSON {
        try FunctionToolParts.encode(t, for: surface) {
            $0.flat(type: nil, parametersKey: "input_schema", defaultParameters: ["type": "object"])
        }
    }

    // MARK: Response decode

    /// Decodes a Messages API response into the annotated response.
    public func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        try Self.decodeResponseValue(response)
    }

    static let responseKeys: Set<String> = [
        "id", "model", "content", "type", "role", "stop_reason", "stop_sequence", "usage", "service_tier", "container",
    ]

    static func decodeResponseValue(_ response: JSON) throws(RelayError) -> JSON {
        let r = ResponseReader(surface: surface, strict: true)
        var out = JSONObject(minimumCapacity: 8)
        var api = JSONObject(minimumCapacity: 8)
        let o = try r.begin(response, structName: "RawAnthropicResponse", out: &out, api: &api)
        if let blocks = try r.array(o, "content") {
            api["content_blocks"] = .array(blocks)
            var texts: [String] = []
            var toolCalls: [JSON] = []
            for block in blocks {
                guard case .object(let b) = block else { continue }
                switch b["type"]?.stringValue {
                case "text"?:
                    if case .string(let t)? = b["text"] { texts.append(t) }
                case "tool_use"?:
                    guard case .string(let id)? = b["id"], case .string(let name)? = b["name"], let input = b["input"]
                    else { continue }
                    toolCalls.append(["id": .string(id), "name": .string(name), "arguments": input])
                default:
                    break
                }
            }
            if !texts.isEmpty { out["message"] = .string(texts.joined(separator: "\n")) }
            if !toolCalls.isEmpty { out["tool_calls"] = .array(toolCalls) }
        }
        if let type = try r.string(o, "type") { api["object_type"] = .string(type) }
        if let role = try r.string(o, "role") { api["role"] = .string(role) }
        if let reason = try r.string(o, "stop_reason") {
            out["finish_reason"] = FinishReason.anthropic(reason)
            api["stop_reason"] = .string(reason)
        }
        for key in ["stop_sequence", "service_tier", "container"] {
            if let v = o.value(key) { api[key] = v }
        }
        if let usage = try r.object(o, "usage", structName: "RawUsage"),
            let u = try UsageNormalizer.anthropic(usage, r).json()
        {
            out["usage"] = u
        }
        return r.finish(o, knownKeys: responseKeys, out: &out, api: api)
    }
}
