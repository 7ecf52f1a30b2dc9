/// Errors from the library's front: input files and user arguments.
/// Each names the place (file, line, column, field) and what to do.
public enum LoamError: Error, CustomStringConvertible, Equatable {
    case notARepository(String)
    case alreadyARepository(String)
    case fileNotFound(String)
    /// Bad input data: `file:line:column: message`.
    case badInput(file: String, line: Int?, column: String?, message: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .notARepository(let path):
            return "no Loam repository at \(path) or any parent folder: run `loam init`, pass --repo PATH, or set LOAM_REPO"
        case .alreadyARepository(let path): return "\(path) is already a Loam repository"
        case .fileNotFound(let path): return "no such file or folder: \(path)"
        case .badInput(let file, let line, let column, let message):
            var place = file
            if let line { place += ":\(line)" }
            if let column { place += " (column '\(column)')" }
            return "\(place): \(message)"
        case .invalidArgument(let m): return m
        }
    }
}
