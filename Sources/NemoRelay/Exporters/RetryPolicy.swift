// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Policy

/// When and how long to wait before sending a failed request again.
///
/// Retried: connection failures and timeouts (``HTTPError/retryable``) and the statuses in `retryableStatuses`.
/// The wait honours `Retry-After` (capped at `maxRetryAfterNanos`), else is exponential backoff with full jitter:
/// a uniform draw in `0...min(maxBackoffNanos, initialBackoffNanos * 2^(attempt-1))`. Attempts stop at
/// `maxAttempts`, and before a wait that would end past `budgetNanos` from the first attempt's start.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included; 1 means never retry.
    public var maxAttempts: Int
    /// The backoff ceiling after the first attempt.
    public var initialBackoffNanos: Int64
    /// The largest backoff ceiling.
    public var maxBackoffNanos: Int64
    /// The longest wait a `Retry-After` header can ask for; longer hints are cut to this.
    public var maxRetryAfterNanos: Int64
    /// The time from the first attempt's start after which no new attempt starts.
    public var budgetNanos: Int64
    /// Statuses that are retried; every other non-2xx status ends the request.
    public var retryableStatuses: Set<Int>

    /// Creates a policy; the defaults suit an exporter with a few seconds of patience per batch.
    public init(
        retryableStatuses: Set<Int>, maxAttempts: Int = 5, initialBackoffNanos: Int64 = 250_000_000,
        maxBackoffNanos: Int64 = 5_000_000_000, maxRetryAfterNanos: Int64 = 30_000_000_000,
        budgetNanos: Int64 = 30_000_000_000
    ) {
        self.retryableStatuses = retryableStatuses
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoffNanos = max(0, initialBackoffNanos)
        self.maxBackoffNanos = max(0, maxBackoffNanos)
        self.maxRetryAfterNanos = max(0, maxRetryAfterNanos)
        self.budgetNanos = max(0, budgetNanos)
    }

    /// ATOF stream sinks: retry 429 and every 5xx.
    public static let atofStream = RetryPolicy(retryableStatuses: Set([429]).union(500...599))
    /// OTLP/HTTP: retry only 429, 502, 503 and 504, as the OTLP specification requires.
    public static let otlp = RetryPolicy(retryableStatuses: [429, 502, 503, 504])
    /// A single attempt.
    public static let never = RetryPolicy(retryableStatuses: [], maxAttempts: 1)

    /// Why a request stopped being attempted.
    public enum StopReason: String, Sendable {
        /// The last attempt got a 2xx response.
        case success
        /// The last outcome is not retried (a status outside the set, a malformed request or response).
        case notRetryable = "not_retryable"
        /// `maxAttempts` attempts were made.
        case attemptsExhausted = "attempts_exhausted"
        /// The next wait would end past the time budget.
        case budgetExhausted = "budget_exhausted"
        /// The sleep function reported cancellation.
        case cancelled
    }

    /// What to do after an attempt.
    public enum Decision: Sendable, Hashable {
        /// Wait this long, then attempt again.
        case retry(afterNanos: Int64)
        /// Stop, for this reason.
        case stop(StopReason)
    }

    /// The backoff ceiling for the wait after attempt number `attempt` (1-based): the range full jitter draws from.
    public func backoffCeiling(afterAttempt attempt: Int) -> Int64 {
        let shift = max(0, attempt - 1)
        if initialBackoffNanos == 0 { return 0 }
        if shift >= 62 || initialBackoffNanos > maxBackoffNanos >> shift { return maxBackoffNanos }
        return min(maxBackoffNanos, initialBackoffNanos << shift)
    }

    /// Decides what follows attempt number `attempt` (1-based) that ended with `outcome`, `elapsedNanos` after the
    /// first attempt started; `nowEpochSeconds` resolves `Retry-After` dates, `random` draws the jitter.
    public func decide(
        attempt: Int, outcome: Result<HTTPResponse, HTTPError>, elapsedNanos: Int64, nowEpochSeconds: Int64,
        random: inout some RandomNumberGenerator
    ) -> Decision {
        var hint: Int64?
        switch outcome {
        case .success(let r):
            if r.isSuccess { return .stop(.success) }
            guard retryableStatuses.contains(r.status) else { return .stop(.notRetryable) }
            hint = r.header("retry-after").flatMap { Self.parseRetryAfter($0, nowEpochSeconds: nowEpochSeconds) }
        case .failure(let e):
            guard e.retryable else { return .stop(.notRetryable) }
        }
        if attempt >= maxAttempts { return .stop(.attemptsExhausted) }
        let delay: Int64
        if let hint {
            delay = min(hint, maxRetryAfterNanos)
        } else {
            let ceiling = backoffCeiling(afterAttempt: attempt)
            delay = ceiling > 0 ? Int64.random(in: 0...ceiling, using: &random) : 0
        }
        if elapsedNanos >= budgetNanos || delay >= budgetNanos - elapsedNanos { return .stop(.budgetExhausted) }
        return .retry(afterNanos: delay)
    }

    // MARK: Retry-After

    /// The wait a `Retry-After` value asks for, in nanoseconds: delay-seconds or an HTTP-date (a past date is 0).
    ///
    /// Returns nil for a value that is neither; huge values saturate (callers cap them).
    public static func parseRetryAfter(_ value: String, nowEpochSeconds: Int64) -> Int64? {
        let v = value.trimmingSpaces()
        if !v.isEmpty, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard v.utf8.count <= 9, let secs = Int64(v) else { return .max }
            return secs * 1_000_000_000
        }
        guard let when = HTTPDate.parse(v) else { return nil }
        let secs = when - nowEpochSeconds
        if secs <= 0 { return 0 }
        return secs > Int64.max / 1_000_000_000 ? .max : secs * 1_000_000_000
    }
}

// MARK: - HTTP dates

/// The three date formats RFC 9110 section 5.6.7 requires recipients to accept.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Seconds since the Unix epoch of an IMF-fixdate, RFC 850 or asctime date, or nil.
    static func parse(_ s: String) -> Int64? {
        let t = s.split(separator: " ").map(String.init)
        if t.count == 6, t[0].hasSuffix(","), t[5] == "GMT" {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            return make(day: t[1], month: t[2], year: t[3], time: t[4], yearDigits: 4)
        }
        if t.count == 4, t[0].hasSuffix(","), t[3] == "GMT" {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let d = t[1].split(separator: "-").map(String.init)
            guard d.count == 3 else { return nil }
            return make(day: d[0], month: d[1], year: d[2], time: t[2], yearDigits: 2)
        }
        if t.count == 5 {
            // asctime: Sun Nov  6 08:49:37 1994
            return make(day: t[2], month: t[1], year: t[4], time: t[3], yearDigits: 4)
        }
        return nil
    }

    private static func make(day: String, month: String, year: String, time: String, yearDigits: Int) -> Int64? {
        guard let m = months.firstIndex(of: month.lowercased()), day.count <= 2, let d = Int(day), (1...31).contains(d),
            year.count == yearDigits, var y = Int(year)
        else { return nil }
        if yearDigits == 2 { y += y < 70 ? 2000 : 1900 }
        let hms = time.split(separator: ":")
        guard hms.count == 3, hms.allSatisfy({ $0.count == 2 }), let h = Int(hms[0]), let mi = Int(hms[1]),
            let sec = Int(hms[2]), h < 24, mi < 60, sec <= 60
        else { return nil }
        return daysFromCivil(Int64(y), Int64(m + 1), Int64(d)) * 86_400 + Int64(h * 3600 + mi * 60 + sec)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

// MARK: - Performing

/// The end of a request run under a ``RetryPolicy``.
public struct RetryOutcome: Sendable, Hashable {
    /// The last attempt's response, if it got one.
    public var response: HTTPResponse?
    /// The last attempt's error, if it got no response.
    public var error: HTTPError?
    /// Attempts made.
    public var attempts: Int
    /// Why attempts stopped.
    public var stopReason: RetryPolicy.StopReason
    /// Time from the first attempt's start to the end.
    public var elapsedNanos: Int64

    /// Whether the last attempt got a 2xx response.
    public var succeeded: Bool { response?.isSuccess ?? false }

    /// The failure in words, nil on success.
    public var errorText: String? {
        if succeeded { return nil }
        if let error { return error.message }
        return response.map { $0.statusText }
    }
}

extension HTTPClient {
    /// Sleeps for `nanos` on the calling thread; never cancelled.
    public static func sleepNanos(_ nanos: Int64) -> Bool {
        var req = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
        return true
    }

    /// Sends a `Content-Length` request under `policy`, sleeping between attempts.
    ///
    /// Each attempt gets `attemptTimeoutNanos`, cut to what is left of the policy's budget. `sleep` waits between
    /// attempts and returns false to cancel (for example when the exporter shuts down). ``stats`` counts every
    /// attempt in `requests`, each retry in `retries`, and the whole run once in `failures` if it did not succeed.
    public func perform(
        method: String = "POST", path: String? = nil, headers: [HTTPHeader] = [], contentType: String? = nil,
        body: [UInt8], policy: RetryPolicy, attemptTimeoutNanos: Int64, random: inout some RandomNumberGenerator,
        sleep: (Int64) -> Bool = HTTPClient.sleepNanos
    ) -> RetryOutcome {
        let start = monotonicNanos()
        let budgetEnd = start.addingReportingOverflow(policy.budgetNanos)
        let end = budgetEnd.overflow ? Int64.max : budgetEnd.partialValue
        var attempt = 0
        while true {
            attempt += 1
            if attempt > 1 { record { $0.retries += 1 } }
            let deadline = min(Deadline.after(nanos: attemptTimeoutNanos), Deadline(monotonicNanos: end))
            let outcome: Result<HTTPResponse, HTTPError>
            do {
                outcome = .success(
                    try exchange(
                        method: method, path: path, headers: headers, contentType: contentType, body: body,
                        deadline: deadline))
            } catch {
                outcome = .failure(error)
            }
            let nowEpoch = SystemClock().now() / 1_000_000_000
            let decision = policy.decide(
                attempt: attempt, outcome: outcome, elapsedNanos: monotonicNanos() - start, nowEpochSeconds: nowEpoch,
                random: &random)
            var reason: RetryPolicy.StopReason
            switch decision {
            case .retry(let nanos):
                if sleep(nanos) { continue }
                reason = .cancelled
            case .stop(let r):
                reason = r
            }
            var result = RetryOutcome(
                response: nil, error: nil, attempts: attempt, stopReason: reason, elapsedNanos: monotonicNanos() - start
            )
            switch outcome {
            case .success(let r): result.response = r
            case .failure(let e): result.error = e
            }
            if !result.succeeded {
                noteFailure(
                    (result.errorText ?? "request failed") + " (after \(attempt) attempt\(attempt == 1 ? "" : "s"), "
                        + reason.rawValue.replacingUnderscores() + ")")
            }
            return result
        }
    }

    /// ``perform(method:path:headers:contentType:body:policy:attemptTimeoutNanos:random:sleep:)`` with the system's
    /// random number generator.
    public func perform(
        method: String = "POST", path: String? = nil, headers: [HTTPHeader] = [], contentType: String? = nil,
        body: [UInt8], policy: RetryPolicy, attemptTimeoutNanos: Int64, sleep: (Int64) -> Bool = HTTPClient.sleepNanos
    ) -> RetryOutcome {
        var rng = SystemRandomNumberGenerator()
        return perform(
            method: method, path: path, headers: headers, contentType: contentType, body: body, policy: policy,
            attemptTimeoutNanos: attemptTimeoutNanos, random: &rng, sleep: sleep)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(map { $0 == "_" ? " " : $0 }) }
}
