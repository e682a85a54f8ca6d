// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay

// Exporters: ATOF JSON Lines (file and HTTP stream sinks) and ATIF trajectories (docs/exporters.md).

@_cdecl("nemo_relay_exporter_options_init")
public func nemo_relay_exporter_options_init(
    _ o: UnsafeMutablePointer<nemo_relay_exporter_options_t>?, _ v: UInt32
) -> Int32 {
    var d = nemo_relay_exporter_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_EXPORTER_OPTIONS_VERSION, "exporter options", d)
}

/// The configuration JSON of an options struct; NULL options or a NULL config mean `null`.
private func exporterConfig(_ opts: UnsafePointer<nemo_relay_exporter_options_t>?) throws -> JSON {
    guard let o = opts?.pointee else { return .null }
    try checkVersion(o.version, NEMO_RELAY_EXPORTER_OPTIONS_VERSION, "exporter options")
    return try jsonInput(o.config_json, o.config_len, "exporter config") ?? .null
}

private func exporterArg(_ p: OpaquePointer?) throws -> Exporter {
    guard p != nil else { throw FFIError.misuse("misuse: exporter handle is NULL") }
    guard let e = HandleTable.shared.get(p, .exporter, as: Exporter.self) else {
        throw FFIError.misuse("misuse: exporter handle is invalid or was freed")
    }
    return e
}

/// A timeout argument: negative means none; large values saturate instead of overflowing.
private func timeoutArg(_ ns: Int64) -> Int64? { ns < 0 ? nil : ns }

@_cdecl("nemo_relay_atof_exporter_new")
public func nemo_relay_atof_exporter_new(
    _ out: OutHandle?, _ opts: UnsafePointer<nemo_relay_exporter_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let config = try ATOFExporterConfig(json: try exporterConfig(opts))
        out.pointee = HandleTable.shared.insert(try Exporter.atof(config), .exporter)
    }
}

@_cdecl("nemo_relay_atif_exporter_new")
public func nemo_relay_atif_exporter_new(
    _ out: OutHandle?, _ opts: UnsafePointer<nemo_relay_exporter_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let config = try exporterConfig(opts)
        if config.isNull { throw FFIError.invalid("ATIF exporter config is required (session_id, agent_name, ...)") }
        out.pointee = HandleTable.shared.insert(try Exporter.atif(json: config), .exporter)
    }
}

@_cdecl("nemo_relay_otel_exporter_new")
public func nemo_relay_otel_exporter_new(
    _ out: OutHandle?, _ opts: UnsafePointer<nemo_relay_exporter_options_t>?
) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let config = try exporterConfig(opts)
        if config.isNull { throw FFIError.invalid("OpenTelemetry exporter config is required (type, endpoint, ...)") }
        out.pointee = HandleTable.shared.insert(try Exporter.otel(json: config), .exporter)
    }
}

@_cdecl("nemo_relay_exporter_register")
public func nemo_relay_exporter_register(_ ep: OpaquePointer?, _ rtp: OpaquePointer?, _ name: CString?) -> Int32 {
    ffi {
        let e = try exporterArg(ep)
        let rt = try runtimeArg(rtp)
        try e.register(on: rt, name: try stringInput(name, "name"))
    }
}

@_cdecl("nemo_relay_exporter_deregister")
public func nemo_relay_exporter_deregister(
    _ out: UnsafeMutablePointer<Bool>?, _ ep: OpaquePointer?, _ rtp: OpaquePointer?, _ name: CString?
) -> Int32 {
    ffi {
        let e = try exporterArg(ep)
        let rt = try runtimeArg(rtp)
        let removed = e.deregister(from: rt, name: try stringInput(name, "name"))
        out?.pointee = removed
    }
}

@_cdecl("nemo_relay_exporter_flush")
public func nemo_relay_exporter_flush(_ ep: OpaquePointer?, _ timeout: Int64) -> Int32 {
    ffi { try exporterArg(ep).flush(timeoutNanos: timeoutArg(timeout)) }
}

@_cdecl("nemo_relay_exporter_shutdown")
public func nemo_relay_exporter_shutdown(_ ep: OpaquePointer?, _ timeout: Int64) -> Int32 {
    ffi { try exporterArg(ep).shutdown(timeoutNanos: timeoutArg(timeout)) }
}

@_cdecl("nemo_relay_exporter_diagnostics")
public func nemo_relay_exporter_diagnostics(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ ep: OpaquePointer?
) -> Int32 {
    ffi { try writeOut(try exporterArg(ep).diagnostics.serialized(), out, outLen) }
}

@_cdecl("nemo_relay_exporter_path")
public func nemo_relay_exporter_path(_ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ ep: OpaquePointer?)
    -> Int32
{
    ffi {
        let e = try exporterArg(ep)
        guard let path = e.path else { throw RelayError.notFound("the \(e.kind) exporter has no file path") }
        try writeOut(Array(path.utf8), out, outLen)
    }
}

@_cdecl("nemo_relay_atif_exporter_export")
public func nemo_relay_atif_exporter_export(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ ep: OpaquePointer?, _ timeout: Int64
) -> Int32 {
    ffi {
        let e = try exporterArg(ep)
        try writeOut(ATIF.json(try e.trajectory(flushTimeoutNanos: timeoutArg(timeout))), out, outLen)
    }
}

@_cdecl("nemo_relay_atif_exporter_clear")
public func nemo_relay_atif_exporter_clear(_ ep: OpaquePointer?) -> Int32 {
    ffi { try exporterArg(ep).clearCollected() }
}

@_cdecl("nemo_relay_atif_trajectory")
public func nemo_relay_atif_trajectory(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ events: CString?, _ eventsLen: Int,
    _ config: CString?, _ configLen: Int
) -> Int32 {
    ffi {
        guard let ev = try jsonInput(events, eventsLen, "events") else {
            throw FFIError.invalid("events must not be NULL")
        }
        guard let list = ev.arrayValue else { throw FFIError.invalid("events must be a JSON array of event objects") }
        guard let cfg = try jsonInput(config, configLen, "config") else {
            throw FFIError.invalid("config must not be NULL")
        }
        let options = try ATIFOptions(json: cfg)
        try writeOut(ATIF.json(ATIF.trajectory(events: list, options: options)), out, outLen)
    }
}

@_cdecl("nemo_relay_exporter_free")
public func nemo_relay_exporter_free(_ ep: OpaquePointer?) {
    LastError.clear()
    guard let e = HandleTable.shared.remove(ep, .exporter) as? Exporter else { return }
    e.detach()
}
