// SPDX-License-Identifier: Apache-2.0
import CNemoRelay
import NemoRelay
import Testing

@testable import NemoRelayFFI

#if canImport(Glibc)
    import Glibc
#endif

/// Calls the exports through the header's declarations, as an outside client would.
@Suite struct ExportsTests {
    /// The folder of the test executable, where SwiftPM also puts libnemorelay.so.
    static var binFolder: String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let path = String(cString: Array(buf[0..<max(0, n)]) + [0])
        return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }

    @Test func exportsAreFoundByNameThroughTheLoader() throws {
        let handle = dlopen(Self.binFolder + "/libnemorelay.so", RTLD_NOW | RTLD_LOCAL)
        #expect(handle != nil, "dlopen: \(String(cString: dlerror()))")
        typealias VersionFn = @convention(c) () -> UnsafePointer<CChar>
        let sym = dlsym(handle, "nemo_relay_version")
        #expect(sym != nil)
        #expect(dlsym(handle, "nemo_relay_scope_begin") != nil)
        #expect(dlsym(handle, "nemo_relay_internal_nonexistent") == nil)
        if let sym { #expect(String(cString: unsafeBitCast(sym, to: VersionFn.self)()) == NEMO_RELAY_VERSION_STRING) }
        #expect(String(cString: CNemoRelay.nemo_relay_version()) == NEMO_RELAY_VERSION_STRING)
        #expect(CNemoRelay.nemo_relay_version_number() == NEMO_RELAY_VERSION_NUMBER)
        // The core's copy (sent as the exporters' User-Agent) follows the header.
        #expect(NemoRelay.RelayVersion.string == NEMO_RELAY_VERSION_STRING)
    }

    @Test func scopeBeginAndEndThroughTheABI() throws {
        var rt: OpaquePointer?
        #expect(CNemoRelay.nemo_relay_runtime_new(&rt, nil) == NEMO_RELAY_OK)
        var stack: OpaquePointer?
        #expect(CNemoRelay.nemo_relay_stack_new(&stack, nil) == NEMO_RELAY_OK)
        var scope: OpaquePointer?
        #expect(
            CNemoRelay.nemo_relay_scope_begin(&scope, rt, stack, "agent", Int32(NEMO_RELAY_SCOPE_AGENT), nil)
                == NEMO_RELAY_OK)
        #expect(CNemoRelay.nemo_relay_scope_end(rt, stack, scope, nil) == NEMO_RELAY_OK)
        #expect(CNemoRelay.nemo_relay_scope_end(rt, stack, scope, nil) == NEMO_RELAY_E_NOT_FOUND)
        #expect(String(cString: CNemoRelay.nemo_relay_last_error_message()) == "not found: scope handle not found")
        CNemoRelay.nemo_relay_scope_free(scope)
        #expect(CNemoRelay.nemo_relay_scope_end(rt, stack, scope, nil) == NEMO_RELAY_E_MISUSE)
        CNemoRelay.nemo_relay_stack_free(stack)
        CNemoRelay.nemo_relay_runtime_free(rt)
    }

    @Test func everyExportClearsTheErrorSlot() throws {
        var rt: OpaquePointer?
        #expect(CNemoRelay.nemo_relay_runtime_new(nil, nil) == NEMO_RELAY_E_INVALID_ARGUMENT)
        #expect(String(cString: CNemoRelay.nemo_relay_last_error_message()) != "")
        #expect(CNemoRelay.nemo_relay_runtime_new(&rt, nil) == NEMO_RELAY_OK)
        #expect(String(cString: CNemoRelay.nemo_relay_last_error_message()) == "")
        CNemoRelay.nemo_relay_runtime_free(rt)
    }
}
