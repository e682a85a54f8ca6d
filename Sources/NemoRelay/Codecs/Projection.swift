// SPDX-License-Identifier: Apache-2.0

/// Projects an annotated request to its current turn (docs/pipeline.md, "Current-turn projection"), nil if unchanged.
///
/// The current turn starts at the last message whose role is `user` (in every codec's annotation an
/// Anthropic user message holding only `tool_result` blocks is still a `user` message; Responses
/// `tool_result` items are not). The `system` messages before it are kept in order; `developer`
/// messages are not. Without a user message the `system` messages and the last message are kept.
/// Top-level `instructions` are not messages and always stay.
public func projectCurrentTurn(_ annotated: JSON) -> JSON? {
    guard case .object(var o) = annotated, case .array(let messages)? = o["messages"], !messages.isEmpty else {
        return nil
    }
    func role(_ m: JSON) -> String? { m["role"]?.stringValue }
    let start = messages.lastIndex { role($0) == "user" } ?? (messages.count - 1)
    var kept: [JSON] = []
    kept.reserveCapacity(messages.count - start + 4)
    for m in messages[..<start] where role(m) == "system" { kept.append(m) }
    kept.append(contentsOf: messages[start...])
    if kept.count == messages.count { return nil }
    o["messages"] = .array(kept)
    return .object(o)
}
