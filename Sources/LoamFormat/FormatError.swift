/// Errors from reading or writing the on-disk format.
public enum FormatError: Error, CustomStringConvertible, Equatable {
    /// The bytes do not follow the Arrow IPC / FlatBuffers layout.
    case malformed(String)
    /// The file is valid Arrow but uses something Loam does not read.
    case unsupported(String)
    /// A value does not fit the column it is written to.
    case typeMismatch(String)

    public var description: String {
        switch self {
        case .malformed(let m): return "malformed Arrow data: \(m)"
        case .unsupported(let m): return "unsupported Arrow feature: \(m)"
        case .typeMismatch(let m): return m
        }
    }
}
