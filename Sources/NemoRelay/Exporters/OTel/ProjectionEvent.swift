// SPDX-License-Identifier: Apache-2.0

/// One ATOF event as the span builder reads it (docs/otel.md, "Input").
///
/// Built from the subscriber JSON of ``Event/serialized()``. Events without a readable `kind`, `uuid` or
/// `timestamp` are skipped; every other field is optional and a field of the wrong type reads as absent, so a
/// malformed event degrades to fewer attributes instead of failing.
struct OTelEvent {
    enum Phase {
        case start
        case end
        case mark
    }

    let phase: Phase
    let uuid: RelayUUID
    /// The canonical lowercase hyphenated uuid.
    let uuidText: String
    let parent: RelayUUID?
    /// The canonical parent uuid, or nil.
    let parentText: String?
    /// Nanoseconds since the Unix epoch.
    let time: Nanoseconds
    let name: String
    /// The ATOF `category` string (scope events always have one; marks may not).
    let category: String?
    let profile: JSONObject?
    /// The payload; nil when absent or null.
    let data: JSON?
    /// The metadata; nil when absent or null.
    let metadata: JSON?
    /// The scope's behavioural flags (`attributes`); nil for marks.
    let handleAttributes: [String]?
    /// `data_schema` as `(name, version)`.
    let dataSchema: (name: String, version: String)?
    /// The canonical `propagation_root_uuid`, or nil.
    let propagationRoot: String?

    init?(_ json: JSON) {
        guard case .object(let o) = json, let uuidText = o["uuid"]?.stringValue, let uuid = RelayUUID(uuidText),
            let time = OTelEvent.time(o["timestamp"])
        else { return nil }
        switch o["kind"]?.stringValue {
        case "scope"?:
            switch o["scope_category"]?.stringValue {
            case "start"?: phase = .start
            case "end"?: phase = .end
            default: return nil
            }
            var flags: [String] = []
            if case .array(let items)? = o["attributes"] {
                flags.reserveCapacity(items.count)
                for case .string(let s) in items { flags.append(s) }
            }
            handleAttributes = flags
        case "mark"?:
            phase = .mark
            handleAttributes = nil
        default:
            return nil
        }
        self.uuid = uuid
        self.uuidText = uuid.description
        let parent = o["parent_uuid"]?.stringValue.flatMap(RelayUUID.init)
        self.parent = parent
        parentText = parent?.description
        self.time = time
        name = o["name"]?.stringValue ?? ""
        category = o["category"]?.stringValue
        profile = o["category_profile"]?.objectValue
        data = o["data"].nonNull
        metadata = o["metadata"].nonNull
        if case .object(let schema)? = o["data_schema"], let n = schema["name"]?.stringValue {
            dataSchema = (n, schema["version"]?.stringValue ?? "")
        } else {
            dataSchema = nil
        }
        propagationRoot = o["propagation_root_uuid"]?.stringValue.flatMap(RelayUUID.init)?.description
    }

    /// RFC 3339 text, or integer epoch microseconds.
    static func time(_ value: JSON?) -> Nanoseconds? {
        switch value {
        case .string(let s)?: return ATIFTime.parse(s)
        case .int(let micros)?:
            let (n, overflow) = micros.multipliedReportingOverflow(by: 1000)
            return overflow ? nil : n
        default: return nil
        }
    }

    /// The span timestamp: nanoseconds since the epoch, 0 before it.
    var unixNanos: UInt64 { time > 0 ? UInt64(time) : 0 }

    var isLLM: Bool { category == "llm" }
    var isTool: Bool { category == "tool" }

    /// The scope type name of `category` (`unknown` for anything else, and for marks without one).
    var scopeType: String {
        switch category {
        case "agent"?, "function"?, "tool"?, "llm"?, "retriever"?, "embedder"?, "reranker"?, "guardrail"?,
            "evaluator"?, "custom"?:
            return category!
        default:
            return "unknown"
        }
    }

    /// The semantic input: the payload of a scope start.
    var input: JSON? { phase == .start ? data : nil }
    /// The semantic output: the payload of a scope end.
    var output: JSON? { phase == .end ? data : nil }

    /// `category_profile.model_name`.
    var modelName: String? { profile?["model_name"]?.stringValue }
    /// `category_profile.tool_call_id`.
    var toolCallID: String? { profile?["tool_call_id"]?.stringValue }
    /// `category_profile.tool_result_annotation`, unless null.
    var toolResultAnnotation: JSON? { profile?["tool_result_annotation"].nonNull }
    /// `category_profile.annotated_request`.
    var annotatedRequest: JSONObject? { profile?["annotated_request"]?.objectValue }
    /// `category_profile.annotated_response`.
    var annotatedResponse: JSONObject? { profile?["annotated_response"]?.objectValue }

    /// The metadata member `key` when it is a string.
    func metadataString(_ key: String) -> String? { metadata?[key]?.stringValue }

    /// The annotated request, else the decode of an LLM start payload by the codec its shape selects.
    func normalizedRequest() -> JSONObject? {
        if let annotatedRequest { return annotatedRequest }
        guard isLLM, let input else { return nil }
        return ATIFProviders.decodeRequest(input, hint: name)
    }

    /// The annotated response, else the decode of an LLM end payload by the codec its shape selects.
    func normalizedResponse() -> JSONObject? {
        if let annotatedResponse { return annotatedResponse }
        guard isLLM, let output else { return nil }
        return ATIFProviders.decodeResponse(output)
    }

    /// The model an LLM event names: the normalized response's, the raw response's `model`, the profile's
    /// model name, the normalized request's, then the raw request's `model`.
    func llmModelName(request: JSONObject?, response: JSONObject?) -> String? {
        guard isLLM else { return nil }
        if let m = response?["model"]?.stringValue { return m }
        if let m = output?["model"]?.stringValue { return m }
        if let m = modelName { return m }
        if let m = request?["model"]?.stringValue { return m }
        return input?["model"]?.stringValue
    }
}
