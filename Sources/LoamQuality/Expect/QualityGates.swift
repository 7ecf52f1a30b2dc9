import Foundation
import Loam
import LoamStorage
import LoamTable

/// Expectations marked `gate = true` guard every write: before a branch moves, each dataset the new commit
/// changed is checked against its gated expectations at that commit, and a break stops the move with the
/// report — nothing changes. When the expectations are the parent's too, the row-by-row kinds (not_null,
/// range, in, regex, length, sql, foreign_key) look only at the fragments the commit added (by their row-id
/// bounds, which prune every other fragment); the rest (unique, rows, no_rows) run on the whole dataset,
/// and mean, quantile and share read the profile, which sketches only new fragments.
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
        var failures: [String] = []
        for (dataset, manifestID) in after.sorted(by: { $0.key < $1.key }) where before[dataset] != manifestID {
            let manifest = try await repository.tables.manifest(manifestID)
            guard let text = manifest.schema.metadata?[Checker.metadataKey] else { continue }
            let gated = try Expectation.parse(text).filter(\.gate)
            guard !gated.isEmpty else { continue }
            // Unchanged expectations held at the parent (its commit passed them): only the new fragments' rows can break the row-by-row ones.
            var newRows: String?
            let old: Manifest? = if let id = before[dataset] { try await repository.tables.manifest(id) } else { nil }
            if let old, old.schema.metadata?[Checker.metadataKey] == text {
                let known = Set(old.fragments.map(\.object))
                let added = manifest.fragments.filter { !known.contains($0.object) && $0.liveRows > 0 }
                newRows = added.isEmpty ? "FALSE" : added.map { "_rowid BETWEEN \($0.minRowID) AND \($0.maxRowID)" }.joined(separator: " OR ")
            }
            let report = try await Checker(repository: repository).check(dataset, at: to.hex, expectations: gated, newRows: newRows)
            for r in report.results where !r.passed {
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
