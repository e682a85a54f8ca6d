// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct OpenAIChatCodecTests {
    let codec = OpenAIChatCodec()

    @Test func goldenVectors() throws {
        let (count, failures) = try VectorSupport.runFile("openai_chat.json", label: "openai_chat", codec: codec)
        #expect(count == 65)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func roundTripOfEveryVectorInput() throws {
        let failures = try VectorSupport.roundTripFailures("openai_chat.json", codec: codec)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
