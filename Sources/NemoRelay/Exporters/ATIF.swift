// SPDX-License-Identifier: Apache-2.0

/// What an ATIF export says about the session and the agent (docs/atif.md).
public struct ATIFOptions: Sendable {
    /// The trajectory's `session_id` (and the root's `trajectory_id`). When it is the uuid of an Agent scope
    /// in the events, that scope is the root of the exported agent tree.
    public var sessionID: String
    /// `agent.name`.
    public var agentName: String
    /// `agent.version`.
    public var agentVersion: String
    /// `agent.model_name`, omitted when nil.
    public var modelName: String?
    /// `agent.tool_definitions`: an array, omitted when nil or not an array.
    public var toolDefinitions: JSON?
    /// `agent.extra`, omitted when nil or null.
    public var extra: JSON?

    /// Options with the required identity and the optional agent fields.
    public init(
        sessionID: String, agentName: String, agentVersion: String, modelName: String? = nil,
        toolDefinitions: JSON? = nil, extra: JSON? = nil
    ) {
        self.sessionID = sessionID
        self.agentName = agentName
        self.agentVersion = agentVersion
        self.modelName = modelName
        self.toolDefinitions = toolDefinitions
        self.extra = extra
    }
}

/// Builds Agent Trajectory Interchange Format (ATIF v1.7) trajectories from ATOF events (docs/atif.md).
///
/// The mapping follows the reference runtime (nemo-relay 0.10.4): an LLM start becomes a `user` step when
/// it opens a fresh user turn (a same-turn continuation after tool work keeps its request on the next agent
/// step instead), an LLM end becomes an `agent` step with the promoted tool calls and metrics, tool ends
/// become observations on the agent step that issued their call (or a `system` step when none did), marks
/// and other scopes are skipped, and nested Agent scopes become embedded sub-agent trajectories.
public enum ATIF {
    /// The `schema_version` of every trajectory.
    public static let schemaVersion = "ATIF-v1.7"

    /// The trajectory of `events`, each the JSON object a subscriber receives (``Event/serialized()``), in
    /// any order (they are ordered by timestamp, ties keeping their given order). Unreadable events are
    /// skipped; the result is always a trajectory object, with keys in the order the reference writes them.
    public static func trajectory(events: [JSON], options: ATIFOptions) -> JSON {
        let parsed = events.compactMap(ATIFEvent.init).enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset
        }.map(\.element)
        let tree = ATIFAgentTree(events: parsed)
        let owners = tree.owners(parsed)
        let base = ATIFLookups(events: parsed, toolEvents: [])
        if let root = tree.chooseRoot(options.sessionID),
            parsed.indices.allSatisfy({ parsed[$0].isAgent || !parsed[$0].isStepEvent || owners[$0] != nil })
        {
            return agentTrajectory(root, tree: tree, events: parsed, owners: owners, base: base, options: options)
        }
        var converter = ATIFStepConverter(lookups: base.with(toolEvents: parsed))
        for e in parsed { converter.handle(e) }
        let steps = converter.finish()
        return trajectoryJSON(
            session: options.sessionID, trajectoryID: options.sessionID, steps: steps, subagents: nil, options: options)
    }

    /// The exact text the reference's `export_json()` writes for `trajectory`: compact, keys in the order
    /// given, doubles in the reference's spelling, non-ASCII characters unescaped.
    public static func json(_ trajectory: JSON) -> [UInt8] {
        var w = JSONWriter(sortedKeys: false, capacity: 4096, doubleSpelling: .reference)
        w.write(trajectory)
        return w.bytes
    }

    /// ``json(_:)`` as a string.
    public static func jsonString(_ trajectory: JSON) -> String { String(decoding: json(trajectory), as: UTF8.self) }

    // MARK: Agent trees

    /// The root trajectory with its sub-agents, built children first without recursion.
    static func agentTrajectory(
        _ root: String, tree: ATIFAgentTree, events: [ATIFEvent], owners: [String?], base: ATIFLookups,
        options: ATIFOptions
    ) -> JSON {
        // Events each agent converts, in order: its own events and the starts of its direct children.
        var relevant: [String: [Int]] = [:]
        for i in events.indices {
            if let owner = owners[i] { relevant[owner, default: []].append(i) }
            if let parent = tree.directChildParent(events[i]), parent != owners[i] {
                relevant[parent, default: []].append(i)
            }
        }
        var order: [String] = []
        var visited = Set<String>()
        var stack = [root]
        while let uuid = stack.popLast() {
            guard visited.insert(uuid).inserted else { continue }
            order.append(uuid)
            stack.append(contentsOf: (tree.nodes[uuid]?.children ?? []).reversed().filter { !visited.contains($0) })
        }
        var built: [String: (steps: [ATIFStep], json: JSON)] = [:]
        for uuid in order.reversed() {
            let indices = relevant[uuid] ?? []
            let owned = indices.filter { owners[$0] == uuid }.map { events[$0] }
            var converter = ATIFStepConverter(lookups: base.with(toolEvents: owned))
            for i in indices {
                let e = events[i]
                if let child = tree.directChild(of: uuid, e) {
                    converter.subagentStart(child, e)
                } else if owners[i] == uuid {
                    converter.handle(e)
                }
            }
            var steps = converter.finish()
            var children: [JSON] = []
            var childIDs = Set<String>()
            for child in tree.nodes[uuid]?.children ?? [] {
                guard let sub = built[child], let node = tree.nodes[child] else { continue }
                guard !sub.steps.isEmpty || !node.referencedByParent else { continue }
                children.append(sub.json)
                childIDs.insert(child)
            }
            prune(&steps, keeping: childIDs)
            let isRoot = uuid == root
            let session = isRoot ? options.sessionID : (tree.nodes[uuid]?.sessionID ?? options.sessionID)
            let json = trajectoryJSON(
                session: session, trajectoryID: isRoot ? options.sessionID : uuid, steps: steps,
                subagents: children.isEmpty ? nil : children, options: options)
            built[uuid] = (steps, json)
        }
        return built[root]?.json ?? .null
    }

    /// Drops references to sub-agents that were not embedded, results left without content, references or a
    /// tool result, and the steps those removals leave empty.
    static func prune(_ steps: inout [ATIFStep], keeping childIDs: Set<String>) {
        for i in steps.indices {
            guard let results = steps[i].observation else { continue }
            let kept = results.compactMap { result -> ATIFObservationResult? in
                var result = result
                if let refs = result.refs {
                    let known = refs.filter { $0.trajectoryID.map(childIDs.contains) ?? false }
                    result.refs = known.isEmpty ? nil : known
                }
                let keep = result.content != nil || result.refs != nil || result.hasToolResultExtra
                return keep ? result : nil
            }
            steps[i].observation = kept.isEmpty ? nil : kept
        }
        steps.removeAll { s in
            guard s.observation == nil, s.message == "", s.extra == nil else { return false }
            return s.source == "system" || (s.source == "agent" && s.llmCallCount == 0)
        }
    }

    // MARK: Output

    static func trajectoryJSON(
        session: String, trajectoryID: String, steps: [ATIFStep], subagents: [JSON]?, options: ATIFOptions
    ) -> JSON {
        var o = JSONObject(minimumCapacity: 7)
        o["schema_version"] = .string(schemaVersion)
        o["session_id"] = .string(session)
        o["trajectory_id"] = .string(trajectoryID)
        var agent = JSONObject(minimumCapacity: 5)
        agent["name"] = .string(options.agentName)
        agent["version"] = .string(options.agentVersion)
        if let model = options.modelName { agent["model_name"] = .string(model) }
        if case .array(let definitions)? = options.toolDefinitions {
            agent["tool_definitions"] = .array(definitions.map(\.atifCanonical))
        }
        if let extra = options.extra, !extra.isNull { agent["extra"] = extra.atifCanonical }
        o["agent"] = .object(agent)
        o["steps"] = .array(steps.enumerated().map { stepJSON($0.element, id: $0.offset + 1) })
        o["final_metrics"] = finalMetrics(steps)
        if let subagents { o["subagent_trajectories"] = .array(subagents) }
        return .object(o)
    }

    static func stepJSON(_ s: ATIFStep, id: Int) -> JSON {
        var o = JSONObject(minimumCapacity: 13)
        o["step_id"] = .int(Int64(id))
        o["source"] = .string(s.source)
        o["message"] = s.message.atifCanonical
        if let t = s.timestamp { o["timestamp"] = .string(t) }
        if let m = s.modelName { o["model_name"] = .string(m) }
        if let effort = s.reasoningEffort { o["reasoning_effort"] = effort.atifCanonical }
        if let reasoning = s.reasoningContent { o["reasoning_content"] = .string(reasoning) }
        if let calls = s.toolCalls {
            o["tool_calls"] = .array(
                calls.map { call in
                    var c = JSONObject(minimumCapacity: 4)
                    c["tool_call_id"] = .string(call.id)
                    c["function_name"] = .string(call.name)
                    c["arguments"] = call.arguments.atifCanonical
                    if let extra = call.extra { c["extra"] = extra.atifCanonical }
                    return .object(c)
                })
        }
        if let results = s.observation { o["observation"] = ["results": .array(results.map(resultJSON))] }
        if let m = s.metrics { o["metrics"] = metricsJSON(m) }
        if let count = s.llmCallCount { o["llm_call_count"] = .int(Int64(count)) }
        if let extra = s.extra { o["extra"] = extra.atifCanonical }
        return .object(o)
    }

    static func resultJSON(_ r: ATIFObservationResult) -> JSON {
        var o = JSONObject(minimumCapacity: 4)
        if let id = r.sourceCallID { o["source_call_id"] = .string(id) }
        if let content = r.content { o["content"] = content.atifCanonical }
        if let refs = r.refs {
            o["subagent_trajectory_ref"] = .array(
                refs.map { ref in
                    var x = JSONObject(minimumCapacity: 3)
                    if let id = ref.trajectoryID { x["trajectory_id"] = .string(id) }
                    if let session = ref.sessionID { x["session_id"] = .string(session) }
                    if let extra = ref.extra { x["extra"] = extra.atifCanonical }
                    return .object(x)
                })
        }
        if let extra = r.extra { o["extra"] = extra.atifCanonical }
        return .object(o)
    }

    static func metricsJSON(_ m: ATIFMetrics) -> JSON {
        var o = JSONObject(minimumCapacity: 8)
        if let v = m.prompt { o["prompt_tokens"] = NormalizedUsage.number(v) }
        if let v = m.completion { o["completion_tokens"] = NormalizedUsage.number(v) }
        if let v = m.cached { o["cached_tokens"] = NormalizedUsage.number(v) }
        if let v = m.cost { o["cost_usd"] = .double(v) }
        if let v = m.promptTokenIDs { o["prompt_token_ids"] = .array(v.map(NormalizedUsage.number)) }
        if let v = m.completionTokenIDs { o["completion_token_ids"] = .array(v.map(NormalizedUsage.number)) }
        if let v = m.logprobs { o["logprobs"] = .array(v.map(JSON.double)) }
        if let v = m.extra { o["extra"] = v.atifCanonical }
        return .object(o)
    }

    /// Totals of the steps' metrics (each only when some step has it), the step count and, when steps report
    /// optimizations, their savings under `extra.nemo_relay.optimization`.
    static func finalMetrics(_ steps: [ATIFStep]) -> JSON {
        var prompt: UInt64?
        var completion: UInt64?
        var cached: UInt64?
        var cost: Double?
        var promptSaved: UInt64?
        var totalSaved: UInt64?
        var costSaved: Double?
        var optimizedCalls: UInt64 = 0
        func add(_ total: inout UInt64?, _ v: UInt64?) { if let v { total = (total ?? 0) &+ v } }
        for case let m? in steps.map(\.metrics) {
            add(&prompt, m.prompt)
            add(&completion, m.completion)
            add(&cached, m.cached)
            if let v = m.cost { cost = (cost ?? 0) + v }
            guard case .object(let relay)? = m.extra?["nemo_relay"], let optimization = relay["optimization"] else {
                continue
            }
            optimizedCalls &+= 1
            add(&promptSaved, optimization["tokens_saved"]?["prompt_tokens"]?.atifCount)
            add(&totalSaved, optimization["tokens_saved"]?["total_tokens"]?.atifCount)
            if ATIFPayload.isUSD(optimization["currency"]?.stringValue),
                let saved = optimization["estimated_cost_saved"]?.doubleValue
            {
                costSaved = (costSaved ?? 0) + saved
            }
        }
        var o = JSONObject(minimumCapacity: 6)
        if let prompt { o["total_prompt_tokens"] = NormalizedUsage.number(prompt) }
        if let completion { o["total_completion_tokens"] = NormalizedUsage.number(completion) }
        if let cached { o["total_cached_tokens"] = NormalizedUsage.number(cached) }
        if let cost { o["total_cost_usd"] = .double(cost) }
        o["total_steps"] = .int(Int64(steps.count))
        if optimizedCalls > 0 {
            var summary = JSONObject(minimumCapacity: 4)
            summary["estimated_cost_saved_usd"] = costSaved.map(JSON.double) ?? .null
            summary["llm_call_count"] = NormalizedUsage.number(optimizedCalls)
            summary["prompt_tokens_saved"] = promptSaved.map(NormalizedUsage.number) ?? .null
            summary["total_tokens_saved"] = totalSaved.map(NormalizedUsage.number) ?? .null
            o["extra"] = ["nemo_relay": ["optimization": .object(summary)]]
        }
        return .object(o)
    }
}

extension ATIFEvent {
    /// LLM starts and ends and tool ends: the events that produce steps.
    var isStepEvent: Bool { isLLMStart || isLLMEnd || isToolEnd }
}

extension ATIFLookups {
    /// A copy whose tool executions are correlated among `toolEvents`.
    func with(toolEvents: [ATIFEvent]) -> ATIFLookups {
        var copy = self
        copy.toolCallIDs = Self.toolCorrelations(toolEvents)
        return copy
    }
}

// MARK: - Agent scope tree

/// One Agent scope of the tree.
struct ATIFAgentNode {
    let uuid: String
    let name: String
    let sessionID: String?
    let referencedByParent: Bool
    var parentAgent: String?
    var children: [String] = []
    let start: Nanoseconds
}

/// The nesting of the Agent scopes in the events (`turn`-role agents nested in another agent are folded
/// into it).
struct ATIFAgentTree {
    var nodes: [String: ATIFAgentNode] = [:]
    var roots: [String] = []
    var scopeParents: [String: String] = [:]
    var agents = Set<String>()

    init(events: [ATIFEvent]) {
        var roles: [String: String?] = [:]
        for e in events where e.isStart {
            if let parent = e.parent { scopeParents[e.uuid] = parent }
            if e.isAgent { roles[e.uuid] = Self.role(e) }
        }
        for e in events where e.isStart && e.isAgent {
            if Self.role(e) != "turn" || nearestNonTurnAgent(from: e.parent, excluding: e.uuid, roles: roles) == nil {
                agents.insert(e.uuid)
            }
        }
        var order: [String] = []
        for e in events where e.isStart && e.isAgent && agents.contains(e.uuid) {
            if nodes[e.uuid] == nil { order.append(e.uuid) }
            let referenced =
                Self.role(e) == "subagent" || e.metadata.flatMap(ATIFStepConverter.delegationToolCallID) != nil
                || e.data.flatMap(ATIFStepConverter.delegationToolCallID) != nil
            nodes[e.uuid] = ATIFAgentNode(
                uuid: e.uuid, name: e.name, sessionID: e.metadata?["session_id"]?.stringValue,
                referencedByParent: referenced, parentAgent: nearestAgent(from: e.parent, excluding: e.uuid),
                start: e.time)
        }
        let starts = nodes.mapValues(\.start)
        func byStart(_ ids: [String]) -> [String] {
            ids.enumerated().sorted { a, b in
                let sa = starts[a.element] ?? 0
                let sb = starts[b.element] ?? 0
                return sa != sb ? sa < sb : a.offset < b.offset
            }.map(\.element)
        }
        var children: [String: [String]] = [:]
        for uuid in order {
            if let parent = nodes[uuid]?.parentAgent {
                children[parent, default: []].append(uuid)
            } else {
                roots.append(uuid)
            }
        }
        roots = byStart(roots)
        for (parent, list) in children where nodes[parent] != nil { nodes[parent]?.children = byStart(list) }
    }

    static func role(_ e: ATIFEvent) -> String? { e.metadata?["nemo_relay_scope_role"]?.stringValue }

    /// Walks the scope parents from `start` (at most once around any cycle) and returns the first `match`.
    func walk(from start: String?, _ match: (String) -> Bool) -> String? {
        var current = start
        var steps = 0
        while let uuid = current, steps <= scopeParents.count {
            if match(uuid) { return uuid }
            current = scopeParents[uuid]
            steps += 1
        }
        return nil
    }

    func nearestAgent(from start: String?, excluding excluded: String?) -> String? {
        walk(from: start) { $0 != excluded && agents.contains($0) }
    }

    func nearestNonTurnAgent(from start: String?, excluding excluded: String, roles: [String: String?]) -> String? {
        walk(from: start) { uuid in
            guard uuid != excluded, let role = roles[uuid] else { return false }
            return role != "turn"
        }
    }

    /// The agent each event belongs to: an agent scope event's own uuid (when it is a tree node), else the
    /// nearest enclosing agent. Lookups along the scope parents are shared between events.
    func owners(_ events: [ATIFEvent]) -> [String?] {
        var memo: [String: String?] = [:]
        func nearest(_ start: String?) -> String? {
            var path: [String] = []
            var current = start
            var found: String?
            while let uuid = current, path.count <= scopeParents.count {
                if let known = memo[uuid] {
                    found = known
                    break
                }
                if agents.contains(uuid) {
                    found = uuid
                    break
                }
                path.append(uuid)
                current = scopeParents[uuid]
            }
            for uuid in path { memo[uuid] = .some(found) }
            return found
        }
        return events.map { e in
            if e.isAgent { return agents.contains(e.uuid) ? e.uuid : nil }
            return nearest(e.parent)
        }
    }

    /// The root: the agent whose uuid is the session id, else the only top-level agent.
    func chooseRoot(_ sessionID: String) -> String? {
        if let uuid = Self.parseUUID(sessionID), nodes[uuid] != nil { return uuid }
        return roots.count == 1 ? roots[0] : nil
    }

    /// The parent agent of an agent start event, when it is a tree node with a parent.
    func directChildParent(_ e: ATIFEvent) -> String? {
        guard e.isStart, e.isAgent else { return nil }
        return nodes[e.uuid]?.parentAgent
    }

    func directChild(of parent: String, _ e: ATIFEvent) -> ATIFAgentNode? {
        guard directChildParent(e) == parent else { return nil }
        return nodes[e.uuid]
    }

    /// A uuid in hyphenated, simple (32 digits), braced or `urn:uuid:` form, as its canonical text.
    static func parseUUID(_ text: String) -> String? {
        var body = Substring(text)
        if body.hasPrefix("urn:uuid:") {
            body = body.dropFirst(9)
        } else if body.hasPrefix("{") && body.hasSuffix("}") && body.count > 2 {
            body = body.dropFirst().dropLast()
        }
        let bytes = Array(body.utf8)
        let hyphenated =
            bytes.count == 36 && [8, 13, 18, 23].allSatisfy { bytes[$0] == UInt8(ascii: "-") }
            && bytes.enumerated().allSatisfy { [8, 13, 18, 23].contains($0.offset) || $0.element != UInt8(ascii: "-") }
        guard hyphenated || bytes.count == 32 else { return nil }
        return RelayUUID(String(body))?.description
    }
}
