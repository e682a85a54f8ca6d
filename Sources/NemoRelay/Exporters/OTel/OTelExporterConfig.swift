// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#endif

/// The configuration of an OpenTelemetry trace exporter (docs/otel.md): one projection, one destination
/// (an OTLP/HTTP endpoint or an OTLP file), the resource, and the batch processor's knobs.
///
/// ``init(json:)`` reads the reference's key names (`OpenTelemetryConfig` and
/// `OpenTelemetryFileSinkConfig`), which is how the C ABI and the bindings pass it.
public struct OTelExporterConfig: Sendable {
    /// Where spans go.
    public enum Destination: Sendable, Equatable {
        /// OTLP/HTTP to an endpoint; `json` selects the OTLP/JSON encoding instead of protobuf.
        case http(url: String, json: Bool)
        /// OTLP to a local file: JSON lines, or length-prefixed protobuf (`proto`).
        case file(directory: String, filename: String?, proto: Bool, append: Bool)
    }

    public var projection: OTelProjectionConfig
    public var destination: Destination
    public var serviceName: String = "unknown_service"
    public var serviceNamespace: String?
    public var serviceVersion: String?
    public var instrumentationScope: String = "opentelemetry"
    public var resourceAttributes: [(String, String)] = []
    public var headers: [(String, String)] = []
    public var headerEnv: [(String, String)] = []
    /// Per-request timeout (default 3000 ms).
    public var timeoutMillis: Int = 3000
    /// Finished spans kept for export; more are dropped and counted (`otel.spans_dropped`).
    public var maxQueueSize: Int = 2048
    /// Spans per export request.
    public var maxExportBatchSize: Int = 512
    /// How long a partial batch waits before it is exported.
    public var scheduledDelayMillis: Int = 5000
    /// Compress request bodies with gzip (`Content-Encoding: gzip`); needs the system's zlib.
    public var gzip = false
    /// Attempts per batch, the first included: 429, 502, 503, 504 and connection failures are retried.
    public var maxAttempts: Int = 5
    /// Undelivered events kept per registration before new ones are dropped.
    public var queueCapacity: Int = 65_536

    /// A configuration for `type` sending to `endpoint` with every other value at its default.
    public init(type: OTelProjectionType, endpoint: String) {
        projection = OTelProjectionConfig(type: type)
        destination = .http(url: endpoint, json: false)
    }

    /// Reads a configuration object. An `endpoint` selects OTLP/HTTP, an `output_directory` the file sink.
    ///
    /// The batch knobs fall back to `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and
    /// `OTEL_BSP_SCHEDULE_DELAY`; process-wide `OTEL_EXPORTER_OTLP_HEADERS` and
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` are refused, as in the reference, because they would leak one
    /// endpoint's credentials to every other.
    public init(json: JSON, environment: (String) -> String? = HTTPHeaders.processEnvironment) throws(RelayError) {
        guard let o = json.objectValue else { throw .invalidArgument("OpenTelemetry config must be a JSON object") }
        var r = ConfigReader(o, "OpenTelemetry config")
        let typeName = try r.string("type") ?? ""
        guard let type = OTelProjectionType(rawValue: typeName) else {
            throw .invalidArgument("type must be 'full', 'gen_ai', or 'openinference', got \"\(typeName)\"")
        }
        projection = OTelProjectionConfig(type: type)
        let endpoint = try r.string("endpoint")
        let directory = try r.string("output_directory")
        let transport = try r.string("transport") ?? "http_binary"
        switch (endpoint, directory) {
        case (let e?, nil):
            guard !e.allSatisfy({ $0 == " " || $0 == "\t" }) else {
                throw .invalidArgument("endpoint is required and must be nonblank")
            }
            switch transport {
            case "http_binary": destination = .http(url: e, json: false)
            case "http_json": destination = .http(url: e, json: true)
            case "grpc":
                throw .invalidArgument("transport 'grpc' is not supported by this build; use 'http_binary'")
            default:
                throw .invalidArgument("transport must be 'http_binary' or 'http_json', got \"\(transport)\"")
            }
        case (nil, let d?):
            let filename = try r.string("filename")
            if let f = filename, f.isEmpty || f.contains("/") || f == "." || f == ".." {
                throw .invalidArgument("filename must be a single path component")
            }
            let format = try r.string("format") ?? "json_lines"
            guard format == "json_lines" || format == "proto" else {
                throw .invalidArgument("format must be 'json_lines' or 'proto', got \"\(format)\"")
            }
            let mode = try r.string("mode") ?? "overwrite"
            guard mode == "append" || mode == "overwrite" else {
                throw .invalidArgument("mode must be 'append' or 'overwrite', got \"\(mode)\"")
            }
            destination = .file(directory: d, filename: filename, proto: format == "proto", append: mode == "append")
        case (nil, nil): throw .invalidArgument("endpoint is required and must be nonblank")
        case (_?, _?): throw .invalidArgument("give either endpoint or output_directory, not both")
        }
        if let s = try r.string("service_name") { serviceName = s }
        serviceNamespace = try r.string("service_namespace")
        serviceVersion = try r.string("service_version")
        if let s = try r.string("instrumentation_scope") { instrumentationScope = s }
        resourceAttributes = try r.stringMap("resource_attributes")
        headers = try r.stringMap("headers")
        headerEnv = try r.stringMap("header_env")
        if let n = try r.integer("timeout_millis", 0...86_400_000) { timeoutMillis = n }
        if let n = try r.integer("completed_span_context_ttl_millis", 0...86_400_000) {
            guard n > 0 else { throw .invalidArgument("completed_span_context_ttl must be greater than 0") }
            projection.completedSpanContextTTLNanos = Int64(n) * 1_000_000
        }
        if let s = try r.string("mark_projection") {
            guard let m = OTelMarkProjection(rawValue: s) else {
                throw .invalidArgument("unknown variant `\(s)`, expected one of `inherit`, `event`, `tool`")
            }
            projection.markProjection = m
        }
        if let names = try r.stringList("mark_exclude_names") { projection.markExcludeNames = names }
        if let prefixes = try r.stringList("promote_metadata_prefixes") {
            var seen: Set<String> = []
            for p in prefixes {
                if p.allSatisfy({ $0 == " " }) { throw .invalidArgument("metadata promotion prefix must not be blank") }
                if !seen.insert(p).inserted {
                    throw .invalidArgument("metadata promotion prefix \"\(p)\" is duplicated")
                }
            }
            projection.promoteMetadataPrefixes = prefixes
        }
        _ = try r.stringList("promote_resource_metadata_prefixes")
        if let mappings = r.json("attribute_mappings") {
            guard let list = mappings.arrayValue else {
                throw .invalidArgument("attribute_mappings must be a list of mappings")
            }
            var aliases: Set<String> = []
            for m in list {
                guard let key = m["key"]?.stringValue, let alias = m["alias"]?.stringValue else {
                    throw .invalidArgument("attribute_mappings must be a list of mappings with string key and alias")
                }
                if alias.allSatisfy({ $0 == " " }) {
                    throw .invalidArgument("attribute mapping alias must not be blank")
                }
                if !aliases.insert(alias).inserted {
                    throw .invalidArgument("attribute mapping alias \"\(alias)\" is duplicated")
                }
                projection.attributeMappings.append((key: key, alias: alias))
            }
        }
        func knob(_ key: String, _ env: String, _ range: ClosedRange<Int>) throws(RelayError) -> Int? {
            if let n = try r.integer(key, range) { return n }
            guard let text = environment(env), let n = Int(text.trimmingSpaces), range.contains(n) else { return nil }
            return n
        }
        if let n = try knob("max_queue_size", "OTEL_BSP_MAX_QUEUE_SIZE", 1...(1 << 24)) { maxQueueSize = n }
        if let n = try knob("max_export_batch_size", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1...(1 << 24)) {
            maxExportBatchSize = n
        }
        if let n = try knob("scheduled_delay_millis", "OTEL_BSP_SCHEDULE_DELAY", 0...86_400_000) {
            scheduledDelayMillis = n
        }
        maxExportBatchSize = min(maxExportBatchSize, maxQueueSize)
        if let c = try r.string("compression") {
            guard c == "none" || c == "gzip" else {
                throw .invalidArgument("compression must be 'none' or 'gzip', got \"\(c)\"")
            }
            if c == "gzip" && !Gzip.isAvailable {
                throw .invalidArgument(
                    "gzip compression needs the system's zlib (libz.so.1), which could not be loaded")
            }
            gzip = c == "gzip"
        }
        if let n = try r.integer("max_attempts", 1...100) { maxAttempts = n }
        if let n = try r.integer("queue_capacity", 1...(1 << 30)) { queueCapacity = n }
        try r.finish()
        if case .http = destination {
            for variable in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
                if let v = environment(variable), !v.isEmpty {
                    throw .invalidArgument(
                        "\(variable) is not supported because process-global OTLP headers can leak across"
                            + " endpoints; use the endpoint headers or header_env configuration")
                }
            }
        }
    }

    /// The resource and scope every exported span carries.
    public var resourceScope: OTelResourceScope {
        var attrs = [OTelAttribute("service.name", .string(serviceName))]
        if let serviceNamespace { attrs.append(OTelAttribute("service.namespace", .string(serviceNamespace))) }
        if let serviceVersion { attrs.append(OTelAttribute("service.version", .string(serviceVersion))) }
        attrs.append(OTelAttribute("telemetry.sdk.language", .string("swift")))
        attrs.append(OTelAttribute("telemetry.sdk.name", .string("nemo-relay")))
        attrs.append(OTelAttribute("telemetry.sdk.version", .string(RelayVersion.string)))
        for (k, v) in resourceAttributes {
            if let i = attrs.firstIndex(where: { $0.key == k }) {
                attrs[i].value = .string(v)
            } else {
                attrs.append(OTelAttribute(k, .string(v)))
            }
        }
        return OTelResourceScope(resourceAttributes: attrs, scopeName: instrumentationScope)
    }
}

extension ConfigReader {
    mutating func stringList(_ key: String) throws(RelayError) -> [String]? {
        guard let v = json(key) else { return nil }
        guard let a = v.arrayValue else { throw .invalidArgument("\(key) must be a list of strings") }
        var out: [String] = []
        for e in a {
            guard let s = e.stringValue else { throw .invalidArgument("\(key) must be a list of strings") }
            out.append(s)
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
