// SPDX-License-Identifier: Apache-2.0

/// The OCI Generative AI chat codec (`oci_genai`): request decode/encode and response decode.
///
/// Requests are `ChatDetails` envelopes (`compartmentId`, `servingMode`, `chatRequest`) or a bare chat
/// request; the `chatRequest.apiFormat` selects GENERIC (typed `messages`), COHERE (`message` plus
/// `chatHistory` and `preambleOverride`) or COHEREV2 (GENERIC messages, COHERE stop key). The mapping
/// decisions are documented in docs/codecs.md, "OCI Generative AI chat".
public struct OCIGenAIChatCodec: SynchronousLLMCodec {
    /// Creates the codec.
    public init() {}

    /// The codec id, `oci_genai`.
    public var id: String { "oci_genai" }

    static let surface = CodecSurface.ociGenAI

    static func invalid(_ message: String) -> RelayError { .invalidArgument(message) }

    /// Chat-request keys each format models; every other chat-request key is `extra`.
    static func modeledKeys(_ format: String) -> Set<String> {
        switch format {
        case "COHERE":
            return [
                "apiFormat", "message", "chatHistory", "preambleOverride", "maxTokens", "temperature", "topP",
                "stopSequences", "tools", "toolChoice",
            ]
        case "COHEREV2":
            return [
                "apiFormat", "messages", "maxTokens", "temperature", "topP", "stopSequences", "tools", "toolChoice",
            ]
        default:
            return ["apiFormat", "messages", "maxTokens", "temperature", "topP", "stop", "tools", "toolChoice"]
        }
    }

    /// Annotated fields the chat API cannot express; changing them fails the encode.
    static let unsupportedFields = [
        "model", "instructions", "store", "previous_response_id", "truncation", "reasoning", "include", "user",
        "metadata", "service_tier", "parallel_tool_calls", "max_output_tokens", "max_tool_calls", "top_logprobs",
        "stream",
    ]

    static func nativeMessage(_ kind: String, _ value: JSON) -> JSON {
        providerNative(surface, kind: kind, value: value, tag: "role")
    }

    /// A provider-native component whose kind is the value's `type`.
    static func nativeComponent(_ value: JSON, tag: String?) -> JSON {
        providerNative(surface, kind: value["type"]?.stringValue ?? "unknown", value: value, tag: tag)
    }

    /// The envelope (when the body has an object `chatRequest`) and the chat request.
    static func split(_ body: JSONObject) -> (envelope: JSONObject?, chat: JSONObject) {
        if case .object(let chat)? = body["chatRequest"] { return (body, chat) }
        return (nil, body)
    }

    static func apiFormat(_ chat: JSONObject) -> String {
        chat["apiFormat"]?.stringValue?.uppercased() ?? "GENERIC"
    }

    static func stopKey(_ format: String) -> String {
        format.hasPrefix("COHERE") ? "stopSequences" : "stop"
    }

    // MARK: Request decode

    /// Decodes a chat request (or `ChatDetails` envelope) into the annotated request.
    public func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        .object(try Self.decodeBody(RequestCodecCore.body(request)))
    }

    static func decodeBody(_ body: JSONObject) throws(RelayError) -> JSONObject {
        let (envelope, chat) = split(body)
        let format = apiFormat(chat)
        var messages: [JSON] = []
        if format == "COHERE" {
            messages = try decodeCohereMessages(chat)
        } else {
            switch chat["messages"] {
            case nil, .null?: break
            case .array(let items)?:
                messages.reserveCapacity(items.count)
                for m in items { messages.append(try decodeGenericMessage(m)) }
            default: throw invalid("OCI GenAI GENERIC messages must be an array")
            }
        }
        var a = JSONObject(minimumCapacity: 8)
        a["messages"] = .array(messages)
        if let model = envelope.flatMap(model) { a["model"] = .string(model) }
        if let params = try decodeParams(chat, format) { a["params"] = .object(params) }
        switch chat["tools"] {
        case nil, .null?: break
        case .array(let tools)?: a["tools"] = .array(tools.map { nativeComponent($0, tag: "type") })
        default: throw invalid("OCI GenAI tools must be an array")
        }
        if let choice = chat.value("toolChoice") { a["tool_choice"] = nativeComponent(choice, tag: nil) }
        var api = JSONObject(minimumCapacity: 4)
        api["api"] = .string(surface.api)
        if let c = envelope?["compartmentId"]?.stringValue { api["compartment_id"] = .string(c) }
        if let s = envelope?["servingMode"] { api["serving_mode"] = s }
        api["api_format"] = .string(format)
        a["api_specific"] = .object(api)
        let modeled = modeledKeys(format)
        chat.forEach { k, v in
            if !modeled.contains(k), !annotatedModelKeys.contains(k) { a[k] = v }
        }
        return a
    }

    /// The model identity of an envelope: `servingMode.modelId`, else `servingMode.endpointId`.
    static func model(_ envelope: JSONObject) -> String? {
        guard case .object(let mode)? = envelope["servingMode"] else { return nil }
        return (mode["modelId"] ?? mode["endpointId"])?.stringValue
    }

    /// GENERIC content: nil when absent, null or an empty list; text when every part is a TEXT part (the
    /// texts concatenated); otherwise annotated parts (TEXT parts as text, others provider-native).
    static func decodeContent(_ value: JSON?) throws(RelayError) -> JSON? {
        guard let value, !value.isNull else { return nil }
        if case .string = value { return value }
        guard case .array(let parts) = value else {
            throw invalid("OCI GenAI GENERIC message content must be a string, an array, or null")
        }
        if parts.isEmpty { return nil }
        if let text = allText(parts) { return .string(text) }
        var out: [JSON] = []
        out.reserveCapacity(parts.count)
        for p in parts {
            guard case .object(let o) = p else { throw invalid("OCI GenAI GENERIC content part must be an object") }
            if o["type"]?.stringValue == "TEXT" {
                var t = JSONObject(minimumCapacity: o.count)
                t["type"] = "text"
                t["text"] = .string(o["text"]?.stringValue ?? "")
                o.forEach { k, v in
                    if k != "type", k != "text" { t[k] = v }
                }
                out.append(.object(t))
            } else {
                out.append(nativeComponent(p, tag: "type"))
            }
        }
        return .array(out)
    }

    /// The concatenated text when every part is a TEXT part with a string (or no) text.
    static func allText(_ parts: [JSON]) -> String? {
        var text = ""
        for p in parts {
            guard case .object(let o) = p, o["type"]?.stringValue == "TEXT" else { return nil }
            switch o["text"] {
            case nil, .null?: break
            case .string(let s)?: text += s
            default: return nil
            }
        }
        return text
    }

    /// A GENERIC tool call (flat, or nested under `function`) as an annotated tool call.
    static func decodeToolCall(_ value: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = value else { throw invalid("OCI GenAI toolCalls entry must be an object") }
        let body = o["function"]?.objectValue ?? o
        let arguments: String
        switch body["arguments"] {
        case nil: arguments = ""
        case .string(let s)?: arguments = s
        case let other?: arguments = GeminiGenerateContentCodec.stringify(other)
        }
        return [
            "id": .string(o["id"]?.stringValue ?? ""), "type": "function",
            "function": ["name": .string(body["name"]?.stringValue ?? ""), "arguments": .string(arguments)],
        ]
    }

    static func decodeGenericMessage(_ value: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = value else { throw invalid("OCI GenAI GENERIC message must be an object") }
        let role = (o["role"]?.stringValue ?? "USER").lowercased()
        let content = try decodeContent(o["content"])
        var toolCalls: [JSON]?
        switch o["toolCalls"] {
        case nil, .null?: break
        case .array(let calls)?:
            var out: [JSON] = []
            out.reserveCapacity(calls.count)
            for c in calls { out.append(try decodeToolCall(c)) }
            toolCalls = out
        default: throw invalid("OCI GenAI GENERIC toolCalls must be an array")
        }
        switch role {
        case "system", "user":
            guard let content else { return nativeMessage(role, value) }
            return .object(JSONObject(distinctKeys: SharedKeys.roleContent, values: [.string(role), content]))
        case "assistant":
            var m = JSONObject(minimumCapacity: 3)
            m["role"] = "assistant"
            if let content { m["content"] = content }
            if let toolCalls { m["tool_calls"] = .array(toolCalls) }
            return .object(m)
        case "tool":
            guard let content, case .string(let id)? = o["toolCallId"] else { return nativeMessage(role, value) }
            return ["role": "tool", "content": content, "tool_call_id": .string(id)]
        default:
            return nativeMessage(role, value)
        }
    }

    static func decodeCohereMessages(_ chat: JSONObject) throws(RelayError) -> [JSON] {
        var messages: [JSON] = []
        if case .string(let preamble)? = chat["preambleOverride"], !preamble.isEmpty {
            messages.append(["role": "system", "content": .string(preamble)])
        }
        if let history = chat["chatHistory"] {
            guard case .array(let turns) = history else {
                throw invalid("OCI GenAI COHERE chatHistory must be an array")
            }
            for t in turns { messages.append(try decodeCohereTurn(t)) }
        }
        if case .string(let current)? = chat["message"] {
            messages.append(["role": "user", "content": .string(current)])
        }
        return messages
    }

    static func decodeCohereTurn(_ turn: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = turn else { throw invalid("OCI GenAI COHERE chatHistory turn must be an object") }
        let role = (o["role"]?.stringValue ?? "USER").uppercased()
        guard case .string(let text)? = o["message"] else { return nativeMessage(role, turn) }
        switch role {
        case "USER": return ["role": "user", "content": .string(text)]
        case "CHATBOT": return ["role": "assistant", "content": .string(text)]
        case "SYSTEM": return ["role": "system", "content": .string(text)]
        default: return nativeMessage(role, turn)
        }
    }

    static func decodeParams(_ chat: JSONObject, _ format: String) throws(RelayError) -> JSONObject? {
        var p = JSONObject(minimumCapacity: 4)
        try RequestCodecCore.decodeCamelSampling(chat, provider: "OCI GenAI", into: &p)
        let key = stopKey(format)
        if let s = chat.value(key) {
            guard case .array(let entries) = s else {
                throw invalid(
                    "OCI GenAI \(key) must be a string array: invalid type: \(s.serdeDescription), expected a sequence")
            }
            for e in entries where e.stringValue == nil {
                throw invalid(
                    "OCI GenAI \(key) must be a string array: invalid type: \(e.serdeDescription), expected a string")
            }
            p["stop"] = s
        }
        return p.isEmpty ? nil : p
    }

    // MARK: Request encode

    /// Merges an edited annotation back onto the original chat request (and its envelope).
    public func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        guard case .object(let a) = annotated else { throw Self.invalid("annotated request must be an object") }
        var body = try RequestCodecCore.body(original)
        let b = try Self.decodeBody(body)
        let hasEnvelope = body["chatRequest"]?.objectValue != nil
        var chat = Self.split(body).chat
        let format = Self.apiFormat(chat)
        for key in Self.unsupportedFields where RequestCodecCore.changed(a[key], b[key]) {
            throw unencodableFields(Self.surface)
        }

        let messages = try RequestCodecCore.annotatedMessages(a)
        let baseMessages = b["messages"]?.arrayValue ?? []
        if messages != baseMessages {
            if format == "COHERE" {
                try Self.encodeCohereMessages(messages, chat: &chat)
            } else {
                chat["messages"] = .array(
                    try ItemMerge.merge(
                        annotated: messages, baseline: baseMessages, originals: chat["messages"]?.arrayValue,
                        fresh: Self.encodeGenericMessage))
            }
        }

        if RequestCodecCore.changed(a["params"], b["params"]) {
            let ap = try RequestCodecCore.params(a)
            let bp = b["params"]?.objectValue ?? JSONObject()
            for (key, target) in [("temperature", "temperature"), ("top_p", "topP")]
            where RequestCodecCore.changed(ap[key], bp[key]) {
                if let v = ap.value(key) {
                    guard let d = v.doubleValue else { throw Self.invalid("invalid params: \(key) must be a number") }
                    chat[target] = .double(d)
                } else {
                    chat.removeValue(forKey: target)
                }
            }
            if let v = try RequestCodecCore.changedMaxTokens(ap, bp) { RequestCodecCore.write(&chat, "maxTokens", v) }
            if RequestCodecCore.changed(ap["stop"], bp["stop"]) {
                let stop = try RequestCodecCore.stopList(ap["stop"])
                RequestCodecCore.write(&chat, Self.stopKey(format), stop.map { .array($0.map(JSON.string)) })
            }
        }

        if RequestCodecCore.changed(a["tools"], b["tools"]) {
            switch a.value("tools") {
            case nil: chat.removeValue(forKey: "tools")
            case .array(let tools)?:
                var out: [JSON] = []
                out.reserveCapacity(tools.count)
                for t in tools { out.append(try Self.encodeTool(t)) }
                chat["tools"] = .array(out)
            default: throw Self.invalid("invalid tools: expected an array")
            }
        }
        if RequestCodecCore.changed(a["tool_choice"], b["tool_choice"]) {
            if let c = a.value("tool_choice") {
                guard case .object(let o) = c, o["provider"] != nil, o["kind"] != nil else {
                    throw Self.invalid("tool choice \(c.jsonString()) cannot be encoded for OCI GenAI")
                }
                chat["toolChoice"] = try nativeValue(o, what: "tool_choice", for: Self.surface)
            } else {
                chat.removeValue(forKey: "toolChoice")
            }
        }
        GeminiGenerateContentCodec.encodeExtras(annotated: a, baseline: b, modeled: annotatedModelKeys, body: &chat)

        if hasEnvelope { body["chatRequest"] = .object(chat) } else { body = chat }
        try Self.encodeAPISpecific(a, b, body: &body, hasEnvelope: hasEnvelope)
        return LLMRequest(headers: original.headers, content: .object(body))
    }

    /// Writes edited `compartment_id` and `serving_mode` to the envelope; `api_format` cannot change.
    static func encodeAPISpecific(
        _ a: JSONObject, _ b: JSONObject, body: inout JSONObject, hasEnvelope: Bool
    ) throws(RelayError) {
        guard let edited = a.value("api_specific") else { return }
        guard case .object(let e) = edited, e["api"]?.stringValue == surface.api else {
            throw invalid("api_specific provider does not match OCI GenAI")
        }
        let base = b["api_specific"]?.objectValue ?? JSONObject()
        if RequestCodecCore.changed(e["api_format"], base["api_format"]) {
            throw invalid("the OCI GenAI api_format cannot be edited")
        }
        let compartmentChanged = RequestCodecCore.changed(e["compartment_id"], base["compartment_id"])
        let servingChanged = RequestCodecCore.changed(e["serving_mode"], base["serving_mode"])
        guard compartmentChanged || servingChanged else { return }
        guard hasEnvelope else {
            throw invalid("compartmentId and servingMode edits require a ChatDetails envelope")
        }
        if compartmentChanged {
            let c = e.value("compartment_id")
            if let c, c.stringValue == nil { throw invalid("invalid api_specific: compartment_id must be a string") }
            RequestCodecCore.write(&body, "compartmentId", c)
        }
        if servingChanged { RequestCodecCore.write(&body, "servingMode", e.value("serving_mode")) }
    }

    /// GENERIC typed content parts for annotated content.
    static func encodeContent(_ content: JSON) throws(RelayError) -> JSON {
        switch content {
        case .string(let s): return [["type": "TEXT", "text": .string(s)]]
        case .array(let parts):
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts {
                let o = try requireObject(p, "content part")
                switch o["type"]?.stringValue {
                case "text"?:
                    guard case .string(let text)? = o["text"] else {
                        throw invalid("invalid content part: text must be a string")
                    }
                    var t = JSONObject(minimumCapacity: o.count)
                    o.forEach { k, v in
                        if k != "type", k != "text" { t[k] = v }
                    }
                    t["type"] = "TEXT"
                    t["text"] = .string(text)
                    out.append(.object(t))
                case "provider_native"?:
                    out.append(try nativeValue(o, what: "content part", for: surface))
                default:
                    throw invalid("content part \(p.jsonString()) cannot be encoded for OCI GenAI")
                }
            }
            return .array(out)
        default:
            throw invalid("invalid messages: content must be a string or an array")
        }
    }

    /// An annotated message as a GENERIC message.
    static func encodeGenericMessage(_ m: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(m, "messages")
        let role = try messageRole(o)
        var r = JSONObject(minimumCapacity: 4)
        switch role {
        case "system", "user":
            guard let content = o.value("content") else {
                throw invalid("invalid messages: \(role) message is missing content")
            }
            r["role"] = .string(role.uppercased())
            r["content"] = try encodeContent(content)
        case "assistant":
            r["role"] = "ASSISTANT"
            r["content"] = try o.value("content").map(encodeContent) ?? .array([])
            if case .array(let calls)? = o["tool_calls"] {
                var out: [JSON] = []
                out.reserveCapacity(calls.count)
                for c in calls { out.append(try encodeToolCall(c)) }
                r["toolCalls"] = .array(out)
            }
        case "tool":
            guard let content = o.value("content") else {
                throw invalid("invalid messages: tool message is missing content")
            }
            guard case .string(let id)? = o["tool_call_id"] else {
                throw invalid("invalid messages: tool message is missing tool_call_id")
            }
            r["role"] = "TOOL"
            r["content"] = try encodeContent(content)
            r["toolCallId"] = .string(id)
        case "provider_native":
            return try nativeValue(o, what: "message", for: surface)
        default:
            throw invalid("message role \(role) cannot be encoded for OCI GenAI")
        }
        return .object(r)
    }

    /// An annotated tool call in the flat GENERIC shape; an empty id is omitted.
    static func encodeToolCall(_ c: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = c, case .object(let f)? = o["function"], case .string(let name)? = f["name"] else {
            throw invalid("invalid tool_calls: tool call is missing function.name")
        }
        var r = JSONObject(minimumCapacity: 4)
        if case .string(let id)? = o["id"], !id.isEmpty { r["id"] = .string(id) }
        r["type"] = "FUNCTION"
        r["name"] = .string(name)
        r["arguments"] = .string(argumentsString(f["arguments"] ?? ""))
        return .object(r)
    }

    /// An annotated tool: provider-native unwrapped, a function tool as a flat FUNCTION definition.
    static func encodeTool(_ t: JSON) throws(RelayError) -> JSON {
        guard let parts = try FunctionToolParts.fromAnnotation(t) else {
            return try nativeValue(t.objectValue ?? JSONObject(), what: "tool", for: surface)
        }
        var r = JSONObject(minimumCapacity: 4 + parts.wrapperExtras.count + parts.functionExtras.count)
        parts.wrapperExtras.forEach { k, v in r[k] = v }
        r["type"] = "FUNCTION"
        r["name"] = .string(parts.name)
        if let d = parts.description { r["description"] = d }
        if let p = parts.parameters { r["parameters"] = p }
        parts.functionExtras.forEach { k, v in r[k] = v }
        return .object(r)
    }

    /// The plain text of annotated COHERE content.
    static func cohereText(_ content: JSON?) throws(RelayError) -> String {
        switch content {
        case .string(let s)?: return s
        case .array?: throw invalid("multimodal content cannot be encoded for the OCI GenAI COHERE format")
        default: throw invalid("invalid messages: message is missing content")
        }
    }

    /// Rebuilds `preambleOverride`, `chatHistory` and `message` from the annotated messages (COHERE turns are
    /// plain strings; provider-native turns are written back as they were).
    static func encodeCohereMessages(_ messages: [JSON], chat: inout JSONObject) throws(RelayError) {
        var rest = messages[...]
        if let first = rest.first, first["role"]?.stringValue == "system" {
            chat["preambleOverride"] = .string(try cohereText(first["content"]))
            rest = rest.dropFirst()
        } else {
            chat.removeValue(forKey: "preambleOverride")
        }
        guard let last = rest.last, last["role"]?.stringValue == "user" else {
            throw invalid("OCI GenAI COHERE requests require the last message to be a user message")
        }
        let current = try cohereText(last["content"])
        rest = rest.dropLast()
        var history: [JSON] = []
        history.reserveCapacity(rest.count)
        for m in rest {
            let o = try requireObject(m, "messages")
            let role = try messageRole(o)
            let cohereRole: String
            switch role {
            case "user": cohereRole = "USER"
            case "assistant" where o.value("content") != nil: cohereRole = "CHATBOT"
            case "system": cohereRole = "SYSTEM"
            case "tool":
                throw invalid("OCI GenAI COHERE tool results cannot be rebuilt from a normalized tool message")
            case "provider_native":
                history.append(try nativeValue(o, what: "message", for: surface))
                continue
            default:
                throw invalid("message role \(role) cannot be encoded as an OCI GenAI COHERE chatHistory turn")
            }
            history.append(["role": .string(cohereRole), "message": .string(try cohereText(o["content"]))])
        }
        chat["message"] = .string(current)
        if !history.isEmpty || chat["chatHistory"] != nil { chat["chatHistory"] = .array(history) }
    }

    // MARK: Response decode

    /// Decodes a `ChatResult` (or a bare chat response or stream event) into the annotated response.
    public func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        try Self.decodeResponseValue(response)
    }

    static func decodeResponseValue(_ response: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = response else { return ["raw": response] }
        let envelope: JSONObject?
        let chat: JSONObject
        if case .object(let c)? = o["chatResponse"] {
            envelope = o
            chat = c
        } else {
            envelope = nil
            chat = o
        }
        let format = chat["apiFormat"]?.stringValue?.uppercased() ?? "GENERIC"
        var out = JSONObject(minimumCapacity: 8)
        var extras = JSONObject()
        var message: JSON?
        var calls: [JSON]?
        var finish: String?
        switch format {
        case "COHERE":
            if case .string(let t)? = chat["text"] { message = .string(t) }
            if case .array(let c)? = chat["toolCalls"] { calls = responseToolCalls(c) }
            finish = chat["finishReason"]?.stringValue
        case "COHEREV2":
            finish = chat["finishReason"]?.stringValue
            if case .object(let m)? = chat["message"] {
                nest(m, under: "message", excluding: ["role", "content", "toolCalls"], into: &extras)
                message = try decodeContent(m["content"])
                if case .array(let c)? = m["toolCalls"] { calls = responseToolCalls(c) }
            }
        default:
            if case .array(let choices)? = chat["choices"], case .object(let choice)? = choices.first {
                nest(choice, under: "choice", excluding: ["message", "finishReason", "index"], into: &extras)
                finish = choice["finishReason"]?.stringValue
                if case .object(let m)? = choice["message"] {
                    nest(m, under: "message", excluding: ["role", "content", "toolCalls"], into: &extras)
                    message = try decodeContent(m["content"])
                    if case .array(let c)? = m["toolCalls"] { calls = responseToolCalls(c) }
                }
            }
        }
        if format == "COHEREV2", case .string(let id)? = chat["id"] { out["id"] = .string(id) }
        if let m = envelope?["modelId"]?.stringValue { out["model"] = .string(m) }
        if let message { out["message"] = message }
        if let calls, !calls.isEmpty { out["tool_calls"] = .array(calls) }
        if let finish { out["finish_reason"] = FinishReason.oci(finish) }
        if case .object(let u)? = chat["usage"] { out["usage"] = usage(u) }
        var api = JSONObject(minimumCapacity: 3)
        api["api"] = .string(surface.api)
        api["api_format"] = .string(format)
        if let v = envelope?["modelVersion"]?.stringValue { api["model_version"] = .string(v) }
        out["api_specific"] = .object(api)
        envelope?.forEach { k, v in
            if k != "chatResponse", k != "modelId", k != "modelVersion" { out[k] = v }
        }
        let modeled: Set<String>
        switch format {
        case "COHERE": modeled = ["apiFormat", "text", "finishReason", "toolCalls", "usage"]
        case "COHEREV2": modeled = ["apiFormat", "id", "message", "finishReason", "usage"]
        default: modeled = ["apiFormat", "choices", "usage"]
        }
        chat.forEach { k, v in
            if !modeled.contains(k) { out[k] = v }
        }
        extras.forEach { k, v in out[k] = v }
        return .object(out)
    }

    /// Carries the members of `o` outside `excluding` under `key` in `extras`, when there are any.
    static func nest(_ o: JSONObject, under key: String, excluding: Set<String>, into extras: inout JSONObject) {
        var rest = JSONObject()
        o.forEach { k, v in
            if !excluding.contains(k) { rest[k] = v }
        }
        if !rest.isEmpty { extras[key] = .object(rest) }
    }

    /// Response tool calls: GENERIC flat calls with JSON-text arguments (parsed when they parse), COHERE calls
    /// with `parameters` and a positional `call_<index>` id, COHEREV2 calls nested under `function`.
    static func responseToolCalls(_ calls: [JSON]) -> [JSON] {
        var out: [JSON] = []
        for (index, call) in calls.enumerated() {
            guard case .object(let o) = call else { continue }
            let body = o["function"]?.objectValue ?? o
            guard case .string(let name)? = body["name"] else { continue }
            let arguments: JSON
            switch body["arguments"] {
            case .string(let s)?: arguments = (try? JSON.parse(s)) ?? .string(s)
            case let other?: arguments = other
            case nil: arguments = body["parameters"] ?? .null
            }
            let id = o["id"]?.stringValue ?? "call_\(index)"
            out.append(["id": .string(id), "name": .string(name), "arguments": arguments])
        }
        return out
    }

    /// OCI usage counters (read leniently: a counter of the wrong type is absent); an empty object when none.
    static func usage(_ u: JSONObject) -> JSON {
        func count(_ v: JSON?) -> UInt64? {
            switch v {
            case .int(let i)? where i >= 0: return UInt64(i)
            case .uint(let u)?: return u
            default: return nil
            }
        }
        var n = NormalizedUsage()
        n.promptTokens = count(u["promptTokens"])
        n.completionTokens = count(u["completionTokens"])
        n.totalTokens = count(u["totalTokens"])
        n.cacheReadTokens = count(u["promptTokensDetails"]?["cachedTokens"])
        n.uncachedInputTokens = UsageNormalizer.uncached(prompt: n.promptTokens, cached: n.cacheReadTokens)
        return n.json() ?? .object(JSONObject())
    }
}
