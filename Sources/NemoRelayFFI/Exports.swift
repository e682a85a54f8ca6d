// SPDX-License-Identifier: Apache-2.0
// Versions, errors, memory, option structs, runtimes and stacks. The exports live in the Exports*.swift files,
// the only @_cdecl code, by concern. Every body runs inside `ffi { }`, which maps every failure to a status: no
// Swift error or trap crosses the boundary.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

public typealias CString = UnsafePointer<CChar>
public typealias OutString = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
public typealias OutHandle = UnsafeMutablePointer<OpaquePointer?>

private let versionString = CStringConstant(NEMO_RELAY_VERSION_STRING)

// MARK: - Versions, errors, memory

@_cdecl("nemo_relay_version")
public func nemo_relay_version() -> CString { versionString.pointer }

@_cdecl("nemo_relay_version_number")
public func nemo_relay_version_number() -> Int32 { Int32(NEMO_RELAY_VERSION_NUMBER) }

private let statusNames: [Int32: CStringConstant] = {
    let names: [(Int32, String)] = [
        (Int32(NEMO_RELAY_OK), "NEMO_RELAY_OK"), (Int32(NEMO_RELAY_PENDING), "NEMO_RELAY_PENDING"),
        (Int32(NEMO_RELAY_E_INVALID_ARGUMENT), "NEMO_RELAY_E_INVALID_ARGUMENT"),
        (Int32(NEMO_RELAY_E_NOT_FOUND), "NEMO_RELAY_E_NOT_FOUND"),
        (Int32(NEMO_RELAY_E_ALREADY_EXISTS), "NEMO_RELAY_E_ALREADY_EXISTS"),
        (Int32(NEMO_RELAY_E_GUARDRAIL_REJECTED), "NEMO_RELAY_E_GUARDRAIL_REJECTED"),
        (Int32(NEMO_RELAY_E_INTERNAL), "NEMO_RELAY_E_INTERNAL"), (Int32(NEMO_RELAY_E_MISUSE), "NEMO_RELAY_E_MISUSE"),
        (Int32(NEMO_RELAY_E_CALLBACK), "NEMO_RELAY_E_CALLBACK"),
        (Int32(NEMO_RELAY_E_CANCELLED), "NEMO_RELAY_E_CANCELLED"),
        (Int32(NEMO_RELAY_E_INVALID_JSON), "NEMO_RELAY_E_INVALID_JSON"),
        (Int32(NEMO_RELAY_E_VERSION), "NEMO_RELAY_E_VERSION"), (Int32(NEMO_RELAY_E_TIMEOUT), "NEMO_RELAY_E_TIMEOUT"),
        (Int32(NEMO_RELAY_E_SCOPE_STACK_EMPTY), "NEMO_RELAY_E_SCOPE_STACK_EMPTY"),
        (Int32(NEMO_RELAY_E_FULL), "NEMO_RELAY_E_FULL"),
    ]
    var d: [Int32: CStringConstant] = [:]
    for (k, v) in names { d[k] = CStringConstant(v) }
    return d
}()
private let unknownStatus = CStringConstant("NEMO_RELAY_E_UNKNOWN")

@_cdecl("nemo_relay_status_str")
public func nemo_relay_status_str(_ status: Int32) -> CString {
    (statusNames[status] ?? unknownStatus).pointer
}

@_cdecl("nemo_relay_last_error_message")
public func nemo_relay_last_error_message() -> CString { LastError.message }

@_cdecl("nemo_relay_last_error_id")
public func nemo_relay_last_error_id() -> UInt64 { LastError.identityID }

@_cdecl("nemo_relay_free")
public func nemo_relay_free(_ p: UnsafeMutableRawPointer?) { free(p) }

// MARK: - Options init

func initOptions<T>(
    _ opts: UnsafeMutablePointer<T>?, _ version: UInt32, _ supported: Int32, _ what: String,
    _ value: T
) -> Int32 {
    ffi {
        guard let opts else { throw FFIError.invalid("\(what) must not be NULL") }
        try checkVersion(version, supported, what)
        opts.pointee = value
    }
}

@_cdecl("nemo_relay_runtime_options_init")
public func nemo_relay_runtime_options_init(_ o: UnsafeMutablePointer<nemo_relay_runtime_options_t>?, _ v: UInt32)
    -> Int32
{
    var d = nemo_relay_runtime_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_RUNTIME_OPTIONS_VERSION, "runtime options", d)
}

@_cdecl("nemo_relay_scope_options_init")
public func nemo_relay_scope_options_init(_ o: UnsafeMutablePointer<nemo_relay_scope_options_t>?, _ v: UInt32) -> Int32
{
    var d = nemo_relay_scope_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_SCOPE_OPTIONS_VERSION, "scope options", d)
}

@_cdecl("nemo_relay_mark_options_init")
public func nemo_relay_mark_options_init(_ o: UnsafeMutablePointer<nemo_relay_mark_options_t>?, _ v: UInt32) -> Int32 {
    var d = nemo_relay_mark_options_t()
    d.version = v
    d.severity = Int32(NEMO_RELAY_SEVERITY_NONE)
    return initOptions(o, v, NEMO_RELAY_MARK_OPTIONS_VERSION, "mark options", d)
}

@_cdecl("nemo_relay_llm_options_init")
public func nemo_relay_llm_options_init(_ o: UnsafeMutablePointer<nemo_relay_llm_options_t>?, _ v: UInt32) -> Int32 {
    var d = nemo_relay_llm_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_LLM_OPTIONS_VERSION, "LLM options", d)
}

@_cdecl("nemo_relay_llm_end_options_init")
public func nemo_relay_llm_end_options_init(_ o: UnsafeMutablePointer<nemo_relay_llm_end_options_t>?, _ v: UInt32)
    -> Int32
{
    var d = nemo_relay_llm_end_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_LLM_END_OPTIONS_VERSION, "LLM end options", d)
}

@_cdecl("nemo_relay_tool_options_init")
public func nemo_relay_tool_options_init(_ o: UnsafeMutablePointer<nemo_relay_tool_options_t>?, _ v: UInt32) -> Int32 {
    var d = nemo_relay_tool_options_t()
    d.version = v
    return initOptions(o, v, NEMO_RELAY_TOOL_OPTIONS_VERSION, "tool options", d)
}

// MARK: - Runtime

@_cdecl("nemo_relay_runtime_new")
public func nemo_relay_runtime_new(_ out: OutHandle?, _ opts: UnsafePointer<nemo_relay_runtime_options_t>?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        var capacity = 65_536
        if let o = opts?.pointee {
            try checkVersion(o.version, NEMO_RELAY_RUNTIME_OPTIONS_VERSION, "runtime options")
            if o.subscriber_queue_capacity > 0 { capacity = Int(o.subscriber_queue_capacity) }
        }
        let rt = Runtime(subscriberOptions: SubscriberOptions(capacity: capacity))
        // Until a log callback is set, diagnostics go to the operational log (docs/logging.md).
        rt.setLogSink(OperationalLogger.runtimeSink)
        out.pointee = HandleTable.shared.insert(rt, .runtime)
    }
}

@_cdecl("nemo_relay_runtime_free")
public func nemo_relay_runtime_free(_ rt: OpaquePointer?) {
    LastError.clear()
    guard let r = HandleTable.shared.remove(rt, .runtime) as? Runtime else { return }
    r.shutdown(timeoutNanos: 5_000_000_000)
}

// MARK: - Stacks

@_cdecl("nemo_relay_stack_new")
public func nemo_relay_stack_new(_ out: OutHandle?, _ parent: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let s: ScopeStack
        if parent != nil {
            s = ScopeStack(forkingFrom: try stackArg(parent))
        } else {
            s = ScopeStack()
        }
        out.pointee = HandleTable.shared.insert(StackRef(s), .stack)
    }
}

@_cdecl("nemo_relay_stack_thread_default")
public func nemo_relay_stack_thread_default(_ out: OutHandle?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        out.pointee = HandleTable.shared.insert(StackRef(ScopeStack.current), .stack)
    }
}

@_cdecl("nemo_relay_stack_set_thread_default")
public func nemo_relay_stack_set_thread_default(_ stack: OpaquePointer?) -> Int32 {
    ffi {
        if stack == nil {
            ScopeStack.setCurrent(nil)
        } else {
            ScopeStack.setCurrent(try stackArg(stack))
        }
    }
}

@_cdecl("nemo_relay_stack_free")
public func nemo_relay_stack_free(_ stack: OpaquePointer?) {
    LastError.clear()
    HandleTable.shared.remove(stack, .stack)
}

/// An optional timestamp argument: `ns` when the caller set `has`.
func optionalTime(_ has: Bool, _ ns: Int64) -> Nanoseconds? { has ? ns : nil }
