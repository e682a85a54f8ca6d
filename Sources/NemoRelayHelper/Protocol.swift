// SPDX-License-Identifier: Apache-2.0
// MARK: - Message kinds (mirror of bindings/node/lib/protocol.js)

/// Every message kind of the helper protocol, declared once; `lib/protocol.js` lists the same names.
enum Op: String {
    /// Helper to Node, first line of the sync channel: protocol and library versions.
    case hello
    /// Node to helper: describe an export's C signature once (`fn`, `ret`, `params`, `err`, `free`).
    case declare
    /// Node to helper: call a declared export with typed arguments (`fn`, `args`).
    case call
    /// Node to helper: create a libffi closure (`ret`, `value`, `params`, optional `probe`: an export
    /// `uint64_t (void)` called at each invocation, its value appended to the args); answers `{closure, fn}`.
    case closure
    /// Node to helper: free a closure (`closure`).
    case release
    /// Node to helper: several `call`s (`[{fn, args}]`) in one message, in order; answers
    /// `[{ok, inv?}|{error, inv?}]` (on the sync channel each call's invokes ride with its own answer).
    case batch
    /// Helper to Node: C called a closure (`closure`, `args`); answered through later `call`s. On the
    /// sync channel the invokes raised while serving a request ride in its reply instead: `"inv"`.
    case invoke
    /// Node to helper, on the sync channel only: the answer to a waiting closure's `invoke` (which the
    /// helper wrote where Node expected an answer): `{status, json, failure?}` (`failure`: the fields of a
    /// `nemo_relay_failure_id_t`, then passed to nemo_relay_complete_failure). Not answered.
    case reply
    /// Helper to Node: a callback's pending token was cancelled (`nemo_relay_token_on_cancel`): `{token}`,
    /// always after that callback's `invoke`; not answered. On the sync channel it rides in a reply as
    /// the `inv` item `[0,[token]]`.
    case cancel
}

/// The argument kinds a declaration may use; `lib/protocol.js` lists the same names.
enum Kind: String {
    case i32, u32, i64, u64, bool, usize, ptr
    /// `const char *`, NUL-terminated (or NULL).
    case str
    /// `const char *json, size_t len`: two C arguments, one JS string (or null).
    case json
    /// As `json` for closure parameters whose bytes are JSON: embedded verbatim in the message.
    case rawjson
    /// Returns only: nothing, or a borrowed NUL-terminated string.
    case void, cstr
    /// Out parameters: `void **`, `char **out, size_t *out_len` (freed with the declared `free`), `bool *`, `uint64_t *`.
    case out_ptr, out_str, out_bool, out_u64

    /// Protocol version: bumped when a message kind or argument kind changes meaning.
    static let protocolVersion = 4
}
