// SPDX-License-Identifier: Apache-2.0

/// One managed streaming LLM call (docs/pipeline.md, "Stream steps"): the shared steps 1 to 8, then stream execution
/// intercepts around the provider, with every chunk observed on the thread that pushes it.
///
/// `@unchecked Sendable`: as ``LLMPipeline``; `provider` and `state` are immutable.
final class LLMStreamExecution: LLMPipeline, @unchecked Sendable {
    let provider: LLMStreamProvider
    let state: StreamState

    init(
        _ rt: Runtime, _ p: LLMCallParams, stack: ScopeStack, control: CallControl,
        provider: @escaping LLMStreamProvider,
        state: StreamState
    ) {
        self.provider = provider
        self.state = state
        super.init(rt, p, stack: stack, control: control)
    }

    override func fail(_ e: RelayError) {
        state.failBeforeStart(e)
    }

    // 9. Stream execution intercepts around the provider; the outermost sink feeds the pump.
    override func run(_ h: ScopeHandle, _ req: LLMRequest) {
        guard state.attach(h) else { return }
        let list = merged(rt.global.llmStreamExecution, locals, \.llmStreamExecution)
        let ctx = codecContext
        let name = p.name
        let control = control
        let provider = provider

        // Layer i wraps layers i+1...; the provider sits in the middle. Each `next` names its layer by
        // index (no closure holds the next layer's closure), and each layer's own sink forwards to the
        // outer one, so neither building, running, pushing through nor ending a long list grows the stack.
        // Layers behind an inner stream (docs/pipeline.md, "Transforming stream intercepts") take that
        // stream's control from their outer sink, so closing it cancels them and nothing outside.
        let state = state
        @Sendable func layer(_ i: Int, _ r: LLMRequest, _ outer: LLMStreamSink) {
            let control = outer.control ?? control
            guard i < list.count else {
                if control.isCancelled { return outer.fail(RelayError(.cancelled, "cancelled")) }
                return provider(r, outer)
            }
            let reg = list[i]
            let next = StreamNext({ r, sink in layer(i + 1, r, sink) }, control: control, call: state)
            let mine = LLMStreamSink(control: control, forwardingTo: outer) { next.layerEnded() }
            reg.fn(name, r, ctx, next, mine)
        }
        let pumpSink = LLMStreamSink(
            control: control, push: { state.push($0, bytes: $1) }, end: { state.producerEnded($0) })
        layer(0, req, pumpSink)
    }
}

extension Runtime {
    /// Runs a managed streaming LLM call (docs/pipeline.md, "Streaming LLM call") and returns its read end at once.
    ///
    /// Steps 1 to 8 of ``llmExecute(_:stack:control:provider:done:)`` run first; a failure there (a
    /// guardrail rejection, say) becomes the stream's failure, with no LLM events. Each chunk the
    /// provider pushes is given to the collector, recorded as an `llm.chunk` mark and buffered for the
    /// consumer, on the pushing thread. Every started stream records exactly one end event and calls
    /// the finalizer exactly once, however the consumer behaves.
    @discardableResult
    public func llmStreamExecute(
        _ p: LLMCallParams, stack: ScopeStack? = nil, control: CallControl = CallControl(),
        options: LLMStreamOptions = LLMStreamOptions(), provider: @escaping LLMStreamProvider
    ) -> LLMStream {
        let stack = stack ?? ScopeStack.current
        let exec = LLMStreamExecution(
            self, p, stack: stack, control: control, provider: provider,
            state: StreamState(
                self, stack: stack, control: control, options: options,
                codecs: CodecContext(requestCodec: p.codec, responseCodec: p.responseCodec),
                locals: stack.mayHaveLocals ? stack.localMiddleware() : []))
        liveStreams.insert(exec.state)
        let stream = LLMStream(exec.state)
        exec.start()
        return stream
    }

    /// Runs a managed streaming call whose provider is an `AsyncSequence` of chunks.
    ///
    /// The sequence is iterated in a task; a full buffer makes it wait, closing the stream cancels the task.
    @discardableResult
    public func llmStreamExecute<S: AsyncSequence & Sendable>(
        _ p: LLMCallParams, stack: ScopeStack? = nil, options: LLMStreamOptions = LLMStreamOptions(),
        source: @escaping @Sendable (LLMRequest) async throws -> S
    ) -> LLMStream where S.Element == JSON {
        llmStreamExecute(p, stack: stack, options: options) { req, sink in
            let task = Task {
                do {
                    chunks: for try await chunk in try await source(req) {
                        while true {
                            switch sink.push(chunk) {
                            case .accepted: continue chunks
                            case .full: try await Task.sleep(nanoseconds: 100_000)
                            case .closed, .finished: return
                            }
                        }
                    }
                    sink.finish()
                } catch let e as RelayError {
                    sink.fail(e)
                } catch {
                    sink.fail(RelayError.wrapping(error))
                }
            }
            sink.onCancel { task.cancel() }
        }
    }
}
