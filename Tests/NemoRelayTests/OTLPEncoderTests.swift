// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

// MARK: - Vector support

/// One encoder case of `Tests/vectors/otlp_encoder.json` (written by `scripts/make_otlp_goldens.py`).
struct OTLPEncoderCase: Sendable, CustomTestStringConvertible {
    var name: String
    var spans: [OTelSpan]
    var resourceScope: OTelResourceScope
    var expected: JSON

    var testDescription: String { name }

    static let file = VectorSupport.vectorsDirectory.appendingPathComponent("otlp_encoder.json")

    static let document: JSON = {
        guard let data = try? Data(contentsOf: file), let doc = try? JSON.parse([UInt8](data)) else { return .null }
        return doc
    }()

    static let all: [OTLPEncoderCase] = (document["cases"]?.arrayValue ?? []).compactMap { c in
        guard let name = c["name"]?.stringValue, let expected = c["expected"],
            let res = c["resource"], let spans = c["spans"]?.arrayValue
        else { return nil }
        let rs = OTelResourceScope(
            resourceAttributes: attributes(res["attributes"]), scopeName: text(res["scope_name"]),
            scopeVersion: text(res["scope_version"]))
        return OTLPEncoderCase(name: name, spans: spans.map(span), resourceScope: rs, expected: expected)
    }

    /// A string of the case format: plain, or `{"repeat": s, "times": n}` for huge ones.
    static func text(_ v: JSON?) -> String {
        if let s = v?.stringValue { return s }
        guard let unit = v?["repeat"]?.stringValue, let times = v?["times"]?.int64Value else { return "" }
        return String(repeating: unit, count: Int(times))
    }

    static func hexBytes(_ v: JSON?) -> [UInt8] {
        let digits = Array((v?.stringValue ?? "").utf8)
        func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : (c | 0x20) - 87 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    static func uint64(_ v: JSON?) -> UInt64 { UInt64(v?.stringValue ?? "") ?? 0 }

    static func value(_ v: JSON) -> OTelValue {
        guard case .object(let o) = v, let (kind, x) = o.first(where: { _ in true }) else { return .string("?") }
        switch kind {
        case "string": return .string(text(x))
        case "bool": return .bool(x.boolValue ?? false)
        case "int": return .int(Int64(x.stringValue ?? "") ?? 0)
        case "double":
            switch x.stringValue {
            case "NaN": return .double(.nan)
            case "Infinity": return .double(.infinity)
            case "-Infinity": return .double(-.infinity)
            default: return .double(x.doubleValue ?? 0)
            }
        case "bytes": return .bytes(hexBytes(x))
        case "array": return .array((x.arrayValue ?? []).map(value))
        case "kvlist": return .kvlist(attributes(x))
        default: return .string("unknown kind \(kind)")
        }
    }

    static func attributes(_ v: JSON?) -> [OTelAttribute] {
        (v?.arrayValue ?? []).map { OTelAttribute(text($0["key"]), value($0["value"] ?? .null)) }
    }

    static func span(_ s: JSON) -> OTelSpan {
        OTelSpan(
            traceID: hexBytes(s["trace_id"]), spanID: hexBytes(s["span_id"]),
            parentSpanID: hexBytes(s["parent_span_id"]),
            traceState: text(s["trace_state"]), name: text(s["name"]),
            kind: OTelSpanKind(rawValue: Int32(s["kind"]?.int64Value ?? -1)) ?? .unspecified,
            startTimeUnixNano: uint64(s["start_time_unix_nano"]), endTimeUnixNano: uint64(s["end_time_unix_nano"]),
            attributes: attributes(s["attributes"]),
            events: (s["events"]?.arrayValue ?? []).map {
                OTelSpanEvent(
                    name: text($0["name"]), timeUnixNano: uint64($0["time_unix_nano"]),
                    attributes: attributes($0["attributes"]))
            },
            statusCode: OTelStatusCode(rawValue: Int32(s["status_code"]?.int64Value ?? -1)) ?? .unset,
            statusMessage: text(s["status_message"]), flags: UInt32(s["flags"]?.int64Value ?? 0))
    }

    /// The 64-bit FNV-1a hash as 16 lowercase hex digits (the golden script's `fnv1a64`).
    static func fnv1a64(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

// MARK: - Tests

@Suite struct OTLPEncoderTests {
    @Test func vectorFileIsPresent() throws {
        #expect(OTLPEncoderCase.all.count >= 8)
        let check = try #require(OTLPEncoderCase.document["sdk_cross_check"])
        #expect(check["result"]?.stringValue == "passed", "the golden script's SDK cross-check is recorded")
    }

    @Test(arguments: OTLPEncoderCase.all) func protobufMatchesGolden(_ c: OTLPEncoderCase) {
        let got = OTLPEncoder.protobuf(c.spans, c.resourceScope)
        if let hex = c.expected["protobuf_hex"]?.stringValue {
            let gotHex = hexString(got)
            if gotHex != hex {
                let at = zip(gotHex.utf8, hex.utf8).prefix { $0 == $1 }.count / 2
                Issue.record(
                    "\(c.name): protobuf differs from byte \(at) (got \(got.count) bytes, want \(hex.count / 2))")
            }
        } else {
            #expect(got.count == Int(c.expected["protobuf_size"]?.int64Value ?? -1), "\(c.name)")
            #expect(OTLPEncoderCase.fnv1a64(got) == c.expected["protobuf_fnv1a64"]?.stringValue, "\(c.name)")
        }
    }

    @Test(arguments: OTLPEncoderCase.all) func jsonMatchesGolden(_ c: OTLPEncoderCase) throws {
        let got = OTLPEncoder.json(c.spans, c.resourceScope)
        if let want = c.expected["json"]?.stringValue {
            let text = String(decoding: got, as: UTF8.self)
            if text != want {
                let at = zip(text.utf8, want.utf8).prefix { $0 == $1 }.count
                let context = String(decoding: Array(text.utf8.dropFirst(max(0, at - 40)).prefix(100)), as: UTF8.self)
                Issue.record("\(c.name): JSON differs from byte \(at): …\(context)…")
            }
        } else {
            #expect(got.count == Int(c.expected["json_size"]?.int64Value ?? -1), "\(c.name)")
            #expect(OTLPEncoderCase.fnv1a64(got) == c.expected["json_fnv1a64"]?.stringValue, "\(c.name)")
        }
        // Always valid RFC 8259 JSON for our own parser too, NaN and infinities included.
        _ = try JSON.parse(got)
    }

    @Test func nonFiniteDoublesAreProto3Strings() throws {
        let span = OTelSpan(
            traceID: Array(repeating: 1, count: 16), spanID: Array(repeating: 2, count: 8), name: "n",
            startTimeUnixNano: 1, endTimeUnixNano: 2,
            attributes: [
                OTelAttribute("nan", .double(.nan)), OTelAttribute("inf", .double(.infinity)),
                OTelAttribute("ninf", .double(-.infinity)), OTelAttribute("snan", .double(.signalingNaN)),
            ])
        let rs = OTelResourceScope(resourceAttributes: [])
        let doc = try JSON.parse(OTLPEncoder.json([span], rs))
        let attrs = try #require(
            doc["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?.arrayValue?.first?["spans"]?
                .arrayValue?.first?["attributes"]?.arrayValue)
        #expect(attrs.map { $0["value"]?["doubleValue"]?.stringValue } == ["NaN", "Infinity", "-Infinity", "NaN"])
    }

    @Test func fileLineIsTheRequestOnOneLine() throws {
        for c in OTLPEncoderCase.all where c.name != "huge_strings" {
            let line = OTLPEncoder.fileLine(c.spans, c.resourceScope)
            if c.spans.isEmpty {
                #expect(line.isEmpty, "an empty batch writes no line")
                continue
            }
            #expect(line == OTLPEncoder.json(c.spans, c.resourceScope) + [0x0A], "\(c.name)")
            #expect(line.filter { $0 == 0x0A }.count == 1, "\(c.name): exactly one line")
        }
        // Appending keeps what the buffer held, so a sink can write a whole batch of lines at once.
        let c = try #require(OTLPEncoderCase.all.first { $0.name == "three_span_trace" })
        var buffer: [UInt8] = Array("previous\n".utf8)
        OTLPEncoder.appendFileLine(c.spans, c.resourceScope, to: &buffer)
        OTLPEncoder.appendFileLine([], c.resourceScope, to: &buffer)
        OTLPEncoder.appendFileLine(c.spans, c.resourceScope, to: &buffer)
        let lines = buffer.split(separator: 0x0A, omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[0].elementsEqual("previous".utf8) && lines[3].isEmpty)
        #expect(Array(lines[1]) == OTLPEncoder.json(c.spans, c.resourceScope) && lines[1] == lines[2])
    }

    /// Decodes the Swift encodings with opentelemetry-proto (`Tests/support/otlp_decode_check.py`).
    @Test(.enabled(if: OTLPEncoderTests.pythonProtoMissing == nil, "needs python3 with opentelemetry-proto"))
    func opentelemetryProtoDecodesOurOutput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "otlp-encoder-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in OTLPEncoderCase.all {
            try Data(OTLPEncoder.protobuf(c.spans, c.resourceScope)).write(
                to: dir.appendingPathComponent(c.name + ".pb"))
            try Data(OTLPEncoder.json(c.spans, c.resourceScope)).write(to: dir.appendingPathComponent(c.name + ".json"))
            try Data(OTLPEncoder.fileLine(c.spans, c.resourceScope))
                .write(to: dir.appendingPathComponent(c.name + ".jsonl"))
        }
        let (status, output) = try Self.runPython([Self.supportScript("otlp_decode_check.py"), dir.path])
        print(output, terminator: "")
        #expect(status == 0, "otlp_decode_check.py failed:\n\(output)")
    }

    // MARK: Responses

    @Test func responseVectors() throws {
        let responses = try #require(OTLPEncoderCase.document["responses"]?.arrayValue)
        #expect(responses.count >= 40)
        for r in responses {
            let name = r["name"]?.stringValue ?? "?"
            let result: Result<OTLPPartialSuccess?, RelayError>
            if let hex = r["protobuf_hex"] {
                let body = OTLPEncoderCase.hexBytes(hex)
                result = Result { () throws(RelayError) in try OTLPEncoder.decodeResponse(protobuf: body) }
            } else {
                let body = Array((r["json"]?.stringValue ?? "").utf8)
                result = Result { () throws(RelayError) in try OTLPEncoder.decodeResponse(json: body) }
            }
            switch result {
            case .success(let got):
                #expect(r["expected_error"]?.boolValue != true, "\(name): decoded \(String(describing: got))")
                if r["expected_error"]?.boolValue == true { continue }
                let want = r["expected"].flatMap { e -> OTLPPartialSuccess? in
                    guard case .object = e else { return nil }
                    return OTLPPartialSuccess(
                        rejectedSpans: Int64(e["rejected_spans"]?.stringValue ?? "") ?? -99,
                        errorMessage: e["error_message"]?.stringValue ?? "")
                }
                #expect(got == want, "\(name)")
            case .failure(let e):
                #expect(r["expected_error"]?.boolValue == true, "\(name): \(e.displayText)")
                #expect(e.kind == .invalidArgument, "\(name)")
            }
        }
    }

    @Test func responseDecisionsStricterOrLaxerThanJSONFormat() throws {
        // Empty bodies are full success (some receivers send 200 with nothing); json_format refuses them.
        #expect(try OTLPEncoder.decodeResponse(json: []) == nil)
        #expect(try OTLPEncoder.decodeResponse(json: Array(" \r\n\t".utf8)) == nil)
        // json_format reads a top-level array, or a string for the object, as an empty message; we refuse.
        for body in ["[]", "{\"partialSuccess\":\"x\"}", "null", "5", "\"text\""] {
            #expect(throws: RelayError.self, "\(body)") { try OTLPEncoder.decodeResponse(json: Array(body.utf8)) }
        }
        // Invalid UTF-8 in the message is replaced, not refused.
        let got = try OTLPEncoder.decodeResponse(protobuf: [0x0A, 0x04, 0x12, 0x02, 0xFF, 0x41])
        #expect(got == OTLPPartialSuccess(rejectedSpans: 0, errorMessage: "\u{FFFD}A"))
        // Groups nested past the limit are refused instead of recursing without bound.
        let deep = Array(repeating: UInt8(0x0B), count: 200) + Array(repeating: UInt8(0x0C), count: 200)
        #expect(throws: RelayError.self) { try OTLPEncoder.decodeResponse(protobuf: deep) }
        let shallow = Array(repeating: UInt8(0x0B), count: 50) + Array(repeating: UInt8(0x0C), count: 50)
        #expect(try OTLPEncoder.decodeResponse(protobuf: shallow) == nil)
    }

    @Test func decodersSurviveTenThousandRandomAndMutatedInputs() {
        var rng = SeededRandom(seed: 0x4F54_4C50)
        let seeds: [[UInt8]] =
            (OTLPEncoderCase.document["responses"]?.arrayValue ?? []).map { r in
                if let hex = r["protobuf_hex"] { return OTLPEncoderCase.hexBytes(hex) }
                return Array((r["json"]?.stringValue ?? "").utf8)
            } + [
                Array(
                    OTLPEncoder.protobuf(
                        OTLPEncoderCase.all.first?.spans ?? [], OTelResourceScope(resourceAttributes: [])))
            ]
        var decoded = 0
        var refused = 0
        for round in 0..<10_000 {
            var input: [UInt8]
            if round % 4 == 0 || seeds.isEmpty {
                input = (0..<Int.random(in: 0...48, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                input = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = input.isEmpty ? 0 : Int.random(in: 0..<input.count, using: &rng)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0 where !input.isEmpty: input[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                    case 1 where !input.isEmpty: input[at] = UInt8.random(in: 0...255, using: &rng)
                    case 2: input.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                    case 3 where !input.isEmpty: input.removeSubrange(at...)
                    default: input += input.prefix(Int.random(in: 0...8, using: &rng))
                    }
                }
            }
            for asJSON in [false, true] {
                do throws(RelayError) {
                    if asJSON {
                        _ = try OTLPEncoder.decodeResponse(json: input)
                    } else {
                        _ = try OTLPEncoder.decodeResponse(protobuf: input)
                    }
                    decoded += 1
                } catch {
                    #expect(error.kind == .invalidArgument)
                    refused += 1
                }
            }
        }
        print("decodeResponse on 10,000 inputs (both decoders): \(decoded) decoded, \(refused) refused")
        #expect(decoded + refused == 20_000)
        #expect(decoded > 500 && refused > 500, "the inputs exercise both outcomes: \(decoded) / \(refused)")
    }

    // MARK: Sizes

    @Test func sizesOfATypicalTenSpanBatch() throws {
        let c = try #require(OTLPEncoderCase.all.first { $0.name == "typical_batch_10_spans" })
        #expect(c.spans.count == 10)
        let pb = OTLPEncoder.protobuf(c.spans, c.resourceScope)
        let json = OTLPEncoder.json(c.spans, c.resourceScope)
        print("typical 10-span batch: protobuf \(pb.count) bytes, OTLP/JSON \(json.count) bytes")
        #expect(pb.count < json.count)
    }

    // MARK: Support

    static func supportScript(_ name: String) -> String {
        VectorSupport.vectorsDirectory.deletingLastPathComponent().appendingPathComponent("support/" + name).path
    }

    /// Runs `python3` with `arguments`; returns the exit status and the combined output.
    static func runPython(_ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Why the opentelemetry-proto cross-check cannot run here, or nil when it can (printed when skipping).
    static let pythonProtoMissing: String? = {
        let reason: String?
        do {
            let (status, output) = try runPython([
                "-c", "import opentelemetry.proto.collector.trace.v1.trace_service_pb2",
            ])
            reason =
                status == 0 ? nil : "opentelemetry.proto is not importable: \(output.split(separator: "\n").last ?? "")"
        } catch {
            reason = "python3 could not be run: \(error)"
        }
        if let reason { print("skipping the opentelemetry-proto decode check: \(reason)") }
        return reason
    }()
}
