// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

@Suite struct RuntimeToolTests {
    static func names(_ c: EventCollector) -> [String] { RuntimeLLMTests.names(c) }

    @Test func pipelineOrderAndPayloads() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let log = Box<[String]>([])
        try rt.registerToolConditionalGuardrail("guard", priority: 0) { name, args, k in
            log.mutate { $0.append("guard(\(name),\(args.jsonString(sortedKeys: true)))") }
            k.resume(returning: nil)
        }
        try rt.registerToolRequestIntercept("req", priority: 0) { _, args, k in
            log.mutate { $0.append("request") }
            var o = args.objectValue!
            o["added"] = true
            k.resume(returning: .object(o))
        }
        try rt.registerToolSanitizeRequest("san-req", priority: 0) { _, args, k in
            log.mutate { $0.append("sanitize-request") }
            var o = args.objectValue!
            o["secret"] = "***"
            k.resume(returning: .object(o))
        }
        try rt.registerToolExecutionIntercept("outer", priority: 0) { ctx, next, k in
            log.mutate { $0.append("outer>(\(ctx.toolName),\(ctx.toolCallID ?? "-"))") }
            next(
                ctx.args,
                Continuation { r in
                    log.mutate { $0.append("<outer") }
                    k.resume(r)
                })
        }
        try rt.registerToolExecutionIntercept("inner", priority: 1) { ctx, next, k in
            log.mutate { $0.append("inner>") }
            var a = ctx.args.objectValue!
            a["inner"] = 1
            next(.object(a), k)
        }
        try rt.registerToolSanitizeResponse("san-resp", priority: 0) { _, r, k in
            log.mutate { $0.append("sanitize-response") }
            k.resume(returning: ["sanitized": r])
        }
        let seen = Box<JSON>(nil)
        let r = runTool(
            rt, ToolCallParams(name: "t", args: ["secret": "pw"], metadata: ["m": 1], toolCallID: "call_9"), stack: s
        ) { args, k in
            log.mutate { $0.append("tool") }
            seen.value = args
            k.resume(returning: ToolResult(result: "raw", annotation: ["note": 1]))
        }
        #expect(r?.success == ToolResult(result: "raw", annotation: ["note": 1]))
        #expect(seen.value == ["secret": "pw", "added": true, "inner": 1])
        #expect(
            log.value == [
                #"guard(t,{"secret":"pw"})"#, "request", "sanitize-request", "outer>(t,call_9)", "inner>", "tool",
                "<outer",
                "sanitize-response",
            ])
        rt.flush()
        #expect(Self.names(c) == ["guardrail:guard:start", "guardrail:guard:end", "tool:t:start", "tool:t:end"])
        #expect(c.events[0].data == ["kind": "tool_conditional_execution", "target_name": "t"])
        let start = c.events[2], end = c.events[3]
        #expect(start.data == ["secret": "***", "added": true])
        #expect(start.categoryProfile == ["tool_call_id": "call_9"])
        #expect(start.metadata == ["m": 1])
        #expect(end.data == ["sanitized": "raw"])
        #expect(end.categoryProfile == ["tool_call_id": "call_9", "tool_result_annotation": ["note": 1]])
        #expect(end.metadata == ["m": 1, "otel.status_code": "OK"])
    }

    @Test func guardrailRejectionEmitsMarkNamedAfterTheTool() throws {
        let (rt, c) = makeRuntime()
        let ran = Box(false)
        try rt.registerToolConditionalGuardrail("deny", priority: 0) { _, _, k in k.resume(returning: "not allowed") }
        let r = runTool(rt, ToolCallParams(name: "rm", args: [:]), stack: ScopeStack()) { _, k in
            ran.value = true
            k.resume(returning: ToolResult(result: 1))
        }
        #expect(r?.failure?.displayText == "guardrail rejected: not allowed")
        #expect(!ran.value)
        rt.flush()
        #expect(Self.names(c) == ["guardrail:deny:start", "guardrail:deny:end", "-:rm:mark"])
        #expect(c.events[2].data == ["rejected": true, "rejection_reason": "not allowed"])
    }

    @Test func requestInterceptFailureEmitsNoToolEvents() throws {
        let (rt, c) = makeRuntime()
        try rt.registerToolRequestIntercept("bad", priority: 0) { _, _, k in
            k.resume(throwing: .callback("KeyError", "k"))
        }
        let r = runTool(rt, ToolCallParams(name: "t", args: [:]), stack: ScopeStack()) { _, k in
            k.resume(returning: ToolResult(result: 1))
        }
        #expect(r?.failure == .callback("KeyError", "k"))
        rt.flush()
        #expect(c.events.isEmpty)
    }

    @Test func toolFailureUsesHandleData() throws {
        for viaIntercept in [false, true] {
            let (rt, c) = makeRuntime()
            if viaIntercept {
                try rt.registerToolExecutionIntercept("x", priority: 0) { _, _, k in
                    k.resume(throwing: .callback("RuntimeError", "down"))
                }
            }
            let r = runTool(
                rt,
                ToolCallParams(
                    name: "t", args: ["a": 1], attributes: Attributes.remote, data: ["fb": 1], toolCallID: "id"),
                stack: ScopeStack()
            ) { _, k in k.resume(throwing: .callback("RuntimeError", "down")) }
            #expect(r?.failure == .callback("RuntimeError", "down"))
            rt.flush()
            let end = c.events[1]
            #expect(end.data == ["fb": 1])
            #expect(end.attributes == ["remote"])
            #expect(end.categoryProfile == ["tool_call_id": "id"])
            #expect(
                end.metadata == [
                    "otel.status_code": "ERROR", "otel.status_description": "internal error: RuntimeError: down",
                    "error.type": "internal_error", "exception.type": "RuntimeError",
                ])
        }
    }

    @Test func executionInterceptMayShortCircuit() throws {
        let (rt, c) = makeRuntime()
        try rt.registerToolExecutionIntercept("cache", priority: 0) { _, _, k in
            k.resume(returning: ToolResult(result: "cached"))
        }
        let ran = Box(false)
        let r = runTool(rt, ToolCallParams(name: "t", args: [:]), stack: ScopeStack()) { _, k in
            ran.value = true
            k.resume(returning: ToolResult(result: 1))
        }
        #expect(r?.success?.result == "cached")
        #expect(!ran.value)
        rt.flush()
        #expect(c.events[1].data == "cached")
        #expect(c.events[1].categoryProfile == [:])
    }

    @Test func sanitizerNullAndNullResults() throws {
        let (rt, c) = makeRuntime()
        try rt.registerToolSanitizeRequest("drop", priority: 0) { _, _, k in k.resume(returning: nil) }
        try rt.registerToolSanitizeResponse("fail", priority: 0) { _, _, k in k.resume(throwing: .internalError("x")) }
        let s = ScopeStack()
        _ = runTool(rt, ToolCallParams(name: "t", args: ["a": 1]), stack: s) { _, k in
            k.resume(returning: ToolResult(result: 1))
        }
        // A null result: the end data is the handle data.
        _ = runTool(rt, ToolCallParams(name: "n", args: [:], data: ["h": 1]), stack: s) { _, k in
            k.resume(returning: ToolResult(result: nil, annotation: nil))
        }
        rt.flush()
        #expect(c.events[0].data == .null)
        #expect(c.events[1].data == .null)
        #expect(c.events[3].data == ["h": 1])
    }

    @Test func manualPairAddsNoStatus() {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let h = rt.toolCall(
            ToolCallParams(name: "m", args: ["q": 1], data: ["hd": 1], metadata: ["p": "start"], toolCallID: "x"),
            stack: s)
        rt.toolCallEnd(h, result: nil, metadata: ["p": "end"], stack: s)
        let h2 = rt.toolCall(ToolCallParams(name: "m2", args: 1), stack: s)
        rt.toolCallEnd(h2, result: ToolResult(result: nil), data: ["end": 1], stack: s)
        rt.flush()
        #expect(c.events[1].data == ["hd": 1])
        #expect(c.events[1].metadata == ["p": "end"])
        #expect(c.events[1].categoryProfile == ["tool_call_id": "x"])
        #expect(c.events[3].data == ["end": 1])
        #expect(c.events[3].metadata == .null)
    }

    @Test func cancellationWhileToolPending() {
        let (rt, c) = makeRuntime()
        let control = CallControl()
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let out = Box<Result<ToolResult, RelayError>?>(nil)
        rt.toolExecute(
            ToolCallParams(name: "t", args: [:], data: ["h": 1]), stack: ScopeStack(), control: control,
            tool: { _, _ in
                started.signal()
            }
        ) { r in
            out.value = r
            finished.signal()
        }
        #expect(started.wait(timeout: .now() + 5) == .success)
        control.cancel()
        #expect(finished.wait(timeout: .now() + 5) == .success)
        #expect(out.value?.failure?.kind == .cancelled)
        rt.flush()
        #expect(c.events[1].data == ["h": 1])
        #expect(c.events[1].metadata["otel.status_code"] == "ERROR")
    }

    @Test func toolCompletedFromAnotherThread() {
        let (rt, c) = makeRuntime()
        let r = runTool(rt, ToolCallParams(name: "t", args: [:]), stack: ScopeStack()) { _, k in
            Thread { k.resume(returning: ToolResult(result: "late")) }.start()
        }
        #expect(r?.success?.result == "late")
        rt.flush()
        #expect(c.events.map(\.kind) == [.scopeStart, .scopeEnd])
    }
}
