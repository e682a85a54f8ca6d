// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// The fake OpenAI Chat codec of the scenario tests, with switchable failures.
struct FailingCodec: SynchronousLLMCodec {
    var failDecode = false
    var failEncode = false
    var failResponse = false
    var id: String { "openai_chat" }

    func decode(_ request: LLMRequest) throws(RelayError) -> JSON {
        if failDecode { throw .invalidArgument("OpenAI Chat request is missing messages") }
        return try OpenAIChatCodec().decode(request)
    }

    func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest {
        if failEncode { throw .invalidArgument("request contains fields that cannot be encoded for OpenAI Chat") }
        return try OpenAIChatCodec().encode(annotated, original: original)
    }

    func decodeResponse(_ response: JSON) throws(RelayError) -> JSON {
        if failResponse { throw .internalError("OpenAI Chat response decode: choices must be an array") }
        return try OpenAIChatCodec().decodeResponse(response)
    }
}

@Suite struct RuntimeLLMTests {
    static let okResponse: JSON = [
        "id": "c1", "object": "chat.completion",
        "choices": [["index": 0, "finish_reason": "stop", "message": ["role": "assistant", "content": "hi"]]],
    ]

    static func allowGuardrail(_ rt: Runtime) throws {
        try rt.registerLLMConditionalGuardrail("allow", priority: 0) { _, c in c.resume(returning: nil) }
    }

    static func names(_ c: EventCollector) -> [String] {
        c.events.map { e in
            let k = e.kind == .mark ? "mark" : (e.kind == .scopeStart ? "start" : "end")
            return "\(e.category ?? "-"):\(e.name):\(k)"
        }
    }

    // MARK: Failure table (docs/pipeline.md, "Failure table")

    @Test func guardrailRejection() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let ran = Box<[String]>([])
        try Self.allowGuardrail(rt)
        try rt.registerLLMConditionalGuardrail("block", priority: 1) { _, c in c.resume(returning: "nope") }
        try rt.registerLLMConditionalGuardrail("never", priority: 2) { _, c in
            ran.mutate { $0.append("never") }
            c.resume(returning: nil)
        }
        try rt.registerLLMRequestIntercept("ri", priority: 0) { _, r, a, c in
            ran.mutate { $0.append("intercept") }
            c.resume(returning: .init(request: r, annotatedRequest: a))
        }
        let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: s) { _, c in
            ran.mutate { $0.append("provider") }
            c.resume(returning: 1)
        }
        #expect(r?.failure == RelayError(.guardrailRejected, "nope"))
        #expect(r?.failure?.displayText == "guardrail rejected: nope")
        rt.flush()
        #expect(ran.value == [])
        #expect(
            Self.names(c) == [
                "guardrail:allow:start", "guardrail:allow:end", "guardrail:block:start", "guardrail:block:end",
                "-:call:mark",
            ])
        #expect(c.events[3].data == ["allowed": false, "rejected": true, "rejection_reason": "nope"])
        #expect(c.events[4].data == ["rejected": true, "rejection_reason": "nope"])
        #expect(c.events[4].parentUUID == s.root.uuid)
        #expect(c.events.allSatisfy { $0.metadata == .null })
        // Freshness was not consumed.
        #expect(s.consumeFreshness(parent: s.root.uuid))
    }

    @Test func guardrailRaises() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        try rt.registerLLMConditionalGuardrail("boom", priority: 0) { _, c in
            c.resume(throwing: .callback("ValueError", "guard exploded"))
        }
        let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: s, provider: returning(1))
        #expect(r?.failure == .callback("ValueError", "guard exploded"))
        rt.flush()
        #expect(Self.names(c) == ["guardrail:boom:start", "guardrail:boom:end"])
        #expect(c.events[1].data == ["allowed": false, "error": "internal error: ValueError: guard exploded"])
    }

    @Test func preStartFailuresEmitOnlyGuardrailScopes() throws {
        struct Case {
            let name: String
            let codec: FailingCodec?
            let intercept: LLMRequestIntercept?
            let error: RelayError
        }
        let changeContent: LLMRequestIntercept = { _, r, a, c in
            var r = r
            r.content = ["messages": []]
            c.resume(returning: .init(request: r, annotatedRequest: a))
        }
        let dropAnnotation: LLMRequestIntercept = { _, r, _, c in
            c.resume(returning: .init(request: r, annotatedRequest: nil))
        }
        let raise: LLMRequestIntercept = { _, _, _, c in c.resume(throwing: .callback("KeyError", "missing")) }
        let cases = [
            Case(
                name: "decode", codec: FailingCodec(failDecode: true), intercept: nil,
                error: .invalidArgument("OpenAI Chat request is missing messages")),
            Case(name: "intercept raises", codec: nil, intercept: raise, error: .callback("KeyError", "missing")),
            Case(
                name: "content edit", codec: FailingCodec(), intercept: changeContent,
                error: .invalidArgument(
                    "LLM request intercept 'ri' changed request.content while a request codec is active; modify annotated_request instead"
                )),
            Case(
                name: "null annotation", codec: FailingCodec(), intercept: dropAnnotation,
                error: .invalidArgument(
                    "LLM request intercept 'ri' omitted annotated_request while a request codec is active")),
            Case(
                name: "encode", codec: FailingCodec(failEncode: true), intercept: nil,
                error: .invalidArgument("request contains fields that cannot be encoded for OpenAI Chat")),
        ]
        for k in cases {
            let (rt, c) = makeRuntime()
            let s = ScopeStack()
            try Self.allowGuardrail(rt)
            if let i = k.intercept { try rt.registerLLMRequestIntercept("ri", priority: 0, i) }
            let called = Box(false)
            let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x"), codec: k.codec), stack: s) {
                _, c in
                called.value = true
                c.resume(returning: 1)
            }
            #expect(r?.failure == k.error, "\(k.name)")
            rt.flush()
            #expect(Self.names(c) == ["guardrail:allow:start", "guardrail:allow:end"], "\(k.name)")
            #expect(!called.value, "\(k.name)")
            #expect(s.consumeFreshness(parent: s.root.uuid), "\(k.name): freshness must not be consumed")
        }
    }

    @Test func withoutCodecInterceptsMayEditContent() throws {
        let (rt, c) = makeRuntime()
        try rt.registerLLMRequestIntercept("edit", priority: 0) { _, r, _, c in
            var r = r
            r.content = ["edited": true]
            r.headers["x-added"] = "1"
            c.resume(returning: .init(request: r, annotatedRequest: ["ignored": true]))
        }
        let seen = Box<LLMRequest?>(nil)
        let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack()) { req, c in
            seen.value = req
            c.resume(returning: 1)
        }
        #expect(r?.success == 1)
        #expect(seen.value?.content == ["edited": true])
        #expect(seen.value?.headers["x-added"] == "1")
        rt.flush()
        #expect(c.events[0].data == ["headers": ["x-added": "1"], "content": ["edited": true]])
        #expect(c.events[0].categoryProfile == [:])
    }

    @Test func providerOrExecutionInterceptRaises() throws {
        for viaIntercept in [false, true] {
            let (rt, c) = makeRuntime()
            if viaIntercept {
                try rt.registerLLMExecutionIntercept("ex", priority: 0) { _, _, _, _, c in
                    c.resume(throwing: .callback("TimeoutError", "slow"))
                }
            }
            let p = LLMCallParams(
                name: "call", request: chatRequest("x"), data: ["handle": "data"], metadata: ["m": 1], modelName: "gpt")
            let r = runLLM(rt, p, stack: ScopeStack()) { _, c in c.resume(throwing: .callback("TimeoutError", "slow")) }
            #expect(r?.failure == .callback("TimeoutError", "slow"))
            rt.flush()
            #expect(Self.names(c) == ["llm:call:start", "llm:call:end"])
            let end = c.events[1]
            #expect(end.data == ["handle": "data"])
            #expect(end.categoryProfile == ["model_name": "gpt"])
            #expect(
                end.metadata == [
                    "m": 1, "otel.status_code": "ERROR",
                    "otel.status_description": "internal error: TimeoutError: slow",
                    "error.type": "internal_error", "exception.type": "TimeoutError",
                ])
        }
    }

    @Test func runtimeErrorFromProviderHasNoExceptionType() {
        let (rt, c) = makeRuntime()
        let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack()) { _, c in
            c.resume(throwing: .internalError("Failed to convert to JSON"))
        }
        #expect(r?.failure == .internalError("Failed to convert to JSON"))
        rt.flush()
        #expect(
            c.events[1].metadata == [
                "otel.status_code": "ERROR", "otel.status_description": "internal error: Failed to convert to JSON",
                "error.type": "internal_error",
            ])
    }

    @Test func providerReturnsNull() {
        let (rt, c) = makeRuntime()
        let p = LLMCallParams(
            name: "call", request: chatRequest("x"), data: ["fallback": 1], responseCodec: FailingCodec())
        let r = runLLM(rt, p, stack: ScopeStack(), provider: returning(nil))
        #expect(r?.success == .null)
        rt.flush()
        #expect(c.events[1].data == ["fallback": 1])
        #expect(c.events[1].metadata == ["otel.status_code": "OK"])
        #expect(c.events[1].categoryProfile == [:])
    }

    @Test func responseCodecFailureIsLoggedOnly() {
        let (rt, c) = makeRuntime()
        let logs = Box<[String]>([])
        rt.setLogSink { _, m in logs.mutate { $0.append(m) } }
        let p = LLMCallParams(name: "call", request: chatRequest("x"), responseCodec: FailingCodec(failResponse: true))
        let r = runLLM(rt, p, stack: ScopeStack(), provider: returning(Self.okResponse))
        #expect(r?.success == Self.okResponse)
        rt.flush()
        #expect(c.events[1].data == Self.okResponse)
        #expect(c.events[1].categoryProfile == [:])
        #expect(c.events[1].metadata == ["otel.status_code": "OK"])
        #expect(logs.value.contains { $0.contains("decode_response") })
        // A working response codec annotates without changing the result.
        let (rt2, c2) = makeRuntime()
        let r2 = runLLM(
            rt2, LLMCallParams(name: "call", request: chatRequest("x"), responseCodec: FailingCodec()),
            stack: ScopeStack(),
            provider: returning(Self.okResponse))
        #expect(r2?.success == Self.okResponse)
        rt2.flush()
        #expect(c2.events[1].categoryProfile?["annotated_response"]?["message"] == "hi")
    }

    @Test func sanitizersReturningNullClearPayloadAndAnnotation() throws {
        let (rt, c) = makeRuntime()
        let later = Box(0)
        try rt.registerLLMSanitizeRequest("drop", priority: 0) { _, _, k in k.resume(returning: nil) }
        try rt.registerLLMSanitizeRequest("later", priority: 1) { r, _, k in
            later.mutate { $0 += 1 }
            k.resume(returning: r)
        }
        try rt.registerLLMSanitizeResponse("fail", priority: 0) { _, _, k in k.resume(throwing: .callback("E", "x")) }
        try rt.registerLLMSanitizeResponse("later", priority: 1) { r, _, k in
            later.mutate { $0 += 1 }
            k.resume(returning: r)
        }
        let p = LLMCallParams(
            name: "call", request: chatRequest("x"), modelName: "m", codec: FailingCodec(),
            responseCodec: FailingCodec())
        let r = runLLM(rt, p, stack: ScopeStack(), provider: returning(Self.okResponse))
        #expect(r?.success == Self.okResponse)
        rt.flush()
        #expect(later.value == 0)
        #expect(c.events[0].data == .null)
        #expect(c.events[0].categoryProfile == ["model_name": "m"])
        #expect(c.events[1].data == .null)
        #expect(c.events[1].categoryProfile == ["model_name": "m"])
    }

    @Test func requestSanitizerSeesStrippedHeadersAndChangesOnlyTheRecord() throws {
        let (rt, c) = makeRuntime()
        let seenBySanitizer = Box<JSONObject?>(nil)
        try rt.registerLLMSanitizeRequest("s", priority: 0) { r, ctx, k in
            seenBySanitizer.value = r.headers
            #expect(ctx.json["request_codec"] == ["kind": "none", "id": nil])
            var r = r
            r.content = "redacted"
            k.resume(returning: r)
        }
        let seen = Box<LLMRequest?>(nil)
        _ = runLLM(
            rt, LLMCallParams(name: "call", request: chatRequest("x", headers: ["Authorization": "k", "x-a": "1"])),
            stack: ScopeStack()
        ) { req, c in
            seen.value = req
            c.resume(returning: 1)
        }
        rt.flush()
        #expect(seenBySanitizer.value == ["x-a": "1"])
        #expect(c.events[0].data == ["headers": ["x-a": "1"], "content": "redacted"])
        #expect(seen.value?.content == chatRequest("x").content)
    }

    // MARK: Cancellation and continuations

    @Test func cancellationWhileProviderPending() throws {
        let (rt, c) = makeRuntime()
        let control = CallControl()
        let pending = Box<Continuation<JSON>?>(nil)
        let started = DispatchSemaphore(value: 0)
        let out = Box<Result<JSON, RelayError>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let p = LLMCallParams(name: "call", request: chatRequest("x"), data: ["h": 1], metadata: ["m": 1])
        rt.llmExecute(
            p, stack: ScopeStack(), control: control,
            provider: { _, k in
                pending.value = k
                started.signal()
            }
        ) { r in
            out.value = r
            finished.signal()
        }
        #expect(started.wait(timeout: .now() + 5) == .success)
        #expect(out.value == nil)
        #expect(control.cancel())
        #expect(!control.cancel())
        #expect(control.isCancelled)
        #expect(finished.wait(timeout: .now() + 5) == .success)
        #expect(out.value?.failure?.kind == .cancelled)
        #expect(out.value?.failure?.displayText == "LLM execution cancelled")
        // The provider answering afterwards changes nothing.
        #expect(pending.value?.resume(returning: 1) == false)
        rt.flush()
        #expect(Self.names(c) == ["llm:call:start", "llm:call:end"])
        #expect(c.events[1].data == ["h": 1])
        #expect(
            c.events[1].metadata == [
                "m": 1, "otel.status_code": "ERROR", "otel.status_description": "LLM execution cancelled",
            ])
    }

    @Test func cancelledBeforeStartRunsNoCallback() {
        let (rt, c) = makeRuntime()
        let control = CallControl()
        control.cancel()
        let called = Box(false)
        let r = runLLM(
            rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack(), control: control
        ) { _, k in
            called.value = true
            k.resume(returning: 1)
        }
        #expect(r?.failure?.kind == .cancelled)
        #expect(!called.value)
        rt.flush()
        #expect(c.events.last?.metadata["otel.status_description"] == "LLM execution cancelled")
    }

    @Test func continuationResumesOnce() {
        let count = Box(0)
        let k = Continuation<Int> { _ in count.mutate { $0 += 1 } }
        #expect(!k.isResumed)
        #expect(k.resume(returning: 1))
        #expect(!k.resume(returning: 2))
        #expect(!k.resume(throwing: .internalError("x")))
        #expect(k.isResumed)
        #expect(count.value == 1)
        // Inside a call: a provider resuming twice keeps the first result.
        let (rt, c) = makeRuntime()
        let second = Box<Bool?>(nil)
        let r = runLLM(rt, LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack()) { _, k in
            k.resume(returning: "first")
            second.value = k.resume(returning: "second")
        }
        #expect(r?.success == "first")
        #expect(second.value == false)
        rt.flush()
        #expect(c.events.count == 2)
    }

    @Test func providerCompletedLaterFromAnotherThread() {
        let (rt, c) = makeRuntime()
        let callerThread = Box<pthread_t?>(nil)
        let doneThread = Box<pthread_t?>(nil)
        let sem = DispatchSemaphore(value: 0)
        let returned = Box(false)
        callerThread.value = pthread_self()
        rt.llmExecute(
            LLMCallParams(name: "call", request: chatRequest("x")), stack: ScopeStack(),
            provider: { _, k in
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { k.resume(returning: ["late": true]) }
            }
        ) { r in
            #expect(r.success == ["late": true])
            doneThread.value = pthread_self()
            sem.signal()
        }
        returned.value = true
        #expect(sem.wait(timeout: .now() + 5) == .success)
        let (done, caller) = (doneThread.value, callerThread.value)
        #expect(done != nil && caller != nil && pthread_equal(done!, caller!) == 0)
        rt.flush()
        #expect(Self.names(c) == ["llm:call:start", "llm:call:end"])
        #expect(c.events[1].data == ["late": true])
    }

    @Test func asyncCallExecute() async throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let v = try await rt.llmCallExecute(LLMCallParams(name: "call", request: chatRequest("x")), stack: s) { _ in
            try await Task.sleep(nanoseconds: 1_000_000)
            return ["async": true]
        }
        #expect(v == ["async": true])
        struct Boom: Error {}
        await #expect(throws: RelayError.callback("Boom", "Boom()")) {
            try await rt.llmCallExecute(LLMCallParams(name: "call", request: chatRequest("x")), stack: s) { _ in
                throw Boom()
            }
        }
        // Task cancellation cancels the call.
        let task = Task {
            try await rt.llmCallExecute(LLMCallParams(name: "cancelled", request: chatRequest("x")), stack: s) { _ in
                try await Task.sleep(nanoseconds: 5_000_000_000)
                return 1
            }
        }
        try await Task.sleep(nanoseconds: 20_000_000)
        task.cancel()
        let r = await task.result
        #expect((r.failure as? RelayError)?.displayText == "LLM execution cancelled")
        rt.flush()
        #expect(c.events.last?.metadata["otel.status_description"] == "LLM execution cancelled")
    }

    // MARK: Execution onion (docs/pipeline.md, "LLM call steps", step 9)

    @Test func executionOnionOrderSkipAndRepeat() throws {
        let rt = Runtime(clock: ManualClock())
        let log = Box<[String]>([])
        let mode = Box("normal")
        try rt.registerLLMExecutionIntercept("outer", priority: 0) { _, r, _, next, k in
            log.mutate { $0.append("outer>") }
            next(
                r,
                Continuation { res in
                    log.mutate { $0.append("<outer") }
                    k.resume(res)
                })
        }
        try rt.registerLLMExecutionIntercept("inner", priority: 5) { _, r, _, next, k in
            log.mutate { $0.append("inner>") }
            switch mode.value {
            case "skip":
                k.resume(returning: "short-circuit")
            case "repeat":
                next(
                    r,
                    Continuation { first in
                        var r2 = r
                        r2.headers["attempt"] = "2"
                        next(
                            r2,
                            Continuation { second in
                                log.mutate { $0.append("<inner(\(first.success!),\(second.success!))") }
                                k.resume(second)
                            })
                    })
            default:
                var r2 = r
                r2.headers["from-inner"] = "1"
                next(
                    r2,
                    Continuation { res in
                        log.mutate { $0.append("<inner") }
                        k.resume(res)
                    })
            }
        }
        let calls = Box(0)
        let provider: LLMProvider = { req, k in
            calls.mutate { $0 += 1 }
            log.mutate { $0.append("provider") }
            k.resume(returning: .int(Int64(calls.value)))
            _ = req
        }
        let seen = Box<LLMRequest?>(nil)
        let r = runLLM(rt, LLMCallParams(name: "c", request: chatRequest("x")), stack: ScopeStack()) { req, k in
            seen.value = req
            provider(req, k)
        }
        #expect(r?.success == 1)
        #expect(log.value == ["outer>", "inner>", "provider", "<inner", "<outer"])
        #expect(seen.value?.headers["from-inner"] == "1")

        log.value = []
        mode.value = "skip"
        let r2 = runLLM(
            rt, LLMCallParams(name: "c", request: chatRequest("x")), stack: ScopeStack(), provider: provider)
        #expect(r2?.success == "short-circuit")
        #expect(log.value == ["outer>", "inner>", "<outer"])
        #expect(calls.value == 1)

        log.value = []
        mode.value = "repeat"
        let r3 = runLLM(
            rt, LLMCallParams(name: "c", request: chatRequest("x")), stack: ScopeStack(), provider: provider)
        #expect(r3?.success == 3)
        #expect(log.value == ["outer>", "inner>", "provider", "provider", "<inner(2,3)", "<outer"])
    }

    @Test func storedNextFailsAfterReturn() throws {
        let rt = Runtime(clock: ManualClock())
        let stored = Box<ExecutionNext?>(nil)
        try rt.registerLLMExecutionIntercept("keep", priority: 0) { _, _, _, next, k in
            stored.value = next
            k.resume(returning: "done")
        }
        let r = runLLM(
            rt, LLMCallParams(name: "c", request: chatRequest("x")), stack: ScopeStack(), provider: returning(1))
        #expect(r?.success == "done")
        let late = Box<Result<JSON, RelayError>?>(nil)
        stored.value?(chatRequest("again"), Continuation { late.value = $0 })
        #expect(late.value?.failure == .invalidArgument("execution continuation is no longer active"))
        #expect(late.value?.failure?.displayText == "invalid argument: execution continuation is no longer active")
    }

    @Test func settledInterceptAbandonsItsPendingInnerLayers() throws {
        let rt = Runtime(clock: ManualClock())
        let provider = Box<Continuation<JSON>?>(nil)
        let inner = Box<Result<JSON, RelayError>?>(nil)
        let notices = Box<[String]>([])
        try rt.registerLLMExecutionIntercept("abandon", priority: 0) { _, r, _, next, k in
            next(r, Continuation { inner.value = $0 })
            k.resume(returning: "short")
        }
        let r = runLLM(rt, LLMCallParams(name: "c", request: chatRequest("x")), stack: ScopeStack()) { _, k in
            provider.value = k
            k.onCancel { e in notices.value.append(e.displayText) }
        }
        #expect(r?.success == "short")
        // The provider's continuation was cancelled (its notice ran) and `next` reported it.
        #expect(notices.value == ["cancelled"])
        #expect(provider.value?.isCancelled == true)
        #expect(inner.value?.failure?.kind == .cancelled)
        #expect(provider.value?.resume(returning: 1) == false)
    }

    @Test func cancelNoticesRunOnceAndNeverAfterAResume() {
        let resumed = Continuation<Int> { _ in }
        let ran = Box<Int>(0)
        #expect(resumed.onCancel { _ in ran.value += 1 })
        #expect(resumed.resume(returning: 1))
        #expect(!resumed.cancel(RelayError(.cancelled, "cancelled")))
        #expect(!resumed.onCancel { _ in ran.value += 1 })
        #expect(ran.value == 0)

        let outcome = Box<Result<Int, RelayError>?>(nil)
        let order = Box<[String]>([])
        let cancelled = Continuation<Int> { r in
            order.value.append("body")
            outcome.value = r
        }
        cancelled.onCancel { _ in order.value.append("first") }
        cancelled.onCancel { _ in order.value.append("second") }
        #expect(cancelled.cancel(RelayError(.cancelled, "stop")))
        #expect(order.value == ["first", "second", "body"])
        #expect(outcome.value?.failure?.displayText == "stop")
        #expect(!cancelled.resume(returning: 2))
        // Asked after the cancellation: runs at once.
        #expect(cancelled.onCancel { _ in order.value.append("late") })
        #expect(order.value.last == "late")
    }

    // MARK: Headers (docs/pipeline.md, "Headers")

    @Test func credentialHeadersAreStrippedFromEventsOnly() {
        let (rt, c) = makeRuntime()
        let creds: JSONObject = [
            "Authorization": "a", "PROXY-AUTHORIZATION": "b", "cookie": "c", "X-Api-Key": "d", "api-key": "e",
            "anthropic-api-key": "f", "x-goog-api-key": "g",
        ]
        let kept: JSONObject = ["x-auth-token": "h", "set-cookie": "i", "openai-api-key": "j", "x-request-id": "k"]
        var all = creds
        kept.forEach { k, v in all[k] = v }
        let seen = Box<LLMRequest?>(nil)
        _ = runLLM(rt, LLMCallParams(name: "c", request: chatRequest("x", headers: all)), stack: ScopeStack()) { r, k in
            seen.value = r
            k.resume(returning: 1)
        }
        rt.flush()
        #expect(c.events[0].data["headers"] == .object(kept))
        for (k, v) in all { #expect(seen.value?.headers[k] == v, "\(k)") }
        // Manual calls strip them too.
        let (rt2, c2) = makeRuntime()
        let h = rt2.llmCall(LLMCallParams(name: "m", request: chatRequest("x", headers: all)), stack: ScopeStack())
        rt2.llmCallEnd(h, LLMCallEndParams(response: 1), stack: ScopeStack())
        rt2.flush()
        #expect(c2.events[0].data["headers"] == .object(kept))
    }

    @Test func sessionHeaders() throws {
        let rt = Runtime(clock: ManualClock())
        let s = ScopeStack()
        let seenByIntercept = Box<JSONObject?>(nil)
        try rt.registerLLMRequestIntercept("ri", priority: 0) { _, r, a, k in
            seenByIntercept.value = r.headers
            k.resume(returning: .init(request: r, annotatedRequest: a))
        }
        func headers(_ extra: JSONObject = [:]) -> JSONObject {
            let seen = Box<JSONObject>([:])
            _ = runLLM(rt, LLMCallParams(name: "c", request: chatRequest("x", headers: extra)), stack: s) { r, k in
                seen.value = r.headers
                k.resume(returning: 1)
            }
            return seen.value
        }
        // No explicit agent: nothing added, and a caller parent-session header is removed.
        var h = headers(["X-Dynamo-Parent-Session-Id": "caller"])
        #expect(h["x-dynamo-session-id"] == nil)
        #expect(h["X-Dynamo-Parent-Session-Id"] == nil && h["x-dynamo-parent-session-id"] == nil)
        // One agent (name), a function in between, then a nested agent with a metadata session id.
        let outer = rt.pushScope("outer-agent", type: .agent, stack: s)
        _ = rt.pushScope("fn", type: .function, stack: s)
        h = headers(["x-dynamo-parent-session-id": "caller"])
        #expect(h["x-dynamo-session-id"] == "outer-agent")
        #expect(h["x-dynamo-parent-session-id"] == nil)
        _ = rt.pushScope(
            "inner-agent", type: .agent, stack: s,
            metadata: ["session_id": "sid", "subagent_id": "sub", "subagent_session_id": 5])
        h = headers()
        // First *string* among codex_subagent_session_id, subagent_session_id, subagent_id, session_id.
        #expect(h["x-dynamo-session-id"] == "sub")
        #expect(h["x-dynamo-parent-session-id"] == "outer-agent")
        // Request intercepts run before the headers are added.
        #expect(seenByIntercept.value?["x-dynamo-session-id"] == nil)
        _ = outer
    }

    @Test func traceparent() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let seen = Box<JSONObject>([:])
        let provider: LLMProvider = { r, k in
            seen.value = r.headers
            k.resume(returning: 1)
        }
        // Only the root: trace id from the LLM uuid itself.
        _ = runLLM(
            rt,
            LLMCallParams(
                name: "c", request: chatRequest("x", headers: ["TraceParent": "00-old-old-01", "tracestate": "k=v"])),
            stack: s, provider: provider)
        rt.flush()
        let llm1 = c.events[0].uuid
        #expect(seen.value["traceparent"] == .string("00-\(llm1.hex)-\(llm1.hex.suffix(16))-01"))
        #expect(seen.value["TraceParent"] == nil && seen.value["tracestate"] == nil)
        // The start event shows the caller's headers.
        #expect(c.events[0].data["headers"] == ["TraceParent": "00-old-old-01", "tracestate": "k=v"])
        // Outermost non-root scope of any type gives the trace id.
        let f = rt.pushScope("f", type: .function, stack: s)
        _ = rt.pushScope("a", type: .agent, stack: s)
        _ = runLLM(rt, LLMCallParams(name: "c", request: chatRequest("x")), stack: s, provider: provider)
        rt.flush()
        let llm2 = c.events.last!.uuid
        let tp = seen.value["traceparent"]!.stringValue!
        #expect(tp == "00-\(f.uuid.hex)-\(llm2.hex.suffix(16))-01")
        #expect(tp.count == 55 && tp == tp.lowercased())
    }

    // MARK: Manual lifecycle (docs/pipeline.md, "Manual LLM lifecycle")

    @Test func manualLifecycle() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        try rt.registerLLMSanitizeRequest("s", priority: 0) { r, _, k in
            var r = r
            r.headers["sanitized"] = true
            k.resume(returning: r)
        }
        try rt.registerLLMRequestIntercept("never", priority: 0) { _, _, _, k in
            k.resume(throwing: .internalError("ran"))
        }
        let h = rt.llmCall(
            LLMCallParams(
                name: "m", request: chatRequest("x", headers: ["cookie": "c"]), attributes: 3, data: ["d": 1],
                modelName: "mm"), stack: s)
        rt.llmCallEnd(h, LLMCallEndParams(response: nil), stack: s)
        let h2 = rt.llmCall(LLMCallParams(name: "m2", request: chatRequest("x")), stack: s)
        rt.llmCallEnd(
            h2,
            LLMCallEndParams(
                response: Self.okResponse, annotatedResponse: ["ready": true], responseCodec: FailingCodec()),
            stack: s)
        let h3 = rt.llmCall(LLMCallParams(name: "m3", request: chatRequest("x")), stack: s)
        rt.llmCallEnd(
            h3, LLMCallEndParams(response: Self.okResponse, responseCodec: FailingCodec(failResponse: true)), stack: s)
        let h4 = rt.llmCall(LLMCallParams(name: "m4", request: chatRequest("x"), data: ["handle": 1]), stack: s)
        rt.llmCallEnd(h4, LLMCallEndParams(response: nil, data: ["end": 1]), stack: s)
        rt.flush()
        let ev = c.events
        #expect(ev[0].data["headers"] == ["sanitized": true])
        #expect(ev[0].attributes == ["stateful", "streaming"])
        #expect(ev[0].categoryProfile == ["model_name": "mm"])
        #expect(ev[1].data == ["d": 1])
        #expect(ev[1].metadata == ["otel.status_code": "OK"])
        #expect(ev[3].categoryProfile == ["annotated_response": ["ready": true]])
        #expect(ev[5].data == Self.okResponse && ev[5].categoryProfile == [:])
        #expect(ev[7].data == ["end": 1])
    }
}
