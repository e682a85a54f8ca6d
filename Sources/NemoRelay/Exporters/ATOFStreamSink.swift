// SPDX-License-Identifier: Apache-2.0
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Sends ATOF JSON lines to an HTTP endpoint (docs/exporters.md, "Stream sinks").
///
/// `http_post` sends one POST per delivered batch (up to 64 events), the body one line per event;
/// `ndjson` keeps one chunked POST open and writes each batch as one chunk. Both retry 429, 5xx and
/// connection failures with exponential backoff and jitter (honouring `Retry-After`) up to
/// `max_attempts`; a batch that still fails is dropped and counted, and the failure surfaces from
/// flush and shutdown. All of it runs on the registration's delivery thread: a dead or slow endpoint
/// fills that bounded queue (drops counted) and never touches the emitting thread.
///
/// `@unchecked Sendable`: `sendLock` guards `upload` (and serializes use of `client`); `stateLock` guards
/// `sent`, `failedEvents`, `afterClose`, `batches`, `lastError` and `failure`; `closing` is atomic.
final class ATOFStreamSink: EventSink, @unchecked Sendable {
    let transport: ATOFExporterConfig.Transport
    let policy: ATOFExporterConfig.FieldNamePolicy
    let client: HTTPClient
    let retry: RetryPolicy
    let timeoutNanos: Int64
    let url: String

    /// Guards `upload`; held for a whole batch (requests, retries), so one batch is on the wire at a time.
    private let sendLock = PThreadLock()
    private var upload: HTTPChunkedUpload?
    /// Set by close: retries stop waiting, later batches are dropped.
    private let closing = Atomic<Bool>(false)
    /// Guards the counters, `lastError` and `failure`.
    private let stateLock = PThreadLock()
    private var sent: UInt64 = 0
    private var failedEvents: UInt64 = 0
    private var afterClose: UInt64 = 0
    private var batches: UInt64 = 0
    private var lastError: String?
    /// The first failure; sticky, so every later flush reports that events were lost.
    private var failure: RelayError?

    static let contentType = "application/x-ndjson"

    init(_ config: ATOFExporterConfig) throws(RelayError) {
        func invalid(_ m: String) -> RelayError { .invalidArgument("invalid ATOF streaming endpoint: " + m) }
        guard !config.url.allSatisfy({ $0 == " " || $0 == "\t" }) else {
            throw .invalidArgument("stream sink requires url")
        }
        if config.timeoutMillis == 0 { throw invalid("endpoint timeout_millis must be greater than 0") }
        let endpoint: HTTPEndpoint
        let headers: [HTTPHeader]
        do throws(RelayError) {
            endpoint = try HTTPEndpoint(parsing: config.url)
            headers = try HTTPHeaders.resolve(
                headers: config.headers.map { (name: $0.0, value: $0.1) },
                headerEnv: config.headerEnv.map { (name: $0.0, variable: $0.1) })
            client = try HTTPClient(endpoint: endpoint, headers: headers)
        } catch {
            throw invalid(error.message)
        }
        if !headers.isEmpty && !endpoint.isLoopback {
            throw invalid(
                "configured headers require https for remote endpoints; http is allowed only for localhost or"
                    + " loopback IP addresses")
        }
        transport = config.transport
        policy = config.fieldNamePolicy
        url = config.url
        timeoutNanos = Int64(config.timeoutMillis) * 1_000_000
        var r = RetryPolicy.atofStream
        r.maxAttempts = config.maxAttempts
        retry = r
    }

    func consume(_ batch: [EventRecord]) {
        if closing.load(ordering: .acquiring) {
            stateLock.withLock { afterClose &+= UInt64(batch.count) }
            return
        }
        var body: [UInt8] = []
        body.reserveCapacity(batch.count * 512)
        for r in batch {
            if policy == .replaceDots, let j = try? JSON.parse(r.bytes) {
                var w = JSONWriter(sortedKeys: true, capacity: 512, doubleSpelling: .reference)
                w.write(FieldNames.replacingDots(j))
                body.append(contentsOf: w.bytes)
            } else {
                body.append(contentsOf: r.bytes)
            }
            body.append(0x0A)
        }
        sendLock.lock()
        let error = transport == .httpPost ? post(body) : stream(body)
        sendLock.unlock()
        stateLock.withLock {
            batches &+= 1
            if let error {
                failedEvents &+= UInt64(batch.count)
                let text = "ATOF stream to \(url) dropped \(batch.count) event(s): \(error)"
                lastError = text
                if failure == nil { failure = RelayError(.export, text) }
            } else {
                sent &+= UInt64(batch.count)
            }
        }
    }

    /// One POST with the retry policy; the failure text, or nil on success.
    private func post(_ body: [UInt8]) -> String? {
        let outcome = client.perform(
            method: "POST", contentType: Self.contentType, body: body, policy: retry, attemptTimeoutNanos: timeoutNanos,
            sleep: sleepUnlessClosing)
        return outcome.succeeded ? nil : "\(outcome.errorText ?? "failed") after \(outcome.attempts) attempt(s)"
    }

    /// One chunk on the long-lived upload, reopening it (and resending the chunk) when it broke.
    private func stream(_ body: [UInt8]) -> String? {
        var attempt = 0
        var rng = SystemRandomNumberGenerator()
        let start = monotonicNanos()
        while true {
            attempt += 1
            let deadline = Deadline.after(nanos: timeoutNanos)
            var outcome: Result<HTTPResponse, HTTPError>
            do throws(HTTPError) {
                if upload == nil {
                    upload = try client.openChunked(
                        method: "POST", path: nil, headers: [], contentType: Self.contentType, deadline: deadline)
                }
                try upload?.write(body, deadline: deadline)
                return nil
            } catch {
                upload?.abort()
                upload = nil
                outcome = .failure(error)
                if let status = error.status { outcome = .success(HTTPResponse(status: status)) }
            }
            if attempt > 1 { client.record { $0.retries += 1 } }
            let decision = retry.decide(
                attempt: attempt, outcome: outcome, elapsedNanos: monotonicNanos() - start,
                nowEpochSeconds: SystemClock().now() / 1_000_000_000, random: &rng)
            guard case .retry(let nanos) = decision, sleepUnlessClosing(nanos) else {
                switch outcome {
                case .success(let r): return "\(r.statusText) after \(attempt) attempt(s)"
                case .failure(let e): return "\(e.message) after \(attempt) attempt(s)"
                }
            }
        }
    }

    /// Sleeps in short slices; false (stop retrying) once the sink is closing.
    private func sleepUnlessClosing(_ nanos: Int64) -> Bool {
        let end = monotonicNanos() &+ max(0, nanos)
        while true {
            if closing.load(ordering: .acquiring) { return false }
            let left = end - monotonicNanos()
            if left <= 0 { return true }
            var ts = timespec(tv_sec: 0, tv_nsec: Int(min(left, 10_000_000)))
            nanosleep(&ts, nil)
        }
    }

    func flush(deadline: Int64?) throws(RelayError) {
        if let e = stateLock.withLock({ failure }) { throw e }
    }

    func close(deadline: Int64?) throws(RelayError) {
        closing.store(true, ordering: .releasing)
        guard sendLock.lock(untilMonotonic: deadline) else {
            throw .timeout("the ATOF stream to \(url) is still sending; it is closed when that request ends")
        }
        var finishError: String?
        if let u = upload {
            let d = deadline.map { Deadline(monotonicNanos: $0) } ?? Deadline.after(nanos: timeoutNanos)
            do {
                let r = try u.finish(deadline: min(d, Deadline.after(nanos: timeoutNanos)))
                if !r.isSuccess { finishError = "the endpoint answered the NDJSON upload with \(r.statusText)" }
            } catch {
                finishError = "the NDJSON upload did not finish: \(error.message)"
            }
            upload = nil
        }
        client.close()
        sendLock.unlock()
        let e: RelayError? = stateLock.withLock {
            if let finishError {
                lastError = finishError
                if failure == nil { failure = RelayError(.export, "ATOF stream to \(url): \(finishError)") }
            }
            return failure
        }
        if let e { throw e }
    }

    func diagnostics(into o: inout JSONObject) {
        let stats = client.stats
        stateLock.withLock {
            o["url"] = .string(url)
            o["transport"] = .string(transport.rawValue)
            o["events_sent"] = .uint(sent)
            o["events_failed"] = .uint(failedEvents)
            o["events_after_shutdown"] = .uint(afterClose)
            o["batches"] = .uint(batches)
            o["requests"] = .int(Int64(stats.requests))
            o["retries"] = .int(Int64(stats.retries))
            o["connections"] = .int(Int64(stats.connections))
            o["last_error"] = lastError.map { .string($0) } ?? .null
        }
    }
}

/// The `replace_dots` field-name policy of stream sinks.
enum FieldNames {
    /// Replaces `.` by `_` in every object key, recursively (values untouched). Per object, keys with a
    /// dot claim their new name first (in byte order), then the others; a taken name gets `_2`, `_3`...
    static func replacingDots(_ v: JSON) -> JSON {
        switch v {
        case .array(let a): return .array(a.map(replacingDots))
        case .object(let o):
            let sorted = o.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            let ordered = sorted.filter { $0.contains(".") } + sorted.filter { !$0.contains(".") }
            var out = JSONObject(minimumCapacity: o.count)
            var taken: Set<[UInt8]> = []
            for k in ordered {
                let base = String(k.map { $0 == "." ? "_" : $0 })
                var name = base
                var n = 2
                while taken.contains(Array(name.utf8)) {
                    name = "\(base)_\(n)"
                    n += 1
                }
                taken.insert(Array(name.utf8))
                out[name] = replacingDots(o[k] ?? .null)
            }
            return .object(out)
        default: return v
        }
    }
}
