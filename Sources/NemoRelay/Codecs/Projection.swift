// SPDX-License-Identifier: Apache-2.0

/// Reduces an annotated request to the current turn (semantics 3.3); nil when nothing would be dropped.
public func projectCurrentTurn(_ annotated: JSON) -> JSON? {
    guard case .object(var o) = annotated, case .array(let msgs)? = o["messages"] else { return nil }
    func role(_ m: JSON) -> String? { m["role"]?.stringValue }
    func isUser(_ m: JSON) -> Bool { role(m) == "user" }
    let lastUser = msgs.lastIndex(where: isUser)
    var kept: [JSON] = []
    if let u = lastUser {
        for m in msgs[..<u] where role(m) == "system" { kept.append(m) }
        kept.append(contentsOf: msgs[u...])
    } else {
        guard let last = msgs.last else { return nil }
        for m in msgs.dropLast() where role(m) == "system" { kept.append(m) }
        kept.append(last)
    }
    if kept.count == msgs.count { return nil }
    o["messages"] = .array(kept)
    return .object(o)
}
