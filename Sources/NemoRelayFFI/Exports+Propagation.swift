// SPDX-License-Identifier: Apache-2.0
// Propagation contexts across processes: capture, import, parsing (include/nemo_relay.h, "Propagation").
import CNemoRelay
import NemoRelay

#if canImport(Glibc)
    import Glibc
#endif

extension PropagationError {
    /// The status and message this failure leaves the C caller.
    var ffi: FFIError {
        switch kind {
        case .invalidJSON: return FFIError(Int32(NEMO_RELAY_E_INVALID_JSON), message)
        case .invalidUUID, .invalidContext: return FFIError(Int32(NEMO_RELAY_E_INVALID_ARGUMENT), message)
        }
    }
}

/// Copies `len` input bytes; NULL is refused.
private func inputBytes(_ p: CString?, _ len: Int, _ what: String) throws -> [UInt8] {
    guard let p else { throw FFIError.invalid("\(what) must not be NULL") }
    return p.withMemoryRebound(to: UInt8.self, capacity: max(len, 1)) {
        Array(UnsafeBufferPointer(start: $0, count: len))
    }
}

/// Parses wire JSON into a context, mapping failures to their status.
private func wireContext(_ p: CString?, _ len: Int, _ what: String) throws -> PropagationContext {
    let bytes = try inputBytes(p, len, what)
    do {
        return try PropagationContext(json: bytes)
    } catch {
        throw error.ffi
    }
}

@_cdecl("nemo_relay_propagation_capture")
public func nemo_relay_propagation_capture(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ stackp: OpaquePointer?, _ parentp: OpaquePointer?,
    _ mode: Int32, _ rootp: CString?
) -> Int32 {
    ffi {
        let stack = try stackArg(stackp)
        let parent = try optionalScopeArg(parentp)
        let context: PropagationContext
        switch mode {
        case Int32(NEMO_RELAY_PROPAGATION_ROOTED), Int32(NEMO_RELAY_PROPAGATION_ROOTLESS):
            guard rootp == nil else {
                throw FFIError.invalid("root_uuid is only used with NEMO_RELAY_PROPAGATION_WITH_ROOT")
            }
            context =
                mode == Int32(NEMO_RELAY_PROPAGATION_ROOTED)
                ? stack.capturePropagationContext(parent: parent)
                : stack.captureRootlessPropagationContext(parent: parent)
        case Int32(NEMO_RELAY_PROPAGATION_WITH_ROOT):
            let rootText = try optionalString(rootp, "root_uuid")
            do throws(PropagationError) {
                let root = try rootText.map { (s) throws(PropagationError) in try RelayUUID.parseLenient(s) }
                context = try stack.capturePropagationContext(withRoot: root, parent: parent)
            } catch {
                throw error.ffi
            }
        default:
            throw FFIError.invalid("unknown propagation capture mode \(mode)")
        }
        try writeOut(Array(context.json.utf8), out, outLen)
    }
}

@_cdecl("nemo_relay_traceparent_capture")
public func nemo_relay_traceparent_capture(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ stackp: OpaquePointer?, _ parentp: OpaquePointer?
) -> Int32 {
    ffi {
        let stack = try stackArg(stackp)
        let parent = try optionalScopeArg(parentp)
        try writeOut(Array(try stack.captureTraceparent(parent: parent).utf8), out, outLen)
    }
}

@_cdecl("nemo_relay_token_scope")
public func nemo_relay_token_scope(_ out: OutHandle?, _ tokenp: OpaquePointer?) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        guard let token = HandleTable.shared.get(tokenp, .token, as: Token.self) else {
            throw FFIError.misuse("misuse: token is invalid or was already completed")
        }
        guard let call = token.call else {
            throw RelayError.notFound("the token does not belong to a managed LLM or tool call")
        }
        out.pointee = HandleTable.shared.insert(call, .scope)
    }
}

@_cdecl("nemo_relay_stack_from_propagation")
public func nemo_relay_stack_from_propagation(_ out: OutHandle?, _ json: CString?, _ len: Int) -> Int32 {
    ffi {
        guard let out else { throw FFIError.invalid("out must not be NULL") }
        let context = try wireContext(json, len, "context_json")
        out.pointee = HandleTable.shared.insert(StackRef(ScopeStack(propagation: context)), .stack)
    }
}

@_cdecl("nemo_relay_propagation_parse")
public func nemo_relay_propagation_parse(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ json: CString?, _ len: Int
) -> Int32 {
    ffi { try writeOut(Array(try wireContext(json, len, "json").json.utf8), out, outLen) }
}

@_cdecl("nemo_relay_propagation_to_traceparent")
public func nemo_relay_propagation_to_traceparent(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ json: CString?, _ len: Int
) -> Int32 {
    ffi {
        let context = try wireContext(json, len, "json")
        do {
            try writeOut(Array(try context.traceparentHeader().utf8), out, outLen)
        } catch let e as PropagationError {
            throw e.ffi
        }
    }
}

@_cdecl("nemo_relay_propagation_normalize")
public func nemo_relay_propagation_normalize(
    _ out: OutString?, _ outLen: UnsafeMutablePointer<Int>?, _ json: CString?, _ len: Int
) -> Int32 {
    ffi {
        guard let fields = try jsonInput(json, len, "fields_json") else {
            throw FFIError.invalid("fields_json must not be NULL")
        }
        guard case .object(let o) = fields else {
            throw FFIError(Int32(NEMO_RELAY_E_INVALID_JSON), "invalid JSON in fields_json: expected an object")
        }
        func string(_ key: String, required: Bool = false) throws -> String? {
            switch o[key] {
            case nil, .null?:
                if required { throw FFIError.invalid("propagation context field `\(key)` is required") }
                return nil
            case .string(let s)?: return s
            default: throw FFIError.invalid("propagation context field `\(key)` must be a string")
            }
        }
        var version: UInt32 = 1
        switch o["version"] {
        case nil, .null?: break
        case let v?:
            guard let n = v.int64Value, v.isNumber, (0...Int64(UInt32.max)).contains(n) else {
                throw FFIError.invalid("propagation context field `version` must be an integer from 0 to 4294967295")
            }
            version = UInt32(n)
        }
        let parent = try string("parent_uuid", required: true) ?? ""
        let root = try string("root_uuid")
        let traceparent = try string("traceparent")
        let tracestate = try string("tracestate")
        do {
            let context = try PropagationContext(
                parentUUID: parent, rootUUID: root, version: version, traceparent: traceparent, tracestate: tracestate)
            try writeOut(Array(context.json.utf8), out, outLen)
        } catch let e as PropagationError {
            throw e.ffi
        }
    }
}
