// SPDX-License-Identifier: Apache-2.0

// MARK: - Step model

/// Identifies a tool call by id, name and compact arguments text.
struct ATIFToolKey: Hashable {
    var id: String
    var name: String
    var arguments: String
}

/// One promoted tool call of an agent step (`tool_calls[]`).
struct ATIFToolCall {
    var id: String
    var name: String
    var arguments: JSON
    var extra: JSON?
}

/// A reference to an embedded sub-agent trajectory (`subagent_trajectory_ref[]`).
struct ATIFSubagentRef {
    var trajectoryID: String?
    var sessionID: String?
    var extra: JSON?
}

/// One tool result or sub-agent reference of a step's observation (`observation.results[]`).
struct ATIFObservationResult {
    var sourceCallID: String?
    var content: JSON?
    var refs: [ATIFSubagentRef]?
    var extra: JSON?

    /// True when `extra` keeps a non-text tool result or a tool result annotation.
    var hasToolResultExtra: Bool {
        guard case .object(let o)? = extra else { return false }
        return o["tool_result"] != nil || o["tool_result_annotation"] != nil
    }
}

/// Token counts and cost of one agent step (`metrics`).
struct ATIFMetrics {
    var prompt: UInt64?
    var completion: UInt64?
    var cached: UInt64?
    var cost: Double?
    var promptTokenIDs: [UInt64]?
    var completionTokenIDs: [UInt64]?
    var logprobs: [Double]?
    var extra: JSON?

    /// Fills the fields `self` lacks from `other`; extra keys are added when missing.
    mutating func fill(from other: ATIFMetrics) {
        prompt = prompt ?? other.prompt
        completion = completion ?? other.completion
        cached = cached ?? other.cached
        cost = cost ?? other.cost
        promptTokenIDs = promptTokenIDs ?? other.promptTokenIDs
        completionTokenIDs = completionTokenIDs ?? other.completionTokenIDs
        logprobs = logprobs ?? other.logprobs
        guard let supplemental = other.extra else { return }
        switch (extra, supplemental) {
        case (.none, _): extra = supplemental
        case (.object(var target)?, .object(let more)):
            more.forEach { k, v in if target[k] == nil { target[k] = v } }
            extra = .object(target)
        default: break
        }
    }
}

/// The callable lineage of a step or tool (`extra.ancestry`, `extra.tool_ancestry[]`).
struct ATIFAncestry {
    var functionID: String
    var functionName: String
    var parentID: String?
    var parentName: String?

    var json: JSON {
        var o = JSONObject(minimumCapacity: 4)
        o["function_id"] = .string(functionID)
        o["function_name"] = .string(functionName)
        if let parentID { o["parent_id"] = .string(parentID) }
        if let parentName { o["parent_name"] = .string(parentName) }
        return .object(o)
    }
}

/// Invocation timing of an LLM or tool call (`extra.invocation`, `extra.tool_invocations[]`).
struct ATIFInvocation {
    var start: Double?
    var end: Double?
    var id: String?

    /// Timing of one execution: both timestamps when the start is known, neither otherwise.
    init(start: Nanoseconds?, end: Nanoseconds, id: String?) {
        self.start = start.map(ATIFTime.epochSeconds)
        self.end = start == nil ? nil : ATIFTime.epochSeconds(end)
        self.id = id
    }

    var json: JSON {
        var o = JSONObject(minimumCapacity: 5)
        if let end { o["end_timestamp"] = .double(end) }
        o["framework"] = "nemo_relay"
        if let id { o["invocation_id"] = .string(id) }
        if let start { o["start_timestamp"] = .double(start) }
        o["status"] = "completed"
        return .object(o)
    }
}

/// One trajectory step before numbering; written by ``ATIF/stepJSON(_:id:)``.
struct ATIFStep {
    var source: String
    var message: JSON
    var timestamp: String?
    var modelName: String?
    var reasoningEffort: JSON?
    var reasoningContent: String?
    var toolCalls: [ATIFToolCall]?
    var observation: [ATIFObservationResult]?
    var metrics: ATIFMetrics?
    var llmCallCount: Int?
    var extra: JSON?

    init(source: String, message: JSON, timestamp: String?) {
        self.source = source
        self.message = message
        self.timestamp = timestamp
    }

    /// Adds a result, or merges it into the result with the same source call id.
    mutating func merge(_ result: ATIFObservationResult) {
        var results = observation ?? []
        defer { observation = results }
        guard let id = result.sourceCallID, let i = results.firstIndex(where: { $0.sourceCallID == id }) else {
            results.append(result)
            return
        }
        if results[i].content == nil { results[i].content = result.content }
        if let refs = result.refs { results[i].refs = (results[i].refs ?? []) + refs }
        guard let incoming = result.extra else { return }
        switch (results[i].extra, incoming) {
        case (.none, _): results[i].extra = incoming
        case (.object(var existing)?, .object(let more)):
            more.forEach { k, v in if existing[k] == nil { existing[k] = v } }
            results[i].extra = .object(existing)
        default: break
        }
    }
}

// MARK: - Lookups

/// Per-export tables the step conversion consults.
struct ATIFLookups {
    var names: [String: String] = [:]
    var startTimes: [String: Nanoseconds] = [:]
    var llmEndsWithPayload: Set<String> = []
    var llmStartModels: [String: String] = [:]
    var toolCallIDs: [String: String] = [:]
    var suppressed: Set<String> = []
    var supplementalMetrics: [String: ATIFMetrics] = [:]

    /// Tables over `events`; tool executions are matched to tool calls among `toolEvents` only.
    init(events: [ATIFEvent], toolEvents: [ATIFEvent]) {
        for e in events {
            if e.isStart {
                names[e.uuid] = e.name
                startTimes[e.uuid] = e.time
                if e.isLLM, let model = e.llmModelName { llmStartModels[e.uuid] = model }
            }
            if e.isLLMEnd && e.data != nil { llmEndsWithPayload.insert(e.uuid) }
        }
        toolCallIDs = Self.toolCorrelations(toolEvents)
        dedupe(events)
    }

    /// The lineage of `e`: its uuid and name, and its parent's uuid and (when it started) name.
    func ancestry(_ e: ATIFEvent) -> ATIFAncestry {
        ATIFAncestry(
            functionID: e.uuid, functionName: e.name, parentID: e.parent, parentName: e.parent.flatMap { names[$0] })
    }

    /// Tool executions matched to tool-call ids: explicit ids first, then by name and arguments when the
    /// executions and the unconsumed calls with that key are equally many.
    static func toolCorrelations(_ events: [ATIFEvent]) -> [String: String] {
        var explicit: [String: String] = [:]
        var executions: [(uuid: String, key: ATIFToolKey?)] = []
        var calls: [(id: String, key: ATIFToolKey?)] = []
        func key(_ name: String, _ arguments: JSON) -> ATIFToolKey? {
            name.isEmpty ? nil : ATIFToolKey(id: "", name: name, arguments: arguments.atifText)
        }
        for e in events {
            if e.isToolStart {
                if let id = e.toolCallID { explicit[e.uuid] = id }
                executions.append((e.uuid, e.data.flatMap { key(e.name, ATIFPayload.normalizeArguments($0)) }))
            } else if e.isToolEnd {
                if let id = e.toolCallID { explicit[e.uuid] = id }
            } else if e.isLLMEnd, let data = e.data, let found = ATIFPayload.toolCalls(data) {
                calls += found.map { ($0.id, key($0.name, $0.arguments)) }
            }
        }
        let consumed = Set(explicit.values)
        var executionGroups: [ATIFToolKey: [String]] = [:]
        var groupOrder: [ATIFToolKey] = []
        for x in executions where explicit[x.uuid] == nil {
            guard let k = x.key else { continue }
            if executionGroups[k] == nil { groupOrder.append(k) }
            executionGroups[k, default: []].append(x.uuid)
        }
        var callGroups: [ATIFToolKey: [String]] = [:]
        for c in calls where !consumed.contains(c.id) {
            guard let k = c.key else { continue }
            callGroups[k, default: []].append(c.id)
        }
        var result = explicit
        for k in groupOrder {
            guard let uuids = executionGroups[k], let ids = callGroups[k], uuids.count == ids.count else { continue }
            for (uuid, id) in zip(uuids, ids) { result[uuid] = id }
        }
        return result
    }

    // MARK: Duplicate LLM spans

    /// One LLM call with both ends, as the duplicate detection compares it.
    struct Span {
        var uuid: String
        var parent: String?
        var start: Nanoseconds
        var end: Nanoseconds
        var request: String
        var response: String
        var correlation: Set<String>
        var model: String?
        var fidelity: Int
        var metrics: ATIFMetrics?
        var hook: Bool
        var gateway: Bool
        var inexact: Bool
    }

    /// Suppresses the lower-fidelity span of every pair that reports one physical LLM request (same parent,
    /// compatible models, overlapping in time, same request and response or a hook/gateway pair); its metrics
    /// fill gaps in the kept span's.
    mutating func dedupe(_ events: [ATIFEvent]) {
        var parts: [String: (start: ATIFEvent?, end: ATIFEvent?)] = [:]
        var order: [String] = []
        for e in events where e.isLLM && e.phase != .none {
            if parts[e.uuid] == nil { order.append(e.uuid) }
            if e.phase == .start {
                parts[e.uuid, default: (nil, nil)].start = e
            } else {
                parts[e.uuid, default: (nil, nil)].end = e
            }
        }
        let spans = order.compactMap { uuid -> Span? in
            guard let pair = parts[uuid], let start = pair.start, let end = pair.end else { return nil }
            return Self.span(uuid, start, end)
        }
        guard spans.count > 1 else { return }
        // Only spans that overlap in time can be one request: sweep them in start order.
        let byStart = spans.indices.sorted {
            spans[$0].start != spans[$1].start ? spans[$0].start < spans[$1].start : $0 < $1
        }
        for (k, i) in byStart.enumerated() {
            for j in byStart[(k + 1)...] {
                guard spans[j].start <= spans[i].end else { break }
                guard Self.samePhysicalRequest(spans[i], spans[j]) else { continue }
                if spans[i].fidelity > spans[j].fidelity {
                    suppress(spans[j], keeping: spans[i])
                } else if spans[i].fidelity < spans[j].fidelity {
                    suppress(spans[i], keeping: spans[j])
                }
            }
        }
    }

    mutating func suppress(_ span: Span, keeping canonical: Span) {
        suppressed.insert(span.uuid)
        guard let metrics = span.metrics else { return }
        var entry = supplementalMetrics[canonical.uuid] ?? ATIFMetrics()
        entry.fill(from: metrics)
        supplementalMetrics[canonical.uuid] = entry
    }

    static func span(_ uuid: String, _ start: ATIFEvent, _ end: ATIFEvent) -> Span? {
        guard let input = start.data, let output = end.data else { return nil }
        let request = ATIFPayload.userMessage(ATIFPayload.unwrapRequest(input)).atifText
        var signature = JSONObject(minimumCapacity: 2)
        signature["message"] = ATIFPayload.responseMessage(output)
        signature["tool_calls"] = ATIFPayload.toolCalls(output).map { calls in .array(calls.map(\.json)) } ?? .null
        var correlation = Set<String>()
        for e in [start, end] {
            if let metadata = e.metadata { collectCorrelation(metadata, &correlation) }
            if let data = e.data {
                collectCorrelation(data, &correlation)
                collectCorrelation(ATIFPayload.unwrapRequest(data), &correlation)
            }
        }
        let model =
            end.normalizedResponse?["model"]?.stringValue ?? end.data?["model"]?.stringValue ?? start.modelName
            ?? end.modelName ?? start.llmModelName ?? end.llmModelName
        return Span(
            uuid: uuid, parent: start.parent ?? end.parent, start: start.time, end: end.time, request: request,
            response: JSON.object(signature).atifText, correlation: correlation, model: model,
            fidelity: max(fidelity(start), fidelity(end)),
            metrics: ATIFPayload.metrics(output, provider: end.name, normalized: end.normalizedResponse),
            hook: isHook(start) || isHook(end), gateway: isGateway(start) || isGateway(end),
            inexact: isInexact(start) || isInexact(end))
    }

    static let requestPaths: [[String]] = [
        ["api_call_id"], ["apiCallId"], ["request_id"], ["requestId"], ["request", "id"], ["metadata", "request_id"],
        ["metadata", "requestId"], ["extra", "api_call_id"], ["extra", "apiCallId"], ["extra", "request_id"],
        ["extra", "requestId"], ["llm_correlation_request_id"],
    ]
    static let generationPaths: [[String]] = [
        ["generation_id"], ["generationId"], ["generation", "id"], ["metadata", "generation_id"],
        ["metadata", "generationId"], ["extra", "generation_id"], ["extra", "generationId"],
        ["llm_correlation_generation_id"],
    ]

    static func collectCorrelation(_ value: JSON, _ keys: inout Set<String>) {
        for path in requestPaths {
            if let v = value.atifString(at: path), !v.isEmpty { keys.insert("request:" + v) }
        }
        for path in generationPaths {
            if let v = value.atifString(at: path), !v.isEmpty { keys.insert("generation:" + v) }
        }
    }

    static func samePhysicalRequest(_ a: Span, _ b: Span) -> Bool {
        guard a.parent != nil, a.parent == b.parent else { return false }
        if let ma = a.model, let mb = b.model, ma != mb { return false }
        guard a.start <= b.end && b.start <= a.end else { return false }
        if a.request == b.request && a.response == b.response { return true }
        let polarity = (a.inexact && a.hook && b.gateway) || (b.inexact && b.hook && a.gateway)
        return polarity && (a.request == b.request || !a.correlation.isDisjoint(with: b.correlation))
    }

    static func fidelity(_ e: ATIFEvent) -> Int {
        guard case .object(let m)? = e.metadata else { return 50 }
        if m["projection"]?.boolValue == true { return 10 }
        if isInexact(e) { return 30 }
        if m["provider_payload_exact"]?.boolValue == true { return 100 }
        if m["fidelity_source"] != nil || m["api_call_id"] != nil { return 95 }
        if m["hook_event_name"] != nil { return 90 }
        return 50
    }

    static func isHook(_ e: ATIFEvent) -> Bool { e.metadata?.objectValue?["hook_event_name"] != nil }

    static func isGateway(_ e: ATIFEvent) -> Bool {
        guard case .object(let m)? = e.metadata else { return false }
        return m["gateway_path"] != nil || m["llm_correlation_source"] != nil
    }

    static func isInexact(_ e: ATIFEvent) -> Bool {
        e.metadata?.objectValue?["provider_payload_exact"]?.boolValue == false
    }
}

extension ATIFToolCall {
    /// The serde value form (keys sorted), used in signatures.
    var json: JSON {
        var o = JSONObject(minimumCapacity: 4)
        o["arguments"] = arguments
        if let extra { o["extra"] = extra }
        o["function_name"] = .string(name)
        o["tool_call_id"] = .string(id)
        return .object(o)
    }
}

// MARK: - Step conversion

/// The agent step whose `extra` is still being assembled.
struct ATIFPendingAgent {
    var stepIndex: Int?
    var ancestry: ATIFAncestry?
    var invocation: ATIFInvocation?
    var llmRequest: JSON?
    var llmResponse: JSON?
    var toolAncestry: [ATIFAncestry] = []
    var toolInvocations: [ATIFInvocation] = []
    var toolCallOrder: [String] = []

    var isActive: Bool { stepIndex != nil }

    func knows(_ id: String) -> Bool { toolCallOrder.contains(id) }

    mutating func remember(_ id: String) {
        if !toolCallOrder.contains(id) { toolCallOrder.append(id) }
    }

    /// Writes `extra` onto the step (tool metadata in tool-call order) and forgets the step.
    mutating func finalize(into steps: inout [ATIFStep]) {
        let index = stepIndex
        let lineage = ancestry
        stepIndex = nil
        ancestry = nil
        guard let index, let lineage, steps.indices.contains(index) else { return }
        if !toolCallOrder.isEmpty && !toolAncestry.isEmpty {
            let order = toolCallOrder
            let pairs = zip(toolAncestry, toolInvocations).enumerated().sorted { a, b in
                let pa = a.element.1.id.flatMap { order.firstIndex(of: $0) } ?? Int.max
                let pb = b.element.1.id.flatMap { order.firstIndex(of: $0) } ?? Int.max
                return pa != pb ? pa < pb : a.offset < b.offset
            }
            toolAncestry = pairs.map(\.element.0)
            toolInvocations = pairs.map(\.element.1)
        }
        var extra = JSONObject(minimumCapacity: 6)
        extra["ancestry"] = lineage.json
        if let invocation { extra["invocation"] = invocation.json }
        if let llmRequest { extra["llm_request"] = llmRequest }
        if let llmResponse { extra["llm_response"] = llmResponse }
        if !toolAncestry.isEmpty { extra["tool_ancestry"] = .array(toolAncestry.map(\.json)) }
        if !toolInvocations.isEmpty { extra["tool_invocations"] = .array(toolInvocations.map(\.json)) }
        steps[index].extra = .object(extra)
        invocation = nil
        llmRequest = nil
        llmResponse = nil
        toolAncestry = []
        toolInvocations = []
    }
}

/// Turns one agent's (or the whole run's) events into ATIF steps.
struct ATIFStepConverter {
    var steps: [ATIFStep] = []
    var lastToolCalls: [String: String] = [:]
    var toolScopeCallIDs: [String: String] = [:]
    var activeToolCallID: String?
    var pending: [ATIFObservationResult] = []
    var pendingTimestamp: String?
    /// Observations whose tool call is not on the current agent step, by source call id (in first-seen order).
    var deferred: [String: [(result: ATIFObservationResult, timestamp: String?)]] = [:]
    var deferredOrder: [String] = []
    var deferredToolMetadata: [String: [(ATIFAncestry, ATIFInvocation)]] = [:]
    /// `reasoning_effort` of each LLM start, until its end takes it.
    var reasoningEfforts: [String: JSON] = [:]
    /// Requests of same-turn continuations, kept for the agent step of the same LLM call.
    var continuationRequests: [String: JSON] = [:]
    var agent = ATIFPendingAgent()
    let lookups: ATIFLookups

    init(lookups: ATIFLookups) { self.lookups = lookups }

    mutating func handle(_ e: ATIFEvent) {
        if e.isLLM && lookups.suppressed.contains(e.uuid) { return }
        switch (e.phase, e.category) {
        case (.start, "llm"?): llmStart(e)
        case (.end, "llm"?): llmEnd(e)
        case (.start, "tool"?): toolStart(e)
        case (.end, "tool"?): toolEnd(e)
        default: break
        }
    }

    // MARK: Observations

    mutating func flushObservations() {
        guard !pending.isEmpty else { return }
        let timestamp = pendingTimestamp
        pendingTimestamp = nil
        let results = pending
        pending = []
        var standalone: [ATIFObservationResult] = []
        for var result in results {
            if let id = result.sourceCallID {
                if currentStepHasToolCall(id), let index = agent.stepIndex {
                    steps[index].merge(result)
                } else {
                    if deferred[id] == nil { deferredOrder.append(id) }
                    deferred[id, default: []].append((result, timestamp))
                }
            } else {
                result.sourceCallID = nil
                standalone.append(result)
            }
        }
        guard !standalone.isEmpty else { return }
        var step = ATIFStep(source: "system", message: "", timestamp: timestamp)
        step.observation = standalone
        steps.append(step)
    }

    func currentStepHasToolCall(_ id: String) -> Bool {
        guard let index = agent.stepIndex, steps.indices.contains(index) else { return false }
        return steps[index].toolCalls?.contains { $0.id == id } ?? false
    }

    func currentStepToolCallIDs(named name: String) -> [String] {
        guard let index = agent.stepIndex, steps.indices.contains(index) else { return [] }
        return steps[index].toolCalls?.filter { $0.name == name }.map(\.id) ?? []
    }

    func uniqueCurrentStepToolCallID(named name: String) -> String? {
        let ids = currentStepToolCallIDs(named: name)
        return ids.count == 1 ? ids[0] : nil
    }

    mutating func attachDeferredToCurrentAgent() {
        guard let index = agent.stepIndex, steps.indices.contains(index) else { return }
        for id in steps[index].toolCalls?.map(\.id) ?? [] {
            if let results = deferred.removeValue(forKey: id) {
                deferredOrder.removeAll { $0 == id }
                for entry in results { steps[index].merge(entry.result) }
            }
            if let metadata = deferredToolMetadata.removeValue(forKey: id) {
                for (ancestry, invocation) in metadata {
                    agent.toolAncestry.append(ancestry)
                    agent.toolInvocations.append(invocation)
                }
            }
        }
    }

    mutating func flushDeferredAsStandalone() {
        guard !deferred.isEmpty else { return }
        var entries = deferredOrder.flatMap { deferred[$0] ?? [] }
        deferred = [:]
        deferredOrder = []
        entries = entries.enumerated().sorted { a, b in
            switch (a.element.timestamp, b.element.timestamp) {
            case (nil, nil): return a.offset < b.offset
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?):
                if x == y { return a.offset < b.offset }
                return x.utf8.lexicographicallyPrecedes(y.utf8)
            }
        }.map(\.element)
        guard !entries.isEmpty else { return }
        deferredToolMetadata = [:]
        var step = ATIFStep(source: "system", message: "", timestamp: entries.lazy.compactMap(\.timestamp).first)
        step.observation = entries.map { entry in
            var result = entry.result
            result.sourceCallID = nil
            return result
        }
        steps.append(step)
    }

    // MARK: LLM events

    mutating func llmStart(_ e: ATIFEvent) {
        flushObservations()
        agent.finalize(into: &steps)
        toolScopeCallIDs = [:]
        activeToolCallID = nil
        guard let input = e.data else { return }
        let content = ATIFPayload.unwrapRequest(input)
        reasoningEfforts[e.uuid] = ATIFPayload.reasoningEffort(content)
        let paired = lookups.llmEndsWithPayload.contains(e.uuid)
        guard let message = ATIFPayload.userStepMessage(e, content: content, hasPairedEnd: paired) else {
            continuationRequests[e.uuid] = content
            return
        }
        var step = ATIFStep(source: "user", message: message, timestamp: e.timestamp)
        var extra = JSONObject(minimumCapacity: 2)
        extra["ancestry"] = lookups.ancestry(e).json
        extra["llm_request"] = content
        step.extra = .object(extra)
        steps.append(step)
    }

    mutating func llmEnd(_ e: ATIFEvent) {
        flushObservations()
        guard let output = e.data else { return }
        let toolCalls = ATIFPayload.toolCalls(output)
        lastToolCalls = [:]
        var order: [String] = []
        for call in toolCalls ?? [] {
            if !call.name.isEmpty { lastToolCalls[call.name] = call.id }
            order.append(call.id)
        }
        agent.finalize(into: &steps)
        let effort = reasoningEfforts.removeValue(forKey: e.uuid)
        let startModel = lookups.llmStartModels[e.uuid]
        var step = ATIFStep(source: "agent", message: "", timestamp: e.timestamp)
        step.message =
            e.annotatedResponse.flatMap(ATIFPayload.annotatedResponseMessage) ?? ATIFPayload.responseMessage(output)
        step.modelName = e.llmModelName ?? startModel
        step.reasoningEffort = effort
        step.reasoningContent = ATIFPayload.reasoningContent(output)
        step.toolCalls = toolCalls
        step.metrics = ATIFPayload.metrics(output, provider: e.name, normalized: e.normalizedResponse)
        if let supplemental = lookups.supplementalMetrics[e.uuid] {
            var merged = step.metrics ?? supplemental
            if step.metrics != nil { merged.fill(from: supplemental) }
            step.metrics = merged
        }
        step.llmCallCount = 1
        steps.append(step)
        agent.stepIndex = steps.count - 1
        agent.ancestry = lookups.ancestry(e)
        agent.invocation = ATIFInvocation(start: lookups.startTimes[e.uuid], end: e.time, id: e.uuid)
        agent.llmRequest = continuationRequests.removeValue(forKey: e.uuid)
        agent.llmResponse = output
        agent.toolAncestry = []
        agent.toolInvocations = []
        agent.toolCallOrder = order
        attachDeferredToCurrentAgent()
    }

    // MARK: Tool events

    mutating func toolStart(_ e: ATIFEvent) {
        guard let id = sourceCallIDForToolStart(e) else { return }
        toolScopeCallIDs[e.uuid] = id
        guard agent.isActive, ensureToolCallOnCurrentAgent(e, id) else { return }
        activeToolCallID = id
    }

    func sourceCallIDForToolStart(_ e: ATIFEvent) -> String? {
        if let id = e.toolCallID ?? toolScopeCallIDs[e.uuid] ?? lookups.toolCallIDs[e.uuid] { return id }
        if let id = uniqueCurrentStepToolCallID(named: e.name) { return id }
        if currentStepToolCallIDs(named: e.name).count > 1 { return nil }
        return agent.isActive ? e.uuid : nil
    }

    mutating func ensureToolCallOnCurrentAgent(_ e: ATIFEvent, _ id: String) -> Bool {
        if agent.knows(id) {
            toolScopeCallIDs[e.uuid] = id
            return true
        }
        guard let index = agent.stepIndex, steps.indices.contains(index) else { return false }
        var calls = steps[index].toolCalls ?? []
        defer { steps[index].toolCalls = calls }
        if calls.contains(where: { $0.id == id }) {
            agent.remember(id)
            return true
        }
        calls.append(
            ATIFToolCall(id: id, name: e.name, arguments: e.data ?? .object(JSONObject()), extra: .object(e.extra)))
        agent.remember(id)
        if !e.name.isEmpty { lastToolCalls[e.name] = id }
        return true
    }

    func resolveSourceCallID(_ e: ATIFEvent) -> String? {
        if let id = e.toolCallID ?? toolScopeCallIDs[e.uuid] ?? lookups.toolCallIDs[e.uuid] { return id }
        guard let candidate = uniqueCurrentStepToolCallID(named: e.name) else { return nil }
        if agent.knows(candidate) || lastToolCalls.values.contains(candidate) || deferred[candidate] != nil
            || deferredToolMetadata[candidate] != nil
        {
            return candidate
        }
        return nil
    }

    mutating func toolEnd(_ e: ATIFEvent) {
        let id = resolveSourceCallID(e)
        let annotation = e.toolResultAnnotation
        if e.data != nil || annotation != nil {
            if pendingTimestamp == nil { pendingTimestamp = e.timestamp }
            var extra = e.extra
            if let output = e.data, let result = ATIFPayload.toolResultExtra(output) { extra["tool_result"] = result }
            if let annotation { extra["tool_result_annotation"] = annotation }
            pending.append(
                ATIFObservationResult(
                    sourceCallID: id, content: e.data.flatMap(ATIFPayload.observationContent), refs: nil,
                    extra: .object(extra)))
        }
        if activeToolCallID == id { activeToolCallID = nil }
        guard let id else { return }
        let invocation = ATIFInvocation(start: lookups.startTimes[e.uuid], end: e.time, id: id)
        let ancestry = lookups.ancestry(e)
        if agent.isActive && agent.knows(id) {
            agent.toolAncestry.append(ancestry)
            agent.toolInvocations.append(invocation)
        } else {
            deferredToolMetadata[id, default: []].append((ancestry, invocation))
        }
    }

    // MARK: Sub-agents

    mutating func subagentStart(_ child: ATIFAgentNode, _ e: ATIFEvent) {
        let candidate =
            e.metadata.flatMap(Self.delegationToolCallID) ?? e.data.flatMap(Self.delegationToolCallID)
            ?? activeToolCallID
        let id = candidate.flatMap { agent.knows($0) ? $0 : nil }
        flushObservations()
        if let id, attachSubagentRef(child, e, id) { return }
        agent.finalize(into: &steps)
        let callID = "subagent:" + child.uuid
        var arguments = JSONObject(minimumCapacity: 3)
        arguments["name"] = .string(child.name)
        if let session = child.sessionID { arguments["session_id"] = .string(session) }
        if let data = e.data { arguments["payload"] = data }
        var step = ATIFStep(source: "agent", message: "", timestamp: e.timestamp)
        step.toolCalls = [
            ATIFToolCall(id: callID, name: child.name, arguments: .object(arguments), extra: .object(e.extra))
        ]
        step.observation = [Self.referenceResult(child, e, callID)]
        step.llmCallCount = 0
        steps.append(step)
    }

    static func reference(_ child: ATIFAgentNode) -> ATIFSubagentRef {
        ATIFSubagentRef(
            trajectoryID: child.uuid, sessionID: child.sessionID,
            extra: ["name": .string(child.name), "scope_uuid": .string(child.uuid)])
    }

    static func referenceResult(_ child: ATIFAgentNode, _ e: ATIFEvent, _ id: String?) -> ATIFObservationResult {
        ATIFObservationResult(sourceCallID: id, content: nil, refs: [reference(child)], extra: .object(e.extra))
    }

    mutating func attachSubagentRef(_ child: ATIFAgentNode, _ e: ATIFEvent, _ id: String) -> Bool {
        guard let index = agent.stepIndex, steps.indices.contains(index),
            steps[index].toolCalls?.contains(where: { $0.id == id }) == true
        else { return false }
        var results = steps[index].observation ?? []
        if let i = results.firstIndex(where: { $0.sourceCallID == id }) {
            results[i].refs = (results[i].refs ?? []) + [Self.reference(child)]
        } else {
            results.append(Self.referenceResult(child, e, id))
        }
        steps[index].observation = results
        return true
    }

    static let delegationPaths: [[String]] = [
        ["tool_call_id"], ["toolCallId"], ["source_call_id"], ["sourceCallId"], ["delegation_tool_call_id"],
        ["delegationToolCallId"], ["parent_tool_call_id"], ["parentToolCallId"], ["extra", "tool_call_id"],
        ["extra", "toolCallId"], ["extra", "source_call_id"], ["extra", "sourceCallId"],
        ["extra", "delegation_tool_call_id"], ["extra", "delegationToolCallId"], ["extra", "parent_tool_call_id"],
        ["extra", "parentToolCallId"],
    ]

    static func delegationToolCallID(_ value: JSON) -> String? {
        for path in delegationPaths { if let id = value.atifString(at: path) { return id } }
        return nil
    }

    // MARK: Finish

    mutating func finish() -> [ATIFStep] {
        flushObservations()
        flushDeferredAsStandalone()
        agent.finalize(into: &steps)
        removeProjectedToolCallDuplicates()
        return steps
    }

    /// Drops tool-call-only agent steps whose every call is observed on a later agent step of the same run.
    mutating func removeProjectedToolCallDuplicates() {
        var observedLater = Set<ATIFToolKey>()
        var keep = [Bool](repeating: true, count: steps.count)
        for index in steps.indices.reversed() {
            let step = steps[index]
            guard step.source == "agent" else {
                observedLater.removeAll()
                continue
            }
            let keys = Self.toolCallKeys(step)
            if Self.isProjectedCandidate(step) && !keys.isEmpty && keys.allSatisfy({ observedLater.contains($0) }) {
                keep[index] = false
            }
            for result in step.observation ?? [] {
                guard let source = result.sourceCallID else { continue }
                for k in keys where k.id == source { observedLater.insert(k) }
            }
        }
        steps = steps.indices.filter { keep[$0] }.map { steps[$0] }
    }

    static func isProjectedCandidate(_ step: ATIFStep) -> Bool {
        step.source == "agent" && step.message == "" && step.observation == nil && step.reasoningContent == nil
            && step.reasoningEffort == nil && step.llmCallCount == 1 && !(step.toolCalls?.isEmpty ?? true)
    }

    static func toolCallKeys(_ step: ATIFStep) -> [ATIFToolKey] {
        (step.toolCalls ?? []).filter { !$0.id.isEmpty }.map { call in
            ATIFToolKey(id: call.id, name: call.name, arguments: call.arguments.atifText)
        }
    }
}
