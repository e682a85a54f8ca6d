// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay

func pendingMarkJSON(_ m: PendingMark) -> JSON {
    [
        "name": .string(m.name), "category": m.category.map(JSON.string) ?? .null,
        "category_profile": m.categoryProfile ?? .null, "data": m.data, "metadata": m.metadata,
        "data_schema": m.dataSchema ?? .null, "severity": m.severity.map(JSON.string) ?? .null,
    ]
}

/// Starts an operation that reports through `done`; on a start failure `done`'s destructor runs.
private func withDone(_ done: UnsafePointer<nemo_relay_done_t>?, _ body: (DoneBox) throws -> Void) -> Int32 {
    ffi {
        guard let done else { throw FFIError.invalid("done must not be NULL") }
        try body(try DoneBox(done.pointee))
    }
}

private func voidResult(_ r: Result<Void, RelayError>) -> Result<JSON, RelayError> { r.map { .null } }

@_cdecl("nemo_relay_llm_conditional_execution")
public func nemo_relay_llm_conditional_execution(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ req: CString?, _ len: Int,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    withDone(done) { d in
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        guard let v = try jsonInput(req, len, "request") else { throw FFIError.invalid("request must not be NULL") }
        let request = try LLMRequest(json: v)
        rt.llmConditionalExecution(request, stack: stack) { d.call(voidResult($0)) }
    }
}

@_cdecl("nemo_relay_llm_request_intercepts")
public func nemo_relay_llm_request_intercepts(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ req: CString?, _ len: Int,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    withDone(done) { d in
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        let name = try stringInput(name, "name")
        guard let v = try jsonInput(req, len, "request") else { throw FFIError.invalid("request must not be NULL") }
        let request = try LLMRequest(json: v)
        rt.llmRequestIntercepts(name: name, request: request, stack: stack) { r in
            d.call(
                r.map { o in
                    [
                        "request": o.request.json, "annotated_request": o.annotatedRequest ?? .null,
                        "pending_marks": .array(o.pendingMarks.map(pendingMarkJSON)),
                    ]
                })
        }
    }
}

/// Reads the common arguments of the tool chain helpers and starts `run` with a done box.
private func toolChain(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?, _ len: Int,
    _ done: UnsafePointer<nemo_relay_done_t>?,
    _ run: (Runtime, ScopeStack, String, JSON, DoneBox) -> Void
) -> Int32 {
    withDone(done) { d in
        let rt = try runtimeArg(rtp)
        let stack = try stackArg(stackp)
        run(rt, stack, try stringInput(name, "name"), try jsonInput(args, len, "args") ?? .null, d)
    }
}

@_cdecl("nemo_relay_tool_conditional_execution")
public func nemo_relay_tool_conditional_execution(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?, _ len: Int,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    toolChain(rtp, stackp, name, args, len, done) { rt, stack, name, a, d in
        rt.toolConditionalExecution(name, args: a, stack: stack) { d.call(voidResult($0)) }
    }
}

@_cdecl("nemo_relay_tool_request_intercepts")
public func nemo_relay_tool_request_intercepts(
    _ rtp: OpaquePointer?, _ stackp: OpaquePointer?, _ name: CString?, _ args: CString?, _ len: Int,
    _ done: UnsafePointer<nemo_relay_done_t>?
) -> Int32 {
    toolChain(rtp, stackp, name, args, len, done) { rt, stack, name, a, d in
        rt.toolRequestIntercepts(name, args: a, stack: stack) { d.call($0) }
    }
}

/// A C log sink; its destructor runs when replaced or when the runtime goes.
///
/// `@unchecked Sendable`: immutable, as ``CallbackBox``.
final class LogBox: @unchecked Sendable {
    let fn: nemo_relay_log_fn
    let userData: UnsafeMutableRawPointer?
    let userDataFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?

    init(
        _ fn: nemo_relay_log_fn, _ ud: UnsafeMutableRawPointer?,
        _ free: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    ) {
        self.fn = fn
        userData = ud
        userDataFree = free
    }

    deinit { userDataFree?(userData) }

    func log(_ level: LogLevel, _ message: String) {
        withCBytes(Array(message.utf8)) { p, n in fn(level.rawValue, p, n, userData) }
    }
}

@_cdecl("nemo_relay_runtime_set_log_callback")
public func nemo_relay_runtime_set_log_callback(
    _ rtp: OpaquePointer?, _ fn: nemo_relay_log_fn?, _ ud: UnsafeMutableRawPointer?,
    _ udFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
) -> Int32 {
    ffi {
        let rt: Runtime
        do { rt = try runtimeArg(rtp) } catch {
            udFree?(ud)
            throw error
        }
        guard let fn else {
            udFree?(ud)
            rt.setLogSink(nil)
            return
        }
        let box = LogBox(fn, ud, udFree)
        rt.setLogSink { level, message in box.log(level, message) }
    }
}
