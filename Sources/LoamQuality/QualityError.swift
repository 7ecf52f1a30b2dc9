/// What the quality module refuses, each with a message naming the input and the fix.
public enum QualityError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case notFound(String)
    /// A gated write broke expectations; the report says which.
    case gateFailed(String)

    public var description: String {
        switch self {
        case .invalid(let m), .notFound(let m), .gateFailed(let m): return m
        }
    }
}
