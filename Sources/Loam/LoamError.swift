/// Errors from the library's front: input files and user arguments.
/// Each names the place (file, line, column, field) and what to do.
public enum LoamError: Error, CustomStringConvertible, Equatable {
    case notARepository(String)
    case alreadyARepository(String)
    case fileNotFound(String)
    /// Bad input data: `file:line:column: message`.
    case badInput(file: String, line: Int?, column: String?, message: String)
    case invalidArgument(String)
    /// A dataset outside the datasets the caller may touch (`Repository.datasetScope`).
    case outsideScope(String)
    /// A bearer token past its expiry.
    case tokenExpired(String)
    /// A write that could not be rebased onto a commit that landed while it ran.
    case writeConflict(branch: String, other: String, otherMessage: String, conflicts: [String])
    /// A transaction that changed rows another commit changed while it ran (first writer wins).
    case serializationFailure(branch: String, other: String, otherMessage: String, conflicts: [String])
    /// A write that lost the race for its branch again and again.
    case contention(branch: String, attempts: Int, last: String?)
    /// The repository is busy with work that must finish first.
    case busy(String)

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
        case .invalidArgument(let m), .busy(let m), .outsideScope(let m), .tokenExpired(let m): return m
        case .writeConflict(let branch, let other, let otherMessage, let conflicts):
            return "this write conflicts with commit \(other) (\"\(otherMessage)\"), which landed on '\(branch)' while it ran; nothing was committed:\n  "
                + conflicts.prefix(10).joined(separator: "\n  ") + (conflicts.count > 10 ? "\n  …" : "")
        case .serializationFailure(let branch, let other, let otherMessage, let conflicts):
            return "this transaction wrote what was also written on '\(branch)' while it ran (up to commit \(other), \"\(otherMessage)\"); "
                + "nothing was committed — run the transaction again:\n  " + conflicts.prefix(10).joined(separator: "\n  ")
                + (conflicts.count > 10 ? "\n  …" : "")
        case .contention(let branch, let attempts, let last):
            return "branch '\(branch)' moved \(attempts) times while this write ran (last to \(last ?? "nothing")); nothing was committed — "
                + "run the write again, or check what else is writing to '\(branch)'"
        }
    }
}
