// SPDX-License-Identifier: Apache-2.0

/// A raw LLM request: HTTP-style headers plus the provider JSON body.
public struct LLMRequest: Sendable, Equatable {
    /// Header names and values (values are normally strings).
    public var headers: JSONObject
    /// The provider request body.
    public var content: JSON

    /// Creates a request from headers and a body.
    public init(headers: JSONObject = JSONObject(), content: JSON) {
        self.headers = headers
        self.content = content
    }

    /// The `{"headers": …, "content": …}` form used on events and across the C ABI.
    public var json: JSON {
        var o = JSONObject(minimumCapacity: 2)
        o["headers"] = .object(headers)
        o["content"] = content
        return .object(o)
    }

    /// Reads the `{"headers", "content"}` form; a missing `headers` means none.
    public init(json: JSON) throws(RelayError) {
        guard case .object(let o) = json else {
            throw .invalidArgument("LLM request must be an object with headers and content")
        }
        switch o["headers"] {
        case nil, .null?: headers = JSONObject()
        case .object(let h)?: headers = h
        default: throw .invalidArgument("LLM request headers must be an object")
        }
        content = o["content"] ?? .null
    }
}

/// Delivers the result of an operation that may finish now or later, exactly once.
public typealias Completion<T> = @Sendable (Result<T, RelayError>) -> Void

/// A provider codec: translates provider payloads to and from the normalized annotation.
///
/// Annotations are JSON in the shapes of docs/annotated-request.md ("Annotated request", "Annotated response").
/// Every method reports through a completion so codecs written in other languages may answer later.
public protocol LLMCodec: Sendable {
    /// A stable identifier (`openai_chat`, `openai_responses`, `anthropic_messages`, or a custom name).
    var id: String { get }
    /// Decodes a raw request into an annotated request.
    func decodeRequest(_ request: LLMRequest, completion: @escaping Completion<JSON>)
    /// Writes an (edited) annotated request back onto `original`, keeping everything it does not model.
    func encodeRequest(_ annotated: JSON, original: LLMRequest, completion: @escaping Completion<LLMRequest>)
    /// Decodes a provider response into an annotated response.
    func decodeResponse(_ response: JSON, completion: @escaping Completion<JSON>)
}

/// A codec whose methods finish synchronously; the completion-based methods are derived.
public protocol SynchronousLLMCodec: LLMCodec {
    /// Decodes a raw request into an annotated request.
    func decode(_ request: LLMRequest) throws(RelayError) -> JSON
    /// Writes an annotated request back onto `original`.
    func encode(_ annotated: JSON, original: LLMRequest) throws(RelayError) -> LLMRequest
    /// Decodes a provider response into an annotated response.
    func decodeResponse(_ response: JSON) throws(RelayError) -> JSON
}

extension SynchronousLLMCodec {
    public func decodeRequest(_ request: LLMRequest, completion: @escaping Completion<JSON>) {
        do throws(RelayError) { completion(.success(try decode(request))) } catch { completion(.failure(error)) }
    }

    public func encodeRequest(
        _ annotated: JSON, original: LLMRequest, completion: @escaping Completion<LLMRequest>
    ) {
        do throws(RelayError) {
            completion(.success(try encode(annotated, original: original)))
        } catch {
            completion(.failure(error))
        }
    }

    public func decodeResponse(_ response: JSON, completion: @escaping Completion<JSON>) {
        do throws(RelayError) {
            completion(.success(try decodeResponse(response)))
        } catch {
            completion(.failure(error))
        }
    }
}
