// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Endpoint

/// Where an exporter sends its requests: an `http://` URL split into host, port and request target.
///
/// Only plain HTTP is supported: the library ships without a TLS stack, so an `https://` URL is refused
/// with advice to send to a local collector or forwarder that speaks TLS upstream.
public struct HTTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The host, lowercased, without IPv6 brackets (`example.com`, `127.0.0.1`, `::1`).
    public let host: String
    /// The TCP port, 80 when the URL has none.
    public let port: UInt16
    /// The request target in origin form (path and query), `/` when the URL has none.
    public let target: String
    /// Whether the URL spelled a path or query: `http://h:4318/` does, `http://h:4318` does not.
    public let hasExplicitTarget: Bool
    /// Whether `host` is an IP literal, which connects without name resolution.
    public let isIPLiteral: Bool

    /// The `Host` header value: the host (bracketed when IPv6) and the port unless it is 80.
    public var hostHeader: String {
        let h = host.contains(":") ? "[" + host + "]" : host
        return port == 80 ? h : h + ":" + String(port)
    }

    /// Whether the host is `localhost`, an IPv4 loopback address (127.0.0.0/8) or `::1`.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return isIPLiteral && parts.count == 4 && parts[0] == "127"
    }

    /// The host and port for messages, always with the port.
    public var authority: String {
        (host.contains(":") ? "[" + host + "]" : host) + ":" + String(port)
    }

    /// The URL in normalized form.
    public var description: String { "http://" + hostHeader + target }

    /// Parses `url`, failing with an `invalid argument` error that names what is wrong.
    public init(parsing url: String) throws(RelayError) {
        let b = Array(url.utf8)
        let shown = HTTPText.quoted(url)
        func fail(_ what: String) -> RelayError { .invalidArgument("endpoint URL \(shown) " + what) }
        if b.isEmpty { throw .invalidArgument("endpoint URL is empty") }
        for (i, c) in b.enumerated() {
            if c < 0x20 || c == 0x7F { throw fail("contains a control character at offset \(i)") }
            if c == 0x20 { throw fail("contains a space at offset \(i); percent-encode it as %20") }
            if c >= 0x80 {
                throw fail(
                    "contains a non-ASCII character at offset \(i); percent-encode the path and use the"
                        + " punycode form of an international host name")
            }
        }
        let slash = UInt8(ascii: "/")
        guard let colon = b.firstIndex(of: UInt8(ascii: ":")), colon > 0, b.count >= colon + 3,
            b[colon + 1] == slash, b[colon + 2] == slash
        else { throw fail("must start with http:// (expected http://host[:port][/path])") }
        let scheme = String(decoding: b[..<colon], as: UTF8.self).lowercased()
        if scheme == "https" {
            throw fail(
                "uses https, but TLS is not supported by this build; send to a local collector or forwarder"
                    + " over plain http (for example http://127.0.0.1:4318) and let it forward over TLS")
        }
        if scheme != "http" { throw fail("has unsupported scheme \"\(scheme)\"; only http:// is supported") }
        let rest = b[(colon + 3)...]
        if let hash = rest.firstIndex(of: UInt8(ascii: "#")) {
            throw fail("has a fragment at offset \(hash); fragments are never sent to a server, remove it")
        }
        let authorityEnd = rest.firstIndex { $0 == slash || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        if authority.contains(UInt8(ascii: "@")) {
            throw fail("must not contain user information (user@ or user:password@); send credentials as headers")
        }
        let (host, literal, portText) = try Self.splitAuthority(authority, fail)
        var port: UInt16 = 80
        if let p = portText {
            if p.isEmpty { throw fail("has an empty port after ':'") }
            guard p.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw fail("has a port that is not a number: \(HTTPText.quoted(String(decoding: p, as: UTF8.self)))")
            }
            let digits = p.drop { $0 == UInt8(ascii: "0") }
            let value = digits.count > 5 ? 100_000 : digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value >= 1, value <= 65_535 else {
                throw fail("has port \(String(decoding: p, as: UTF8.self)), which is out of range (1-65535)")
            }
            port = UInt16(value)
        }
        var target = Array(rest[authorityEnd...])
        try Self.checkTarget(target, fail)
        hasExplicitTarget = !target.isEmpty
        if target.first != slash { target.insert(slash, at: 0) }
        self.host = host
        self.port = port
        self.target = String(decoding: target, as: UTF8.self)
        isIPLiteral = literal
    }

    /// Splits `host[:port]` or `[v6][:port]`; returns the normalized host, whether it is an IP literal,
    /// and the port bytes when a `:` was present.
    private static func splitAuthority(
        _ a: ArraySlice<UInt8>, _ fail: (String) -> RelayError
    ) throws(RelayError) -> (String, Bool, ArraySlice<UInt8>?) {
        let colon = UInt8(ascii: ":")
        if a.first == UInt8(ascii: "[") {
            guard let close = a.firstIndex(of: UInt8(ascii: "]")) else { throw fail("has '[' without a closing ']'") }
            let inner = String(decoding: a[(a.startIndex + 1)..<close], as: UTF8.self)
            if inner.contains("%") { throw fail("has an IPv6 zone identifier, which is not supported") }
            guard let canonical = IPAddress.canonicalV6(inner) else {
                throw fail("has \(HTTPText.quoted(inner)) in brackets, which is not a valid IPv6 address")
            }
            let after = a[(close + 1)...]
            if after.isEmpty { return (canonical, true, nil) }
            guard after.first == colon else { throw fail("has unexpected characters after ']'") }
            return (canonical, true, after.dropFirst())
        }
        let colons = a.lazy.filter { $0 == colon }.count
        if colons > 1 { throw fail("has an IPv6 address without brackets; write it as http://[::1]:4318/") }
        let hostEnd = a.firstIndex(of: colon) ?? a.endIndex
        let hostBytes = a[a.startIndex..<hostEnd]
        let portText = hostEnd == a.endIndex ? nil : a[(hostEnd + 1)...]
        if hostBytes.isEmpty { throw fail("has an empty host") }
        let host = String(decoding: hostBytes, as: UTF8.self).lowercased()
        // Letters, digits, '-' and '.', plus '_', which real deployments use in container and service names.
        for c in hostBytes where !(HTTPText.isAlnum(c) || "-._".utf8.contains(c)) {
            throw fail("has host \(HTTPText.quoted(host)) with invalid character '\(Character(Unicode.Scalar(c)))'")
        }
        if hostBytes.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }) {
            guard IPAddress.isV4(host) else { throw fail("has host \(host), which is not a valid IPv4 address") }
            return (host, true, portText)
        }
        if hostBytes.count > 253
            || host.split(separator: ".", omittingEmptySubsequences: false).contains(where: {
                $0.isEmpty || $0.utf8.count > 63
            })
        {
            throw fail("has host \(HTTPText.quoted(host)), which is not a valid host name (empty or overlong label)")
        }
        return (host, false, portText)
    }

    /// Checks the path and query: RFC 3986 characters only, and well-formed percent escapes.
    private static func checkTarget(_ t: [UInt8], _ fail: (String) -> RelayError) throws(RelayError) {
        var i = 0
        while i < t.count {
            let c = t[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < t.count, HTTPText.hexValue(t[i + 1]) != nil, HTTPText.hexValue(t[i + 2]) != nil else {
                    throw fail("has a malformed percent escape at offset \(i) of its path (expected %XX)")
                }
                i += 3
                continue
            }
            let allowed = HTTPText.isAlnum(c) || "-._~!$&'()*+,;=:@/?".utf8.contains(c)
            if !allowed {
                throw fail("has '\(Character(Unicode.Scalar(c)))' in its path or query; percent-encode it")
            }
            i += 1
        }
    }
}

// MARK: - IP literals

enum IPAddress {
    /// Whether `s` is a dotted-quad IPv4 address.
    static func isV4(_ s: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, s, &a) == 1
    }

    /// The canonical text of an IPv6 address (RFC 5952 as inet_ntop writes it), or nil.
    static func canonicalV6(_ s: String) -> String? {
        var a = in6_addr()
        guard inet_pton(AF_INET6, s, &a) == 1 else { return nil }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count)) != nil else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// MARK: - Headers

/// One request or response header field.
public struct HTTPHeader: Sendable, Hashable {
    /// The field name as written.
    public var name: String
    /// The field value.
    public var value: String

    /// Creates a header field; see ``HTTPHeaders/validate(_:)`` for the checks the client applies.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Validation of configured header fields and their resolution from the environment.
public enum HTTPHeaders {
    /// Fields the client writes itself; configuring them would break message framing or the connection.
    static let managed: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        "proxy-connection",
    ]

    /// Checks that `name` is an RFC 9110 token (letters, digits and ``!#$%&'*+-.^_`|~``).
    public static func validateName(_ name: String) throws(RelayError) {
        if name.isEmpty { throw .invalidArgument("header name is empty") }
        for (i, c) in name.utf8.enumerated() where !HTTPText.isTokenChar(c) {
            throw .invalidArgument(
                "header name \(HTTPText.quoted(name)) is not a valid HTTP token (invalid character at offset \(i))")
        }
    }

    /// Checks that `value` has no CR, LF, NUL or other control character (horizontal tab is allowed).
    public static func validateValue(_ value: String, name: String) throws(RelayError) {
        for (i, c) in value.utf8.enumerated() {
            let what: String?
            switch c {
            case 0x0D: what = "a carriage return (CR)"
            case 0x0A: what = "a line feed (LF)"
            case 0x00: what = "a NUL byte"
            case 0x09: what = nil
            case 0x01..<0x20, 0x7F: what = "a control character"
            default: what = nil
            }
            if let what {
                throw .invalidArgument("value of header \(HTTPText.quoted(name)) contains \(what) at offset \(i)")
            }
        }
    }

    /// Checks one configured field: a valid name, a valid value, and not a field the client manages.
    public static func validate(_ header: HTTPHeader) throws(RelayError) {
        try validateConfigurableName(header.name)
        try validateValue(header.value, name: header.name)
    }

    static func validateConfigurableName(_ name: String) throws(RelayError) {
        try validateName(name)
        if managed.contains(name.lowercased()) {
            throw .invalidArgument("header \(HTTPText.quoted(name)) is set by the HTTP client and cannot be configured")
        }
    }

    /// Reads a variable of the process environment (the default source for ``resolve(headers:headerEnv:environment:)``).
    public static func processEnvironment(_ variable: String) -> String? {
        guard let p = getenv(variable) else { return nil }
        return String(cString: p)
    }

    /// Builds the header list of a destination from explicit headers and `header_env` entries.
    ///
    /// `headerEnv` maps a header name to the name of an environment variable holding its value; each is read once,
    /// here (at configuration), never per request. Names are compared ignoring case: a name given twice, or given
    /// both ways, is an error, as is a missing or blank variable. Explicit headers come first, in order.
    public static func resolve(
        headers: [(name: String, value: String)],
        headerEnv: [(name: String, variable: String)] = [],
        environment: (String) -> String? = HTTPHeaders.processEnvironment
    ) throws(RelayError) -> [HTTPHeader] {
        var out: [HTTPHeader] = []
        var seen: Set<String> = []
        for (name, value) in headers {
            let h = HTTPHeader(name, value)
            try validate(h)
            guard seen.insert(name.lowercased()).inserted else {
                throw .invalidArgument(
                    "header \(HTTPText.quoted(name)) is configured more than once (header names ignore case)")
            }
            out.append(h)
        }
        var envSeen: Set<String> = []
        for (name, variable) in headerEnv {
            try validateConfigurableName(name)
            let key = name.lowercased()
            if seen.contains(key) {
                throw .invalidArgument(
                    "header \(HTTPText.quoted(name)) cannot be configured in both headers and header_env")
            }
            guard envSeen.insert(key).inserted else {
                throw .invalidArgument(
                    "header \(HTTPText.quoted(name)) is configured more than once in header_env"
                        + " (header names ignore case)")
            }
            if variable.isEmpty || variable.utf8.contains(0) || variable.contains("=") {
                throw .invalidArgument(
                    "header_env entry for header \(HTTPText.quoted(name)) has an invalid environment variable name"
                        + " \(HTTPText.quoted(variable))")
            }
            guard let value = environment(variable) else {
                throw .invalidArgument(
                    "environment variable \(HTTPText.quoted(variable)) for header \(HTTPText.quoted(name)) is not set")
            }
            if value.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                throw .invalidArgument(
                    "environment variable \(HTTPText.quoted(variable)) for header \(HTTPText.quoted(name)) is blank")
            }
            let h = HTTPHeader(name, value)
            do {
                try validateValue(value, name: name)
            } catch {
                throw .invalidArgument(
                    error.message + " (value read from environment variable \(HTTPText.quoted(variable)))")
            }
            out.append(h)
        }
        return out
    }
}

// MARK: - Text helpers

enum HTTPText {
    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    @inline(__always) static func isTokenChar(_ c: UInt8) -> Bool {
        isAlnum(c) || "!#$%&'*+-.^_`|~".utf8.contains(c)
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }

    /// `s` in double quotes with quotes, backslashes and control characters escaped, for error messages.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += "\\u{" + String(u.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// ASCII lowercase of a byte slice, as a String.
    static func lower(_ b: ArraySlice<UInt8>) -> String {
        String(decoding: b.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
