// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct OpenAIResponsesCodecTests {
    let codec = OpenAIResponsesCodec()

    @Test func goldenVectors() throws {
        let (count, failures) = try VectorSupport.runFile(
            "openai_responses.json", label: "openai_responses", codec: codec)
        #expect(count == 46)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func roundTripOfEveryVectorInput() throws {
        let failures = try VectorSupport.roundTripFailures("openai_responses.json", codec: codec)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
