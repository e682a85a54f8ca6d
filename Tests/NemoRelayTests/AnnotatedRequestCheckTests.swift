// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// The golden cases of `Tests/vectors/annotated_check.json`, captured from the reference by
/// `scripts/capture_annotated_check.py`: which annotated-request fields are refused, with which class
/// and message.
@Suite struct AnnotatedRequestCheckTests {
    static func cases() throws -> [JSON] {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("annotated_check.json")
        let root = try JSON.parse([UInt8](Data(contentsOf: url)))
        return root["cases"]?.arrayValue ?? []
    }

    /// The fields as a binding hands them over: a constructor's in the reference's checking order,
    /// its unset (null) keyword arguments left out.
    static func fields(_ c: JSON) -> (JSONObject, Bool) {
        let given = c["fields"]?.objectValue ?? JSONObject()
        guard c["mode"]?.stringValue == "new" else { return (given, false) }
        var ordered = JSONObject()
        for name in AnnotatedRequestCheck.fields {
            guard let v = given[name], name == "messages" || !v.isNull else { continue }
            ordered[name] = v
        }
        return (ordered, true)
    }

    @Test func everyVectorIsRefusedOrAcceptedAsTheReferenceDoes() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 200)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let (fields, constructing) = Self.fields(c)
            do throws(AnnotatedRequestCheck.Failure) {
                _ = try AnnotatedRequestCheck.check(fields, constructing: constructing)
                #expect(c["error"] == nil, "\(name): accepted, the reference refuses it")
            } catch {
                #expect(c["error"]?["kind"]?.stringValue == error.kind.rawValue, "\(name): \(error.kind)")
                #expect(c["error"]?["message"]?.stringValue == error.message, "\(name): \(error.message)")
            }
        }
    }

    @Test func scalarFieldsAreNormalizedAsTheReferenceReturnsThem() throws {
        let scalar: Set<String> = ["model", "store", "max_output_tokens", "max_tool_calls", "top_logprobs", "metadata"]
        for c in try Self.cases() where c["mode"]?.stringValue == "set" {
            guard let value = c["value"]?.objectValue, let (name, want) = value.first(where: { _ in true }),
                scalar.contains(name)
            else { continue }
            let got = try AnnotatedRequestCheck.check(c["fields"]?.objectValue ?? JSONObject(), constructing: false)
            #expect(got[name] == want, "\(c["name"]?.stringValue ?? "?")")
        }
    }

    @Test func paramsKeepOnlyTheModeledMembers() throws {
        let got = try AnnotatedRequestCheck.check(
            "params", try JSON.parse(#"{"temperature": 1, "stop": "x", "seed": 3, "top_p": null, "max_tokens": true}"#),
            constructing: false)
        #expect(got == (try JSON.parse(#"{"temperature": 1.0, "stop": ["x"], "max_tokens": 1}"#)))
    }

    @Test func theFirstRefusedFieldInOrderIsReported() {
        let fields: JSONObject = ["model": 1, "messages": .null]
        #expect(throws: AnnotatedRequestCheck.Failure(.typeError, "'int' object is not an instance of 'str'")) {
            try AnnotatedRequestCheck.check(fields, constructing: true)
        }
        #expect(throws: AnnotatedRequestCheck.Failure(.valueError, "unknown annotated request field `nope`")) {
            try AnnotatedRequestCheck.check(["nope": 1], constructing: false)
        }
    }

    /// A request a built-in codec decodes passes the check field by field (bedrock_converse's
    /// `api_specific` tag included), so a binding can set back what it read.
    @Test func everyDecodedVectorPassesTheCheck() throws {
        var checked = 0
        for id in BuiltinCodecs.ids {
            let url = VectorSupport.vectorsDirectory.appendingPathComponent("\(id).json")
            for v in try JSON.parse([UInt8](Data(contentsOf: url))).arrayValue ?? [] {
                guard v["op"]?.stringValue == "decode", v["expected_error"] == nil,
                    let doc = v["expected"]?.objectValue
                else { continue }
                for (name, value) in doc where AnnotatedRequestCheck.fields.contains(name) {
                    checked += 1
                    do throws(AnnotatedRequestCheck.Failure) {
                        _ = try AnnotatedRequestCheck.check(name, value, constructing: false)
                    } catch {
                        Issue.record("\(id) \(v["name"]?.stringValue ?? "?") \(name): \(error.message)")
                    }
                }
            }
        }
        #expect(checked > 300)
    }

    @Test func theBuiltinListingNamesEveryCodecAndAlias() {
        let listing = BuiltinCodecs.listing.arrayValue ?? []
        #expect(listing.compactMap { $0["id"]?.stringValue } == BuiltinCodecs.ids)
        for entry in listing {
            for alias in entry["aliases"]?.arrayValue ?? [] {
                #expect(BuiltinCodecs.named(alias.stringValue ?? "")?.id == entry["id"]?.stringValue)
            }
        }
        #expect(listing.contains { $0["aliases"] == ["oci_genai_chat"] })
    }
}
