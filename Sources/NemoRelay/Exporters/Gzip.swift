// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#endif

/// gzip (RFC 1952) through the system's zlib, loaded when first needed (docs/exporters.md): the library
/// links no compression code of its own, and a machine without `libz.so.1` simply cannot select gzip.
enum Gzip {
    private typealias Compress2 =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt, Int32
        ) -> Int32
    private typealias CompressBound = @convention(c) (UInt) -> UInt
    private typealias CRC32 = @convention(c) (UInt, UnsafePointer<UInt8>?, UInt32) -> UInt

    private struct Zlib: Sendable {  // immutable C function pointers, loaded once
        let compress2: Compress2
        let compressBound: CompressBound
        let crc32: CRC32
    }

    private static let zlib: Zlib? = {
        guard let h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        guard let c = dlsym(h, "compress2"), let b = dlsym(h, "compressBound"), let r = dlsym(h, "crc32") else {
            return nil
        }
        return Zlib(
            compress2: unsafeBitCast(c, to: Compress2.self), compressBound: unsafeBitCast(b, to: CompressBound.self),
            crc32: unsafeBitCast(r, to: CRC32.self))
    }()

    /// Whether zlib could be loaded.
    static var isAvailable: Bool { zlib != nil }

    /// `bytes` as a gzip member (default compression level), or nil when zlib is missing or fails.
    static func compress(_ bytes: [UInt8]) -> [UInt8]? {
        guard let z = zlib, bytes.count < Int(UInt32.max) else { return nil }
        var capacity = z.compressBound(UInt(bytes.count))
        var deflated = [UInt8](repeating: 0, count: Int(capacity))
        let rc = deflated.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { src in
                z.compress2(out.baseAddress, &capacity, src.baseAddress, UInt(src.count), 6)
            }
        }
        // A zlib stream is a 2-byte header, raw deflate, then a 4-byte Adler-32: keep the deflate part.
        guard rc == 0, capacity >= 6 else { return nil }
        let crc = bytes.withUnsafeBufferPointer { z.crc32(0, $0.baseAddress, UInt32($0.count)) }
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]
        out.reserveCapacity(Int(capacity) + 12)
        out.append(contentsOf: deflated[2..<(Int(capacity) - 4)])
        for v in [UInt32(truncatingIfNeeded: crc), UInt32(truncatingIfNeeded: bytes.count)] {
            out.append(contentsOf: [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)])
        }
        return out
    }
}
