// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// ATOF stream sinks against the scripted loopback receiver (Tests/support/http_receiver.py).
@Suite(.serialized) struct ATOFStreamSinkTests {
    static func streamExporter(_ url: String, _ extra: JSONObject = [:]) throws -> Exporter {
        var o: JSONObject = ["sink_type": "stream", "url": .string(url), "timeout_millis": 2000]
        extra.forEach { k, v in o[k] = v }
        return try Exporter.atof(ATOFExporterConfig(json: .object(o)))
    }

    /// Every line the receiver got, in arrival order.
    static func receivedLines(_ rx: HTTPReceiver) throws -> [String] {
        try rx.requests().flatMap { r in
            String(decoding: HTTPReceiver.body(r), as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    @Test func httpPostSendsEveryLineAsTheSubscriberSeesIt() throws {
        let rx = try HTTPReceiver()
        let (rt, collector) = makeRuntime()
        let e = try Self.streamExporter(rx.url, ["headers": ["X-Api-Key": "k1"]])
        try e.register(on: rt, name: "stream")
        let s = ScopeStack()
        for i in 0..<150 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        try e.flush(timeoutNanos: 10_000_000_000)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(try Self.receivedLines(rx) == collector.lines)
        let first = try #require(try rx.requests().first)
        #expect(HTTPReceiver.header(first, "content-type") == "application/x-ndjson")
        #expect(HTTPReceiver.header(first, "x-api-key") == "k1")
        // Batched: fewer requests than events.
        #expect(try rx.requests().count < 150)
        #expect(e.diagnostics["events_sent"] == .int(150))
        try e.shutdown()
    }

    @Test func retryableAnswersLoseNothing() throws {
        let rx = try HTTPReceiver(script: #"[{"status":503},{"status":429,"retry_after":"0"},{"drop":true}]"#)
        let rt = Runtime()
        let e = try Self.streamExporter(rx.url)
        try e.register(on: rt, name: "stream")
        rt.mark("only", stack: ScopeStack())
        try e.flush(timeoutNanos: 20_000_000_000)
        let lines = try Self.receivedLines(rx)
        #expect(lines.count == 4)  // the same batch four times: three failures, then 200
        #expect(Set(lines).count == 1)
        #expect(e.diagnostics["events_sent"] == .int(1))
        // The dropped connection may be replayed by the client itself (a reused connection that died).
        #expect((e.diagnostics["retries"]?.int64Value ?? 0) >= 2)
        #expect(e.diagnostics["events_failed"] == .int(0))
        try e.shutdown()
    }

    @Test func aRejectedBatchIsCountedAndReportedNotRetried() throws {
        let rx = try HTTPReceiver(script: #"[{"status":400}]"#)
        let rt = Runtime()
        let e = try Self.streamExporter(rx.url)
        try e.register(on: rt, name: "stream")
        rt.mark("bad", stack: ScopeStack())
        #expect(throws: RelayError.self) { try e.flush(timeoutNanos: 10_000_000_000) }
        #expect(try rx.requests().count == 1)
        #expect(e.diagnostics["events_failed"] == .int(1))
        #expect(e.diagnostics["last_error"]?.stringValue?.contains("400") == true)
        #expect(throws: RelayError.self) { try e.shutdown() }
    }

    @Test func beyondTheRetryBudgetEventsAreDroppedAndCounted() throws {
        let rx = try HTTPReceiver(script: #"{"script":[],"default":{"status":503}}"#)
        let rt = Runtime()
        let e = try Self.streamExporter(rx.url, ["max_attempts": 2])
        try e.register(on: rt, name: "stream")
        rt.mark("lost", stack: ScopeStack())
        #expect(throws: RelayError.self) { try e.flush(timeoutNanos: 20_000_000_000) }
        #expect(try rx.requests().count == 2)
        #expect(e.diagnostics["events_failed"] == .int(1))
        _ = try? e.shutdown()
    }

    @Test func aHungEndpointNeverSlowsTheEmitterAndShutdownIsBounded() throws {
        let rx = try HTTPReceiver(script: #"{"script":[],"default":{"hang_ms":20000}}"#)
        let rt = Runtime()
        let e = try Self.streamExporter(rx.url, ["timeout_millis": 300, "queue_capacity": 100])
        try e.register(on: rt, name: "stream")
        let s = ScopeStack()
        let start = monotonicNanos()
        for _ in 0..<10_000 { rt.mark("m", stack: s) }
        let emit = seconds(since: start)
        #expect(emit < 2, "emitting took \(emit) s")
        #expect(e.droppedEvents > 0)  // the queue is bounded: overflow is dropped and counted
        let t0 = monotonicNanos()
        _ = try? e.shutdown(timeoutNanos: 1_000_000_000)
        let took = seconds(since: t0)
        #expect(took < 3, "shutdown took \(took) s")
    }

    @Test func ndjsonStreamsOneUploadAndFinishesItAtShutdown() throws {
        let rx = try HTTPReceiver()
        let (rt, collector) = makeRuntime()
        let e = try Self.streamExporter(rx.url, ["transport": "ndjson"])
        try e.register(on: rt, name: "nd")
        let s = ScopeStack()
        for i in 0..<100 { rt.mark("m", stack: s, data: ["i": .int(Int64(i))]) }
        try e.flush(timeoutNanos: 10_000_000_000)
        try e.shutdown()
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        let reqs = try rx.requests()
        #expect(reqs.count == 1)
        #expect(reqs.first?["chunked"] as? Bool == true)
        #expect(reqs.first?["complete"] as? Bool == true)
        #expect(try Self.receivedLines(rx) == collector.lines)
    }

    @Test func configurationErrors() {
        func message(_ o: JSONObject) -> String? {
            do {
                _ = try Exporter.atof(ATOFExporterConfig(json: .object(o)))
                return nil
            } catch { return error.displayText }
        }
        #expect(message(["sink_type": "stream"]) == "invalid argument: stream sink requires url")
        #expect(
            message(["sink_type": "stream", "url": "https://example.com/x"])?.contains("TLS is not supported") == true)
        #expect(
            message(["sink_type": "stream", "url": "not a url"])?.hasPrefix(
                "invalid argument: invalid ATOF streaming endpoint: ") == true)
        #expect(
            message(["sink_type": "stream", "url": "http://example.com/x", "headers": ["authorization": "t"]])
                == "invalid argument: invalid ATOF streaming endpoint: configured headers require https for remote"
                + " endpoints; http is allowed only for localhost or loopback IP addresses")
        #expect(
            message([
                "sink_type": "stream", "url": "http://127.0.0.1:9/x",
                "header_env": ["authorization": "NR_TEST_UNSET_VAR"],
            ])
                == "invalid argument: invalid ATOF streaming endpoint: environment variable \"NR_TEST_UNSET_VAR\" for header \"authorization\" is not set"
        )
        #expect(message(["sink_type": "stream", "url": "http://127.0.0.1:9/x", "transport": "websocket"]) != nil)
        #expect(
            message(["sink_type": "stream", "url": "http://127.0.0.1:9/x", "timeout_millis": 0])
                == "invalid argument: invalid ATOF streaming endpoint: endpoint timeout_millis must be greater than 0")
        // A dead endpoint is not a configuration error: nothing connects before the first batch.
        #expect(message(["sink_type": "stream", "url": "http://127.0.0.1:9/x"]) == nil)
    }

    @Test func replaceDotsFollowsTheReferenceRule() throws {
        func run(_ text: String) throws -> String {
            FieldNames.replacingDots(try JSON.parse(text)).jsonString(sortedKeys: true)
        }
        #expect(
            try run(#"{"a.b":1,"a_b":2,"x":{"c.d":[{"e.f":3}],"c_d":4,"c_d_2":5},"z_y":6,"z.y":7,"m.n.o":8}"#)
                == #"{"a_b":1,"a_b_2":2,"m_n_o":8,"x":{"c_d":[{"e_f":3}],"c_d_2":4,"c_d_2_2":5},"z_y":7,"z_y_2":6}"#)
        #expect(try run(#"{"b_c":1,"b.c":2,"b_c_2":3,"b.c_2":4}"#) == #"{"b_c":2,"b_c_2":4,"b_c_2_2":3,"b_c_3":1}"#)
        #expect(try run(#"["a.b",{"p.q":1}]"#) == #"["a.b",{"p_q":1}]"#)
        #expect(try run(#"{"":1,".":2,"_":3}"#) == #"{"":1,"_":2,"__2":3}"#)
    }
}
