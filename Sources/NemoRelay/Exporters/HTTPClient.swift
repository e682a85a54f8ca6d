// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Deadline, errors, responses

/// A point on the monotonic clock by which an operation must finish.
public struct Deadline: Sendable, Hashable, Comparable {
    /// Nanoseconds on `CLOCK_MONOTONIC`.
    public let monotonicNanos: Int64

    /// A deadline at an absolute monotonic time.
    public init(monotonicNanos: Int64) { self.monotonicNanos = monotonicNanos }

    /// The deadline `nanos` from now (saturating).
    public static func after(nanos: Int64) -> Deadline {
        let (sum, overflow) = NemoRelay.monotonicNanos().addingReportingOverflow(max(0, nanos))
        return Deadline(monotonicNanos: overflow ? .max : sum)
    }

    /// The deadline `millis` milliseconds from now (saturating).
    public static func after(millis: Int64) -> Deadline {
        let (ns, overflow) = max(0, millis).multipliedReportingOverflow(by: 1_000_000)
        return after(nanos: overflow ? .max : ns)
    }

    /// Nanoseconds left, 0 once passed.
    public var remainingNanos: Int64 { max(0, monotonicNanos - NemoRelay.monotonicNanos()) }

    /// Whether the deadline has passed.
    public var hasPassed: Bool { NemoRelay.monotonicNanos() >= monotonicNanos }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.monotonicNanos < b.monotonicNanos }
}

/// A failed HTTP exchange: no usable response was received.
public struct HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable {
        /// The caller passed a malformed method, path or header, or used the client while an upload was open.
        case invalidRequest = "invalid_request"
        /// Name resolution failed.
        case resolve
        /// The TCP connection could not be established (refused, unreachable).
        case connect
        /// The deadline passed.
        case timeout
        /// The connection broke or was closed before the response was complete.
        case connectionLost = "connection_lost"
        /// The server's response was not valid HTTP/1.1.
        case protocolError = "protocol_error"
        /// The server answered (see `status`) before a chunked upload was finished.
        case earlyResponse = "early_response"
    }

    /// The failure class.
    public var kind: Kind
    /// A sentence naming the peer and the cause.
    public var message: String
    /// Whether trying again may help (connection failures and timeouts; not malformed requests or responses).
    public var retryable: Bool
    /// For `.earlyResponse`, the status the server answered with.
    public var status: Int?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, retryable: Bool, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.status = status
    }

    public var description: String { message }
}

/// A response: status line, header fields in order, and the body (possibly cut at the client's size cap).
public struct HTTPResponse: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// The reason phrase as sent.
    public var reason: String
    /// The header fields in the order received.
    public var headers: [HTTPHeader]
    /// The body, decoded from chunked framing; at most the client's `maxResponseBody` bytes.
    public var body: [UInt8]
    /// Whether the body was longer than the cap and only its beginning is kept.
    public var bodyTruncated: Bool

    /// Creates a response.
    public init(status: Int, reason: String = "", headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        bodyTruncated = false
    }

    /// The value of the first field called `name`, ignoring case.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name.lowercased() == n }?.value
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// `HTTP 503 Service Unavailable`, for messages.
    public var statusText: String { reason.isEmpty ? "HTTP \(status)" : "HTTP \(status) \(reason)" }
}

/// Counters of one client, readable from any thread.
public struct HTTPClientStats: Sendable, Hashable {
    /// Exchanges started (every attempt; a silent replay after a dead kept-alive connection is not counted).
    public var requests: Int = 0
    /// Attempts after the first made by `HTTPClient.perform`.
    public var retries: Int = 0
    /// Operations that ended with an error or a non-2xx status (a `perform` counts once, at its end).
    public var failures: Int = 0
    /// TCP connections opened.
    public var connections: Int = 0
    /// The text of the latest failure, if any.
    public var lastError: String?
}

// MARK: - Client

/// A small HTTP/1.1 client for one destination, over POSIX sockets.
///
/// It keeps one kept-alive connection and opens a new one when the server has closed it. A request that fails on a
/// reused connection before any response byte arrives is sent once more on a fresh connection. Every connect,
/// write and read is bounded by the caller's deadline, except host name resolution (`getaddrinfo` blocks and may
/// outlast the deadline; IP literals and `localhost` skip it). Use it from one thread at a time; ``stats`` may be
/// read from any thread.
///
/// `@unchecked Sendable`: `lock` guards `stats_`. `connection` and `uploadOpen` have no lock: by contract one
/// thread at a time uses the client (each owner serializes its calls: ATOFStreamSink's `sendLock`, the
/// OTel batch processor's single export thread).
public final class HTTPClient: @unchecked Sendable {
    /// The destination.
    public let endpoint: HTTPEndpoint
    /// Header fields sent with every request, after `Host`, `User-Agent` and `Content-Type`.
    public let defaultHeaders: [HTTPHeader]
    /// The `User-Agent` value (skipped when `defaultHeaders` or a request sets one).
    public let userAgent: String
    /// Bodies longer than this are cut (the status is kept) and the connection is closed.
    public let maxResponseBody: Int

    /// The default `User-Agent`: `nemo-relay/<version>`.
    public static let defaultUserAgent: String = "nemo-relay/" + RelayVersion.string

    // `connection` and `uploadOpen` belong to the one thread using the client at a time (the documented contract);
    // `lock` guards `stats_`, which other threads read.
    var connection: HTTPConnection?
    var uploadOpen = false
    private let lock = PThreadLock()
    private var stats_ = HTTPClientStats()

    /// Creates a client; `headers` must pass ``HTTPHeaders/validate(_:)``.
    public init(
        endpoint: HTTPEndpoint, headers: [HTTPHeader] = [], userAgent: String = HTTPClient.defaultUserAgent,
        maxResponseBody: Int = 4 << 20
    ) throws(RelayError) {
        for h in headers { try HTTPHeaders.validate(h) }
        try HTTPHeaders.validateValue(userAgent, name: "User-Agent")
        self.endpoint = endpoint
        defaultHeaders = headers
        self.userAgent = userAgent
        self.maxResponseBody = max(0, maxResponseBody)
    }

    /// A snapshot of the counters.
    public var stats: HTTPClientStats { lock.withLock { stats_ } }

    func record(_ update: (inout HTTPClientStats) -> Void) { lock.withLock { update(&stats_) } }

    /// Closes the kept-alive connection, if any.
    public func close() {
        connection?.close()
        connection = nil
    }

    /// Sends one request with a `Content-Length` body and reads the response.
    ///
    /// `path` defaults to the endpoint's target. A non-2xx status is returned, not thrown; it counts as a failure in
    /// ``stats``.
    public func send(
        method: String = "POST", path: String? = nil, headers: [HTTPHeader] = [], contentType: String? = nil,
        body: [UInt8] = [], deadline: Deadline
    ) throws(HTTPError) -> HTTPResponse {
        do {
            let response = try exchange(
                method: method, path: path, headers: headers, contentType: contentType, body: body, deadline: deadline)
            if !response.isSuccess { noteFailure(response.statusText + " from " + endpoint.description) }
            return response
        } catch {
            noteFailure(error.message)
            throw error
        }
    }

    func noteFailure(_ text: String) {
        record {
            $0.failures += 1
            $0.lastError = text
        }
    }

    /// One exchange without failure accounting (`perform` counts once).
    func exchange(
        method: String, path: String?, headers: [HTTPHeader], contentType: String?, body: [UInt8],
        deadline: Deadline
    ) throws(HTTPError) -> HTTPResponse {
        let head = try requestHead(
            method: method, path: path, headers: headers, contentType: contentType, framing: .length(body.count))
        var wire = head
        if body.count <= 65_536 { wire += body }
        record { $0.requests += 1 }
        var replayed = false
        while true {
            let conn = try takeConnection(deadline: deadline)
            let reused = conn.exchanges > 0
            conn.beginExchange()
            do {
                try conn.send(wire, deadline: deadline)
                if body.count > 65_536 { try conn.send(body, deadline: deadline) }
                let (response, keep) = try conn.readResponse(
                    method: method, maxBody: maxResponseBody, deadline: deadline)
                conn.exchanges += 1
                if keep { connection = conn } else { conn.close() }
                return response
            } catch {
                conn.close()
                // The server may close an idle kept-alive connection just as we reuse it: nothing was processed.
                if reused && !replayed && error.kind == .connectionLost && conn.responseBytes == 0 {
                    replayed = true
                    continue
                }
                throw error
            }
        }
    }

    /// The kept-alive connection if it is still usable, else a new one.
    func takeConnection(deadline: Deadline) throws(HTTPError) -> HTTPConnection {
        if uploadOpen {
            throw HTTPError(
                .invalidRequest, "a chunked upload is open on this client; finish it first", retryable: false)
        }
        if let c = connection {
            connection = nil
            if c.isReusable() { return c }
            c.close()
        }
        let c = try HTTPConnection.open(endpoint, deadline: deadline)
        record { $0.connections += 1 }
        return c
    }

    enum Framing {
        case length(Int)
        case chunked
    }

    /// The request line and header section, validated.
    func requestHead(
        method: String, path: String?, headers: [HTTPHeader], contentType: String?, framing: Framing
    ) throws(HTTPError) -> [UInt8] {
        func bad(_ m: String) -> HTTPError { HTTPError(.invalidRequest, m, retryable: false) }
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPText.isTokenChar) else {
            throw bad("invalid HTTP method \(HTTPText.quoted(method))")
        }
        let target = path ?? endpoint.target
        guard target.first == "/", target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw bad("invalid request path \(HTTPText.quoted(target)): must start with / and hold no space or control")
        }
        var fields: [HTTPHeader] = []
        var names: Set<String> = []
        for h in headers {
            do { try HTTPHeaders.validate(h) } catch { throw bad(error.message) }
            names.insert(h.name.lowercased())
        }
        for h in defaultHeaders where !names.contains(h.name.lowercased()) { fields.append(h) }
        fields += headers
        let present = Set(fields.map { $0.name.lowercased() })
        var out = "\(method) \(target) HTTP/1.1\r\nHost: \(endpoint.hostHeader)\r\n"
        if !present.contains("user-agent") { out += "User-Agent: \(userAgent)\r\n" }
        if let contentType, !present.contains("content-type") {
            do { try HTTPHeaders.validateValue(contentType, name: "Content-Type") } catch { throw bad(error.message) }
            out += "Content-Type: \(contentType)\r\n"
        }
        for h in fields { out += "\(h.name): \(h.value)\r\n" }
        switch framing {
        case .length(let n):
            if n > 0 || !["GET", "HEAD", "DELETE", "OPTIONS"].contains(method) { out += "Content-Length: \(n)\r\n" }
        case .chunked:
            out += "Transfer-Encoding: chunked\r\n"
        }
        out += "\r\n"
        return Array(out.utf8)
    }
}
