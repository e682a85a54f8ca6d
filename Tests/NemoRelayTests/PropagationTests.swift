// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import NemoRelay

/// `Tests/vectors/otel_propagation.json`: W3C trace context and Relay propagation of nemo-relay 0.10.4.
enum PropagationVectors {
    static let doc: JSONObject = {
        let url = VectorSupport.vectorsDirectory.appendingPathComponent("otel_propagation.json")
        guard let data = try? Data(contentsOf: url), case .object(let o)? = try? JSON.parse([UInt8](data)) else {
            fatalError("cannot read \(url.path)")
        }
        return o
    }()

    static func input(_ key: String) -> String { doc["inputs"]?.objectValue?[key]?.stringValue ?? "" }
    static let parent = input("PARENT")
    static let root = input("ROOT")
    static let zero = input("ZERO")
    static let zeroTail = input("ZERO_TAIL")
    static let traceparent = input("TRACEPARENT")
    static let callerTraceparent = input("CALLER_TRACEPARENT")

    static func section(_ name: String) -> [JSONObject] { doc[name]?.arrayValue?.compactMap(\.objectValue) ?? [] }

    static func named(_ section: String, _ name: String) -> JSONObject {
        guard let c = self.section(section).first(where: { $0["name"]?.stringValue == name }) else {
            fatalError("no \(section) case \(name)")
        }
        return c
    }
}

/// Turns a normalised vector value back into concrete values: `<uuid:N>` becomes the uuid,
/// `<trace:uuid:N>` its 32 hex digits, `<span:uuid:N>` its last 16.
struct Denormaliser {
    var uuids: [Int: RelayUUID]

    func apply(_ v: JSON) -> JSON {
        switch v {
        case .string(let s): return .string(text(s))
        case .array(let a): return .array(a.map(apply))
        case .object(let o):
            var out = JSONObject()
            o.forEach { k, x in out[k] = apply(x) }
            return .object(out)
        default: return v
        }
    }

    func text(_ s: String) -> String {
        var s = s
        for (n, u) in uuids {
            s = s.replacingOccurrences(of: "<trace:uuid:\(n)>", with: u.hex)
            s = s.replacingOccurrences(of: "<span:uuid:\(n)>", with: String(u.hex.suffix(16)))
            s = s.replacingOccurrences(of: "<uuid:\(n)>", with: u.description)
        }
        return s
    }
}

/// The vectors' result encoding.
enum Outcome {
    static func context(_ c: PropagationContext) -> JSON {
        [
            "version": .int(Int64(c.version)), "root_uuid": c.rootUUID.map { .string($0.description) } ?? .null,
            "parent_uuid": .string(c.parentUUID.description), "traceparent": c.traceparent.map(JSON.string) ?? .null,
            "tracestate": c.tracestate.map(JSON.string) ?? .null, "to_json": .string(c.json),
        ]
    }

    static func error(_ type: String, _ message: String) -> JSON {
        ["error": ["type": .string(type), "message": .string(message)]]
    }

    /// A constructor, parser or `to_traceparent` call: failures are `ValueError`s in the reference.
    static func of(_ body: () throws(PropagationError) -> PropagationContext) -> JSON {
        do { return ["result": context(try body())] } catch { return Self.error("ValueError", error.message) }
    }

    static func string(_ body: () throws(PropagationError) -> String) -> JSON {
        do { return ["result": .string(try body())] } catch { return Self.error("ValueError", error.message) }
    }

    /// The five captures of the vectors (`captures()` of the capture script); runtime failures are
    /// `RuntimeError`s in the reference.
    static func captures(_ s: ScopeStack, parent: ScopeHandle? = nil) -> JSON {
        let traceparent: JSON
        do {
            traceparent = ["result": .string(try s.captureTraceparent(parent: parent))]
        } catch {
            traceparent = Self.error("RuntimeError", error.displayText)
        }
        let root = try! RelayUUID.parseLenient(PropagationVectors.root)
        return [
            "capture_traceparent()": traceparent,
            "capture_propagation_context()": ["result": context(s.capturePropagationContext(parent: parent))],
            "capture_rootless_propagation_context()": [
                "result": context(s.captureRootlessPropagationContext(parent: parent))
            ],
            "capture_propagation_context_with_root(None)": [
                "result": context(try! s.capturePropagationContext(withRoot: nil, parent: parent))
            ],
            "capture_propagation_context_with_root(ROOT)": [
                "result": context(try! s.capturePropagationContext(withRoot: root, parent: parent))
            ],
        ]
    }
}

/// The OpenAI chat completion the providers of the vectors answer.
let propagationChatResponse: JSON = [
    "id": "chatcmpl-propagation", "object": "chat.completion", "created": 1_767_225_600,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [["index": 0, "message": ["role": "assistant", "content": "ok"], "finish_reason": "stop"]],
]

func propagationRequest(_ headers: JSONObject) -> LLMCallParams {
    LLMCallParams(
        name: "openai",
        request: LLMRequest(
            headers: headers,
            content: ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hi"]]]),
        codec: OpenAIChatCodec())
}

@Suite struct PropagationContextTests {
    typealias V = PropagationVectors
    static let parent = V.parent
    static let root = V.root
    static let t = V.traceparent

    static func make(
        _ p: String, _ r: String? = nil, version: UInt32 = 1, traceparent: String? = nil, tracestate: String? = nil
    ) -> @Sendable () throws(PropagationError) -> PropagationContext {
        { () throws(PropagationError) in
            try PropagationContext(
                parentUUID: p, rootUUID: r, version: version, traceparent: traceparent, tracestate: tracestate)
        }
    }

    /// The constructor calls of the capture script, by case name.
    static let constructors: [String: @Sendable () throws(PropagationError) -> PropagationContext] = [
        "new: parent only": make(parent),
        "new: parent and root": make(parent, root),
        "new: uppercase uuids": make(parent.uppercased(), root.uppercased()),
        "new: simple (undashed) uuid": make(parent.replacingOccurrences(of: "-", with: "")),
        "new: braced uuid": make("{" + parent + "}"),
        "new: urn uuid": make("urn:uuid:" + parent),
        "new: malformed parent": make("not-a-uuid"),
        "new: malformed root": make(parent, "not-a-uuid"),
        "new: all-zero parent": make(V.zero),
        "new: all-zero root": make(parent, V.zero),
        "new: parent with all-zero tail": make(V.zeroTail),
        "new: root with all-zero tail": make(parent, V.zeroTail),
        "new: version 0": make(parent, root, version: 0),
        "new: version 2": make(parent, root, version: 2),
        "new: traceparent": make(parent, root, traceparent: t),
        "new: traceparent and tracestate": make(parent, root, traceparent: t, tracestate: "vendor=a,other=b"),
        "new: tracestate without traceparent": make(parent, root, tracestate: "vendor=a"),
        "new: rootless with traceparent": make(parent, nil, traceparent: t, tracestate: "vendor=a"),
        "new: garbage traceparent": make(parent, root, traceparent: "garbage"),
        "new: uppercase traceparent": make(parent, root, traceparent: t.uppercased()),
        "new: traceparent all-zero trace id": make(
            parent, root, traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        "new: traceparent all-zero parent id": make(
            parent, root, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        "new: traceparent version ff": make(parent, root, traceparent: "ff" + t.dropFirst(2)),
        "new: traceparent version 01 with extra field": make(
            parent, root, traceparent: "01" + t.dropFirst(2) + "-extra"),
        "new: traceparent version 00 with extra field": make(parent, root, traceparent: t + "-extra"),
        "new: traceparent flags 00": make(parent, root, traceparent: t.dropLast(2) + "00"),
        "new: invalid tracestate": make(parent, root, traceparent: t, tracestate: "bad key=@@"),
        "new: empty tracestate": make(parent, root, traceparent: t, tracestate: ""),
        "new: tracestate with spaces": make(parent, root, traceparent: t, tracestate: " vendor=a , other=b "),
    ]

    static let traceparents: [String: @Sendable () throws(PropagationError) -> String] = [
        "to_traceparent: rooted": { () throws(PropagationError) in try make(parent, root)().traceparentHeader() },
        "to_traceparent: rootless": { () throws(PropagationError) in try make(parent)().traceparentHeader() },
        "to_traceparent: carrying a traceparent": { () throws(PropagationError) in
            try make(parent, root, traceparent: t)().traceparentHeader()
        },
        "to_traceparent: rootless carrying a traceparent": { () throws(PropagationError) in
            try make(parent, nil, traceparent: t)().traceparentHeader()
        },
    ]

    static let toJSON: [String: @Sendable () throws(PropagationError) -> String] = [
        "to_json: rooted": { () throws(PropagationError) in try make(parent, root)().json },
        "to_json: rootless": { () throws(PropagationError) in try make(parent)().json },
        "to_json: with traceparent and tracestate": { () throws(PropagationError) in
            try make(parent, root, traceparent: t, tracestate: "vendor=a")().json
        },
    ]

    @Test func everyContextCaseOfTheVectors() {
        let cases = V.section("context")
        #expect(cases.count == 52)
        var checked = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? ""
            let got: JSON
            if let f = Self.constructors[name] {
                got = Outcome.of(f)
            } else if let f = Self.traceparents[name] ?? Self.toJSON[name] {
                got = Outcome.string(f)
            } else if name.hasPrefix("from_json: "), let input = c["input"]?.stringValue {
                got = Outcome.of { () throws(PropagationError) in try PropagationContext(json: input) }
            } else {
                Issue.record("no Swift form for context case \(name)")
                continue
            }
            #expect(got == c["raw"], "\(name)")
            checked += 1
        }
        #expect(checked == 52)
    }

    @Test func jsonRoundTripsAndEquality() throws {
        let c = try PropagationContext(
            parentUUID: Self.parent, rootUUID: Self.root, traceparent: Self.t, tracestate: "a=b")
        #expect(try PropagationContext(json: c.json) == c)
        #expect(c.description == c.json)
        #expect(c.w3cParent?.header() == Self.t)
        #expect(try c.traceparentHeader() == Self.t)
    }

    @Test func uuidFormsAndMessages() {
        func message(_ s: String) -> String? {
            do {
                _ = try RelayUUID.parseLenient(s)
                return nil
            } catch { return error.message }
        }
        let p = Self.parent
        #expect(message("") == "invalid length: expected length 32 for simple format, found 0")
        #expect(message(p + "0") == "invalid group length in group 4: expected 12, found 13")
        #expect(
            message("{" + p.replacingOccurrences(of: "-", with: "") + "}") == "invalid group count: expected 5, found 1"
        )
        #expect(
            message("{01958bbf-66d4-*b42-83ef-21c483a37e61}")
                == "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `*` at 15"
        )
        #expect(
            message("{0n1958bbf-66d4-7b4f-66d4-7b42-83ef21c83a37e61}")
                == "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `n` at 3"
        )
        #expect(
            message(String(p.dropLast()) + "😀")
                == "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `😀` at 36"
        )
        #expect(message("URN:UUID:" + p)?.hasSuffix("found `U` at 1") == true)
        #expect(
            message("0195-8bbf66d4-7b42-83ef-21c483a37e61") == "invalid group length in group 0: expected 8, found 4")
        #expect(message(p.uppercased()) == nil)
    }

    @Test func w3cNormalisation() {
        typealias W = W3CTraceContext
        let t = Self.t
        #expect(W.parse(" " + t + "\u{2028}")?.header() == t)
        #expect(W.parse("\u{200B}" + t) == nil)
        #expect(W.parse("fe" + t.dropFirst(2) + "-x")?.header() == t)
        #expect(W.parse("0" + t.dropFirst(2))?.header() == t)
        #expect(W.parse(t.dropLast(2) + "ff")?.header() == t)
        #expect(W.parse(t.dropLast(2) + "02")?.sampled == false)
        #expect(W.parse(t.dropLast(2) + "0A") == nil)
        #expect(W.parse(t + "--") == nil)
        #expect(
            W.parse("00-1-00f067aa0ba902b7-01")?.header() == "00-00000000000000000000000000000001-00f067aa0ba902b7-01")
        #expect(W.parse("00-" + String(repeating: "f", count: 33) + "-00f067aa0ba902b7-01") == nil)
        #expect(W.parse("00-+" + String(repeating: "f", count: 32) + "-00f067aa0ba902b7-01") != nil)
        #expect(W.normalizeTraceState(" a=b , c=d ") == "a=b,c=d")
        #expect(W.normalizeTraceState("a=b,,c=d") == "a=b,c=d")
        #expect(W.normalizeTraceState((0..<32).map { "k\($0)=v" }.joined(separator: ",")) != nil)
        #expect(W.normalizeTraceState((0..<32).map { "k\($0)=v" }.joined(separator: ",") + ",") == nil)
        #expect(W.normalizeTraceState("a=b,a=c") == nil)
        #expect(W.normalizeTraceState("0a=b") == nil)
        #expect(W.normalizeTraceState("0@b=c") == "0@b=c")
        #expect(W.normalizeTraceState("a@" + String(repeating: "b", count: 13) + "=v") != nil)
        #expect(W.normalizeTraceState("a@" + String(repeating: "b", count: 14) + "=v") == nil)
        #expect(W.normalizeTraceState(String(repeating: "a", count: 241) + "@b=v") != nil)
        #expect(W.normalizeTraceState(String(repeating: "a", count: 242) + "@b=v") == nil)
        #expect(W.normalizeTraceState("k=" + String(repeating: "v", count: 256)) != nil)
        #expect(W.normalizeTraceState("k=" + String(repeating: "v", count: 257)) == nil)
        #expect(W.normalizeTraceState("k=é") == nil)
        #expect(W.normalizeTraceState("k= v") == "k= v")
        #expect(W.normalizeTraceState(" ") == nil)
    }

    @Test func wireJSONMessages() {
        func message(_ s: String) -> String {
            do {
                _ = try PropagationContext(json: s)
                return "ok"
            } catch { return error.message }
        }
        let p = Self.parent
        let prefix = "invalid argument: invalid propagation context JSON: "
        #expect(message("{") == prefix + "EOF while parsing an object at line 1 column 1")
        #expect(
            message("[1]") == prefix
                + "invalid length 1, expected struct PropagationContext with 5 elements at line 1 column 3")
        #expect(message("[1,null,\"\(p)\"]") == "ok")
        #expect(
            message("{\"version\":1e16}") == prefix
                + "invalid type: floating point `1e+16`, expected u16 at line 1 column 15")
        #expect(
            message("{\"version\":-0}") == prefix
                + "invalid type: floating point `-0.0`, expected u16 at line 1 column 13")
        #expect(message("{\"version\":1e309}") == prefix + "number out of range at line 1 column 16")
        #expect(
            message("{\"version\":65536}") == prefix
                + "invalid value: integer `65536`, expected u16 at line 1 column 16")
        #expect(
            message("{\"version\":\"a\\tb\"}") == prefix
                + "invalid type: string \"a\\tb\", expected u16 at line 1 column 17")
        #expect(
            message("{\"version\":1,\"parent_uuid\":\"\(p)\",\"version\":1}") == prefix
                + "duplicate field `version` at line 1 column 75")
        #expect(
            message("{\"version\":1,\"parent_uuid\":\"\\ud800\"}") == prefix
                + "unexpected end of hex escape at line 1 column 35")
        #expect(
            message("{\"version\":1,\"x\":\"\\uZZZZ\",\"parent_uuid\":\"\(p)\"}") == prefix
                + "invalid escape at line 1 column 24")
        #expect(message("{\"version\":1,\n\"parent_uuid\":\"x\"}").hasSuffix("found `x` at 1 at line 2 column 17"))
        #expect(
            message("{\"version\":1,\"parent_uuid\":\"\(p)\"} x") == prefix + "trailing characters at line 1 column 68")
        #expect(message("{\"version\":1,\"parent_uuid\":\"\(p)\"}\n") == "ok")
    }

    /// Hostile input never crashes and never yields a context by accident.
    @Test func hostileInputs() {
        var rng = SystemRandomNumberGenerator()
        let seeds = [
            "{\"version\":1,\"root_uuid\":\"\(Self.root)\",\"parent_uuid\":\"\(Self.parent)\",\"traceparent\":\"\(Self.t)\"}",
            "[1,null,\"\(Self.parent)\",null,\"a=b\"]",
        ].map { Array($0.utf8) }
        let alphabet =
            Array("{}[]\",:\\u0123456789abcdefnulltruefalse-+.eE \n\t\u{1}".utf8) + [0x00, 0xC3, 0xA9, 0xFF, 0xF0]
        for _ in 0..<3000 {
            var b = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let at = Int.random(in: 0...b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0 where at < b.count: b.remove(at: at)
                case 1 where at < b.count: b[at] = alphabet.randomElement(using: &rng)!
                default: b.insert(alphabet.randomElement(using: &rng)!, at: at)
                }
            }
            do {
                let c = try PropagationContext(json: b)
                #expect(c.version == 1 && c.parentUUID.low != 0)
            } catch {
                #expect(error.kind != .invalidUUID)
                #expect(error.message.hasPrefix("invalid argument: "))
            }
            _ = W3CTraceContext.parse(String(decoding: b, as: UTF8.self))
            _ = W3CTraceContext.normalizeTraceState(String(decoding: b, as: UTF8.self))
            _ = try? RelayUUID.parseLenient(String(decoding: b, as: UTF8.self))
        }
        let deep = 200_000
        let nested =
            "{\"version\":1,\"x\":" + String(repeating: "[", count: deep) + String(repeating: "]", count: deep)
            + ",\"parent_uuid\":\"\(Self.parent)\"}"
        #expect((try? PropagationContext(json: nested))?.parentUUID.description == Self.parent)
        #expect((try? PropagationContext(json: String(repeating: "[", count: deep))) == nil)
        #expect((try? PropagationContext(json: [0xFF, 0xFE])) == nil)
        let huge = "{\"version\":" + String(repeating: "9", count: 100_000) + "}"
        #expect((try? PropagationContext(json: huge)) == nil)
        #expect(
            (try? PropagationContext(
                json: "{\"version\":1,\"parent_uuid\":\"\(Self.parent)\",\"tracestate\":\"\u{0}\"}"))?
                .tracestate == nil)
    }
}

@Suite(.serialized) struct PropagationStackTests {
    typealias V = PropagationVectors

    static func context(_ name: String) throws -> PropagationContext {
        let (p, r, t) = (V.parent, V.root, V.traceparent)
        switch name {
        case "rooted": return try PropagationContext(parentUUID: p, rootUUID: r)
        case "rootless": return try PropagationContext(parentUUID: p)
        case "rooted_with_w3c":
            return try PropagationContext(parentUUID: p, rootUUID: r, traceparent: t, tracestate: "vendor=a")
        case "rootless_with_w3c":
            return try PropagationContext(parentUUID: p, traceparent: t, tracestate: "vendor=a")
        case "from_json_rooted":
            return try PropagationContext(json: "{\"version\":1,\"root_uuid\":\"\(r)\",\"parent_uuid\":\"\(p)\"}")
        case "zero_trace_id_traceparent_dropped":
            return try PropagationContext(
                parentUUID: p, rootUUID: r, traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01")
        default: throw RelayError.notFound(name)
        }
    }

    /// The capture cases: a fresh stack, an Agent scope, a nested Function scope, a provider and a tool callback.
    @Test func captureCases() throws {
        let (rt, c) = makeRuntime()
        // fresh_context
        let fresh = ScopeStack()
        let f = V.named("capture", "fresh_context")["normalised"]?.objectValue ?? [:]
        #expect(Outcome.captures(fresh) == Denormaliser(uuids: [1: fresh.root.uuid]).apply(f["captures"] ?? .null))

        let s = ScopeStack()
        let agent = rt.pushScope("agent", type: .agent, stack: s)
        let a = V.named("capture", "agent_scope")["normalised"]?.objectValue ?? [:]
        #expect(Outcome.captures(s) == Denormaliser(uuids: [1: agent.uuid]).apply(a["captures"] ?? .null))

        let inner = rt.pushScope("inner", type: .function, stack: s)
        let n = V.named("capture", "nested_function_scope")["normalised"]?.objectValue ?? [:]
        #expect(
            Outcome.captures(s) == Denormaliser(uuids: [1: agent.uuid, 2: inner.uuid]).apply(n["captures"] ?? .null))
        try rt.popScope(inner, stack: s)

        let seen = Box<(JSON, JSON)?>(nil)
        let r = runLLM(rt, propagationRequest([:]), stack: s) { req, cont in
            seen.value = (req.json["headers"] ?? .null, Outcome.captures(s))
            cont.resume(returning: propagationChatResponse)
        }
        #expect(r?.success != nil)
        let toolSeen = Box<JSON?>(nil)
        let tr = runTool(rt, ToolCallParams(name: "lookup", args: ["q": 1], toolCallID: "call-1"), stack: s) {
            _, cont in
            toolSeen.value = Outcome.captures(s)
            cont.resume(returning: ToolResult(result: ["ok": true]))
        }
        #expect(tr?.success != nil)
        rt.flush()
        let llm = try #require(c.events.first { $0.category == "llm" }?.uuid)
        let tool = try #require(c.events.first { $0.category == "tool" }?.uuid)
        let l = V.named("capture", "llm_provider_callback")["normalised"]?.objectValue ?? [:]
        let dl = Denormaliser(uuids: [1: agent.uuid, 2: llm])
        #expect(seen.value?.0 == dl.apply(l["provider_headers"] ?? .null))
        #expect(seen.value?.1 == dl.apply(l["captures"] ?? .null))
        let t = V.named("capture", "tool_callback")["normalised"]?.objectValue ?? [:]
        #expect(toolSeen.value == Denormaliser(uuids: [1: agent.uuid, 2: tool]).apply(t["captures"] ?? .null))
        // After the calls the parent is the top scope again.
        #expect(s.capturePropagationContext().parentUUID == agent.uuid)
    }

    /// The six stacks created from a context: captures before and inside a child scope, the headers
    /// of a managed LLM call with caller trace headers, and the events' parentage.
    @Test func stackCases() throws {
        let names = [
            "rooted", "rootless", "rooted_with_w3c", "rootless_with_w3c", "from_json_rooted",
            "zero_trace_id_traceparent_dropped",
        ]
        for name in names {
            let (rt, c) = makeRuntime()
            let v = V.named("stack", name)["normalised"]?.objectValue ?? [:]
            let ctx = try Self.context(name)
            #expect(Outcome.of { ctx } == v["context"], "\(name)")
            let s = ScopeStack(propagation: ctx)
            let before = Outcome.captures(s)
            let child = rt.pushScope("child", type: .function, stack: s)
            let inChild = Outcome.captures(s)
            let seen = Box<(JSON, JSON)?>(nil)
            let caller: JSONObject = [
                "traceparent": .string(V.callerTraceparent), "tracestate": "caller=1", "x-request-id": "req-1",
            ]
            let r = runLLM(rt, propagationRequest(caller), stack: s) { req, cont in
                seen.value = (req.json["headers"] ?? .null, Outcome.captures(s))
                cont.resume(returning: propagationChatResponse)
            }
            #expect(r?.success != nil)
            try rt.popScope(child, stack: s)
            rt.flush()
            let llm = try #require(c.events.first { $0.category == "llm" }?.uuid)
            let d = Denormaliser(uuids: [1: child.uuid, 2: llm])
            let stack = v["stack"]?.objectValue ?? [:]
            #expect(before == d.apply(stack["before_any_scope"] ?? .null), "\(name): before any scope")
            #expect(inChild == d.apply(stack["in_child"] ?? .null), "\(name): in child")
            let request = v["provider_requests"]?.arrayValue?.first?.objectValue ?? [:]
            #expect(seen.value?.0 == d.apply(request["headers"] ?? .null), "\(name): provider headers")
            #expect(seen.value?.1 == d.apply(request["captures"] ?? .null), "\(name): captures in the provider")
            // Events: identity and parentage fields, `propagation_root_uuid` absent for rootless stacks.
            let keys = ["kind", "scope_category", "category", "name", "uuid", "parent_uuid", "propagation_root_uuid"]
            func fields(_ e: JSON) -> JSON {
                var o = JSONObject()
                for k in keys { if let x = e.objectValue?[k] { o[k] = x } }
                return .object(o)
            }
            let expected = (v["events"]?.arrayValue ?? []).map { fields(d.apply($0)) }
            #expect(c.json.map(fields) == expected, "\(name): events")
            let start = c.json.first { $0.objectValue?["category"]?.stringValue == "llm" }
            #expect(
                start?.objectValue?["data"]?.objectValue?["headers"]
                    == d.apply(
                        (v["events"]?.arrayValue ?? []).first { $0.objectValue?["category"]?.stringValue == "llm" }?
                            .objectValue?["data"]?.objectValue?["headers"] ?? .null),
                "\(name): the start event keeps the caller's headers")
        }
    }

    /// Contexts that cannot be built never produce a stack (the "unusable input" cases).
    @Test func unusableInputs() {
        typealias F = () throws(PropagationError) -> PropagationContext
        let cases: [(String, F)] = [
            (
                "unusable input: malformed parent",
                { () throws(PropagationError) in try PropagationContext(parentUUID: "not-a-uuid") }
            ),
            (
                "unusable input: all-zero parent",
                { () throws(PropagationError) in try PropagationContext(parentUUID: V.zero) }
            ),
            (
                "unusable input: all-zero root",
                { () throws(PropagationError) in try PropagationContext(parentUUID: V.parent, rootUUID: V.zero) }
            ),
            (
                "unusable input: all-zero parent tail",
                { () throws(PropagationError) in try PropagationContext(parentUUID: V.zeroTail) }
            ),
            ("unusable input: malformed JSON", { () throws(PropagationError) in try PropagationContext(json: "{") }),
            (
                "unusable input: all-zero parent JSON",
                { () throws(PropagationError) in
                    try PropagationContext(json: "{\"version\":1,\"parent_uuid\":\"\(V.zero)\"}")
                }
            ),
        ]
        for (name, make) in cases {
            #expect(Outcome.of(make) == V.named("stack", name)["raw"], "\(name)")
        }
    }

    /// A managed LLM call replaces caller trace headers (any case) with its own `traceparent`.
    @Test func llmHeaderCases() throws {
        let cases = V.section("llm_headers")
        #expect(cases.count == 7)
        for v in cases {
            let (rt, c) = makeRuntime()
            let s = ScopeStack()
            let agent = rt.pushScope("agent", type: .agent, stack: s)
            let seen = Box<JSON?>(nil)
            let caller = v["caller_headers"]?.objectValue ?? [:]
            let r = runLLM(rt, propagationRequest(caller), stack: s) { req, cont in
                seen.value = req.json["headers"]
                cont.resume(returning: propagationChatResponse)
            }
            #expect(r?.success != nil)
            rt.flush()
            let llm = try #require(c.events.first { $0.category == "llm" }?.uuid)
            let n = v["normalised"]?.objectValue ?? [:]
            #expect(
                seen.value == Denormaliser(uuids: [1: agent.uuid, 2: llm]).apply(n["provider_headers"] ?? .null),
                "\(v["name"]?.stringValue ?? "")")
        }
    }

    /// A streaming call in a stack that imported a W3C parent sends that trace and its tracestate.
    @Test func streamingCallHeaders() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack(
            propagation: try PropagationContext(
                parentUUID: V.parent, rootUUID: V.root, traceparent: V.traceparent, tracestate: "vendor=a"))
        let seen = Box<(JSON, RelayUUID?)?>(nil)
        var p = propagationRequest(["TraceParent": .string(V.callerTraceparent), "TRACESTATE": "x=1"])
        p.attributes = Attributes.streaming
        let stream = rt.llmStreamExecute(p, stack: s) { req, sink in
            seen.value = (req.json["headers"] ?? .null, ActiveCall.current?.handle.uuid)
            sink.finish()
        }
        #expect(drainStream(stream).1 == .finished)
        rt.flush()
        let llm = try #require(c.events.first { $0.category == "llm" }?.uuid)
        #expect(
            seen.value?.0
                == [
                    "traceparent": .string("00-4bf92f3577b34da6a3ce929d0e0e4736-\(llm.hex.suffix(16))-01"),
                    "tracestate": "vendor=a",
                ])
        #expect(seen.value?.1 == llm)
    }

    /// A rootless import emits no `propagation_root_uuid` until an Agent scope opens; a rooted one
    /// emits its root everywhere.
    @Test func eventRoots() throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack(propagation: try PropagationContext(parentUUID: V.parent))
        let f = rt.pushScope("f", type: .function, stack: s)
        let a = rt.pushScope("a", type: .agent, stack: s)
        rt.mark("m", stack: s)
        try rt.popScope(a, stack: s)
        try rt.popScope(f, stack: s)
        rt.mark("m2", stack: s)
        rt.flush()
        let roots = c.json.map { $0.objectValue?["propagation_root_uuid"]?.stringValue ?? "absent" }
        let au = a.uuid.description
        #expect(roots == ["absent", au, au, au, "absent", "absent"])
        #expect(!c.lines[0].contains("propagation_root_uuid"))
        #expect(c.events[0].parentUUID?.description == V.parent)
        // The imported entries cannot be ended and the stack keeps them.
        #expect(throws: RelayError.self) { try rt.popScope(s.top, stack: s) }
        let rooted = ScopeStack(propagation: try PropagationContext(parentUUID: V.parent, rootUUID: V.root))
        #expect(rooted.top.uuid.description == V.parent && rooted.root.uuid.description == V.root)
        #expect(rooted.propagationRoot(newAgent: nil)?.description == V.root)
        let fork = ScopeStack(forkingFrom: rooted)
        #expect(fork.capturePropagationContext().rootUUID?.description == V.root)
    }

    /// Captures made in an async provider (a task the callback starts) still name the LLM call.
    @Test func asyncProviderCaptures() async throws {
        let (rt, c) = makeRuntime()
        let s = ScopeStack()
        let agent = rt.pushScope("agent", type: .agent, stack: s)
        let seen = Box<PropagationContext?>(nil)
        _ = try await rt.llmCallExecute(propagationRequest([:]), stack: s) { _ in
            try await Task.sleep(nanoseconds: 1_000_000)
            seen.value = s.capturePropagationContext()
            return propagationChatResponse
        }
        rt.flush()
        let llm = try #require(c.events.first { $0.category == "llm" }?.uuid)
        #expect(seen.value?.parentUUID == llm && seen.value?.rootUUID == agent.uuid)
        #expect(s.capturePropagationContext().parentUUID == agent.uuid)
        // Another stack is not inside the call.
        #expect(ActiveCall.current == nil)
    }
}

@Suite(.serialized) struct PropagationImportsTests {
    typealias V = PropagationVectors

    static func bytes(_ hex: some StringProtocol) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16) ?? 0) }
        return out
    }

    @Test func remoteParents() throws {
        PropagationImports.removeAll()
        let p = V.parent
        #expect(PropagationImports.remoteParent(p) == nil)
        _ = ScopeStack(propagation: try PropagationContext(parentUUID: p))
        #expect(PropagationImports.remoteParent(p) == nil, "rootless without traceparent: a new trace")
        _ = ScopeStack(propagation: try PropagationContext(parentUUID: p, rootUUID: V.root))
        let rooted = try #require(PropagationImports.remoteParent(p))
        #expect(rooted.traceID == Self.bytes(V.root.replacingOccurrences(of: "-", with: "")))
        #expect(rooted.spanID == Self.bytes(p.replacingOccurrences(of: "-", with: "").suffix(16)))
        #expect(rooted.traceState == "")
        // The event's root tells a rooted import from a rootless one of the same parent.
        #expect(PropagationImports.remoteParent(p, propagationRootUUID: nil) == nil)
        #expect(PropagationImports.remoteParent(p, propagationRootUUID: V.root)?.traceID == rooted.traceID)
        _ = ScopeStack(
            propagation: try PropagationContext(parentUUID: p, traceparent: V.traceparent, tracestate: "vendor=a"))
        let w3c = try #require(PropagationImports.remoteParent(p))
        #expect(w3c.traceID == Self.bytes("4bf92f3577b34da6a3ce929d0e0e4736"))
        #expect(w3c.spanID == Self.bytes("00f067aa0ba902b7"))
        #expect(w3c.traceState == "vendor=a")
        #expect(PropagationImports.remoteParent("not a uuid") == nil)
        PropagationImports.removeAll()
    }

    @Test func registryIsBounded() throws {
        PropagationImports.removeAll()
        let first = UUIDGenerator.next(nowNanos: 1)
        let root = UUIDGenerator.next(nowNanos: 1)
        _ = ScopeStack(propagation: try PropagationContext(parentUUID: first, rootUUID: root))
        for _ in 0..<(PropagationImports.capacity + 100) {
            _ = ScopeStack(
                propagation: try PropagationContext(parentUUID: UUIDGenerator.next(nowNanos: 1), rootUUID: root))
        }
        #expect(PropagationImports.count == PropagationImports.capacity)
        #expect(PropagationImports.remoteParent(first.description) == nil, "the oldest import was dropped")
        PropagationImports.removeAll()
    }
}
