// SPDX-License-Identifier: Apache-2.0

/// An error raised by the runtime or carried from a user callback.
///
/// Runtime errors have a class (``Kind``) and a display text with the reference's prefix
/// (`invalid argument: …`). A failure of user code (a provider, an intercept, a guardrail) is
/// `.callback`: its `exceptionType` and message are kept so bindings can re-raise the original.
public struct RelayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error class, written as `error.type` in event metadata.
    public enum Kind: String, Sendable {
        case invalidArgument = "invalid_argument"
        case notFound = "not_found"
        case alreadyExists = "already_exists"
        case guardrailRejected = "guardrail_rejected"
        case internalError = "internal_error"
        case scopeStackEmpty = "scope_stack_empty"
        /// A user callback failed; displayed as an internal error naming the exception type.
        case callback = "callback"
        /// The call was cancelled by its caller.
        case cancelled = "cancelled"
        /// The API was used out of contract (a token completed twice, a dead handle).
        case misuse = "misuse"
        /// A bounded wait (flush, shutdown) ended before the work was done.
        case timeout = "timeout"
        /// An exporter could not write or send (a file, an endpoint); the message names the destination.
        case export = "export"
    }

    /// The error class.
    public var kind: Kind
    /// The message without its class prefix.
    public var message: String
    /// For `.callback`: the user's exception class name (e.g. `ValueError`), when known; recorded as
    /// `exception.type`.
    public var exceptionType: String?
    /// For `.callback`: the class's qualified name when it differs from `exceptionType` (Python's
    /// `__qualname__`, e.g. `main.<locals>.ProviderDown`); the display text names it, as the reference's does.
    public var exceptionQualifiedName: String?
    /// For `.callback`: the identity the failing callback's owner attached (a binding's key for the
    /// exception object it re-raises); carried unchanged to the caller. Released with the last copy.
    public var identity: FailureIdentity?

    /// Creates an error of `kind` with an unprefixed message.
    public init(_ kind: Kind, _ message: String, exceptionType: String? = nil, exceptionQualifiedName: String? = nil) {
        self.kind = kind
        self.message = message
        self.exceptionType = exceptionType
        self.exceptionQualifiedName = exceptionQualifiedName
    }

    /// The text the caller sees, with the reference's prefix.
    public var displayText: String {
        switch kind {
        case .invalidArgument: return "invalid argument: " + message
        case .notFound: return "not found: " + message
        case .alreadyExists: return "already exists: " + message
        case .guardrailRejected: return "guardrail rejected: " + message
        case .internalError: return "internal error: " + message
        case .scopeStackEmpty: return message.isEmpty ? "scope stack empty" : "scope stack empty: " + message
        case .callback:
            if let t = exceptionQualifiedName ?? exceptionType, !t.isEmpty { return "internal error: \(t): \(message)" }
            return "internal error: " + message
        case .cancelled: return message.isEmpty ? "cancelled" : message
        case .misuse: return "misuse: " + message
        case .timeout: return "timeout: " + message
        case .export: return message
        }
    }

    /// The class recorded as `error.type` (callback failures are internal errors).
    public var errorType: String {
        switch kind {
        case .callback: return "internal_error"
        default: return kind.rawValue
        }
    }

    public var description: String { displayText }

    /// Errors are equal when their class, text and exception names are; `identity` (which object a
    /// binding re-raises) is not part of the value.
    public static func == (a: RelayError, b: RelayError) -> Bool {
        a.kind == b.kind && a.message == b.message && a.exceptionType == b.exceptionType
            && a.exceptionQualifiedName == b.exceptionQualifiedName
    }

    /// Shorthand for an `invalid argument` error.
    public static func invalidArgument(_ m: String) -> RelayError { RelayError(.invalidArgument, m) }
    /// Shorthand for a `not found` error.
    public static func notFound(_ m: String) -> RelayError { RelayError(.notFound, m) }
    /// Shorthand for an `already exists` error.
    public static func alreadyExists(_ m: String) -> RelayError { RelayError(.alreadyExists, m) }
    /// Shorthand for an `internal error`.
    public static func internalError(_ m: String) -> RelayError { RelayError(.internalError, m) }
    /// Shorthand for a `timeout` error.
    public static func timeout(_ m: String) -> RelayError { RelayError(.timeout, m) }
    /// A failure of user code with its exception class (and qualified name, when it differs) and message.
    public static func callback(_ type: String?, _ m: String, qualifiedName: String? = nil) -> RelayError {
        RelayError(.callback, m, exceptionType: type, exceptionQualifiedName: qualifiedName)
    }
}

/// The identity of one user-code failure: an opaque non-zero id chosen by the failing callback's owner,
/// and the action that releases it, which runs exactly once, when the last ``RelayError`` holding it goes.
public final class FailureIdentity: Sendable {
    /// The id, as the owner gave it.
    public let id: UInt64
    private let release: (@Sendable () -> Void)?

    /// Creates an identity; `release` runs on whichever thread drops the last reference.
    public init(id: UInt64, release: (@Sendable () -> Void)?) {
        self.id = id
        self.release = release
    }

    deinit { release?() }
}
