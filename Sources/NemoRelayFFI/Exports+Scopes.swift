// SPDX-License-Identifier: Apache-2.0
// Scopes and marks.
// Every body runs inside `ffi { }`, which maps every failure to a status: no Swift error or trap crosses it.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Scopes and marks

@_cdecl("nemo_relay_scope_begin")
public func nemo_relay_scope_begin(
    _ out: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ type: Int32,
    _ opts: UnsafePointer<nemo_relay_scope_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let name = try stringInput(name, "name")
        guard let t = ScopeType(rawValue: type) else { throw FFIError.invalid("unknown scope type \(type)") }
        var o = nemo_relay_scope_options_t()
        if let opts {
            o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_SCOPE_OPTIONS_VERSION, "scope options")
        }
        let parent = try optionalScopeArg(o.parent)
        try checkOwner(parent, rt, "parent")
        let h = rt.pushScope(
            name, type: t, stack: stack, parent: parent, attributes: o.attributes,
            data: try jsonInput(o.data, o.data_len, "data") ?? .null,
            metadata: try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null,
            input: try jsonInput(o.payload, o.payload_len, "input") ?? .null,
            timestamp: optionalTime(o.has_timestamp, o.timestamp_ns))
        out.pointee = HandleTable.shared.insert(h, .scope)
    }
}

@_cdecl("nemo_relay_scope_end")
public func nemo_relay_scope_end(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ scope: OpaquePointer?,
    _ opts: UnsafePointer<nemo_relay_scope_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let h = try scopeArg(scope)
        try checkOwner(h, rt)
        var o = nemo_relay_scope_options_t()
        if let opts {
            o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_SCOPE_OPTIONS_VERSION, "scope options")
        }
        try rt.popScope(
            h, stack: stack, output: try jsonInput(o.payload, o.payload_len, "output") ?? .null,
            metadata: try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null,
            timestamp: optionalTime(o.has_timestamp, o.timestamp_ns))
    }
}

@_cdecl("nemo_relay_scope_current")
public func nemo_relay_scope_current(_ out: OutHandle?, _ stackp: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        out.pointee = HandleTable.shared.insert(try stackArg(stackp).top, .scope)
    }
}

@_cdecl("nemo_relay_scope_info")
public func nemo_relay_scope_info(_ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ scope: OpaquePointer?)
    -> Int32
{
    ffi {
        let h = try scopeArg(scope)
        let kind: String
        switch h.kind {
        case .scope: kind = "scope"
        case .llm: kind = "llm"
        case .tool: kind = "tool"
        case .guardrail: kind = "guardrail"
        }
        let info: JSON = [
            "uuid": .string(h.uuid.description), "name": .string(h.name), "kind": .string(kind),
            "scope_type": .int(Int64(h.scopeType.rawValue)), "attributes": .int(Int64(h.attributes)),
            "parent_uuid": h.parentUUID.map { .string($0.description) } ?? .null, "data": h.data,
            "metadata": h.metadata, "start_time_ns": .string(String(h.startTime)),
            "model_name": h.modelName.map(JSON.string) ?? .null,
            "tool_call_id": h.toolCallID.map(JSON.string) ?? .null, "ended": .bool(h.isPopped),
        ]
        try writeOut(info.serialized(), out, outLen)
    }
}

@_cdecl("nemo_relay_scope_free")
public func nemo_relay_scope_free(_ scope: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(scope, .scope)
}

@_cdecl("nemo_relay_mark")
public func nemo_relay_mark(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ opts: UnsafePointer<nemo_relay_mark_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let name = try stringInput(name, "name")
        var o = nemo_relay_mark_options_t()
        o.severity = Int32(NEMO_RELAY_SEVERITY_NONE)
        if let opts {
            o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_MARK_OPTIONS_VERSION, "mark options")
        }
        var severity: LogLevel? = nil
        if o.severity != Int32(NEMO_RELAY_SEVERITY_NONE) {
            guard let s = LogLevel(rawValue: o.severity) else {
                throw FFIError.invalid("unknown severity \(o.severity)")
            }
            severity = s
        }
        let parent = try optionalScopeArg(o.parent)
        try checkOwner(parent, rt, "parent")
        rt.mark(
            name, stack: stack, parent: parent,
            data: try jsonInput(o.data, o.data_len, "data") ?? .null,
            dataSchema: try jsonInput(o.data_schema, o.data_schema_len, "data_schema").nonNull,
            metadata: try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null, severity: severity,
            timestamp: optionalTime(o.has_timestamp, o.timestamp_ns))
    }
}
