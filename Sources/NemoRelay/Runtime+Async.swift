// SPDX-License-Identifier: Apache-2.0

// MARK: - Swift concurrency conveniences over the continuation-passing core

extension Runtime {
    /// The scope on top of `stack` (the calling thread's default stack when nil): the Rust `get_handle()`.
    public func currentHandle(stack: ScopeStack? = nil) -> ScopeHandle {
        (stack ?? ScopeStack.current).top
    }

    /// Runs a managed tool call and suspends until it ends; task cancellation cancels the call.
    public func toolCallExecute(
        _ p: ToolCallParams, stack: ScopeStack? = nil,
        tool: @escaping @Sendable (JSON) async throws -> ToolResult
    ) async throws -> ToolResult {
        let control = CallControl()
        let stack = stack ?? ScopeStack.current
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (k: CheckedContinuation<ToolResult, Error>) in
                toolExecute(
                    p, stack: stack, control: control,
                    tool: { args, c in
                        Task {
                            do { c.resume(returning: try await tool(args)) } catch {
                                c.resume(throwing: RelayError.wrapping(error))
                            }
                        }
                    },
                    done: { k.resume(with: $0) })
            }
        } onCancel: {
            control.cancel()
        }
    }
}

extension RelayError {
    /// A Swift error thrown by user code, as a callback failure naming its type (a `RelayError` passes through).
    public static func wrapping(_ error: any Error) -> RelayError {
        if let e = error as? RelayError { return e }
        return .callback(String(describing: type(of: error)), String(describing: error))
    }
}
