// SPDX-License-Identifier: Apache-2.0
// Tool calls.
// Every body runs inside `ffi { }`, which maps every failure to a status: no Swift error or trap crosses it.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Tools

private func toolParams(_ name: String, _ args: JSON, _ opts: UnsafePointer<nemo_relay_tool_options_t>?) throws
    -> ToolCallParams
{
    var p = ToolCallParams(name: name, args: args)
    guard let opts else { return p }
    let o = opts.pointee
    try checkVersion(o.version, NEMO_RELAY_TOOL_OPTIONS_VERSION, "tool options")
    p.parent = try optionalScopeArg(o.parent)
    p.attributes = o.attributes
    p.data = try jsonInput(o.data, o.data_len, "data") ?? .null
    p.metadata = try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null
    p.toolCallID = try optionalString(o.tool_call_id, "tool_call_id")
    p.timestamp = optionalTime(o.has_timestamp, o.timestamp_ns)
    return p
}

@_cdecl("nemo_relay_tool_call")
public func nemo_relay_tool_call(
    _ out: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?,
    _ argsLen: Int, _ opts: UnsafePointer<nemo_relay_tool_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try toolParams(try stringInput(name, "name"), try jsonInput(args, argsLen, "args") ?? .null, opts)
        try checkOwner(p.parent, rt, "parent")
        out.pointee = HandleTable.shared.insert(rt.toolCall(p, stack: stack), .scope)
    }
}

@_cdecl("nemo_relay_tool_call_end")
public func nemo_relay_tool_call_end(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ tool: OpaquePointer?, _ result: CString?, _ resultLen: Int,
    _ opts: UnsafePointer<nemo_relay_tool_options_t>?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let h = try scopeArg(tool, "tool")
        try checkOwner(h, rt, "tool")
        guard h.kind == .tool else { throw FFIError.invalid("handle is not a tool call") }
        var r: ToolResult? = nil
        if let v = try jsonInput(result, resultLen, "result"), !v.isNull {
            r = try toolResultFromJSON(v, "tool_call_end result")
        }
        var data = JSON.null
        var metadata = JSON.null
        var ts: Nanoseconds? = nil
        if let opts {
            let o = opts.pointee
            try checkVersion(o.version, NEMO_RELAY_TOOL_OPTIONS_VERSION, "tool options")
            data = try jsonInput(o.data, o.data_len, "data") ?? .null
            metadata = try jsonInput(o.metadata, o.metadata_len, "metadata") ?? .null
            ts = optionalTime(o.has_timestamp, o.timestamp_ns)
        }
        rt.toolCallEnd(h, result: r, data: data, metadata: metadata, timestamp: ts, stack: stack)
    }
}

@_cdecl("nemo_relay_tool_execute")
public func nemo_relay_tool_execute(
    _ outCall: OutHandle?, _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?,
    _ argsLen: Int, _ opts: UnsafePointer<nemo_relay_tool_options_t>?, _ tool: UnsafePointer<nemo_relay_callback_t>?,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    if outCall != nil { outCall!.pointee = nil }
    return startManaged(outCall, tool, done) { tbox, dbox, control in
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let p = try toolParams(try stringInput(name, "name"), try jsonInput(args, argsLen, "args") ?? .null, opts)
        try checkOwner(p.parent, rt, "parent")
        rt.toolExecute(p, stack: stack, control: control, tool: Adapt.tool(tbox)) { r in
            dbox.call(r.map(toolResultJSON))
        }
    }
}
