/// Errors from reading or writing the on-disk format.
public enum FormatError: Error, CustomStringConvertible, Equatable {
    /// The bytes do not follow the Arrow IPC / FlatBuffers layout.
    case malformed(String)
    /// The file is valid Arrow but uses something Loam does not read.
    case unsupported(String)
    /// A value does not fit the column it is written to.
    case typeMismatch(String)
    /// The bytes do not follow the Parquet layout (the message names row group, column and page).
    case malformedParquet(String)
    /// The file is valid Parquet but uses something Loam does not read.
    case unsupportedParquet(String)
    /// Compressed bytes that the codec cannot expand, or that expand to the wrong size.
    case compression(String)

    public var description: String {
        switch self {
        case .malformed(let m): return "malformed Arrow data: \(m)"
        case .unsupported(let m): return "unsupported Arrow feature: \(m)"
        case .typeMismatch(let m): return m
        case .malformedParquet(let m): return "malformed Parquet file: \(m)"
        case .unsupportedParquet(let m): return "unsupported Parquet feature: \(m)"
        case .compression(let m): return m
        }
    }
}
