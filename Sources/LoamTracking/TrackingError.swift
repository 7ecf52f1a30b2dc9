/// What the tracker refuses, with a message that names the input and the fix.
/// The server maps the cases to MLflow's error codes.
public enum TrackingError: Error, Equatable, CustomStringConvertible {
    /// RESOURCE_DOES_NOT_EXIST
    case notFound(String)
    /// RESOURCE_ALREADY_EXISTS
    case exists(String)
    /// INVALID_PARAMETER_VALUE
    case invalid(String)
    /// INVALID_PARAMETER_VALUE: params are write-once.
    case paramChanged(key: String, old: String, new: String)

    public var description: String {
        switch self {
        case .notFound(let m), .exists(let m), .invalid(let m): return m
        case .paramChanged(let key, let old, let new):
            return "param '\(key)' was logged as '\(old)'; params are write-once, so '\(new)' cannot replace it (log a new key)"
        }
    }
}
