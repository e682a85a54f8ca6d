// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// How a provider shapes a request with plain text turns, for the robustness properties of the codecs
/// whose request bodies are not OpenAI-shaped (Gemini, OCI, Bedrock).
struct ProviderShape: Sendable, CustomStringConvertible {
    let codec: any SynchronousLLMCodec
    /// The provider turn holding `text` for an annotated `user` or `assistant` role.
    let turn: @Sendable (_ role: String, _ text: String) -> JSON
    /// The provider turn holding one text part with an extra member `meta`.
    let turnWithMeta: @Sendable (_ text: String, _ meta: JSON) -> JSON
    /// A request body around `turns`, with `extra` top-level members.
    let body: @Sendable (_ turns: [JSON], _ extra: JSONObject) -> JSON
    /// The turns of a body.
    let turns: @Sendable (_ body: JSON) -> [JSON]?
    /// The object of a body that holds the `extra` members.
    var extrasHolder: @Sendable (_ body: JSON) -> JSON? = { $0 }
    /// The vector file.
    var file: String { "\(codec.id).json" }
    var description: String { codec.id }

    static let gemini = ProviderShape(
        codec: GeminiGenerateContentCodec(),
        turn: { role, text in ["role": role == "assistant" ? "model" : "user", "parts": [["text": .string(text)]]] },
        turnWithMeta: { text, meta in ["role": "user", "parts": [["text": .string(text), "meta": meta]]] },
        body: { turns, extra in
            var o: JSONObject = ["model": "test-model", "contents": .array(turns)]
            extra.forEach { k, v in o[k] = v }
            return .object(o)
        },
        turns: { $0["contents"]?.arrayValue })

    static let oci = ProviderShape(
        codec: OCIGenAIChatCodec(),
        turn: { role, text in
            ["role": .string(role.uppercased()), "content": [["type": "TEXT", "text": .string(text)]]]
        },
        turnWithMeta: { text, meta in
            ["role": "USER", "content": [["type": "TEXT", "text": .string(text), "meta": meta]]]
        },
        body: { turns, extra in
            var chat: JSONObject = ["apiFormat": "GENERIC", "messages": .array(turns)]
            extra.forEach { k, v in chat[k] = v }
            return [
                "compartmentId": "ocid1.compartment.oc1..c",
                "servingMode": ["servingType": "ON_DEMAND", "modelId": "test-model"], "chatRequest": .object(chat),
            ]
        },
        turns: { $0["chatRequest"]?["messages"]?.arrayValue },
        extrasHolder: { $0["chatRequest"] })

    static let bedrock = ProviderShape(
        codec: BedrockConverseCodec(),
        turn: { role, text in ["role": .string(role), "content": [["text": .string(text)]]] },
        turnWithMeta: { text, meta in ["role": "user", "content": [["text": .string(text)]], "meta": meta] },
        body: { turns, extra in
            var o: JSONObject = ["modelId": "test-model", "messages": .array(turns)]
            extra.forEach { k, v in o[k] = v }
            return .object(o)
        },
        turns: { $0["messages"]?.arrayValue })

    static let all: [ProviderShape] = [.gemini, .oci, .bedrock]
}

/// Identity round trips on large, deep, non-ASCII and numerically extreme payloads, and thrown errors
/// (never crashes) on malformed input, for the provider-shaped codecs.
@Suite struct ProviderCodecRobustnessTests {
    static func identity(_ shape: ProviderShape, _ body: JSON) throws {
        let request = LLMRequest(headers: ["authorization": "x"], content: body)
        let annotated = try shape.codec.decode(request)
        let back = try shape.codec.encode(annotated, original: request)
        #expect(back.content == body, "\(shape)")
        #expect(back.content.jsonString() == body.jsonString(), "\(shape): spelling changed")
        #expect(back.headers == request.headers)
    }

    static func text(_ role: String, _ content: String) -> JSON {
        ["role": .string(role), "content": .string(content)]
    }

    @Test(arguments: ProviderShape.all) func fiveMegabyteHistory(shape: ProviderShape) throws {
        let chunk = String(repeating: "lorem ipsum dolor sit amet ", count: 80)
        var turns: [JSON] = []
        var size = 0
        while size < 5_100_000 {
            turns.append(shape.turn(turns.count % 2 == 0 ? "user" : "assistant", "\(turns.count): \(chunk)"))
            size += chunk.utf8.count + 40
        }
        let body = shape.body(turns, [:])
        #expect(body.serialized().count >= 5_000_000)
        try Self.identity(shape, body)

        // One edit in the middle is patched in place; every other turn is kept as it was.
        let request = LLMRequest(content: body)
        var annotated = try #require(shape.codec.decode(request).objectValue)
        var edited = try #require(annotated["messages"]?.arrayValue)
        let middle = edited.count / 2 + (edited.count / 2) % 2  // a user turn
        edited[middle] = Self.text("user", "redacted")
        annotated["messages"] = .array(edited)
        let out = try #require(shape.turns(try shape.codec.encode(.object(annotated), original: request).content))
        #expect(out.count == turns.count)
        #expect(out[middle] == shape.turn("user", "redacted"))
        #expect(out[middle + 1] == turns[middle + 1])
        #expect(out[middle - 1] == turns[middle - 1])

        // Dropping the first turn and appending one keeps every other original turn.
        edited = try #require(shape.codec.decode(request)["messages"]?.arrayValue)
        edited.removeFirst()
        edited.append(Self.text("user", "next"))
        annotated["messages"] = .array(edited)
        let shifted = try #require(shape.turns(try shape.codec.encode(.object(annotated), original: request).content))
        #expect(shifted.count == turns.count)
        #expect(Array(shifted.dropLast()) == Array(turns.dropFirst()))
    }

    @Test(arguments: ProviderShape.all) func deepNestingInsideContent(shape: ProviderShape) throws {
        var nested = "\"leaf\""
        for d in 0..<200 { nested = d % 2 == 0 ? "{\"k\":\(nested)}" : "[\(nested),1]" }
        let deep = shape.turnWithMeta("deep", try JSON.parse(nested))
        let body = shape.body([shape.turn("user", "first"), shape.turn("assistant", "ok"), deep], [:])
        try Self.identity(shape, body)
        let request = LLMRequest(content: body)
        var annotated = try #require(shape.codec.decode(request).objectValue)
        var msgs = try #require(annotated["messages"]?.arrayValue)
        msgs[0] = Self.text("user", "changed")
        annotated["messages"] = .array(msgs)
        let out = try #require(shape.turns(try shape.codec.encode(.object(annotated), original: request).content))
        #expect(out.last == deep)
        #expect(out.first == shape.turn("user", "changed"))
    }

    @Test(arguments: ProviderShape.all) func nonASCIIAndEscapedStrings(shape: ProviderShape) throws {
        let samples = [
            "héllo wörld", "日本語のテキスト", "emoji 🎉👩‍👩‍👧 flags 🇫🇷", "quote \" backslash \\ slash /",
            "controls \n\t\r\u{0001}\u{001F}", "nul \u{0000} inside", "rtl עברית العربية", "\u{2028}\u{2029}",
        ]
        let body = shape.body(samples.map { shape.turn("user", $0) }, ["x_ünïcode_kéy": "välue ✓"])
        try Self.identity(shape, body)
        let reparsed = try JSON.parse(body.jsonString())
        #expect(reparsed == body)
        let annotated = try shape.codec.decode(LLMRequest(content: reparsed))
        let texts = annotated["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue }
        #expect(texts == samples)
        #expect(annotated["x_ünïcode_kéy"] == "välue ✓")
    }

    @Test(arguments: ProviderShape.all) func numericEdgesSurvive(shape: ProviderShape) throws {
        let text = #"""
            {"int_max":9223372036854775807,"int_min":-9223372036854775808,"uint_max":18446744073709551615,
             "dbl_max":1.7976931348623157e308,"dbl_min":5e-324,"neg_zero":-0.0,"tenth":0.1,"big_exp":1e300,
             "nested":{"values":[0,-1,9007199254740993,1.5e-10]}}
            """#
        let numbers = try #require(try JSON.parse(text).objectValue)
        let body = shape.body([shape.turn("user", "n")], numbers)
        try Self.identity(shape, body)
        let request = LLMRequest(content: body)
        var annotated = try #require(shape.codec.decode(request).objectValue)
        #expect(annotated["int_max"] == .int(Int64.max))
        #expect(annotated["uint_max"] == .uint(UInt64.max))
        var msgs = try #require(annotated["messages"]?.arrayValue)
        msgs[0] = Self.text("user", "changed")
        annotated["messages"] = .array(msgs)
        let encoded = try shape.codec.encode(.object(annotated), original: request).content
        let out = try #require(shape.extrasHolder(encoded)?.objectValue)
        for (k, v) in numbers {
            #expect(out[k] == v, "\(k)")
            #expect(out[k]?.jsonString() == v.jsonString(), "\(k) spelling")
        }
    }

    /// The codecs whose SDK-built requests (`Tests/vectors/sdk_requests.json`) must round-trip.
    static let sdkCodecs: Set<String> = ["gemini_generate_content", "oci_genai", "bedrock_converse"]

    /// Request bodies built by the providers' own SDKs decode and encode back byte for byte.
    @Test func sdkBuiltRequestsRoundTripExactly() throws {
        let data = try Data(contentsOf: VectorSupport.vectorsDirectory.appendingPathComponent("sdk_requests.json"))
        let requests = try #require(try JSON.parse([UInt8](data))["requests"]?.arrayValue)
        var seen = Set<String>()
        for r in requests {
            guard let id = r["codec"]?.stringValue, Self.sdkCodecs.contains(id), let body = r["body"] else { continue }
            let codec = try #require(BuiltinCodecs.named(id))
            seen.insert(id)
            let request = LLMRequest(content: body)
            let annotated = try codec.decode(request)
            #expect(annotated["messages"]?.arrayValue?.isEmpty == false, "\(r["name"] ?? .null)")
            let back = try codec.encode(annotated, original: request)
            #expect(back.content.jsonString() == body.jsonString(), "\(r["name"] ?? .null)")
        }
        #expect(seen == Self.sdkCodecs)
    }

    /// Replaces members of every vector input and annotation with values of every other kind; every call
    /// must return or throw, and whatever decodes must round-trip.
    @Test(arguments: ProviderShape.all) func malformedInputsThrowInsteadOfCrashing(shape: ProviderShape) throws {
        let replacements: [JSON] = [.null, true, 0, -1, 1.5, "s", [], [1], [:], ["role": 5], [["type": 5]]]
        let codec = shape.codec
        var calls = 0
        for c in try VectorSupport.load(shape.file) {
            for variant in CodecRobustnessTests.mutations(of: c.input, replacements: replacements) {
                calls += 1
                switch c.op {
                case "decode_response":
                    _ = try? codec.decodeResponse(variant)
                default:
                    let request = LLMRequest(content: variant)
                    if let annotated = try? codec.decode(request) {
                        let back = try? codec.encode(annotated, original: request)
                        #expect(back?.content == variant, "\(c.name): a decodable mutation must round-trip")
                    }
                    if let annotated = c.annotated { _ = try? codec.encode(annotated, original: request) }
                }
            }
            if let annotated = c.annotated {
                for variant in CodecRobustnessTests.mutations(of: annotated, replacements: replacements) {
                    calls += 1
                    _ = try? codec.encode(variant, original: LLMRequest(content: c.input))
                }
            }
        }
        #expect(calls > 5_000)
    }
}
