// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// A chat-completions chunk carrying `text`.
func chatChunk(_ text: String, finish: String? = nil) -> JSON {
    [
        "object": "chat.completion.chunk",
        "choices": [
            ["index": 0, "delta": ["content": .string(text)], "finish_reason": finish.map(JSON.string) ?? .null]
        ],
    ]
}

/// Expected events of one streaming call, normalised as in Tests/vectors/README.md, "Event scenarios".
///
/// The call runs directly under the stack root (`<uuid:1>`), so the LLM span is `<uuid:2>`, its
/// chunk marks `<uuid:3>`... and timestamps are numbered in emission order.
enum StreamEvents {
    static let request = chatRequest("hi")

    static func start(attributes: [JSON] = ["streaming"]) -> JSON {
        [
            "atof_version": "0.1", "attributes": .array(attributes), "category": "llm",
            "category_profile": ["model_name": "gpt-4o"], "data": request.json, "data_schema": nil, "kind": "scope",
            "metadata": nil, "name": "openai", "parent_uuid": "<uuid:1>", "propagation_root_uuid": "<uuid:1>",
            "scope_category": "start", "timestamp": "<ts:1>", "uuid": "<uuid:2>",
        ]
    }

    static func mark(_ i: Int, finish: String? = nil) -> JSON {
        var data: JSONObject = [
            "chunk_index": .int(Int64(i)), "provider": "openai_chat_completions",
            "event_type": "chat.completion.chunk", "choice_indices": [0],
        ]
        if let finish { data["finish_reasons"] = [["choice_index": 0, "finish_reason": .string(finish)]] }
        return [
            "atof_version": "0.1", "category": nil, "category_profile": nil, "data": .object(data), "data_schema": nil,
            "kind": "mark", "metadata": nil, "name": "llm.chunk", "parent_uuid": "<uuid:2>",
            "propagation_root_uuid": "<uuid:1>", "timestamp": .string("<ts:\(i + 2)>"),
            "uuid": .string("<uuid:\(i + 3)>"),
        ]
    }

    static func end(chunks: Int, data: JSON, metadata: JSON, profile: JSONObject = JSONObject()) -> JSON {
        var p: JSONObject = ["model_name": "gpt-4o"]
        if chunks > 0 { p["time_to_first_chunk"] = "<seconds>" }
        profile.forEach { k, v in p[k] = v }
        return [
            "atof_version": "0.1", "attributes": ["streaming"], "category": "llm", "category_profile": .object(p),
            "data": data, "data_schema": nil, "kind": "scope", "metadata": metadata, "name": "openai",
            "parent_uuid": "<uuid:1>", "propagation_root_uuid": "<uuid:1>", "scope_category": "end",
            "timestamp": .string("<ts:\(chunks + 2)>"), "uuid": "<uuid:2>",
        ]
    }

    static func all(chunks: Int, end e: JSON) -> [JSON] { [start()] + (0..<chunks).map { mark($0) } + [e] }

    static let ok: JSON = ["otel.status_code": "OK"]
    static let dropped: JSON = [
        "otel.status_code": "ERROR", "otel.status_description": "stream dropped before clean completion",
        "nemo_relay.stream.end_reason": "consumer_closed",
    ]
    static func dropped(_ reason: StreamDropReason) -> JSON {
        var o = dropped.objectValue!
        o["nemo_relay.stream.end_reason"] = .string(reason.rawValue)
        return .object(o)
    }
}

/// Counts collector and finalizer calls and accumulates the streamed text.
final class StreamObserver: Sendable {
    let text = Box("")
    let collected = Box(0)
    let finalized = Box(0)
    let failCollectorAt = Box<Int?>(nil)
    let finalizerValue = Box<JSON?>(nil)
    let finalizerFails = Box(false)

    var options: LLMStreamOptions {
        LLMStreamOptions(
            collector: { [self] chunk throws(RelayError) in
                let n = collected.value
                if let at = failCollectorAt.value, n == at { throw .callback("ValueError", "bad chunk \(n)") }
                collected.value = n + 1
                let delta = chunk["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue
                text.mutate { $0 += delta ?? "" }
            },
            finalizer: { [self] () throws(RelayError) -> JSON in
                finalized.mutate { $0 += 1 }
                if finalizerFails.value { throw .callback("KeyError", "missing usage") }
                return finalizerValue.value ?? ["text": .string(text.value)]
            })
    }
}

/// A provider that pushes `chunks` at once, then finishes (or fails with `error`).
func pushing(_ chunks: [JSON], then error: RelayError? = nil) -> LLMStreamProvider {
    { _, sink in
        for c in chunks { sink.push(c) }
        if let error { sink.fail(error) } else { sink.finish() }
    }
}

/// Reads a pulled stream to its end: the chunks, then the terminal read.
func drainStream(_ s: LLMStream) -> ([JSON], LLMStreamRead) {
    var chunks: [JSON] = []
    while true {
        let r = s.next(timeoutNanos: 10_000_000_000)
        if case .chunk(let c) = r { chunks.append(c) } else { return (chunks, r) }
    }
}

@Suite struct LLMStreamTests {
    static let params = LLMCallParams(
        name: "openai", request: StreamEvents.request, attributes: Attributes.streaming, data: ["handle": "data"],
        modelName: "gpt-4o")
    static let three = [chatChunk("a"), chatChunk("b"), chatChunk("c")]

    /// Runs `body` on a fresh runtime and stack; returns the normalised events.
    func events(_ body: (Runtime, ScopeStack) throws -> Void) rethrows -> [JSON] {
        let (rt, c) = makeRuntime()
        let stack = ScopeStack()
        try body(rt, stack)
        #expect(rt.flush(timeoutNanos: 10_000_000_000))
        #expect(rt.liveStreams.count == 0)
        var ph = Placeholders(root: stack.root.uuid)
        return c.json.map { ph.normalise($0) }
    }

    func expectEvents(_ got: [JSON], _ expected: [JSON], sourceLocation: SourceLocation = #_sourceLocation) {
        let d = eventDifferences(got, expected)
        #expect(d.isEmpty, "\n  \(d.joined(separator: "\n  "))", sourceLocation: sourceLocation)
    }

    // MARK: The outcome table (docs/pipeline.md, "Stream outcome table")

    @Test func normalCompletion() {
        let obs = StreamObserver()
        var read: ([JSON], LLMStreamRead) = ([], .timedOut)
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options, provider: pushing(Self.three))
            read = drainStream(stream)
        }
        #expect(read.0 == Self.three && read.1 == .finished)
        #expect(obs.collected.value == 3 && obs.finalized.value == 1 && obs.text.value == "abc")
        expectEvents(
            got,
            StreamEvents.all(
                chunks: 3, end: StreamEvents.end(chunks: 3, data: ["text": "abc"], metadata: StreamEvents.ok)))
    }

    @Test func normalCompletionWithNullFinalizerValueRecordsHandleData() {
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(
                Self.params, stack: s, options: LLMStreamOptions(finalizer: { () throws(RelayError) in .null }),
                provider: pushing(Self.three))
            #expect(drainStream(stream).1 == .finished)
        }
        expectEvents(
            got,
            StreamEvents.all(
                chunks: 3, end: StreamEvents.end(chunks: 3, data: ["handle": "data"], metadata: StreamEvents.ok)))
    }

    @Test func finalizerRaises() {
        let obs = StreamObserver()
        obs.finalizerFails.value = true
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options, provider: pushing(Self.three))
            let (chunks, end) = drainStream(stream)
            #expect(chunks.count == 3 && end == .finished)
        }
        #expect(obs.finalized.value == 1)
        expectEvents(
            got, StreamEvents.all(chunks: 3, end: StreamEvents.end(chunks: 3, data: nil, metadata: StreamEvents.ok)))
    }

    @Test func providerRaisesMidStream() {
        let obs = StreamObserver()
        let boom = RelayError.callback("ConnectionError", "upstream reset")
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(
                Self.params, stack: s, options: obs.options, provider: pushing(Array(Self.three.prefix(2)), then: boom))
            let (chunks, end) = drainStream(stream)
            #expect(chunks.count == 2 && end == .failed(boom))
        }
        #expect(obs.finalized.value == 1)
        let md: JSON = [
            "otel.status_code": "ERROR", "otel.status_description": "internal error: ConnectionError: upstream reset",
            "error.type": "internal_error", "exception.type": "ConnectionError",
        ]
        expectEvents(
            got, StreamEvents.all(chunks: 2, end: StreamEvents.end(chunks: 2, data: ["text": "ab"], metadata: md)))
    }

    @Test func providerRaisesWithFailingFinalizerRecordsHandleData() {
        let obs = StreamObserver()
        obs.finalizerFails.value = true
        let boom = RelayError.callback("ConnectionError", "upstream reset")
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(
                Self.params, stack: s, options: obs.options, provider: pushing([chatChunk("a")], then: boom))
            #expect(drainStream(stream).1 == .failed(boom))
        }
        #expect(got.last?["data"] == ["handle": "data"])
        #expect(got.last?["metadata"]?["exception.type"] == "ConnectionError")
    }

    @Test func collectorRaises() {
        let obs = StreamObserver()
        obs.failCollectorAt.value = 1
        let statuses = Box<[StreamPushStatus]>([])
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options) { _, sink in
                for c in Self.three { statuses.mutate { $0.append(sink.push(c)) } }
                sink.finish()
            }
            let (chunks, end) = drainStream(stream)
            #expect(chunks == [Self.three[0]])
            #expect(end == .failed(.callback("ValueError", "bad chunk 1")))
        }
        // The producer is told to stop once the collector failed.
        #expect(statuses.value == [.accepted, .closed, .closed])
        #expect(obs.finalized.value == 1)
        let md: JSON = [
            "otel.status_code": "ERROR", "otel.status_description": "internal error: ValueError: bad chunk 1",
            "error.type": "internal_error", "exception.type": "ValueError",
        ]
        // The failing chunk was counted (index 1) but never marked or delivered.
        var end = StreamEvents.end(chunks: 1, data: ["text": "a"], metadata: md).objectValue!
        end["timestamp"] = "<ts:3>"
        expectEvents(got, [StreamEvents.start(), StreamEvents.mark(0), .object(end)])
    }

    @Test func consumerStopsReadingWithoutClosing() throws {
        let obs = StreamObserver()
        let finished = DispatchSemaphore(value: 0)
        var keep: LLMStream?
        let got = events { rt, s in
            // The provider pushes from another thread while the consumer reads one chunk and stops.
            let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options) { _, sink in
                Thread.detachNewThread {
                    for c in Self.three { #expect(sink.push(c) == .accepted) }
                    sink.finish()
                    finished.signal()
                }
            }
            #expect(stream.next(timeoutNanos: 10_000_000_000) == .chunk(Self.three[0]))
            #expect(finished.wait(timeout: .now() + 10) == .success)
            keep = stream
        }
        #expect(obs.finalized.value == 1)
        expectEvents(
            got,
            StreamEvents.all(
                chunks: 3, end: StreamEvents.end(chunks: 3, data: ["text": "abc"], metadata: StreamEvents.ok)))
        // The unread chunks are still there; closing now changes nothing recorded.
        #expect(keep?.next(timeoutNanos: 0) == .chunk(Self.three[1]))
        keep?.close()
        #expect(obs.finalized.value == 1)
    }

    @Test func consumerClosesEarly() {
        let obs = StreamObserver()
        let sinkBox = Box<LLMStreamSink?>(nil)
        let cancelled = Box(0)
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options) { _, sink in
                sink.onCancel { cancelled.mutate { $0 += 1 } }
                sink.push(Self.three[0])
                sink.push(Self.three[1])
                sinkBox.value = sink  // more would come later
            }
            #expect(stream.next(timeoutNanos: 0) == .chunk(Self.three[0]))
            stream.close()
            stream.close()
            #expect(stream.next(timeoutNanos: 0) == .failed(RelayError(.cancelled, "stream closed")))
        }
        #expect(cancelled.value == 1)
        #expect(sinkBox.value?.push(Self.three[2]) == .closed)
        sinkBox.value?.finish()
        #expect(obs.finalized.value == 1)
        expectEvents(
            got,
            StreamEvents.all(
                chunks: 2, end: StreamEvents.end(chunks: 2, data: ["text": "ab"], metadata: StreamEvents.dropped)))
    }

    @Test func noChunks() {
        let obs = StreamObserver()
        obs.finalizerValue.value = ["empty": true]
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options, provider: pushing([]))
            #expect(stream.next(timeoutNanos: 0) == .finished)
            #expect(stream.next(timeoutNanos: 0) == .finished)
        }
        var end = StreamEvents.end(chunks: 0, data: ["empty": true], metadata: StreamEvents.ok).objectValue!
        end["timestamp"] = "<ts:2>"
        expectEvents(got, [StreamEvents.start(), .object(end)])
    }

    // MARK: Correct by construction

    @Test func releasedWithoutClosingEndsAsReleased() {
        let obs = StreamObserver()
        let got = events { rt, s in
            do {
                let stream = rt.llmStreamExecute(Self.params, stack: s, options: obs.options) { _, sink in
                    sink.push(Self.three[0])
                }
                _ = stream.next(timeoutNanos: 0)
            }
        }
        #expect(obs.finalized.value == 1)
        expectEvents(
            got,
            StreamEvents.all(
                chunks: 1,
                end: StreamEvents.end(chunks: 1, data: ["text": "a"], metadata: StreamEvents.dropped(.consumerReleased))
            ))
    }

    @Test func shutdownEndsRunningStreams() {
        let (rt, c) = makeRuntime()
        let stack = ScopeStack()
        let obs = StreamObserver()
        let stream = rt.llmStreamExecute(Self.params, stack: stack, options: obs.options) { _, sink in
            sink.push(Self.three[0])
        }
        #expect(rt.liveStreams.count == 1)
        rt.shutdown()
        #expect(rt.liveStreams.count == 0)
        #expect(obs.finalized.value == 1)
        #expect(stream.next(timeoutNanos: 0) == .failed(RelayError(.cancelled, "stream closed")))
        var ph = Placeholders(root: stack.root.uuid)
        let got = c.json.map { ph.normalise($0) }
        expectEvents(
            got,
            StreamEvents.all(
                chunks: 1,
                end: StreamEvents.end(chunks: 1, data: ["text": "a"], metadata: StreamEvents.dropped(.runtimeShutdown)))
        )
        stream.close()
        #expect(obs.finalized.value == 1)
    }

    @Test func callerCancellationEndsTheStream() {
        let control = CallControl()
        let got = events { rt, s in
            let stream = rt.llmStreamExecute(Self.params, stack: s, control: control) { _, sink in
                sink.push(Self.three[0])
            }
            control.cancel()
            let (chunks, end) = drainStream(stream)
            #expect(chunks.count == 1 && end == .failed(RelayError(.cancelled, "LLM execution cancelled")))
        }
        let md: JSON = ["otel.status_code": "ERROR", "otel.status_description": "LLM execution cancelled"]
        expectEvents(
            got, StreamEvents.all(chunks: 1, end: StreamEvents.end(chunks: 1, data: ["handle": "data"], metadata: md)))
    }

    @Test func guardrailRejectionFailsTheStreamWithoutLLMEvents() throws {
        let obs = StreamObserver()
        let (rt, c) = makeRuntime()
        try rt.registerLLMConditionalGuardrail("no", priority: 1) { _, k in k.resume(returning: "nope") }
        let stream = rt.llmStreamExecute(
            Self.params, stack: ScopeStack(), options: obs.options, provider: pushing(Self.three))
        #expect(stream.next(timeoutNanos: 0) == .failed(RelayError(.guardrailRejected, "nope")))
        rt.flush()
        #expect(c.events.allSatisfy { $0.category != "llm" })
        #expect(obs.finalized.value == 0 && rt.liveStreams.count == 0)
    }

    @Test func closingBeforeThePendingGuardrailAnswersEndsWithoutEvents() throws {
        let (rt, c) = makeRuntime()
        let parked = Box<Continuation<String?>?>(nil)
        try rt.registerLLMConditionalGuardrail("slow", priority: 1) { _, k in parked.value = k }
        let stream = rt.llmStreamExecute(Self.params, stack: ScopeStack(), provider: pushing(Self.three))
        stream.close()
        #expect(parked.value?.resume(returning: nil) == false)
        rt.flush()
        #expect(c.events.allSatisfy { $0.category != "llm" })
        #expect(rt.liveStreams.count == 0)
    }

    // MARK: Back-pressure and consumers

    @Test func fullBufferRejectsThePushUntilTheConsumerReads() {
        let sinkBox = Box<LLMStreamSink?>(nil)
        let (rt, _) = makeRuntime()
        let stream = rt.llmStreamExecute(
            Self.params, stack: ScopeStack(), options: LLMStreamOptions(bufferCapacity: 2)
        ) { _, sink in sinkBox.value = sink }
        let sink = sinkBox.value!
        #expect(sink.push(Self.three[0]) == .accepted)
        #expect(sink.push(Self.three[1]) == .accepted)
        #expect(sink.push(Self.three[2]) == .full)
        #expect(stream.next(timeoutNanos: 0) == .chunk(Self.three[0]))
        #expect(sink.push(Self.three[2]) == .accepted)
        sink.finish()
        #expect(sink.push(Self.three[2]) == .finished)
        #expect(drainStream(stream).0 == [Self.three[1], Self.three[2]])
        #expect(stream.next(timeoutNanos: 0) == .finished)
        rt.flush()
    }

    @Test func callbackConsumerGetsChunksThenTheOutcome() {
        let got = Box<[JSON]>([])
        let ends = Box<[Result<Void, RelayError>]>([])
        let (rt, _) = makeRuntime()
        let stream = rt.llmStreamExecute(
            Self.params, stack: ScopeStack(),
            options: LLMStreamOptions(
                onChunk: { c, k in
                    got.mutate { $0.append(c) }
                    k.resume(returning: ())
                }, onEnd: { r in ends.mutate { $0.append(r) } }),
            provider: pushing(Self.three))
        #expect(got.value == Self.three && ends.value.count == 1)
        #expect(
            stream.next(timeoutNanos: 0) == .failed(RelayError(.misuse, "this stream delivers chunks to its callback")))
        rt.flush()
    }

    @Test func pendingCallbackConsumerPausesDeliveryAndCanClose() {
        let got = Box<[JSON]>([])
        let parked = Box<Continuation<Void>?>(nil)
        let ends = Box<[Result<Void, RelayError>]>([])
        let sinkBox = Box<LLMStreamSink?>(nil)
        let obs = StreamObserver()
        var options = obs.options
        options.bufferCapacity = 1
        options.onChunk = { c, k in
            got.mutate { $0.append(c) }
            parked.value = k
        }
        options.onEnd = { r in ends.mutate { $0.append(r) } }
        let evs = events { rt, s in
            rt.llmStreamExecute(Self.params, stack: s, options: options) { _, sink in sinkBox.value = sink }
            let sink = sinkBox.value!
            #expect(sink.push(Self.three[0]) == .accepted)  // delivered, consumer parks
            #expect(sink.push(Self.three[1]) == .accepted)  // buffered
            #expect(sink.push(Self.three[2]) == .full)
            #expect(got.value.count == 1)
            parked.value!.resume(returning: ())  // delivers the buffered chunk, parks again
            #expect(got.value.count == 2)
            parked.value!.resume(throwing: .callback("StopIteration", "enough"))  // closes
            #expect(sink.push(Self.three[2]) == .closed)
        }
        #expect(ends.value.count == 1 && ends.value[0].failure?.kind == .cancelled)
        #expect(obs.finalized.value == 1)
        #expect(evs.last?["metadata"] == StreamEvents.dropped)
    }

    @Test func asyncSequenceOnBothEnds() async throws {
        let (rt, c) = makeRuntime()
        let obs = StreamObserver()
        let stream = rt.llmStreamExecute(Self.params, stack: ScopeStack(), options: obs.options) { _ in
            AsyncThrowingStream<JSON, Error> { k in
                for ch in Self.three { k.yield(ch) }
                k.finish()
            }
        }
        var got: [JSON] = []
        for try await chunk in stream { got.append(chunk) }
        #expect(got == Self.three)
        rt.flush()
        #expect(obs.finalized.value == 1)
        #expect(c.events.last?.metadata == StreamEvents.ok)
    }

    // MARK: Stream execution intercepts

    @Test func streamInterceptsFormAnOnionSeparateFromExecutionIntercepts() throws {
        let (rt, _) = makeRuntime()
        let order = Box<[String]>([])
        try rt.registerLLMExecutionIntercept("plain", priority: 0) { _, _, _, _, k in
            order.mutate { $0.append("plain") }
            k.resume(throwing: .internalError("must not run"))
        }
        for (name, priority) in [("inner", Int32(2)), ("outer", Int32(1))] {
            try rt.registerLLMStreamExecutionIntercept(name, priority: priority) { _, req, _, next, sink in
                order.mutate { $0.append(name) }
                // Tag every chunk on its way out.
                next(
                    req,
                    LLMStreamSink(
                        push: { c in
                            guard case .object(var o) = c else { return sink.push(c) }
                            o["via"] = .array((o["via"]?.arrayValue ?? []) + [.string(name)])
                            return sink.push(.object(o))
                        }, end: { sink.end($0) }))
            }
        }
        let seenHeaders = Box<JSONObject>(JSONObject())
        let stream = rt.llmStreamExecute(Self.params, stack: ScopeStack()) { req, sink in
            seenHeaders.value = req.headers
            sink.push(["n": 1])
            sink.finish()
        }
        #expect(drainStream(stream).0 == [["n": 1, "via": ["inner", "outer"]]])
        #expect(order.value == ["outer", "inner"])
        #expect(seenHeaders.value["traceparent"] != nil)
        // The stream registry does not apply to non-streaming calls.
        let r = runLLM(rt, Self.params, stack: ScopeStack(), provider: returning(["ok": true]))
        #expect(r?.failure == .internalError("must not run"))
        #expect(try rt.deregister(.llmStreamExecutionIntercept, name: "outer"))
        #expect(try !rt.deregister(.llmStreamExecutionIntercept, name: "outer"))
        rt.flush()
    }

    @Test func interceptMaySkipNextAndStaleNextFails() throws {
        let (rt, _) = makeRuntime()
        let staleNext = Box<StreamNext?>(nil)
        try rt.registerLLMStreamExecutionIntercept("canned", priority: 0) { _, _, _, next, sink in
            staleNext.value = next
            sink.push(["canned": true])
            sink.finish()
        }
        let stream = rt.llmStreamExecute(Self.params, stack: ScopeStack()) { _, sink in
            sink.fail(.internalError("provider must not run"))
        }
        #expect(drainStream(stream) == ([["canned": true]], .finished))
        let ended = Box<Result<Void, RelayError>?>(nil)
        staleNext.value?(StreamEvents.request, LLMStreamSink(push: { _ in .accepted }, end: { ended.value = $0 }))
        #expect(ended.value?.failure == .invalidArgument("execution continuation is no longer active"))
        rt.flush()
    }

    /// A transforming intercept (docs/pipeline.md, "Transforming stream intercepts"): it reads the inner layers'
    /// chunks from `next.stream` and pushes what it wants; the call observes only what leaves it.
    @Test func interceptReadsAndTransformsTheInnerStream() throws {
        let (rt, c) = makeRuntime()
        for (name, priority) in [("upper", Int32(0)), ("dup", Int32(1))] {
            try rt.registerLLMStreamExecutionIntercept(name, priority: priority) { _, req, _, next, sink in
                do throws(RelayError) {
                    let inner = try next.stream(req)
                    while case .chunk(let chunk) = inner.next(timeoutNanos: 0) {
                        if name == "dup" {
                            sink.push(chunk)
                            sink.push(chunk)
                        } else if let t = chunk["choices"]?[0]?["delta"]?["content"]?.stringValue {
                            sink.push(chatChunk(t.uppercased()))
                        }
                    }
                    sink.finish()
                } catch {
                    sink.fail(error)
                }
            }
        }
        let collected = Box<[JSON]>([])
        let stream = rt.llmStreamExecute(
            Self.params, stack: ScopeStack(),
            options: LLMStreamOptions(collector: { chunk throws(RelayError) in collected.mutate { $0.append(chunk) } }),
            provider: pushing([chatChunk("a"), chatChunk("b")]))
        let upper = [chatChunk("A"), chatChunk("A"), chatChunk("B"), chatChunk("B")]
        #expect(drainStream(stream) == (upper, .finished))
        #expect(collected.value == upper)
        rt.flush()
        #expect(c.events.filter { $0.name == "llm.chunk" }.count == 4)
        #expect(c.events.filter { $0.kind != .mark }.count == 2)
        #expect(c.events.last?.metadata == StreamEvents.ok)
    }

    @Test func closingTheInnerStreamCancelsOnlyTheInnerLayers() throws {
        let (rt, c) = makeRuntime()
        let innerRead = Box<LLMStreamRead?>(nil)
        try rt.registerLLMStreamExecutionIntercept("first", priority: 0) { _, req, _, next, sink in
            guard let inner = try? next.stream(req, options: LLMStreamOptions(bufferCapacity: 1)) else { return }
            if case .chunk(let first) = inner.next(timeoutNanos: 0) { sink.push(first) }
            inner.close()
            innerRead.value = inner.next(timeoutNanos: 0)
            sink.finish()
        }
        let cancelled = Box(0)
        let pushes = Box<[StreamPushStatus]>([])
        let stream = rt.llmStreamExecute(Self.params, stack: ScopeStack()) { _, sink in
            sink.onCancel { cancelled.mutate { $0 += 1 } }
            // The second push finds the inner buffer (capacity 1) full.
            for ch in Self.three { pushes.mutate { $0.append(sink.push(ch)) } }
        }
        #expect(pushes.value == [.accepted, .full, .full])
        #expect(drainStream(stream) == ([chatChunk("a")], .finished))
        #expect(cancelled.value == 1)
        #expect(innerRead.value == .failed(RelayError(.cancelled, "stream closed")))
        rt.flush()
        #expect(c.events.last?.metadata == StreamEvents.ok)
    }

    @Test func closingTheCallCancelsTheInnerStreamItsInterceptReads() throws {
        let (rt, c) = makeRuntime()
        let inner = Box<LLMStream?>(nil)
        try rt.registerLLMStreamExecutionIntercept("keep", priority: 0) { _, req, _, next, sink in
            inner.value = try? next.stream(req)
            if case .chunk(let first)? = inner.value?.next(timeoutNanos: 0) { sink.push(first) }
        }
        let cancelled = Box(0)
        let stream = rt.llmStreamExecute(Self.params, stack: ScopeStack()) { _, sink in
            sink.onCancel { cancelled.mutate { $0 += 1 } }
            sink.push(chatChunk("a"))
            sink.push(chatChunk("b"))
        }
        #expect(stream.next(timeoutNanos: 0) == .chunk(chatChunk("a")))
        stream.close()
        #expect(cancelled.value == 1)
        #expect(inner.value?.next(timeoutNanos: 0) == .chunk(chatChunk("b")))
        #expect(inner.value?.next(timeoutNanos: 0) == .failed(RelayError(.cancelled, "LLM execution cancelled")))
        rt.flush()
        #expect(c.events.filter { $0.kind != .mark }.count == 2)
        #expect(c.events.last?.metadata["nemo_relay.stream.end_reason"] == "consumer_closed")
    }

    @Test func responseCodecDecodesTheSanitizedFinalizerValue() throws {
        let (rt, c) = makeRuntime()
        try rt.registerLLMSanitizeResponse("tag", priority: 0) { resp, _, k in
            guard case .object(var o) = resp else {
                k.resume(returning: resp)
                return
            }
            o["id"] = "sanitized"
            k.resume(returning: .object(o))
        }
        var p = Self.params
        p.responseCodec = OpenAIChatCodec()
        let response: JSON = [
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
            "choices": [["index": 0, "message": ["role": "assistant", "content": "abc"], "finish_reason": "stop"]],
        ]
        let stream = rt.llmStreamExecute(
            p, stack: ScopeStack(), options: LLMStreamOptions(finalizer: { () throws(RelayError) in response }),
            provider: pushing(Self.three))
        #expect(drainStream(stream).1 == .finished)
        rt.flush()
        let end = c.events.last!
        #expect(end.data["id"] == "sanitized")
        #expect(end.categoryProfile?["annotated_response"]?["id"] == "sanitized")
        #expect(end.categoryProfile?["annotated_response"]?["message"] == "abc")
    }
}
