import LoamStorage
import LoamTable

extension Repository {
    /// Creates a branch at `ref` (default HEAD). No data is copied: a branch is one catalog row.
    @discardableResult
    public func createBranch(_ name: String, at ref: String = "HEAD") async throws -> ObjectID {
        let id = try await tables.resolve(ref)
        try await meta.compareAndSwap(branch: name, expected: nil, new: id)
        return id
    }

    /// Deletes a branch other than the current one. Its commits stay readable by hash
    /// for the retention window (see `gc`).
    public func deleteBranch(_ name: String) async throws {
        guard let ref = try await meta.ref(named: name), ref.kind == .branch else { throw StorageError.refNotFound(name) }
        if try await meta.currentBranch() == name {
            throw LoamError.invalidArgument("'\(name)' is the current branch; switch to another branch before deleting it")
        }
        try await meta.deleteRef(named: name)
    }

    public func renameBranch(_ name: String, to newName: String) async throws {
        guard let ref = try await meta.ref(named: name), ref.kind == .branch else { throw StorageError.refNotFound(name) }
        try await meta.renameRef(name, to: newName)
    }

    /// Makes `name` the current branch: later writes commit to it.
    public func switchBranch(_ name: String) async throws {
        guard let ref = try await meta.ref(named: name), ref.kind == .branch else {
            throw LoamError.invalidArgument("no branch named '\(name)' (create it with `loam branch \(name)`, list them with `loam branch`)")
        }
        try await meta.setCurrentBranch(name)
    }
}
