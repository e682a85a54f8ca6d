// SPDX-License-Identifier: Apache-2.0
import Synchronization

// MARK: - Producer side

/// What ``LLMStreamSink/push(_:)`` did with a chunk.
public enum StreamPushStatus: Sendable, Equatable {
    /// The chunk was taken: observed (collector, `llm.chunk` mark) and queued for the consumer.
    case accepted
    /// The consumer's buffer is full; the chunk was not taken. Push it again once the consumer has read.
    case full
    /// The consumer closed the stream, or the call was cancelled or failed: stop producing.
    case closed
    /// This sink was already finished or failed by its producer; pushing to it is a contract violation.
    case finished
}

/// The write end of one stream layer: push chunks, then ``finish()`` or ``fail(_:)`` exactly once.
///
/// A provider receives the sink of the innermost layer. A stream execution intercept receives the sink
/// of its own layer and usually hands it, or a sink of its own that transforms chunks, to `next`.
/// Pushes to one sink must not run concurrently.
///
/// A sink may forward its chunks, and its end, to another sink unchanged. Pushes and ends walk such
/// chains in a loop, so a stream passing through any number of forwarding layers costs constant stack.
///
/// `@unchecked Sendable`: `lock` guards `cancelTickets`; `ended` is atomic; `control` is set once, by the
/// layer that hands the sink on, before its first push; the closures and targets are immutable, and
/// the closures are called by the one pushing thread at a time (see above).
public final class LLMStreamSink: @unchecked Sendable {
    /// Takes a chunk and, when the producer had them, its JSON bytes (handed to the consumer as they are);
    /// nil when chunks go to `chunkTarget`.
    private let onChunk: ((JSON, [UInt8]?) -> StreamPushStatus)?
    /// Receives the end; nil when the end goes to `endTarget` (after `beforeForwardingEnd`).
    private let onEnd: ((Result<Void, RelayError>) -> Void)?
    private let chunkTarget: LLMStreamSink?
    private let endTarget: LLMStreamSink?
    private let beforeForwardingEnd: (() -> Void)?
    private let ended = Atomic<Bool>(false)
    private let lock = PThreadLock()
    private var cancelTickets: [UInt64] = []
    /// The call this sink serves, for cancellation notices; set before the sink is handed inward.
    var control: CallControl?

    /// A sink that forwards to closures, e.g. one an intercept passes to `next` to transform chunks.
    public init(push: @escaping (JSON) -> StreamPushStatus, end: @escaping (Result<Void, RelayError>) -> Void) {
        onChunk = { c, _ in push(c) }
        onEnd = end
        chunkTarget = nil
        endTarget = nil
        beforeForwardingEnd = nil
    }

    /// A sink whose chunks go to `target` unchanged (with the producer's bytes) and whose end goes to `end`,
    /// e.g. one an intercept passes to `next` to learn when the inner layers ended.
    public init(forwardingChunksTo target: LLMStreamSink, end: @escaping (Result<Void, RelayError>) -> Void) {
        onChunk = nil
        onEnd = end
        chunkTarget = target
        endTarget = nil
        beforeForwardingEnd = nil
    }

    init(
        control: CallControl, push: @escaping (JSON, [UInt8]?) -> StreamPushStatus,
        end: @escaping (Result<Void, RelayError>) -> Void
    ) {
        self.control = control
        onChunk = push
        onEnd = end
        chunkTarget = nil
        endTarget = nil
        beforeForwardingEnd = nil
    }

    /// A sink that forwards its chunks and its end to `target`, running `beforeEnd` first when it ends.
    init(control: CallControl, forwardingTo target: LLMStreamSink, beforeEnd: @escaping () -> Void) {
        self.control = control
        onChunk = nil
        onEnd = nil
        chunkTarget = target
        endTarget = target
        beforeForwardingEnd = beforeEnd
    }

    /// True once the sink was finished or failed.
    public var isEnded: Bool { ended.load(ordering: .acquiring) }

    /// Offers one chunk to the consumer side.
    @discardableResult
    public func push(_ chunk: JSON) -> StreamPushStatus { _push(chunk, bytes: nil) }

    /// Pushes a chunk together with the JSON bytes it was parsed from, so the consumer gets them unchanged.
    @discardableResult
    public func _push(_ chunk: JSON, bytes: [UInt8]?) -> StreamPushStatus {
        // A sink ended by a cancellation reports the cancellation, not a contract violation.
        if ended.load(ordering: .acquiring) { return control?.isCancelled == true ? .closed : .finished }
        if let onChunk { return onChunk(chunk, bytes) }
        return forward(chunk, bytes: bytes)
    }

    /// Walks the forwarding chain to the first sink that takes chunks itself (or has ended).
    @inline(never)
    private func forward(_ chunk: JSON, bytes: [UInt8]?) -> StreamPushStatus {
        var sink = self
        while let target = sink.chunkTarget {
            sink = target
            if sink.ended.load(ordering: .acquiring) { return sink.control?.isCancelled == true ? .closed : .finished }
            if let onChunk = sink.onChunk { return onChunk(chunk, bytes) }
        }
        return .finished
    }

    /// Ends the stream cleanly.
    public func finish() { end(.success(())) }

    /// Ends the stream with an error (the consumer gets it after the chunks pushed so far).
    public func fail(_ error: RelayError) { end(.failure(error)) }

    /// Ends the sink; returns false if it had already ended.
    @discardableResult
    public func end(_ result: Result<Void, RelayError>) -> Bool {
        guard markEnded() else { return false }
        var sink = self
        while let target = sink.endTarget {
            sink.beforeForwardingEnd?()
            guard target.markEnded() else { return true }
            sink = target
        }
        sink.onEnd?(result)
        return true
    }

    /// Marks the sink ended and drops its cancellation notices; false if it had already ended.
    private func markEnded() -> Bool {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        if let control {
            for t in lock.withLock({ cancelTickets }) { control.removePending(t) }
        }
        return true
    }

    /// Runs `body` once if the call is cancelled (the consumer closed early, the runtime shut down)
    /// before this sink ends; at once if it already was.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        guard let control, !isEnded else { return }
        if let t = control.whenCancelled(body) { lock.withLock { cancelTickets.append(t) } }
    }
}

/// The continuation a stream execution intercept calls to run the inner layers into a sink, or into an
/// inner stream it reads (docs/pipeline.md, "Transforming stream intercepts").
///
/// It stays callable until the intercept's own sink ends; later calls fail the given sink with
/// `invalid argument: execution continuation is no longer active`. Inner streams still running when that
/// sink ends are cancelled.
public final class StreamNext: Sendable {
    let body: LLMStreamProvider
    let control: CallControl
    /// The call's stream, whose runtime and stack inner streams share; nil outside a managed call.
    let call: StreamState?
    let active = Atomic<Bool>(true)
    /// The parent of this layer's inner streams' controls, made by the first ``stream(_:options:)``.
    private let streams = Mutex<CallControl?>(nil)

    init(_ body: @escaping LLMStreamProvider, control: CallControl, call: StreamState? = nil) {
        self.body = body
        self.control = control
        self.call = call
    }

    /// Runs the inner layers with `request`; their chunks and their end go to `sink`.
    public func callAsFunction(_ request: LLMRequest, _ sink: LLMStreamSink) {
        guard active.load(ordering: .acquiring) else {
            sink.fail(.invalidArgument("execution continuation is no longer active"))
            return
        }
        if sink.control == nil { sink.control = control }
        // Layers nest the callers' frames: deep onions continue lower on the stack (see StackTrampoline).
        StackTrampoline.run({ [body] in body($0, sink) }, request)
    }

    /// Runs the inner layers with `request` and returns their chunks as a stream for the intercept to read,
    /// transform and push into its own sink (docs/pipeline.md, "Transforming stream intercepts").
    ///
    /// The inner layers may run, and end, before this returns. At most `options.bufferCapacity` chunks
    /// wait unread; an inner push beyond that reports ``StreamPushStatus/full``. The stream is not observed:
    /// the call's collector, `llm.chunk` marks and end event see what the outermost layer pushes, so
    /// `options` must have no collector and no finalizer. Closing (or releasing) the stream cancels the
    /// inner layers only; cancelling the call, or this layer's sink ending, cancels them too.
    public func stream(_ request: LLMRequest, options: LLMStreamOptions = LLMStreamOptions()) throws(RelayError)
        -> LLMStream
    {
        guard options.collector == nil, options.finalizer == nil else {
            throw .invalidArgument("an inner stream has no collector and no finalizer")
        }
        guard let call else { throw .invalidArgument("this continuation has no inner stream") }
        let parent = streams.withLock { (slot: inout CallControl?) -> CallControl? in
            guard active.load(ordering: .acquiring) else { return nil }
            if let c = slot { return c }
            let c = control.child()
            slot = c
            return c
        }
        guard let parent else { throw .invalidArgument("execution continuation is no longer active") }
        let child = parent.child()
        let state = StreamState(
            call.rt, stack: call.stack, control: child, options: options, codecs: call.codecs, locals: [],
            inner: true)
        let sink = LLMStreamSink(control: child, push: { state.push($0, bytes: $1) }, end: { state.producerEnded($0) })
        let stream = LLMStream(state)
        StackTrampoline.run({ [body] in body($0, sink) }, request)
        return stream
    }

    /// This layer's sink ended: the continuation goes inactive and its running inner streams are cancelled.
    func layerEnded() {
        let parent = streams.withLock { (slot: inout CallControl?) -> CallControl? in
            active.store(false, ordering: .releasing)
            return slot
        }
        guard let parent else { return }
        parent.detach()
        parent.cancel()
    }
}

/// `provider(request, sink)`: push the provider's chunks into `sink`, then finish or fail it.
public typealias LLMStreamProvider = @Sendable (LLMRequest, LLMStreamSink) -> Void

// MARK: - Options

/// Why a stream ended before clean completion, recorded as `nemo_relay.stream.end_reason` on its end event.
public enum StreamDropReason: String, Sendable {
    /// The consumer closed the stream (or its chunk callback failed).
    case consumerClosed = "consumer_closed"
    /// The consumer released the stream without closing it.
    case consumerReleased = "consumer_released"
    /// The runtime shut down while the stream was running.
    case runtimeShutdown = "runtime_shutdown"
}

/// The observers and the consumer of a streaming call.
public struct LLMStreamOptions: Sendable {
    /// Chunks buffered for the consumer; a push beyond it reports ``StreamPushStatus/full``.
    public var bufferCapacity: Int
    /// Sees every chunk (a copy) before the consumer; throwing fails the stream.
    public var collector: (@Sendable (JSON) throws(RelayError) -> Void)?
    /// Called exactly once when a started stream ends; its value becomes the end event's payload.
    public var finalizer: (@Sendable () throws(RelayError) -> JSON)?
    /// Callback consumer: receives each chunk; resume to take the next, resume with an error to close.
    /// Without it, the consumer pulls through ``LLMStream``.
    public var onChunk: (@Sendable (JSON, Continuation<Void>) -> Void)?
    /// Callback consumer: the stream's outcome, exactly once, after the last chunk was handed over.
    public var onEnd: (@Sendable (Result<Void, RelayError>) -> Void)?

    public init(
        bufferCapacity: Int = 1024, collector: (@Sendable (JSON) throws(RelayError) -> Void)? = nil,
        finalizer: (@Sendable () throws(RelayError) -> JSON)? = nil,
        onChunk: (@Sendable (JSON, Continuation<Void>) -> Void)? = nil,
        onEnd: (@Sendable (Result<Void, RelayError>) -> Void)? = nil
    ) {
        self.bufferCapacity = bufferCapacity
        self.collector = collector
        self.finalizer = finalizer
        self.onChunk = onChunk
        self.onEnd = onEnd
    }
}

// MARK: - Consumer side

/// One read from a pulled stream.
public enum LLMStreamRead: Sendable, Equatable {
    /// The next chunk.
    case chunk(JSON)
    /// The stream ended cleanly and every chunk was read.
    case finished
    /// The stream failed (provider, collector, guardrail, closed: `cancelled`) after the chunks read so far.
    case failed(RelayError)
    /// No chunk arrived before the timeout.
    case timedOut
}

/// The read end of a streaming LLM call.
///
/// Pull chunks with ``next(timeoutNanos:)`` or `for try await`, or get them through
/// ``LLMStreamOptions/onChunk``. ``close()`` ends the call early. A pulled stream released without
/// closing is closed on release; a callback stream is not (its consumer is the callback).
public final class LLMStream: Sendable, AsyncSequence {
    public typealias Element = JSON
    let state: StreamState

    init(_ state: StreamState) { self.state = state }

    deinit { release() }

    /// The next chunk or the outcome; waits up to `timeoutNanos` (0 polls, nil waits without limit).
    public func next(timeoutNanos: Int64? = nil) -> LLMStreamRead { state.read(timeoutNanos: timeoutNanos).0 }

    /// As ``next(timeoutNanos:)``, with the chunk's JSON bytes as its producer pushed them, when it did.
    public func _nextWithBytes(timeoutNanos: Int64?) -> (LLMStreamRead, [UInt8]?) {
        state.read(timeoutNanos: timeoutNanos)
    }

    /// Closes the stream early: cancels the producer, runs the finalizer and records a dropped end.
    /// After the stream ended it only discards unread chunks.
    public func close() { state.close(.consumerClosed) }

    /// Drops the consumer's interest: a pulled stream still running ends as `consumer_released`.
    public func release() {
        if state.options.onChunk == nil { state.close(.consumerReleased) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: LLMStream

        public mutating func next() async throws -> JSON? {
            let state = stream.state
            while true {
                switch state.read(timeoutNanos: 0).0 {
                case .chunk(let c): return c
                case .finished: return nil
                case .failed(let e): throw e
                case .timedOut:
                    await withTaskCancellationHandler {
                        await state.waitReadable()
                    } onCancel: {
                        state.close(.consumerClosed)
                    }
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}

// MARK: - Stream state

/// How a started stream ended, for its end event.
enum StreamEnd {
    case completed
    case failed(RelayError)
    case dropped(StreamDropReason)
}

/// The shared state of one streaming call: the observation pump and the consumer's bounded buffer.
///
/// An inner stream (``StreamNext/stream(_:options:)``) has only the buffer: its chunks are not observed and
/// its end records nothing, because the call's events describe what leaves the outermost layer.
///
/// Observation (collector, `llm.chunk` marks, finalizer, end event) is serialized by `pump`, a
/// recursive lock because a user callback may close the stream from inside it. The consumer side is
/// guarded by `lock`; `pump` is never taken while `lock` is held.
///
/// `@unchecked Sendable`: `pump` guards `handle`, `chunkCount`, `firstChunkAt`, `finished` and `deferred`;
/// `lock` guards `buffer`, `head`, `outcome`, `dropped`, `readers`, `asyncWaiter`, `delivering` and
/// `endDelivered` (`readable` is its condition); the rest is immutable.
final class StreamState: @unchecked Sendable {
    let rt: Runtime
    let stack: ScopeStack
    let control: CallControl
    let options: LLMStreamOptions
    let codecs: CodecContext
    let locals: [Middleware]
    /// The read end of a transforming stream intercept's inner layers (no observation, no events).
    let inner: Bool
    private let capacity: Int

    private let pump = PThreadRecursiveLock()
    private var handle: ScopeHandle?
    private var chunkCount = 0
    private var firstChunkAt: Nanoseconds?
    /// The end (or a failure before the span started) was recorded.
    private var finished = false
    /// An end asked for before the span started; recorded once it starts.
    private var deferred: StreamEnd?

    private let lock = PThreadLock()
    private let readable = PThreadCondition()
    private var buffer: [(chunk: JSON, bytes: [UInt8]?)] = []
    private var head = 0
    private var outcome: Result<Void, RelayError>?
    private var dropped: StreamDropReason?
    private var readers = 0
    private var asyncWaiter: CheckedContinuation<Void, Never>?
    private var delivering = false
    private var endDelivered = false

    init(
        _ rt: Runtime, stack: ScopeStack, control: CallControl, options: LLMStreamOptions, codecs: CodecContext,
        locals: [Middleware], inner: Bool = false
    ) {
        self.rt = rt
        self.stack = stack
        self.control = control
        self.options = options
        self.codecs = codecs
        self.locals = locals
        self.inner = inner
        capacity = max(1, options.bufferCapacity)
        // A caller cancelling the call ends the stream even if the provider never notices.
        _ = control.whenCancelled { [weak self] in
            self?.producerEnded(.failure(RelayError(.cancelled, "LLM execution cancelled")))
        }
    }

    // MARK: Producer events

    /// The span started; false when the stream was already ended and the provider must not run.
    func attach(_ h: ScopeHandle) -> Bool {
        pump.lock()
        defer { pump.unlock() }
        handle = h
        guard let d = deferred else { return !finished }
        deferred = nil
        finalize(d)
        return false
    }

    /// The call failed before its span started: the consumer gets the error, no LLM events exist.
    func failBeforeStart(_ e: RelayError) {
        settle(.failure(e))
        pump.lock()
        finished = true
        deferred = nil
        pump.unlock()
        rt.liveStreams.remove(self)
        drain()
    }

    /// One chunk from the outermost layer: collector, `llm.chunk` mark, consumer buffer.
    func push(_ chunk: JSON, bytes: [UInt8]?) -> StreamPushStatus {
        lock.lock()
        if outcome != nil {
            lock.unlock()
            return .closed
        }
        if buffer.count - head >= capacity {
            lock.unlock()
            return .full
        }
        if inner {
            buffer.append((chunk, bytes))
            let waiter = asyncWaiter
            asyncWaiter = nil
            let wake = readers > 0
            lock.unlock()
            if wake { readable.signal() }
            waiter?.resume()
            if options.onChunk != nil { drain() }
            return .accepted
        }
        lock.unlock()

        pump.lock()
        guard !finished, let h = handle else {
            pump.unlock()
            return .closed
        }
        let index = chunkCount
        chunkCount += 1
        if index == 0 { firstChunkAt = rt.clock.now() }
        if let collector = options.collector {
            do throws(RelayError) {
                try collector(chunk)
            } catch {
                pump.unlock()
                fail(error)
                return .closed
            }
            if finished {
                pump.unlock()
                return .closed
            }
        }
        if rt.wantsEvents(stack) {
            let t = rt.clock.now()
            rt.publish(
                Event(
                    kind: .mark, uuid: UUIDGenerator.next(nowNanos: t), parentUUID: h.uuid,
                    propagationRootUUID: h.propagationRootUUID, timestamp: t, name: "llm.chunk",
                    data: ChunkSummary.summarize(chunk, index: index)),
                stack: stack)
        }
        lock.lock()
        if dropped == nil { buffer.append((chunk, bytes)) }
        let waiter = asyncWaiter
        asyncWaiter = nil
        let wake = readers > 0
        lock.unlock()
        pump.unlock()
        if wake { readable.signal() }
        waiter?.resume()
        if options.onChunk != nil { drain() }
        return .accepted
    }

    /// The outermost layer ended.
    func producerEnded(_ r: Result<Void, RelayError>) {
        var r = r
        if case .failure(let e) = r, e.kind == .cancelled || control.isCancelled {
            r = .failure(RelayError(.cancelled, "LLM execution cancelled"))
        }
        if settle(r) {
            switch r {
            case .success: finalize(.completed)
            case .failure(let e): finalize(.failed(e))
            }
        }
        drain()
    }

    /// The collector failed: the consumer gets its error, the producer is cancelled.
    func fail(_ e: RelayError) {
        if settle(.failure(e)) {
            finalize(.failed(e))
            control.cancel()
        }
        drain()
    }

    /// The consumer (or the runtime) ends the stream early; after a recorded end only unread chunks go.
    func close(_ reason: StreamDropReason) {
        lock.lock()
        if dropped != nil {
            lock.unlock()
            return
        }
        dropped = reason
        let running = outcome == nil
        if running { outcome = .failure(RelayError(.cancelled, "stream closed")) }
        buffer.removeAll()
        head = 0
        let waiter = asyncWaiter
        asyncWaiter = nil
        lock.unlock()
        readable.broadcast()
        waiter?.resume()
        if running {
            finalize(.dropped(reason))
            control.cancel()
        }
        drain()
    }

    /// Sets the consumer's outcome once; returns whether this call set it.
    @discardableResult
    private func settle(_ r: Result<Void, RelayError>) -> Bool {
        lock.lock()
        if outcome != nil {
            lock.unlock()
            return false
        }
        outcome = r
        let waiter = asyncWaiter
        asyncWaiter = nil
        lock.unlock()
        readable.broadcast()
        waiter?.resume()
        return true
    }

    // MARK: End event

    /// Runs the finalizer and records the end event, exactly once per started stream.
    private func finalize(_ end: StreamEnd) {
        // An inner stream records nothing; its inner layers need no cancellation notice any more.
        if inner { return control.detach() }
        pump.lock()
        defer { pump.unlock() }
        if finished { return }
        guard let h = handle else {
            deferred = end
            return
        }
        finished = true
        rt.liveStreams.remove(self)
        var value = JSON.null
        var finalizerFailed = false
        if let f = options.finalizer {
            do throws(RelayError) {
                value = try f()
            } catch {
                rt.log(.warn, "LLM stream finalizer failed: \(error.displayText)")
                finalizerFailed = true
            }
        }
        guard rt.wantsEvents(stack) else { return }
        var profile = JSONObject()
        if let t = firstChunkAt { profile["time_to_first_chunk"] = .double(Double(t &- h.startTime) / 1e9) }
        let response: JSON
        let fallback: JSON
        let metadata: JSON
        var context = codecs
        switch end {
        case .completed:
            // A failed finalizer leaves nothing to record (docs/pipeline.md, "Stream outcome table").
            response = finalizerFailed ? .null : value
            fallback = finalizerFailed ? .null : h.data
            metadata = .withStatus(h.metadata, ok: true)
        case .failed(let e):
            response = finalizerFailed ? .null : value
            fallback = h.data
            metadata = .withStatus(h.metadata, ok: false, error: e)
            context.responseCodec = nil
        case .dropped(let reason):
            response = finalizerFailed ? .null : value
            fallback = h.data
            var md = JSON.withStatus(
                h.metadata, ok: false, error: RelayError(.cancelled, "stream dropped before clean completion"))
            if case .object(var o) = md {
                o["nemo_relay.stream.end_reason"] = .string(reason.rawValue)
                md = .object(o)
            }
            metadata = md
            context.responseCodec = nil
        }
        rt.buildLLMEnd(
            h, response: response, fallback: fallback, annotated: nil, context: context, metadata: metadata,
            timestamp: nil, extraProfile: profile, locals: locals
        ) { [rt, stack] ev in rt.publish(ev, stack: stack) }
    }

    // MARK: Consumer

    /// Pull mode: the next chunk or the outcome, waiting up to the timeout.
    func read(timeoutNanos: Int64?) -> (LLMStreamRead, [UInt8]?) {
        if options.onChunk != nil {
            return (.failed(RelayError(.misuse, "this stream delivers chunks to its callback")), nil)
        }
        let deadline = monotonicDeadline(after: timeoutNanos)
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let c = popFirst() { return (.chunk(c.chunk), c.bytes) }
            if let outcome {
                switch outcome {
                case .success: return (.finished, nil)
                case .failure(let e): return (.failed(e), nil)
                }
            }
            readers += 1
            defer { readers -= 1 }
            if !readable.wait(lock, deadline: deadline) { return (.timedOut, nil) }
        }
    }

    /// Suspends until a chunk or the outcome is available.
    func waitReadable() async {
        await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in
            lock.lock()
            if head < buffer.count || outcome != nil {
                lock.unlock()
                k.resume()
                return
            }
            let previous = asyncWaiter
            asyncWaiter = k
            lock.unlock()
            previous?.resume()
        }
    }

    /// Call with `lock` held.
    private func popFirst() -> (chunk: JSON, bytes: [UInt8]?)? {
        guard head < buffer.count else { return nil }
        let c = buffer[head]
        buffer[head] = (.null, nil)
        head += 1
        if head == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
        return c
    }

    /// Callback mode: hands buffered chunks to `onChunk` one at a time, then the outcome to `onEnd`.
    ///
    /// Runs on whichever thread pushed or completed the previous chunk's continuation; a pending
    /// continuation pauses delivery (the buffer fills and pushes report `full`).
    func drain() {
        guard let onChunk = options.onChunk else { return }
        lock.lock()
        if delivering {
            lock.unlock()
            return
        }
        delivering = true
        while true {
            if let c = popFirst() {
                lock.unlock()
                let turn = DeliveryTurn()
                onChunk(
                    c.chunk,
                    Continuation { [self] r in
                        if case .failure = r { close(.consumerClosed) }
                        if turn.completed() {
                            lock.withLock { delivering = false }
                            drain()
                        }
                    })
                if turn.parked() { return }
                lock.lock()
                continue
            }
            if let outcome, !endDelivered {
                endDelivered = true
                lock.unlock()
                options.onEnd?(outcome)
                lock.lock()
                continue
            }
            delivering = false
            lock.unlock()
            return
        }
    }
}

/// Who resumes delivery after one chunk callback: the caller when it answered at once, else its continuation.
private final class DeliveryTurn: Sendable {
    private let state = Mutex(0)  // 0: in the call, 1: answered, 2: parked

    /// The continuation ran; true when the caller had already parked, so the continuation resumes delivery.
    func completed() -> Bool {
        state.withLock { state in
            let was = state
            state = 1
            return was == 2
        }
    }

    /// The callback returned; true when it has not answered yet (delivery parks).
    func parked() -> Bool {
        state.withLock { state in
            if state == 1 { return false }
            state = 2
            return true
        }
    }
}

/// The streams of a runtime whose end is not recorded yet.
/// Streams whose end event is not recorded yet.
typealias LiveStreams = LiveSet<StreamState>

/// Objects of work still in flight (streams, managed calls), so a runtime shutting down can end them.
final class LiveSet<Item: AnyObject & Sendable>: Sendable {
    private let items = Mutex<[ObjectIdentifier: Item]>([:])

    func insert(_ s: Item) { items.withLock { $0[ObjectIdentifier(s)] = s } }
    func remove(_ s: Item) { items.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(s)) } }
    var count: Int { items.withLock { $0.count } }

    func takeAll() -> [Item] {
        items.withLock { items in
            let all = Array(items.values)
            items.removeAll()
            return all
        }
    }
}
