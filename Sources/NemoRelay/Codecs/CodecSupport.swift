// SPDX-License-Identifier: Apache-2.0

// Shared helpers of the built-in provider codecs: typed field readers with the reference's error
// texts, serde-style type descriptions for response decode errors, and small JSON utilities.

/// The display name of a provider surface, used in error messages.
enum CodecSurface: String, Sendable {
    case openAIChat = "OpenAI Chat"
    case openAIResponses = "OpenAI Responses"
    case anthropicMessages = "Anthropic Messages"

    /// The codec id and `api_specific.api` tag of this surface.
    var api: String {
        switch self {
        case .openAIChat: return "openai_chat"
        case .openAIResponses: return "openai_responses"
        case .anthropicMessages: return "anthropic_messages"
        }
    }
}

/// The JSON type a typed request field must have.
enum FieldKind: Sendable {
    case string, number, bool, nonNegativeInteger, integer, object, any

    /// The `must be …` phrase of the decode error for this kind.
    var phrase: String {
        switch self {
        case .string: return "a string or null"
        case .number: return "a number or null"
        case .bool: return "a boolean or null"
        case .nonNegativeInteger: return "a non-negative integer or null"
        case .integer: return "an integer or null"
        case .object: return "an object or null"
        case .any: return "any JSON value"
        }
    }
}

/// The top-level keys of the annotated request (docs/annotated-request.md, "Annotated request"); others are extras.
let annotatedModelKeys: Set<String> = [
    "messages", "instructions", "model", "params", "tools", "tool_choice", "store", "parallel_tool_calls",
    "stream", "previous_response_id", "user", "service_tier", "truncation", "reasoning", "include", "metadata",
    "max_output_tokens", "max_tool_calls", "top_logprobs", "api_specific",
]

/// The JSON kind of each common top-level field of the annotated request.
let commonFieldKinds: [String: FieldKind] = [
    "store": .bool, "parallel_tool_calls": .bool, "stream": .bool,
    "previous_response_id": .string, "user": .string, "service_tier": .string,
    "truncation": .any, "reasoning": .any, "include": .any, "metadata": .any,
    "max_output_tokens": .nonNegativeInteger, "max_tool_calls": .nonNegativeInteger,
    "top_logprobs": .nonNegativeInteger,
]

extension JSON {
    /// True when this is an integer value of 0 or more (exact integers only).
    var isNonNegativeInteger: Bool {
        switch self {
        case .int(let i): return i >= 0
        case .uint: return true
        default: return false
        }
    }

    /// True for exact integers of either sign.
    var isInteger: Bool {
        switch self {
        case .int, .uint: return true
        default: return false
        }
    }

    /// True when the value has the JSON type `kind` requires.
    func matches(_ kind: FieldKind) -> Bool {
        switch kind {
        case .string: if case .string = self { return true }
        case .number: return isNumber
        case .bool: if case .bool = self { return true }
        case .nonNegativeInteger: return isNonNegativeInteger
        case .integer: return isInteger
        case .object: if case .object = self { return true }
        case .any: return true
        }
        return false
    }

    /// How serde names this value in an `invalid type` message (`string "x"`, `sequence`, `map`, …).
    var serdeDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "boolean `\(b)`"
        case .int(let i): return "integer `\(i)`"
        case .uint(let u): return "integer `\(u)`"
        case .double(let d): return "floating point `\(d)`"
        case .string(let s): return "string \(JSON.string(s).jsonString())"
        case .array: return "sequence"
        case .object: return "map"
        }
    }
}

extension JSONObject {
    /// The member `key` unless it is absent or null.
    @inlinable func value(_ key: String) -> JSON? {
        self[key]?.nonNull
    }

    /// True when every key of the object is in `allowed` (a short list: scanning beats hashing).
    func keys(subsetOf allowed: [String]) -> Bool {
        for k in keys where !allowed.contains(k) { return false }
        return true
    }

    /// True when some member is `null`.
    var hasNullValue: Bool {
        for v in values where v.isNull { return true }
        return false
    }
}

/// Reads a typed optional request field, throwing `<Surface> <key> must be …` on a wrong type.
func readField(
    _ o: JSONObject, _ key: String, _ kind: FieldKind, _ surface: CodecSurface
) throws(RelayError) -> JSON? {
    guard let v = o.value(key) else { return nil }
    guard v.matches(kind) else { throw .invalidArgument("\(surface.rawValue) \(key) must be \(kind.phrase)") }
    if kind == .number, let d = v.doubleValue { return .double(d) }
    return v
}

/// Parses tool-call arguments: the parsed JSON when the string is valid JSON, else the raw string.
func parseToolArguments(_ s: String) -> JSON {
    if let v = try? JSON.parse(s) { return v }
    return .string(s)
}

/// Writes annotated tool-call arguments back as a string: strings verbatim, other JSON compact.
func argumentsString(_ v: JSON) -> String {
    if case .string(let s) = v { return s }
    return v.jsonString()
}

/// Builds a provider-native wrapper for an item, part, tool or tool choice.
func providerNative(_ surface: CodecSurface, kind: String, value: JSON, tag: String?) -> JSON {
    var o = JSONObject(minimumCapacity: 4)
    if let tag { o[tag == "role" ? "role" : "type"] = "provider_native" }
    o["provider"] = .string(surface.api)
    o["kind"] = .string(kind)
    o["value"] = value
    return .object(o)
}

/// Unwraps a provider-native annotation item owned by `surface`, or throws when another codec owns it.
func nativeValue(_ o: JSONObject, what: String, for surface: CodecSurface) throws(RelayError) -> JSON {
    let provider = o["provider"]?.stringValue ?? ""
    guard provider == surface.api else {
        throw .invalidArgument("provider_native \(what) from \(provider) cannot be encoded for \(surface.rawValue)")
    }
    guard let v = o["value"] else { throw .invalidArgument("provider_native \(what) is missing value") }
    return v
}

/// Error for an annotated field the provider cannot express.
func unencodableFields(_ surface: CodecSurface) -> RelayError {
    .invalidArgument("request contains fields that cannot be encoded for \(surface.rawValue)")
}

/// The annotated object, or an `invalid argument` naming what was expected.
func requireObject(_ v: JSON, _ what: String) throws(RelayError) -> JSONObject {
    guard case .object(let o) = v else { throw .invalidArgument("invalid \(what): expected an object") }
    return o
}

/// The role of an annotated message, validated to be a string.
func messageRole(_ o: JSONObject) throws(RelayError) -> String {
    guard let r = o["role"]?.stringValue else { throw .invalidArgument("invalid messages: message is missing role") }
    return r
}
