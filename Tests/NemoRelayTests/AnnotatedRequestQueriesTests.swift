// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// The golden cases of `Tests/vectors/annotated_queries.json`, captured from the reference by
/// `scripts/capture_annotated_queries.py`: system prompt, last user message and tool calls.
@Suite struct AnnotatedRequestQueriesTests {
    static func cases() throws -> [JSON] {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("annotated_queries.json")
        let root = try JSON.parse([UInt8](Data(contentsOf: url)))
        return root["cases"]?.arrayValue ?? []
    }

    @Test func everyVectorGetsTheReferenceAnswers() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 40)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let got = AnnotatedRequestQueries.all(c["annotated"] ?? .null)
            #expect(got == c["expected"], "\(name): \(got.jsonString(sortedKeys: true))")
        }
    }

    @Test func malformedShapesHaveNoAnswersInsteadOfFailing() throws {
        let none: JSON = ["system_prompt": nil, "last_user_message": nil, "has_tool_calls": false]
        for doc in [#"{}"#, #"{"messages": 5}"#, #"{"messages": [1, null, "x", {"role": 7}]}"#, #"[]"#, #"null"#] {
            #expect(AnnotatedRequestQueries.all(try JSON.parse(doc)) == none, "\(doc)")
        }
    }
}
