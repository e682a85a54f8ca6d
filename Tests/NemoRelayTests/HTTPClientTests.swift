// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

// MARK: - Support

/// The scripted loopback receiver `Tests/support/http_receiver.py`, one process per test.
final class HTTPReceiver {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    let port: UInt16
    let control: HTTPClient

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("support/http_receiver.py").path

    init(script: String = "[]") throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--script", script, "--idle-timeout", "60"]
        // The receiver exits on end of input, so it never outlives the test process.
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while !line.contains(0x0A) {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += data
        }
        let ready = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        guard ready?["type"] as? String == "ready", let p = ready?["port"] as? Int else {
            throw RelayError.internalError("receiver did not start: \(String(decoding: line, as: UTF8.self))")
        }
        port = UInt16(p)
        control = try HTTPClient(endpoint: HTTPEndpoint(parsing: "http://127.0.0.1:\(p)/"))
    }

    deinit {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    var url: String { "http://127.0.0.1:\(port)/ingest" }

    /// The recorded requests, as the control API reports them.
    func requests() throws -> [[String: Any]] {
        let r = try control.send(method: "GET", path: "/__control/requests", deadline: .after(millis: 5000))
        let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        return json?["requests"] as? [[String: Any]] ?? []
    }

    static func body(_ record: [String: Any]) -> [UInt8] {
        [UInt8](Data(base64Encoded: record["body_b64"] as? String ?? "") ?? Data())
    }

    static func header(_ record: [String: Any], _ name: String) -> String? {
        let pairs = record["headers"] as? [[String]] ?? []
        return pairs.first { $0.first?.lowercased() == name.lowercased() }?.last
    }
}

func seconds(since start: Int64) -> Double { Double(monotonicNanos() - start) / 1e9 }

func invalidMessage(_ body: () throws(RelayError) -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return error.kind == .invalidArgument ? error.message : "wrong kind: \(error)"
    }
}

// MARK: - Endpoints and headers

@Suite struct HTTPClientEndpointTests {
    /// One accepted URL and the parts it must yield.
    struct Valid: Sendable, CustomTestStringConvertible {
        var url: String
        var host: String
        var port: UInt16
        var target: String
        var explicit: Bool
        var hostHeader: String
        var literal: Bool
        var testDescription: String { url }
    }

    @Test(arguments: [
        Valid(
            url: "http://127.0.0.1:4318/v1/traces", host: "127.0.0.1", port: 4318, target: "/v1/traces",
            explicit: true, hostHeader: "127.0.0.1:4318", literal: true),
        Valid(
            url: "http://Collector.Example:8080", host: "collector.example", port: 8080, target: "/",
            explicit: false, hostHeader: "collector.example:8080", literal: false),
        Valid(
            url: "http://example.com", host: "example.com", port: 80, target: "/", explicit: false,
            hostHeader: "example.com", literal: false),
        Valid(
            url: "HTTP://example.com/", host: "example.com", port: 80, target: "/", explicit: true,
            hostHeader: "example.com", literal: false),
        Valid(
            url: "http://example.com?a=1&b=%2F", host: "example.com", port: 80, target: "/?a=1&b=%2F",
            explicit: true, hostHeader: "example.com", literal: false),
        Valid(
            url: "http://[::1]:9000/x?y", host: "::1", port: 9000, target: "/x?y", explicit: true,
            hostHeader: "[::1]:9000", literal: true),
        Valid(
            url: "http://[0:0:0:0:0:0:0:1]", host: "::1", port: 80, target: "/", explicit: false,
            hostHeader: "[::1]", literal: true),
        Valid(
            url: "http://my_service-1.local:00080/a/b", host: "my_service-1.local", port: 80, target: "/a/b",
            explicit: true, hostHeader: "my_service-1.local", literal: false),
    ])
    func parsesValidURLs(_ c: Valid) throws {
        let e = try HTTPEndpoint(parsing: c.url)
        #expect(e.host == c.host)
        #expect(e.port == c.port)
        #expect(e.target == c.target)
        #expect(e.hasExplicitTarget == c.explicit)
        #expect(e.hostHeader == c.hostHeader)
        #expect(e.isIPLiteral == c.literal)
        #expect(e.description == "http://" + c.hostHeader + c.target)
    }

    @Test(arguments: [
        ("", "endpoint URL is empty"),
        ("https://collector:4318/v1/traces", "TLS is not supported by this build"),
        ("https://collector:4318/v1/traces", "local collector or forwarder"),
        ("ftp://host/", "unsupported scheme \"ftp\""),
        ("collector:4318", "must start with http://"),
        ("http://user:pw@host/", "must not contain user information"),
        ("http://host/path#frag", "has a fragment"),
        ("http://host/pa\nth", "control character at offset 14"),
        ("http://host/a b", "contains a space"),
        ("http://hé.com/", "non-ASCII"),
        ("http:///path", "has an empty host"),
        ("http://:80/", "has an empty host"),
        ("http://host:/", "empty port"),
        ("http://host:http/", "port that is not a number"),
        ("http://host:0/", "out of range"),
        ("http://host:65536/", "out of range"),
        ("http://host:9999999999999/", "out of range"),
        ("http://::1/", "IPv6 address without brackets"),
        ("http://[::1/", "without a closing ']'"),
        ("http://[fe80::1%25eth0]/", "zone identifier"),
        ("http://[::g]/", "not a valid IPv6 address"),
        ("http://[::1]x/", "unexpected characters after ']'"),
        ("http://999.1.1.1/", "not a valid IPv4 address"),
        ("http://a..b/", "not a valid host name"),
        ("http://ho$t/", "invalid character '$'"),
        ("http://host/%zz", "malformed percent escape"),
        ("http://host/a|b", "'|' in its path"),
    ])
    func rejectsInvalidURLs(url: String, fragment: String) {
        let message = invalidMessage { () throws(RelayError) in _ = try HTTPEndpoint(parsing: url) }
        #expect(message?.contains(fragment) == true, "\(url): \(message ?? "accepted")")
    }

    @Test func errorMessagesQuoteTheURLSafely() {
        let message = invalidMessage { () throws(RelayError) in _ = try HTTPEndpoint(parsing: "http://h/\r\n") }
        #expect(message?.hasPrefix("endpoint URL \"http://h/\\r\\n\"") == true)
    }
}

@Suite struct HTTPClientHeaderTests {
    @Test(arguments: [
        ("", "header name is empty"),
        ("X Y", "not a valid HTTP token"),
        ("X:Y", "not a valid HTTP token"),
        ("Ünï", "not a valid HTTP token"),
    ])
    func rejectsBadNames(name: String, fragment: String) {
        let message = invalidMessage { () throws(RelayError) in try HTTPHeaders.validateName(name) }
        #expect(message?.contains(fragment) == true, "\(name): \(message ?? "accepted")")
    }

    @Test func acceptsTokensAndFieldValues() throws {
        try HTTPHeaders.validateName("X-Api-Key!#$%&'*+-.^_`|~09")
        try HTTPHeaders.validateValue("Bearer abc\tdef ü", name: "Authorization")
    }

    @Test(arguments: [
        ("a\rb", "carriage return (CR) at offset 1"),
        ("a\nb", "line feed (LF) at offset 1"),
        ("a\0b", "NUL byte at offset 1"),
        ("a\u{1}", "control character at offset 1"),
    ])
    func rejectsBadValues(value: String, fragment: String) {
        let message = invalidMessage { () throws(RelayError) in try HTTPHeaders.validateValue(value, name: "X") }
        #expect(message?.contains(fragment) == true, "\(message ?? "accepted")")
    }

    @Test func resolvesExplicitThenEnvironmentHeaders() throws {
        let env = ["TOKEN": "secret", "TENANT": " t1 "]
        let headers = try HTTPHeaders.resolve(
            headers: [(name: "X-A", value: "1")],
            headerEnv: [(name: "Authorization", variable: "TOKEN"), (name: "X-Tenant", variable: "TENANT")],
            environment: { env[$0] })
        #expect(
            headers == [HTTPHeader("X-A", "1"), HTTPHeader("Authorization", "secret"), HTTPHeader("X-Tenant", " t1 ")])
    }

    @Test func readsTheProcessEnvironmentOnce() throws {
        setenv("NEMO_RELAY_HTTP_TEST_TOKEN", "abc", 1)
        let headers = try HTTPHeaders.resolve(
            headers: [], headerEnv: [(name: "X-Token", variable: "NEMO_RELAY_HTTP_TEST_TOKEN")])
        setenv("NEMO_RELAY_HTTP_TEST_TOKEN", "changed", 1)
        #expect(headers == [HTTPHeader("X-Token", "abc")])
    }

    /// A header configuration that must be refused with a message containing `fragment`.
    struct Bad: Sendable, CustomTestStringConvertible {
        var headers: [String] = []  // "name=value"
        var env: [String] = []  // "name=VARIABLE"
        var fragment: String
        var testDescription: String { fragment }
    }

    @Test(arguments: [
        Bad(headers: ["X-A=1", "x-a=2"], fragment: "header \"x-a\" is configured more than once"),
        Bad(
            headers: ["X-A=1"], env: ["x-A=TOKEN"],
            fragment: "header \"x-A\" cannot be configured in both headers and header_env"),
        Bad(env: ["X-B=MISSING"], fragment: "environment variable \"MISSING\" for header \"X-B\" is not set"),
        Bad(env: ["X-B=BLANK"], fragment: "environment variable \"BLANK\" for header \"X-B\" is blank"),
        Bad(env: ["X-B=EMPTY"], fragment: "environment variable \"EMPTY\" for header \"X-B\" is blank"),
        Bad(env: ["X-B="], fragment: "invalid environment variable name \"\""),
        Bad(env: ["X-B=TOKEN", "x-b=TOKEN"], fragment: "configured more than once in header_env"),
        Bad(
            env: ["X-B=NEWLINE"],
            fragment: "line feed (LF) at offset 1 (value read from environment variable \"NEWLINE\")"),
        Bad(env: ["Bad Name=TOKEN"], fragment: "header name \"Bad Name\" is not a valid HTTP token"),
        Bad(headers: ["Host=evil"], fragment: "header \"Host\" is set by the HTTP client"),
        Bad(headers: ["transfer-encoding=chunked"], fragment: "is set by the HTTP client"),
        Bad(env: ["Content-Length=TOKEN"], fragment: "is set by the HTTP client"),
        Bad(headers: ["X-C=a\r\nInjected: 1"], fragment: "carriage return (CR) at offset 1"),
    ])
    func rejectsBadConfigurations(_ c: Bad) {
        let env = ["TOKEN": "t", "BLANK": "  \t", "EMPTY": "", "NEWLINE": "a\nb"]
        func split(_ s: String) -> (String, String) {
            let i = s.firstIndex(of: "=")!
            return (String(s[..<i]), String(s[s.index(after: i)...]))
        }
        let message = invalidMessage { () throws(RelayError) in
            _ = try HTTPHeaders.resolve(
                headers: c.headers.map(split).map { (name: $0.0, value: $0.1) },
                headerEnv: c.env.map(split).map { (name: $0.0, variable: $0.1) }, environment: { env[$0] })
        }
        #expect(message?.contains(c.fragment) == true, "\(message ?? "accepted")")
    }
}

// MARK: - Retry policy

@Suite struct HTTPClientRetryPolicyTests {
    static let ok = Result<HTTPResponse, HTTPError>.success(HTTPResponse(status: 200))
    static func status(_ s: Int, retryAfter: String? = nil) -> Result<HTTPResponse, HTTPError> {
        .success(HTTPResponse(status: s, headers: retryAfter.map { [HTTPHeader("Retry-After", $0)] } ?? []))
    }
    static let refused = Result<HTTPResponse, HTTPError>.failure(HTTPError(.connect, "refused", retryable: true))
    static let malformed = Result<HTTPResponse, HTTPError>.failure(HTTPError(.protocolError, "bad", retryable: false))

    func decide(
        _ p: RetryPolicy, _ attempt: Int, _ outcome: Result<HTTPResponse, HTTPError>, elapsed: Int64 = 0,
        random: UInt64 = .max
    ) -> RetryPolicy.Decision {
        var rng = FixedRandom(value: random)
        return p.decide(
            attempt: attempt, outcome: outcome, elapsedNanos: elapsed, nowEpochSeconds: 784_111_777, random: &rng)
    }

    @Test func statusSetsOfTheBuiltInPolicies() {
        for s in [429, 500, 501, 502, 503, 504, 599] { #expect(RetryPolicy.atofStream.retryableStatuses.contains(s)) }
        #expect(RetryPolicy.otlp.retryableStatuses == [429, 502, 503, 504])
        #expect(decide(.otlp, 1, Self.status(500)) == .stop(.notRetryable))
        #expect(decide(.atofStream, 1, Self.status(500)) == .retry(afterNanos: 250_000_000))
        #expect(decide(.never, 1, Self.status(503)) == .stop(.notRetryable))
        #expect(decide(.never, 1, Self.refused) == .stop(.attemptsExhausted))
    }

    @Test func outcomesThatStop() {
        let p = RetryPolicy.atofStream
        #expect(decide(p, 1, Self.ok) == .stop(.success))
        #expect(decide(p, 1, Self.status(204)) == .stop(.success))
        #expect(decide(p, 1, Self.status(400)) == .stop(.notRetryable))
        #expect(decide(p, 1, Self.status(404)) == .stop(.notRetryable))
        #expect(decide(p, 1, Self.malformed) == .stop(.notRetryable))
        #expect(decide(p, 5, Self.refused) == .stop(.attemptsExhausted))
        #expect(decide(p, 4, Self.refused) != .stop(.attemptsExhausted))
    }

    @Test func exponentialCeilingsAreCapped() {
        let p = RetryPolicy(retryableStatuses: [503], maxAttempts: 100)
        let ms = (1...8).map { p.backoffCeiling(afterAttempt: $0) / 1_000_000 }
        #expect(ms == [250, 500, 1000, 2000, 4000, 5000, 5000, 5000])
        #expect(p.backoffCeiling(afterAttempt: 1000) == 5_000_000_000)
        // The draw spans the whole ceiling: the largest random value gives the ceiling, 1 gives zero.
        #expect(decide(p, 3, Self.refused, random: .max) == .retry(afterNanos: 1_000_000_000))
        #expect(decide(p, 3, Self.refused, random: 1) == .retry(afterNanos: 0))
    }

    @Test func fullJitterStaysWithinTheCeilingAndSpreads() {
        let p = RetryPolicy(retryableStatuses: [503], maxAttempts: 10)
        var rng = SeededRandom(seed: 42)
        var delays: [Int64] = []
        for _ in 0..<500 {
            guard
                case .retry(let d) = p.decide(
                    attempt: 4, outcome: Self.refused, elapsedNanos: 0, nowEpochSeconds: 0, random: &rng)
            else {
                Issue.record("expected a retry")
                return
            }
            delays.append(d)
        }
        #expect(delays.allSatisfy { $0 >= 0 && $0 <= 2_000_000_000 })
        #expect(delays.contains { $0 < 500_000_000 })
        #expect(delays.contains { $0 > 1_500_000_000 })
    }

    @Test func retryAfterIsHonouredWithoutJitterAndCapped() {
        let p = RetryPolicy(
            retryableStatuses: [429, 503], maxRetryAfterNanos: 10_000_000_000, budgetNanos: 60_000_000_000)
        #expect(decide(p, 1, Self.status(429, retryAfter: "2"), random: 1) == .retry(afterNanos: 2_000_000_000))
        #expect(decide(p, 1, Self.status(503, retryAfter: "0")) == .retry(afterNanos: 0))
        #expect(decide(p, 1, Self.status(429, retryAfter: "3600")) == .retry(afterNanos: 10_000_000_000))
        #expect(
            decide(p, 1, Self.status(429, retryAfter: "99999999999999999999")) == .retry(afterNanos: 10_000_000_000))
        // 784111777 is "now" in `decide`: the date below is five seconds later.
        #expect(
            decide(p, 1, Self.status(429, retryAfter: "Sun, 06 Nov 1994 08:49:42 GMT"))
                == .retry(afterNanos: 5_000_000_000))
        #expect(decide(p, 1, Self.status(429, retryAfter: "Sun, 06 Nov 1994 08:00:00 GMT")) == .retry(afterNanos: 0))
        // An unreadable hint falls back to backoff.
        #expect(decide(p, 1, Self.status(429, retryAfter: "soon"), random: .max) == .retry(afterNanos: 250_000_000))
        // A hint on a status that is not retried changes nothing.
        #expect(decide(p, 1, Self.status(400, retryAfter: "1")) == .stop(.notRetryable))
    }

    @Test func theBudgetBoundsTheNextWait() {
        let p = RetryPolicy(retryableStatuses: [429], budgetNanos: 3_000_000_000)
        #expect(
            decide(p, 1, Self.status(429, retryAfter: "2"), elapsed: 500_000_000) == .retry(afterNanos: 2_000_000_000))
        #expect(decide(p, 1, Self.status(429, retryAfter: "2"), elapsed: 1_000_000_000) == .stop(.budgetExhausted))
        #expect(decide(p, 1, Self.refused, elapsed: 3_000_000_000, random: 1) == .stop(.budgetExhausted))
    }

    @Test(arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
        ("Sun Nov  6 08:49:37 1994", 784_111_777),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Tue, 29 Feb 2028 23:59:59 GMT", 1_835_481_599),
    ])
    func parsesTheThreeHTTPDateFormats(text: String, epoch: Int64) {
        #expect(HTTPDate.parse(text) == epoch)
    }

    @Test(arguments: ["", "1.5", "-1", "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "06 Nov 1994"])
    func rejectsUnreadableRetryAfter(text: String) {
        #expect(RetryPolicy.parseRetryAfter(text, nowEpochSeconds: 0) == nil)
    }
}

// MARK: - Live exchanges

@Suite(.serialized) struct HTTPClientLiveTests {
    @Test func keepsOneConnectionAliveAcrossRequests() throws {
        let rx = try HTTPReceiver()
        let client = try HTTPClient(
            endpoint: HTTPEndpoint(parsing: rx.url), headers: [HTTPHeader("X-Api-Key", "k1")])
        for i in 0..<3 {
            let r = try client.send(
                contentType: "application/x-ndjson", body: Array("{\"i\":\(i)}\n".utf8), deadline: .after(millis: 5000))
            #expect(r.status == 200)
        }
        let recorded = try rx.requests()
        #expect(recorded.count == 3)
        #expect(Set(recorded.compactMap { $0["connection"] as? Int }).count == 1)
        #expect(client.stats.connections == 1)
        #expect(client.stats.requests == 3)
        #expect(client.stats.failures == 0)
        let first = try #require(recorded.first)
        #expect(first["method"] as? String == "POST")
        #expect(first["path"] as? String == "/ingest")
        #expect(HTTPReceiver.body(first) == Array("{\"i\":0}\n".utf8))
        #expect(HTTPReceiver.header(first, "host") == "127.0.0.1:\(rx.port)")
        #expect(HTTPReceiver.header(first, "user-agent") == "nemo-relay/" + RelayVersion.string)
        #expect(HTTPReceiver.header(first, "content-type") == "application/x-ndjson")
        #expect(HTTPReceiver.header(first, "content-length") == "8")
        #expect(HTTPReceiver.header(first, "x-api-key") == "k1")
    }

    @Test func reachesLocalhostByName() throws {
        let rx = try HTTPReceiver()
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: "http://localhost:\(rx.port)/x"))
        #expect(try client.send(body: [1], deadline: .after(millis: 5000)).status == 200)
        #expect(HTTPReceiver.header(try #require(try rx.requests().first), "host") == "localhost:\(rx.port)")
    }

    @Test func honoursRetryAfter() throws {
        let rx = try HTTPReceiver(script: #"[{"status":429,"retry_after":"1"}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        let start = monotonicNanos()
        let out = client.perform(body: [1], policy: .atofStream, attemptTimeoutNanos: 5_000_000_000)
        let took = seconds(since: start)
        #expect(out.succeeded)
        #expect(out.attempts == 2)
        #expect(took >= 0.95 && took < 4, "took \(took) s")
        #expect(client.stats.retries == 1)
        #expect(client.stats.failures == 0)
    }

    @Test func retries503ThenSucceeds() throws {
        let rx = try HTTPReceiver(script: #"[{"status":503},{"status":503}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        var policy = RetryPolicy.otlp
        policy.initialBackoffNanos = 10_000_000
        var sleeps: [Int64] = []
        let out = client.perform(
            body: [1], policy: policy, attemptTimeoutNanos: 5_000_000_000,
            sleep: {
                sleeps.append($0)
                return HTTPClient.sleepNanos($0)
            })
        #expect(out.succeeded)
        #expect(out.attempts == 3)
        #expect(out.stopReason == .success)
        #expect(sleeps.count == 2 && sleeps.allSatisfy { $0 <= 20_000_000 })
        #expect(try rx.requests().count == 3)
        #expect(client.stats.requests == 3 && client.stats.retries == 2)
    }

    @Test func doesNotRetry400() throws {
        let rx = try HTTPReceiver(script: #"[{"status":400,"body":"bad payload"}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        let out = client.perform(body: [1], policy: .atofStream, attemptTimeoutNanos: 5_000_000_000)
        #expect(!out.succeeded)
        #expect(out.attempts == 1)
        #expect(out.stopReason == .notRetryable)
        #expect(out.response?.status == 400)
        #expect(out.response.map { String(decoding: $0.body, as: UTF8.self) } == "bad payload")
        #expect(try rx.requests().count == 1)
        let stats = client.stats
        #expect(stats.failures == 1)
        #expect(stats.lastError?.contains("HTTP 400 Bad Request") == true, "\(stats.lastError ?? "")")
        #expect(stats.lastError?.contains("not retryable") == true)
    }

    @Test func retriesADroppedConnection() throws {
        let rx = try HTTPReceiver(script: #"[{"drop":true}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        var policy = RetryPolicy.atofStream
        policy.initialBackoffNanos = 10_000_000
        let out = client.perform(body: [1], policy: policy, attemptTimeoutNanos: 5_000_000_000)
        #expect(out.succeeded)
        #expect(out.attempts == 2)
        #expect(try rx.requests().count == 2)
    }

    @Test func aHangIsBoundedByTheDeadline() throws {
        let rx = try HTTPReceiver(script: #"[{"hang_ms":5000}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        let start = monotonicNanos()
        do {
            _ = try client.send(body: [1], deadline: .after(millis: 300))
            Issue.record("expected a timeout")
        } catch {
            #expect(error.kind == .timeout)
            #expect(error.message.contains("waiting for the response"))
        }
        let took = seconds(since: start)
        // A correctness bound (deadline plus scheduling slack), not a speed claim.
        #expect(took >= 0.29 && took < 1.5, "took \(took) s")
        #expect(client.stats.failures == 1)
    }

    @Test func performSharesOneBudgetAcrossAttempts() throws {
        let rx = try HTTPReceiver(script: #"{"script":[],"default":{"hang_ms":5000}}"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        var policy = RetryPolicy.atofStream
        policy.budgetNanos = 700_000_000
        policy.initialBackoffNanos = 1_000_000
        let start = monotonicNanos()
        let out = client.perform(body: [1], policy: policy, attemptTimeoutNanos: 300_000_000)
        let took = seconds(since: start)
        #expect(!out.succeeded)
        #expect(out.error?.kind == .timeout)
        #expect(out.attempts >= 2)
        #expect(took < 0.7 + 0.8, "took \(took) s")
    }

    @Test func uploadsAChunkedBodyIntact() throws {
        let rx = try HTTPReceiver()
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        let lines = (0..<3).map {
            Array("{\"event\":\($0),\"pad\":\"\(String(repeating: "x", count: 300 * $0))\"}\n".utf8)
        }
        let upload = try client.openChunked(contentType: "application/x-ndjson", deadline: .after(millis: 5000))
        try upload.write(lines[0], deadline: .after(millis: 5000))
        // The first line reaches the receiver while the upload is still open.
        var seen = 0
        var polls = 0
        while seen == 0 && polls < 250 {
            seen = try rx.requests().first?["body_length"] as? Int ?? 0
            polls += 1
            if seen == 0 { usleep(20_000) }
        }
        #expect(seen == lines[0].count)
        try upload.write([], deadline: .after(millis: 5000))
        try upload.write(lines[1], deadline: .after(millis: 5000))
        try upload.write(lines[2], deadline: .after(millis: 5000))
        let r = try upload.finish(deadline: .after(millis: 5000))
        #expect(r.status == 200)
        let record = try #require(try rx.requests().first)
        #expect(record["chunked"] as? Bool == true)
        #expect(record["chunks"] as? Int == 3)
        #expect(record["complete"] as? Bool == true)
        #expect(HTTPReceiver.body(record) == lines.flatMap { $0 })
        #expect(HTTPReceiver.header(record, "content-length") == nil)
        // The connection goes back to the client and carries the next request.
        _ = try client.send(body: [1], deadline: .after(millis: 5000))
        #expect(client.stats.connections == 1)
    }

    @Test func reportsAnAnswerSentBeforeTheUploadFinished() throws {
        let rx = try HTTPReceiver(script: #"[{"status":413,"body":"too big","early":true}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        let upload = try client.openChunked(contentType: "application/x-ndjson", deadline: .after(millis: 5000))
        var error: HTTPError?
        for _ in 0..<250 where error == nil {
            do {
                try upload.write(Array("{}\n".utf8), deadline: .after(millis: 5000))
                usleep(20_000)
            } catch let e {
                error = e
            }
        }
        #expect(error?.kind == .earlyResponse)
        #expect(error?.status == 413)
        let r = try upload.finish(deadline: .after(millis: 5000))
        #expect(r.status == 413)
        #expect(String(decoding: r.body, as: UTF8.self) == "too big")
        #expect(client.stats.failures == 1)
        #expect(client.stats.lastError?.contains("before the upload finished") == true)
        // The client is usable again, on a new connection.
        #expect(try client.send(body: [1], deadline: .after(millis: 5000)).status == 200)
        #expect(client.stats.connections == 2)
    }

    @Test func replaysAnUploadWhoseReusedConnectionDiedBeforeAnswering() throws {
        let rx = try HTTPReceiver(script: #"[{"status":200},{"drop":true}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        #expect(try client.send(body: [1], deadline: .after(millis: 5000)).status == 200)
        let upload = try client.openChunked(deadline: .after(millis: 5000))
        try upload.write(Array("a\n".utf8), deadline: .after(millis: 5000))
        try upload.write(Array("b\n".utf8), deadline: .after(millis: 5000))
        #expect(try upload.finish(deadline: .after(millis: 5000)).status == 200)
        let recorded = try rx.requests()
        #expect(recorded.count == 3)
        #expect(recorded.dropFirst().map { HTTPReceiver.body($0) } == [Array("a\nb\n".utf8), Array("a\nb\n".utf8)])
        #expect(recorded.dropFirst().allSatisfy { $0["chunked"] as? Bool == true })
        #expect(client.stats.connections == 2)
        #expect(client.stats.failures == 0)
    }

    @Test func reconnectsAfterTheServerClosedAnIdleConnection() throws {
        let rx = try HTTPReceiver(script: #"[{"status":200,"close":true}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        #expect(try client.send(body: [1], deadline: .after(millis: 5000)).status == 200)
        usleep(100_000)  // let the FIN arrive, as when a server's keep-alive timeout expires between batches
        #expect(try client.send(body: [2], deadline: .after(millis: 5000)).status == 200)
        let recorded = try rx.requests()
        #expect(recorded.count == 2)
        #expect(recorded.compactMap { $0["connection"] as? Int }.count == 2)
        #expect(Set(recorded.compactMap { $0["connection"] as? Int }).count == 2)
        #expect(client.stats.connections == 2)
        #expect(client.stats.failures == 0)
    }

    @Test func replaysOnceWhenAReusedConnectionDiesBeforeAnswering() throws {
        // The second request arrives on the kept-alive connection, which the server then drops unanswered.
        let rx = try HTTPReceiver(script: #"[{"status":200},{"drop":true}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        #expect(try client.send(body: [1], deadline: .after(millis: 5000)).status == 200)
        #expect(try client.send(body: [2], deadline: .after(millis: 5000)).status == 200)
        let recorded = try rx.requests()
        #expect(recorded.map { HTTPReceiver.body($0) } == [[1], [2], [2]])
        #expect(client.stats.requests == 2)
        #expect(client.stats.connections == 2)
        // On a fresh connection the same drop is an error: only reuse is replayed silently.
        _ = try rx.control.send(
            path: "/__control/script", body: Array(#"[{"drop":true}]"#.utf8), deadline: .after(millis: 5000))
        client.close()
        #expect(throws: HTTPError.self) { _ = try client.send(body: [3], deadline: .after(millis: 5000)) }
    }

    @Test func aRefusedConnectionFailsFast() throws {
        // Bind a port and close it again, so that nothing listens there.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        close(fd)
        let port = UInt16(bigEndian: addr.sin_port)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: "http://127.0.0.1:\(port)/"))
        let start = monotonicNanos()
        do {
            _ = try client.send(body: [1], deadline: .after(millis: 5000))
            Issue.record("expected a connect error")
        } catch {
            #expect(error.kind == .connect)
            #expect(error.retryable)
            #expect(error.message.contains("Connection refused"), "\(error.message)")
        }
        #expect(seconds(since: start) < 1)
        let out = client.perform(body: [1], policy: .never, attemptTimeoutNanos: 5_000_000_000)
        #expect(out.error?.kind == .connect)
        #expect(out.attempts == 1)
        #expect(client.stats.failures == 2)
    }

    @Test func readsChunkedCloseDelimitedAndOversizedBodies() throws {
        let rx = try HTTPReceiver(
            script: #"[{"body_size":2500,"mode":"chunked"},{"body":"abc","mode":"close"},{"body_size":3000}]"#)
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url), maxResponseBody: 2600)
        let chunked = try client.send(body: [1], deadline: .after(millis: 5000))
        #expect(chunked.body == [UInt8](repeating: UInt8(ascii: "x"), count: 2500) && !chunked.bodyTruncated)
        #expect(chunked.header("TRANSFER-ENCODING") == "chunked")
        let closing = try client.send(body: [2], deadline: .after(millis: 5000))
        #expect(closing.body == Array("abc".utf8))
        let big = try client.send(body: [3], deadline: .after(millis: 5000))
        #expect(big.status == 200 && big.bodyTruncated && big.body.count == 2600)
        #expect(client.stats.connections == 2)
        // After a truncated body the connection is dropped, and the next request opens another.
        #expect(try client.send(body: [4], deadline: .after(millis: 5000)).status == 200)
        #expect(client.stats.connections == 3)
    }

    @Test func refusesRequestsWhileAnUploadIsOpen() throws {
        let rx = try HTTPReceiver()
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: rx.url))
        let upload = try client.openChunked(deadline: .after(millis: 5000))
        do {
            _ = try client.send(body: [1], deadline: .after(millis: 5000))
            Issue.record("expected a refusal")
        } catch {
            #expect(error.kind == .invalidRequest)
        }
        upload.abort()
        #expect(try client.send(body: [1], deadline: .after(millis: 5000)).status == 200)
    }

    @Test func rejectsMalformedRequestsBeforeConnecting() throws {
        let client = try HTTPClient(endpoint: HTTPEndpoint(parsing: "http://127.0.0.1:9/"))
        for (method, path, header) in [("PO ST", "/", "X"), ("POST", "x", "X"), ("POST", "/", "Bad Name")] {
            do {
                _ = try client.send(
                    method: method, path: path, headers: [HTTPHeader(header, "v")], deadline: .after(millis: 100))
                Issue.record("accepted \(method) \(path) \(header)")
            } catch {
                #expect(error.kind == .invalidRequest)
            }
        }
        #expect(client.stats.connections == 0)
    }
}
