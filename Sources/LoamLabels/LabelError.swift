/// What the labels module refuses, with a message naming the input and the fix.
public enum LabelError: Error, Equatable, CustomStringConvertible {
    /// A bad argument or schema.
    case invalid(String)
    /// A dataset, schema, row or annotation that does not exist.
    case notFound(String)
    /// A label that breaks its schema: names the dataset row, the schema and the field within the value.
    case badValue(dataset: String, rowID: UInt64, schema: String, field: String, message: String)
    /// A step the user's role in a task does not allow.
    case forbidden(String)
    /// A file being imported that does not read as its format says: names the file and the place in it.
    case badFile(file: String, place: String, message: String)

    public var description: String {
        switch self {
        case .invalid(let m), .notFound(let m), .forbidden(let m): return m
        case .badValue(let dataset, let rowID, let schema, let field, let message):
            return "\(dataset) row \(rowID), label '\(schema)', \(field): \(message)"
        case .badFile(let file, let place, let message):
            return "\(file), \(place): \(message)"
        }
    }
}
