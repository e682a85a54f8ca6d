// SPDX-License-Identifier: Apache-2.0

/// Encodes one annotated item (message, part, tool) fresh into provider JSON.
typealias FreshEncoder = (JSON) throws(RelayError) -> JSON

/// The baseline-diff merge of arrays of items (docs/annotated-request.md, "Encode").
///
/// Items equal to a baseline item reuse that item's original provider JSON (in place or moved); a
/// single in-place edit is patched onto its original JSON; everything else is encoded fresh.
enum ItemMerge {
    /// Above this many candidate comparisons the move search uses a hash index instead of a scan.
    static let linearSearchLimit = 256

    /// Rebuilds a provider array from `annotated`, reusing `originals` where the item is unchanged.
    ///
    /// `baseline[i]` must be the annotation decoded from `originals[i]`; `originals` may be nil
    /// (nothing to reuse) or shorter than `baseline`.
    static func merge(
        annotated: [JSON], baseline: [JSON], originals: [JSON]?, fresh: FreshEncoder
    ) throws(RelayError) -> [JSON] {
        let equal = positionalMatches(annotated, baseline)
        return try merge(annotated: annotated, baseline: baseline, originals: originals, equal: equal, fresh: fresh)
    }

    /// Like ``merge(annotated:baseline:originals:fresh:)`` but nil when the arrays are equal (nothing to write).
    static func mergeIfChanged(
        annotated: [JSON], baseline: [JSON], originals: [JSON]?, fresh: FreshEncoder
    ) throws(RelayError) -> [JSON]? {
        let equal = positionalMatches(annotated, baseline)
        if annotated.count == baseline.count, !equal.contains(false) { return nil }
        return try merge(annotated: annotated, baseline: baseline, originals: originals, equal: equal, fresh: fresh)
    }

    /// Whether `annotated[i] == baseline[i]`, for each annotated index (false past the baseline's end).
    static func positionalMatches(_ annotated: [JSON], _ baseline: [JSON]) -> [Bool] {
        var equal = [Bool](repeating: false, count: annotated.count)
        for i in 0..<min(annotated.count, baseline.count) where annotated[i] == baseline[i] { equal[i] = true }
        return equal
    }

    private static func merge(
        annotated: [JSON], baseline: [JSON], originals: [JSON]?, equal: [Bool], fresh: FreshEncoder
    ) throws(RelayError) -> [JSON] {
        let originals = originals ?? []
        let n = annotated.count
        // Only baseline items that have an original can be reused.
        let m = min(baseline.count, originals.count)
        var result = [JSON?](repeating: nil, count: n)
        var used = [Bool](repeating: false, count: m)
        var unmatched: [Int] = []
        for i in 0..<n {
            if i < m, equal[i] {
                result[i] = originals[i]
                used[i] = true
            } else {
                unmatched.append(i)
            }
        }
        var moved = false
        var stillUnmatched: [Int] = []
        let unusedCount = used.lazy.filter { !$0 }.count
        if !unmatched.isEmpty, unusedCount > 0 {
            if unmatched.count * unusedCount <= linearSearchLimit {
                for i in unmatched {
                    var found = -1
                    for j in 0..<m where !used[j] && annotated[i] == baseline[j] {
                        found = j
                        break
                    }
                    if found >= 0 {
                        result[i] = originals[found]
                        used[found] = true
                        moved = true
                    } else {
                        stillUnmatched.append(i)
                    }
                }
            } else {
                var index: [Int: [Int]] = [:]
                for j in 0..<m where !used[j] { index[fingerprint(baseline[j]), default: []].append(j) }
                for i in unmatched {
                    var found = -1
                    if let candidates = index[fingerprint(annotated[i])] {
                        for j in candidates where !used[j] && annotated[i] == baseline[j] {
                            found = j
                            break
                        }
                    }
                    if found >= 0 {
                        result[i] = originals[found]
                        used[found] = true
                        moved = true
                    } else {
                        stillUnmatched.append(i)
                    }
                }
            }
        } else {
            stillUnmatched = unmatched
        }
        if n == baseline.count, !moved, stillUnmatched.count == 1, let i = stillUnmatched.first, i < m, !used[i] {
            let remainingUnused = used.lazy.filter { !$0 }.count
            if remainingUnused == 1 {
                result[i] = try patchItem(
                    original: originals[i], baseline: baseline[i], edited: annotated[i], fresh: fresh)
                stillUnmatched.removeAll()
            }
        }
        for i in stillUnmatched { result[i] = try fresh(annotated[i]) }
        var out: [JSON] = []
        out.reserveCapacity(n)
        for r in result { out.append(r ?? .null) }
        return out
    }

    /// Patches one edited item onto its original provider JSON, keeping details the annotation cannot express.
    static func patchItem(original: JSON, baseline: JSON, edited: JSON, fresh: FreshEncoder) throws(RelayError) -> JSON
    {
        let freshBaseline = try fresh(baseline)
        let freshEdited = try fresh(edited)
        return patchValue(original: original, baseline: freshBaseline, edited: freshEdited)
    }

    /// Applies the difference between two provider encodings to the original provider value.
    static func patchValue(original: JSON, baseline: JSON, edited: JSON) -> JSON {
        if baseline == edited { return original }
        switch (original, baseline, edited) {
        case (.object(let o), .object(let b), .object(let e)):
            guard b["type"] == e["type"], b["role"] == e["role"] else { return edited }
            var r = o
            for k in b.keys where !e.contains(k) { r.removeValue(forKey: k) }
            e.forEach { k, ev in
                let bv = b[k]
                if bv == ev { return }
                if let ov = o[k], let bv {
                    r[k] = patchValue(original: ov, baseline: bv, edited: ev)
                } else {
                    r[k] = ev
                }
            }
            return .object(r)
        case (.array(let o), .array(let b), .array(let e)):
            let merged = try? merge(
                annotated: e, baseline: b, originals: o, fresh: { (v: JSON) throws(RelayError) -> JSON in v })
            return merged.map(JSON.array) ?? edited
        default:
            return edited
        }
    }

    /// A hash consistent with structural equality (key order ignored, numbers by value).
    static func fingerprint(_ v: JSON) -> Int {
        var h = Hasher()
        feed(v, into: &h)
        return h.finalize()
    }

    private static func feed(_ v: JSON, into h: inout Hasher) {
        switch v {
        case .null: h.combine(0 as UInt8)
        case .bool(let b):
            h.combine(1 as UInt8)
            h.combine(b)
        case .int, .uint, .double:
            h.combine(2 as UInt8)
            h.combine(v.doubleValue ?? 0)
        case .string(let s):
            h.combine(3 as UInt8)
            h.combine(s)
        case .array(let a):
            h.combine(4 as UInt8)
            h.combine(a.count)
            for e in a { feed(e, into: &h) }
        case .object(let o):
            h.combine(5 as UInt8)
            h.combine(o.count)
            // Order-insensitive: combine member hashes commutatively.
            var acc = 0
            o.forEach { k, val in
                var mh = Hasher()
                mh.combine(k)
                feed(val, into: &mh)
                acc = acc &+ mh.finalize()
            }
            h.combine(acc)
        }
    }
}
