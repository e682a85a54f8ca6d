// SPDX-License-Identifier: Apache-2.0

/// A partial success reported in an `ExportTraceServiceResponse` (OTLP `ExportTracePartialSuccess`).
///
/// The client must not retry the request: the receiver has already accepted what it could. A
/// receiver may also use it for a warning, with zero rejected spans and a non-empty message.
public struct OTLPPartialSuccess: Sendable, Equatable {
    /// Spans the receiver rejected (`rejected_spans`); zero for a warning.
    public var rejectedSpans: Int64
    /// The receiver's explanation (`error_message`); may be empty.
    public var errorMessage: String

    public init(rejectedSpans: Int64, errorMessage: String) {
        self.rejectedSpans = rejectedSpans
        self.errorMessage = errorMessage
    }
}

extension OTLPEncoder {
    /// Reads a protobuf `ExportTraceServiceResponse`; nil when it reports full success.
    ///
    /// Full success is an absent `partial_success`, or one with zero rejected spans and no message.
    /// Unknown fields (and known fields of an unexpected wire type, as protobuf parsers treat them)
    /// are skipped; repeated occurrences merge as protobuf specifies. Malformed input (a truncated
    /// field, an overlong varint, a bad wire type or unbalanced groups) throws `invalid argument`,
    /// never traps. Invalid UTF-8 in the message is replaced rather than refused.
    public static func decodeResponse(protobuf bytes: [UInt8]) throws(RelayError) -> OTLPPartialSuccess? {
        var r = OTLPProtobufReader(bytes, 0..<bytes.count)
        var found = false
        var result = OTLPPartialSuccess(rejectedSpans: 0, errorMessage: "")
        while let (field, wire) = try r.nextTag() {
            guard field == OTLPField.responsePartialSuccess, wire == .lengthDelimited else {
                try r.skip(wire, field: field)
                continue
            }
            found = true
            var inner = OTLPProtobufReader(bytes, try r.delimited())
            while let (f, w) = try inner.nextTag() {
                if f == OTLPField.partialRejected, w == .varint {
                    result.rejectedSpans = Int64(bitPattern: try inner.varint())
                } else if f == OTLPField.partialErrorMessage, w == .lengthDelimited {
                    result.errorMessage = String(decoding: bytes[try inner.delimited()], as: UTF8.self)
                } else {
                    try inner.skip(w, field: f)
                }
            }
        }
        guard found, result.rejectedSpans != 0 || !result.errorMessage.isEmpty else { return nil }
        return result
    }

    /// Reads an OTLP/JSON `ExportTraceServiceResponse`; nil when it reports full success.
    ///
    /// Accepts the lowerCamelCase and the original proto field names, `rejectedSpans` as a JSON
    /// number or a string (decimal, or an integral exponent form such as `"1e2"`, as proto3 JSON
    /// allows), and `null` for a default value; unknown members are ignored. An
    /// empty (or all-whitespace) body counts as full success, since some receivers answer 200 with
    /// no body. Anything else that is not such an object throws `invalid argument`.
    public static func decodeResponse(json bytes: [UInt8]) throws(RelayError) -> OTLPPartialSuccess? {
        func invalid(_ reason: String) -> RelayError {
            .invalidArgument("malformed OTLP/JSON ExportTraceServiceResponse: " + reason)
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        let root: JSON
        do throws(JSONParseError) {
            root = try JSON.parse(bytes)
        } catch {
            throw invalid(error.description)
        }
        guard case .object(let top) = root else { throw invalid("not a JSON object") }
        let value = top["partialSuccess"] ?? top["partial_success"] ?? .null
        if value.isNull { return nil }
        guard case .object(let partial) = value else { throw invalid("partialSuccess is not an object") }
        var result = OTLPPartialSuccess(rejectedSpans: 0, errorMessage: "")
        switch partial["rejectedSpans"] ?? partial["rejected_spans"] ?? .null {
        case .null: break
        case .string(let s):
            // proto3 JSON also accepts the exponent form in a string ("1e2"), as long as it is integral.
            guard let n = Int64(s) ?? (try? JSON.parse(s))?.int64Value else {
                throw invalid("rejectedSpans is not an int64")
            }
            result.rejectedSpans = n
        case let n where n.isNumber:
            guard let i = n.int64Value else { throw invalid("rejectedSpans is not an int64") }
            result.rejectedSpans = i
        default: throw invalid("rejectedSpans is not an int64")
        }
        switch partial["errorMessage"] ?? partial["error_message"] ?? .null {
        case .null: break
        case .string(let s): result.errorMessage = s
        default: throw invalid("errorMessage is not a string")
        }
        guard result.rejectedSpans != 0 || !result.errorMessage.isEmpty else { return nil }
        return result
    }
}

/// Field numbers of `ExportTraceServiceResponse` and `ExportTracePartialSuccess` (`collector/trace/v1`).
extension OTLPField {
    static let responsePartialSuccess = 1
    static let partialRejected = 1, partialErrorMessage = 2
}

/// Reads protobuf fields from a range of a byte array, bounds-checking every step.
struct OTLPProtobufReader {
    let bytes: [UInt8]
    var pos: Int
    let end: Int

    /// Nested groups deeper than this are refused, as protobuf parsers bound their recursion.
    static let maxGroupDepth = 100

    init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        pos = range.lowerBound
        end = range.upperBound
    }

    func malformed(_ reason: String) -> RelayError {
        .invalidArgument("malformed protobuf ExportTraceServiceResponse: \(reason) at byte \(pos)")
    }

    /// A base-128 varint of at most ten bytes; bits beyond 64 are dropped, as protobuf parsers do.
    mutating func varint() throws(RelayError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 70 {
            guard pos < end else { throw malformed("truncated varint") }
            let b = bytes[pos]
            pos += 1
            if shift < 64 { v |= UInt64(b & 0x7F) << shift }
            if b < 0x80 { return v }
            shift += 7
        }
        throw malformed("varint longer than ten bytes")
    }

    /// The next field's number and wire type, or nil at the end of the range.
    mutating func nextTag() throws(RelayError) -> (Int, OTLPWireType)? {
        guard pos < end else { return nil }
        let t = try varint()
        let field = t >> 3
        guard field >= 1, field <= 0x1FFF_FFFF else { throw malformed("invalid field number \(field)") }
        guard let wire = OTLPWireType(rawValue: UInt8(t & 7)) else { throw malformed("invalid wire type \(t & 7)") }
        return (Int(field), wire)
    }

    /// The range of a length-delimited payload, after its length prefix; moves past it.
    mutating func delimited() throws(RelayError) -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - pos) else { throw malformed("length \(n) beyond the end") }
        let start = pos
        pos += Int(n)
        return start..<pos
    }

    /// Skips the payload of a field of wire type `wire` whose tag was just read.
    mutating func skip(_ wire: OTLPWireType, field: Int, depth: Int = 0) throws(RelayError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try delimited()
        case .startGroup:
            guard depth < OTLPProtobufReader.maxGroupDepth else { throw malformed("groups nested too deep") }
            while true {
                guard let (f, w) = try nextTag() else { throw malformed("unterminated group") }
                if w == .endGroup {
                    guard f == field else { throw malformed("mismatched end of group") }
                    return
                }
                try skip(w, field: f, depth: depth + 1)
            }
        case .endGroup: throw malformed("unexpected end of group")
        }
    }

    mutating func advance(_ n: Int) throws(RelayError) {
        guard end - pos >= n else { throw malformed("truncated fixed-width field") }
        pos += n
    }
}
