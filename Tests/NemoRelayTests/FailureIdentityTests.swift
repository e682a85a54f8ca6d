// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import NemoRelay

/// A callback failure's identity travels unchanged to the caller (docs/abi.md, "Errors") and is released
/// exactly once, when the last copy of the error goes.
@Suite struct FailureIdentityTests {
    static func failure(_ id: UInt64, _ released: Box<[UInt64]>) -> RelayError {
        var e = RelayError.callback("ValueError", "the same text")
        e.identity = FailureIdentity(id: id, release: { released.mutate { $0.append(id) } })
        return e
    }

    @Test func identityIsNotPartOfTheValueAndIsReleasedOnce() {
        let released = Box<[UInt64]>([])
        do {
            let a = Self.failure(1, released)
            let b = a
            #expect(a == .callback("ValueError", "the same text"))
            #expect(b.identity === a.identity)
            #expect(released.value.isEmpty)
        }
        #expect(released.value == [1])
    }

    @Test func theProvidersIdentityReachesTheCallerThroughAnExecutionIntercept() throws {
        let released = Box<[UInt64]>([])
        let rt = Runtime(clock: ManualClock())
        let seen = Box<UInt64?>(nil)
        try rt.registerLLMExecutionIntercept("relay", priority: 0) { _, r, _, next, k in
            next(
                r,
                Continuation { res in
                    if case .failure(let e) = res { seen.value = e.identity?.id }
                    k.resume(res)
                })
        }
        do {
            let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack()) { _, c in
                c.resume(throwing: Self.failure(7, released))
            }
            #expect(r?.failure?.identity?.id == 7)
            #expect(seen.value == 7)
        }
        rt.flush()
        #expect(released.value == [7])
    }

    @Test func anInterceptReplacingTheFailureReleasesTheInnerIdentity() throws {
        let released = Box<[UInt64]>([])
        let rt = Runtime(clock: ManualClock())
        try rt.registerLLMExecutionIntercept("replace", priority: 0) { _, r, _, next, k in
            next(r, Continuation { _ in k.resume(throwing: Self.failure(9, released)) })
        }
        do {
            let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack()) { _, c in
                c.resume(throwing: Self.failure(8, released))
            }
            #expect(r?.failure?.identity?.id == 9)
        }
        rt.flush()
        #expect(Set(released.value) == [8, 9])
    }
}
