// SPDX-License-Identifier: Apache-2.0

/// Checks the fields a binding sets on an annotated request, with the reference's rules and texts
/// (docs/annotated-request.md, "Checking fields"). One definition for every binding: a binding hands
/// the core the fields as JSON and raises what it answers.
///
/// The texts name value types the way a Python host sees them (`'int' object`, `'None'`), because
/// that is how the reference reports them; a JSON integer is an `int`, a fractional number a `float`,
/// a string a `str`, an array a `list`, an object a `dict`, a boolean a `bool`.
public enum AnnotatedRequestCheck {
    /// Why a field was refused: the class (the reference raises TypeError, ValueError or
    /// OverflowError) and the message.
    public struct Failure: Error, Sendable, Equatable {
        /// The class of a refusal.
        public enum Kind: String, Sendable {
            /// The value has the wrong type for a typed field (`TypeError`).
            case typeError = "type_error"
            /// The value does not match the field's model (`ValueError`).
            case valueError = "value_error"
            /// An integer does not fit an unsigned 64-bit field (`OverflowError`).
            case overflowError = "overflow_error"
        }

        /// The class.
        public var kind: Kind
        /// The message, as the reference words it.
        public var message: String

        /// Creates a refusal.
        public init(_ kind: Kind, _ message: String) {
            self.kind = kind
            self.message = message
        }
    }

    /// The fields this check knows, in the order the reference's constructor checks its arguments
    /// (`model` first, then `messages`, `params`, `instructions`, `tools`, `tool_choice`,
    /// `api_specific`, `extra`), followed by the fields only a setter changes.
    public static let fields: [String] = [
        "model", "messages", "params", "instructions", "tools", "tool_choice", "api_specific", "extra",
        "store", "stream", "parallel_tool_calls", "user", "previous_response_id", "service_tier", "metadata",
        "include", "reasoning", "truncation", "max_output_tokens", "max_tool_calls", "top_logprobs",
    ]

    /// Checks `fields` (name to value) in their order and answers the normalized values, or the first
    /// refusal. `constructing` selects the constructor's wording (`extra: null` is an empty object
    /// and `api_specific` texts carry `expected a tagged request object: `) over a setter's.
    public static func check(_ fields: JSONObject, constructing: Bool) throws(Failure) -> JSONObject {
        var out = JSONObject(minimumCapacity: fields.count)
        for (name, value) in fields {
            out[name] = try check(name, value, constructing: constructing)
        }
        return out
    }

    /// Checks one field: the normalized value (null when the field is unset), or the refusal.
    public static func check(_ name: String, _ value: JSON, constructing: Bool) throws(Failure) -> JSON {
        switch name {
        case "model", "user", "previous_response_id", "service_tier":
            guard value.isNull || value.stringValue != nil else { throw notInstance(value, "str") }
            return value
        case "store", "stream", "parallel_tool_calls":
            if case .bool = value { return value }
            guard value.isNull else { throw notInstance(value, "bool") }
            return value
        case "max_output_tokens", "max_tool_calls", "top_logprobs":
            return value.isNull ? value : try unsigned(value)
        case "metadata", "include", "reasoning", "truncation":
            return value
        case "extra":
            if case .object = value { return value }
            if constructing && value.isNull { return .object(JSONObject()) }
            throw .init(
                .valueError, "invalid extra: unexpected type: \(pythonObject(value)) is not an instance of 'Mapping'")
        case "params":
            if value.isNull { return value }
            do throws(Failure) { return try params(value) } catch {
                throw .init(.valueError, "invalid params: " + error.message)
            }
        case "messages":
            do throws(Failure) { return try sequence(value, element: "Message", check: message) } catch {
                throw .init(
                    .valueError,
                    "invalid messages: each dict must include a 'role' key (user/system/assistant/tool): "
                        + error.message)
            }
        case "instructions":
            if value.isNull { return value }
            guard isMessageContent(value) else {
                throw .init(
                    .valueError,
                    "invalid instructions: expected a string or content-part list: " + untagged("MessageContent"))
            }
            return value
        case "tools":
            if value.isNull { return value }
            do throws(Failure) { return try sequence(value, element: "ToolDefinition", check: tool) } catch {
                throw .init(.valueError, "invalid tools: " + error.message)
            }
        case "tool_choice":
            if value.isNull { return value }
            guard isToolChoice(value) else {
                throw .init(.valueError, "invalid tool_choice: " + untagged("ToolChoice"))
            }
            return value
        case "api_specific":
            if value.isNull { return value }
            do throws(Failure) { try apiSpecific(value) } catch {
                let prefix =
                    constructing ? "invalid api_specific: expected a tagged request object: " : "invalid api_specific: "
                throw .init(.valueError, prefix + error.message)
            }
            return value
        default:
            throw .init(.valueError, "unknown annotated request field `\(name)`")
        }
    }

    // MARK: - Value types as a Python host names them

    /// `'int' object`, `'None'`, ... : how the reference's type errors name a value.
    static func pythonObject(_ v: JSON) -> String {
        v.isNull ? "'None'" : "'\(pythonType(v))' object"
    }

    /// The Python type of a JSON value.
    static func pythonType(_ v: JSON) -> String {
        switch v {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .int, .uint: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        }
    }

    static func notInstance(_ v: JSON, _ type: String) -> Failure {
        .init(.typeError, "\(pythonObject(v)) is not an instance of '\(type)'")
    }

    static func untagged(_ name: String) -> String {
        "data did not match any variant of untagged enum \(name)"
    }

    /// serde's `invalid type` text for a value deserialized as `expected`.
    static func invalidType(_ v: JSON, expected: String) -> Failure {
        let what = v.isNull ? "unit value" : v.serdeDescription
        return .init(.valueError, "invalid type: \(what), expected \(expected)")
    }

    static func missing(_ field: String) -> Failure {
        .init(.valueError, "missing field `\(field)`")
    }

    // MARK: - Numbers

    /// An unsigned 64-bit integer field: booleans count as 0 and 1 (a Python bool is an int).
    static func unsigned(_ v: JSON) throws(Failure) -> JSON {
        switch v {
        case .bool(let b): return .int(b ? 1 : 0)
        case .int(let i):
            guard i >= 0 else { throw .init(.overflowError, "can't convert negative int to unsigned") }
            return v
        case .uint: return v
        default: throw .init(.typeError, "'\(pythonType(v))' object cannot be interpreted as an integer")
        }
    }

    /// The generation parameters: `temperature`, `top_p` (doubles), `max_tokens` (unsigned) and
    /// `stop` (a string or strings); other keys and null members are dropped.
    static func params(_ v: JSON) throws(Failure) -> JSON {
        guard case .object(let o) = v else {
            throw .init(.valueError, "unexpected type: \(pythonObject(v)) is not an instance of 'Mapping'")
        }
        var out = JSONObject(minimumCapacity: 4)
        for (k, x) in o where !x.isNull {
            switch k {
            case "temperature", "top_p":
                switch x {
                case .bool(let b): out[k] = .double(b ? 1 : 0)
                case .int, .uint, .double: out[k] = .double(x.doubleValue ?? 0)
                default: throw .init(.valueError, "TypeError: must be real number, not \(pythonType(x))")
                }
            case "max_tokens":
                do throws(Failure) { out[k] = try unsigned(x) } catch {
                    let cls = error.kind == .overflowError ? "OverflowError" : "TypeError"
                    throw .init(.valueError, "\(cls): \(error.message)")
                }
            case "stop":
                switch x {
                case .string: out[k] = .array([x])
                case .array(let items):
                    for i in items where i.stringValue == nil {
                        throw .init(.valueError, "unexpected type: \(pythonObject(i)) is not an instance of 'str'")
                    }
                    out[k] = x
                default:
                    throw .init(.valueError, "unexpected type: \(pythonObject(x)) is not an instance of 'Sequence'")
                }
            default:
                continue
            }
        }
        return .object(out)
    }

    // MARK: - Sequences of tagged items

    /// A list of `element` items, each checked by `check`. A string is a sequence of its characters
    /// (as in Python), so a non-empty one fails on its first character.
    static func sequence(
        _ v: JSON, element: String, check: (JSONObject) throws(Failure) -> Void
    ) throws(Failure) -> JSON {
        switch v {
        case .array(let items):
            for item in items { try taggedItem(item, element: element, check: check) }
            return v
        case .string(let s):
            guard let c = s.first else { return .array([]) }
            throw invalidType(.string(String(c)), expected: "internally tagged enum \(element)")
        default:
            throw .init(.valueError, "unexpected type: \(pythonObject(v)) is not an instance of 'Sequence'")
        }
    }

    static func taggedItem(
        _ item: JSON, element: String, check: (JSONObject) throws(Failure) -> Void
    ) throws(Failure) {
        switch item {
        case .object(let o): try check(o)
        case .array(let a):
            // An internally tagged enum read from a list takes the tag from its first element.
            if a.isEmpty { throw missing(element == "Message" ? "role" : "type") }
            throw .init(.valueError, "dict keys must have type str")
        default: throw invalidType(item, expected: "internally tagged enum \(element)")
        }
    }

    /// The tag of an internally tagged item: missing, not a string, or the string.
    static func tag(_ o: JSONObject, _ key: String) throws(Failure) -> String {
        guard let t = o[key] else { throw missing(key) }
        guard let s = t.stringValue else { throw .init(.valueError, "dict keys must have type str") }
        return s
    }

    /// The member types of a struct, checked in the object's order, then its required members in
    /// declaration order (serde's order of errors).
    enum Member {
        case string, optionalString, optionalBool, content, optionalContent, optionalStringOrNull, any
        case toolCalls, function, functionCall
    }

    static func members(_ o: JSONObject, _ spec: KeyValuePairs<String, (Member, Bool)>) throws(Failure) {
        for (k, x) in o {
            guard let m = spec.first(where: { $0.key == k })?.value.0 else { continue }
            try member(x, m)
        }
        for (k, s) in spec where s.1 && o[k] == nil { throw missing(k) }
    }

    static func member(_ x: JSON, _ m: Member) throws(Failure) {
        switch m {
        case .string:
            guard x.stringValue != nil else { throw invalidType(x, expected: "a string") }
        case .optionalString, .optionalStringOrNull:
            guard x.isNull || x.stringValue != nil else { throw invalidType(x, expected: "a string") }
        case .optionalBool:
            if x.isNull { return }
            guard case .bool = x else { throw invalidType(x, expected: "a boolean") }
        case .content:
            guard isMessageContent(x) else { throw .init(.valueError, untagged("MessageContent")) }
        case .optionalContent:
            guard x.isNull || isMessageContent(x) else { throw .init(.valueError, untagged("MessageContent")) }
        case .any:
            return
        case .toolCalls:
            if x.isNull { return }
            guard case .array(let calls) = x else { throw invalidType(x, expected: "a sequence") }
            for c in calls {
                guard case .object(let o) = c else { throw invalidType(c, expected: "struct ToolCall") }
                try members(o, ["id": (.string, true), "type": (.string, true), "function": (.functionCall, true)])
            }
        case .functionCall:
            guard case .object(let o) = x else { throw invalidType(x, expected: "struct FunctionCall") }
            try members(o, ["name": (.string, true), "arguments": (.string, true)])
        case .function:
            guard case .object(let o) = x else { throw invalidType(x, expected: "struct FunctionDefinition") }
            try members(
                o,
                [
                    "name": (.string, true), "description": (.optionalString, false), "parameters": (.any, false),
                    "strict": (.optionalBool, false),
                ])
        }
    }

    // MARK: - Messages

    /// The message roles, in the reference's declaration order (its `unknown variant` text lists them).
    public static let roles = [
        "system", "user", "developer", "assistant", "tool", "function", "tool_call", "tool_result", "provider_native",
    ]

    static func message(_ o: JSONObject) throws(Failure) {
        let role = try tag(o, "role")
        switch role {
        case "system", "user", "developer":
            try members(o, ["content": (.content, true), "name": (.optionalString, false)])
        case "assistant":
            try members(
                o,
                [
                    "content": (.optionalContent, false), "tool_calls": (.toolCalls, false),
                    "name": (.optionalString, false),
                ])
        case "tool":
            try members(o, ["content": (.content, true), "tool_call_id": (.string, true)])
        case "function":
            try members(o, ["content": (.optionalStringOrNull, false), "name": (.string, true)])
        case "tool_call":
            try members(
                o,
                [
                    "call_id": (.string, true), "name": (.string, true), "arguments": (.any, true),
                    "id": (.optionalString, false),
                ])
        case "tool_result":
            try members(o, ["call_id": (.string, true), "output": (.any, true), "id": (.optionalString, false)])
        case "provider_native":
            try members(o, ["provider": (.string, true), "kind": (.string, true), "value": (.any, true)])
        default:
            let expected = roles.map { "`\($0)`" }.joined(separator: ", ")
            throw .init(.valueError, "unknown variant `\(role)`, expected one of \(expected)")
        }
    }

    /// A message content: a string, or a list of content parts each of a known `type` with its
    /// required members.
    static func isMessageContent(_ v: JSON) -> Bool {
        switch v {
        case .string: return true
        case .array(let parts): return parts.allSatisfy(isContentPart)
        default: return false
        }
    }

    static func isContentPart(_ p: JSON) -> Bool {
        guard case .object(let o) = p, let type = o["type"]?.stringValue else { return false }
        func has(_ k: String) -> Bool { o[k] != nil }
        func string(_ k: String) -> Bool { o[k]?.stringValue != nil }
        switch type {
        case "text": return string("text")
        case "image_url":
            guard case .object(let u)? = o["image_url"] else { return false }
            return u["url"]?.stringValue != nil
        case "image": return has("image")
        case "audio": return has("audio")
        case "file": return has("file")
        case "refusal": return string("refusal")
        case "tool_use": return string("id") && string("name") && has("input")
        case "tool_result": return string("tool_use_id") && has("content")
        case "provider_native": return string("provider") && string("kind") && has("value")
        default: return false
        }
    }

    // MARK: - Tools, tool choice, api_specific

    static func tool(_ o: JSONObject) throws(Failure) {
        switch try tag(o, "type") {
        case "function": try members(o, ["function": (.function, true)])
        case "provider_native":
            try members(o, ["provider": (.string, true), "kind": (.string, true), "value": (.any, true)])
        case let other:
            throw .init(.valueError, "unknown variant `\(other)`, expected `function` or `provider_native`")
        }
    }

    /// `"auto"`, `"none"`, `"required"`, a function choice `{type: "function", function: {name}}`, or
    /// a provider-native choice `{provider, kind, value}`.
    static func isToolChoice(_ v: JSON) -> Bool {
        switch v {
        case .string(let s): return s == "auto" || s == "none" || s == "required"
        case .object(let o):
            if o["type"]?.stringValue == "function", case .object(let f)? = o["function"],
                f["name"]?.stringValue != nil
            {
                return true
            }
            return o["provider"]?.stringValue != nil && o["kind"]?.stringValue != nil && o["value"] != nil
        default: return false
        }
    }

    /// The `api` tags of the reference's `api_specific`, in its declaration order (its refusal lists them).
    public static let apiTags = ["anthropic_messages", "openai_chat", "openai_responses", "oci_genai", "custom"]

    /// `api` tags this package's own codecs write besides the reference's (`docs/codecs.md`).
    public static let ownApiTags = ["bedrock_converse"]

    static func apiSpecific(_ v: JSON) throws(Failure) {
        switch v {
        case .object(let o):
            let api = try tag(o, "api")
            guard apiTags.contains(api) || ownApiTags.contains(api) else {
                let expected = apiTags.map { "`\($0)`" }.joined(separator: ", ")
                throw .init(.valueError, "unknown variant `\(api)`, expected one of \(expected)")
            }
            if api == "custom" { try members(o, ["api_name": (.string, true), "data": (.any, true)]) }
        case .array(let a):
            guard a.isEmpty else { throw .init(.valueError, "dict keys must have type str") }
            throw missing("api")
        default:
            throw invalidType(v, expected: "internally tagged enum ApiSpecificRequest")
        }
    }
}
