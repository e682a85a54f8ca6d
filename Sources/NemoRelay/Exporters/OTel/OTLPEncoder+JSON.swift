// SPDX-License-Identifier: Apache-2.0

extension OTLPEncoder {
    /// The OTLP/JSON encoding of one `ExportTraceServiceRequest` holding `spans`, as compact UTF-8.
    ///
    /// This is the proto3 JSON mapping with OTLP's deviations: lowerCamelCase keys in field-number
    /// order; `traceId`, `spanId` and `parentSpanId` as lowercase hex (other bytes, such as
    /// `bytesValue`, stay base64); `kind` and the status `code` as integers; 64-bit integers
    /// (`intValue`, the timestamps) as decimal strings; default values left out as in
    /// ``protobuf(_:_:)``. Finite doubles use the shortest digits that read back to the same value;
    /// NaN and the infinities, which JSON numbers cannot hold, are written as the proto3 JSON strings
    /// `"NaN"`, `"Infinity"` and `"-Infinity"`, which OTLP/JSON receivers parse back into doubles.
    /// Strings are escaped, so the text never holds a raw line break.
    public static func json(_ spans: [OTelSpan], _ rs: OTelResourceScope) -> [UInt8] {
        var w = OTLPJSONWriter(capacity: 512 + spans.count * 512)
        w.request(spans, rs)
        return w.w.bytes
    }

    /// One line of an OTLP/JSON file: the request of ``json(_:_:)`` and a newline, appended to `buffer`.
    ///
    /// This is the format the OpenTelemetry Collector's `file` exporter writes and its `otlpjsonfile`
    /// receiver reads: one `ExportTraceServiceRequest` per line. An empty batch appends nothing, so
    /// a file never holds a request without spans.
    public static func appendFileLine(_ spans: [OTelSpan], _ rs: OTelResourceScope, to buffer: inout [UInt8]) {
        guard !spans.isEmpty else { return }
        var w = OTLPJSONWriter(capacity: 0)
        swap(&w.w.bytes, &buffer)
        w.request(spans, rs)
        w.w.bytes.append(0x0A)
        swap(&w.w.bytes, &buffer)
    }

    /// One OTLP/JSON file line for `spans` (see ``appendFileLine(_:_:to:)``); empty for an empty batch.
    public static func fileLine(_ spans: [OTelSpan], _ rs: OTelResourceScope) -> [UInt8] {
        var out: [UInt8] = []
        appendFileLine(spans, rs, to: &out)
        return out
    }
}

/// Writes the OTLP/JSON form of a request through the core's ``JSONWriter``.
struct OTLPJSONWriter {
    var w: JSONWriter

    init(capacity: Int) {
        w = JSONWriter(capacity: capacity)
    }

    @inline(__always) mutating func byte(_ c: UInt8) { w.bytes.append(c) }

    /// Writes `"key":`, preceded by a comma unless it is the first member of its object.
    @inline(__always) mutating func key(_ k: StaticString, _ first: inout Bool) {
        if !first { byte(UInt8(ascii: ",")) }
        first = false
        byte(UInt8(ascii: "\""))
        w.raw(k)
        w.raw("\":")
    }

    mutating func request(_ spans: [OTelSpan], _ rs: OTelResourceScope) {
        w.raw("{\"resourceSpans\":[{\"resource\":{")
        var first = true
        attributes(rs.resourceAttributes, "attributes", &first)
        w.raw("},\"scopeSpans\":[{\"scope\":{")
        first = true
        if !rs.scopeName.isEmpty {
            key("name", &first)
            w.writeString(rs.scopeName)
        }
        if !rs.scopeVersion.isEmpty {
            key("version", &first)
            w.writeString(rs.scopeVersion)
        }
        byte(UInt8(ascii: "}"))
        if !spans.isEmpty {
            w.raw(",\"spans\":[")
            for (i, s) in spans.enumerated() {
                if i > 0 { byte(UInt8(ascii: ",")) }
                span(s)
            }
            byte(UInt8(ascii: "]"))
        }
        w.raw("}]}]}")
    }

    mutating func span(_ s: OTelSpan) {
        byte(UInt8(ascii: "{"))
        var first = true
        if !s.traceID.isEmpty {
            key("traceId", &first)
            hex(s.traceID)
        }
        if !s.spanID.isEmpty {
            key("spanId", &first)
            hex(s.spanID)
        }
        if !s.traceState.isEmpty {
            key("traceState", &first)
            w.writeString(s.traceState)
        }
        if !s.parentSpanID.isEmpty {
            key("parentSpanId", &first)
            hex(s.parentSpanID)
        }
        if !s.name.isEmpty {
            key("name", &first)
            w.writeString(s.name)
        }
        if s.kind != .unspecified {
            key("kind", &first)
            w.writeInteger(Int64(s.kind.rawValue))
        }
        if s.startTimeUnixNano != 0 {
            key("startTimeUnixNano", &first)
            quoted(s.startTimeUnixNano)
        }
        if s.endTimeUnixNano != 0 {
            key("endTimeUnixNano", &first)
            quoted(s.endTimeUnixNano)
        }
        attributes(s.attributes, "attributes", &first)
        if !s.events.isEmpty {
            key("events", &first)
            byte(UInt8(ascii: "["))
            for (i, e) in s.events.enumerated() {
                if i > 0 { byte(UInt8(ascii: ",")) }
                byte(UInt8(ascii: "{"))
                var f = true
                if e.timeUnixNano != 0 {
                    key("timeUnixNano", &f)
                    quoted(e.timeUnixNano)
                }
                if !e.name.isEmpty {
                    key("name", &f)
                    w.writeString(e.name)
                }
                attributes(e.attributes, "attributes", &f)
                byte(UInt8(ascii: "}"))
            }
            byte(UInt8(ascii: "]"))
        }
        if s.droppedEventsCount != 0 {
            key("droppedEventsCount", &first)
            w.writeInteger(Int64(s.droppedEventsCount))
        }
        key("status", &first)
        byte(UInt8(ascii: "{"))
        var f = true
        if !s.statusMessage.isEmpty {
            key("message", &f)
            w.writeString(s.statusMessage)
        }
        if s.statusCode != .unset {
            key("code", &f)
            w.writeInteger(Int64(s.statusCode.rawValue))
        }
        byte(UInt8(ascii: "}"))
        if s.flags != 0 {
            key("flags", &first)
            w.writeInteger(Int64(s.flags))
        }
        byte(UInt8(ascii: "}"))
    }

    /// Writes a repeated `KeyValue` member named `name`, or nothing when `list` is empty.
    mutating func attributes(_ list: [OTelAttribute], _ name: StaticString, _ first: inout Bool) {
        guard !list.isEmpty else { return }
        key(name, &first)
        keyValues(list)
    }

    mutating func keyValues(_ list: [OTelAttribute]) {
        byte(UInt8(ascii: "["))
        for (i, a) in list.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            byte(UInt8(ascii: "{"))
            if !a.key.isEmpty {
                w.raw("\"key\":")
                w.writeString(a.key)
                byte(UInt8(ascii: ","))
            }
            w.raw("\"value\":")
            anyValue(a.value)
            byte(UInt8(ascii: "}"))
        }
        byte(UInt8(ascii: "]"))
    }

    mutating func anyValue(_ v: OTelValue) {
        switch v {
        case .string(let s):
            w.raw("{\"stringValue\":")
            w.writeString(s)
        case .bool(let b):
            w.raw(b ? "{\"boolValue\":true" : "{\"boolValue\":false")
        case .int(let i):
            w.raw("{\"intValue\":\"")
            w.writeInteger(i)
            byte(UInt8(ascii: "\""))
        case .double(let d):
            w.raw("{\"doubleValue\":")
            if d.isFinite {
                w.writeDouble(d)
            } else if d.isNaN {
                w.raw("\"NaN\"")
            } else {
                w.raw(d < 0 ? "\"-Infinity\"" : "\"Infinity\"")
            }
        case .bytes(let b):
            w.raw("{\"bytesValue\":\"")
            base64(b)
            byte(UInt8(ascii: "\""))
        case .array(let values):
            w.raw("{\"arrayValue\":{")
            if !values.isEmpty {
                w.raw("\"values\":[")
                for (i, e) in values.enumerated() {
                    if i > 0 { byte(UInt8(ascii: ",")) }
                    anyValue(e)
                }
                byte(UInt8(ascii: "]"))
            }
            byte(UInt8(ascii: "}"))
        case .kvlist(let pairs):
            w.raw("{\"kvlistValue\":{")
            if !pairs.isEmpty {
                w.raw("\"values\":")
                keyValues(pairs)
            }
            byte(UInt8(ascii: "}"))
        }
        byte(UInt8(ascii: "}"))
    }

    /// A 64-bit integer as a JSON string of decimal digits.
    mutating func quoted(_ v: UInt64) {
        byte(UInt8(ascii: "\""))
        if v <= UInt64(Int64.max) {
            w.writeInteger(Int64(v))
        } else {
            w.bytes.append(contentsOf: String(v).utf8)
        }
        byte(UInt8(ascii: "\""))
    }

    /// Bytes as a JSON string of lowercase hex digits.
    mutating func hex(_ b: [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        byte(UInt8(ascii: "\""))
        for c in b {
            byte(digits.utf8Start[Int(c >> 4)])
            byte(digits.utf8Start[Int(c & 0xF)])
        }
        byte(UInt8(ascii: "\""))
    }

    /// Bytes in standard base64 with padding (RFC 4648 section 4), as proto3 JSON writes `bytes`.
    mutating func base64(_ b: [UInt8]) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let a = alphabet.utf8Start
        var i = 0
        while i + 3 <= b.count {
            let n = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
            byte(a[Int(n >> 18)])
            byte(a[Int(n >> 12 & 63)])
            byte(a[Int(n >> 6 & 63)])
            byte(a[Int(n & 63)])
            i += 3
        }
        switch b.count - i {
        case 1:
            let n = UInt32(b[i]) << 16
            byte(a[Int(n >> 18)])
            byte(a[Int(n >> 12 & 63)])
            w.raw("==")
        case 2:
            let n = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8
            byte(a[Int(n >> 18)])
            byte(a[Int(n >> 12 & 63)])
            byte(a[Int(n >> 6 & 63)])
            byte(UInt8(ascii: "="))
        default: break
        }
    }
}
