// SPDX-License-Identifier: Apache-2.0
// The NemoRelay core from another package: an agent scope around a tool call, and a subscriber that
// prints each event's canonical JSON line.
import NemoRelay
import Synchronization

let runtime = Runtime()
let lines = Mutex<[String]>([])
try runtime.registerSubscriber(name: "print") { record in
    let line = String(decoding: record.bytes, as: UTF8.self)
    lines.withLock { $0.append(line) }
}

let stack = ScopeStack()
let agent = runtime.pushScope("consumer-agent", type: .agent, stack: stack, input: ["task": "add 2 and 3"])
let tool = runtime.toolCall(ToolCallParams(name: "add", args: ["a": 2, "b": 3]), stack: stack)
runtime.toolCallEnd(tool, result: ToolResult(result: ["sum": 5]), stack: stack)
try runtime.popScope(agent, stack: stack)
guard runtime.flush() else { fatalError("flush timed out") }

let printed = lines.withLock { $0 }
for line in printed { print(line) }
print("NemoRelay \(RelayVersion.string): \(printed.count) events")
