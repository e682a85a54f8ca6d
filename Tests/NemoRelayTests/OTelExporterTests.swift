// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization
import Testing

@testable import NemoRelay

/// A transport that records batches and fails or stalls on demand.
final class RecordingTransport: OTelSpanTransport, Sendable {
    private struct State {
        var batches: [[OTelSpan]] = []
        var failures: [String?] = []
        var stallSeconds: Double = 0
        var closed = false
    }
    private let state = Mutex(State())
    let destination = "test://transport"

    /// Answers for the next exports, in order (nil = success); afterwards every export succeeds.
    func script(_ answers: [String?]) { state.withLock { $0.failures = answers } }
    var batches: [[OTelSpan]] { state.withLock { $0.batches } }
    var closed: Bool { state.withLock { $0.closed } }
    var stallSeconds: Double {
        get { state.withLock { $0.stallSeconds } }
        set { state.withLock { $0.stallSeconds = newValue } }
    }

    func export(_ spans: [OTelSpan], rejected: inout Int64, cancelled: @escaping () -> Bool) -> String? {
        let end = Date().addingTimeInterval(stallSeconds)
        while Date() < end && !cancelled() { usleep(1000) }
        return state.withLock { s in
            s.batches.append(spans)
            return s.failures.isEmpty ? nil : s.failures.removeFirst()
        }
    }

    func close() { state.withLock { $0.closed = true } }
}

@Suite struct OTelExporterTests {
    static func span(_ i: Int) -> OTelSpan {
        OTelSpan(
            traceID: Array(repeating: 1, count: 16), spanID: [0, 0, 0, 0, 0, 0, 0, UInt8(i & 0xFF)], name: "s\(i)",
            startTimeUnixNano: UInt64(i), endTimeUnixNano: UInt64(i + 1))
    }

    static let env: @Sendable (String) -> String? = { _ in nil }

    @Test func configReadsTheReferenceKeysAndDefaults() throws {
        let c = try OTelExporterConfig(
            json: ["type": "gen_ai", "endpoint": "http://127.0.0.1:4318"], environment: Self.env)
        #expect(c.projection.type == .genAI)
        #expect(c.destination == .http(url: "http://127.0.0.1:4318", json: false))
        #expect(c.serviceName == "unknown_service" && c.instrumentationScope == "opentelemetry")
        #expect(c.timeoutMillis == 3000 && c.maxQueueSize == 2048 && c.maxExportBatchSize == 512)
        #expect(c.scheduledDelayMillis == 5000)
        #expect(c.projection.markExcludeNames == ["llm.chunk"] && c.projection.markProjection == .inherit)
        let rs = c.resourceScope
        #expect(rs.resourceAttributes.first == OTelAttribute("service.name", .string("unknown_service")))
        #expect(rs.scopeName == "opentelemetry")
    }

    @Test func configErrorsCarryTheReferenceMessages() {
        func message(_ o: JSONObject, _ env: [String: String] = [:]) -> String? {
            do {
                _ = try OTelExporterConfig(json: .object(o), environment: { env[$0] })
                return nil
            } catch { return error.displayText }
        }
        let ep: JSON = "http://127.0.0.1:4318"
        #expect(
            message(["type": "bogus", "endpoint": ep])
                == "invalid argument: type must be 'full', 'gen_ai', or 'openinference', got \"bogus\"")
        #expect(
            message(["type": "full", "endpoint": " "]) == "invalid argument: endpoint is required and must be nonblank")
        #expect(message(["type": "full"]) == "invalid argument: endpoint is required and must be nonblank")
        #expect(
            message(["type": "full", "endpoint": ep, "transport": "x"])
                == "invalid argument: transport must be 'http_binary' or 'http_json', got \"x\"")
        #expect(message(["type": "full", "endpoint": ep, "transport": "grpc"])?.contains("not supported") == true)
        #expect(
            message(["type": "full", "endpoint": ep, "mark_projection": "Tool"])
                == "invalid argument: unknown variant `Tool`, expected one of `inherit`, `event`, `tool`")
        #expect(
            message(["type": "full", "endpoint": ep, "completed_span_context_ttl_millis": 0])
                == "invalid argument: completed_span_context_ttl must be greater than 0")
        #expect(
            message(["type": "full", "endpoint": ep], ["OTEL_EXPORTER_OTLP_HEADERS": "a=b"])?
                .contains("OTEL_EXPORTER_OTLP_HEADERS is not supported because process-global OTLP headers") == true)
        #expect(message(["type": "full", "endpoint": ep], ["OTEL_EXPORTER_OTLP_TRACES_HEADERS": ""]) == nil)
        #expect(
            message([
                "type": "full", "endpoint": ep,
                "attribute_mappings": [["key": "a", "alias": "x"], ["key": "b", "alias": "x"]],
            ])
                == "invalid argument: attribute mapping alias \"x\" is duplicated")
        #expect(
            message(["type": "full", "endpoint": ep, "promote_metadata_prefixes": ["app.", "app."]])
                == "invalid argument: metadata promotion prefix \"app.\" is duplicated")
        #expect(
            message(["type": "full", "output_directory": "/tmp", "filename": "a/b.jsonl"])
                == "invalid argument: filename must be a single path component")
        #expect(
            message(["type": "full", "output_directory": "/tmp", "format": "json"])
                == "invalid argument: format must be 'json_lines' or 'proto', got \"json\"")
        #expect(message(["type": "full", "endpoint": ep, "typo": 1]) != nil)
    }

    @Test func batchKnobsFallBackToTheEnvironment() throws {
        let env = [
            "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10", "OTEL_BSP_SCHEDULE_DELAY": "250",
        ]
        let c = try OTelExporterConfig(
            json: ["type": "full", "endpoint": "http://127.0.0.1:1"], environment: { env[$0] })
        #expect(c.maxQueueSize == 100 && c.maxExportBatchSize == 10 && c.scheduledDelayMillis == 250)
        let d = try OTelExporterConfig(
            json: ["type": "full", "endpoint": "http://127.0.0.1:1", "max_export_batch_size": 7],
            environment: { env[$0] })
        #expect(d.maxExportBatchSize == 7)
    }

    @Test func aFullBatchIsSentAtOnceAndTheRestAtFlush() throws {
        let t = RecordingTransport()
        let p = try OTelBatchProcessor(transport: t, maxQueue: 100, maxBatch: 10, delayMillis: 60_000)
        p.enqueue((0..<25).map(Self.span))
        let deadline = Date().addingTimeInterval(5)
        while t.batches.count < 2 && Date() < deadline { usleep(1000) }
        #expect(t.batches.map(\.count) == [10, 10])
        #expect(p.flush(deadline: monotonicNanos() + 5_000_000_000))
        #expect(t.batches.map(\.count) == [10, 10, 5])
        #expect(t.batches.flatMap { $0 }.map(\.name) == (0..<25).map { "s\($0)" })
        #expect(p.shutdown(deadline: monotonicNanos() + 5_000_000_000))
        usleep(50_000)
        #expect(t.closed)
    }

    @Test func aPartialBatchLeavesAfterTheScheduledDelay() throws {
        let t = RecordingTransport()
        let p = try OTelBatchProcessor(transport: t, maxQueue: 100, maxBatch: 10, delayMillis: 100)
        p.enqueue([Self.span(1)])
        let deadline = Date().addingTimeInterval(5)
        while t.batches.isEmpty && Date() < deadline { usleep(1000) }
        #expect(t.batches.map(\.count) == [1])
        _ = p.shutdown(deadline: nil)
    }

    /// Regression: spans queued while the export thread slept on an empty queue waited for a full
    /// batch or a flush instead of the scheduled delay.
    @Test func spansAfterAnIdlePeriodLeaveAfterTheScheduledDelay() throws {
        let t = RecordingTransport()
        let p = try OTelBatchProcessor(transport: t, maxQueue: 100, maxBatch: 10, delayMillis: 50)
        usleep(200_000)  // the export thread is now asleep on the empty queue
        p.enqueue([Self.span(1)])
        let deadline = Date().addingTimeInterval(5)
        while t.batches.isEmpty && Date() < deadline { usleep(1000) }
        #expect(t.batches.map(\.count) == [1])
        p.enqueue([Self.span(2)])
        while t.batches.count < 2 && Date() < deadline { usleep(1000) }
        #expect(t.batches.map(\.count) == [1, 1])
        _ = p.shutdown(deadline: nil)
    }

    @Test func aFullQueueDropsAndCounts() throws {
        let t = RecordingTransport()
        t.stallSeconds = 0.3
        let p = try OTelBatchProcessor(transport: t, maxQueue: 20, maxBatch: 10, delayMillis: 60_000)
        p.enqueue((0..<10).map(Self.span))  // taken by the export thread (stalls)
        usleep(50_000)
        p.enqueue((10..<40).map(Self.span))  // 20 fit, 10 dropped
        #expect(p.snapshot.dropped == 10)
        #expect(p.flush(deadline: monotonicNanos() + 10_000_000_000))
        #expect(t.batches.flatMap { $0 }.count == 30)
        _ = p.shutdown(deadline: nil)
    }

    @Test func aFailureIsReportedUntilALaterExportSucceeds() throws {
        let t = RecordingTransport()
        t.script(["HTTP 503 after 5 attempt(s)"])
        let p = try OTelBatchProcessor(transport: t, maxQueue: 100, maxBatch: 10, delayMillis: 60_000)
        let sink = OTelSink(builder: OTelSpanBuilder(config: OTelProjectionConfig(type: .full)), processor: p)
        p.enqueue([Self.span(1)])
        #expect(throws: RelayError.self) { try sink.flush(deadline: monotonicNanos() + 5_000_000_000) }
        #expect(throws: RelayError.self) { try sink.flush(deadline: monotonicNanos() + 5_000_000_000) }
        p.enqueue([Self.span(2)])
        try sink.flush(deadline: monotonicNanos() + 5_000_000_000)
        var o = JSONObject()
        sink.diagnostics(into: &o)
        #expect(o["exports_failed"] == .int(1) && o["spans_exported"] == .int(1) && o["spans_failed"] == .int(1))
        let codes = o["runtime_diagnostics"]?.arrayValue?.compactMap { $0["code"]?.stringValue }
        #expect(codes == ["otel.traces_export_failed"])
        try sink.close(deadline: nil)
    }

    @Test func shutdownIsBoundedWhileAnExportHangs() throws {
        let t = RecordingTransport()
        t.stallSeconds = 30
        let p = try OTelBatchProcessor(transport: t, maxQueue: 100, maxBatch: 1, delayMillis: 60_000)
        p.enqueue([Self.span(1), Self.span(2)])
        usleep(20_000)
        let start = Date()
        #expect(!p.shutdown(deadline: monotonicNanos() + 300_000_000))
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(p.snapshot.dropped == 1)  // the span still queued; the stalled one is cancelled
        let deadline = Date().addingTimeInterval(5)
        while !t.closed && Date() < deadline { usleep(1000) }
        #expect(t.closed)
    }

    @Test func theFileSinkWritesOTLPJSONLinesUnderTheATOFPathRules() throws {
        let dir = NSTemporaryDirectory() + "otel-\(UUID().uuidString)"
        let c = try OTelExporterConfig(
            json: ["type": "full", "output_directory": .string(dir), "filename": "t.jsonl"], environment: Self.env)
        let t = try OTLPFileTransport(c, directory: dir, filename: "t.jsonl", proto: false, append: false)
        #expect(t.destination == dir + "/t.jsonl")
        var rejected: Int64 = 0
        #expect(t.export([Self.span(1)], rejected: &rejected, cancelled: { false }) == nil)
        #expect(t.export([Self.span(2), Self.span(3)], rejected: &rejected, cancelled: { false }) == nil)
        t.close()
        let text = try String(contentsOfFile: dir + "/t.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines { #expect((try? JSON.parse(String(line))) != nil) }
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/t.jsonl")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(
            OTLPFileTransport.defaultFilename(proto: true, now: 1_772_368_496_123_456_000)
                == "nemo-relay-otlp-2026-03-01-12.34.56.otlp.pb")
    }

    @Test func gzipMembersAreWellFormed() throws {
        let input = Array(String(repeating: "span data ", count: 1000).utf8)
        let gz = try #require(Gzip.compress(input))
        #expect(Array(gz.prefix(4)) == [0x1F, 0x8B, 8, 0])
        #expect(gz.count < input.count / 10)
        let size = gz.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(size == UInt32(input.count))
        #expect(Gzip.compress([])?.count == 20)
        #expect(throws: RelayError.self) {
            _ = try OTelExporterConfig(
                json: ["type": "full", "endpoint": "http://127.0.0.1:1", "compression": "br"], environment: Self.env)
        }
    }

    @Test func nonLoopbackHTTPIsRefusedAsInTheReference() {
        #expect(throws: RelayError.self) {
            _ = try Exporter.otel(json: ["type": "full", "endpoint": "http://example.com:4318"])
        }
        #expect(throws: RelayError.self) {
            _ = try Exporter.otel(json: ["type": "full", "endpoint": "https://example.com:4318"])
        }
    }
}
