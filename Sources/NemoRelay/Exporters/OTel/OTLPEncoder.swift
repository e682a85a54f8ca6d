// SPDX-License-Identifier: Apache-2.0

/// Hand-written OTLP/HTTP trace encoders: one `ExportTraceServiceRequest` (one `ResourceSpans` holding
/// one `ScopeSpans`) as protobuf or as OTLP/JSON.
///
/// Both encodings follow proto3: scalar fields holding their default (empty string or bytes, zero) are
/// left out, while a field of an `AnyValue` (a oneof) is always written, so `""`, `0` and `false`
/// attribute values survive. Three message fields are always written even when empty, as the Python
/// and Rust OpenTelemetry SDKs do: `ResourceSpans.resource`, `ScopeSpans.scope` and `Span.status`
/// (`status {}` for an unset status). Fields go out in field-number order. Ids are written as given:
/// the span model promises 16-byte trace ids and 8-byte span ids, and an empty parent marks a root.
/// trace.proto has no repeated scalar fields, so there is nothing to pack.
public enum OTLPEncoder {
    /// The `Content-Type` of a protobuf request and response body.
    public static let protobufContentType = "application/x-protobuf"
    /// The `Content-Type` of an OTLP/JSON request and response body.
    public static let jsonContentType = "application/json"

    /// The binary protobuf encoding of one `ExportTraceServiceRequest` holding `spans`.
    public static func protobuf(_ spans: [OTelSpan], _ rs: OTelResourceScope) -> [UInt8] {
        // Two passes: the first records every nested message's size in pre-order, the second writes
        // the bytes in that same order, so each length prefix is known before its message and
        // nothing is copied or measured twice, however deep the nesting.
        var sizer = OTLPProtobufSizer()
        let total = sizer.request(spans, rs)
        var w = OTLPProtobufWriter(sizes: sizer.sizes, capacity: total)
        w.request(spans, rs)
        assert(w.next == sizer.sizes.count && w.bytes.count == total, "the two passes disagree")
        return w.bytes
    }
}

// MARK: - Protobuf wire format

/// Protobuf wire types (the low three bits of a field tag).
enum OTLPWireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Field numbers of the OTLP messages written here (opentelemetry-proto `trace/v1`, `common/v1`,
/// `resource/v1` and `collector/trace/v1`).
enum OTLPField {
    static let requestResourceSpans = 1
    static let resourceSpansResource = 1, resourceSpansScopeSpans = 2
    static let resourceAttributes = 1
    static let scopeSpansScope = 1, scopeSpansSpans = 2
    static let scopeName = 1, scopeVersion = 2
    static let spanTraceID = 1, spanSpanID = 2, spanTraceState = 3, spanParentSpanID = 4, spanName = 5
    static let spanKind = 6, spanStart = 7, spanEnd = 8, spanAttributes = 9, spanEvents = 11
    static let spanDroppedEvents = 12, spanStatus = 15, spanFlags = 16
    static let eventTime = 1, eventName = 2, eventAttributes = 3
    static let statusMessage = 2, statusCode = 3
    static let keyValueKey = 1, keyValueValue = 2
    static let anyString = 1, anyBool = 2, anyInt = 3, anyDouble = 4, anyArray = 5, anyKVList = 6, anyBytes = 7
    static let listValues = 1
}

/// Sizes of protobuf wire-format pieces.
enum OTLPWireSize {
    /// The number of bytes of `v` as a base-128 varint (1 to 10).
    @inline(__always) static func varint(_ v: UInt64) -> Int {
        (64 - (v | 1).leadingZeroBitCount + 6) / 7
    }

    /// The size of a field's tag; every field number used here is below 16 except `Span.flags`.
    @inline(__always) static func tag(_ field: Int) -> Int { field < 16 ? 1 : 2 }

    /// The size of a length-delimited field whose payload is `n` bytes.
    @inline(__always) static func delimited(_ field: Int, _ n: Int) -> Int {
        tag(field) + varint(UInt64(n)) + n
    }
}

// MARK: - Sizing pass

/// Computes the size of every nested message once, in the order ``OTLPProtobufWriter`` will write them.
struct OTLPProtobufSizer {
    /// Message sizes in pre-order: a message's slot comes before those of the messages it contains.
    var sizes: [Int] = []

    /// Reserves the next pre-order slot for a message whose size is not known yet.
    @inline(__always) mutating func beginMessage() -> Int {
        sizes.append(0)
        return sizes.count - 1
    }

    /// The size of a string field, or 0 when it is empty and so left out.
    @inline(__always) func optional(_ field: Int, _ s: String) -> Int {
        s.isEmpty ? 0 : OTLPWireSize.delimited(field, s.utf8.count)
    }

    /// The size of a bytes field, or 0 when it is empty and so left out.
    @inline(__always) func optional(_ field: Int, _ b: [UInt8]) -> Int {
        b.isEmpty ? 0 : OTLPWireSize.delimited(field, b.count)
    }

    /// Records `size` in `slot` and returns the size of the field that holds the message.
    @inline(__always) mutating func endMessage(_ slot: Int, _ size: Int, field: Int) -> Int {
        sizes[slot] = size
        return OTLPWireSize.delimited(field, size)
    }

    /// The size of the whole request, which has no length prefix of its own.
    mutating func request(_ spans: [OTelSpan], _ rs: OTelResourceScope) -> Int {
        // ResourceSpans
        let slot = beginMessage()
        var n = 0
        let resource = beginMessage()
        let resourceSize = attributes(rs.resourceAttributes, field: OTLPField.resourceAttributes)
        n += endMessage(resource, resourceSize, field: OTLPField.resourceSpansResource)
        // ScopeSpans
        let scopeSpans = beginMessage()
        var m = 0
        let scope = beginMessage()
        let scopeSize = optional(OTLPField.scopeName, rs.scopeName) + optional(OTLPField.scopeVersion, rs.scopeVersion)
        m += endMessage(scope, scopeSize, field: OTLPField.scopeSpansScope)
        for s in spans { m += span(s) }
        n += endMessage(scopeSpans, m, field: OTLPField.resourceSpansScopeSpans)
        return endMessage(slot, n, field: OTLPField.requestResourceSpans)
    }

    mutating func span(_ s: OTelSpan) -> Int {
        let slot = beginMessage()
        var n = 0
        n += optional(OTLPField.spanTraceID, s.traceID)
        n += optional(OTLPField.spanSpanID, s.spanID)
        n += optional(OTLPField.spanTraceState, s.traceState)
        n += optional(OTLPField.spanParentSpanID, s.parentSpanID)
        n += optional(OTLPField.spanName, s.name)
        if s.kind != .unspecified { n += 1 + OTLPWireSize.varint(UInt64(s.kind.rawValue)) }
        if s.startTimeUnixNano != 0 { n += 9 }
        if s.endTimeUnixNano != 0 { n += 9 }
        n += attributes(s.attributes, field: OTLPField.spanAttributes)
        for e in s.events {
            let event = beginMessage()
            var en = 0
            if e.timeUnixNano != 0 { en += 9 }
            en += optional(OTLPField.eventName, e.name)
            en += attributes(e.attributes, field: OTLPField.eventAttributes)
            n += endMessage(event, en, field: OTLPField.spanEvents)
        }
        if s.droppedEventsCount != 0 { n += 1 + OTLPWireSize.varint(UInt64(s.droppedEventsCount)) }
        let status = beginMessage()
        var sn = optional(OTLPField.statusMessage, s.statusMessage)
        if s.statusCode != .unset { sn += 1 + OTLPWireSize.varint(UInt64(s.statusCode.rawValue)) }
        n += endMessage(status, sn, field: OTLPField.spanStatus)
        if s.flags != 0 { n += OTLPWireSize.tag(OTLPField.spanFlags) + 4 }
        return endMessage(slot, n, field: OTLPField.scopeSpansSpans)
    }

    /// The size of a repeated `KeyValue` field.
    mutating func attributes(_ list: [OTelAttribute], field: Int) -> Int {
        var n = 0
        for a in list { n += keyValue(a, field: field) }
        return n
    }

    mutating func keyValue(_ a: OTelAttribute, field: Int) -> Int {
        let slot = beginMessage()
        var n = 0
        n += optional(OTLPField.keyValueKey, a.key)
        n += anyValue(a.value, field: OTLPField.keyValueValue)
        return endMessage(slot, n, field: field)
    }

    mutating func anyValue(_ v: OTelValue, field: Int) -> Int {
        let slot = beginMessage()
        let n: Int
        switch v {
        case .string(let s): n = OTLPWireSize.delimited(OTLPField.anyString, s.utf8.count)
        case .bool: n = 2
        case .int(let i): n = 1 + OTLPWireSize.varint(UInt64(bitPattern: i))
        case .double: n = 9
        case .bytes(let b): n = OTLPWireSize.delimited(OTLPField.anyBytes, b.count)
        case .array(let values):
            let list = beginMessage()
            var ln = 0
            for e in values { ln += anyValue(e, field: OTLPField.listValues) }
            n = endMessage(list, ln, field: OTLPField.anyArray)
        case .kvlist(let pairs):
            let list = beginMessage()
            n = endMessage(list, attributes(pairs, field: OTLPField.listValues), field: OTLPField.anyKVList)
        }
        return endMessage(slot, n, field: field)
    }
}

// MARK: - Writing pass

/// Writes the request, taking each nested message's length from the sizes ``OTLPProtobufSizer`` recorded.
struct OTLPProtobufWriter {
    var bytes: [UInt8] = []
    let sizes: [Int]
    /// The next unread slot of `sizes`.
    var next = 0

    init(sizes: [Int], capacity: Int) {
        self.sizes = sizes
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) mutating func tag(_ field: Int, _ wire: OTLPWireType) {
        varint(UInt64(field) << 3 | UInt64(wire.rawValue))
    }

    @inline(__always) mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, .fixed64)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func fixed32(_ field: Int, _ value: UInt32) {
        tag(field, .fixed32)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func bytesField(_ field: Int, _ value: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func stringField(_ field: Int, _ value: String) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Starts a nested message field: its tag, then the length recorded for it.
    @inline(__always) mutating func beginMessage(_ field: Int) {
        tag(field, .lengthDelimited)
        varint(UInt64(sizes[next]))
        next += 1
    }

    mutating func request(_ spans: [OTelSpan], _ rs: OTelResourceScope) {
        beginMessage(OTLPField.requestResourceSpans)
        beginMessage(OTLPField.resourceSpansResource)
        attributes(rs.resourceAttributes, field: OTLPField.resourceAttributes)
        beginMessage(OTLPField.resourceSpansScopeSpans)
        beginMessage(OTLPField.scopeSpansScope)
        if !rs.scopeName.isEmpty { stringField(OTLPField.scopeName, rs.scopeName) }
        if !rs.scopeVersion.isEmpty { stringField(OTLPField.scopeVersion, rs.scopeVersion) }
        for s in spans { span(s) }
    }

    mutating func span(_ s: OTelSpan) {
        beginMessage(OTLPField.scopeSpansSpans)
        if !s.traceID.isEmpty { bytesField(OTLPField.spanTraceID, s.traceID) }
        if !s.spanID.isEmpty { bytesField(OTLPField.spanSpanID, s.spanID) }
        if !s.traceState.isEmpty { stringField(OTLPField.spanTraceState, s.traceState) }
        if !s.parentSpanID.isEmpty { bytesField(OTLPField.spanParentSpanID, s.parentSpanID) }
        if !s.name.isEmpty { stringField(OTLPField.spanName, s.name) }
        if s.kind != .unspecified {
            tag(OTLPField.spanKind, .varint)
            varint(UInt64(s.kind.rawValue))
        }
        if s.startTimeUnixNano != 0 { fixed64(OTLPField.spanStart, s.startTimeUnixNano) }
        if s.endTimeUnixNano != 0 { fixed64(OTLPField.spanEnd, s.endTimeUnixNano) }
        attributes(s.attributes, field: OTLPField.spanAttributes)
        for e in s.events {
            beginMessage(OTLPField.spanEvents)
            if e.timeUnixNano != 0 { fixed64(OTLPField.eventTime, e.timeUnixNano) }
            if !e.name.isEmpty { stringField(OTLPField.eventName, e.name) }
            attributes(e.attributes, field: OTLPField.eventAttributes)
        }
        if s.droppedEventsCount != 0 {
            tag(OTLPField.spanDroppedEvents, .varint)
            varint(UInt64(s.droppedEventsCount))
        }
        beginMessage(OTLPField.spanStatus)
        if !s.statusMessage.isEmpty { stringField(OTLPField.statusMessage, s.statusMessage) }
        if s.statusCode != .unset {
            tag(OTLPField.statusCode, .varint)
            varint(UInt64(s.statusCode.rawValue))
        }
        if s.flags != 0 { fixed32(OTLPField.spanFlags, s.flags) }
    }

    mutating func attributes(_ list: [OTelAttribute], field: Int) {
        for a in list { keyValue(a, field: field) }
    }

    mutating func keyValue(_ a: OTelAttribute, field: Int) {
        beginMessage(field)
        if !a.key.isEmpty { stringField(OTLPField.keyValueKey, a.key) }
        anyValue(a.value, field: OTLPField.keyValueValue)
    }

    mutating func anyValue(_ v: OTelValue, field: Int) {
        beginMessage(field)
        switch v {
        case .string(let s): stringField(OTLPField.anyString, s)
        case .bool(let b):
            tag(OTLPField.anyBool, .varint)
            bytes.append(b ? 1 : 0)
        case .int(let i):
            tag(OTLPField.anyInt, .varint)
            varint(UInt64(bitPattern: i))
        case .double(let d): fixed64(OTLPField.anyDouble, d.bitPattern)
        case .bytes(let b): bytesField(OTLPField.anyBytes, b)
        case .array(let values):
            beginMessage(OTLPField.anyArray)
            for e in values { anyValue(e, field: OTLPField.listValues) }
        case .kvlist(let pairs):
            beginMessage(OTLPField.anyKVList)
            attributes(pairs, field: OTLPField.listValues)
        }
    }
}
