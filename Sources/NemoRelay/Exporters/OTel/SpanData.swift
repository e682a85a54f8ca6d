// SPDX-License-Identifier: Apache-2.0

/// An OpenTelemetry attribute value (OTLP `AnyValue`).
public indirect enum OTelValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([OTelValue])
    case kvlist([OTelAttribute])
    case bytes([UInt8])
}

/// One attribute (OTLP `KeyValue`); order is kept as projected.
public struct OTelAttribute: Sendable, Equatable {
    public var key: String
    public var value: OTelValue

    public init(_ key: String, _ value: OTelValue) {
        self.key = key
        self.value = value
    }
}

/// OTLP `Span.SpanKind`.
public enum OTelSpanKind: Int32, Sendable {
    case unspecified = 0
    case `internal` = 1
    case server = 2
    case client = 3
    case producer = 4
    case consumer = 5
}

/// OTLP `Status.StatusCode`.
public enum OTelStatusCode: Int32, Sendable {
    case unset = 0
    case ok = 1
    case error = 2
}

/// A span event (OTLP `Span.Event`).
public struct OTelSpanEvent: Sendable, Equatable {
    public var name: String
    public var timeUnixNano: UInt64
    public var attributes: [OTelAttribute]

    public init(name: String, timeUnixNano: UInt64, attributes: [OTelAttribute] = []) {
        self.name = name
        self.timeUnixNano = timeUnixNano
        self.attributes = attributes
    }
}

/// One finished span, as the projections make it and the OTLP encoders write it.
public struct OTelSpan: Sendable, Equatable {
    /// 16 bytes.
    public var traceID: [UInt8]
    /// 8 bytes.
    public var spanID: [UInt8]
    /// 8 bytes, or empty for a root span.
    public var parentSpanID: [UInt8]
    /// W3C `tracestate`, empty when none.
    public var traceState: String
    public var name: String
    public var kind: OTelSpanKind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [OTelAttribute]
    public var events: [OTelSpanEvent]
    public var statusCode: OTelStatusCode
    /// Only meaningful with `.error`; empty otherwise.
    public var statusMessage: String
    /// W3C trace flags in bits 0-7 (1 = sampled), plus OTLP's has-is-remote (0x100) and is-remote (0x200).
    public var flags: UInt32
    /// Span events dropped because the span already held the maximum (OTLP `dropped_events_count`).
    public var droppedEventsCount: UInt32

    public init(
        traceID: [UInt8], spanID: [UInt8], parentSpanID: [UInt8] = [], traceState: String = "", name: String,
        kind: OTelSpanKind = .internal, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64,
        attributes: [OTelAttribute] = [], events: [OTelSpanEvent] = [], statusCode: OTelStatusCode = .unset,
        statusMessage: String = "", flags: UInt32 = 1, droppedEventsCount: UInt32 = 0
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceState = traceState
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.events = events
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.flags = flags
        self.droppedEventsCount = droppedEventsCount
    }
}

/// The resource and instrumentation scope every span of one exporter shares.
public struct OTelResourceScope: Sendable, Equatable {
    /// `service.name`, `service.namespace`, `service.version`, then the configured resource attributes.
    public var resourceAttributes: [OTelAttribute]
    public var scopeName: String
    public var scopeVersion: String

    public init(resourceAttributes: [OTelAttribute], scopeName: String = "opentelemetry", scopeVersion: String = "") {
        self.resourceAttributes = resourceAttributes
        self.scopeName = scopeName
        self.scopeVersion = scopeVersion
    }
}
