import Foundation
import Loam
import LoamStorage
import LoamTable

/// Expectations marked `gate = true` guard every write: before a branch moves, each dataset the new commit
/// changed is checked against its gated expectations at that commit, and a break stops the move with the
/// report — nothing changes. When the expectations are the parent's too, the row-by-row kinds (not_null,
/// range, in, regex, length, sql, foreign_key) look only at the fragments the commit added (by their row-id
/// bounds, which prune every other fragment); unique looks the new rows' keys up in the key index (`KeyIndex`)
/// and reads rows only on a hit, in the fragments the index names; mean and quantile merge the parent's kept
/// sketches with a sketch of their column in the new rows (kept nothing); the rest (rows, no_rows, share) run
/// on the whole dataset. A gated foreign key
/// into a dataset the commit changed other than by appending (a delete, an update, a dropped or renamed
/// column, the dataset dropped) is checked on every row, in whichever dataset holds it.
///
/// ```swift
/// QualityGates.install()   // loam and loam serve do this at startup
/// ```
public enum QualityGates {
    public static func install() {
        CommitGates.install("quality") { repository, from, to in try await check(repository, from: from, to: to) }
    }

    static func check(_ repository: Repository, from: ObjectID, to: ObjectID) async throws {
        let (before, after) = (try await repository.tables.commit(from).tree, try await repository.tables.commit(to).tree)
        var manifests: [ObjectID: Manifest] = [:]
        func load(_ id: ObjectID) async throws -> Manifest {
            if let known = manifests[id] { return known }
            let loaded = try await repository.tables.manifest(id)
            manifests[id] = loaded
            return loaded
        }
        // Datasets whose rows may have lost a key: changed other than by appending fragments (a delete, an update,
        // a rewrite, a rename of a column, a drop). A foreign key into one of them is checked on every row.
        var shrunk = Set<String>()
        for (dataset, id) in after where before[dataset] != id {
            guard let oldID = before[dataset] else { continue }
            let (old, new) = (try await load(oldID), try await load(id))
            let kept = Set(new.fragments.map(\.profileKey))
            let appendedOnly = old.fragments.allSatisfy { kept.contains($0.profileKey) }
                && old.schema.columns.map(\.name) == new.schema.columns.map(\.name)
            if !appendedOnly { shrunk.insert(dataset) }
        }
        for dataset in before.keys where after[dataset] == nil { shrunk.insert(dataset) }
        var failures: [String] = []
        for (dataset, manifestID) in after.sorted(by: { $0.key < $1.key }) {
            let changed = before[dataset] != manifestID
            guard changed || !shrunk.isEmpty else { continue }
            let manifest = try await load(manifestID)
            guard let text = manifest.schema.metadata?[Checker.metadataKey] else { continue }
            let gated = try Expectation.parse(text).filter(\.gate)
            let intoShrunk = gated.filter { e in
                e.kind == .foreignKey && shrunk.contains(e.references.map { String($0.split(separator: ".")[0]) } ?? "")
            }
            let others = changed ? gated.filter { e in !intoShrunk.contains { $0.name == e.name } } : []
            var results: [ExpectationResult] = []
            if !others.isEmpty {
                // Unchanged expectations held at the parent (its commit passed them): only the new fragments' rows can break the row-by-row ones.
                var scope: Checker.Scope?
                let old: Manifest? = if let id = before[dataset] { try await load(id) } else { nil }
                if let old, old.schema.metadata?[Checker.metadataKey] == text {
                    let known = Set(old.fragments.map(\.object))
                    scope = Checker.Scope(added: manifest.fragments.filter { !known.contains($0.object) && $0.liveRows > 0 })
                }
                results += try await Checker(repository: repository).check(dataset, at: to.hex, expectations: others, scope: scope).results
            }
            if !intoShrunk.isEmpty {
                results += try await Checker(repository: repository).check(dataset, at: to.hex, expectations: intoShrunk, scope: nil).results
            }
            for r in results where !r.passed {
                var line = "\(dataset): \(r.name) (line \(r.line))"
                if let observed = r.observed { line += ": found \(ProfileReport.number(observed))" }
                if let rows = r.breakingRows { line += ": " + rows }
                failures.append(line)
            }
        }
        guard failures.isEmpty else {
            throw QualityError.gateFailed("the write breaks gated expectations, so nothing was committed:\n  " + failures.joined(separator: "\n  ")
                + "\n(fix the rows, or change the expectations with `loam expect`)")
        }
    }
}
