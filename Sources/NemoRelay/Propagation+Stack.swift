// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// What a stack imported: the context and its parsed W3C parent.
struct PropagationImport: Sendable {
    let context: PropagationContext
    let w3c: W3CTraceContext?

    init(_ context: PropagationContext) {
        self.context = context
        w3c = context.w3cParent
    }
}

/// The managed LLM or tool call whose provider, tool function or execution intercepts run now.
///
/// Set by the runtime around the synchronous part of those callbacks (and inherited by tasks they
/// start), so a capture made there takes the call's span as its parent, as the reference does.
public struct ActiveCall: Sendable {
    /// The LLM or tool handle.
    public let handle: ScopeHandle
    /// The stack the call runs on; captures on other stacks ignore the call.
    let stack: ObjectIdentifier

    /// The call running now, if any.
    @TaskLocal public static var current: ActiveCall?

    init(_ handle: ScopeHandle, stack: ScopeStack) {
        self.handle = handle
        self.stack = ObjectIdentifier(stack)
    }

    /// Runs `body` with no active call (the code after a call ends is not inside it).
    static func outside(_ body: () -> Void) {
        if current == nil { return body() }
        $current.withValue(nil, operation: body)
    }
}

// MARK: - Import and capture

extension ScopeStack {
    /// A stack that continues the sender's context: its first scope's parent is the imported parent
    /// and its events carry the imported root as `propagation_root_uuid` (no root for a rootless
    /// context, until an Agent scope opens). Scope-local registrations never cross the boundary.
    ///
    /// The import is also recorded in ``PropagationImports`` for the OpenTelemetry exporter.
    public convenience init(propagation context: PropagationContext, clock: RelayClock = SystemClock()) {
        let now = clock.now()
        let root = context.rootUUID ?? context.parentUUID
        var entries = [
            ScopeHandle(
                uuid: root, name: "propagated-root", scopeType: .agent, kind: .scope, attributes: 0, parentUUID: nil,
                data: .null, metadata: .null, startTime: now, propagationRootUUID: context.rootUUID)
        ]
        if root != context.parentUUID {
            entries.append(
                ScopeHandle(
                    uuid: context.parentUUID, name: "propagated-parent", scopeType: .unknown, kind: .scope,
                    attributes: 0, parentUUID: root, data: .null, metadata: .null, startTime: now,
                    propagationRootUUID: context.rootUUID))
        }
        let imported = PropagationImport(context)
        self.init(importing: imported, entries: entries)
        PropagationImports.shared.record(imported)
    }

    /// The parent a capture names: `parent`, else the call running now on this stack, else the top.
    private func captureParent(_ parent: ScopeHandle?) -> (uuid: RelayUUID, managed: Bool) {
        if let parent { return (parent.uuid, true) }
        if let a = ActiveCall.current, a.stack == ObjectIdentifier(self) { return (a.handle.uuid, true) }
        return (top.uuid, false)
    }

    /// The W3C headers for `parent` when this stack imported a W3C parent: the imported ones for the
    /// imported parent itself, else the imported trace with `parent`'s span id.
    private func importedW3C(for parent: RelayUUID) -> (String, String?)? {
        guard let imported, let w3c = imported.w3c else { return nil }
        if parent == imported.context.parentUUID { return (w3c.header(), imported.context.tracestate) }
        return (w3c.header(span: parent.low), imported.context.tracestate)
    }

    /// The trace id source when no W3C parent was imported: the imported root, else the outermost scope.
    private var traceRoot: RelayUUID? { imported?.context.rootUUID ?? outermostScope() }

    /// The current parent and its root (`capture_propagation_context`): the root is the imported one,
    /// else the outermost Agent scope, else the stack root (none in a rootless import). The
    /// `traceparent` is the one ``captureTraceparent(parent:)`` gives, when it gives one.
    ///
    /// `parent` defaults to the managed call whose callback runs now on this stack, else the top scope.
    public func capturePropagationContext(parent: ScopeHandle? = nil) -> PropagationContext {
        let p = captureParent(parent)
        let tp = try? traceparent(for: p)
        return PropagationContext(
            checkedVersion: PropagationContext.currentVersion, parent: p.uuid,
            root: propagationRoot(newAgent: nil),
            w3c: tp.map { ($0, imported?.w3c != nil ? imported?.context.tracestate : nil) })
    }

    /// The current parent with `root` as the root (none when nil): the receiver then starts a new
    /// trace unless this stack imported a W3C parent, whose trace the context keeps carrying.
    public func capturePropagationContext(
        withRoot root: RelayUUID?, parent: ScopeHandle? = nil
    ) throws(PropagationError) -> PropagationContext {
        let p = captureParent(parent)
        try PropagationContext.validate(version: 1, parent: p.uuid, root: root)
        return PropagationContext(
            checkedVersion: PropagationContext.currentVersion, parent: p.uuid, root: root, w3c: importedW3C(for: p.uuid)
        )
    }

    /// The current parent without a root (`capture_rootless_propagation_context`).
    public func captureRootlessPropagationContext(parent: ScopeHandle? = nil) -> PropagationContext {
        let p = captureParent(parent)
        return PropagationContext(
            checkedVersion: PropagationContext.currentVersion, parent: p.uuid, root: nil, w3c: importedW3C(for: p.uuid))
    }

    /// The W3C `traceparent` of the current parent: `00-<root>-<parent tail>-01`, where the root is the
    /// imported root, else the outermost scope, else the managed call (or `parent`) itself; within an
    /// imported W3C trace, that trace with the parent's span id. Fails when only the stack root exists.
    public func captureTraceparent(parent: ScopeHandle? = nil) throws(RelayError) -> String {
        try traceparent(for: captureParent(parent))
    }

    private func traceparent(for p: (uuid: RelayUUID, managed: Bool)) throws(RelayError) -> String {
        if let (tp, _) = importedW3C(for: p.uuid) { return tp }
        guard let root = traceRoot ?? (p.managed ? p.uuid : nil) else {
            throw .invalidArgument("no emitted Relay scope is available for W3C trace context capture")
        }
        return p.uuid.traceparent(traceID: root)
    }

    /// The `traceparent` (and `tracestate`, only within an imported W3C trace) a managed LLM call sends.
    func llmTraceHeaders(_ llm: RelayUUID) -> (String, String?) {
        if let w3c = importedW3C(for: llm) { return w3c }
        return (llm.traceparent(traceID: traceRoot ?? llm), nil)
    }
}

// MARK: - Imported parents for the OpenTelemetry exporter

/// The parents stacks imported from propagation contexts, kept for the OpenTelemetry exporter.
///
/// Events carry only `parent_uuid` and `propagation_root_uuid`; the span a local root span
/// continues (trace id, remote parent span id, trace state) comes from the imported context. The
/// registry keeps the most recent imports (at most `capacity`, oldest dropped first).
public enum PropagationImports {
    /// The W3C parent of spans whose `parent_uuid` is `parentUUID`, if a stack imported it: the
    /// imported `traceparent`'s trace and parent ids, else the root uuid's bytes and bytes 8..<16 of
    /// the parent uuid. Nil when no stack imported that parent or the latest import of it was
    /// rootless without a `traceparent` (the first local span then starts a new trace).
    public static func remoteParent(_ parentUUID: String) -> (traceID: [UInt8], spanID: [UInt8], traceState: String)? {
        guard let parent = RelayUUID(parentUUID) else { return nil }
        return shared.lookup(parent, root: nil, exact: false)
    }

    /// Like ``remoteParent(_:)``, for an event whose `propagation_root_uuid` is `propagationRootUUID`:
    /// when the same parent was imported both with and without a root, the event's root tells which
    /// import it belongs to (a rooted import's events carry its root; a rootless import's carry none,
    /// or the uuid of a local Agent scope).
    public static func remoteParent(
        _ parentUUID: String, propagationRootUUID: String?
    ) -> (traceID: [UInt8], spanID: [UInt8], traceState: String)? {
        guard let parent = RelayUUID(parentUUID) else { return nil }
        return shared.lookup(parent, root: propagationRootUUID.flatMap { RelayUUID($0) }, exact: true)
    }

    /// Forgets every import (tests).
    public static func removeAll() { shared.removeAll() }

    /// The number of imports kept.
    public static var count: Int { shared.count }

    /// How many imports are kept.
    public static let capacity = 4096

    static let shared = Registry(capacity: capacity)

    /// A bounded, insertion-ordered map from (parent, root) to the import.
    final class Registry: Sendable {
        private struct Key: Hashable {
            let parent: RelayUUID
            let root: RelayUUID?
        }

        private struct State {
            var entries: [Key: (seq: UInt64, value: PropagationImport)] = [:]
            var latest: [RelayUUID: Key] = [:]
            var order: [(UInt64, Key)] = []
            var head = 0
            var seq: UInt64 = 0
        }

        private let capacity: Int
        private let state = Mutex(State())

        init(capacity: Int) { self.capacity = capacity }

        func record(_ imp: PropagationImport) {
            let key = Key(parent: imp.context.parentUUID, root: imp.context.rootUUID)
            state.withLock { s in
                s.seq += 1
                s.entries[key] = (s.seq, imp)
                s.latest[key.parent] = key
                s.order.append((s.seq, key))
                // Evict the oldest live entries beyond capacity; stale order records are skipped.
                while s.entries.count > capacity, s.head < s.order.count {
                    let (seq, old) = s.order[s.head]
                    s.head += 1
                    if s.entries[old]?.seq == seq {
                        s.entries[old] = nil
                        if s.latest[old.parent] == old { s.latest[old.parent] = nil }
                    }
                }
                if s.head > 1024 && s.head * 2 > s.order.count {
                    s.order.removeFirst(s.head)
                    s.head = 0
                }
            }
        }

        func lookup(
            _ parent: RelayUUID, root: RelayUUID?, exact: Bool
        ) -> (traceID: [UInt8], spanID: [UInt8], traceState: String)? {
            let imp: PropagationImport? = state.withLock { s in
                if exact {
                    if let root, let e = s.entries[Key(parent: parent, root: root)] { return e.value }
                    return s.entries[Key(parent: parent, root: nil)]?.value
                }
                return s.latest[parent].flatMap { s.entries[$0]?.value }
            }
            guard let imp else { return nil }
            if let w3c = imp.w3c { return (w3c.traceIDBytes, w3c.spanIDBytes, imp.context.tracestate ?? "") }
            guard let root = imp.context.rootUUID else { return nil }
            let traceID = W3CTraceContext.bytes(root.high) + W3CTraceContext.bytes(root.low)
            return (traceID, W3CTraceContext.bytes(imp.context.parentUUID.low), "")
        }

        func removeAll() { state.withLock { $0 = State() } }

        var count: Int { state.withLock { $0.entries.count } }
    }
}
