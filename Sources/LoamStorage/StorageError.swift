import Foundation

/// Errors from the object store and the catalog.
public enum StorageError: Error, CustomStringConvertible, Equatable {
    case objectNotFound(String)
    case invalidObjectID(String)
    case ambiguousPrefix(String, [String])
    case refNotFound(String)
    case refExists(String)
    /// A branch moved between reading it and committing: `actual` is the other writer's commit.
    case refConflict(branch: String, expected: String?, actual: String?)
    case invalidRefName(String)
    case io(String)
    /// A request the catalog refuses (a duplicate user, a token for no user); the message says why.
    case invalid(String)
    /// A write the disk had no room for; nothing it began was kept.
    case diskFull(path: String)
    /// An encrypted object or key that does not open: a missing or wrong master key, a changed file.
    case encryption(String)

    public var description: String {
        switch self {
        case .objectNotFound(let id): return "object \(id) is missing from the repository (run `loam fsck` once it exists, or restore the .loam/objects folder)"
        case .invalidObjectID(let s): return "'\(s)' is not an object id (64 hexadecimal digits)"
        case .ambiguousPrefix(let p, let ids): return "'\(p)' matches \(ids.count) commits (\(ids.prefix(4).map { String($0.prefix(12)) }.joined(separator: ", "))); give more digits"
        case .refNotFound(let name): return "no branch or tag named '\(name)'"
        case .refExists(let name): return "a branch or tag named '\(name)' already exists"
        case .refConflict(let branch, _, let actual):
            return "branch '\(branch)' moved to \(actual.map { String($0.prefix(12)) } ?? "nothing") while this write was running; nothing was committed — run the write again"
        case .invalidRefName(let name): return "'\(name)' is not a valid branch or tag name (use letters, digits, '.', '_', '-', '/'; no '..', '~', '^', ':' or spaces)"
        case .io(let m), .invalid(let m), .encryption(let m): return m
        case .diskFull(let path):
            return "the disk is full: cannot write \(path); nothing was changed — free space (`loam gc` removes unreachable objects), then run it again"
        }
    }
}

extension StorageError {
    /// Whether `error` is the disk running out of space (ENOSPC, or EDQUOT past a quota).
    public static func isDiskFull(_ error: Error) -> Bool {
        if case .diskFull = error as? StorageError { return true }
        let ns = error as NSError
        let posix = ns.domain == NSPOSIXErrorDomain ? ns : (ns.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? $0 : nil }
        if let posix { return posix.code == Int(ENOSPC) || posix.code == Int(EDQUOT) }
        return ns.domain == NSCocoaErrorDomain && ns.code == CocoaError.fileWriteOutOfSpace.rawValue
    }

    /// Runs `body`, turning a full disk into `diskFull` naming `path`.
    public static func writing<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch where isDiskFull(error) { throw StorageError.diskFull(path: path) }
    }
}
