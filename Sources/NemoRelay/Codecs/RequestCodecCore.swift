// SPDX-License-Identifier: Apache-2.0

/// How the shared decode treats one provider body key.
enum BodyKeyClass: Sendable {
    /// Read by the codec-specific decode.
    case consumed
    /// A common annotated field of this kind, same name.
    case common(FieldKind)
    /// Moved into `api_specific` under this annotation key.
    case api(String)
}

/// What distinguishes one request codec in the shared decode and encode steps.
struct RequestCodecTraits: Sendable {
    /// The provider surface (error names and `api` tag).
    let surface: CodecSurface
    /// Provider-specific keys: annotation key inside `api_specific` and the provider body key.
    let apiKeys: [(annotation: String, body: String)]
    /// Common annotated fields the provider writes under the same top-level name.
    let commonFields: [String]
    /// Annotated fields the provider cannot express; changing them fails the encode.
    let unsupportedFields: [String]
    /// The class of every provider body key that does not go to `extra`.
    let keyClasses: [String: BodyKeyClass]

    init(
        surface: CodecSurface, apiKeys: [(annotation: String, body: String)], commonFields: [String],
        unsupportedFields: [String], consumedBodyKeys: Set<String>
    ) {
        self.surface = surface
        self.apiKeys = apiKeys
        self.commonFields = commonFields
        self.unsupportedFields = unsupportedFields
        var classes: [String: BodyKeyClass] = [:]
        for k in consumedBodyKeys { classes[k] = .consumed }
        for k in commonFields { classes[k] = .common(commonFieldKinds[k] ?? .any) }
        for (annotationKey, bodyKey) in apiKeys { classes[bodyKey] = .api(annotationKey) }
        keyClasses = classes
    }
}

/// The decode and encode steps every built-in request codec shares.
enum RequestCodecCore {
    // MARK: Decode

    /// The provider request body: the request content, which must be an object.
    @inline(__always) static func body(_ request: LLMRequest) throws(RelayError) -> JSONObject {
        guard case .object(let body) = request.content else {
            throw .internalError("request content is not an object")
        }
        return body
    }

    /// Decodes the camelCase sampling parameters OCI GenAI and Bedrock Converse share (`temperature`,
    /// `maxTokens`, `topP`) into `params` as `temperature`, `max_tokens`, `top_p`; `provider` names the
    /// codec in the errors.
    static func decodeCamelSampling(
        _ c: JSONObject, provider: String, into params: inout JSONObject
    ) throws(RelayError) {
        if let t = c.value("temperature") {
            guard let d = t.doubleValue else {
                throw .invalidArgument("\(provider) temperature must be a number or null")
            }
            params["temperature"] = .double(d)
        }
        if let m = c.value("maxTokens") {
            guard m.isNonNegativeInteger else {
                throw .invalidArgument("\(provider) maxTokens must be a non-negative integer or null")
            }
            params["max_tokens"] = m
        }
        if let t = c.value("topP") {
            guard let d = t.doubleValue else { throw .invalidArgument("\(provider) topP must be a number or null") }
            params["top_p"] = .double(d)
        }
    }

    /// Decodes the required `messages` array of `body` item by item.
    @inline(__always) static func decodeMessages(
        _ body: JSONObject, _ surface: CodecSurface, _ decodeMessage: (JSON) throws(RelayError) -> JSON
    ) throws(RelayError) -> [JSON] {
        guard let rawMessages = body.value("messages") else {
            throw .invalidArgument("\(surface.rawValue) request is missing messages")
        }
        guard case .array(let items) = rawMessages else {
            throw .invalidArgument("\(surface.rawValue) messages must be an array")
        }
        var messages: [JSON] = []
        messages.reserveCapacity(items.count)
        for item in items { messages.append(try decodeMessage(item)) }
        return messages
    }

    /// Decodes the optional `tools` array of `body` into `annotation["tools"]`, tool by tool.
    @inline(__always) static func decodeTools(
        _ body: JSONObject, _ surface: CodecSurface, into annotation: inout JSONObject,
        _ decodeTool: (JSON) -> JSON
    ) throws(RelayError) {
        guard let tools = body.value("tools") else { return }
        guard case .array(let entries) = tools else {
            throw .invalidArgument("\(surface.rawValue) tools must be an array or null")
        }
        var out: [JSON] = []
        out.reserveCapacity(entries.count)
        for t in entries { out.append(decodeTool(t)) }
        annotation["tools"] = .array(out)
    }

    /// Reads the common fields, `api_specific` and extras of `body` into `annotation` in one pass.
    static func decodeSharedFields(
        _ body: JSONObject, _ traits: RequestCodecTraits, into annotation: inout JSONObject
    ) throws(RelayError) {
        var api = JSONObject(minimumCapacity: 1)
        api["api"] = .string(traits.surface.api)
        var extras: [(String, JSON)] = []
        let keys = body.keys
        let values = body.values
        for i in keys.indices {
            let k = keys[i]
            let v = values[i]
            switch traits.keyClasses[k] {
            case .consumed?:
                continue
            case .common(let kind)?:
                guard let v = v.nonNull else { continue }
                guard v.matches(kind) else {
                    throw .invalidArgument("\(traits.surface.rawValue) \(k) must be \(kind.phrase)")
                }
                annotation[k] = v
            case .api(let annotationKey)?:
                if let v = v.nonNull { api[annotationKey] = v }
            case nil:
                extras.append((k, v))
            }
        }
        annotation["api_specific"] = .object(api)
        // A body key this codec does not read but spelled like a modeled field (a chat body's own
        // "api_specific" or "params") is not an extra: it would stand for the modeled field, which encode
        // reads with that field's rules. It stays in the body untouched (encode never writes modeled keys).
        for (k, v) in extras where !annotatedModelKeys.contains(k) { annotation[k] = v }
    }

    // MARK: Encode

    /// Parses the annotated request and checks its `api_specific` tag.
    static func annotatedObject(_ annotated: JSON, _ traits: RequestCodecTraits) throws(RelayError) -> JSONObject {
        guard case .object(let a) = annotated else {
            throw .invalidArgument("annotated request must be an object")
        }
        if let api = a.value("api_specific") {
            guard case .object(let apiObject) = api else {
                throw .invalidArgument("invalid api_specific: expected an object")
            }
            guard apiObject["api"]?.stringValue == traits.surface.api else {
                throw .invalidArgument("api_specific provider does not match \(traits.surface.rawValue)")
            }
        }
        return a
    }

    /// Starts an encode: checks the annotation, reads the original body into `body`, decodes it as the
    /// baseline and writes back the shared fields. Returns the annotation and the baseline.
    @inline(__always) static func beginEncode(
        _ annotated: JSON, original: LLMRequest, _ traits: RequestCodecTraits, body: inout JSONObject,
        decodeBody: (JSONObject) throws(RelayError) -> JSONObject
    ) throws(RelayError) -> (annotated: JSONObject, baseline: JSONObject) {
        let a = try annotatedObject(annotated, traits)
        body = try self.body(original)
        let b = try decodeBody(body)
        try encodeSharedFields(annotated: a, baseline: b, body: &body, traits)
        return (a, b)
    }

    /// The annotated and baseline `params`, after writing back a changed `temperature` or `top_p`.
    static func encodeSamplingParams(
        _ a: JSONObject, _ b: JSONObject, body: inout JSONObject
    ) throws(RelayError) -> (annotated: JSONObject, baseline: JSONObject) {
        let ap = try params(a)
        let bp = b["params"]?.objectValue ?? JSONObject()
        for key in ["temperature", "top_p"] where changed(ap[key], bp[key]) {
            let v = ap.value(key)
            if let v, !v.isNumber { throw .invalidArgument("invalid params: \(key) must be a number") }
            write(&body, key, v)
        }
        return (ap, bp)
    }

    /// The annotated `params.max_tokens` when it changed (nil inside when it was removed), validated.
    static func changedMaxTokens(_ ap: JSONObject, _ bp: JSONObject) throws(RelayError) -> JSON?? {
        guard changed(ap["max_tokens"], bp["max_tokens"]) else { return .none }
        let v = ap.value("max_tokens")
        if let v, !v.isNonNegativeInteger {
            throw .invalidArgument("invalid params: max_tokens must be a non-negative integer")
        }
        return .some(v)
    }

    /// Checks the annotated `messages` and writes them back under `key` when they changed.
    @inline(__always) static func encodeMessages(
        _ a: JSONObject, _ b: JSONObject, body: inout JSONObject, key: String, fresh: FreshEncoder
    ) throws(RelayError) {
        _ = try annotatedMessages(a)
        if let merged = try mergedArray(
            annotated: a["messages"], baseline: b["messages"], original: body[key], what: "messages", fresh: fresh)
        {
            body[key] = merged ?? .array([])
        }
    }

    /// Writes the annotated `tools` back when they changed.
    @inline(__always) static func encodeTools(
        _ a: JSONObject, _ b: JSONObject, body: inout JSONObject, fresh: FreshEncoder
    ) throws(RelayError) {
        if let merged = try mergedArray(
            annotated: a["tools"], baseline: b["tools"], original: body["tools"], what: "tools", fresh: fresh)
        {
            write(&body, "tools", merged)
        }
    }

    /// Writes a changed `tool_choice` back: modes as strings, a function choice in the form `function`
    /// builds, provider-native choices unwrapped.
    static func encodeToolChoice(
        _ a: JSONObject, _ b: JSONObject, body: inout JSONObject, _ surface: CodecSurface,
        function: (String) -> JSON
    ) throws(RelayError) {
        guard changed(a["tool_choice"], b["tool_choice"]) else { return }
        if let c = a.value("tool_choice") {
            switch try AnnotatedToolChoice.parse(c, for: surface) {
            case .mode(let m): body["tool_choice"] = .string(m)
            case .function(let n): body["tool_choice"] = function(n)
            case .native(let v): body["tool_choice"] = v
            }
        } else {
            body.removeValue(forKey: "tool_choice")
        }
    }

    /// The annotated `messages` array.
    static func annotatedMessages(_ a: JSONObject) throws(RelayError) -> [JSON] {
        guard let m = a["messages"] else {
            throw .invalidArgument("invalid messages: annotated request is missing messages")
        }
        guard case .array(let items) = m else { throw .invalidArgument("invalid messages: expected an array") }
        return items
    }

    /// The annotated `params` object (absent or null means no params).
    static func params(_ a: JSONObject) throws(RelayError) -> JSONObject {
        guard let p = a.value("params") else { return JSONObject() }
        guard case .object(let o) = p else { throw .invalidArgument("invalid params: expected an object") }
        return o
    }

    /// The annotated `params.stop` as strings (a lone string counts as one entry).
    static func stopList(_ v: JSON?) throws(RelayError) -> [String]? {
        guard let v = v?.nonNull else { return nil }
        switch v {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            out.reserveCapacity(items.count)
            for i in items {
                guard case .string(let s) = i else { throw .invalidArgument("invalid params: stop must hold strings") }
                out.append(s)
            }
            return out
        default: throw .invalidArgument("invalid params: stop must be a string or an array of strings")
        }
    }

    /// True when an annotated member differs from the baseline member (null counts as absent).
    @inline(__always) static func changed(_ a: JSON?, _ b: JSON?) -> Bool {
        a?.nonNull != b?.nonNull
    }

    /// Sets `key` to `value`, or removes it when `value` is nil.
    @inline(__always) static func write(_ body: inout JSONObject, _ key: String, _ value: JSON?) {
        if let value { body[key] = value } else { body.removeValue(forKey: key) }
    }

    /// Writes back the fields every codec handles alike: unsupported-field checks, `model`, common
    /// fields, `api_specific` and `extra`.
    static func encodeSharedFields(
        annotated a: JSONObject, baseline b: JSONObject, body: inout JSONObject, _ traits: RequestCodecTraits
    ) throws(RelayError) {
        for key in traits.unsupportedFields where changed(a[key], b[key]) {
            throw unencodableFields(traits.surface)
        }
        if changed(a["model"], b["model"]) {
            let m = a.value("model")
            if let m, m.stringValue == nil { throw .invalidArgument("invalid model: expected a string") }
            write(&body, "model", m)
        }
        for key in traits.commonFields where changed(a[key], b[key]) {
            let v = a.value(key)
            if let v, let kind = commonFieldKinds[key], !v.matches(kind) {
                throw .invalidArgument("invalid \(key): expected \(kind.phrase)")
            }
            write(&body, key, v)
        }
        // api_specific: absent deletes every provider-specific key; otherwise write changed members.
        let baseApi = b["api_specific"]?.objectValue ?? JSONObject()
        if let annotatedApi = a.value("api_specific")?.objectValue {
            for (annotationKey, bodyKey) in traits.apiKeys
            where changed(annotatedApi[annotationKey], baseApi[annotationKey]) {
                write(&body, bodyKey, annotatedApi.value(annotationKey))
            }
        } else {
            for (_, bodyKey) in traits.apiKeys { body.removeValue(forKey: bodyKey) }
        }
        // extra: delete keys dropped from the annotation, set new or changed ones.
        b.forEach { k, _ in
            if !annotatedModelKeys.contains(k), !a.contains(k) { body.removeValue(forKey: k) }
        }
        a.forEach { k, v in
            if !annotatedModelKeys.contains(k), b[k] != v { body[k] = v }
        }
    }

    /// Rebuilds an item array when the annotation changed it; returns nil when nothing changed.
    static func mergedArray(
        annotated: JSON?, baseline: JSON?, original: JSON?, what: String, fresh: FreshEncoder
    ) throws(RelayError) -> JSON?? {
        let a = annotated?.nonNull
        let b = baseline?.nonNull
        guard let a else { return b == nil ? .none : .some(nil) }
        guard case .array(let items) = a else { throw .invalidArgument("invalid \(what): expected an array") }
        guard case .array(let baseItems)? = b else {
            return .some(.array(try ItemMerge.merge(annotated: items, baseline: [], originals: nil, fresh: fresh)))
        }
        guard
            let merged = try ItemMerge.mergeIfChanged(
                annotated: items, baseline: baseItems, originals: original?.arrayValue, fresh: fresh)
        else { return .none }
        return .some(.array(merged))
    }
}

// MARK: - Tool definitions

/// The pieces of a function tool definition in the annotated model (docs/annotated-request.md, "Tools").
struct FunctionToolParts {
    var name: String
    var description: JSON?
    var parameters: JSON?
    var strict: JSON?
    /// Members of `function` besides the four modeled ones.
    var functionExtras: JSONObject
    /// Members of the wrapper besides `type` and `function`.
    var wrapperExtras: JSONObject

    /// The annotated `{"type":"function","function":{…}, …}` form.
    var annotation: JSON {
        var f = JSONObject(minimumCapacity: 4 + functionExtras.count)
        f["name"] = .string(name)
        if let description { f["description"] = description }
        if let parameters { f["parameters"] = parameters }
        if let strict { f["strict"] = strict }
        functionExtras.forEach { k, v in f[k] = v }
        var o = JSONObject(minimumCapacity: 2 + wrapperExtras.count)
        o["type"] = "function"
        o["function"] = .object(f)
        wrapperExtras.forEach { k, v in o[k] = v }
        return .object(o)
    }

    /// Encodes an annotated tool for `surface`: a function tool in the form `build` makes, a provider-native
    /// tool unwrapped.
    @inline(__always) static func encode(
        _ tool: JSON, for surface: CodecSurface, _ build: (FunctionToolParts) -> JSON
    ) throws(RelayError) -> JSON {
        guard let parts = try fromAnnotation(tool) else {
            return try nativeValue(tool.objectValue ?? JSONObject(), what: "tool", for: surface)
        }
        return build(parts)
    }

    /// The flat provider form: `type` (when given), `name`, `description`, the parameters under
    /// `parametersKey` (or `defaultParameters`), `strict`, then the function and wrapper extras.
    func flat(type: JSON?, parametersKey: String, defaultParameters: JSON?) -> JSON {
        var r = JSONObject(minimumCapacity: 5)
        if let type { r["type"] = type }
        r["name"] = .string(name)
        if let description { r["description"] = description }
        if let p = parameters ?? defaultParameters { r[parametersKey] = p }
        if let strict { r["strict"] = strict }
        functionExtras.forEach { k, v in r[k] = v }
        wrapperExtras.forEach { k, v in r[k] = v }
        return .object(r)
    }

    /// Reads an annotated tool; nil when it is provider-native, an error when it is malformed.
    static func fromAnnotation(_ tool: JSON) throws(RelayError) -> FunctionToolParts? {
        guard case .object(let o) = tool else { throw .invalidArgument("invalid tools: tool must be an object") }
        let type = o["type"]?.stringValue
        if type == "provider_native" { return nil }
        guard type == "function" else { throw .invalidArgument("invalid tools: unknown tool type") }
        guard case .object(let f)? = o["function"], case .string(let name)? = f["name"] else {
            throw .invalidArgument("invalid tools: function tool is missing function.name")
        }
        return FunctionToolParts(name: name, wrapper: o, function: f)
    }
}

extension FunctionToolParts {
    /// The parts of the nested form `{"type":"function","function":{"name":…, …}, …}`, named `name`.
    init(name: String, wrapper o: JSONObject, function f: JSONObject) {
        var fx = JSONObject()
        f.forEach { k, v in
            if k != "name", k != "description", k != "parameters", k != "strict" { fx[k] = v }
        }
        var wx = JSONObject()
        o.forEach { k, v in
            if k != "type", k != "function" { wx[k] = v }
        }
        self.init(
            name: name, description: f.value("description"), parameters: f.value("parameters"),
            strict: f.value("strict"), functionExtras: fx, wrapperExtras: wx)
    }
}

// MARK: - Tool choice

/// The annotated tool choice forms.
enum AnnotatedToolChoice {
    case mode(String)
    case function(String)
    case native(JSON)

    /// Reads an annotated tool choice for `surface`.
    static func parse(_ v: JSON, for surface: CodecSurface) throws(RelayError) -> AnnotatedToolChoice {
        switch v {
        case .string(let s):
            guard s == "auto" || s == "none" || s == "required" else {
                throw .invalidArgument("invalid tool_choice: unknown mode \(s)")
            }
            return .mode(s)
        case .object(let o):
            if o["type"]?.stringValue == "function", case .string(let n)? = o["function"]?["name"] {
                return .function(n)
            }
            if o["kind"] != nil, o["provider"] != nil {
                return .native(try nativeValue(o, what: "tool_choice", for: surface))
            }
            throw .invalidArgument("invalid tool_choice: unrecognised object")
        default:
            throw .invalidArgument("invalid tool_choice: expected a string or an object")
        }
    }

    /// Decodes an OpenAI-style provider tool choice: a mode string as is, an object that `functionName`
    /// reads a function name from as the function annotation, anything else provider-native.
    @inline(__always) static func decodeOpenAI(
        _ v: JSON, _ surface: CodecSurface, functionName: (JSONObject) -> String?
    ) -> JSON {
        switch v {
        case .string(let s) where s == "auto" || s == "none" || s == "required":
            return v
        case .object(let o):
            if let name = functionName(o) { return functionAnnotation(name) }
        default:
            break
        }
        return providerNative(surface, kind: "tool_choice", value: v, tag: nil)
    }

    /// The annotation of a specific function choice.
    static func functionAnnotation(_ name: String) -> JSON {
        ["type": "function", "function": ["name": .string(name)]]
    }
}
