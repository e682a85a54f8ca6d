// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

@Suite struct AnthropicMessagesCodecTests {
    let codec = AnthropicMessagesCodec()

    @Test func goldenVectors() throws {
        let (count, failures) = try VectorSupport.runFile(
            "anthropic_messages.json", label: "anthropic_messages", codec: codec)
        #expect(count == 47)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func roundTripOfEveryVectorInput() throws {
        let failures = try VectorSupport.roundTripFailures("anthropic_messages.json", codec: codec)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
