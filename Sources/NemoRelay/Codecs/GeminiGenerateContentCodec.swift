// SPDX-License-Identifier: Apache-2.0

/// The Gemini generateContent codec (`gemini_generate_content`): request decode/encode and response decode.
///
/// The mapping decisions are documented in docs/codecs.md, "Gemini generateContent".
public struct GeminiGenerateContentCodec: SynchronousLLMCodec {
    /// Creates the codec.
    public init() {}

    /// The codec id, `gemini_generate_content`.
    public var id: String { "gemini_generate_content" }

    static let surface = CodecSurface.gemini
    /// The `provider` of Gemini provider-native items.
    static let provider = "gemini"

    /// Top-level request keys the codec models; every other key is `extra`.
    static let modeledKeys: Set<String> = ["contents", "systemInstruction", "tools", "generationConfig", "model"]
    /// The part keys that carry a part's data; a part holds at most one.
    static let dataKeys = [
        "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult",
    ]
    /// Annotated top-level fields generateContent cannot express; changing them fails the encode.
    static let unsupportedFields = [
        "instructions", "tool_choice", "store", "previous_response_id", "truncation", "reasoning", "include", "user",
        "metadata", "service_tier", "parallel_tool_calls", "max_output_tokens", "max_tool_calls", "top_logprobs",
        "stream", "api_specific",
    ]

    static func invalid(_ message: String) -> RelayError { .invalidArgument(message) }

    static func native(_ kind: String, _ value: JSON) -> JSON {
        var o = JSONObject(minimumCapacity: 4)
        o["type"] = "provider_native"
        o["provider"] = .string(provider)
        o["kind"] = .string(kind)
        o["value"] = value
        return .object(o)
    }

    /// Compact JSON text with sorted keys and the reference's number spelling, as the reference stringifies.
    static func stringify(_ v: JSON) -> String {
        String(decoding: v.serialized(sortedKeys: true, doubleSpelling: .reference), as: UTF8.self)
    }

    // MARK: Request decode

    /// Decodes a generateContent request body into the annotated request.
    public func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        .object(try Self.decodeBody(RequestCodecCore.body(request)))
    }

    static func decodeBody(_ body: JSONObject) throws(RelayError) -> JSONObject {
        var messages: [JSON] = []
        if let si = body["systemInstruction"] {
            if let text = try systemText(si) { messages.append(["role": "system", "content": .string(text)]) }
        }
        guard let contents = body["contents"] else { throw invalid("Gemini request is missing contents") }
        guard case .array(let items) = contents else { throw invalid("Gemini request contents must be an array") }
        messages.reserveCapacity(messages.count + items.count)
        for item in items { messages.append(contentsOf: try decodeContent(item)) }

        var a = JSONObject(minimumCapacity: 6)
        a["messages"] = .array(messages)
        if let model = body["model"] {
            guard case .string = model else { throw invalid("Gemini request 'model' must be a string") }
            a["model"] = model
        }
        if let params = try decodeParams(body["generationConfig"]) { a["params"] = .object(params) }
        if let tools = try decodeTools(body["tools"]) { a["tools"] = .array(tools) }
        body.forEach { k, v in
            if !modeledKeys.contains(k), !annotatedModelKeys.contains(k) { a[k] = v }
        }
        return a
    }

    /// The text of `systemInstruction` (text parts joined by newlines), or nil when it is empty.
    static func systemText(_ si: JSON) throws(RelayError) -> String? {
        guard case .object(let o) = si else { throw invalid("Gemini systemInstruction must be an object") }
        if let role = o["role"], role.stringValue == nil {
            throw invalid("Gemini systemInstruction.role must be a string")
        }
        guard let rawParts = o["parts"] else { throw invalid("Gemini systemInstruction must have a 'parts' field") }
        guard case .array(let parts) = rawParts else {
            throw invalid("Gemini systemInstruction.parts must be an array")
        }
        var texts: [String] = []
        for p in parts {
            guard case .object(let po) = p else {
                throw invalid("Gemini systemInstruction.parts entry must be an object")
            }
            guard try dataKey(po, "systemInstruction") == "text" else {
                throw invalid("Gemini systemInstruction.parts entries must be text parts")
            }
            guard case .string(let t)? = po["text"] else {
                throw invalid("Gemini systemInstruction.parts[].text must be a string")
            }
            texts.append(t)
        }
        let text = texts.joined(separator: "\n")
        return text.isEmpty ? nil : text
    }

    /// The one data key of a part, or nil; more than one is an error.
    static func dataKey(_ part: JSONObject, _ context: String) throws(RelayError) -> String? {
        var first: String?
        for k in part.keys where dataKeys.contains(k) {
            guard first == nil else {
                let found = part.keys.filter { dataKeys.contains($0) }.sorted()
                throw invalid(
                    "Gemini generateContent \(context) part must not contain multiple data fields: "
                        + found.joined(separator: ", "))
            }
            first = k
        }
        return first
    }

    static func isThought(_ part: JSON) -> Bool {
        part["thought"]?.boolValue == true
    }

    /// An optional `id`: absent is nil; present it must be a non-empty string.
    static func optionalID(_ o: JSONObject, _ context: String) throws(RelayError) -> String? {
        guard let v = o["id"] else { return nil }
        guard case .string(let s) = v else { throw invalid("Gemini generateContent \(context).id must be a string") }
        guard !s.isEmpty else { throw invalid("Gemini generateContent \(context).id must be a non-empty string") }
        return s
    }

    /// The annotated messages of one `contents` item (one message, or one tool message per function response).
    static func decodeContent(_ item: JSON) throws(RelayError) -> [JSON] {
        guard case .object(let o) = item else { throw invalid("Gemini contents item must be an object") }
        let role: String
        switch o["role"] {
        case nil: role = "user"
        case .string(let r)?:
            guard r == "user" || r == "model" else {
                throw invalid("Gemini contents item has unsupported role '\(r)'; expected 'user' or 'model'")
            }
            role = r
        default: throw invalid("Gemini contents item 'role' must be a string")
        }
        guard case .array(let parts)? = o["parts"] else {
            throw invalid("Gemini contents item must have an array 'parts' field")
        }
        var responses: [JSONObject] = []
        var calls: [JSONObject] = []
        for p in parts {
            guard case .object(let po) = p else { throw invalid("Gemini parts item must be an object") }
            switch try dataKey(po, "request") {
            case "functionResponse"?:
                guard case .object(let fr)? = po["functionResponse"] else {
                    throw invalid("Gemini functionResponse must be an object")
                }
                guard case .string(let name)? = fr["name"], !name.isEmpty else {
                    throw invalid("Gemini functionResponse is missing a non-empty 'name'")
                }
                guard let response = fr["response"] else {
                    throw invalid("Gemini functionResponse is missing required 'response'")
                }
                guard case .object = response else {
                    throw invalid("Gemini functionResponse.response must be an object")
                }
                if let nested = fr["parts"] {
                    guard case .array(let nestedParts) = nested else {
                        throw invalid("Gemini functionResponse.parts must be an array")
                    }
                    for n in nestedParts { _ = try nestedResponsePartKind(n) }
                }
                _ = try optionalID(fr, "functionResponse")
                responses.append(fr)
            case "functionCall"?:
                guard case .object(let fc)? = po["functionCall"] else {
                    throw invalid("Gemini functionCall must be an object")
                }
                guard case .string(let name)? = fc["name"], !name.isEmpty else {
                    throw invalid("Gemini functionCall is missing a non-empty 'name'")
                }
                if let args = fc["args"], args.objectValue == nil {
                    throw invalid("Gemini functionCall.args must be an object")
                }
                calls.append(fc)
            case "text"?:
                if po["text"]?.stringValue == nil { throw invalid("Gemini parts item 'text' must be a string") }
            default:
                break
            }
        }
        if !responses.isEmpty && !calls.isEmpty {
            throw invalid("Gemini contents item must not contain both functionResponse and functionCall parts")
        }
        if !responses.isEmpty {
            guard role == "user" else {
                throw invalid("Gemini functionResponse parts must be in a 'user' role content item, got '\(role)'")
            }
            for p in parts where p["functionResponse"] == nil && !isThought(p) {
                throw invalid("Gemini contents item must not mix functionResponse with visible/native parts")
            }
            var out: [JSON] = []
            out.reserveCapacity(responses.count)
            for fr in responses {
                let id = try optionalID(fr, "functionResponse") ?? fr["name"]?.stringValue ?? ""
                out.append(["role": "tool", "content": try functionResponseContent(fr), "tool_call_id": .string(id)])
            }
            return out
        }
        if !calls.isEmpty && role != "model" {
            throw invalid("Gemini functionCall parts must be in a 'model' role content item, got '\(role)'")
        }
        let content = try visibleContent(parts, "request")
        let annotatedRole: JSON = role == "model" ? "assistant" : "user"
        if !calls.isEmpty {
            var toolCalls: [JSON] = []
            toolCalls.reserveCapacity(calls.count)
            for fc in calls {
                let name = fc["name"]?.stringValue ?? ""
                let id = try optionalID(fc, "functionCall") ?? name
                let args = stringify(fc["args"] ?? .object(JSONObject()))
                toolCalls.append([
                    "id": .string(id), "type": "function",
                    "function": ["name": .string(name), "arguments": .string(args)],
                ])
            }
            var m = JSONObject(minimumCapacity: 3)
            m["role"] = annotatedRole
            if let content { m["content"] = content }
            m["tool_calls"] = .array(toolCalls)
            return [.object(m)]
        }
        return [.object(JSONObject(distinctKeys: SharedKeys.roleContent, values: [annotatedRole, content ?? ""]))]
    }

    /// The kind of a part nested in `functionResponse.parts`, validated.
    static func nestedResponsePartKind(_ part: JSON) throws(RelayError) -> String {
        guard case .object(let o) = part else {
            throw invalid("Gemini functionResponse.parts entry must be an object")
        }
        let key = try dataKey(o, "functionResponse.parts")
        if key == "functionCall" || key == "functionResponse" {
            throw invalid("Gemini functionResponse.parts must not contain nested functionCall/functionResponse")
        }
        if key == "text", o["text"]?.stringValue == nil {
            throw invalid("Gemini functionResponse.parts[].text must be a string")
        }
        return key ?? "unknown"
    }

    /// A tool message's content: the response as compact JSON text, plus nested parts as provider-native parts.
    static func functionResponseContent(_ fr: JSONObject) throws(RelayError) -> JSON {
        let text = stringify(fr["response"] ?? .null)
        guard let nested = fr["parts"] else { return .string(text) }
        guard case .array(let nestedParts) = nested else {
            throw invalid("Gemini functionResponse.parts must be an array")
        }
        var out: [JSON] = [["type": "text", "text": .string(text)]]
        out.reserveCapacity(nestedParts.count + 1)
        for n in nestedParts { out.append(native(try nestedResponsePartKind(n), n)) }
        return .array(out)
    }

    /// The visible content of `parts`: nil when there is none, joined text when every visible part is a plain
    /// text part, otherwise annotated parts (text parts keep their extra keys, other data as provider-native).
    static func visibleContent(_ parts: [JSON], _ context: String) throws(RelayError) -> JSON? {
        // First pass: validate, and find out whether plain joined text is enough (the common case, which
        // then builds no part objects).
        var texts: [String] = []
        var visible = 0
        var needsParts = false
        for p in parts {
            guard case .object(let o) = p else {
                throw invalid("Gemini generateContent \(context) parts entry must be an object")
            }
            if isThought(p) { continue }
            switch try dataKey(o, context) {
            case "functionCall"?, "functionResponse"?:
                continue
            case "text"?:
                guard case .string(let t)? = o["text"] else {
                    throw invalid("Gemini generateContent \(context) parts[].text must be a string")
                }
                texts.append(t)
                if o.count != 1 { needsParts = true }
            default:
                needsParts = true
            }
            visible += 1
        }
        if visible == 0 { return nil }
        if !needsParts { return .string(texts.joined(separator: "\n")) }
        var out: [JSON] = []
        out.reserveCapacity(visible)
        for p in parts {
            guard case .object(let o) = p, !isThought(p) else { continue }
            switch try dataKey(o, context) {
            case "functionCall"?, "functionResponse"?:
                continue
            case "text"?:
                var tp = JSONObject(minimumCapacity: o.count + 1)
                tp["type"] = "text"
                o.forEach { k, v in tp[k] = v }
                out.append(.object(tp))
            case let key?:
                out.append(native(key, p))
            case nil:
                out.append(native("unknown", p))
            }
        }
        return .array(out)
    }

    static func decodeParams(_ config: JSON?) throws(RelayError) -> JSONObject? {
        guard let config else { return nil }
        guard case .object(let c) = config else { throw invalid("Gemini generationConfig must be an object") }
        var p = JSONObject(minimumCapacity: 4)
        if let t = c["temperature"] {
            guard let d = t.doubleValue else { throw invalid("Gemini temperature must be a number") }
            p["temperature"] = .double(d)
        }
        if let m = c["maxOutputTokens"] {
            guard m.isNonNegativeInteger else { throw invalid("Gemini maxOutputTokens must be a non-negative integer") }
            p["max_tokens"] = m
        }
        if let t = c["topP"] {
            guard let d = t.doubleValue else { throw invalid("Gemini topP must be a number") }
            p["top_p"] = .double(d)
        }
        if let s = c["stopSequences"] {
            guard case .array(let entries) = s, entries.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid("Gemini stopSequences must be an array of strings")
            }
            p["stop"] = s
        }
        return p.isEmpty ? nil : p
    }

    static let declarationModeledKeys: Set<String> = ["name", "description", "parameters"]

    /// Annotated tools: one function tool per declaration, the other members of each group provider-native.
    static func decodeTools(_ tools: JSON?) throws(RelayError) -> [JSON]? {
        guard let tools else { return nil }
        guard case .array(let groups) = tools else { throw invalid("Gemini tools must be an array") }
        var out: [JSON] = []
        for g in groups {
            guard case .object(let go) = g else { throw invalid("Gemini tools[] entry must be an object") }
            guard let fds = go["functionDeclarations"] else {
                out.append(native(go.keys.first ?? "unknown", g))
                continue
            }
            guard case .array(let decls) = fds else { throw invalid("Gemini functionDeclarations must be an array") }
            for d in decls { out.append(try decodeDeclaration(d)) }
            var rest = go
            rest.removeValue(forKey: "functionDeclarations")
            if let first = rest.keys.first { out.append(native(first, .object(rest))) }
        }
        return out.isEmpty ? nil : out
    }

    static func decodeDeclaration(_ d: JSON) throws(RelayError) -> JSON {
        guard case .object(let o) = d else { throw invalid("Gemini functionDeclaration entry must be an object") }
        guard case .string(let name)? = o["name"], !name.isEmpty else {
            throw invalid("Gemini functionDeclaration must have a non-empty 'name'")
        }
        if let desc = o["description"], desc.stringValue == nil {
            throw invalid("Gemini functionDeclaration.description must be a string")
        }
        var fx = JSONObject()
        o.forEach { k, v in
            if !declarationModeledKeys.contains(k) { fx[k] = v }
        }
        return FunctionToolParts(
            name: name, description: o["description"], parameters: o.value("parameters"), strict: nil,
            functionExtras: fx, wrapperExtras: JSONObject()
        ).annotation
    }

    // MARK: Request encode

    /// Merges an edited annotation back onto the original generateContent request.
    public func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        guard case .object(let a) = annotated else { throw Self.invalid("annotated request must be an object") }
        var body = try RequestCodecCore.body(original)
        let b = try Self.decodeBody(body)
        for key in Self.unsupportedFields where RequestCodecCore.changed(a[key], b[key]) {
            throw Self.invalid(
                "Gemini encoder: field '\(key)' is not representable in the Gemini generateContent API; "
                    + "use a provider-native extra field instead")
        }
        let messages = try RequestCodecCore.annotatedMessages(a)
        let baseMessages = b["messages"]?.arrayValue ?? []
        try Self.encodeMessages(messages, baseline: baseMessages, body: &body)
        if RequestCodecCore.changed(a["params"], b["params"]) {
            try Self.encodeParams(try RequestCodecCore.params(a), body: &body)
        }
        if RequestCodecCore.changed(a["tools"], b["tools"]) {
            try Self.encodeTools(a.value("tools"), body: &body)
        }
        if RequestCodecCore.changed(a["model"], b["model"]) {
            let m = a.value("model")
            if let m, m.stringValue == nil { throw Self.invalid("invalid model: expected a string") }
            RequestCodecCore.write(&body, "model", m)
        }
        Self.encodeExtras(annotated: a, baseline: b, modeled: annotatedModelKeys, body: &body)
        return LLMRequest(headers: original.headers, content: .object(body))
    }

    /// Writes the `extra` channel back: keys dropped from the annotation are deleted, new or changed ones set.
    static func encodeExtras(
        annotated a: JSONObject, baseline b: JSONObject, modeled: Set<String>, body: inout JSONObject
    ) {
        b.forEach { k, _ in
            if !modeled.contains(k), !a.contains(k) { body.removeValue(forKey: k) }
        }
        a.forEach { k, v in
            if !modeled.contains(k), b[k] != v { body[k] = v }
        }
    }

    static func role(_ m: JSON) -> String? { m["role"]?.stringValue }

    static func encodeMessages(_ messages: [JSON], baseline: [JSON], body: inout JSONObject) throws(RelayError) {
        for m in messages {
            guard case .object(let o) = m else { throw invalid("invalid messages: message must be an object") }
            let r = try messageRole(o)
            if o.value("name") != nil {
                throw invalid("Gemini encoder: \(r) message name is not representable")
            }
        }
        let annSystem = messages.filter { role($0) == "system" }
        let baseSystem = baseline.filter { role($0) == "system" }
        if annSystem != baseSystem { try encodeSystem(annSystem, body: &body) }
        let ann = messages.filter { role($0) != "system" }
        let base = baseline.filter { role($0) != "system" }
        try encodeContents(ann, baseline: base, names: callNames(messages), body: &body)
    }

    /// Tool call id → function name over the annotated assistant messages.
    static func callNames(_ messages: [JSON]) -> [String: String] {
        var names: [String: String] = [:]
        for m in messages {
            guard case .array(let calls)? = m["tool_calls"] else { continue }
            for c in calls {
                if case .string(let id)? = c["id"], case .string(let name)? = c["function"]?["name"] {
                    names[id] = name
                }
            }
        }
        return names
    }

    /// The plain text of annotated content: a string, or its text parts joined by newlines.
    static func contentText(_ content: JSON?) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            var texts: [String] = []
            for p in parts {
                let type = p["type"]
                if type == nil || type?.stringValue == "text", case .string(let t)? = p["text"] { texts.append(t) }
            }
            return texts.joined(separator: "\n")
        default: return ""
        }
    }

    static func encodeSystem(_ system: [JSON], body: inout JSONObject) throws(RelayError) {
        var texts: [String] = []
        for m in system {
            if case .array(let parts)? = m["content"] {
                for p in parts {
                    guard case .object(let po) = p else {
                        throw invalid("Gemini encoder: normalized content parts must be objects")
                    }
                    let type = po["type"]?.stringValue ?? "text"
                    guard type == "text" else {
                        throw invalid(
                            "Gemini encoder: normalized content part type '\(type)' cannot be encoded into a Gemini "
                                + "text part; use a provider-native extra field for non-text content")
                    }
                    guard po["text"]?.stringValue != nil else {
                        throw invalid("Gemini encoder: text content part must have string 'text'")
                    }
                }
            }
            let t = contentText(m["content"])
            if !t.isEmpty { texts.append(t) }
        }
        guard !texts.isEmpty else {
            body.removeValue(forKey: "systemInstruction")
            return
        }
        var si = body["systemInstruction"]?.objectValue ?? JSONObject()
        let parts = si["parts"]?.arrayValue ?? []
        let textCount = parts.count { !isThought($0) && $0["text"] != nil }
        if textCount > 1 || parts.contains(where: { !isThought($0) && $0["text"] == nil }) {
            throw invalid(
                "Gemini systemInstruction with multiple text parts or non-text parts cannot be edited via the "
                    + "normalized layer; edit the raw provider payload directly")
        }
        let text = JSON.string(texts.joined(separator: "\n"))
        var out: [JSON] = []
        var placed = false
        for p in parts {
            if isThought(p) {
                out.append(p)
            } else if case .object(var po) = p, !placed {
                po["text"] = text
                out.append(.object(po))
                placed = true
            }
        }
        if !placed { out.append(["text": text]) }
        si["parts"] = .array(out)
        body["systemInstruction"] = .object(si)
    }

    /// Rewrites `contents` for changed non-system messages (``GroupedMessageMerge``): unchanged content items
    /// are kept as they were, edited ones are patched onto their original item, new messages are encoded fresh.
    static func encodeContents(
        _ ann: [JSON], baseline base: [JSON], names: [String: String], body: inout JSONObject
    ) throws(RelayError) {
        let merge = GroupedMessageMerge(
            turnSize: turnSize,
            patch: { (original, run, baseRun) throws(RelayError) -> [JSON] in
                try patchContent(original, run: run, baseRun: baseRun, names: names)
            },
            fresh: { (m: JSON) throws(RelayError) -> JSON? in try freshContent(m, names: names) })
        let originals = body["contents"]?.arrayValue ?? []
        guard let turns = try merge.merge(annotated: ann, baseline: base, originals: originals) else { return }
        body["contents"] = .array(turns.map(\.value))
    }

    /// The number of messages a (valid) content item decodes to: one per function response, else one.
    static func turnSize(_ item: JSON) -> Int {
        guard case .array(let parts)? = item["parts"] else { return 1 }
        return max(1, parts.count { $0["functionResponse"] != nil })
    }

    /// Applies an edited run of messages to its original content item (the reference's edit semantics):
    /// the item takes the run's role; tool messages rewrite the function responses with their call ids
    /// (other members of each response kept, responses of call ids no longer in the run dropped, new ones
    /// appended); otherwise the visible parts are replaced in place (a text part keeps its other members
    /// when the content is plain text), thought and function-response parts stay, and function calls are
    /// matched to the original calls by id, else by name, so their part members (`thoughtSignature`) stay.
    static func patchContent(
        _ original: JSON, run: [JSON], baseRun: [JSON], names: [String: String]
    ) throws(RelayError) -> [JSON] {
        guard case .object(let item) = original, case .array(let parts)? = item["parts"] else {
            var out: [JSON] = []
            for m in run { if let c = try freshContent(m, names: names) { out.append(c) } }
            return out
        }
        guard let m = run.first else { return [] }
        let originalRole = item["role"]?.stringValue ?? "user"
        let role = m["role"]?.stringValue ?? originalRole
        let geminiRole: String
        switch role {
        case "assistant": geminiRole = "model"
        case "user", "tool": geminiRole = "user"
        default:
            throw invalid(
                "Gemini encoder: role '\(role)' has no Gemini equivalent (only 'user' and 'assistant' are supported)")
        }
        let newParts =
            role == "tool"
            ? try patchedResponses(parts, run, names: names) : try patchedVisibleParts(parts, m, role: role)
        return [["role": .string(geminiRole), "parts": .array(newParts)]]
    }

    /// The parts of an edited function-response item.
    static func patchedResponses(_ parts: [JSON], _ run: [JSON], names: [String: String]) throws(RelayError) -> [JSON] {
        var updates: [String: (JSON, [JSON]?)] = [:]
        var order: [String] = []
        for m in run {
            let id = try toolCallID(m)
            guard updates[id] == nil else {
                throw invalid("Gemini encoder: duplicate Message::Tool tool_call_id '\(id)'")
            }
            updates[id] = try responsePayload(m["content"])
            order.append(id)
        }
        let known = Set(order)
        var out: [JSON] = []
        out.reserveCapacity(parts.count + run.count)
        for p in parts {
            guard case .object(let fr)? = p["functionResponse"],
                let id = fr["id"]?.stringValue ?? fr["name"]?.stringValue
            else {
                out.append(p)
                continue
            }
            guard known.contains(id) else { continue }
            guard let (response, nested) = updates.removeValue(forKey: id) else {
                out.append(p)
                continue
            }
            out.append(responsePart(id: id, name: fr["name"]?.stringValue ?? id, response, nested, original: fr))
        }
        for id in order {
            guard let (response, nested) = updates.removeValue(forKey: id) else { continue }
            out.append(responsePart(id: id, name: names[id] ?? id, response, nested, original: nil))
        }
        return out
    }

    /// A `functionResponse` part: the original response's members with `id`, `name`, `response` (and
    /// `parts`, when the content had parts) written.
    static func responsePart(id: String, name: String, _ response: JSON, _ nested: [JSON]?, original: JSONObject?)
        -> JSON
    {
        var fr = original ?? JSONObject(minimumCapacity: 4)
        fr["id"] = .string(id)
        fr["name"] = .string(name)
        fr["response"] = response
        if let nested { fr["parts"] = .array(nested) }
        return ["functionResponse": .object(fr)]
    }

    /// The parts of an edited user or model item.
    static func patchedVisibleParts(_ parts: [JSON], _ m: JSON, role: String) throws(RelayError) -> [JSON] {
        let content = m["content"]?.nonNull
        let partsForm = content?.arrayValue != nil
        var visible = try encodeParts(content)[...]
        // Function calls, matched to the original ones by id, else by name among those without an id.
        var calls: [JSON] = []
        if role == "assistant", case .array(let toolCalls)? = m["tool_calls"] {
            var consumed = Set<Int>()
            for c in toolCalls {
                var fc = try functionCall(c)
                let name = fc["name"]?.stringValue ?? ""
                let id = fc["id"]?.stringValue
                var match: Int?
                if let id {
                    match = parts.indices.first { i in
                        !consumed.contains(i) && parts[i]["functionCall"]?["id"]?.stringValue == id
                    }
                }
                if match == nil {
                    match = parts.indices.first { i in
                        guard !consumed.contains(i), case .object(let o)? = parts[i]["functionCall"] else {
                            return false
                        }
                        return o["id"] == nil && o["name"]?.stringValue == name
                    }
                }
                guard let i = match, case .object(var part) = parts[i] else {
                    calls.append(["functionCall": .object(fc)])
                    continue
                }
                consumed.insert(i)
                if parts[i]["functionCall"]?["id"] == nil, id == name { fc.removeValue(forKey: "id") }
                part["functionCall"] = .object(fc)
                calls.append(.object(part))
            }
        }
        var out: [JSON] = []
        out.reserveCapacity(parts.count + visible.count + calls.count)
        var nextCall = 0
        var contentEmitted = false
        for p in parts {
            if p["functionCall"] != nil {
                if nextCall < calls.count {
                    out.append(calls[nextCall])
                    nextCall += 1
                }
            } else if !isThought(p) && p["functionResponse"] == nil {
                if let replacement = visible.popFirst() {
                    if !partsForm, case .object(var o) = p, o["text"] != nil, let text = replacement["text"] {
                        o["text"] = text
                        out.append(.object(o))
                    } else {
                        out.append(replacement)
                    }
                    contentEmitted = true
                } else if !partsForm && (p["text"] == nil || p["thoughtSignature"] != nil) {
                    out.append(p)
                }
            } else {
                out.append(p)
            }
        }
        if !contentEmitted {
            out.insert(contentsOf: visible, at: 0)
        } else {
            out.append(contentsOf: visible)
        }
        if nextCall < calls.count { out.append(contentsOf: calls[nextCall...]) }
        if out.isEmpty { out.append(["text": ""]) }
        return out
    }

    /// A content item encoded from one annotated message alone (nil for system messages).
    static func freshContent(_ m: JSON, names: [String: String]) throws(RelayError) -> JSON? {
        guard case .object(let o) = m else { throw invalid("invalid messages: message must be an object") }
        let r = try messageRole(o)
        switch r {
        case "system":
            return nil
        case "tool":
            return ["role": "user", "parts": [["functionResponse": .object(try freshResponse(m, names: names))]]]
        case "user", "assistant":
            var parts = try encodeParts(o["content"])
            // Only assistant messages carry tool calls (a user message's are not part of the annotated model).
            if r == "assistant", case .array(let calls)? = o["tool_calls"] {
                for c in calls { parts.append(["functionCall": .object(try functionCall(c))]) }
            }
            if parts.isEmpty { parts.append(["text": ""]) }
            return ["role": r == "assistant" ? "model" : "user", "parts": .array(parts)]
        default:
            throw invalid(
                "Gemini encoder: role '\(r)' has no Gemini equivalent (only 'user' and 'assistant' are supported)")
        }
    }

    /// The `tool_call_id` of a tool message, validated.
    static func toolCallID(_ m: JSON) throws(RelayError) -> String {
        switch m["tool_call_id"] {
        case .string(let s)? where !s.isEmpty: return s
        case .string?: throw invalid("Gemini encoder: Message::Tool has an empty tool_call_id")
        case nil: throw invalid("Gemini encoder: tool message has no tool_call_id")
        default: throw invalid("Gemini encoder: Message::Tool tool_call_id must be a string")
        }
    }

    static func freshResponse(_ m: JSON, names: [String: String]) throws(RelayError) -> JSONObject {
        let id = try toolCallID(m)
        let (response, nested) = try responsePayload(m["content"])
        var fr = JSONObject(minimumCapacity: 4)
        fr["id"] = .string(id)
        fr["name"] = .string(names[id] ?? id)
        fr["response"] = response
        if let nested { fr["parts"] = .array(nested) }
        return fr
    }

    /// `functionResponse.response` (an object) and `parts` from annotated tool content.
    static func responsePayload(_ content: JSON?) throws(RelayError) -> (JSON, [JSON]?) {
        func object(_ text: String) -> JSON {
            guard let v = try? JSON.parse(text) else { return ["output": .string(text)] }
            if case .object = v { return v }
            return ["output": v]
        }
        switch content {
        case nil, .null?: return (object(""), nil)
        case .string(let s)?: return (object(s), nil)
        case .array(let parts)?:
            var texts: [String] = []
            var nested: [JSON] = []
            for p in parts {
                guard case .object(let po) = p else {
                    throw invalid("Gemini encoder: normalized tool content parts must be objects")
                }
                let type = po["type"]?.stringValue ?? "text"
                switch type {
                case "text":
                    guard case .string(let t)? = po["text"] else {
                        throw invalid("Gemini encoder: text content part must have string 'text'")
                    }
                    texts.append(t)
                case "provider_native":
                    let v = try nativePartValue(po)
                    _ = try nestedResponsePartKind(v)
                    nested.append(v)
                default:
                    throw invalid(
                        "Gemini encoder: normalized tool content part type '\(type)' cannot be encoded into "
                            + "functionResponse.parts")
                }
            }
            return (object(texts.joined(separator: "\n")), nested)
        default:
            throw invalid("Gemini encoder: message content must be a string, null, or array")
        }
    }

    /// Gemini parts for annotated user/assistant content.
    static func encodeParts(_ content: JSON?) throws(RelayError) -> [JSON] {
        switch content {
        case nil, .null?: return []
        case .string(let s)?: return s.isEmpty ? [] : [["text": .string(s)]]
        case .array(let parts)?:
            var out: [JSON] = []
            out.reserveCapacity(parts.count)
            for p in parts {
                guard case .object(let po) = p else {
                    throw invalid("Gemini encoder: content parts must be objects")
                }
                let type = po["type"]?.stringValue ?? "text"
                switch type {
                case "text":
                    guard case .string = po["text"] else {
                        throw invalid("Gemini encoder: text content part must have string 'text'")
                    }
                    var r = JSONObject(minimumCapacity: po.count)
                    po.forEach { k, v in
                        if k != "type" { r[k] = v }
                    }
                    out.append(.object(r))
                case "provider_native":
                    out.append(try nativePartValue(po))
                default:
                    throw invalid(
                        "Gemini encoder: normalized content part type '\(type)' cannot be encoded into Gemini content")
                }
            }
            return out
        default:
            throw invalid("Gemini encoder: message content must be a string, null, or array")
        }
    }

    /// The Gemini part held by an annotated provider-native part, validated.
    static func nativePartValue(_ o: JSONObject) throws(RelayError) -> JSON {
        guard case .string(let p)? = o["provider"] else {
            throw invalid("Gemini encoder: provider_native provider must be a string")
        }
        guard p == provider else {
            throw invalid(
                "Gemini encoder: provider_native content part for provider '\(p)' cannot be encoded by the Gemini "
                    + "generateContent codec")
        }
        guard case .string(let kind)? = o["kind"], !kind.isEmpty else {
            throw invalid("Gemini encoder: provider_native kind must be a non-empty string")
        }
        guard let v = o["value"] else {
            throw invalid("Gemini encoder: provider_native content part is missing 'value'")
        }
        guard case .object(let vo) = v else { throw invalid("Gemini encoder: provider_native value must be an object") }
        let key = try dataKey(vo, "provider_native")
        if key == "functionCall" || key == "functionResponse" {
            throw invalid(
                "Gemini encoder: provider_native content parts must not encode functionCall or functionResponse; "
                    + "use tool_calls or tool messages")
        }
        if key == "text", vo["text"]?.stringValue == nil {
            throw invalid("Gemini encoder: provider_native text part must have string 'text'")
        }
        return v
    }

    /// The `functionCall` object of an annotated tool call.
    static func functionCall(_ c: JSON) throws(RelayError) -> JSONObject {
        guard case .string(let name)? = c["function"]?["name"], !name.isEmpty else {
            throw invalid("Gemini encoder: tool call is missing a non-empty function name")
        }
        var fc = JSONObject(minimumCapacity: 3)
        fc["name"] = .string(name)
        switch c["id"] {
        case nil, .null?: break
        case .string(let id)? where !id.isEmpty: fc["id"] = .string(id)
        case .string?: throw invalid("Gemini encoder: tool call for '\(name)' has an empty 'id'")
        default: throw invalid("Gemini encoder: tool call for '\(name)' has a non-string 'id'")
        }
        switch c["function"]?["arguments"] {
        case nil, .null?:
            fc["args"] = .object(JSONObject())
        case .string(let s)?:
            guard let v = try? JSON.parse(s) else {
                throw invalid("Gemini encoder: function call '\(name)' has arguments that are not valid JSON: \(s)")
            }
            guard case .object = v else {
                throw invalid("Gemini encoder: function call '\(name)' arguments must be a JSON object")
            }
            fc["args"] = v
        case .object(let o)?:
            fc["args"] = .object(o)
        default:
            throw invalid("Gemini encoder: function call '\(name)' arguments must be a JSON object")
        }
        return fc
    }

    static func encodeParams(_ p: JSONObject, body: inout JSONObject) throws(RelayError) {
        let hadConfig = body["generationConfig"] != nil
        var gc = body["generationConfig"]?.objectValue ?? JSONObject()
        for (key, target) in [("temperature", "temperature"), ("top_p", "topP")] {
            if let v = p.value(key) {
                guard let d = v.doubleValue else { throw invalid("invalid params: \(key) must be a number") }
                gc[target] = .double(d)
            } else {
                gc.removeValue(forKey: target)
            }
        }
        if let m = p.value("max_tokens") {
            guard m.isNonNegativeInteger else {
                throw invalid("invalid params: max_tokens must be a non-negative integer")
            }
            gc["maxOutputTokens"] = m
        } else {
            gc.removeValue(forKey: "maxOutputTokens")
        }
        if let stop = try RequestCodecCore.stopList(p["stop"]) {
            gc["stopSequences"] = .array(stop.map(JSON.string))
        } else {
            gc.removeValue(forKey: "stopSequences")
        }
        if gc.isEmpty && !(hadConfig && body["generationConfig"]?.objectValue?.isEmpty == true) {
            body.removeValue(forKey: "generationConfig")
        } else {
            body["generationConfig"] = .object(gc)
        }
    }

    /// The sorted non-declaration keys of a tool group.
    static func groupKeys(_ g: JSON) -> [String] {
        (g.objectValue?.keys ?? []).filter { $0 != "functionDeclarations" }.sorted()
    }

    /// Writes changed tools back in the original group order: the declarations group gets the annotated
    /// function tools (and its provider-native siblings when they are still annotated), every other group
    /// is replaced by the annotated provider-native tool with the same member names or dropped, and what is
    /// left (a first declarations group, new provider-native tools) is appended.
    static func encodeTools(_ tools: JSON?, body: inout JSONObject) throws(RelayError) {
        var declarations: [JSON] = []
        var natives: [JSON] = []
        switch tools {
        case nil: break
        case .array(let entries)?:
            for t in entries {
                guard let parts = try FunctionToolParts.fromAnnotation(t) else {
                    let o = t.objectValue ?? JSONObject()
                    let p = o["provider"]?.stringValue ?? ""
                    guard p == provider else {
                        let kind = o["kind"]?.stringValue ?? ""
                        throw invalid(
                            "Gemini encoder: ProviderNative tool '\(kind)' (provider '\(p)') cannot be represented "
                                + "on the Gemini surface")
                    }
                    guard case .object(let v)? = o["value"] else {
                        throw invalid("Gemini encoder: ProviderNative tool value must be an object")
                    }
                    if v["functionDeclarations"] != nil {
                        throw invalid(
                            "Gemini encoder: ProviderNative tool value must not contain functionDeclarations; use "
                                + "ToolDefinition::Function instead")
                    }
                    natives.append(.object(v))
                    continue
                }
                if parts.strict != nil {
                    throw invalid(
                        "Gemini encoder: FunctionDefinition.strict is not supported; remove it or use a "
                            + "provider-native extra field")
                }
                var d = parts.functionExtras
                d["name"] = .string(parts.name)
                if let desc = parts.description { d["description"] = desc }
                if let params = parts.parameters { d["parameters"] = params }
                declarations.append(.object(d))
            }
        default:
            throw invalid("invalid tools: expected an array")
        }
        let groups = body["tools"]?.arrayValue ?? []
        let declarationGroups = groups.count { $0["functionDeclarations"] != nil }
        if declarationGroups > 1 {
            throw invalid(
                "Gemini encoder: the original request has \(declarationGroups) functionDeclarations groups; "
                    + "editing tools with multiple groups is not supported because the decode path flattens them "
                    + "and grouping cannot be recovered. Use provider-native extra fields to manage multi-group tools.")
        }
        var used = [Bool](repeating: false, count: natives.count)
        func takeNative(_ keys: [String]) -> JSONObject? {
            for i in natives.indices where !used[i] && groupKeys(natives[i]) == keys {
                used[i] = true
                return natives[i].objectValue
            }
            return nil
        }
        var out: [JSON] = []
        var declarationsPlaced = false
        for g in groups {
            if g["functionDeclarations"] != nil {
                var group = JSONObject()
                if !declarations.isEmpty { group["functionDeclarations"] = .array(declarations) }
                let siblings = groupKeys(g)
                if !siblings.isEmpty, let native = takeNative(siblings) { native.forEach { k, v in group[k] = v } }
                if !group.isEmpty { out.append(.object(group)) }
                declarationsPlaced = true
            } else if let native = takeNative(groupKeys(g)) {
                out.append(.object(native))
            }
        }
        if !declarationsPlaced && !declarations.isEmpty { out.append(["functionDeclarations": .array(declarations)]) }
        for i in natives.indices where !used[i] { out.append(natives[i]) }
        if out.isEmpty { body.removeValue(forKey: "tools") } else { body["tools"] = .array(out) }
    }

    // MARK: Response decode

    /// Decodes a generateContent response (or one streamed chunk of it) into the annotated response.
    public func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        try Self.decodeResponseValue(response)
    }

    static let responseKeys: Set<String> = ["candidates", "usageMetadata", "modelVersion", "responseId"]

    static func decodeResponseValue(_ response: JSON) throws(RelayError) -> JSON {
        let r = ResponseReader(surface: surface, strict: true)
        let o = try r.root(response, structName: "RawGeminiGenerateContentResponse")
        var out = JSONObject(minimumCapacity: 8)
        // Every candidate must have the candidate shape, as the reference deserializes them all; the first
        // one is decoded.
        var candidate: JSONObject?
        for (i, c) in (try r.array(o, "candidates") ?? []).enumerated() {
            guard let co = try r.object(c, structName: "RawCandidate") else { continue }
            if let content = try r.object(co, "content", structName: "RawContent") { _ = try r.array(content, "parts") }
            _ = try r.string(co, "finishReason")
            if i == 0 { candidate = co }
        }
        var toolCalls: [JSON] = []
        var message: JSON?
        var finishRaw: String?
        if let c = candidate {
            if let content = try r.object(c, "content", structName: "RawContent"),
                let parts = try r.array(content, "parts")
            {
                for p in parts where p["functionResponse"] != nil {
                    throw invalid("Gemini response parts must not contain functionResponse")
                }
                message = try visibleContent(parts, "response")
                toolCalls = try responseToolCalls(parts)
            }
            finishRaw = try r.string(c, "finishReason")
        }
        // Prompt feedback is validated before the finish reason is chosen.
        var blockReason: String?
        if let feedback = o["promptFeedback"] {
            guard case .object(let f) = feedback else {
                throw invalid("Gemini response promptFeedback must be an object")
            }
            if let b = f["blockReason"] {
                guard case .string(let s) = b else {
                    throw invalid("Gemini response promptFeedback.blockReason must be a string")
                }
                blockReason = s
            }
        }
        let model = try r.string(o, "modelVersion")
        let id = try r.string(o, "responseId")
        var thoughts: UInt64?
        var usage: JSON?
        if let u = try r.object(o, "usageMetadata", structName: "RawUsageMetadata") {
            let n = try UsageNormalizer.gemini(u, r)
            thoughts = n.thoughts
            usage = n.usage.json() ?? .object(JSONObject())
        }
        if let id { out["id"] = .string(id) }
        if let model { out["model"] = .string(model) }
        if let message { out["message"] = message }
        if !toolCalls.isEmpty { out["tool_calls"] = .array(toolCalls) }
        if let f = candidate.flatMap({ _ in FinishReason.gemini(finishRaw, hasToolCalls: !toolCalls.isEmpty) })
            ?? FinishReason.geminiBlock(blockReason)
        {
            out["finish_reason"] = f
        }
        if let usage { out["usage"] = usage }
        var extras = JSONObject()
        candidate?.forEach { k, v in
            if k != "content", k != "finishReason", k != "api" { extras[k] = v }
        }
        if !extras.isEmpty || thoughts != nil {
            var api = JSONObject(minimumCapacity: extras.count + 2)
            api["api"] = .string(surface.api)
            if let thoughts { api["thoughts_tokens"] = NormalizedUsage.number(thoughts) }
            for (key, name) in [
                ("safetyRatings", "safety_ratings"), ("groundingMetadata", "grounding_metadata"),
                ("citationMetadata", "citation_metadata"),
            ] {
                if let v = extras.removeValue(forKey: key) { api[name] = v }
            }
            extras.forEach { k, v in api[k] = v }
            out["api_specific"] = .object(api)
        }
        o.forEach { k, v in
            if !responseKeys.contains(k) { out[k] = v }
        }
        return .object(out)
    }

    static func responseToolCalls(_ parts: [JSON]) throws(RelayError) -> [JSON] {
        var calls: [JSON] = []
        for p in parts {
            guard let fcValue = p["functionCall"] else { continue }
            guard case .object(let fc) = fcValue else {
                throw invalid("Gemini response functionCall must be an object")
            }
            let name: String
            switch fc["name"] {
            case .string(let s)? where !s.isEmpty: name = s
            case .string?: throw invalid("Gemini response functionCall.name must be a non-empty string")
            case nil: throw invalid("Gemini response functionCall is missing 'name'")
            default: throw invalid("Gemini response functionCall.name must be a string")
            }
            let id = try optionalID(fc, "response functionCall") ?? name
            let args: JSON
            switch fc["args"] {
            case nil: args = .object(JSONObject())
            case .object?: args = fc["args"]!
            default: throw invalid("Gemini response functionCall.args must be an object")
            }
            calls.append(["id": .string(id), "name": .string(name), "arguments": args])
        }
        return calls
    }
}
