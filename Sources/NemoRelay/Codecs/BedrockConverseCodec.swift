// SPDX-License-Identifier: Apache-2.0

/// The AWS Bedrock Converse codec (`bedrock_converse`): request decode/encode for Converse and
/// ConverseStream bodies, and response decode for Converse results.
///
/// The reference has no Bedrock codec; the mapping follows the other built-in codecs and is documented
/// in docs/codecs.md, "Bedrock Converse".
public struct BedrockConverseCodec: SynchronousLLMCodec {
    /// Creates the codec.
    public init() {}

    /// The codec id, `bedrock_converse`.
    public var id: String { "bedrock_converse" }

    static let surface = CodecSurface.bedrockConverse

    static func invalid(_ message: String) -> RelayError { .invalidArgument(message) }

    /// Converse request members carried in `api_specific` (annotation key, body key).
    static let apiKeys: [(annotation: String, body: String)] = [
        ("additional_model_request_fields", "additionalModelRequestFields"),
        ("additional_model_response_field_paths", "additionalModelResponseFieldPaths"),
        ("guardrail_config", "guardrailConfig"), ("prompt_variables", "promptVariables"),
        ("request_metadata", "requestMetadata"), ("performance_config", "performanceConfig"),
        ("service_tier", "serviceTier"),
    ]

    /// Body keys the codec reads itself.
    static let consumedKeys: Set<String> = ["modelId", "messages", "system", "inferenceConfig", "toolConfig"]

    /// Annotated fields Converse cannot express; changing them fails the encode.
    static let unsupportedFields = [
        "store", "previous_response_id", "truncation", "reasoning", "include", "max_output_tokens", "max_tool_calls",
        "top_logprobs", "user", "metadata", "service_tier", "parallel_tool_calls", "stream",
    ]

    static func nativeBlock(_ block: JSON) -> JSON {
        providerNative(surface, kind: block.objectValue?.keys.first ?? "unknown", value: block, tag: "type")
    }

    /// The single member name of a content block (Converse blocks are unions), or nil.
    static func blockKind(_ block: JSON) -> String? {
        guard case .object(let o) = block, o.count == 1 else { return nil }
        return o.keys.first
    }

    // MARK: Request decode

    /// Decodes a Converse (or ConverseStream) request body into the annotated request.
    public func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        .object(try Self.decodeBody(RequestCodecCore.body(request)))
    }

    static func decodeBody(_ body: JSONObject) throws(RelayError) -> JSONObject {
        guard let raw = body.value("messages") else { throw invalid("Bedrock Converse request is missing messages") }
        guard case .array(let items) = raw else { throw invalid("Bedrock Converse messages must be an array") }
        var messages: [JSON] = []
        messages.reserveCapacity(items.count)
        for item in items { messages.append(contentsOf: try decodeMessage(item)) }

        var a = JSONObject(minimumCapacity: 8)
        a["messages"] = .array(messages)
        if let system = body.value("system") { a["instructions"] = try decodeSystem(system) }
        if let model = body.value("modelId") {
            guard case .string = model else { throw invalid("Bedrock Converse modelId must be a string or null") }
            a["model"] = model
        }
        if let config = body.value("inferenceConfig") {
            guard case .object(let c) = config else {
                throw invalid("Bedrock Converse inferenceConfig must be an object or null")
            }
            if let p = try decodeParams(c) { a["params"] = .object(p) }
        }
        if let config = body.value("toolConfig") {
            guard case .object(let c) = config else {
                throw invalid("Bedrock Converse toolConfig must be an object or null")
            }
            if let tools = c.value("tools") {
                guard case .array(let entries) = tools else {
                    throw invalid("Bedrock Converse toolConfig.tools must be an array")
                }
                a["tools"] = .array(entries.map(decodeTool))
            }
            if let choice = c.value("toolChoice") { a["tool_choice"] = decodeToolChoice(choice) }
        }
        var api = JSONObject(minimumCapacity: 2)
        api["api"] = .string(surface.api)
        for (annotationKey, bodyKey) in apiKeys {
            if let v = body.value(bodyKey) { api[annotationKey] = v }
        }
        a["api_specific"] = .object(api)
        let apiBodyKeys = Set(apiKeys.map(\.body))
        body.forEach { k, v in
            if !consumedKeys.contains(k), !apiBodyKeys.contains(k), !annotatedModelKeys.contains(k) { a[k] = v }
        }
        return a
    }

    /// `system` blocks: one text block as a string, otherwise one annotated part per block.
    static func decodeSystem(_ system: JSON) throws(RelayError) -> JSON {
        guard case .array(let blocks) = system else { throw invalid("Bedrock Converse system must be an array") }
        if blocks.count == 1, blockKind(blocks[0]) == "text", case .string(let t)? = blocks[0]["text"] {
            return .string(t)
        }
        var out: [JSON] = []
        out.reserveCapacity(blocks.count)
        for b in blocks {
            guard case .object = b else { throw invalid("Bedrock Converse system block must be an object") }
            out.append(decodeVisibleBlock(b))
        }
        return .array(out)
    }

    static func decodeParams(_ c: JSONObject) throws(RelayError) -> JSONObject? {
        var p = JSONObject(minimumCapacity: 4)
        try RequestCodecCore.decodeCamelSampling(c, provider: "Bedrock Converse", into: &p)
        if let s = c.value("stopSequences") {
            guard case .array(let entries) = s, entries.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid("Bedrock Converse stopSequences must be an array of strings")
            }
            p["stop"] = s
        }
        return p.isEmpty ? nil : p
    }

    /// A visible content block as an annotated part: text as a text part, image and document as image and
    /// file parts, anything else (reasoning, cache points, guard content, video, …) provider-native.
    static func decodeVisibleBlock(_ block: JSON) -> JSON {
        switch blockKind(block) {
        case "text"?:
            if case .string(let t)? = block["text"] { return ["type": "text", "text": .string(t)] }
        case "image"?:
            if case .object = block["image"] { return ["type": "image", "image": block["image"] ?? .null] }
        case "document"?:
            if case .object = block["document"] { return ["type": "file", "file": block["document"] ?? .null] }
        default:
            break
        }
        return nativeBlock(block)
    }

    /// Annotated content for visible blocks: one text block as a string, otherwise parts (nil when none).
    static func visibleContent(_ blocks: [JSON]) -> JSON? {
        if blocks.isEmpty { return nil }
        if blocks.count == 1, blockKind(blocks[0]) == "text", case .string(let t)? = blocks[0]["text"] {
            return .string(t)
        }
        return .array(blocks.map(decodeVisibleBlock))
    }

    /// The annotated messages of one Converse message: each `toolResult` block as a tool message, then the
    /// other blocks as one user or assistant message (assistant `toolUse` blocks as its tool calls).
    static func decodeMessage(_ item: JSON) throws(RelayError) -> [JSON] {
        guard case .object(let o) = item else { throw invalid("Bedrock Converse message must be an object") }
        guard case .string(let role)? = o["role"] else { throw invalid("Bedrock Converse message is missing role") }
        guard role == "user" || role == "assistant" else {
            return [providerNative(surface, kind: role, value: item, tag: "role")]
        }
        guard case .array(let blocks)? = o["content"] else {
            throw invalid("Bedrock Converse message content must be an array")
        }
        var visible: [JSON] = []
        var calls: [JSON] = []
        var results: [JSON] = []
        for b in blocks {
            guard case .object(let bo) = b else { throw invalid("Bedrock Converse content block must be an object") }
            if case .object(let use)? = bo["toolUse"], bo.count == 1 {
                guard role == "assistant" else {
                    throw invalid("Bedrock Converse toolUse blocks belong to assistant messages")
                }
                calls.append(try decodeToolUse(use))
            } else if case .object(let result)? = bo["toolResult"], bo.count == 1 {
                guard role == "user" else {
                    throw invalid("Bedrock Converse toolResult blocks belong to user messages")
                }
                results.append(try decodeToolResult(result))
            } else {
                visible.append(b)
            }
        }
        var out = results
        let content = visibleContent(visible)
        if role == "assistant" {
            var m = JSONObject(minimumCapacity: 3)
            m["role"] = "assistant"
            if let content { m["content"] = content } else if calls.isEmpty { m["content"] = "" }
            if !calls.isEmpty { m["tool_calls"] = .array(calls) }
            out.append(.object(m))
        } else if content != nil || results.isEmpty {
            out.append(.object(JSONObject(distinctKeys: SharedKeys.roleContent, values: ["user", content ?? ""])))
        }
        return out
    }

    static func decodeToolUse(_ use: JSONObject) throws(RelayError) -> JSON {
        guard case .string(let id)? = use["toolUseId"] else {
            throw invalid("Bedrock Converse toolUse is missing toolUseId")
        }
        guard case .string(let name)? = use["name"] else { throw invalid("Bedrock Converse toolUse is missing name") }
        let input = use["input"] ?? .object(JSONObject())
        return [
            "id": .string(id), "type": "function",
            "function": ["name": .string(name), "arguments": .string(GeminiGenerateContentCodec.stringify(input))],
        ]
    }

    static func decodeToolResult(_ result: JSONObject) throws(RelayError) -> JSON {
        guard case .string(let id)? = result["toolUseId"] else {
            throw invalid("Bedrock Converse toolResult is missing toolUseId")
        }
        guard case .array(let blocks)? = result["content"] else {
            throw invalid("Bedrock Converse toolResult content must be an array")
        }
        return ["role": "tool", "tool_call_id": .string(id), "content": toolResultContent(blocks)]
    }

    /// Tool result content: one text block as its text, one json block as its compact JSON text, otherwise
    /// parts (text blocks as text parts, the others provider-native).
    static func toolResultContent(_ blocks: [JSON]) -> JSON {
        if blocks.count == 1 {
            switch blockKind(blocks[0]) {
            case "text"?: if case .string(let t)? = blocks[0]["text"] { return .string(t) }
            case "json"?: return .string(GeminiGenerateContentCodec.stringify(blocks[0]["json"] ?? .null))
            default: break
            }
        }
        return .array(
            blocks.map { b in
                if blockKind(b) == "text", case .string(let t)? = b["text"] {
                    return ["type": "text", "text": .string(t)]
                }
                return nativeBlock(b)
            })
    }

    static let toolSpecKnownKeys: Set<String> = ["name", "description", "inputSchema"]

    static func decodeTool(_ t: JSON) -> JSON {
        guard blockKind(t) == "toolSpec", case .object(let spec)? = t["toolSpec"],
            case .string(let name)? = spec["name"],
            case .object(let schema)? = spec["inputSchema"], schema.count == 1, let parameters = schema["json"]
        else { return nativeBlock(t) }
        if let d = spec["description"], d.stringValue == nil { return nativeBlock(t) }
        var fx = JSONObject()
        spec.forEach { k, v in
            if !toolSpecKnownKeys.contains(k) { fx[k] = v }
        }
        return FunctionToolParts(
            name: name, description: spec["description"], parameters: parameters, strict: nil, functionExtras: fx,
            wrapperExtras: JSONObject()
        ).annotation
    }

    static func decodeToolChoice(_ v: JSON) -> JSON {
        switch blockKind(v) {
        case "auto"? where v["auto"]?.objectValue?.isEmpty == true: return "auto"
        case "any"? where v["any"]?.objectValue?.isEmpty == true: return "required"
        case "tool"?:
            if case .object(let t)? = v["tool"], t.count == 1, case .string(let name)? = t["name"] {
                return AnnotatedToolChoice.functionAnnotation(name)
            }
        default: break
        }
        return providerNative(surface, kind: "tool_choice", value: v, tag: nil)
    }

    // MARK: Request encode

    /// Merges an edited annotation back onto the original Converse request.
    public func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        let a = try RequestCodecCore.annotatedObject(annotated, Self.traits)
        var body = try RequestCodecCore.body(original)
        let b = try Self.decodeBody(body)
        for key in Self.unsupportedFields where RequestCodecCore.changed(a[key], b[key]) {
            throw unencodableFields(Self.surface)
        }
        let messages = try RequestCodecCore.annotatedMessages(a)
        let baseMessages = b["messages"]?.arrayValue ?? []
        try Self.encodeMessages(messages, baseline: baseMessages, body: &body)
        if RequestCodecCore.changed(a["instructions"], b["instructions"]) { try Self.encodeSystem(a, b, body: &body) }
        if RequestCodecCore.changed(a["model"], b["model"]) {
            let m = a.value("model")
            if let m, m.stringValue == nil { throw Self.invalid("invalid model: expected a string") }
            RequestCodecCore.write(&body, "modelId", m)
        }
        if RequestCodecCore.changed(a["params"], b["params"]) { try Self.encodeParams(a, b, body: &body) }
        try Self.encodeToolConfig(a, b, body: &body)
        // api_specific: absent deletes every provider-specific key; otherwise write changed members.
        let baseApi = b["api_specific"]?.objectValue ?? JSONObject()
        if let api = a.value("api_specific")?.objectValue {
            for (annotationKey, bodyKey) in Self.apiKeys
            where RequestCodecCore.changed(api[annotationKey], baseApi[annotationKey]) {
                RequestCodecCore.write(&body, bodyKey, api.value(annotationKey))
            }
        } else {
            for (_, bodyKey) in Self.apiKeys { body.removeValue(forKey: bodyKey) }
        }
        GeminiGenerateContentCodec.encodeExtras(annotated: a, baseline: b, modeled: annotatedModelKeys, body: &body)
        return LLMRequest(headers: original.headers, content: .object(body))
    }

    /// Only the surface check of ``RequestCodecCore/annotatedObject(_:_:)`` uses these traits.
    static let traits = RequestCodecTraits(
        surface: .bedrockConverse, apiKeys: apiKeys, commonFields: [], unsupportedFields: unsupportedFields,
        consumedBodyKeys: consumedKeys)

    static func encodeMessages(_ messages: [JSON], baseline: [JSON], body: inout JSONObject) throws(RelayError) {
        let merge = GroupedMessageMerge(turnSize: turnSize, patch: patchMessage, fresh: freshMessage)
        let originals = body["messages"]?.arrayValue ?? []
        guard let turns = try merge.merge(annotated: messages, baseline: baseline, originals: originals) else {
            return
        }
        // Fresh user turns that follow each other (tool results, then a user message) become one turn:
        // Converse requires the roles to alternate.
        var out: [JSON] = []
        out.reserveCapacity(turns.count)
        var previousFreshUser = false
        for t in turns {
            let freshUser = t.fresh && t.value["role"]?.stringValue == "user"
            if freshUser, previousFreshUser, case .object(var last)? = out.last,
                case .array(var blocks)? = last["content"], case .array(let more)? = t.value["content"]
            {
                blocks.append(contentsOf: more)
                last["content"] = .array(blocks)
                out[out.count - 1] = .object(last)
            } else {
                out.append(t.value)
            }
            previousFreshUser = freshUser
        }
        body["messages"] = .array(out)
    }

    /// The number of messages a (valid) Converse message decodes to: its tool results, plus one for the
    /// message itself unless it is a user message of tool results only.
    static func turnSize(_ item: JSON) -> Int {
        guard item["role"]?.stringValue == "user", case .array(let blocks)? = item["content"] else { return 1 }
        let results = blocks.count { blockKind($0) == "toolResult" && $0["toolResult"]?.objectValue != nil }
        return results == 0 || results < blocks.count ? results + 1 : results
    }

    /// A Converse message encoded from one annotated message alone.
    static func freshMessage(_ m: JSON) throws(RelayError) -> JSON? {
        let o = try requireObject(m, "messages")
        let role = try messageRole(o)
        switch role {
        case "user":
            return ["role": "user", "content": .array(try encodeBlocks(o.value("content"), emptyText: true))]
        case "assistant":
            var blocks = try encodeBlocks(o.value("content"), emptyText: false)
            if case .array(let calls)? = o["tool_calls"] {
                for c in calls { blocks.append(try toolUseBlock(c)) }
            }
            if blocks.isEmpty { blocks.append(["text": ""]) }
            return ["role": "assistant", "content": .array(blocks)]
        case "tool":
            return ["role": "user", "content": [try toolResultBlock(m, original: nil)]]
        case "provider_native":
            return try nativeValue(o, what: "message", for: surface)
        default:
            throw invalid("message role \(role) cannot be encoded for Bedrock Converse")
        }
    }

    /// Converse content blocks for annotated content.
    static func encodeBlocks(_ content: JSON?, emptyText: Bool) throws(RelayError) -> [JSON] {
        switch content {
        case nil: return emptyText ? [["text": ""]] : []
        case .string(let s)?: return s.isEmpty && !emptyText ? [] : [["text": .string(s)]]
        case .array(let parts)?:
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts { out.append(try encodeBlock(p)) }
            return out
        default:
            throw invalid("invalid messages: content must be a string or an array")
        }
    }

    static func encodeBlock(_ p: JSON) throws(RelayError) -> JSON {
        let o = try requireObject(p, "content part")
        let type = o["type"]?.stringValue ?? ""
        switch type {
        case "text":
            guard case .string(let t)? = o["text"] else { throw invalid("invalid content part: text must be a string") }
            return ["text": .string(t)]
        case "image", "file":
            guard case .object(let inner)? = o[type] else { throw invalid("invalid content part: \(type)") }
            return [type == "image" ? "image" : "document": .object(inner)]
        case "image_url":
            guard case .string(let url)? = o["image_url"]?["url"], let image = dataURLImage(url) else {
                throw invalid("content part image_url cannot be encoded for Bedrock Converse (only data: URLs)")
            }
            return ["image": image]
        case "provider_native":
            return try nativeValue(o, what: "content part", for: surface)
        default:
            throw invalid("content part \(type) cannot be encoded for Bedrock Converse")
        }
    }

    /// A Converse image from a `data:image/<format>;base64,<bytes>` URL.
    static func dataURLImage(_ url: String) -> JSON? {
        guard url.hasPrefix("data:image/"), let comma = url.firstIndex(of: ",") else { return nil }
        let header = url[url.index(url.startIndex, offsetBy: 11)..<comma]
        guard header.hasSuffix(";base64") else { return nil }
        let format = header.dropLast(7)
        return [
            "format": .string(format == "jpg" ? "jpeg" : String(format)),
            "source": ["bytes": .string(String(url[url.index(after: comma)...]))],
        ]
    }

    static func toolUseBlock(_ c: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = c, case .string(let id)? = o["id"], case .string(let name)? = o["function"]?["name"]
        else { throw invalid("invalid tool_calls: tool call needs id and function.name") }
        let input: JSON
        switch o["function"]?["arguments"] {
        case nil, .null?: input = .object(JSONObject())
        case .string(let s)?:
            if s.isEmpty {
                input = .object(JSONObject())
            } else {
                guard let v = try? JSON.parse(s) else {
                    throw invalid("Bedrock Converse tool call '\(name)' has arguments that are not valid JSON")
                }
                input = v
            }
        case let v?: input = v
        }
        return ["toolUse": ["toolUseId": .string(id), "name": .string(name), "input": input]]
    }

    /// A `toolResult` block for an annotated tool message; with `original`, its other members (`status`)
    /// are kept.
    static func toolResultBlock(_ m: JSON, original: JSONObject?) throws(RelayError) -> JSON {
        guard case .string(let id)? = m["tool_call_id"] else {
            throw invalid("invalid messages: tool message is missing tool_call_id")
        }
        var r = original ?? JSONObject()
        r["toolUseId"] = .string(id)
        r["content"] = .array(try toolResultBlocks(m["content"]))
        return ["toolResult": .object(r)]
    }

    /// Tool result blocks: text that is a JSON object or array as one json block, other text as a text block.
    static func toolResultBlocks(_ content: JSON?) throws(RelayError) -> [JSON] {
        switch content {
        case nil, .null?: return [["text": ""]]
        case .string(let s)?:
            if let v = try? JSON.parse(s), v.objectValue != nil || v.arrayValue != nil { return [["json": v]] }
            return [["text": .string(s)]]
        case .array(let parts)?:
            var out: [JSON] = []
            for p in parts {
                let o = try requireObject(p, "content part")
                switch o["type"]?.stringValue {
                case "text"?:
                    guard case .string(let t)? = o["text"] else { throw invalid("invalid content part: text") }
                    out.append(["text": .string(t)])
                case "provider_native"?: out.append(try nativeValue(o, what: "content part", for: surface))
                case "image"?, "file"?: out.append(try encodeBlock(p))
                default: throw invalid("tool result content part cannot be encoded for Bedrock Converse")
                }
            }
            return out
        default:
            throw invalid("invalid messages: content must be a string or an array")
        }
    }

    /// Applies edited messages to their original Converse message: tool results keep their other members,
    /// unchanged visible blocks and tool uses stay as they were; a run that no longer fits is encoded fresh.
    static func patchMessage(_ original: JSON, _ run: [JSON], _ baseRun: [JSON]) throws(RelayError) -> [JSON] {
        func fresh() throws(RelayError) -> [JSON] {
            var out: [JSON] = []
            for m in run { if let t = try freshMessage(m) { out.append(t) } }
            return out
        }
        guard case .object(var item) = original, case .array(let blocks)? = item["content"], run.count == baseRun.count,
            let role = item["role"]?.stringValue
        else { return try fresh() }
        for (m, bm) in zip(run, baseRun) where Self.role(m) != Self.role(bm) { return try fresh() }
        let resultIndices = blocks.indices.filter {
            blocks[$0]["toolResult"] != nil && blocks[$0].objectValue?.count == 1
        }
        let useIndices = blocks.indices.filter { blocks[$0]["toolUse"] != nil && blocks[$0].objectValue?.count == 1 }
        let visibleIndices = blocks.indices.filter { !resultIndices.contains($0) && !useIndices.contains($0) }
        // The run is the tool messages of the result blocks, then (optionally) the turn's own message.
        let tools = run.prefix { Self.role($0) == "tool" }
        guard tools.count == resultIndices.count else { return try fresh() }
        let own = run.count > tools.count ? run.last : nil
        let baseOwn = baseRun.count > tools.count ? baseRun.last : nil

        var newBlocks = blocks
        for (k, bi) in resultIndices.enumerated() where run[k] != baseRun[k] {
            newBlocks[bi] = try toolResultBlock(run[k], original: blocks[bi]["toolResult"]?.objectValue)
        }
        var visible = visibleIndices.map { blocks[$0] }
        var uses = useIndices.map { blocks[$0] }
        if let own, let baseOwn, own != baseOwn {
            if own["content"]?.nonNull != baseOwn["content"]?.nonNull {
                switch (own["content"], baseOwn["content"]) {
                case (.array(let parts)?, .array(let baseParts)?):
                    visible = try ItemMerge.merge(
                        annotated: parts, baseline: baseParts, originals: visible, fresh: encodeBlock)
                default:
                    visible = try encodeBlocks(own.objectValue?.value("content"), emptyText: role == "user")
                }
            }
            let calls = own["tool_calls"]?.nonNull?.arrayValue ?? []
            let baseCalls = baseOwn["tool_calls"]?.nonNull?.arrayValue ?? []
            var newUses: [JSON] = []
            for (k, c) in calls.enumerated() {
                newUses.append(
                    k < baseCalls.count && k < uses.count && c == baseCalls[k] ? uses[k] : try toolUseBlock(c))
            }
            uses = newUses
        }
        // Reassemble: results in place, visible blocks at the first visible position, tool uses in order.
        var out: [JSON] = []
        out.reserveCapacity(newBlocks.count + visible.count + uses.count)
        var visiblePlaced = false
        var usesPlaced = 0
        for (idx, block) in newBlocks.enumerated() {
            if resultIndices.contains(idx) {
                out.append(block)
            } else if useIndices.contains(idx) {
                if !visiblePlaced {
                    out.append(contentsOf: visible)
                    visiblePlaced = true
                }
                if usesPlaced < uses.count {
                    out.append(uses[usesPlaced])
                    usesPlaced += 1
                }
            } else if visibleIndices.first == idx {
                out.append(contentsOf: visible)
                visiblePlaced = true
            }
        }
        if !visiblePlaced { out.append(contentsOf: visible) }
        if usesPlaced < uses.count { out.append(contentsOf: uses[usesPlaced...]) }
        item["content"] = .array(out)
        return [.object(item)]
    }

    static func role(_ m: JSON) -> String? { m["role"]?.stringValue }

    static func encodeSystem(_ a: JSONObject, _ b: JSONObject, body: inout JSONObject) throws(RelayError) {
        switch a.value("instructions") {
        case nil: body.removeValue(forKey: "system")
        case .string(let s)?: body["system"] = [["text": .string(s)]]
        case .array(let parts)?:
            body["system"] = .array(
                try ItemMerge.merge(
                    annotated: parts, baseline: b["instructions"]?.arrayValue ?? [],
                    originals: b["instructions"]?.arrayValue == nil ? nil : body["system"]?.arrayValue,
                    fresh: encodeBlock))
        default:
            throw invalid("invalid instructions: expected a string or an array of parts")
        }
    }

    static func encodeParams(_ a: JSONObject, _ b: JSONObject, body: inout JSONObject) throws(RelayError) {
        let ap = try RequestCodecCore.params(a)
        let bp = b["params"]?.objectValue ?? JSONObject()
        let hadConfig = body["inferenceConfig"]?.objectValue != nil
        var c = body["inferenceConfig"]?.objectValue ?? JSONObject()
        for (key, target) in [("temperature", "temperature"), ("top_p", "topP")]
        where RequestCodecCore.changed(ap[key], bp[key]) {
            if let v = ap.value(key) {
                guard let d = v.doubleValue else { throw invalid("invalid params: \(key) must be a number") }
                c[target] = .double(d)
            } else {
                c.removeValue(forKey: target)
            }
        }
        if let v = try RequestCodecCore.changedMaxTokens(ap, bp) { RequestCodecCore.write(&c, "maxTokens", v) }
        if RequestCodecCore.changed(ap["stop"], bp["stop"]) {
            let stop = try RequestCodecCore.stopList(ap["stop"])
            RequestCodecCore.write(&c, "stopSequences", stop.map { .array($0.map(JSON.string)) })
        }
        if c.isEmpty && !hadConfig { return }
        body["inferenceConfig"] = .object(c)
    }

    /// Writes changed tools and tool choice into `toolConfig` (removed when it ends up empty).
    static func encodeToolConfig(_ a: JSONObject, _ b: JSONObject, body: inout JSONObject) throws(RelayError) {
        let toolsChanged = RequestCodecCore.changed(a["tools"], b["tools"])
        let choiceChanged = RequestCodecCore.changed(a["tool_choice"], b["tool_choice"])
        guard toolsChanged || choiceChanged else { return }
        var config = body["toolConfig"]?.objectValue ?? JSONObject()
        if toolsChanged {
            if let merged = try RequestCodecCore.mergedArray(
                annotated: a["tools"], baseline: b["tools"], original: config["tools"], what: "tools", fresh: encodeTool
            ) {
                RequestCodecCore.write(&config, "tools", merged)
            }
        }
        if choiceChanged {
            if let c = a.value("tool_choice") {
                switch try AnnotatedToolChoice.parse(c, for: surface) {
                case .mode("auto"): config["toolChoice"] = ["auto": [:]]
                case .mode("required"): config["toolChoice"] = ["any": [:]]
                case .mode:
                    // Converse has no "none" choice: no tool may be called when no tool is offered.
                    throw invalid("tool_choice none cannot be encoded for Bedrock Converse; remove the tools instead")
                case .function(let n): config["toolChoice"] = ["tool": ["name": .string(n)]]
                case .native(let v): config["toolChoice"] = v
                }
            } else {
                config.removeValue(forKey: "toolChoice")
            }
        }
        if config.isEmpty { body.removeValue(forKey: "toolConfig") } else { body["toolConfig"] = .object(config) }
    }

    static func encodeTool(_ t: JSON) throws(RelayError) -> JSON {
        try FunctionToolParts.encode(t, for: surface) { parts in
            var spec = JSONObject(minimumCapacity: 3 + parts.functionExtras.count)
            spec["name"] = .string(parts.name)
            if let d = parts.description { spec["description"] = d }
            spec["inputSchema"] = ["json": parts.parameters ?? ["type": "object"]]
            parts.functionExtras.forEach { k, v in spec[k] = v }
            return ["toolSpec": .object(spec)]
        }
    }

    // MARK: Response decode

    /// Decodes a Converse response into the annotated response.
    public func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        try Self.decodeResponseValue(response)
    }

    static let responseKeys: Set<String> = [
        "output", "stopReason", "usage", "metrics", "additionalModelResponseFields", "trace", "performanceConfig",
        "serviceTier",
    ]

    static func decodeResponseValue(_ response: JSON) throws(RelayError) -> JSON {
        let r = ResponseReader(surface: surface, strict: true)
        let o = try r.root(response, structName: "ConverseResponse")
        var out = JSONObject(minimumCapacity: 8)
        var api = JSONObject(minimumCapacity: 8)
        api["api"] = .string(surface.api)
        if let output = try r.object(o, "output", structName: "ConverseOutput"),
            let message = try r.object(output, "message", structName: "Message")
        {
            if let role = try r.string(message, "role") { api["role"] = .string(role) }
            if let blocks = try r.array(message, "content") {
                api["content_blocks"] = .array(blocks)
                var texts: [String] = []
                var calls: [JSON] = []
                for b in blocks {
                    if case .string(let t)? = b["text"] { texts.append(t) }
                    if case .object(let use)? = b["toolUse"] {
                        guard case .string(let id)? = use["toolUseId"], case .string(let name)? = use["name"] else {
                            throw r.fail("toolUse needs toolUseId and name")
                        }
                        calls.append(["id": .string(id), "name": .string(name), "arguments": use["input"] ?? [:]])
                    }
                }
                if !texts.isEmpty { out["message"] = .string(texts.joined(separator: "\n")) }
                if !calls.isEmpty { out["tool_calls"] = .array(calls) }
            }
        }
        if let reason = try r.string(o, "stopReason") {
            out["finish_reason"] = FinishReason.bedrock(reason)
            api["stop_reason"] = .string(reason)
        }
        if let u = try r.object(o, "usage", structName: "TokenUsage"),
            let usage = try UsageNormalizer.bedrock(u, r).json()
        {
            out["usage"] = usage
        }
        for (key, name) in [
            ("metrics", "metrics"), ("additionalModelResponseFields", "additional_model_response_fields"),
            ("trace", "trace"), ("performanceConfig", "performance_config"), ("serviceTier", "service_tier"),
        ] {
            if let v = o.value(key) { api[name] = v }
        }
        out["api_specific"] = .object(api)
        o.forEach { k, v in
            if !responseKeys.contains(k) { out[k] = v }
        }
        return .object(out)
    }
}
