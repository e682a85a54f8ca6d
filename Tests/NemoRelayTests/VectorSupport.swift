// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// One golden codec case (Tests/vectors/README.md, "Codec cases").
struct CodecVector: Sendable {
    var name: String
    var op: String
    var input: JSON
    var annotated: JSON?
    var expected: JSON?
    var expectedError: Bool
    var referenceError: String?
}

/// Loads and runs the golden codec vectors of `Tests/vectors`.
enum VectorSupport {
    static var vectorsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors")
    }

    static func load(_ file: String) throws -> [CodecVector] {
        let data = try Data(contentsOf: vectorsDirectory.appendingPathComponent(file))
        let root = try JSON.parse([UInt8](data))
        guard case .array(let cases) = root else { throw RelayError.internalError("vector file is not an array") }
        return cases.compactMap { c in
            guard case .object(let o) = c, let name = o["name"]?.stringValue, let op = o["op"]?.stringValue else {
                return nil
            }
            return CodecVector(
                name: name, op: op, input: o["input"] ?? .null, annotated: o["annotated"], expected: o["expected"],
                expectedError: o["expected_error"]?.boolValue ?? false,
                referenceError: o["reference_error"]?.stringValue)
        }
    }

    /// Runs one case; returns nil on success or a failure description.
    static func run(_ v: CodecVector, codec: any SynchronousLLMCodec) -> String? {
        let result: Result<JSON, RelayError>
        switch v.op {
        case "decode":
            result = Result { () throws(RelayError) -> JSON in try codec.decode(LLMRequest(content: v.input)) }
        case "encode":
            result = Result { () throws(RelayError) -> JSON in
                try codec.encode(v.annotated ?? .null, original: LLMRequest(content: v.input)).content
            }
        case "decode_response":
            result = Result { () throws(RelayError) -> JSON in try codec.decodeResponse(v.input) }
        default:
            return "unknown op \(v.op)"
        }
        switch result {
        case .success(let got):
            if v.expectedError {
                return "expected an error (\(v.referenceError ?? "")), got \(got.jsonString(sortedKeys: true))"
            }
            guard let expected = v.expected else { return "case has no expected value" }
            if got != expected {
                let gotText = got.jsonString(sortedKeys: true)
                return "mismatch\n  got:      \(gotText)\n  expected: \(expected.jsonString(sortedKeys: true))"
            }
            return nil
        case .failure(let e):
            if v.expectedError {
                // Only the failure is normative; report a differing message as a note, not a failure.
                if let ref = v.referenceError, !ref.hasSuffix(e.displayText) {
                    print("  note \(v.name): message differs: got '\(e.displayText)', reference '\(ref)'")
                }
                return nil
            }
            return "unexpected error: \(e.displayText)"
        }
    }

    /// Runs every case of `file`, prints the per-file summary and returns the failures.
    static func runFile(_ file: String, label: String, codec: any SynchronousLLMCodec) throws -> (Int, [String]) {
        let cases = try load(file)
        var failures: [String] = []
        for c in cases {
            if let f = run(c, codec: codec) { failures.append("\(c.name) [\(c.op)]: \(f)") }
        }
        print("\(label) vectors: \(cases.count - failures.count) passed, \(failures.count) failed")
        for f in failures { print("  FAIL \(f)") }
        return (cases.count, failures)
    }

    /// Decode then encode without edits must return the original body exactly, for every decodable input.
    static func roundTripFailures(_ file: String, codec: any SynchronousLLMCodec) throws -> [String] {
        var failures: [String] = []
        for c in try load(file) where c.op == "decode" || c.op == "encode" {
            let request = LLMRequest(headers: ["x-test": "1"], content: c.input)
            guard let annotated = try? codec.decode(request) else { continue }
            do {
                let back = try codec.encode(annotated, original: request)
                if back.content != c.input || back.headers != request.headers {
                    failures.append("\(c.name): round trip changed the body")
                } else if back.content.jsonString() != c.input.jsonString() {
                    failures.append("\(c.name): round trip changed key order or spelling")
                }
            } catch {
                failures.append("\(c.name): encode failed: \(error)")
            }
        }
        return failures
    }
}

/// A test suite of one built-in codec: its golden vectors (`<codec id>.json`), round trips and edits.
protocol CodecTestSuite {
    associatedtype Codec: SynchronousLLMCodec
    var codec: Codec { get }
}

extension CodecTestSuite {
    /// Runs every golden vector of the codec and expects `count` cases, all passing.
    func expectGoldenVectors(count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (n, failures) = try VectorSupport.runFile("\(codec.id).json", label: codec.id, codec: codec)
        #expect(n == count, sourceLocation: sourceLocation)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    /// Expects decode then encode without edits to return every decodable vector input exactly.
    func expectRoundTrips(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let failures = try VectorSupport.roundTripFailures("\(codec.id).json", codec: codec)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    /// Decodes `text`, applies `edit` to the annotation and encodes it back onto the same body.
    func reencode(
        _ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ edit: (inout JSONObject) throws -> Void
    ) throws -> JSON {
        let original = LLMRequest(content: try JSON.parse(text))
        var annotated = try #require(codec.decode(original).objectValue, sourceLocation: sourceLocation)
        try edit(&annotated)
        return try codec.encode(.object(annotated), original: original).content
    }
}
