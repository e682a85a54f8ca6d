// SPDX-License-Identifier: Apache-2.0
// Middleware registration and subscribers.
// Every body runs inside `ffi { }`, which maps every failure to a status: no Swift error or trap crosses it.
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Middleware

@_cdecl("nemo_relay_register")
public func nemo_relay_register(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ kind: Int32, _ name: CString?, _ priority: Int32,
    _ flags: UInt32, _ cb: UnsafePointer<nemo_relay_callback_t>?
) -> Int32 {
    ffi {
        let box = try callbackArg(cb, "callback")
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        let name = try stringInput(name, "name")
        guard let k = MiddlewareKind(rawValue: kind) else { throw FFIError.invalid("unknown middleware kind \(kind)") }
        let brk = flags & UInt32(NEMO_RELAY_BREAK_CHAIN) != 0
        switch k {
        case .llmConditionalExecution:
            try rt.registerLLMConditionalGuardrail(name, priority: priority, scope: scope, Adapt.llmConditional(box))
        case .llmRequestIntercept:
            try rt.registerLLMRequestIntercept(
                name, priority: priority, breakChain: brk, scope: scope, Adapt.llmRequest(box))
        case .llmExecutionIntercept:
            try rt.registerLLMExecutionIntercept(name, priority: priority, scope: scope, Adapt.llmExecution(box))
        case .llmStreamExecutionIntercept:
            try rt.registerLLMStreamExecutionIntercept(
                name, priority: priority, scope: scope, Adapt.llmStreamExecution(box))
        case .llmSanitizeRequest:
            try rt.registerLLMSanitizeRequest(name, priority: priority, scope: scope, Adapt.llmSanitizeRequest(box))
        case .llmSanitizeResponse:
            try rt.registerLLMSanitizeResponse(name, priority: priority, scope: scope, Adapt.llmSanitizeResponse(box))
        case .toolConditionalExecution:
            try rt.registerToolConditionalGuardrail(name, priority: priority, scope: scope, Adapt.toolConditional(box))
        case .toolRequestIntercept:
            try rt.registerToolRequestIntercept(
                name, priority: priority, breakChain: brk, scope: scope, Adapt.toolRequest(box))
        case .toolExecutionIntercept:
            try rt.registerToolExecutionIntercept(name, priority: priority, scope: scope, Adapt.toolExecution(box))
        case .toolSanitizeRequest:
            try rt.registerToolSanitizeRequest(
                name, priority: priority, scope: scope, Adapt.toolSanitize(box, key: "args"))
        case .toolSanitizeResponse:
            try rt.registerToolSanitizeResponse(
                name, priority: priority, scope: scope, Adapt.toolSanitize(box, key: "result"))
        case .markSanitize:
            try rt.registerEventSanitizer(.mark, name, priority: priority, scope: scope, Adapt.eventSanitize(box))
        case .scopeStartSanitize:
            try rt.registerEventSanitizer(.scopeStart, name, priority: priority, scope: scope, Adapt.eventSanitize(box))
        case .scopeEndSanitize:
            try rt.registerEventSanitizer(.scopeEnd, name, priority: priority, scope: scope, Adapt.eventSanitize(box))
        case .metadataInjector:
            try rt.registerMetadataInjector(name, priority: priority, scope: scope, Adapt.metadataInjector(box))
        }
    }
}

@_cdecl("nemo_relay_deregister")
public func nemo_relay_deregister(
    _ out: UnsafeMutablePointer<Bool>?, _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ kind: Int32, _ name: CString?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        let name = try stringInput(name, "name")
        guard let k = MiddlewareKind(rawValue: kind) else { throw FFIError.invalid("unknown middleware kind \(kind)") }
        let removed = try rt.deregister(k, name: name, scope: scope)
        out?.pointee = removed
    }
}

// MARK: - Subscribers

/// Registers `deliver` as a lane; a missing fn frees the user data at once.
private func registerLane(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?, _ hasFn: Bool,
    _ ud: UnsafeMutableRawPointer?, _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
    _ deliver: @escaping (UserData) -> BatchSubscriber
) -> Int32 {
    ffi {
        let box = UserData(ud, udFree)
        guard hasFn else { throw FFIError.invalid("subscriber fn must not be NULL") }
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        try rt.registerBatchSubscriber(name: try stringInput(name, "name"), scope: scope, deliver(box))
    }
}

/// A subscriber's user data; its destructor runs after the last delivery (or at once on a failed registration).
///
/// `@unchecked Sendable`: immutable, as ``CallbackBox``.
final class UserData: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer?
    let free: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?

    init(_ p: UnsafeMutableRawPointer?, _ f: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) {
        pointer = p
        free = f
    }

    deinit { free?(pointer) }
}

@_cdecl("nemo_relay_subscriber_register")
public func nemo_relay_subscriber_register(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?, _ fn: nemo_relay_subscriber_fn?,
    _ ud: UnsafeMutableRawPointer?, _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
) -> Int32 {
    registerLane(rtp, owner, name, fn != nil, ud, udFree) { box in
        { batch in
            guard let fn else { return }
            for r in batch { withCBytes(r.bytes) { p, n in fn(p, n, box.pointer) } }
        }
    }
}

@_cdecl("nemo_relay_subscriber_register_batch")
public func nemo_relay_subscriber_register_batch(
    _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?, _ fn: nemo_relay_subscriber_batch_fn?,
    _ ud: UnsafeMutableRawPointer?, _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
) -> Int32 {
    registerLane(rtp, owner, name, fn != nil, ud, udFree) { box in
        { batch in
            guard let fn else { return }
            var lines: [UInt8] = []
            lines.reserveCapacity(batch.count * 512)
            for r in batch {
                lines.append(contentsOf: r.bytes)
                lines.append(0x0A)
            }
            withCBytes(lines) { p, n in fn(p, n, batch.count, box.pointer) }
        }
    }
}

@_cdecl("nemo_relay_subscriber_deregister")
public func nemo_relay_subscriber_deregister(
    _ out: UnsafeMutablePointer<Bool>?, _ rtp: OpaquePointer?, _ owner: OpaquePointer?, _ name: CString?
) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        let scope = try optionalScopeArg(owner, "owner")
        try checkOwner(scope, rt, "owner")
        let name = try stringInput(name, "name")
        let removed: Bool
        if let scope {
            removed = try rt.deregisterSubscriber(scope: scope, name: name)
        } else {
            removed = rt.deregisterSubscriber(name: name)
        }
        out?.pointee = removed
    }
}

@_cdecl("nemo_relay_flush")
public func nemo_relay_flush(_ rtp: OpaquePointer?, _ timeout: Int64) -> Int32 {
    ffi {
        let rt = try runtimeArg(rtp)
        if !rt.flush(timeoutNanos: timeout < 0 ? nil : timeout) {
            throw FFIError(Int32(NEMO_RELAY_E_TIMEOUT), "flush timed out before every queued event was delivered")
        }
    }
}

@_cdecl("nemo_relay_dropped_events")
public func nemo_relay_dropped_events(_ out: UnsafeMutablePointer<UInt64>?, _ rtp: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        out.pointee = try runtimeArg(rtp).droppedEvents
    }
}
