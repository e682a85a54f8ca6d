// SPDX-License-Identifier: Apache-2.0

/// The baseline-diff merge for providers whose turns decode to one or more annotated messages each
/// (a Gemini content with several function responses, a Bedrock user turn with several tool results).
///
/// Every run of annotated messages that equals the messages of an original turn reuses that turn as it
/// was, wherever it moved. The remaining messages are aligned with the baseline by their common prefix
/// and suffix; an edited run at the position of an unused original turn is patched onto it, and
/// everything else is encoded fresh.
struct GroupedMessageMerge {
    /// How many annotated messages one provider turn decodes to (at least one; the turns were decoded
    /// successfully as the baseline, so this only counts).
    let turnSize: (JSON) -> Int
    /// An edited run applied to its original turn (`baseRun` is what the turn decoded to at those positions).
    let patch: (_ original: JSON, _ run: [JSON], _ baseRun: [JSON]) throws(RelayError) -> [JSON]
    /// A provider turn encoded from one annotated message alone, or nil when the message has no turn.
    let fresh: (JSON) throws(RelayError) -> JSON?

    /// One output turn and whether it was encoded fresh (as opposed to kept or patched).
    typealias Turn = (value: JSON, fresh: Bool)

    /// Rebuilds the provider turns for `annotated`, given the `baseline` messages decoded from `originals`;
    /// nil when the annotated messages equal the baseline (nothing to write).
    func merge(annotated ann: [JSON], baseline base: [JSON], originals: [JSON]) throws(RelayError) -> [Turn]? {
        var prefix = 0
        while prefix < min(ann.count, base.count), ann[prefix] == base[prefix] { prefix += 1 }
        if prefix == ann.count && prefix == base.count { return nil }
        // The original turn of each baseline message and the message range of each original turn.
        var owner: [Int] = []
        owner.reserveCapacity(base.count)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(originals.count)
        for item in originals {
            let start = min(owner.count, base.count)
            let n = max(1, turnSize(item))
            for _ in 0..<n where owner.count < base.count { owner.append(ranges.count) }
            ranges.append(start..<min(start + n, base.count))
        }
        while owner.count < base.count { owner.append(max(0, originals.count - 1)) }

        var suffix = 0
        let maxSuffix = min(ann.count - prefix, base.count - prefix)
        while suffix < maxSuffix, ann[ann.count - 1 - suffix] == base[base.count - 1 - suffix] { suffix += 1 }
        let annGapEnd = ann.count - suffix
        let baseGapEnd = base.count - suffix
        let sameGap = annGapEnd - prefix == baseGapEnd - prefix
        func baseIndex(_ i: Int) -> Int? {
            if i < prefix { return i }
            if i >= annGapEnd { return baseGapEnd + (i - annGapEnd) }
            return sameGap ? i : nil
        }

        var used = [Bool](repeating: false, count: originals.count)
        func wholeTurnMatches(_ ci: Int, at i: Int) -> Bool {
            let r = ranges[ci]
            guard !used[ci], !r.isEmpty, i + r.count <= ann.count else { return false }
            for k in 0..<r.count where ann[i + k] != base[r.lowerBound + k] { return false }
            return true
        }
        // Original turns of the unaligned middle by the fingerprint of their first message, built on first
        // need (turns in the common prefix and suffix are matched by position).
        var index: [Int: [Int]]?
        func movedTurn(at i: Int) -> Int? {
            if index == nil {
                var built: [Int: [Int]] = [:]
                for (ci, r) in ranges.enumerated()
                where !r.isEmpty && r.upperBound > prefix && r.lowerBound < baseGapEnd {
                    built[ItemMerge.fingerprint(base[r.lowerBound]), default: []].append(ci)
                }
                index = built
            }
            for ci in index?[ItemMerge.fingerprint(ann[i])] ?? [] where wholeTurnMatches(ci, at: i) { return ci }
            return nil
        }

        var out: [Turn] = []
        out.reserveCapacity(max(ann.count, originals.count))
        var i = 0
        while i < ann.count {
            let bi = baseIndex(i)
            let aligned = bi.flatMap { $0 < owner.count && owner[$0] < originals.count ? owner[$0] : nil }
            // An aligned turn inside the common prefix or suffix is equal by construction.
            if let ci = aligned, ranges[ci].lowerBound == bi, !used[ci], !ranges[ci].isEmpty,
                i + ranges[ci].count <= prefix || (i >= annGapEnd && i + ranges[ci].count <= ann.count)
                    || wholeTurnMatches(ci, at: i)
            {
                used[ci] = true
                out.append((originals[ci], false))
                i += ranges[ci].count
                continue
            }
            if let ci = movedTurn(at: i) {
                used[ci] = true
                out.append((originals[ci], false))
                i += ranges[ci].count
                continue
            }
            guard let ci = aligned, !used[ci] else {
                if let t = try fresh(ann[i]) { out.append((t, true)) }
                i += 1
                continue
            }
            var end = i + 1
            while end < ann.count, let bj = baseIndex(end), bj < owner.count, owner[bj] == ci { end += 1 }
            used[ci] = true
            let baseRun = (i..<end).compactMap { baseIndex($0).map { base[$0] } }
            for t in try patch(originals[ci], Array(ann[i..<end]), baseRun) { out.append((t, false)) }
            i = end
        }
        return out
    }
}
