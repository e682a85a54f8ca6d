// SPDX-License-Identifier: Apache-2.0

extension ATIFOptions {
    /// Reads `session_id`, `agent_name`, `agent_version` (required strings), `model_name`,
    /// `tool_definitions` (an array of objects) and `extra` (any JSON) from a configuration object.
    public init(json: JSON) throws(RelayError) {
        guard let o = json.objectValue else { throw .invalidArgument("ATIF exporter config must be a JSON object") }
        var r = ConfigReader(o, "ATIF exporter config")
        guard let session = try r.string("session_id") else { throw .invalidArgument("session_id is required") }
        guard let name = try r.string("agent_name") else { throw .invalidArgument("agent_name is required") }
        guard let version = try r.string("agent_version") else { throw .invalidArgument("agent_version is required") }
        let model = try r.string("model_name")
        let tools = r.json("tool_definitions")
        if let tools, tools.arrayValue == nil { throw .invalidArgument("tool_definitions must be a list") }
        let extra = r.json("extra")
        _ = try r.integer("max_events", 1...Int(Int32.max))
        _ = try r.integer("queue_capacity", 1...(1 << 30))
        try r.finish()
        self.init(
            sessionID: session, agentName: name, agentVersion: version, modelName: model, toolDefinitions: tools,
            extra: extra)
    }
}

extension Exporter {
    /// Creates an ATIF exporter: it collects the events it is delivered and builds an ATIF v1.7
    /// trajectory from them on demand (``trajectory(flushTimeoutNanos:)``).
    ///
    /// At most `maxEvents` events are kept; later ones are dropped and counted (`events_dropped`).
    public static func atif(_ options: ATIFOptions, maxEvents: Int = 1_000_000, queueCapacity: Int = 65_536)
        -> Exporter
    {
        Exporter(kind: "atif", sink: ATIFCollector(options, maxEvents: max(1, maxEvents)), queueCapacity: queueCapacity)
    }

    /// Creates an ATIF exporter from a configuration object (see ``ATIFOptions/init(json:)``, plus
    /// `max_events` and `queue_capacity`).
    public static func atif(json: JSON) throws(RelayError) -> Exporter {
        let options = try ATIFOptions(json: json)
        let o = json.objectValue ?? JSONObject()
        let maxEvents = o["max_events"]?.int64Value.map { Int($0) } ?? 1_000_000
        let capacity = o["queue_capacity"]?.int64Value.map { Int($0) } ?? 65_536
        return atif(options, maxEvents: maxEvents, queueCapacity: capacity)
    }

    /// Waits for queued deliveries (bounded), then builds the trajectory of every event collected
    /// so far. Does not clear them. Fails with `invalid argument` on a non-ATIF exporter.
    public func trajectory(flushTimeoutNanos: Int64? = 5_000_000_000) throws(RelayError) -> JSON {
        guard let c = sink as? ATIFCollector else {
            throw .invalidArgument("only an ATIF exporter builds trajectories (this is \(kind))")
        }
        try flush(timeoutNanos: flushTimeoutNanos)
        return ATIF.trajectory(events: c.snapshot().map(\.event.json), options: c.options)
    }

    /// Drops the collected events; registrations stay.
    public func clearCollected() throws(RelayError) {
        guard let c = sink as? ATIFCollector else {
            throw .invalidArgument("only an ATIF exporter collects events (this is \(kind))")
        }
        c.clear()
    }
}

/// Keeps delivered events in order for the ATIF builder.
///
/// `@unchecked Sendable`: `lock` guards `records`, `dropped` and `closed`; the rest is immutable.
final class ATIFCollector: EventSink, @unchecked Sendable {
    let options: ATIFOptions
    let maxEvents: Int
    /// Guards `records`, `dropped` and `closed`.
    private let lock = PThreadLock()
    private var records: [EventRecord] = []
    private var dropped: UInt64 = 0
    private var closed = false

    init(_ options: ATIFOptions, maxEvents: Int) {
        self.options = options
        self.maxEvents = maxEvents
    }

    func consume(_ batch: [EventRecord]) {
        lock.withLock {
            let room = closed ? 0 : max(0, maxEvents - records.count)
            records.append(contentsOf: batch.prefix(room))
            if batch.count > room { dropped &+= UInt64(batch.count - room) }
        }
    }

    func snapshot() -> [EventRecord] { lock.withLock { records } }

    func clear() { lock.withLock { records.removeAll() } }

    func flush(deadline: Int64?) throws(RelayError) {}

    func close(deadline: Int64?) throws(RelayError) { lock.withLock { closed = true } }

    func diagnostics(into o: inout JSONObject) {
        lock.withLock {
            o["events_collected"] = .int(Int64(records.count))
            o["events_dropped"] = .uint(dropped)
            o["max_events"] = .int(Int64(maxEvents))
        }
    }
}
