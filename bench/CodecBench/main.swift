// SPDX-License-Identifier: Apache-2.0
// Codec micro-benchmark: µs per decode, encode (unchanged and with one edit) and decode_response of a
// realistic 20-turn request with 3 tools, for each built-in codec.
// Run: swift run -c release --scratch-path .build-codec CodecBench
// `--smoke` runs each measurement a few hundred times only, and exits 1 if any codec failed (for CI).
// `--only json|json-parse|json-serialize|json-sorted` measures the JSON layer alone (or one of its three
// operations); `--iterations N` runs every measurement exactly N times, without warm-up or rounds, for
// instruction counts under valgrind (`valgrind --tool=callgrind`, compare N against 0).

import NemoRelay

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic time in nanoseconds.
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Keeps results observable so the optimizer cannot drop the measured work. `nonisolated(unsafe)`:
/// the benchmark is single-threaded, only the main thread ever touches it, and an atomic would add its
/// own cost to every measured call.
nonisolated(unsafe) var sink = 0

func consume(_ v: JSON) {
    if case .object(let o) = v { sink &+= o.count } else { sink &+= 1 }
}

/// A smoke run (`--smoke`): one short round per measurement; the figures mean nothing.
let smoke = CommandLine.arguments.contains("--smoke")
/// Codecs that failed or answered unexpectedly; a smoke run exits 1 when there are any. `nonisolated(unsafe)`:
/// only the main thread touches it, as `sink`.
nonisolated(unsafe) var failures = 0

/// The value following `flag` on the command line, if any.
func option(_ flag: String) -> String? {
    guard let i = CommandLine.arguments.firstIndex(of: flag), i + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[i + 1]
}
/// `--only`: a JSON-only run, optionally of one operation.
let only = option("--only")
/// `--iterations N`: run each measurement exactly N times (for instruction counts).
let fixedIterations = option("--iterations").flatMap { Int($0) }

/// Runs `body` in `rounds` rounds of at least `minSeconds` each (after a warm-up) and returns the best
/// round's µs per call (the machine is shared, so the minimum is the least noisy estimate).
func measure(rounds: Int = 5, minSeconds: Double = 0.15, _ body: () throws -> Void) rethrows -> Double {
    if let n = fixedIterations {
        let start = nowNanos()
        for _ in 0..<n { try body() }
        return Double(nowNanos() - start) / 1e3 / Double(max(n, 1))
    }
    for _ in 0..<(smoke ? 1 : 200) { try body() }
    var best = Double.infinity
    for _ in 0..<(smoke ? 1 : rounds) {
        var iterations = 0
        let start = nowNanos()
        var elapsed: UInt64 = 0
        repeat {
            for _ in 0..<100 { try body() }
            iterations += 100
            elapsed = nowNanos() - start
        } while !smoke && Double(elapsed) < minSeconds * 1e9
        best = min(best, Double(elapsed) / 1e3 / Double(iterations))
    }
    return best
}

let sentence = "The quick brown fox jumps over the lazy dog while the assistant reasons about the weather. "
func text(_ i: Int) -> String { "Turn \(i): " + String(repeating: sentence, count: 2) }

let weatherSchema: JSON = [
    "type": "object",
    "properties": [
        "city": ["type": "string", "description": "City name"], "unit": ["type": "string", "enum": ["c", "f"]],
    ],
    "required": ["city"], "additionalProperties": false,
]
let toolSpecs: [(String, String, JSON)] = [
    ("get_weather", "Get the current weather for a city", weatherSchema),
    (
        "get_time", "Get the local time in a time zone",
        ["type": "object", "properties": ["tz": ["type": "string"]], "required": ["tz"]]
    ),
    (
        "search_docs", "Search the internal documentation",
        [
            "type": "object", "properties": ["query": ["type": "string"], "limit": ["type": "integer"]],
            "required": ["query"],
        ]
    ),
]

func chatRequest() -> JSON {
    var messages: [JSON] = [["role": "system", "content": "You are a helpful assistant. Use tools when needed."]]
    var i = 1
    while messages.count < 20 {
        messages.append(["role": "user", "content": .string(text(i))])
        if i % 3 == 0, messages.count <= 17 {
            let id = JSON.string("call_\(i)")
            messages.append([
                "role": "assistant", "content": .null,
                "tool_calls": [
                    [
                        "id": id, "type": "function",
                        "function": ["name": "get_weather", "arguments": #"{"city":"Paris"}"#],
                    ]
                ],
            ])
            messages.append(["role": "tool", "tool_call_id": id, "content": #"{"temp_c":18,"sky":"cloudy"}"#])
        }
        messages.append(["role": "assistant", "content": .string(text(i + 100))])
        i += 1
    }
    let tools: [JSON] = toolSpecs.map { name, desc, schema in
        ["type": "function", "function": ["name": .string(name), "description": .string(desc), "parameters": schema]]
    }
    return [
        "model": "gpt-4o", "messages": .array(Array(messages.prefix(20))), "tools": .array(tools),
        "tool_choice": "auto", "temperature": 0.2, "max_completion_tokens": 1024, "stream": false,
        "user": "bench-user", "seed": 7,
    ]
}

func responsesRequest() -> JSON {
    var items: [JSON] = [["role": "developer", "content": "Use tools when needed."]]
    var i = 1
    while items.count < 20 {
        items.append(["role": "user", "content": [["type": "input_text", "text": .string(text(i))]]])
        if i % 3 == 0, items.count <= 17 {
            let id = JSON.string("call_\(i)")
            items.append([
                "type": "function_call", "call_id": id, "name": "get_weather",
                "arguments": #"{"city":"Paris"}"#,
            ])
            items.append(["type": "function_call_output", "call_id": id, "output": #"{"temp_c":18}"#])
        }
        items.append([
            "type": "message", "role": "assistant",
            "content": [["type": "output_text", "text": .string(text(i + 100)), "annotations": []]],
        ])
        i += 1
    }
    let tools: [JSON] = toolSpecs.map { name, desc, schema in
        [
            "type": "function", "name": .string(name), "description": .string(desc), "parameters": schema,
            "strict": false,
        ]
    }
    return [
        "model": "gpt-5", "instructions": "You are a helpful assistant.", "input": .array(Array(items.prefix(20))),
        "tools": .array(tools), "tool_choice": "auto", "temperature": 0.2, "max_output_tokens": 1024, "store": false,
        "text": ["verbosity": "low"],
    ]
}

func anthropicRequest() -> JSON {
    var messages: [JSON] = []
    var i = 1
    while messages.count < 20 {
        messages.append(["role": "user", "content": .string(text(i))])
        if i % 3 == 0, messages.count <= 17 {
            let id = JSON.string("toolu_\(i)")
            messages.append([
                "role": "assistant",
                "content": [
                    ["type": "text", "text": "Let me check."],
                    ["type": "tool_use", "id": id, "name": "get_weather", "input": ["city": "Paris"]],
                ],
            ])
            messages.append([
                "role": "user", "content": [["type": "tool_result", "tool_use_id": id, "content": "18C"]],
            ])
        }
        messages.append(["role": "assistant", "content": [["type": "text", "text": .string(text(i + 100))]]])
        i += 1
    }
    var tools: [JSON] = toolSpecs.map { name, desc, schema in
        ["name": .string(name), "description": .string(desc), "input_schema": schema]
    }
    tools[2] = [
        "name": "search_docs", "description": "Search the internal documentation",
        "input_schema": toolSpecs[2].2, "cache_control": ["type": "ephemeral"],
    ]
    return [
        "model": "claude-sonnet-4-20250514", "max_tokens": 1024,
        "system": [["type": "text", "text": "You are a helpful assistant.", "cache_control": ["type": "ephemeral"]]],
        "messages": .array(Array(messages.prefix(20))), "tools": .array(tools), "tool_choice": ["type": "auto"],
        "temperature": 0.2, "top_k": 40,
    ]
}

func geminiRequest() -> JSON {
    var contents: [JSON] = []
    var i = 1
    while contents.count < 20 {
        contents.append(["role": "user", "parts": [["text": .string(text(i))]]])
        if i % 3 == 0, contents.count <= 17 {
            contents.append([
                "role": "model",
                "parts": [
                    ["text": "Planning the call.", "thought": true, "thoughtSignature": "c2lnbmF0dXJl"],
                    ["functionCall": ["name": "get_weather", "args": ["city": "Paris"]], "thoughtSignature": "c2ln"],
                ],
            ])
            contents.append([
                "role": "user",
                "parts": [["functionResponse": ["name": "get_weather", "response": ["temp_c": 18, "sky": "cloudy"]]]],
            ])
        }
        contents.append(["role": "model", "parts": [["text": .string(text(i + 100))]]])
        i += 1
    }
    let declarations: [JSON] = toolSpecs.map { name, desc, schema in
        ["name": .string(name), "description": .string(desc), "parameters": schema]
    }
    return [
        "model": "gemini-2.5-flash",
        "systemInstruction": ["parts": [["text": "You are a helpful assistant. Use tools when needed."]]],
        "contents": .array(Array(contents.prefix(20))),
        "tools": [["functionDeclarations": .array(declarations)], ["googleSearch": [:]]],
        "toolConfig": ["functionCallingConfig": ["mode": "AUTO"]],
        "generationConfig": [
            "temperature": 0.2, "maxOutputTokens": 1024, "topK": 40, "thinkingConfig": ["thinkingBudget": 512],
        ],
        "safetySettings": [["category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"]],
    ]
}

func ociRequest() -> JSON {
    func textContent(_ s: String) -> JSON { [["type": "TEXT", "text": .string(s)]] }
    var messages: [JSON] = [["role": "SYSTEM", "content": textContent("You are a helpful assistant.")]]
    var i = 1
    while messages.count < 20 {
        messages.append(["role": "USER", "content": textContent(text(i))])
        if i % 3 == 0, messages.count <= 17 {
            let id = JSON.string("call_\(i)")
            messages.append([
                "role": "ASSISTANT", "content": [],
                "toolCalls": [
                    ["id": id, "type": "FUNCTION", "name": "get_weather", "arguments": #"{"city":"Paris"}"#]
                ],
            ])
            messages.append(["role": "TOOL", "toolCallId": id, "content": textContent(#"{"temp_c":18}"#)])
        }
        messages.append(["role": "ASSISTANT", "content": textContent(text(i + 100))])
        i += 1
    }
    let tools: [JSON] = toolSpecs.map { name, desc, schema in
        ["type": "FUNCTION", "name": .string(name), "description": .string(desc), "parameters": schema]
    }
    return [
        "compartmentId": "ocid1.compartment.oc1..bench",
        "servingMode": ["servingType": "ON_DEMAND", "modelId": "meta.llama-3.3-70b-instruct"],
        "chatRequest": [
            "apiFormat": "GENERIC", "messages": .array(Array(messages.prefix(20))), "tools": .array(tools),
            "toolChoice": ["type": "AUTO"], "maxTokens": 1024, "temperature": 0.2, "topK": -1, "isStream": false,
        ],
    ]
}

func bedrockRequest() -> JSON {
    var messages: [JSON] = []
    var i = 1
    while messages.count < 20 {
        messages.append(["role": "user", "content": [["text": .string(text(i))]]])
        if i % 3 == 0, messages.count <= 17 {
            let id = JSON.string("tooluse_\(i)")
            messages.append([
                "role": "assistant",
                "content": [
                    ["reasoningContent": ["reasoningText": ["text": "Need the tool.", "signature": "c2ln"]]],
                    ["toolUse": ["toolUseId": id, "name": "get_weather", "input": ["city": "Paris"]]],
                ],
            ])
            messages.append([
                "role": "user",
                "content": [
                    ["toolResult": ["toolUseId": id, "content": [["json": ["temp_c": 18]]], "status": "success"]]
                ],
            ])
        }
        messages.append(["role": "assistant", "content": [["text": .string(text(i + 100))]]])
        i += 1
    }
    var tools: [JSON] = toolSpecs.map { name, desc, schema in
        ["toolSpec": ["name": .string(name), "description": .string(desc), "inputSchema": ["json": schema]]]
    }
    tools.append(["cachePoint": ["type": "default"]])
    return [
        "modelId": "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "system": [["text": "You are a helpful assistant."], ["cachePoint": ["type": "default"]]],
        "messages": .array(Array(messages.prefix(20))),
        "inferenceConfig": ["maxTokens": 1024, "temperature": 0.2],
        "toolConfig": ["tools": .array(tools), "toolChoice": ["auto": [:]]],
        "additionalModelRequestFields": ["top_k": 40],
    ]
}

let chatResponse: JSON = [
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1_735_689_600, "model": "gpt-4o-2024-08-06",
    "choices": [
        [
            "index": 0, "finish_reason": "tool_calls", "logprobs": .null,
            "message": [
                "role": "assistant", "content": .string(text(1)),
                "tool_calls": [
                    [
                        "id": "call_x", "type": "function",
                        "function": ["name": "get_weather", "arguments": #"{"city":"Rome"}"#],
                    ]
                ],
            ],
        ]
    ],
    "usage": [
        "prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
        "prompt_tokens_details": ["cached_tokens": 1024],
    ],
    "system_fingerprint": "fp_1",
]
let responsesResponse: JSON = [
    "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5",
    "output": [
        ["type": "reasoning", "id": "rs_1", "summary": []],
        [
            "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [["type": "output_text", "text": .string(text(2)), "annotations": []]],
        ],
        [
            "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_time",
            "arguments": #"{"tz":"UTC"}"#,
        ],
    ],
    "usage": [
        "input_tokens": 1200, "input_tokens_details": ["cached_tokens": 1024], "output_tokens": 80,
        "output_tokens_details": ["reasoning_tokens": 32], "total_tokens": 1280,
    ],
]
let anthropicResponse: JSON = [
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
    "content": [
        ["type": "text", "text": .string(text(3))],
        ["type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": ["city": "Oslo"]],
    ],
    "stop_reason": "tool_use", "stop_sequence": .null,
    "usage": ["input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 1024],
]

let geminiResponse: JSON = [
    "candidates": [
        [
            "content": [
                "role": "model",
                "parts": [
                    ["text": "Thinking.", "thought": true], ["text": .string(text(4))],
                    ["functionCall": ["name": "get_weather", "args": ["city": "Oslo"]], "thoughtSignature": "c2ln"],
                ],
            ],
            "finishReason": "STOP", "index": 0,
            "safetyRatings": [["category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"]],
        ]
    ],
    "usageMetadata": [
        "promptTokenCount": 1200, "candidatesTokenCount": 80, "totalTokenCount": 1312, "thoughtsTokenCount": 32,
        "cachedContentTokenCount": 1024,
    ],
    "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
]
let ociResponse: JSON = [
    "modelId": "meta.llama-3.3-70b-instruct", "modelVersion": "1.0.0",
    "chatResponse": [
        "apiFormat": "GENERIC", "timeCreated": "2025-06-01T00:00:00Z",
        "choices": [
            [
                "index": 0, "finishReason": "tool_calls",
                "message": [
                    "role": "ASSISTANT", "content": [["type": "TEXT", "text": .string(text(5))]],
                    "toolCalls": [
                        ["id": "c1", "type": "FUNCTION", "name": "get_weather", "arguments": #"{"city":"Oslo"}"#]
                    ],
                ],
            ]
        ],
        "usage": [
            "promptTokens": 1200, "completionTokens": 80, "totalTokens": 1280,
            "promptTokensDetails": ["cachedTokens": 1024],
        ],
    ],
]
let bedrockResponse: JSON = [
    "output": [
        "message": [
            "role": "assistant",
            "content": [
                ["reasoningContent": ["reasoningText": ["text": "Use the tool.", "signature": "c2ln"]]],
                ["text": .string(text(6))],
                ["toolUse": ["toolUseId": "tooluse_9", "name": "get_weather", "input": ["city": "Oslo"]]],
            ],
        ]
    ],
    "stopReason": "tool_use",
    "usage": [
        "inputTokens": 176, "outputTokens": 80, "totalTokens": 1280, "cacheReadInputTokens": 1024,
        "cacheWriteInputTokens": 0,
    ],
    "metrics": ["latencyMs": 812],
]

let cases: [(any SynchronousLLMCodec, JSON, JSON)] = [
    (OpenAIChatCodec(), chatRequest(), chatResponse),
    (OpenAIResponsesCodec(), responsesRequest(), responsesResponse),
    (AnthropicMessagesCodec(), anthropicRequest(), anthropicResponse),
    (GeminiGenerateContentCodec(), geminiRequest(), geminiResponse),
    (OCIGenAIChatCodec(), ociRequest(), ociResponse),
    (BedrockConverseCodec(), bedrockRequest(), bedrockResponse),
]

if only == nil { print("codec                decode µs  encode µs  encode+edit µs  decode_response µs  (body bytes)") }
for (codec, body, response) in cases where only == nil {
    let request = LLMRequest(headers: ["content-type": "application/json"], content: body)
    do {
        let annotated = try codec.decode(request)
        // One edit: rewrite the text of the last user message (patched onto its original JSON).
        guard case .object(var edited) = annotated, case .array(var msgs)? = edited["messages"],
            let last = msgs.lastIndex(where: { $0["role"] == "user" }), case .object(var m) = msgs[last]
        else {
            print("\(codec.id): unexpected annotation shape")
            failures += 1
            continue
        }
        m["content"] = "Edited: what is the weather in Oslo?"
        msgs[last] = .object(m)
        edited["messages"] = .array(msgs)
        let editedJSON = JSON.object(edited)
        let unchanged = try codec.encode(annotated, original: request).content
        if unchanged != body {
            print("\(codec.id): unchanged encode differs from the input")
            failures += 1
        }

        let dec = try measure { consume(try codec.decode(request)) }
        let enc = try measure { consume(try codec.encode(annotated, original: request).content) }
        let encEdit = try measure { consume(try codec.encode(editedJSON, original: request).content) }
        let resp = try measure { consume(try codec.decodeResponse(response)) }
        func col(_ v: Double, _ w: Int) -> String {
            let s = String(Double(Int(v * 100)) / 100)
            return String(repeating: " ", count: max(0, w - s.count)) + s
        }
        let name = codec.id + String(repeating: " ", count: max(0, 19 - codec.id.count))
        print(
            "\(name) \(col(dec, 10)) \(col(enc, 10)) \(col(encEdit, 15)) \(col(resp, 19))  (\(body.serialized().count))"
        )
    } catch {
        print("\(codec.id): failed: \(error)")
        failures += 1
    }
}
if sink == 42 { print("") }

// The JSON layer alone, on the same chat body: what every crossing of the C boundary pays.
do {
    let body = chatRequest()
    let bytes = body.serialized()
    func wanted(_ op: String) -> Bool { only == nil || only == "json" || only == "json-" + op }
    let parse = try wanted("parse") ? measure { consume(try JSON.parse(bytes)) } : 0
    let write = wanted("serialize") ? measure { sink &+= body.serialized().count } : 0
    let writeSorted = wanted("sorted") ? measure { sink &+= body.serialized(sortedKeys: true).count } : 0
    print(
        "json (\(bytes.count) bytes)   parse \(String(Double(Int(parse * 100)) / 100)) µs, serialize \(String(Double(Int(write * 100)) / 100)) µs, sorted \(String(Double(Int(writeSorted * 100)) / 100)) µs"
    )
}
if failures > 0 {
    print("\(failures) codec case(s) failed")
    exit(1)
}
