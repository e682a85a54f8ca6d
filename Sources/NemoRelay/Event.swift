// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// The three lifecycle event shapes of ATOF 0.1.
public enum EventKind: Sendable, Equatable {
    case scopeStart
    case scopeEnd
    case mark

    /// The `kind` field: `scope` or `mark`.
    public var kindString: String { self == .mark ? "mark" : "scope" }
}

/// One ATOF lifecycle event (docs/events.md), serialized at most once and only when consumed.
public struct Event: Sendable {
    /// Start, end or mark.
    public var kind: EventKind
    /// The span id (shared by start and end) or the mark's own id.
    public var uuid: RelayUUID
    /// The parent scope id.
    public var parentUUID: RelayUUID?
    /// The outermost Agent scope of the stack, or the stack root, or the imported root; nil (and not
    /// serialized) in a stack imported from a rootless propagation context with no Agent open.
    public var propagationRootUUID: RelayUUID?
    /// Event time in nanoseconds since the epoch.
    public var timestamp: Nanoseconds
    /// Span or mark name.
    public var name: String
    /// Sorted flag names (scope events only).
    public var attributes: [String]
    /// `agent`, `llm`, `tool`, … (null for marks Relay emits).
    public var category: String?
    /// LLM and tool profile object, or nil for null.
    public var categoryProfile: JSON?
    /// The payload.
    public var data: JSON
    /// `{name, version}` for marks created with a schema, else nil.
    public var dataSchema: JSON?
    /// Metadata (any JSON).
    public var metadata: JSON

    /// The ATOF version written on every event.
    public static let atofVersion = "0.1"

    /// Creates an event; fields not given are null.
    public init(
        kind: EventKind, uuid: RelayUUID, parentUUID: RelayUUID?, propagationRootUUID: RelayUUID?,
        timestamp: Nanoseconds, name: String, attributes: [String] = [], category: String? = nil,
        categoryProfile: JSON? = nil, data: JSON = .null, dataSchema: JSON? = nil, metadata: JSON = .null
    ) {
        self.kind = kind
        self.uuid = uuid
        self.parentUUID = parentUUID
        self.propagationRootUUID = propagationRootUUID
        self.timestamp = timestamp
        self.name = name
        self.attributes = attributes
        self.category = category
        self.categoryProfile = categoryProfile
        self.data = data
        self.dataSchema = dataSchema
        self.metadata = metadata
    }

    /// The RFC 3339 timestamp string.
    public var timestampString: String { RFC3339.string(timestamp) }

    /// The canonical compact JSON line (keys sorted at every level), without a newline.
    public func serialized() -> [UInt8] {
        var w = JSONWriter(sortedKeys: true, capacity: 512, doubleSpelling: .reference)
        write(to: &w)
        return w.bytes
    }

    /// The event as a JSON object: the content of ``serialized()``, built without writing text (top-level
    /// keys in the canonical order; nested objects keep their own order).
    public var json: JSON {
        var o = JSONObject(minimumCapacity: 14)
        o["atof_version"] = .string(Event.atofVersion)
        if kind != .mark { o["attributes"] = .array(attributes.map { .string($0) }) }
        o["category"] = category.map { .string($0) } ?? .null
        o["category_profile"] = categoryProfile ?? .null
        o["data"] = data
        o["data_schema"] = dataSchema ?? .null
        o["kind"] = .string(kind.kindString)
        o["metadata"] = metadata
        o["name"] = .string(name)
        o["parent_uuid"] = parentUUID.map { .string($0.description) } ?? .null
        if let propagationRootUUID { o["propagation_root_uuid"] = .string(propagationRootUUID.description) }
        switch kind {
        case .scopeStart: o["scope_category"] = .string("start")
        case .scopeEnd: o["scope_category"] = .string("end")
        case .mark: break
        }
        o["timestamp"] = .string(timestampString)
        o["uuid"] = .string(uuid.description)
        return .object(o)
    }

    /// Appends the canonical form; fields are written in byte order of their names.
    public func write(to w: inout JSONWriter) {
        w.raw("{\"atof_version\":\"0.1\",")
        if kind != .mark {
            w.raw("\"attributes\":[")
            for (i, a) in attributes.enumerated() {
                if i > 0 { w.bytes.append(UInt8(ascii: ",")) }
                w.writeString(a)
            }
            w.raw("],")
        }
        w.raw("\"category\":")
        if let category { w.writeString(category) } else { w.raw("null") }
        w.raw(",\"category_profile\":")
        w.write(categoryProfile ?? .null)
        w.raw(",\"data\":")
        w.write(data)
        w.raw(",\"data_schema\":")
        w.write(dataSchema ?? .null)
        w.raw(",\"kind\":")
        if kind == .mark { w.raw("\"mark\"") } else { w.raw("\"scope\"") }
        w.raw(",\"metadata\":")
        w.write(metadata)
        w.raw(",\"name\":")
        w.writeString(name)
        w.raw(",\"parent_uuid\":")
        writeUUID(parentUUID, &w)
        if let propagationRootUUID {
            w.raw(",\"propagation_root_uuid\":")
            writeUUID(propagationRootUUID, &w)
        }
        switch kind {
        case .scopeStart: w.raw(",\"scope_category\":\"start\"")
        case .scopeEnd: w.raw(",\"scope_category\":\"end\"")
        case .mark: break
        }
        w.raw(",\"timestamp\":\"")
        RFC3339.write(timestamp, into: &w.bytes)
        w.raw("\",\"uuid\":")
        writeUUID(uuid, &w)
        w.raw("}")
    }

    private func writeUUID(_ u: RelayUUID?, _ w: inout JSONWriter) {
        guard let u else {
            w.raw("null")
            return
        }
        w.bytes.append(UInt8(ascii: "\""))
        u.write(into: &w.bytes)
        w.bytes.append(UInt8(ascii: "\""))
    }
}

/// An event queued for delivery: every subscriber shares it, and its bytes are made once, on first use.
public final class EventRecord: Sendable {
    /// The event as it was published (after injectors and sanitizers).
    public let event: Event
    private let bytes_ = Mutex<[UInt8]?>(nil)

    init(_ event: Event) { self.event = event }

    /// The canonical JSON line; computed by the first consumer that asks, then shared.
    public var bytes: [UInt8] {
        bytes_.withLock { b in
            if let b { return b }
            let made = event.serialized()
            b = made
            return made
        }
    }
}

// MARK: - Metadata helpers

extension JSON {
    /// Merges end metadata into start metadata: objects merge shallowly (end wins), null keeps the start.
    static func mergeMetadata(_ start: JSON, _ end: JSON) -> JSON {
        switch (start, end) {
        case (_, .null): return start
        case (.object(var s), .object(let e)):
            e.forEach { k, v in s[k] = v }
            return .object(s)
        default: return end
        }
    }

    /// Sets `otel.status_code` (and related keys) on metadata that may not be an object.
    static func withStatus(_ base: JSON, ok: Bool, error: RelayError? = nil) -> JSON {
        var o: JSONObject
        switch base {
        case .object(let b): o = b
        default: o = JSONObject()
        }
        if ok {
            o["otel.status_code"] = .string("OK")
            o["otel.status_description"] = nil
        } else {
            o["otel.status_code"] = .string("ERROR")
            if let error {
                o["otel.status_description"] = .string(error.displayText)
                if error.kind != .cancelled {
                    o["error.type"] = .string(error.errorType)
                    if error.kind == .callback, let t = error.exceptionType, !t.isEmpty {
                        o["exception.type"] = .string(t)
                    }
                }
            }
        }
        return .object(o)
    }
}
