// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization

@testable import NemoRelay

/// Collects every delivered event (its canonical bytes and the struct) in delivery order.
final class EventCollector: Sendable {
    private let records_ = Mutex<[EventRecord]>([])

    func add(_ r: EventRecord) {
        _ = r.bytes  // serialize on the delivery thread, like a real exporter
        records_.withLock { $0.append(r) }
    }

    var records: [EventRecord] { records_.withLock { $0 } }
    var events: [Event] { records.map(\.event) }
    /// The canonical lines parsed back into JSON.
    var json: [JSON] { records.map { (try? JSON.parse($0.bytes)) ?? .null } }
    var lines: [String] { records.map { String(decoding: $0.bytes, as: UTF8.self) } }
}

/// A runtime with a manual clock and one global collecting subscriber.
func makeRuntime(
    clock: ManualClock = ManualClock(), options: SubscriberOptions = SubscriberOptions()
) -> (Runtime, EventCollector) {
    let rt = Runtime(clock: clock, subscriberOptions: options)
    let c = EventCollector()
    try! rt.registerSubscriber(name: "collector") { c.add($0) }
    return (rt, c)
}

/// A thread-safe box for values written by callbacks.
final class Box<T: Sendable>: Sendable {
    private let value_: Mutex<T>
    init(_ v: T) { value_ = Mutex(v) }
    var value: T {
        get { value_.withLock { $0 } }
        set { value_.withLock { $0 = newValue } }
    }
    func mutate(_ f: (inout T) -> Void) { value_.withLock { f(&$0) } }
}

/// Runs `llmExecute` and waits (up to 10 s) for `done`.
func runLLM(
    _ rt: Runtime, _ p: LLMCallParams, stack: ScopeStack, control: CallControl = CallControl(),
    provider: @escaping LLMProvider
) -> Result<JSON, RelayError>? {
    let sem = DispatchSemaphore(value: 0)
    let out = Box<Result<JSON, RelayError>?>(nil)
    rt.llmExecute(p, stack: stack, control: control, provider: provider) { r in
        out.value = r
        sem.signal()
    }
    guard sem.wait(timeout: .now() + 10) == .success else { return nil }
    return out.value
}

/// Runs `toolExecute` and waits (up to 10 s) for `done`.
func runTool(
    _ rt: Runtime, _ p: ToolCallParams, stack: ScopeStack, control: CallControl = CallControl(),
    tool: @escaping ToolFunction
) -> Result<ToolResult, RelayError>? {
    let sem = DispatchSemaphore(value: 0)
    let out = Box<Result<ToolResult, RelayError>?>(nil)
    rt.toolExecute(p, stack: stack, control: control, tool: tool) { r in
        out.value = r
        sem.signal()
    }
    guard sem.wait(timeout: .now() + 10) == .success else { return nil }
    return out.value
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
    var success: Success? {
        if case .success(let v) = self { return v }
        return nil
    }
}

/// A provider that answers `value` at once.
func returning(_ value: JSON) -> LLMProvider { { _, c in c.resume(returning: value) } }

/// A simple chat request body.
func chatRequest(_ text: String, headers: JSONObject = JSONObject()) -> LLMRequest {
    LLMRequest(
        headers: headers, content: ["model": "gpt-4o", "messages": [["role": "user", "content": .string(text)]]])
}

// MARK: - Random generators and hex

/// SplitMix64, a small seeded generator: a seed always gives the same sequence, so a shuffle or a random
/// input that made a test fail can be reproduced.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A generator that replays one fixed value, for jitter tests.
struct FixedRandom: RandomNumberGenerator {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

/// `bytes` as lowercase hex digits, two a byte.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}
