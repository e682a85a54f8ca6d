// SPDX-License-Identifier: Apache-2.0

// MARK: - Chunked uploads

extension HTTPClient {
    /// Starts a request whose body is streamed with `Transfer-Encoding: chunked` (for NDJSON uploads).
    ///
    /// The client cannot send other requests until the upload is finished or aborted. `deadline` bounds the
    /// connect and the write of the request head; each later write or finish takes its own deadline.
    public func openChunked(
        method: String = "POST", path: String? = nil, headers: [HTTPHeader] = [], contentType: String? = nil,
        deadline: Deadline
    ) throws(HTTPError) -> HTTPChunkedUpload {
        let head = try requestHead(
            method: method, path: path, headers: headers, contentType: contentType, framing: .chunked)
        record { $0.requests += 1 }
        let upload = HTTPChunkedUpload(client: self, method: method, head: head)
        do {
            try upload.start(deadline: deadline)
        } catch {
            upload.abort()
            noteFailure(error.message)
            throw error
        }
        return upload
    }
}

/// A request body being streamed in chunks; obtained from ``HTTPClient/openChunked(method:path:headers:contentType:deadline:)``.
///
/// Use it from the thread that owns the client. If the upload started on a reused connection that turns out dead
/// before any response byte, the bytes sent so far (kept up to 1 MiB) are sent again once on a fresh connection.
public final class HTTPChunkedUpload {
    private let client: HTTPClient
    private let method: String
    private var connection: HTTPConnection?
    /// Everything written so far while a replay is still possible; nil once it would exceed `replayLimit`.
    private var replay: [UInt8]?
    private var replayed = false
    private var result: HTTPResponse?
    private var finished = false
    private static let replayLimit = 1 << 20

    init(client: HTTPClient, method: String, head: [UInt8]) {
        self.client = client
        self.method = method
        replay = head
    }

    deinit {
        if !finished { abort() }
    }

    func start(deadline: Deadline) throws(HTTPError) {
        let conn = try client.takeConnection(deadline: deadline)
        client.uploadOpen = true
        connection = conn
        conn.beginExchange()
        let head = replay ?? []
        if conn.exchanges == 0 {
            // Only a reused connection may be found dead by the first write; a fresh one is never replayed.
            replayed = true
            replay = nil
        }
        try transmit(head, deadline: deadline, record: false)
    }

    /// Sends one chunk (empty chunks are skipped: a zero-size chunk would end the body).
    ///
    /// Throws `.earlyResponse` if the server has already answered; ``finish(deadline:)`` then returns that answer.
    public func write(_ chunk: [UInt8], deadline: Deadline) throws(HTTPError) {
        guard !chunk.isEmpty else { return }
        guard !finished, connection != nil else {
            throw HTTPError(.invalidRequest, "the chunked upload is already finished", retryable: false)
        }
        var wire = Array(String(chunk.count, radix: 16).utf8) + [0x0D, 0x0A]
        wire += chunk
        wire += [0x0D, 0x0A]
        try guarded { () throws(HTTPError) in try transmit(wire, deadline: deadline, record: true) }
    }

    /// Ends the body and reads the response; the connection goes back to the client when it can be reused.
    public func finish(deadline: Deadline) throws(HTTPError) -> HTTPResponse {
        if let result {
            finished = true
            return result
        }
        guard !finished, connection != nil else {
            throw HTTPError(.invalidRequest, "the chunked upload is already finished", retryable: false)
        }
        let response = try guarded { () throws(HTTPError) -> HTTPResponse in
            try transmit(Array("0\r\n\r\n".utf8), deadline: deadline, record: true)
            while true {
                do throws(HTTPError) {
                    let conn = connection!
                    let (response, keep) = try conn.readResponse(
                        method: method, maxBody: client.maxResponseBody, deadline: deadline)
                    conn.exchanges += 1
                    connection = nil
                    if keep { client.connection = conn } else { conn.close() }
                    return response
                } catch {
                    if try !reconnectForReplay(after: error, deadline: deadline) { throw error }
                }
            }
        }
        finished = true
        client.uploadOpen = false
        if !response.isSuccess { client.noteFailure(response.statusText + " from " + client.endpoint.description) }
        return response
    }

    /// Closes the connection without finishing the body; the server sees an incomplete request.
    public func abort() {
        connection?.close()
        connection = nil
        finished = true
        client.uploadOpen = false
    }

    /// Runs `body`; on an error, closes the upload and records the failure.
    private func guarded<T>(_ body: () throws(HTTPError) -> T) throws(HTTPError) -> T {
        do {
            return try body()
        } catch {
            if result == nil { client.noteFailure(error.message) }
            connection?.close()
            connection = nil
            client.uploadOpen = false
            throw error
        }
    }

    /// Writes `wire`, first checking for an early answer; replays once after a dead reused connection.
    private func transmit(_ wire: [UInt8], deadline: Deadline, record: Bool) throws(HTTPError) {
        if record, replay != nil {
            if replay!.count + wire.count > Self.replayLimit { replay = nil } else { replay! += wire }
        }
        guard let conn = connection else {
            throw HTTPError(.invalidRequest, "the chunked upload is closed", retryable: false)
        }
        do {
            if conn.hasPendingInput() { try readEarlyAnswer(conn, deadline: deadline) }
            try conn.send(wire, deadline: deadline)
        } catch {
            // A replay resends everything recorded so far, `wire` included.
            if try !reconnectForReplay(after: error, deadline: deadline) { throw error }
        }
    }

    /// Reads the answer the server sent before the body was finished, and reports it as `.earlyResponse`.
    private func readEarlyAnswer(_ conn: HTTPConnection, deadline: Deadline) throws(HTTPError) {
        let (response, _) = try conn.readResponse(method: method, maxBody: client.maxResponseBody, deadline: deadline)
        result = response
        client.noteFailure("\(response.statusText) from \(client.endpoint) before the upload finished")
        throw HTTPError(
            .earlyResponse, "\(client.endpoint.authority) answered \(response.statusText) before the upload finished",
            retryable: false, status: response.status)
    }

    /// After `error` on a reused connection with no response byte, opens a fresh one and resends what was written.
    private func reconnectForReplay(after error: HTTPError, deadline: Deadline) throws(HTTPError) -> Bool {
        guard let conn = connection, !replayed, let bytes = replay, error.kind == .connectionLost,
            conn.responseBytes == 0
        else { return false }
        replayed = true
        conn.close()
        connection = nil
        client.uploadOpen = false
        let fresh = try client.takeConnection(deadline: deadline)
        client.uploadOpen = true
        connection = fresh
        try fresh.send(bytes, deadline: deadline)
        return true
    }
}
