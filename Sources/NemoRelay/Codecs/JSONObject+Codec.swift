// SPDX-License-Identifier: Apache-2.0

extension JSONObject {
    /// Builds an object from distinct keys and their values without per-key lookups.
    ///
    /// Passing a shared (static) `keys` array lets many objects share one key buffer, which also makes
    /// equality checks between them take the identical-buffer fast path.
    init(distinctKeys keys: [String], values: [JSON]) {
        self.init()
        keys_ = keys
        values_ = values
        if keys.count > Self.indexThreshold { rebuildIndex() }
    }
}

/// Shared key lists of the annotated objects the codecs build most often.
enum SharedKeys {
    static let roleContent = ["role", "content"]
}
