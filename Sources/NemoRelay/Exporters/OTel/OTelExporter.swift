// SPDX-License-Identifier: Apache-2.0
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension Exporter {
    /// Creates an OpenTelemetry trace exporter (docs/otel.md): events become spans of the configured
    /// projection on the registration's delivery thread, finished spans go to a bounded batch queue, and
    /// one export thread sends them over OTLP/HTTP (protobuf or JSON) or appends them to an OTLP file.
    public static func otel(_ config: OTelExporterConfig) throws(RelayError) -> Exporter {
        let transport: any OTelSpanTransport
        switch config.destination {
        case .http(let url, let json): transport = try OTLPHTTPTransport(config, url: url, json: json)
        case .file(let dir, let name, let proto, let append):
            transport = try OTLPFileTransport(config, directory: dir, filename: name, proto: proto, append: append)
        }
        let processor = try OTelBatchProcessor(
            transport: transport, maxQueue: config.maxQueueSize, maxBatch: config.maxExportBatchSize,
            delayMillis: config.scheduledDelayMillis)
        let sink = OTelSink(builder: OTelSpanBuilder(config: config.projection), processor: processor)
        return Exporter(kind: "otel", sink: sink, queueCapacity: config.queueCapacity)
    }

    /// Creates an OpenTelemetry trace exporter from a configuration object (``OTelExporterConfig/init(json:environment:)``).
    public static func otel(json: JSON) throws(RelayError) -> Exporter { try otel(OTelExporterConfig(json: json)) }
}

/// Builds spans from delivered events and hands finished ones to the batch processor.
final class OTelSink: EventSink, Sendable {
    /// Locked: registrations on several runtimes may deliver at once.
    private let builder: Mutex<OTelSpanBuilder>
    let processor: OTelBatchProcessor

    init(builder: OTelSpanBuilder, processor: OTelBatchProcessor) {
        self.builder = Mutex(builder)
        self.processor = processor
    }

    func consume(_ batch: [EventRecord]) {
        var finished: [OTelSpan] = []
        builder.withLock { builder in
            for r in batch {
                // A parent this builder never saw may be a parent imported from another process.
                let root = r.event.propagationRootUUID?.description
                finished.append(
                    contentsOf: builder.consume(r.event.json) { parent in
                        PropagationImports.remoteParent(parent, propagationRootUUID: root).map {
                            OTelRemoteParent(traceID: $0.traceID, spanID: $0.spanID, traceState: $0.traceState)
                        }
                    })
            }
        }
        processor.enqueue(finished)
    }

    func flush(deadline: Int64?) throws(RelayError) {
        if !processor.flush(deadline: deadline) {
            throw .timeout("OpenTelemetry export to \(processor.transport.destination) did not finish in time")
        }
        if let failure = processor.snapshot.lastFailure {
            throw RelayError(
                .export, "OpenTelemetry trace export to \(processor.transport.destination) failed: \(failure)")
        }
    }

    func close(deadline: Int64?) throws(RelayError) {
        let drained = processor.shutdown(deadline: deadline)
        let s = processor.snapshot
        if let failure = s.lastFailure {
            throw RelayError(
                .export, "OpenTelemetry trace export to \(processor.transport.destination) failed: \(failure)")
        }
        if !drained {
            throw .timeout("OpenTelemetry export to \(processor.transport.destination) did not finish in time")
        }
    }

    func diagnostics(into o: inout JSONObject) {
        let s = processor.snapshot
        o["destination"] = .string(processor.transport.destination)
        o["spans_exported"] = .uint(s.exported)
        o["spans_dropped"] = .uint(s.dropped)
        o["spans_failed"] = .uint(s.failedSpans)
        o["spans_rejected"] = .uint(s.rejected)
        o["spans_queued"] = .int(Int64(s.queued))
        o["exports_failed"] = .uint(s.failedExports)
        o["last_error"] = s.lastError.map { .string($0) } ?? .null
        // The reference's runtime diagnostics: {code, message, count}.
        var entries: [JSON] = []
        func add(_ code: String, _ message: String, _ count: UInt64) {
            guard count > 0 else { return }
            entries.append(["code": .string(code), "message": .string(message), "count": .uint(count)])
        }
        let dest = processor.transport.destination
        add(
            "otel.spans_dropped",
            "OpenTelemetry dropped spans before export to endpoint \(dest) because the batch queue was full", s.dropped)
        add("otel.traces_export_failed", "OpenTelemetry trace export to endpoint \(dest) failed", s.failedExports)
        for d in builder.withLock({ $0.diagnostics }) { add(d.code, d.message, UInt64(max(0, d.count))) }
        o["runtime_diagnostics"] = .array(entries)
    }
}

/// OTLP/HTTP: one request per batch with the OTLP retry rules (429, 502, 503, 504 and connection failures,
/// `Retry-After` honoured, exponential backoff with jitter).
final class OTLPHTTPTransport: OTelSpanTransport, Sendable {
    let client: HTTPClient
    let resource: OTelResourceScope
    let json: Bool
    let gzip: Bool
    let retry: RetryPolicy
    let timeoutNanos: Int64
    let destination: String

    init(_ config: OTelExporterConfig, url: String, json: Bool) throws(RelayError) {
        let endpoint = try HTTPEndpoint(parsing: url)
        let headers = try HTTPHeaders.resolve(
            headers: config.headers.map { (name: $0.0, value: $0.1) },
            headerEnv: config.headerEnv.map { (name: $0.0, variable: $0.1) })
        if !endpoint.isLoopback {
            // As in the reference: spans (prompts, headers) never travel in clear text over a network.
            throw .invalidArgument(
                "failed to build the OTLP exporter: OTLP trace endpoints require HTTPS; HTTP is allowed only for"
                    + " localhost or loopback IP addresses (this build has no TLS: export to a local collector)")
        }
        client = try HTTPClient(
            endpoint: endpoint, headers: headers,
            userAgent: "OTel-OTLP-Exporter-Swift/nemo-relay-\(RelayVersion.string)")
        path = endpoint.hasExplicitTarget ? endpoint.target : "/v1/traces"
        resource = config.resourceScope
        self.json = json
        gzip = config.gzip
        var r = RetryPolicy.otlp
        r.maxAttempts = config.maxAttempts
        retry = r
        timeoutNanos = Int64(config.timeoutMillis) * 1_000_000
        destination = "http://" + endpoint.authority
    }

    let path: String

    func export(_ spans: [OTelSpan], rejected: inout Int64, cancelled: @escaping () -> Bool) -> String? {
        var body = json ? OTLPEncoder.json(spans, resource) : OTLPEncoder.protobuf(spans, resource)
        var headers: [HTTPHeader] = []
        if gzip {
            guard let compressed = Gzip.compress(body) else { return "gzip compression failed" }
            body = compressed
            headers.append(HTTPHeader("Content-Encoding", "gzip"))
        }
        let outcome = client.perform(
            method: "POST", path: path, headers: headers,
            contentType: json ? "application/json" : "application/x-protobuf", body: body,
            policy: retry, attemptTimeoutNanos: max(1, timeoutNanos)
        ) { nanos in
            let end = monotonicNanos() &+ nanos
            while monotonicNanos() < end {
                if cancelled() { return false }
                var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
                nanosleep(&ts, nil)
            }
            return true
        }
        guard outcome.succeeded, let response = outcome.response else {
            return "\(outcome.errorText ?? "failed") after \(outcome.attempts) attempt(s)"
        }
        let partial =
            json
            ? try? OTLPEncoder.decodeResponse(json: response.body)
            : try? OTLPEncoder.decodeResponse(protobuf: response.body)
        if let p = partial ?? nil { rejected = p.rejectedSpans }
        return nil
    }

    func close() { client.close() }
}

/// OTLP to a file: one OTLP/JSON request per line, or length-prefixed protobuf requests; one `write(2)`
/// per batch, so a killed process leaves only whole records.
final class OTLPFileTransport: OTelSpanTransport, Sendable {
    let resource: OTelResourceScope
    let proto: Bool
    let destination: String
    /// The open file (closed: -1).
    private let fd: Mutex<Int32>

    init(_ config: OTelExporterConfig, directory: String, filename: String?, proto: Bool, append: Bool)
        throws(RelayError)
    {
        let name = filename ?? OTLPFileTransport.defaultFilename(proto: proto)
        var atof = ATOFExporterConfig()
        atof.outputDirectory = directory
        atof.filename = name
        atof.mode = append ? .append : .overwrite
        // The ATOF file sink's path rules and open flags apply as they are: confined, 0600, no symlinks.
        let sink = try ATOFFileSink(atof)
        destination = sink.path
        let fd = dup(sink.descriptor)
        self.fd = Mutex(fd)
        resource = config.resourceScope
        self.proto = proto
        try sink.close(deadline: nil)
        guard fd >= 0 else { throw RelayError(.export, "failed to open OTLP output file \"\(destination)\"") }
    }

    static func defaultFilename(proto: Bool, now: Nanoseconds = SystemClock().now()) -> String {
        let atof = ATOFExporterConfig.defaultFilename(now: now)
        let stamp = atof.dropFirst("nemo-relay-events-".count).dropLast(".jsonl".count)
        return "nemo-relay-otlp-\(stamp)" + (proto ? ".otlp.pb" : ".jsonl")
    }

    func export(_ spans: [OTelSpan], rejected: inout Int64, cancelled: @escaping () -> Bool) -> String? {
        var record: [UInt8]
        if proto {
            let body = OTLPEncoder.protobuf(spans, resource)
            let n = UInt32(truncatingIfNeeded: body.count)
            record = [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + body
        } else {
            record = OTLPEncoder.fileLine(spans, resource)
        }
        return fd.withLock { fd -> String? in
            guard fd >= 0 else { return "the OTLP output file is closed" }
            return ATOFFileSink.writeAll(fd, record).map {
                "failed to write OTLP output file \"\(destination)\": \($0)"
            }
        }
    }

    func close() {
        fd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}
