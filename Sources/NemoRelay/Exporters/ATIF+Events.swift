// SPDX-License-Identifier: Apache-2.0

/// One ATOF scope event as the ATIF builder reads it.
///
/// Built from the subscriber JSON of ``Event/serialized()``; events that cannot be read (not an object,
/// unknown `kind`, a missing or malformed `uuid` or `timestamp`) are dropped instead of failing the export.
struct ATIFEvent {
    /// `start` or `end` for scope events, `none` for a scope event without a readable `scope_category`.
    enum Phase {
        case start
        case end
        case none
    }

    let phase: Phase
    /// The canonical lowercase uuid.
    let uuid: String
    let parent: String?
    let time: Nanoseconds
    /// The event time as RFC 3339 with a `+00:00` offset and 0, 3, 6 or 9 fraction digits.
    let timestamp: String
    let name: String
    let category: String?
    let profile: JSONObject?
    /// The payload; nil when absent or null (a tool start's null arguments stay `.null`).
    let data: JSON?
    /// The metadata; nil when absent or null.
    let metadata: JSON?
    /// The annotated response when present, else a best-effort decode of an LLM end payload.
    let normalizedResponse: JSONObject?
    /// The model of the annotated request, else of a best-effort decode of an LLM start payload.
    let normalizedRequestModel: String?

    /// Reads one scope event; nil for marks (the exporter never turns them into steps) and unreadable events.
    init?(_ json: JSON) {
        guard case .object(let o) = json, o["kind"]?.stringValue == "scope",
            let uuid = o["uuid"]?.stringValue.flatMap(RelayUUID.init), let text = o["timestamp"]?.stringValue,
            let time = ATIFTime.parse(text)
        else { return nil }
        switch o["scope_category"]?.stringValue {
        case "start"?: phase = .start
        case "end"?: phase = .end
        default: phase = .none
        }
        self.uuid = uuid.description
        parent = o["parent_uuid"]?.stringValue.flatMap(RelayUUID.init)?.description
        self.time = time
        timestamp = RFC3339.string(time)
        name = o["name"]?.stringValue ?? ""
        category = o["category"]?.stringValue
        profile = o["category_profile"]?.objectValue
        // A tool's null arguments are arguments; any other null payload is no payload.
        data = phase == .start && category == "tool" && o["data"]?.isNull == true ? .null : o["data"].nonNull
        metadata = o["metadata"].nonNull
        let isLLM = category == "llm"
        let annotatedResponse = isLLM ? profile?["annotated_response"]?.objectValue : nil
        if let annotatedResponse {
            normalizedResponse = annotatedResponse
        } else if isLLM, phase == .end, let data {
            normalizedResponse = ATIFProviders.decodeResponse(data)
        } else {
            normalizedResponse = nil
        }
        if isLLM, let annotated = profile?["annotated_request"]?.objectValue {
            normalizedRequestModel = annotated["model"]?.stringValue
        } else if isLLM, phase == .start, let data {
            normalizedRequestModel = ATIFProviders.requestModel(data, hint: name)
        } else {
            normalizedRequestModel = nil
        }
    }

    var isStart: Bool { phase == .start }
    var isLLM: Bool { category == "llm" }
    var isAgent: Bool { category == "agent" }
    var isLLMStart: Bool { phase == .start && category == "llm" }
    var isLLMEnd: Bool { phase == .end && category == "llm" }
    var isToolStart: Bool { phase == .start && category == "tool" }
    var isToolEnd: Bool { phase == .end && category == "tool" }

    /// `category_profile.model_name`.
    var modelName: String? { profile?["model_name"]?.stringValue }
    /// `category_profile.tool_call_id`.
    var toolCallID: String? { profile?["tool_call_id"]?.stringValue }
    /// `category_profile.tool_result_annotation` when not null.
    var toolResultAnnotation: JSON? { profile?["tool_result_annotation"].nonNull }

    /// `category_profile.annotated_request` of an LLM event.
    var annotatedRequest: JSONObject? { isLLM ? profile?["annotated_request"]?.objectValue : nil }
    /// `category_profile.annotated_response` of an LLM event.
    var annotatedResponse: JSONObject? { isLLM ? profile?["annotated_response"]?.objectValue : nil }

    /// The model an LLM event names: normalized response, the payload's `model`, the profile's model name, then
    /// the normalized request (and the unwrapped request body's `model`).
    var llmModelName: String? {
        guard isLLM else { return nil }
        if let model = normalizedResponse?["model"]?.stringValue { return model }
        if phase == .end, let model = data?["model"]?.stringValue { return model }
        if let model = modelName { return model }
        if let model = normalizedRequestModel { return model }
        if phase == .start, let model = data?["model"]?.stringValue { return model }
        return nil
    }

    /// `{event_uuid, event_name, parent_event_uuid?, metadata?}`.
    var extra: JSONObject {
        var o = JSONObject(minimumCapacity: 4)
        o["event_name"] = .string(name)
        o["event_uuid"] = .string(uuid)
        if let metadata { o["metadata"] = metadata }
        if let parent { o["parent_event_uuid"] = .string(parent) }
        return o
    }
}

/// Provider payload recognition for events that carry no codec annotation.
enum ATIFProviders {
    /// Decodes a raw provider response with the one built-in codec whose shape it matches, or nil.
    static func decodeResponse(_ raw: JSON) -> JSONObject? {
        guard case .object(let o) = raw else { return nil }
        let chat = o["choices"]?.arrayValue != nil
        let responses = o["output"]?.arrayValue != nil || o["output_text"]?.stringValue != nil
        let anthropic = o["type"]?.stringValue == "message" && o["content"]?.arrayValue != nil
        let codec: any SynchronousLLMCodec
        switch (chat, responses, anthropic) {
        case (true, false, false): codec = OpenAIChatCodec()
        case (false, true, false): codec = OpenAIResponsesCodec()
        case (false, false, true): codec = AnthropicMessagesCodec()
        default: return nil
        }
        return (try? codec.decodeResponse(raw))?.objectValue
    }

    /// The model of an LLM start payload (`{headers, content}`) decoded by the codec its body shape selects.
    static func requestModel(_ data: JSON, hint: String) -> String? {
        decodeRequest(data, hint: hint)?["model"]?.stringValue
    }

    /// The annotated request of an LLM start payload (`{headers, content}`) decoded by the codec its body shape
    /// selects, or nil.
    static func decodeRequest(_ data: JSON, hint: String) -> JSONObject? {
        guard case .object(let wrapper) = data, case .object(let body)? = wrapper["content"] else { return nil }
        let codec: any SynchronousLLMCodec
        if body["input"] != nil || body["instructions"] != nil {
            codec = OpenAIResponsesCodec()
        } else if body["system"] != nil {
            codec = AnthropicMessagesCodec()
        } else if body["messages"] != nil {
            // The call name disambiguates a system-less Anthropic body from OpenAI Chat.
            let h = hint.lowercased()
            let anthropic = h == "anthropic" || h == "anthropic_messages" || h.hasPrefix("anthropic.messages")
            codec = anthropic ? AnthropicMessagesCodec() : OpenAIChatCodec()
        } else {
            return nil
        }
        let request = LLMRequest(headers: wrapper["headers"]?.objectValue ?? JSONObject(), content: .object(body))
        return (try? codec.decode(request))?.objectValue
    }
}

/// Reading and writing the times of the trajectory.
enum ATIFTime {
    /// Parses RFC 3339 (`T`, `t` or a space between date and time; `Z`, `z` or `±HH:MM`; any fraction, of
    /// which nanoseconds are kept) into nanoseconds since the epoch; nil when malformed or out of range.
    static func parse(_ text: String) -> Nanoseconds? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + width) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int64(b[k] - 48)
            }
            i += width
            return v
        }
        func expect(_ c: UInt8...) -> Bool {
            guard i < b.count, c.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            expect(84, 116, 32), let hour = number(2), expect(58), let minute = number(2), expect(58),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60,
            second < 60
        else { return nil }
        var nanos: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if count < 9 { nanos = nanos * 10 + Int64(b[i] - 48) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanos *= 10 }
        }
        var offset: Int64 = 0
        if i < b.count, b[i] == 43 || b[i] == 45 {
            let sign: Int64 = b[i] == 45 ? -1 : 1
            i += 1
            guard let oh = number(2), expect(58), let om = number(2), oh < 24, om < 60 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else if !expect(90, 122) {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        let (scaled, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, o2) = scaled.addingReportingOverflow(nanos)
        return o1 || o2 ? nil : total
    }

    /// Whole milliseconds since the epoch, rounded toward negative infinity.
    static func millis(_ t: Nanoseconds) -> Int64 {
        let q = t / 1_000_000
        return t % 1_000_000 < 0 ? q - 1 : q
    }

    /// Epoch seconds with millisecond precision, as the invocation timestamps spell them.
    static func epochSeconds(_ t: Nanoseconds) -> Double { Double(millis(t)) / 1000.0 }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension JSON {
    /// The value as an unsigned 64-bit count: a non-negative integer, never a double (serde's `as_u64`).
    var atifCount: UInt64? {
        switch self {
        case .int(let i): return i >= 0 ? UInt64(i) : nil
        case .uint(let u): return u
        default: return nil
        }
    }

    /// The same value with object keys in byte order at every level, as the reference's maps keep them.
    var atifCanonical: JSON {
        switch self {
        case .array(let a): return .array(a.map(\.atifCanonical))
        case .object(let o):
            guard !o.isEmpty else { return self }
            let order = o.keys.indices.sorted { o.keys[$0].utf8.lexicographicallyPrecedes(o.keys[$1].utf8) }
            var sorted = JSONObject(minimumCapacity: o.count)
            for i in order { sorted[o.keys[i]] = o.values[i].atifCanonical }
            return .object(sorted)
        default: return self
        }
    }

    /// Compact text with sorted keys and the reference's double spelling (serde_json's `to_string` of a value).
    var atifText: String {
        String(decoding: serialized(sortedKeys: true, doubleSpelling: .reference), as: UTF8.self)
    }

    /// The string at `path`, or nil.
    func atifString(at path: [String]) -> String? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current.stringValue
    }
}
