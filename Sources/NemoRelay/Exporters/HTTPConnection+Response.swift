// SPDX-License-Identifier: Apache-2.0

// MARK: - Responses

extension HTTPConnection {
    /// Reads one final response (skipping 1xx); returns it and whether the connection may carry another request.
    ///
    /// A body larger than `maxBody` keeps its first `maxBody` bytes and is marked truncated; the rest is not read
    /// and the connection is closed afterwards.
    func readResponse(method: String, maxBody: Int, deadline: Deadline) throws(HTTPError) -> (HTTPResponse, Bool) {
        while true {
            let (status, reason, minor, headers) = try readHead(deadline: deadline)
            if status >= 100 && status < 200 && status != 101 { continue }
            var response = HTTPResponse(status: status, reason: reason, headers: headers)
            let connection = response.header("connection").map { $0.lowercased() } ?? ""
            var keepAlive = minor >= 1 ? !connection.contains("close") : connection.contains("keep-alive")
            if status == 101 { throw malformed("unexpected 101 Switching Protocols") }
            if method == "HEAD" || status == 204 || status == 304 { return (response, keepAlive) }
            let te = response.header("transfer-encoding")?.lowercased()
            if let te, te.split(separator: ",").last?.trimmingSpaces() == "chunked" {
                let complete = try readChunkedBody(into: &response, maxBody: maxBody, deadline: deadline)
                return (response, keepAlive && complete)
            }
            if te != nil { keepAlive = false }
            if te == nil, let cl = try contentLength(response) {
                var body: [UInt8] = []
                let keep = min(cl, maxBody)
                guard try readBytes(keep, into: &body, keep: keep, deadline: deadline) else {
                    throw lost("body shorter than its Content-Length \(cl)")
                }
                response.body = body
                if cl > maxBody {
                    response.bodyTruncated = true
                    keepAlive = false
                }
                return (response, keepAlive)
            }
            // Close-delimited body: read to end of stream.
            var body: [UInt8] = []
            while body.count <= maxBody {
                if readIndex == buffer.count {
                    guard try fill(deadline: deadline) else { break }
                }
                let n = buffer.count - readIndex
                body.append(contentsOf: buffer[readIndex..<(readIndex + min(n, maxBody + 1 - body.count))])
                readIndex = buffer.count
            }
            if body.count > maxBody {
                body.removeLast(body.count - maxBody)
                response.bodyTruncated = true
            }
            response.body = body
            return (response, false)
        }
    }

    private func readHead(deadline: Deadline) throws(HTTPError) -> (Int, String, Int, [HTTPHeader]) {
        var line = try readLine(deadline: deadline)
        // Tolerate empty lines before the status line (RFC 9112 section 2.2).
        var blank = 0
        while line.isEmpty && blank < 4 {
            blank += 1
            line = try readLine(deadline: deadline)
        }
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[0].count == 8,
            let minor = Int(parts[0].suffix(1)), parts[1].count == 3, let status = Int(parts[1]), status >= 100
        else { throw malformed("bad status line \(HTTPText.quoted(String(text.prefix(80))))") }
        let reason = parts.count > 2 ? String(parts[2]) : ""
        var headers: [HTTPHeader] = []
        var total = 0
        while true {
            let l = try readLine(deadline: deadline)
            if l.isEmpty { break }
            total += l.count
            if total > 65_536 { throw malformed("header section larger than 64 KiB") }
            if l.first == 0x20 || l.first == 0x09 {
                // Obsolete line folding: join to the previous field's value.
                guard !headers.isEmpty else { throw malformed("continuation line before any header") }
                headers[headers.count - 1].value += " " + String(decoding: l, as: UTF8.self).trimmingSpaces()
                continue
            }
            guard let colon = l.firstIndex(of: UInt8(ascii: ":")), colon > l.startIndex,
                l[l.startIndex..<colon].allSatisfy(HTTPText.isTokenChar)
            else {
                throw malformed("bad header line \(HTTPText.quoted(String(decoding: l.prefix(80), as: UTF8.self)))")
            }
            let name = String(decoding: l[l.startIndex..<colon], as: UTF8.self)
            let value = String(decoding: l[(colon + 1)...], as: UTF8.self).trimmingSpaces()
            headers.append(HTTPHeader(name, value))
        }
        return (status, reason, minor, headers)
    }

    private func contentLength(_ r: HTTPResponse) throws(HTTPError) -> Int? {
        var result: Int?
        for h in r.headers where h.name.lowercased() == "content-length" {
            for v in h.value.split(separator: ",") {
                let t = v.trimmingSpaces()
                guard !t.isEmpty, t.count <= 18, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(t) else {
                    throw malformed("bad Content-Length \(HTTPText.quoted(h.value))")
                }
                if let r = result, r != n { throw malformed("conflicting Content-Length values") }
                result = n
            }
        }
        return result
    }

    /// Reads a chunked body; returns false when it was cut at `maxBody` (the connection must then be closed).
    private func readChunkedBody(into r: inout HTTPResponse, maxBody: Int, deadline: Deadline) throws(HTTPError)
        -> Bool
    {
        var body: [UInt8] = []
        while true {
            let line = try readLine(deadline: deadline)
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != 0x20 && $0 != 0x09 }
            guard !sizeText.isEmpty, sizeText.count <= 15 else { throw malformed("bad chunk size line") }
            var size = 0
            for c in sizeText {
                guard let v = HTTPText.hexValue(c) else { throw malformed("bad chunk size line") }
                size = size * 16 + v
            }
            if size == 0 { break }
            if body.count + size > maxBody {
                _ = try readBytes(maxBody - body.count, into: &body, keep: maxBody, deadline: deadline)
                r.body = body
                r.bodyTruncated = true
                return false
            }
            guard try readBytes(size, into: &body, keep: maxBody, deadline: deadline) else {
                throw lost("end of stream inside a chunk")
            }
            guard try readLine(deadline: deadline, limit: 2).isEmpty else {
                throw malformed("chunk not followed by CRLF")
            }
        }
        // Trailer fields, ignored.
        var total = 0
        while true {
            let l = try readLine(deadline: deadline)
            if l.isEmpty { break }
            total += l.count
            if total > 65_536 { throw malformed("trailer section larger than 64 KiB") }
        }
        r.body = body
        return true
    }
}
