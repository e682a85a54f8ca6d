// SPDX-License-Identifier: Apache-2.0
// Exporters from Swift: a small agent run written as an ATOF JSON Lines file and its ATIF v1.7
// trajectory (docs/exporters.md).
//
//     swift run ExportersExample [OUTDIR]
import Foundation
import NemoRelay

let outdir =
    CommandLine.arguments.count > 1
    ? CommandLine.arguments[1]
    : NSTemporaryDirectory() + "nemo-relay-example-\(UUID().uuidString)"

let runtime = Runtime()
let jsonl = try Exporter.atof(ATOFExporterConfig(json: ["output_directory": .string(outdir)]))
try jsonl.register(on: runtime, name: "jsonl")
let trajectory = Exporter.atif(
    ATIFOptions(sessionID: "weather-session", agentName: "weather-agent", agentVersion: "1.0.0"))
try trajectory.register(on: runtime, name: "atif")

let stack = ScopeStack()
let agent = runtime.pushScope("weather-agent", type: .agent, stack: stack, input: ["question": "Weather in Paris?"])
let request = LLMRequest(content: [
    "model": "gpt-4o-mini", "messages": [["role": "user", "content": "Weather in Paris?"]],
])
let llm = runtime.llmCall(LLMCallParams(name: "openai", request: request), stack: stack)
let answer: JSON = [
    "id": "chatcmpl-1", "model": "gpt-4o-mini",
    "choices": [
        ["index": 0, "message": ["role": "assistant", "content": "It is 18 C in Paris."], "finish_reason": "stop"]
    ],
    "usage": ["prompt_tokens": 12, "completion_tokens": 8],
]
runtime.llmCallEnd(llm, LLMCallEndParams(response: answer), stack: stack)
try runtime.popScope(agent, stack: stack)

try jsonl.shutdown()
let text = ATIF.jsonString(try trajectory.trajectory())
print("ATOF JSON Lines: \(jsonl.path ?? "-")")
print("ATIF trajectory: \(text)")
