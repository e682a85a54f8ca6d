// SPDX-License-Identifier: Apache-2.0
import CFFI
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Errors

/// A request the helper cannot carry out (unknown export, bad argument kind, ...).
struct ProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

// MARK: - Argument layout

/// One C scalar slot: its libffi type and how a JS value is written into it.
enum Scalar {
    case u8, i32, u32, i64, u64, ptr

    var type: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .u8: return nr_ffi_u8()
        case .i32: return nr_ffi_s32()
        case .u32: return nr_ffi_u32()
        case .i64: return nr_ffi_s64()
        case .u64: return nr_ffi_u64()
        case .ptr: return nr_ffi_ptr()
        }
    }

    var size: Int {
        switch self {
        case .u8: return 1
        case .i32, .u32: return 4
        case .i64, .u64, .ptr: return 8
        }
    }
}

/// A declared parameter (or struct field) and the C scalars it expands to.
indirect enum Param {
    case scalar(Kind, Scalar)
    case str
    case json
    case structure(StructLayout)
    case outPtr, outStr, outBool, outU64

    static func parse(_ v: Any) throws -> Param {
        if let fields = v as? [Any] { return .structure(try StructLayout(fields)) }
        guard let s = v as? String, let k = Kind(rawValue: s) else { throw ProtocolError("unknown argument kind \(v)") }
        switch k {
        case .i32: return .scalar(k, .i32)
        case .u32: return .scalar(k, .u32)
        case .i64: return .scalar(k, .i64)
        case .u64: return .scalar(k, .u64)
        case .usize: return .scalar(k, .u64)
        case .bool: return .scalar(k, .u8)
        case .ptr: return .scalar(k, .ptr)
        case .str: return .str
        case .json, .rawjson: return .json
        case .out_ptr: return .outPtr
        case .out_str: return .outStr
        case .out_bool: return .outBool
        case .out_u64: return .outU64
        case .void, .cstr: throw ProtocolError("\(s) is only a return kind")
        }
    }

    /// The C arguments this parameter occupies.
    var scalars: [Scalar] {
        switch self {
        case .scalar(_, let s): return [s]
        case .str, .structure, .outPtr, .outBool, .outU64: return [.ptr]
        case .json: return [.ptr, .u64]
        case .outStr: return [.ptr, .ptr]
        }
    }
}

/// The C layout of an options struct described field by field (natural alignment, x86-64/aarch64 LP64).
struct StructLayout {
    let fields: [(Param, Int)]  // parameter and offset of its first scalar
    let size: Int

    init(_ spec: [Any]) throws {
        var off = 0
        var maxAlign = 1
        var out: [(Param, Int)] = []
        for f in spec {
            let p = try Param.parse(f)
            switch p {
            case .structure, .outPtr, .outStr, .outBool, .outU64:
                throw ProtocolError("struct fields must be scalars, str or json")
            default: break
            }
            var first = -1
            for s in p.scalars {
                off = (off + s.size - 1) / s.size * s.size
                if first < 0 { first = off }
                off += s.size
                maxAlign = max(maxAlign, s.size)
            }
            out.append((p, first))
        }
        fields = out
        size = max((off + maxAlign - 1) / maxAlign * maxAlign, 1)
    }
}

// MARK: - Values

/// Memory that lives for one call: duplicated strings and struct buffers.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    deinit { for b in blocks { free(b) } }

    func string(_ s: String) -> (UnsafeMutablePointer<CChar>, Int) {
        var len = 0
        let p: UnsafeMutablePointer<CChar> = s.withCString { c in
            len = strlen(c)
            return strdup(c)!
        }
        blocks.append(UnsafeMutableRawPointer(p))
        return (p, len)
    }

    func zeroed(_ size: Int) -> UnsafeMutableRawPointer {
        let p = calloc(1, size)!
        blocks.append(p)
        return p
    }
}

/// A request value by its JSON kind. Decided by the dynamic type first, because a failing `as?` from
/// one of these types to another goes through Foundation's bridging and costs far more than the call.
enum Value {
    case null, number(NSNumber), string(String), array([Any]), object([String: Any]), other

    private static let stringType = ObjectIdentifier(String.self)
    private static let arrayType = ObjectIdentifier([Any].self)
    private static let objectType = ObjectIdentifier([String: Any].self)
    private static let nullType = ObjectIdentifier(NSNull.self)
    private static let numberType = ObjectIdentifier(NSNumber.self)

    @inline(__always) init(_ v: Any?) {
        guard let v else {
            self = .null
            return
        }
        let t = ObjectIdentifier(type(of: v))
        if t == Value.numberType {
            self = .number(v as! NSNumber)
        } else if t == Value.stringType {
            self = .string(v as! String)
        } else if t == Value.nullType {
            self = .null
        } else if t == Value.arrayType {
            self = .array(v as! [Any])
        } else if t == Value.objectType {
            self = .object(v as! [String: Any])
        } else if let n = v as? NSNumber {
            self = .number(n)
        } else {
            self = .other
        }
    }
}

func int64(_ v: Any?) throws -> Int64 {
    switch Value(v) {
    case .null: return 0
    case .number(let n): return n.int64Value
    case .string(let s):
        guard let n = Int64(s) ?? (UInt64(s).map { Int64(bitPattern: $0) }) else {
            throw ProtocolError("bad integer \(s)")
        }
        return n
    default: throw ProtocolError("bad integer \(String(describing: v))")
    }
}

/// Writes one scalar JS value at `at`.
func store(_ s: Scalar, _ v: Any?, _ at: UnsafeMutableRawPointer) throws {
    switch s {
    case .u8:
        let b: Bool
        if case .number(let n) = Value(v) { b = n.boolValue } else { b = false }
        at.storeBytes(of: b ? 1 : 0, as: UInt8.self)
    case .i32: at.storeBytes(of: Int32(truncatingIfNeeded: try int64(v)), as: Int32.self)
    case .u32: at.storeBytes(of: UInt32(truncatingIfNeeded: try int64(v)), as: UInt32.self)
    case .i64, .ptr: at.storeBytes(of: try int64(v), as: Int64.self)
    case .u64: at.storeBytes(of: UInt64(bitPattern: try int64(v)), as: UInt64.self)
    }
}

/// Writes a `str` or `json` value: a pointer, plus a length for json.
func storeText(_ p: Param, _ v: Any?, _ arena: Arena, ptr: UnsafeMutableRawPointer, len: UnsafeMutableRawPointer?)
    throws
{
    let value = Value(v)
    guard case .string(let s) = value else {
        if case .null = value {} else { throw ProtocolError("expected a string or null") }
        ptr.storeBytes(of: 0, as: Int64.self)
        len?.storeBytes(of: 0, as: UInt64.self)
        return
    }
    let (c, n) = arena.string(s)
    ptr.storeBytes(of: Int64(Int(bitPattern: c)), as: Int64.self)
    len?.storeBytes(of: UInt64(n), as: UInt64.self)
}

// MARK: - Library

/// The dlopen'ed library and its declared exports.
///
/// `@unchecked Sendable`: `exports` is a Mutex; `handle` is an immutable dlopen handle, which dlsym
/// accepts from any thread.
final class Library: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let exports = Mutex<[String: Export]>([:])

    init(path: String) throws {
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw ProtocolError("cannot load \(path): \(String(cString: dlerror()))")
        }
        handle = h
    }

    func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
        guard let p = dlsym(handle, name) else { throw ProtocolError("\(name) is not exported by the library") }
        return p
    }

    func declare(_ a: [String: Any]) throws {
        guard let name = a["fn"] as? String else { throw ProtocolError("declare needs fn") }
        let e = try Export(
            lib: self, name: name, ret: a["ret"] as? String ?? "void", params: a["params"] as? [Any] ?? [])
        if let err = a["err"] as? String {
            e.errorText = try Export(lib: self, name: err, ret: "cstr", params: [])
        }
        if let fr = a["free"] as? String {
            e.freeFn = try Export(lib: self, name: fr, ret: "void", params: ["ptr"])
        }
        exports.withLock { $0[name] = e }
    }

    func export(_ name: String) throws -> Export {
        guard let e = exports.withLock({ $0[name] }) else { throw ProtocolError("\(name) was not declared") }
        return e
    }
}

/// One export with its prepared call interface.
///
/// `@unchecked Sendable`: no lock: `cif`, `errorText` and `freeFn` are set by `Library.declare` before the
/// export is published in the library's Mutex-guarded table, and only read afterwards.
final class Export: @unchecked Sendable {
    let name: String
    let fn: UnsafeMutableRawPointer
    let ret: Kind
    let params: [Param]
    let nargs: Int
    let types: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    var cif = ffi_cif()
    var errorText: Export?
    var freeFn: Export?

    init(lib: Library, name: String, ret: String, params: [Any]) throws {
        self.name = name
        fn = try lib.symbol(name)
        guard let r = Kind(rawValue: ret), [.void, .cstr, .i32, .u32, .i64, .u64, .ptr, .bool].contains(r) else {
            throw ProtocolError("bad return kind \(ret)")
        }
        self.ret = r
        self.params = try params.map(Param.parse)
        let scalars = self.params.flatMap(\.scalars)
        nargs = scalars.count
        types = .allocate(capacity: max(nargs, 1))
        for (i, s) in scalars.enumerated() { types[i] = s.type }
        let rtype: UnsafeMutablePointer<ffi_type>
        switch r {
        case .void: rtype = nr_ffi_void()
        case .i32: rtype = nr_ffi_s32()
        case .u32: rtype = nr_ffi_u32()
        case .bool: rtype = nr_ffi_u8()
        case .i64: rtype = nr_ffi_s64()
        case .u64: rtype = nr_ffi_u64()
        default: rtype = nr_ffi_ptr()
        }
        guard nr_ffi_prep_cif(&cif, UInt32(nargs), rtype, types) == FFI_OK else {
            throw ProtocolError("ffi_prep_cif failed for \(name)")
        }
    }

    /// Calls the export with `args` (one JS value per declared parameter): the response body, the
    /// returned status (i32 returns; else 0) and the raw out values (pointers, booleans, integers).
    func call(_ args: [Any]) throws -> (body: String, status: Int64, outs: [UInt64]) {
        let arena = Arena()
        let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: max(nargs, 1))
        let outs = UnsafeMutablePointer<UInt64>.allocate(capacity: max(nargs, 1) * 2)
        let values = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(nargs, 1))
        defer {
            slots.deallocate()
            outs.deallocate()
            values.deallocate()
        }
        outs.initialize(repeating: 0, count: max(nargs, 1) * 2)
        var i = 0
        for (pi, p) in params.enumerated() {
            let v: Any? = pi < args.count ? args[pi] : nil
            let slot = UnsafeMutableRawPointer(slots + i)
            switch p {
            case .scalar(_, let s): try store(s, v, slot)
            case .str: try storeText(p, v, arena, ptr: slot, len: nil)
            case .json: try storeText(p, v, arena, ptr: slot, len: UnsafeMutableRawPointer(slots + i + 1))
            case .structure(let layout):
                let value = Value(v)
                if case .null = value {
                    slot.storeBytes(of: 0, as: Int64.self)
                } else {
                    guard case .array(let fv) = value else {
                        throw ProtocolError("\(name): a struct is passed as an array")
                    }
                    let buf = arena.zeroed(layout.size)
                    for (fi, (fp, off)) in layout.fields.enumerated() where fi < fv.count {
                        let at = buf + off
                        switch fp {
                        case .scalar(_, let s): try store(s, fv[fi], at)
                        case .str: try storeText(fp, fv[fi], arena, ptr: at, len: nil)
                        case .json: try storeText(fp, fv[fi], arena, ptr: at, len: at + 8)
                        default: break
                        }
                    }
                    slot.storeBytes(of: Int64(Int(bitPattern: buf)), as: Int64.self)
                }
            case .outPtr, .outBool, .outU64:
                // 0 (or false) asks for NULL: the caller does not want this out value.
                var skip = false
                if case .number(let n) = Value(v) { skip = n.int64Value == 0 }
                slot.storeBytes(of: skip ? 0 : Int64(Int(bitPattern: outs + 2 * i)), as: Int64.self)
            case .outStr:
                slot.storeBytes(of: Int64(Int(bitPattern: outs + 2 * i)), as: Int64.self)
                UnsafeMutableRawPointer(slots + i + 1).storeBytes(
                    of: Int64(Int(bitPattern: outs + 2 * i + 1)), as: Int64.self)
            }
            i += p.scalars.count
        }
        for k in 0..<nargs { values[k] = UnsafeMutableRawPointer(slots + k) }
        var rv: UInt64 = 0
        nr_ffi_call(&cif, fn, &rv, values)

        var body = "{\"ret\":"
        var status: Int64 = 0
        switch ret {
        case .void: body += "null"
        case .i32:
            status = Int64(Int32(truncatingIfNeeded: rv))
            body += String(status)
        case .u32: body += String(UInt32(truncatingIfNeeded: rv))
        case .bool: body += (rv & 0xff) != 0 ? "true" : "false"
        case .i64: body += String(Int64(bitPattern: rv))
        case .u64: body += "\"\(rv)\""
        case .ptr: body += String(rv)
        case .cstr:
            if let p = UnsafePointer<CChar>(bitPattern: UInt(rv)) {
                appendQuoted(&body, String(cString: p))
            } else {
                body += "null"
            }
        default: body += "null"
        }
        var outText: [String] = []
        var outValues: [UInt64] = []
        i = 0
        for p in params {
            switch p {
            case .outPtr, .outBool, .outU64: outValues.append(outs[2 * i])
            case .outStr: outValues.append(0)  // freed below; only its text travels
            default: break
            }
            switch p {
            case .outPtr: outText.append(String(outs[2 * i]))
            case .outBool: outText.append((outs[2 * i] & 0xff) != 0 ? "true" : "false")
            case .outU64: outText.append("\"\(outs[2 * i])\"")
            case .outStr:
                if let sp = UnsafePointer<UInt8>(bitPattern: UInt(outs[2 * i])) {
                    let s = String(decoding: UnsafeBufferPointer(start: sp, count: Int(outs[2 * i + 1])), as: UTF8.self)
                    var q = ""
                    appendQuoted(&q, s)
                    outText.append(q)
                    _ = try freeFn?.call([NSNumber(value: outs[2 * i])])
                } else {
                    outText.append("null")
                }
            default: break
            }
            i += p.scalars.count
        }
        if !outText.isEmpty { body += ",\"out\":[" + outText.joined(separator: ",") + "]" }
        // The error slot is per thread: read it here, on the thread that got the failing status.
        if ret == .i32, status > 0, let e = errorText, let t = try? e.callCString() {
            body += ",\"err\":"
            appendQuoted(&body, t)
        }
        return (body + "}", status, outValues)
    }

    /// Calls a no-argument export returning a borrowed C string.
    func callCString() throws -> String {
        var rv: UInt64 = 0
        nr_ffi_call(&cif, fn, &rv, nil)
        guard let p = UnsafePointer<CChar>(bitPattern: UInt(rv)) else { return "" }
        return String(cString: p)
    }
}

// MARK: - JSON text

/// Appends `s` as a JSON string literal (escaping `"`, `\\` and control characters, byte-wise).
func appendQuoted(_ out: inout String, _ s: String) {
    var plain = true
    for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5c {
        plain = false
        break
    }
    if plain {
        out.append("\"")
        out.append(s)
        out.append("\"")
        return
    }
    var bytes: [UInt8] = [0x22]
    bytes.reserveCapacity(s.utf8.count + 16)
    let hex: [UInt8] = Array("0123456789abcdef".utf8)
    for u in s.utf8 {
        switch u {
        case 0x22: bytes += [0x5c, 0x22]
        case 0x5c: bytes += [0x5c, 0x5c]
        case 0x0a: bytes += [0x5c, 0x6e]
        case 0x0d: bytes += [0x5c, 0x72]
        case 0x09: bytes += [0x5c, 0x74]
        case 0..<0x20: bytes += [0x5c, 0x75, 0x30, 0x30, hex[Int(u >> 4)], hex[Int(u & 0xf)]]
        default: bytes.append(u)
        }
    }
    bytes.append(0x22)
    out.append(String(decoding: bytes, as: UTF8.self))
}
