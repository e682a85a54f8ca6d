// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One TCP connection to an endpoint: non-blocking socket I/O bounded by deadlines, and HTTP/1.1 response reading.
///
/// Owned by one ``HTTPClient`` (or the ``HTTPChunkedUpload`` that borrowed it) and used by one thread at a time.
final class HTTPConnection {
    /// The socket, or -1 once closed.
    private(set) var fd: Int32
    /// `host:port`, for messages.
    let peer: String
    /// Received bytes not consumed yet start at `readIndex`.
    var buffer: [UInt8] = []
    var readIndex = 0
    /// Bytes received since the current request began; a request that saw none may be replayed on a new connection.
    private(set) var responseBytes = 0
    /// Completed exchanges; more than zero means the connection is being reused.
    var exchanges = 0

    private init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit { close() }

    /// Marks the start of a request: response bytes are counted from here.
    func beginExchange() { responseBytes = 0 }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: Connecting

    /// Resolves and connects within `deadline`, trying each resolved address in turn.
    ///
    /// Name resolution uses `getaddrinfo`, which blocks and ignores the deadline; IP literals and `localhost`
    /// (127.0.0.1, then ::1) skip it.
    static func open(_ endpoint: HTTPEndpoint, deadline: Deadline) throws(HTTPError) -> HTTPConnection {
        let peer = endpoint.authority
        var lastError = HTTPError(.connect, "could not connect to \(peer): no address", retryable: true)
        for address in try resolve(endpoint) {
            if deadline.hasPassed { break }
            do {
                let fd = try connect(address, peer: peer, deadline: deadline)
                return HTTPConnection(fd: fd, peer: peer)
            } catch {
                lastError = error
                if error.kind == .timeout { break }
            }
        }
        if deadline.hasPassed && lastError.kind != .timeout {
            throw HTTPError(.timeout, "timed out connecting to \(peer)", retryable: true)
        }
        throw lastError
    }

    /// The socket address of an IP literal, as raw `sockaddr` bytes.
    private static func literal(_ host: String, _ port: UInt16) -> [UInt8] {
        if host.contains(":") {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            _ = inet_pton(AF_INET6, host, &sa.sin6_addr)
            return withUnsafeBytes(of: &sa) { Array($0) }
        }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        _ = inet_pton(AF_INET, host, &sa.sin_addr)
        return withUnsafeBytes(of: &sa) { Array($0) }
    }

    /// The socket addresses of `endpoint`, as raw `sockaddr` bytes.
    private static func resolve(_ endpoint: HTTPEndpoint) throws(HTTPError) -> [[UInt8]] {
        if endpoint.isIPLiteral { return [literal(endpoint.host, endpoint.port)] }
        // RFC 6761: `localhost` names are loopback; answering here keeps them off the blocking resolver.
        if endpoint.host == "localhost" || endpoint.host.hasSuffix(".localhost") {
            return [literal("127.0.0.1", endpoint.port), literal("::1", endpoint.port)]
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard rc == 0, let first = list else {
            let text = String(cString: gai_strerror(rc))
            // EAI_AGAIN is a temporary failure of the resolver; anything else (unknown name) will not heal by retrying.
            throw HTTPError(.resolve, "could not resolve \(endpoint.host): \(text)", retryable: rc == EAI_AGAIN)
        }
        defer { freeaddrinfo(first) }
        var out: [[UInt8]] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let addr = ai.pointee.ai_addr {
                out.append(Array(UnsafeRawBufferPointer(start: addr, count: Int(ai.pointee.ai_addrlen))))
            }
            p = ai.pointee.ai_next
        }
        return out
    }

    private static func connect(_ address: [UInt8], peer: String, deadline: Deadline) throws(HTTPError) -> Int32 {
        let family = address.withUnsafeBytes { Int32($0.load(as: sa_family_t.self)) }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw HTTPError(.connect, "socket() failed: \(errnoText())", retryable: true) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withUnsafeBytes {
            Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        if rc == 0 { return fd }
        if errno != EINPROGRESS && errno != EINTR {
            let text = errnoText()
            _ = Glibc.close(fd)
            throw HTTPError(.connect, "could not connect to \(peer): \(text)", retryable: true)
        }
        do {
            try wait(fd, Int16(POLLOUT), deadline: deadline, doing: "connecting to \(peer)")
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
        if soError != 0 {
            _ = Glibc.close(fd)
            throw HTTPError(
                .connect, "could not connect to \(peer): \(String(cString: strerror(soError)))", retryable: true)
        }
        return fd
    }

    // MARK: Socket I/O

    /// Waits until `fd` is ready for `events` or `deadline` passes (a timeout error).
    private static func wait(_ fd: Int32, _ events: Int16, deadline: Deadline, doing: String) throws(HTTPError) {
        while true {
            let remaining = deadline.remainingNanos
            if remaining <= 0 { throw HTTPError(.timeout, "timed out " + doing, retryable: true) }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(min((remaining + 999_999) / 1_000_000, Int64(Int32.max)))
            let rc = poll(&p, 1, ms)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR {
                throw HTTPError(.connectionLost, "poll failed while \(doing): \(errnoText())", retryable: true)
            }
        }
    }

    /// Whether a kept-alive connection can carry another request: nothing unexpected pending, and not closed.
    func isReusable() -> Bool {
        guard fd >= 0, readIndex == buffer.count else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, 0)
        if rc == 0 { return true }
        // Readable while idle means the server closed (EOF or reset) or sent stray bytes: either way, not reusable.
        return false
    }

    /// Whether the server has sent something (or closed) while the client is still writing.
    func hasPendingInput() -> Bool {
        guard fd >= 0 else { return false }
        if readIndex < buffer.count { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Sends all of `bytes`, with MSG_NOSIGNAL so a dead peer yields EPIPE instead of SIGPIPE.
    func send(_ bytes: [UInt8], deadline: Deadline) throws(HTTPError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                try Self.wait(fd, Int16(POLLOUT), deadline: deadline, doing: "sending the request to \(peer)")
                continue
            }
            if n < 0 && errno == EINTR { continue }
            throw HTTPError(
                .connectionLost, "connection to \(peer) lost while sending: \(errnoText())", retryable: true)
        }
    }

    /// Receives more bytes into the buffer; returns false at end of stream.
    func fill(deadline: Deadline) throws(HTTPError) -> Bool {
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        let chunk = 16_384
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress! + old, chunk, 0) }
            if n > 0 {
                buffer.removeLast(chunk - n)
                responseBytes += n
                return true
            }
            if n == 0 {
                buffer.removeLast(chunk)
                return false
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                do {
                    try Self.wait(fd, Int16(POLLIN), deadline: deadline, doing: "waiting for the response from \(peer)")
                } catch {
                    buffer.removeLast(chunk)
                    throw error
                }
                continue
            }
            let text = errnoText()
            buffer.removeLast(chunk)
            throw HTTPError(.connectionLost, "connection to \(peer) lost while receiving: \(text)", retryable: true)
        }
    }

    func lost(_ what: String) -> HTTPError {
        let before = responseBytes == 0 ? "before responding" : "in the middle of the response"
        return HTTPError(.connectionLost, "\(peer) closed the connection \(before) (\(what))", retryable: true)
    }

    func malformed(_ what: String) -> HTTPError {
        HTTPError(.protocolError, "malformed response from \(peer): " + what, retryable: false)
    }

    /// Reads one line (without its CR LF or bare LF), at most `limit` bytes.
    func readLine(deadline: Deadline, limit: Int = 16_384) throws(HTTPError) -> ArraySlice<UInt8> {
        var scanned = readIndex
        while true {
            if let lf = buffer[scanned...].firstIndex(of: 0x0A) {
                var end = lf
                if end > readIndex && buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[readIndex..<end]
                readIndex = lf + 1
                return line
            }
            if buffer.count - readIndex > limit { throw malformed("a line is longer than \(limit) bytes") }
            // Everything up to the end of the buffer has been scanned; `fill` may move it to the front.
            let scannedCount = buffer.count - readIndex
            guard try fill(deadline: deadline) else { throw lost("end of stream inside a line") }
            scanned = readIndex + scannedCount
        }
    }

    /// Consumes `count` bytes, appending them to `sink` while it holds fewer than `keep`; false if the stream ended.
    func readBytes(_ count: Int, into sink: inout [UInt8], keep: Int, deadline: Deadline) throws(HTTPError)
        -> Bool
    {
        var left = count
        while left > 0 {
            if readIndex == buffer.count {
                guard try fill(deadline: deadline) else { return false }
            }
            let n = min(left, buffer.count - readIndex)
            let room = max(0, keep - sink.count)
            if room > 0 { sink.append(contentsOf: buffer[readIndex..<(readIndex + min(n, room))]) }
            readIndex += n
            left -= n
        }
        return true
    }
}

@inline(__always) func errnoText() -> String { String(cString: strerror(errno)) }

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        let u = Array(utf8)
        var s = 0
        var e = u.count
        while s < e && (u[s] == 0x20 || u[s] == 0x09) { s += 1 }
        while e > s && (u[e - 1] == 0x20 || u[e - 1] == 0x09) { e -= 1 }
        return String(decoding: u[s..<e], as: UTF8.self)
    }
}
