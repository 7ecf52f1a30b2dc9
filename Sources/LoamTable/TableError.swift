/// Errors from the table layer: datasets, schemas, refs and commits.
public enum TableError: Error, CustomStringConvertible, Equatable {
    case unknownDataset(String, available: [String])
    case datasetExists(String)
    case unknownColumn(String, dataset: String, available: [String])
    case columnExists(String, dataset: String)
    case unknownRef(String)
    case schemaMismatch(String)
    case invalidSchemaSpec(String)
    case corrupt(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .unknownDataset(let name, let available):
            let hint = available.isEmpty ? "the repository has no datasets yet; create one with `loam import FILE --dataset \(name)`"
                : "datasets here: \(available.joined(separator: ", "))"
            return "unknown dataset '\(name)' (\(hint))"
        case .datasetExists(let name): return "dataset '\(name)' already exists"
        case .unknownColumn(let column, let dataset, let available):
            return "dataset '\(dataset)' has no column '\(column)' (columns: \(available.joined(separator: ", ")))"
        case .columnExists(let column, let dataset): return "dataset '\(dataset)' already has a column '\(column)'"
        case .unknownRef(let ref):
            return "unknown ref '\(ref)': give a branch, a tag, a commit hash (or at least 4 of its first digits), or REF~N (see `loam log`, `loam tags`)"
        case .schemaMismatch(let m), .invalidSchemaSpec(let m), .invalidArgument(let m): return m
        case .corrupt(let m): return "repository is corrupt: \(m)"
        }
    }
}
