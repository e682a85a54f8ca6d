import Synchronization

// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#endif

/// The type of a scope; it decides the event `category`.
public enum ScopeType: Int32, Sendable, CaseIterable {
    case agent = 0
    case function = 1
    case tool = 2
    case llm = 3
    case retriever = 4
    case embedder = 5
    case reranker = 6
    case guardrail = 7
    case evaluator = 8
    case custom = 9
    case unknown = 10

    /// The event category string.
    public var category: String {
        switch self {
        case .agent: return "agent"
        case .function: return "function"
        case .tool: return "tool"
        case .llm: return "llm"
        case .retriever: return "retriever"
        case .embedder: return "embedder"
        case .reranker: return "reranker"
        case .guardrail: return "guardrail"
        case .evaluator: return "evaluator"
        case .custom: return "custom"
        case .unknown: return "unknown"
        }
    }
}

/// What a handle stands for: a plain scope, an LLM call, a tool call, or a guardrail evaluation.
public enum HandleKind: Sendable {
    case scope
    case llm
    case tool
    case guardrail
}

/// Bit flags of scope, LLM and tool handles.
public enum Attributes {
    /// Scope flag: runs in parallel with siblings.
    public static let parallel: UInt32 = 1
    /// Scope flag: may move between stacks.
    public static let relocatable: UInt32 = 2
    /// Tool flag: runs remotely.
    public static let remote: UInt32 = 1
    /// LLM flag: stateful API.
    public static let stateful: UInt32 = 1
    /// LLM flag: streaming call.
    public static let streaming: UInt32 = 2

    /// Sorted lowercase names of the set bits; unknown bits are dropped.
    static func names(_ bits: UInt32, kind: HandleKind) -> [String] {
        guard bits != 0 else { return [] }
        var out: [String] = []
        switch kind {
        case .scope:
            if bits & parallel != 0 { out.append("parallel") }
            if bits & relocatable != 0 { out.append("relocatable") }
        case .tool:
            if bits & remote != 0 { out.append("remote") }
        case .llm:
            if bits & stateful != 0 { out.append("stateful") }
            if bits & streaming != 0 { out.append("streaming") }
        case .guardrail:
            break
        }
        return out
    }
}

/// A scope, LLM-call or tool-call span. Handles are values: they stay readable after their end.
///
/// `@unchecked Sendable`: `lock` guards `locals_`, `localLanes_` and `popped_` (`hasLocals` is an atomic
/// hint); every other field is immutable.
public final class ScopeHandle: @unchecked Sendable, CustomStringConvertible {
    /// The span id.
    public let uuid: RelayUUID
    /// The span name.
    public let name: String
    /// The scope type (LLM handles are `.llm`, tool handles `.tool`).
    public let scopeType: ScopeType
    /// Scope, LLM or tool handle.
    public let kind: HandleKind
    /// Attribute bits (meaning depends on `kind`).
    public let attributes: UInt32
    /// The parent span id; nil only for a stack's implicit root.
    public let parentUUID: RelayUUID?
    /// The application payload given at creation (never emitted on the start event).
    public let data: JSON
    /// The start metadata.
    public let metadata: JSON
    /// The start time.
    public let startTime: Nanoseconds
    /// The normalized model name (LLM handles).
    public let modelName: String?
    /// The provider tool-call id (tool handles).
    public let toolCallID: String?
    /// The propagation root written on this span's events; nil in a stack imported from a rootless
    /// propagation context until an Agent scope opens (the events then carry no root).
    public let propagationRootUUID: RelayUUID?

    /// The ``Runtime/serial`` of the runtime that made this handle; 0 for a stack's implicit root. Set
    /// once, before the handle is shared.
    public internal(set) var ownerRuntime: UInt64 = 0

    let lock = PThreadLock()
    /// Scope-local registrations; nil until the first one.
    var locals_: Middleware?
    /// Scope-local subscriber lanes.
    var localLanes_: [SubscriberLane] = []
    /// Set when the scope is popped; later scope-local registrations fail.
    var popped_ = false
    /// Fast check that avoids taking the lock on the hot path.
    let hasLocals = Atomic<Bool>(false)

    init(
        uuid: RelayUUID, name: String, scopeType: ScopeType, kind: HandleKind, attributes: UInt32,
        parentUUID: RelayUUID?, data: JSON, metadata: JSON, startTime: Nanoseconds,
        modelName: String? = nil, toolCallID: String? = nil, propagationRootUUID: RelayUUID?
    ) {
        self.uuid = uuid
        self.name = name
        self.scopeType = scopeType
        self.kind = kind
        self.attributes = attributes
        self.parentUUID = parentUUID
        self.data = data
        self.metadata = metadata
        self.startTime = startTime
        self.modelName = modelName
        self.toolCallID = toolCallID
        self.propagationRootUUID = propagationRootUUID
    }

    /// Sorted attribute names as written on events.
    public var attributeNames: [String] { Attributes.names(attributes, kind: kind) }

    /// The event category.
    public var category: String {
        switch kind {
        case .scope: return scopeType.category
        case .llm: return "llm"
        case .tool: return "tool"
        case .guardrail: return "guardrail"
        }
    }

    /// True after the scope was popped.
    public var isPopped: Bool { lock.withLock { popped_ } }

    public var description: String { "ScopeHandle(name='\(name)', uuid='\(uuid)')" }

    /// An agent's session id: the first string among well-known metadata keys, else its name.
    var sessionID: String {
        if case .object(let m) = metadata {
            for key in ["codex_subagent_session_id", "subagent_session_id", "subagent_id", "session_id"] {
                if case .string(let s)? = m[key] { return s }
            }
        }
        return name
    }
}

/// A stack of open scopes with an implicit root; Python contexts and Node async contexts each own one.
///
/// A stack is meant for one thread at a time, but it is internally locked so sharing it with a
/// worker thread (`propagate_scope_to_thread`) is safe.
///
/// `@unchecked Sendable`: `lock` guards `entries` and `consumedAgents`; the rest is immutable.
public final class ScopeStack: @unchecked Sendable {
    let lock = PThreadLock()
    var entries: [ScopeHandle]
    /// Entries below this index were inherited from a parent stack: they cannot be popped
    /// and their scope-local registrations do not apply here.
    let inheritedCount: Int
    /// True for stacks forked from another stack.
    let forked: Bool
    /// Agent spans whose freshness an LLM start already consumed on this stack (docs/scopes.md, "Agent freshness").
    var consumedAgents: Set<RelayUUID> = []
    /// The propagation context this stack (or the stack it was forked from) was created from.
    let imported: PropagationImport?
    /// For a forked stack: the parent's propagation root at the fork, which stays the root of every
    /// span of this stack, its own Agent scopes included (docs/scopes.md, "Threads and async contexts").
    let forkedRoot: RelayUUID?
    /// Keeps this stack's events in emission order while an injector or sanitizer answers later.
    let publicationOrder = PublicationOrder()

    /// A new stack with a fresh implicit root.
    public init(clock: RelayClock = SystemClock()) {
        let now = clock.now()
        let uuid = UUIDGenerator.next(nowNanos: now)
        let root = ScopeHandle(
            uuid: uuid, name: "root", scopeType: .agent, kind: .scope, attributes: 0, parentUUID: nil, data: .null,
            metadata: .null, startTime: now, propagationRootUUID: uuid)
        entries = [root]
        inheritedCount = 1
        forked = false
        imported = nil
        forkedRoot = nil
    }

    /// An isolated child stack seeded from `parent`'s current scopes (parentage and propagation root
    /// preserved, scope-local registrations not inherited, agents fresh again).
    public init(forkingFrom parent: ScopeStack) {
        entries = parent.snapshot()
        inheritedCount = entries.count
        forked = true
        imported = parent.imported
        forkedRoot = parent.propagationRoot(newAgent: nil)
    }

    /// A stack whose first entries stand for the imported context (see `init(propagation:)`).
    init(importing: PropagationImport, entries: [ScopeHandle]) {
        self.entries = entries
        inheritedCount = entries.count
        forked = false
        imported = importing
        forkedRoot = nil
    }

    /// The implicit root.
    public var root: ScopeHandle { lock.withLock { entries[0] } }

    /// The scope on top (the root when nothing is pushed); the current scope of everything emitted on
    /// this stack. Inside the metadata injectors and sanitizers of a scope's end event (and wherever a
    /// binding entered one of their tokens), that scope is still the top, though it was popped.
    public var top: ScopeHandle {
        if let ending = EmissionContext.endingScope(of: publicationOrder) { return ending }
        return lock.withLock { entries[entries.count - 1] }
    }

    /// The open scopes, root first.
    public func snapshot() -> [ScopeHandle] { lock.withLock { entries } }

    /// The number of open scopes, root included.
    public var depth: Int { lock.withLock { entries.count } }

    func push(_ h: ScopeHandle) {
        lock.withLock {
            entries.append(h)
            if h.scopeType == .agent { consumedAgents.remove(h.uuid) }
        }
    }

    /// Pops `h`, which must be on top; the errors are those of docs/scopes.md, "Pop errors".
    func pop(_ h: ScopeHandle) throws(RelayError) {
        lock.lock()
        defer { lock.unlock() }
        guard let i = entries.lastIndex(where: { $0 === h }) else {
            throw .notFound("scope handle not found")
        }
        if i == 0 && entries.count == 1 { throw .invalidArgument("root scope cannot be removed") }
        if i != entries.count - 1 { throw .invalidArgument("scope handle is not at the top of the stack") }
        if i < inheritedCount { throw .notFound("scope handle not found") }
        entries.removeLast()
    }

    /// The propagation root for a new span: the imported root, else the root a forked stack inherited,
    /// else the outermost explicit Agent (the span itself if it is the first Agent), else the stack
    /// root; none in a stack imported from a rootless context that has no Agent open.
    func propagationRoot(newAgent: RelayUUID?) -> RelayUUID? {
        if let imported { if let r = imported.context.rootUUID { return r } }
        if let forkedRoot { return forkedRoot }
        return lock.withLock {
            var i = 1
            while i < entries.count {
                if entries[i].scopeType == .agent && entries[i].kind == .scope { return entries[i].uuid }
                i += 1
            }
            if let newAgent { return newAgent }
            return imported == nil ? entries[0].uuid : nil
        }
    }

    /// Consumes the freshness of the agent owning a span whose parent is `parent` (docs/scopes.md, "Agent freshness").
    /// Returns true when the agent was fresh.
    func consumeFreshness(parent: RelayUUID) -> Bool {
        lock.withLock {
            var start = entries.count - 1
            if let i = entries.lastIndex(where: { $0.uuid == parent }) { start = i }
            var i = start
            while i > 0 {
                if entries[i].scopeType == .agent && entries[i].kind == .scope { break }
                i -= 1
            }
            let agent = entries[i].uuid
            return consumedAgents.insert(agent).inserted
        }
    }

    /// `(session id, parent session id)` from the two nearest explicit Agent scopes (docs/scopes.md, "Session ids").
    func sessionIDs() -> (String?, String?) {
        lock.withLock {
            var found: [String] = []
            var i = entries.count - 1
            while i > 0 && found.count < 2 {
                let e = entries[i]
                if e.scopeType == .agent && e.kind == .scope { found.append(e.sessionID) }
                i -= 1
            }
            return (found.first, found.count > 1 ? found[1] : nil)
        }
    }

    /// The outermost non-root entry, or nil when only the root is open.
    func outermostScope() -> RelayUUID? {
        lock.withLock { entries.count > 1 ? entries[1].uuid : nil }
    }

    /// The first entry whose scope-local registrations apply on this stack.
    private var firstLocalIndex: Int { forked ? inheritedCount : 0 }

    /// Scope-local middleware sets that apply to work started now, outermost first.
    func localMiddleware() -> [Middleware] {
        lock.lock()
        defer { lock.unlock() }
        var out: [Middleware] = []
        var i = firstLocalIndex
        while i < entries.count {
            let e = entries[i]
            if e.hasLocals.load(ordering: .relaxed) {
                e.lock.withLock {
                    if let m = e.locals_ { out.append(m) }
                }
            }
            i += 1
        }
        return out
    }

    /// Scope-local subscriber lanes that receive events queued now.
    func localLanes(into out: inout [SubscriberLane]) {
        lock.lock()
        defer { lock.unlock() }
        var i = firstLocalIndex
        while i < entries.count {
            let e = entries[i]
            if e.hasLocals.load(ordering: .relaxed) {
                e.lock.withLock { out.append(contentsOf: e.localLanes_) }
            }
            i += 1
        }
    }

    /// True when some open scope owns registrations (lock-free hint for the hot path).
    var mayHaveLocals: Bool {
        lock.withLock {
            var i = firstLocalIndex
            while i < entries.count {
                if entries[i].hasLocals.load(ordering: .relaxed) { return true }
                i += 1
            }
            return false
        }
    }
}

// MARK: - The calling thread's default stack

extension ScopeStack {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            guard let p else { return }
            Unmanaged<ScopeStack>.fromOpaque(p).release()
        }
        return k
    }()

    /// The calling thread's default stack, created on first use with its own root.
    public static var current: ScopeStack {
        if let p = pthread_getspecific(key) {
            return Unmanaged<ScopeStack>.fromOpaque(p).takeUnretainedValue()
        }
        let s = ScopeStack()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }

    /// Installs `stack` as the calling thread's default (shared, not copied); nil resets it.
    public static func setCurrent(_ stack: ScopeStack?) {
        let old = pthread_getspecific(key)
        if let stack {
            pthread_setspecific(key, Unmanaged.passRetained(stack).toOpaque())
        } else {
            pthread_setspecific(key, nil)
        }
        if let old { Unmanaged<ScopeStack>.fromOpaque(old).release() }
    }

    /// True when the calling thread already has a default stack.
    public static var hasCurrent: Bool { pthread_getspecific(key) != nil }
}
