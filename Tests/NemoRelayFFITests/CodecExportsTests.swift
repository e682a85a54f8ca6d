// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import Foundation
import NemoRelay
import Testing

@testable import NemoRelayFFI

/// Runs every golden codec vector through the C entry points (`nemo_relay_codec_*`).
@Suite struct CodecExportsTests {
    static var vectors: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors")
    }

    /// Calls an export that writes `char **out, size_t *out_len`; returns the status and the text.
    static func call(_ body: (OutString, UnsafeMutablePointer<Int>) -> Int32) -> (Int32, JSON?, String) {
        var out: UnsafeMutablePointer<CChar>?
        var len = 0
        let rc = body(&out, &len)
        defer { CNemoRelay.nemo_relay_free(out) }
        guard rc == NEMO_RELAY_OK, let out else {
            return (rc, nil, String(cString: CNemoRelay.nemo_relay_last_error_message()))
        }
        let bytes = out.withMemoryRebound(to: UInt8.self, capacity: len) {
            Array(UnsafeBufferPointer(start: $0, count: len))
        }
        return (rc, try? JSON.parse(bytes), "")
    }

    static func run(file: String) throws -> (Int, [String]) {
        let root = try JSON.parse([UInt8](Data(contentsOf: vectors.appendingPathComponent(file))))
        guard case .array(let cases) = root else { return (0, ["not an array"]) }
        var failures: [String] = []
        var codecs: [String: OpaquePointer] = [:]
        defer { for c in codecs.values { CNemoRelay.nemo_relay_codec_free(c) } }
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let id = c["codec"]?.stringValue ?? ""
            if codecs[id] == nil {
                var h: OpaquePointer?
                #expect(CNemoRelay.nemo_relay_codec_builtin(&h, id) == NEMO_RELAY_OK)
                codecs[id] = h
            }
            let codec = codecs[id]
            let input = c["input"] ?? .null
            let request = Array(LLMRequest(content: input).json.serialized())
            let result: (Int32, JSON?, String)
            switch c["op"]?.stringValue {
            case "decode":
                result = call { o, l in
                    request.withUnsafeBufferPointer { b in
                        b.withMemoryRebound(to: CChar.self) {
                            CNemoRelay.nemo_relay_codec_decode(o, l, codec, $0.baseAddress, $0.count)
                        }
                    }
                }
            case "encode":
                let ann = Array((c["annotated"] ?? .null).serialized())
                let r = call { o, l in
                    ann.withUnsafeBufferPointer { a in
                        request.withUnsafeBufferPointer { b in
                            a.withMemoryRebound(to: CChar.self) { ac in
                                b.withMemoryRebound(to: CChar.self) { bc in
                                    CNemoRelay.nemo_relay_codec_encode(
                                        o, l, codec, ac.baseAddress, ac.count, bc.baseAddress, bc.count)
                                }
                            }
                        }
                    }
                }
                result = (r.0, r.1?["content"], r.2)
            default:
                let resp = Array(input.serialized())
                result = call { o, l in
                    resp.withUnsafeBufferPointer { b in
                        b.withMemoryRebound(to: CChar.self) {
                            CNemoRelay.nemo_relay_codec_decode_response(o, l, codec, $0.baseAddress, $0.count)
                        }
                    }
                }
            }
            if c["expected_error"]?.boolValue == true {
                if result.0 == NEMO_RELAY_OK {
                    failures.append("\(name): expected an error")
                } else if !result.2.contains(": ") {
                    failures.append("\(name): error text lacks its class prefix: \(result.2)")
                }
            } else if result.0 != NEMO_RELAY_OK {
                failures.append("\(name): status \(result.0): \(result.2)")
            } else if result.1 != c["expected"] {
                failures.append("\(name): mismatch: \(result.1?.jsonString(sortedKeys: true) ?? "nil")")
            }
        }
        return (cases.count, failures)
    }

    @Test(arguments: BuiltinCodecs.ids)
    func vectorsPassThroughTheCABI(_ name: String) throws {
        let (n, failures) = try Self.run(file: name + ".json")
        print("\(name) vectors through the C ABI: \(n - failures.count) passed, \(failures.count) failed")
        for f in failures { Issue.record(Comment(rawValue: f)) }
        #expect(n > 0)
    }

    @Test func unknownCodecAndBadHandles() {
        var h: OpaquePointer?
        #expect(CNemoRelay.nemo_relay_codec_builtin(&h, "gemini_nope") == NEMO_RELAY_E_NOT_FOUND)
        #expect(CNemoRelay.nemo_relay_codec_builtin(&h, nil) == NEMO_RELAY_E_INVALID_ARGUMENT)
        // The issue's name for the OCI codec is accepted too; the codec reports the reference's id.
        #expect(CNemoRelay.nemo_relay_codec_builtin(&h, "oci_genai_chat") == NEMO_RELAY_OK)
        let body = #"{"content":{"messages":[]}}"#
        let oci = Self.call { o, l in CNemoRelay.nemo_relay_codec_decode(o, l, h, body, body.utf8.count) }
        #expect(oci.0 == NEMO_RELAY_OK)
        #expect(oci.1?["api_specific"]?["api"] == "oci_genai")
        CNemoRelay.nemo_relay_codec_free(h)
        let r = Self.call { o, l in CNemoRelay.nemo_relay_codec_decode(o, l, nil, "{}", 2) }
        #expect(r.0 == NEMO_RELAY_E_MISUSE)
        #expect(CNemoRelay.nemo_relay_codec_builtin(&h, "openai_chat") == NEMO_RELAY_OK)
        let bad = Self.call { o, l in CNemoRelay.nemo_relay_codec_decode(o, l, h, "{\"content\":", 11) }
        #expect(bad.0 == NEMO_RELAY_E_INVALID_JSON)
        let missing = Self.call { o, l in CNemoRelay.nemo_relay_codec_decode(o, l, h, "{\"content\":{}}", 14) }
        #expect(missing.0 == NEMO_RELAY_E_INVALID_ARGUMENT)
        #expect(missing.2 == "invalid argument: OpenAI Chat request is missing messages")
        CNemoRelay.nemo_relay_codec_free(h)
        let freed = Self.call { o, l in CNemoRelay.nemo_relay_codec_decode(o, l, h, "{}", 2) }
        #expect(freed.0 == NEMO_RELAY_E_MISUSE)
    }

    @Test func chunkSummaryThroughTheCABI() {
        let chunk = #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#
        let r = Self.call { o, l in CNemoRelay.nemo_relay_chunk_summary(o, l, chunk, chunk.utf8.count, 2) }
        #expect(r.0 == NEMO_RELAY_OK)
        #expect(
            r.1 == [
                "chunk_index": 2, "event_type": "content_block_delta", "indices": ["index": 0],
                "provider": "anthropic_messages",
            ])
    }
}

/// A custom codec built from C callbacks, used wherever a built-in is.
@Suite struct CustomCodecTests {
    static let decodeFn: nemo_relay_callback_fn = { token, json, len, _ in
        // Annotate as {"messages": [], "tenant": <content.tenant>}.
        let bytes = json!.withMemoryRebound(to: UInt8.self, capacity: len) {
            Array(UnsafeBufferPointer(start: $0, count: len))
        }
        let req = (try? JSON.parse(bytes)) ?? .null
        if req["content"]?["boom"] != nil {
            let err = #"{"type":"KeyError","message":"'x'"}"#
            _ = CNemoRelay.nemo_relay_complete(token, Int32(NEMO_RELAY_E_CALLBACK), err, err.utf8.count)
            return Int32(NEMO_RELAY_E_CALLBACK)
        }
        let out = Array((["messages": [], "tenant": req["content"]?["tenant"] ?? .null] as JSON).serialized())
        return out.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) {
                CNemoRelay.nemo_relay_complete(token, Int32(NEMO_RELAY_OK), $0.baseAddress, $0.count)
            }
        }
    }

    @Test func customCodecDecodesAndWrapsFailures() {
        var codec: OpaquePointer?
        var cbs = nemo_relay_codec_callbacks_t()
        cbs.version = UInt32(NEMO_RELAY_CODEC_CALLBACKS_VERSION)
        cbs.decode = nemo_relay_callback_t(fn: Self.decodeFn, user_data: nil, user_data_free: nil)
        #expect(CNemoRelay.nemo_relay_codec_new(&codec, "framework", &cbs) == NEMO_RELAY_OK)
        let ok = CodecExportsTests.call { o, l in
            let t = #"{"content":{"tenant":"t1"}}"#
            return CNemoRelay.nemo_relay_codec_decode(o, l, codec, t, t.utf8.count)
        }
        #expect(ok.0 == NEMO_RELAY_OK)
        #expect(ok.1?["tenant"] == "t1")
        let fail = CodecExportsTests.call { o, l in
            let t = #"{"content":{"boom":1}}"#
            return CNemoRelay.nemo_relay_codec_decode(o, l, codec, t, t.utf8.count)
        }
        #expect(fail.0 == NEMO_RELAY_E_INTERNAL)
        #expect(fail.2 == "internal error: Codec decode() failed: KeyError: 'x'")
        let noEncode = CodecExportsTests.call { o, l in
            CNemoRelay.nemo_relay_codec_encode(o, l, codec, "{}", 2, #"{"content":{}}"#, 14)
        }
        #expect(noEncode.0 == NEMO_RELAY_E_INVALID_ARGUMENT)
        CNemoRelay.nemo_relay_codec_free(codec)
    }
}
