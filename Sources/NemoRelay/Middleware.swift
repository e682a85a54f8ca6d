// SPDX-License-Identifier: Apache-2.0
import Synchronization

// MARK: - Callback shapes

/// A mark an intercept asks the runtime to emit one microsecond after the LLM start, under the LLM span.
public struct PendingMark: Sendable, Equatable {
    public var name: String
    public var category: String?
    public var categoryProfile: JSON?
    public var data: JSON
    public var metadata: JSON
    public var dataSchema: JSON?
    public var severity: String?

    public init(
        name: String, category: String? = nil, categoryProfile: JSON? = nil, data: JSON = .null,
        metadata: JSON = .null, dataSchema: JSON? = nil, severity: String? = nil
    ) {
        self.name = name
        self.category = category
        self.categoryProfile = categoryProfile
        self.data = data
        self.metadata = metadata
        self.dataSchema = dataSchema
        self.severity = severity
    }
}

/// What an LLM request intercept returns.
public struct RequestInterceptOutcome: Sendable {
    public var request: LLMRequest
    public var annotatedRequest: JSON?
    public var pendingMarks: [PendingMark]

    public init(request: LLMRequest, annotatedRequest: JSON? = nil, pendingMarks: [PendingMark] = []) {
        self.request = request
        self.annotatedRequest = annotatedRequest
        self.pendingMarks = pendingMarks
    }
}

/// A tool result: the payload plus an optional opaque annotation.
public struct ToolResult: Sendable, Equatable {
    public var result: JSON
    public var annotation: JSON?
    public var pendingMarks: [PendingMark]

    public init(result: JSON, annotation: JSON? = nil, pendingMarks: [PendingMark] = []) {
        self.result = result
        self.annotation = annotation
        self.pendingMarks = pendingMarks
    }
}

/// Which codecs a call uses, as seen by execution intercepts and sanitizers.
public struct CodecContext: Sendable {
    /// The request codec, if any.
    public var requestCodec: (any LLMCodec)?
    /// The response codec, if any.
    public var responseCodec: (any LLMCodec)?

    public init(requestCodec: (any LLMCodec)? = nil, responseCodec: (any LLMCodec)? = nil) {
        self.requestCodec = requestCodec
        self.responseCodec = responseCodec
    }

    /// `{"request_codec": {...}, "response_codec": {...}}` with `kind` and `id` of each.
    public var json: JSON {
        func identity(_ c: (any LLMCodec)?) -> JSON {
            guard let c else { return ["kind": "none", "id": nil] }
            let builtin = BuiltinCodecs.ids.contains(c.id)
            return ["kind": .string(builtin ? "builtin" : "opaque"), "id": builtin ? .string(c.id) : .null]
        }
        return ["request_codec": identity(requestCodec), "response_codec": identity(responseCodec)]
    }
}

/// The tool call seen by tool execution intercepts.
public struct ToolExecutionContext: Sendable {
    public var toolName: String
    public var args: JSON
    public var toolCallID: String?
}

/// The three fields an event sanitizer may replace.
public struct EventFields: Sendable, Equatable {
    public var data: JSON
    public var categoryProfile: JSON?
    public var metadata: JSON

    public init(data: JSON, categoryProfile: JSON?, metadata: JSON) {
        self.data = data
        self.categoryProfile = categoryProfile
        self.metadata = metadata
    }
}

/// A continuation-passing function: the inner layers of an execution onion, or a provider.
public typealias LLMProvider = @Sendable (LLMRequest, Continuation<JSON>) -> Void
/// The inner layers of a tool execution onion, or the tool itself.
public typealias ToolFunction = @Sendable (JSON, Continuation<ToolResult>) -> Void

/// `guardrail(request)`: resume with nil to allow or a reason to reject.
public typealias LLMConditionalGuardrail = @Sendable (LLMRequest, Continuation<String?>) -> Void
/// `intercept(name, request, annotated)`.
public typealias LLMRequestIntercept =
    @Sendable (String, LLMRequest, JSON?, Continuation<RequestInterceptOutcome>) -> Void
/// `intercept(name, request, context, next)`; `next` may be called zero or more times.
public typealias LLMExecutionIntercept =
    @Sendable (String, LLMRequest, CodecContext, ExecutionNext, Continuation<JSON>) -> Void
/// `intercept(name, request, context, next, sink)`: write chunks to `sink` (often by passing it to `next`), then end it.
public typealias LLMStreamExecutionIntercept =
    @Sendable (String, LLMRequest, CodecContext, StreamNext, LLMStreamSink) -> Void
/// `sanitizer(request, context)`: resume with the request to record, or nil to drop it.
public typealias LLMSanitizeRequest = @Sendable (LLMRequest, CodecContext, Continuation<LLMRequest?>) -> Void
/// `sanitizer(response, context)`: resume with the payload to record, or nil to drop it.
public typealias LLMSanitizeResponse = @Sendable (JSON, CodecContext, Continuation<JSON?>) -> Void
/// `guardrail(tool_name, args)`: nil allows, a string rejects.
public typealias ToolConditionalGuardrail = @Sendable (String, JSON, Continuation<String?>) -> Void
/// `intercept(tool_name, args)` returning new args.
public typealias ToolRequestIntercept = @Sendable (String, JSON, Continuation<JSON>) -> Void
/// `intercept(context, next)` returning the outcome.
public typealias ToolExecutionIntercept = @Sendable (ToolExecutionContext, ToolNext, Continuation<ToolResult>) -> Void
/// `sanitizer(tool_name, payload)`: resume with the payload to record (nil or null drops it).
public typealias ToolSanitize = @Sendable (String, JSON, Continuation<JSON?>) -> Void
/// `sanitizer(event, fields)` returning replacement fields.
public typealias EventSanitize = @Sendable (Event, EventFields, Continuation<EventFields>) -> Void
/// `injector(event)` returning a flat object of primitives merged into the metadata.
public typealias MetadataInjector = @Sendable (Event, Continuation<JSON>) -> Void

/// The continuation an execution intercept calls to run the inner layers of its onion.
///
/// It stays callable only while the intercept that received it is running; later calls fail with
/// `invalid argument: execution continuation is no longer active`.
public final class InnerLayers<Input, Output>: Sendable {
    let body: @Sendable (Input, Continuation<Output>) -> Void
    let active = Atomic<Bool>(true)

    init(_ body: @escaping @Sendable (Input, Continuation<Output>) -> Void) { self.body = body }

    /// Runs the inner layers with `input`.
    public func callAsFunction(_ input: Input, _ done: Continuation<Output>) {
        guard active.load(ordering: .acquiring) else {
            done.resume(throwing: .invalidArgument("execution continuation is no longer active"))
            return
        }
        // Layers nest the callers' frames: deep onions continue lower on the stack (see StackTrampoline).
        StackTrampoline.run({ [body] in body($0, done) }, input)
    }
}

/// The inner layers of an LLM execution onion, or the provider.
public typealias ExecutionNext = InnerLayers<LLMRequest, JSON>
/// The inner layers of a tool execution onion, or the tool.
public typealias ToolNext = InnerLayers<JSON, ToolResult>

// MARK: - Registries

/// One registered callback with its ordering keys.
public struct Registration<F: Sendable>: Sendable {
    public let name: String
    public let priority: Int32
    public let breakChain: Bool
    public let fn: F
    /// 0 for global entries, 1 + scope depth for scope-local ones (ties: global first, outer first).
    let depth: Int

    static func ordered(_ a: Registration<F>, _ b: Registration<F>) -> Bool {
        if a.priority != b.priority { return a.priority < b.priority }
        if a.name != b.name { return a.name.utf8.lexicographicallyPrecedes(b.name.utf8) }
        return a.depth < b.depth
    }
}

/// A registry of one middleware kind: unique names, kept sorted, snapshotted by calls.
///
/// Adding and removing cost O(log n) lookups, so long chains (tens of thousands of entries) register in
/// linear time overall.
public final class Registry<F: Sendable>: Sendable {
    /// The entries in run order, and their names.
    private let state = Mutex<(items: [Registration<F>], names: Set<String>)>(([], []))
    /// `state.items.count`, read without the lock so an empty registry costs no lock on the hot path.
    private let countHint = Atomic<Int>(0)
    let depth: Int
    let what: String

    init(depth: Int, what: String = "") {
        self.depth = depth
        self.what = what
    }

    /// Adds an entry; a duplicate name fails with `already exists: <name> already exists`.
    func add(name: String, priority: Int32, breakChain: Bool = false, _ fn: F) throws(RelayError) {
        try state.withLock { (state) throws(RelayError) in
            if state.names.contains(name) {
                throw .alreadyExists(what.isEmpty ? "\(name) already exists" : "\(name) \(what) already exists")
            }
            let r = Registration(name: name, priority: priority, breakChain: breakChain, fn: fn, depth: depth)
            // The first entry ordered after `r` (binary search: `items` is sorted).
            var lo = 0
            var hi = state.items.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Registration.ordered(r, state.items[mid]) { hi = mid } else { lo = mid + 1 }
            }
            state.items.insert(r, at: lo)
            state.names.insert(name)
            countHint.store(state.items.count, ordering: .relaxed)
        }
    }

    /// Removes the entry called `name`; returns whether one was removed.
    func remove(name: String) -> Bool {
        state.withLock { state in
            guard state.names.remove(name) != nil, let i = state.items.firstIndex(where: { $0.name == name }) else {
                return false
            }
            state.items.remove(at: i)
            countHint.store(state.items.count, ordering: .relaxed)
            return true
        }
    }

    /// Removes every entry (the scope that owned them ended).
    func removeAll() {
        state.withLock { state in
            state.items.removeAll()
            state.names.removeAll()
            countHint.store(0, ordering: .relaxed)
        }
    }

    /// The sorted entries as of now.
    var snapshot: [Registration<F>] {
        if countHint.load(ordering: .relaxed) == 0 { return [] }
        return state.withLock { $0.items }
    }

    /// The names as of now, in run order.
    var names: [String] { snapshot.map(\.name) }
}

/// Every middleware registry, either global (owned by a runtime) or local to one scope.
public final class Middleware: Sendable {
    let llmConditional: Registry<LLMConditionalGuardrail>
    let llmRequest: Registry<LLMRequestIntercept>
    let llmExecution: Registry<LLMExecutionIntercept>
    let llmStreamExecution: Registry<LLMStreamExecutionIntercept>
    let llmSanitizeRequest: Registry<LLMSanitizeRequest>
    let llmSanitizeResponse: Registry<LLMSanitizeResponse>
    let toolConditional: Registry<ToolConditionalGuardrail>
    let toolRequest: Registry<ToolRequestIntercept>
    let toolExecution: Registry<ToolExecutionIntercept>
    let toolSanitizeRequest: Registry<ToolSanitize>
    let toolSanitizeResponse: Registry<ToolSanitize>
    let markSanitize: Registry<EventSanitize>
    let scopeStartSanitize: Registry<EventSanitize>
    let scopeEndSanitize: Registry<EventSanitize>
    let metadataInjector: Registry<MetadataInjector>

    init(depth: Int) {
        llmConditional = Registry(depth: depth)
        llmRequest = Registry(depth: depth)
        llmExecution = Registry(depth: depth)
        llmStreamExecution = Registry(depth: depth)
        llmSanitizeRequest = Registry(depth: depth)
        llmSanitizeResponse = Registry(depth: depth)
        toolConditional = Registry(depth: depth)
        toolRequest = Registry(depth: depth)
        toolExecution = Registry(depth: depth)
        toolSanitizeRequest = Registry(depth: depth)
        toolSanitizeResponse = Registry(depth: depth)
        markSanitize = Registry(depth: depth)
        scopeStartSanitize = Registry(depth: depth)
        scopeEndSanitize = Registry(depth: depth)
        metadataInjector = Registry(depth: depth)
    }

    func removeAll() {
        llmConditional.removeAll()
        llmRequest.removeAll()
        llmExecution.removeAll()
        llmStreamExecution.removeAll()
        llmSanitizeRequest.removeAll()
        llmSanitizeResponse.removeAll()
        toolConditional.removeAll()
        toolRequest.removeAll()
        toolExecution.removeAll()
        toolSanitizeRequest.removeAll()
        toolSanitizeResponse.removeAll()
        markSanitize.removeAll()
        scopeStartSanitize.removeAll()
        scopeEndSanitize.removeAll()
        metadataInjector.removeAll()
    }
}

/// Merges the global list with scope-local lists into run order (docs/middleware.md, "Ordering").
func merged<F>(_ global: Registry<F>, _ locals: [Middleware], _ path: KeyPath<Middleware, Registry<F>>)
    -> [Registration<F>]
{
    let g = global.snapshot
    if locals.isEmpty { return g }
    var all = g
    for m in locals { all.append(contentsOf: m[keyPath: path].snapshot) }
    if all.count == g.count { return g }
    // Stable sort: equal keys keep global-then-outer-to-inner order.
    return all.enumerated().sorted { x, y in
        if Registration.ordered(x.element, y.element) { return true }
        if Registration.ordered(y.element, x.element) { return false }
        return x.offset < y.offset
    }.map(\.element)
}
