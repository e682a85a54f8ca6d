// SPDX-License-Identifier: Apache-2.0

/// Which OpenTelemetry semantic projection a span builder applies (docs/otel.md).
public enum OTelProjectionType: String, Sendable {
    /// Relay's complete lifecycle projection with `nemo_relay.*` attributes.
    case full
    /// The OpenTelemetry GenAI semantic conventions.
    case genAI = "gen_ai"
    /// The OpenInference semantic conventions.
    case openInference = "openinference"
}

/// How point-in-time marks appear in traces (docs/otel.md).
public enum OTelMarkProjection: String, Sendable {
    /// The projection's own handling: span events on the parent span.
    case inherit
    /// Span events on the parent span.
    case event
    /// Zero-duration child spans named `mark:<name>`, except for the names in `markExcludeNames`.
    case tool
}

/// What a span builder projects and how (docs/otel.md). Validation of the values (blank aliases, duplicate
/// prefixes, a zero TTL) belongs to whoever builds the configuration; the builder accepts anything.
public struct OTelProjectionConfig: Sendable {
    /// The projection.
    public var type: OTelProjectionType
    /// How marks are projected.
    public var markProjection: OTelMarkProjection = .inherit
    /// Mark names (also matched against `metadata.hook_event_name`) that stay span events under `.tool`.
    public var markExcludeNames: [String] = ["llm.chunk"]
    /// Typed copies of projected attributes under a second key (not applied by `gen_ai`).
    public var attributeMappings: [(key: String, alias: String)] = []
    /// Literal prefixes of top-level event metadata keys copied to typed span attributes.
    public var promoteMetadataPrefixes: [String] = []
    /// How long a completed scope keeps its span context for late children and marks, in nanoseconds of
    /// event time.
    public var completedSpanContextTTLNanos: Int64 = 60_000_000_000

    /// The defaults for `type`.
    public init(type: OTelProjectionType) {
        self.type = type
    }
}

/// What a span whose parent is an imported propagation parent continues: the remote trace.
public struct OTelRemoteParent: Sendable {
    /// 16 bytes.
    public var traceID: [UInt8]
    /// 8 bytes.
    public var spanID: [UInt8]
    /// W3C `tracestate`, empty when none.
    public var traceState: String

    /// A remote parent; ids of the wrong length or all zero make it unusable (the span starts a new trace).
    public init(traceID: [UInt8], spanID: [UInt8], traceState: String = "") {
        self.traceID = traceID
        self.spanID = spanID
        self.traceState = traceState
    }
}
