import LoamStorage
import Synchronization

/// Checks that run before a branch moves to a new commit — every write path (import, SQL, clean, merge,
/// revert, a transaction's COMMIT, the server, the Python client through the CLI) moves a branch through
/// `moveBranch`. A gate gets the repository, the commit the branch is at and the one it would move to;
/// when it throws, the branch stays where it was and the write changes nothing (its new objects are
/// unreferenced; gc collects them). The quality module installs one (`QualityGates.install()`); `loam` and
/// `loam serve` do at startup.
public enum CommitGates {
    public typealias Gate = @Sendable (_ repository: Repository, _ from: ObjectID, _ to: ObjectID) async throws -> Void

    private static let installed = Mutex<[String: Gate]>([:])

    /// Installs `gate` under `name` (again: replaces it).
    public static func install(_ name: String, _ gate: @escaping Gate) {
        installed.withLock { $0[name] = gate }
    }

    public static func remove(_ name: String) {
        installed.withLock { $0[name] = nil }
    }

    static func run(_ repository: Repository, from: ObjectID, to: ObjectID) async throws {
        let gates = installed.withLock { Array($0.values) }
        for gate in gates { try await gate(repository, from, to) }
    }
}
