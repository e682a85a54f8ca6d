// SPDX-License-Identifier: Apache-2.0

/// Builds OpenTelemetry spans from ATOF events, one event at a time, as the reference runtime (nemo-relay
/// 0.10.4) projects them (docs/otel.md).
///
/// A scope start opens a span and its end finishes it; a mark becomes a span event on its open parent, or a
/// zero-duration `mark:<name>` span (always under ``OTelMarkProjection/tool``, or when the parent is not
/// open); metric marks are dropped. State is bounded by the open scopes plus the completed-scope contexts
/// (time-to-live and a 4096-entry cap); each span keeps at most 128 events. Work per event is proportional to
/// the event's size. Nothing here recurses over the parent chain.
public struct OTelSpanBuilder: Sendable {
    /// The most events a span keeps; later ones are counted in ``OTelSpan/droppedEventsCount``.
    public static let maxEventsPerSpan = 128

    struct ActiveSpan: Sendable {
        var span: OTelSpan
        var context: OTelSpanContext
        var startModelName: String?
        /// Start attributes that attribute mappings may still read at the end.
        var mappingInputs: [OTelAttribute]
        /// Keys the projection owns; promoted metadata never replaces them.
        var projectionKeys: Set<String>
        /// Metadata promoted at the start, appended at the end unless the end event supersedes it.
        var startPromoted: [OTelAttribute]
        var descendantErrorType: String?
        var descendantExceptionType: String?
    }

    let config: OTelProjectionConfig
    var active: [RelayUUID: ActiveSpan] = [:]
    var completed = OTelCompletedContexts()
    var recorder = OTelDiagnostics()

    /// A builder with no open spans.
    public init(config: OTelProjectionConfig) {
        self.config = config
    }

    /// Feeds one event (the ATOF event object as subscribers receive it), in emission order; returns the
    /// spans finished by it, in the order the reference exports them. `remoteParent` answers, for a
    /// parent uuid the builder does not know, whether it is an imported propagation parent.
    public mutating func consume(
        _ event: JSON, remoteParent: (String) -> OTelRemoteParent? = { _ in nil }
    ) -> [OTelSpan] {
        guard let e = OTelEvent(event) else { return [] }
        let expired = completed.expire(now: e.time, ttl: max(config.completedSpanContextTTLNanos, 0))
        if expired > 0 {
            let millis = max(config.completedSpanContextTTLNanos, 0) / 1_000_000
            recorder.record(
                code: "otel.completed_span_context_expired",
                message: "OpenTelemetry trace lineage expired \(expired) completed scope contexts after \(millis) ms",
                count: expired)
        }
        switch e.phase {
        case .start: return start(e, remoteParent)
        case .end: return end(e)
        case .mark: return mark(e, remoteParent)
        }
    }

    /// Diagnostics so far (code, message, count), e.g. otel.metadata_promotion_value_unsupported.<key>.
    public var diagnostics: [(code: String, message: String, count: Int)] { recorder.all }

    /// Records a diagnostic of the exporter around the builder (e.g. `otel.spans_dropped`) in the same bounded
    /// store, as the reference keeps one store per subscriber; returns the code's total (0 when dropped).
    @discardableResult
    public mutating func recordDiagnostic(code: String, message: String, count: Int = 1) -> Int {
        recorder.record(code: code, message: message, count: count)
    }

    /// How many scopes are open (started and not yet ended).
    public var openSpanCount: Int { active.count }

    /// How many completed scopes still hand their context to late children and marks.
    public var completedContextCount: Int { completed.count }

    // MARK: Parents

    func parentContext(_ e: OTelEvent, _ remoteParent: (String) -> OTelRemoteParent?) -> OTelSpanContext? {
        guard let parent = e.parent else { return nil }
        if let a = active[parent] { return a.context }
        if let c = completed.context(parent) { return c }
        guard let text = e.parentText, let r = remoteParent(text) else { return nil }
        return OTelSpanContext(remote: r)
    }

    /// A span for `e` under `parent` (or starting the trace `e`'s uuid names), and the context it hands down.
    func newSpan(_ e: OTelEvent, name: String, kind: OTelSpanKind, parent: OTelSpanContext?) -> (
        OTelSpan, OTelSpanContext
    ) {
        let context = OTelSpanContext(
            traceHigh: parent?.traceHigh ?? e.uuid.high, traceLow: parent?.traceLow ?? e.uuid.low, spanID: e.uuid.low,
            traceState: parent?.traceState ?? "", isRemote: false)
        let span = OTelSpan(
            traceID: context.traceBytes, spanID: context.spanBytes, parentSpanID: parent?.spanBytes ?? [],
            traceState: context.traceState, name: name, kind: kind, startTimeUnixNano: e.unixNanos,
            endTimeUnixNano: e.unixNanos, flags: parent?.isRemote == true ? 0x301 : 0x101)
        return (span, context)
    }

    static func addEvent(_ span: inout OTelSpan, _ event: OTelSpanEvent) {
        if span.events.count < maxEventsPerSpan {
            span.events.append(event)
        } else {
            span.droppedEventsCount &+= 1
        }
    }

    // MARK: Promotion

    /// Promotes `e`'s metadata into `target`, records refusals, and removes what was promoted from the
    /// metadata families of `strip` (which may be `target`).
    mutating func promote(
        _ e: OTelEvent, into target: inout [OTelAttribute], protected: Set<String>
    ) -> Set<String> {
        let (promoted, issues) = OTelAttr.promote(
            into: &target, metadata: e.metadata, prefixes: config.promoteMetadataPrefixes, protected: protected)
        for issue in issues.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            recorder.record(
                code: "otel.metadata_promotion_value_unsupported.\(issue.key)",
                message:
                    "OpenTelemetry metadata attribute \(rustDebugQuoted(issue.key)) was not promoted: \(issue.reason)")
        }
        return promoted
    }

    var mappingAliasKeys: Set<String> { Set(config.attributeMappings.map(\.alias)) }

    // MARK: Scope start

    mutating func start(_ e: OTelEvent, _ remoteParent: (String) -> OTelRemoteParent?) -> [OTelSpan] {
        var finished: [OTelSpan] = []
        if var replaced = active.removeValue(forKey: e.uuid) {
            // A second start for an open uuid: the reference drops the first span, which ends it unfinished.
            replaced.span.endTimeUnixNano = e.unixNanos
            finished.append(replaced.span)
        }
        completed.remove(e.uuid)
        let parent = parentContext(e, remoteParent)
        let request = e.isLLM ? e.normalizedRequest() : e.annotatedRequest
        let startModel = e.llmModelName(request: request, response: e.annotatedResponse)
        let name: String
        let kind: OTelSpanKind
        var attrs: [OTelAttribute]
        switch config.type {
        case .full:
            (name, kind) = (e.name, OTelFull.spanKind(e))
            attrs = OTelFull.startAttributes(e)
        case .openInference:
            (name, kind) = (e.name, OTelFull.spanKind(e))
            attrs = OTelOpenInference.startAttributes(e, request: request)
        case .genAI:
            (name, kind) = (OTelGenAI.spanName(e, request: request), OTelGenAI.spanKind(e))
            attrs = OTelGenAI.startAttributes(e, request: request)
        }
        if config.type != .genAI && parent == nil { OTelAttr.pushSessionIdentity(&attrs, e) }
        var keys = Set<String>(minimumCapacity: attrs.count)
        for a in attrs { keys.insert(a.key) }
        var inputs: [OTelAttribute] = []
        if config.type != .genAI {
            keys.formUnion(mappingAliasKeys)
            inputs = OTelAttr.mappingInputs(attrs, config.attributeMappings)
        }
        var startPromoted: [OTelAttribute] = []
        let promoted = promote(e, into: &startPromoted, protected: keys)
        OTelAttr.stripPromoted(&attrs, promoted: promoted, metadata: e.metadata)
        var (span, context) = newSpan(e, name: name, kind: kind, parent: parent)
        span.attributes = attrs
        active[e.uuid] = ActiveSpan(
            span: span, context: context, startModelName: startModel, mappingInputs: inputs, projectionKeys: keys,
            startPromoted: startPromoted)
        return finished
    }

    // MARK: Scope end

    mutating func end(_ e: OTelEvent) -> [OTelSpan] {
        guard var a = active.removeValue(forKey: e.uuid) else { return [] }
        completed.record(e.uuid, closedAt: e.time, context: a.context)
        switch e.metadataString("otel.status_code") {
        case "OK"?:
            a.span.statusCode = .ok
        case "ERROR"?:
            a.span.statusCode = .error
            a.span.statusMessage = e.metadataString("otel.status_description") ?? ""
        default:
            break
        }
        let response = e.isLLM ? e.normalizedResponse() : e.annotatedResponse
        var attrs: [OTelAttribute]
        switch config.type {
        case .full: attrs = OTelFull.endAttributes(e, response: response)
        case .openInference: attrs = OTelOpenInference.endAttributes(e, response: response)
        case .genAI: attrs = OTelGenAI.endAttributes(e, response: response)
        }
        let isError = e.metadataString("otel.status_code") == "ERROR"
        var errorType: String?
        var exceptionType: String?
        if isError {
            errorType = e.metadataString("error.type") ?? a.descendantErrorType ?? "_OTHER"
            exceptionType = e.metadataString("exception.type") ?? a.descendantExceptionType
        }
        if config.type != .openInference, let errorType {
            attrs.removeAll { $0.key == "error.type" }
            attrs.append(OTelAttribute("error.type", .string(errorType)))
        }
        if let exceptionType {
            Self.addEvent(
                &a.span,
                OTelSpanEvent(
                    name: "exception", timeUnixNano: e.unixNanos,
                    attributes: [OTelAttribute("exception.type", .string(exceptionType))]))
        }
        let request = e.annotatedRequest
        if let model = e.llmModelName(request: request, response: response) ?? a.startModelName {
            switch config.type {
            case .full: attrs.append(OTelAttribute("nemo_relay.model_name", .string(model)))
            case .openInference: attrs.append(OTelAttribute("llm.model_name", .string(model)))
            case .genAI: break
            }
        }
        if config.type != .genAI && !config.attributeMappings.isEmpty {
            attrs.append(contentsOf: OTelAttr.mappingAliases(a.mappingInputs + attrs, config.attributeMappings))
        }
        for attr in attrs { a.projectionKeys.insert(attr.key) }
        let endKeys = Set(e.metadata?.objectValue?.keys ?? [])
        a.startPromoted.removeAll { a.projectionKeys.contains($0.key) || endKeys.contains($0.key) }
        attrs.append(contentsOf: a.startPromoted)
        let promoted = promote(e, into: &attrs, protected: a.projectionKeys)
        OTelAttr.stripPromoted(&attrs, promoted: promoted, metadata: e.metadata)
        if isError, let parent = e.parent, active[parent] != nil {
            if active[parent]!.descendantErrorType == nil { active[parent]!.descendantErrorType = errorType }
            if active[parent]!.descendantExceptionType == nil {
                active[parent]!.descendantExceptionType = exceptionType
            }
        }
        a.span.attributes.append(contentsOf: attrs)
        a.span.endTimeUnixNano = e.unixNanos
        return [a.span]
    }

    // MARK: Marks

    func isExcluded(_ e: OTelEvent) -> Bool {
        let hook = e.metadataString("hook_event_name")
        return config.markExcludeNames.contains { $0 == e.name || $0 == hook }
    }

    mutating func mark(_ e: OTelEvent, _ remoteParent: (String) -> OTelRemoteParent?) -> [OTelSpan] {
        switch OTelMetricMark.classify(e) {
        case .notMetric:
            break
        case .valid:
            return []
        case .invalid(let reason):
            recorder.record(
                code: "otel.metric_mark_invalid",
                message: "OpenTelemetry metric mark \(rustDebugQuoted(e.name)) was dropped atomically: \(reason)")
            return []
        }
        if config.type == .genAI { return [] }
        let openParent = e.parent.flatMap { active[$0] != nil ? $0 : nil }
        var attrs = OTelFull.markAttributes(e)
        if e.name == "session.start" { OTelAttr.pushSessionIdentity(&attrs, e) }
        let asTool = config.markProjection == .tool && !isExcluded(e)
        if asTool {
            attrs.append(OTelAttribute("nemo_relay.mark.projection", .string("tool")))
            if config.type == .openInference {
                OTelOpenInference.pushToolMark(&attrs, e)
            } else {
                attrs.append(OTelAttribute("nemo_relay.scope_type", .string("tool")))
            }
            if openParent == nil { attrs.append(OTelAttribute("nemo_relay.mark.orphan", .bool(true))) }
        } else if let openParent {
            finishMarkAttributes(e, &attrs)
            Self.addEvent(
                &active[openParent]!.span, OTelSpanEvent(name: e.name, timeUnixNano: e.unixNanos, attributes: attrs))
            return []
        } else if config.type == .openInference {
            OTelOpenInference.pushOrphanMark(&attrs)
        } else {
            attrs.append(OTelAttribute("nemo_relay.mark.orphan", .bool(true)))
        }
        finishMarkAttributes(e, &attrs)
        var (span, _) = newSpan(e, name: "mark:" + e.name, kind: .internal, parent: parentContext(e, remoteParent))
        span.attributes = attrs
        return [span]
    }

    /// Attribute mappings, then promoted metadata.
    mutating func finishMarkAttributes(_ e: OTelEvent, _ attrs: inout [OTelAttribute]) {
        attrs.append(contentsOf: OTelAttr.mappingAliases(attrs, config.attributeMappings))
        let promoted = promote(e, into: &attrs, protected: [])
        OTelAttr.stripPromoted(&attrs, promoted: promoted, metadata: e.metadata)
    }
}
