// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// Properties that must hold for every built-in codec: identity round trips on large, deep, non-ASCII
/// and numerically extreme payloads, and thrown errors (never crashes) on malformed input.
@Suite struct CodecRobustnessTests {
    static let codecs: [any SynchronousLLMCodec] = [
        OpenAIChatCodec(), OpenAIResponsesCodec(), AnthropicMessagesCodec(),
    ]

    /// A request body for `codec` holding `messages` (Chat/Anthropic `messages`, Responses `input`).
    static func body(for codec: any SynchronousLLMCodec, messages: [JSON], extra: JSONObject = JSONObject()) -> JSON {
        var o = JSONObject()
        o["model"] = "test-model"
        o[codec.id == "openai_responses" ? "input" : "messages"] = .array(messages)
        if codec.id == "anthropic_messages" { o["max_tokens"] = 256 }
        extra.forEach { k, v in o[k] = v }
        return .object(o)
    }

    static func text(_ role: String, _ content: String) -> JSON {
        ["role": .string(role), "content": .string(content)]
    }

    static func identity(_ codec: any SynchronousLLMCodec, _ body: JSON) throws {
        let request = LLMRequest(headers: ["authorization": "x"], content: body)
        let annotated = try codec.decode(request)
        let back = try codec.encode(annotated, original: request)
        #expect(back.content == body, "\(codec.id)")
        #expect(back.content.jsonString() == body.jsonString(), "\(codec.id): spelling changed")
        #expect(back.headers == request.headers)
    }

    @Test(arguments: [0, 1, 2]) func fiveMegabyteHistory(codecIndex: Int) throws {
        let codec = Self.codecs[codecIndex]
        let chunk = String(repeating: "lorem ipsum dolor sit amet ", count: 80)  // ~2 KB
        var messages: [JSON] = []
        var size = 0
        var i = 0
        while size < 5_100_000 {
            let m = Self.text(i % 2 == 0 ? "user" : "assistant", "\(i): \(chunk)")
            size += chunk.utf8.count + 40
            messages.append(m)
            i += 1
        }
        let body = Self.body(for: codec, messages: messages)
        #expect(body.serialized().count >= 5_000_000)
        try Self.identity(codec, body)

        // One edit in the middle is patched in place; an append keeps every original item.
        let request = LLMRequest(content: body)
        var annotated = try #require(codec.decode(request).objectValue)
        var edited = try #require(annotated["messages"]?.arrayValue)
        let middle = edited.count / 2
        edited[middle] = Self.text("user", "redacted")
        annotated["messages"] = .array(edited)
        let patched = try codec.encode(.object(annotated), original: request)
        let key = codec.id == "openai_responses" ? "input" : "messages"
        let out = try #require(patched.content[key]?.arrayValue)
        #expect(out.count == messages.count)
        #expect(out[middle]["content"] == "redacted")
        #expect(out[middle + 1] == messages[middle + 1])

        edited = try #require(codec.decode(request)["messages"]?.arrayValue)
        edited.removeFirst()
        edited.append(Self.text("user", "next"))
        annotated["messages"] = .array(edited)
        let shifted = try #require(codec.encode(.object(annotated), original: request).content[key]?.arrayValue)
        #expect(shifted.count == messages.count)
        #expect(Array(shifted.dropLast()) == Array(messages.dropFirst()))
    }

    @Test(arguments: [0, 1, 2]) func deepNestingInsideContent(codecIndex: Int) throws {
        let codec = Self.codecs[codecIndex]
        var nested = "\"leaf\""
        for d in 0..<200 { nested = d % 2 == 0 ? "{\"k\":\(nested)}" : "[\(nested),1]" }
        let textType = codec.id == "openai_responses" ? "input_text" : "text"
        let text = #"{"role":"user","content":[{"type":"\#(textType)","text":"deep","meta":\#(nested)}]}"#
        let deepMessage = try JSON.parse(text)
        let body = Self.body(for: codec, messages: [Self.text("user", "first"), deepMessage])
        try Self.identity(codec, body)
        // Editing the other message keeps the deep one verbatim.
        let request = LLMRequest(content: body)
        var annotated = try #require(codec.decode(request).objectValue)
        var msgs = try #require(annotated["messages"]?.arrayValue)
        msgs[0] = Self.text("user", "changed")
        annotated["messages"] = .array(msgs)
        let key = codec.id == "openai_responses" ? "input" : "messages"
        let out = try codec.encode(.object(annotated), original: request).content
        #expect(out[key]?.arrayValue?.last == deepMessage)
    }

    @Test(arguments: [0, 1, 2]) func nonASCIIAndEscapedStrings(codecIndex: Int) throws {
        let codec = Self.codecs[codecIndex]
        let samples = [
            "héllo wörld", "日本語のテキスト", "emoji 🎉👩‍👩‍👧 flags 🇫🇷", "quote \" backslash \\ slash /",
            "controls \n\t\r\u{0001}\u{001F}", "nul \u{0000} inside", "rtl עברית العربية", "\u{2028}\u{2029}",
        ]
        let body = Self.body(
            for: codec, messages: samples.map { Self.text("user", $0) }, extra: ["x_ünïcode_kéy": "välue ✓"])
        try Self.identity(codec, body)
        // Through the text form too: serialize, parse, decode, encode, serialize.
        let reparsed = try JSON.parse(body.jsonString())
        #expect(reparsed == body)
        let annotated = try codec.decode(LLMRequest(content: reparsed))
        let texts = annotated["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue }
        #expect(texts == samples)
        #expect(annotated["x_ünïcode_kéy"] == "välue ✓")
        let escaped = try JSON.parse(#"{"role":"user","content":"\u00e9\ud83c\udf89\n\"x\""}"#)
        try Self.identity(codec, Self.body(for: codec, messages: [escaped]))
    }

    @Test(arguments: [0, 1, 2]) func numericEdgesSurvive(codecIndex: Int) throws {
        let codec = Self.codecs[codecIndex]
        let text = #"""
            {"int_max":9223372036854775807,"int_min":-9223372036854775808,"uint_max":18446744073709551615,
             "dbl_max":1.7976931348623157e308,"dbl_min":5e-324,"neg_zero":-0.0,"tenth":0.1,"big_exp":1e300,
             "nested":{"values":[0,-1,9007199254740993,1.5e-10]}}
            """#
        let numbers = try #require(try JSON.parse(text).objectValue)
        let body = Self.body(for: codec, messages: [Self.text("user", "n")], extra: numbers)
        try Self.identity(codec, body)
        // With an edit elsewhere the numbers are still written back exactly.
        let request = LLMRequest(content: body)
        var annotated = try #require(codec.decode(request).objectValue)
        #expect(annotated["int_max"] == .int(Int64.max))
        #expect(annotated["uint_max"] == .uint(UInt64.max))
        annotated["model"] = "other-model"
        let out = try #require(codec.encode(.object(annotated), original: request).content.objectValue)
        for (k, v) in numbers {
            #expect(out[k] == v, "\(k)")
            #expect(out[k]?.jsonString() == v.jsonString(), "\(k) spelling")
        }
        #expect(out["int_min"] == .int(Int64.min))
        #expect(out["dbl_min"] == .double(.leastNonzeroMagnitude))
    }

    /// Replaces members of every vector input with values of every other kind; all calls must return or throw.
    @Test func malformedInputsThrowInsteadOfCrashing() throws {
        let replacements: [JSON] = [.null, true, 0, -1, 1.5, "s", [], [1], [:], ["role": 5], [["type": 5]]]
        var calls = 0
        for (file, codec) in zip(
            ["openai_chat.json", "openai_responses.json", "anthropic_messages.json"], Self.codecs)
        {
            for c in try VectorSupport.load(file) {
                for variant in Self.mutations(of: c.input, replacements: replacements) {
                    calls += 1
                    switch c.op {
                    case "decode_response":
                        _ = try? codec.decodeResponse(variant)
                    default:
                        _ = try? codec.decode(LLMRequest(content: variant))
                        if let annotated = c.annotated {
                            _ = try? codec.encode(annotated, original: LLMRequest(content: variant))
                        }
                    }
                }
                if let annotated = c.annotated {
                    for variant in Self.mutations(of: annotated, replacements: replacements) {
                        calls += 1
                        _ = try? codec.encode(variant, original: LLMRequest(content: c.input))
                    }
                }
            }
        }
        #expect(calls > 10_000)
    }

    /// Every value obtained by replacing one member (up to depth 4) with one of `replacements`.
    static func mutations(of value: JSON, replacements: [JSON], depth: Int = 0) -> [JSON] {
        var out: [JSON] = []
        guard depth < 4 else { return out }
        switch value {
        case .object(let o):
            for k in o.keys {
                guard let child = o[k] else { continue }
                for r in replacements {
                    var m = o
                    m[k] = r
                    out.append(.object(m))
                }
                var removed = o
                removed.removeValue(forKey: k)
                out.append(.object(removed))
                for sub in mutations(of: child, replacements: replacements, depth: depth + 1) {
                    var m = o
                    m[k] = sub
                    out.append(.object(m))
                }
            }
        case .array(let a):
            for i in a.indices {
                for r in replacements {
                    var m = a
                    m[i] = r
                    out.append(.array(m))
                }
                for sub in mutations(of: a[i], replacements: replacements, depth: depth + 1) {
                    var m = a
                    m[i] = sub
                    out.append(.array(m))
                }
            }
        default:
            break
        }
        return out
    }

    @Test func encodeRejectsForeignNativeItemsAndMalformedAnnotations() throws {
        let chat = OpenAIChatCodec()
        let original = LLMRequest(content: ["model": "m", "messages": [["role": "user", "content": "x"]]])
        let foreign: JSON = [
            "messages": [["role": "provider_native", "provider": "anthropic_messages", "kind": "user", "value": [:]]]
        ]
        #expect(throws: RelayError.self) { try chat.encode(foreign, original: original) }
        #expect(throws: RelayError.self) { try chat.encode("nope", original: original) }
        #expect(throws: RelayError.self) { try chat.encode(["model": "m"], original: original) }
        #expect(throws: RelayError.self) { try chat.encode(["messages": [["content": "no role"]]], original: original) }
        #expect(throws: RelayError.self) { try chat.encode(["messages": [], "params": 5], original: original) }
        do {
            _ = try chat.encode(foreign, original: original)
        } catch {
            #expect(error.kind == .invalidArgument)
            #expect(error.message.hasSuffix("cannot be encoded for OpenAI Chat"))
        }
    }

    /// Found by Tests/fuzz (codec_openai_chat, twice): a body key the codec does not read but spelled like
    /// a modeled field, the body's own `api_specific` or a `params` that is not an object, stood for the
    /// modeled field in the annotation, so encoding the unedited annotation failed ("api_specific provider
    /// does not match", "invalid params: expected an object"). Such keys stay in the body, unchanged.
    @Test(arguments: [0, 1, 2]) func bodyKeysSpelledLikeModeledFields(codecIndex: Int) throws {
        let codec = Self.codecs[codecIndex]
        let foreign: JSON = ["api": codec.id == "openai_chat" ? "anthropic_messages" : "openai_chat", "top_k": 5]
        for extra: JSONObject in [["api_specific": foreign], ["params": 3], ["api_specific": 1, "params": [1]]] {
            let body = Self.body(for: codec, messages: [Self.text("user", "hi")], extra: extra)
            let request = LLMRequest(headers: ["x-fuzz": "1"], content: body)
            let annotated = try codec.decode(request)
            #expect(annotated.objectValue?["api_specific"]?.objectValue?["api"]?.stringValue == codec.id)
            #expect(annotated.objectValue?["params"]?.objectValue != nil || annotated.objectValue?["params"] == nil)
            let back = try codec.encode(annotated, original: request)
            #expect(back.content == body, "\(codec.id)")
            #expect(try codec.decode(back) == annotated, "\(codec.id)")
        }
    }

    /// The same property for the other built-in codecs, on the first decode vector of each (found by
    /// fuzzing: a body's own `api_specific` replaced the decoded one, so the annotation did not encode back).
    @Test(arguments: ["gemini_generate_content", "oci_genai", "bedrock_converse"])
    func bodyKeysSpelledLikeModeledFieldsInEveryCodec(id: String) throws {
        let codec = try #require(BuiltinCodecs.named(id))
        let vectors = try VectorSupport.load("\(id).json")
        let base = try #require(vectors.first { $0.op == "decode" && !$0.expectedError }?.input.objectValue)
        let foreign: JSON = ["api": "openai_chat"]
        for extra: JSONObject in [["api_specific": foreign], ["params": 3], ["api_specific": 1, "metadata": [1]]] {
            var body = base
            extra.forEach { k, v in body[k] = v }
            let request = LLMRequest(headers: [:], content: .object(body))
            let annotated = try codec.decode(request)
            // The codec's own api_specific (Gemini writes one only when it has something to keep).
            if let api = annotated.objectValue?["api_specific"] {
                #expect(api.objectValue != nil && api["api"]?.stringValue != "openai_chat", "\(id) \(extra)")
            }
            let back = try codec.encode(annotated, original: request)
            #expect(back.content == .object(body), "\(id) \(extra)")
            #expect(try codec.decode(back) == annotated, "\(id)")
        }
    }

    @Test func builtinCodecLookup() {
        for id in BuiltinCodecs.ids { #expect(BuiltinCodecs.named(id)?.id == id) }
        #expect(BuiltinCodecs.named("gemini") == nil)
    }

    @Test func crossCodecEditsAreEncodedFresh() throws {
        // A tool call and its result appended to a Responses request become function_call items.
        let codec = OpenAIResponsesCodec()
        let original = LLMRequest(content: ["model": "m", "input": [["role": "user", "content": "hi"]]])
        var annotated = try #require(codec.decode(original).objectValue)
        var msgs = try #require(annotated["messages"]?.arrayValue)
        msgs.append(["role": "tool_call", "call_id": "c1", "name": "f", "arguments": ["a": 1]])
        msgs.append(["role": "tool_result", "call_id": "c1", "output": "ok"])
        annotated["messages"] = .array(msgs)
        let input = try codec.encode(.object(annotated), original: original).content["input"]
        #expect(
            input == [
                ["role": "user", "content": "hi"],
                ["type": "function_call", "call_id": "c1", "name": "f", "arguments": #"{"a":1}"#],
                ["type": "function_call_output", "call_id": "c1", "output": "ok"],
            ])
    }
}
