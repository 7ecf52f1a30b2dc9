import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable

/// One expectation's outcome: whether it held, how many rows (or duplicate keys) break it, the observed
/// value for bounds on a whole column, and up to N of the breaking rows' `_rowid`s.
public struct ExpectationResult: Codable, Sendable, Equatable {
    public var name: String
    public var kind: String
    public var gate: Bool
    public var passed: Bool
    /// Rows that break it (for `unique`: rows holding a duplicated key; for `rows`, `mean`, `quantile`, `share`: 0 or 1).
    public var failing: Int
    /// `rows`: the row count; `mean`, `quantile`, `share`: the value found.
    public var observed: Double?
    public var sampleRowIDs: [UInt64]
    public var line: Int
    /// Why every row fails, when the expectation cannot hold at all (a foreign key into a dataset or column that is gone).
    public var problem: String?

    /// The breaking rows, for a row-by-row kind that failed ("3 rows, _rowid 4, 9, 12"), or the `problem` that
    /// fails them all; nil for bounds on a whole column (rows, mean, quantile, share, drift), whose `observed` says it.
    var breakingRows: String? {
        if let problem, !passed { return "\(problem): \(failing) row\(failing == 1 ? "" : "s")" }
        guard !passed, failing > 0, !["rows", "mean", "quantile", "share", "drift"].contains(kind) else { return nil }
        var text = "\(failing) row\(failing == 1 ? "" : "s")"
        if !sampleRowIDs.isEmpty { text += ", _rowid \(sampleRowIDs.map(String.init).joined(separator: ", "))\(failing > sampleRowIDs.count ? ", …" : "")" }
        return text
    }
}

/// `loam check`'s answer for a dataset at one commit.
public struct CheckReport: Codable, Sendable {
    public var dataset: String
    public var commit: String
    public var rows: Int
    public var passed: Bool
    public var results: [ExpectationResult]

    public var text: String {
        var out = "\(dataset) at \(commit.prefix(12)): \(rows) rows, \(results.filter(\.passed).count) of \(results.count) expectations hold\n"
        for r in results {
            var line = "  \(r.passed ? "✓" : "✗") \(r.name)"
            if r.gate { line += "  [gate]" }
            if let observed = r.observed { line += "  (found \(ProfileReport.number(observed)))" }
            if let rows = r.breakingRows { line += "  — " + rows }
            out += line + "\n"
        }
        return out
    }
}

/// Expectations: kept in the dataset's schema metadata (`loam.expectations`, the file's text), so they are
/// versioned with the data; checked at any commit through the SQL engine, and through the profile's
/// sketches for the bounds on a whole column.
///
/// ```swift
/// let checker = Checker(repository: repo)
/// try await checker.setExpectations(text, of: "reviews")
/// let report = try await checker.check("reviews", at: "HEAD")
/// ```
public struct Checker: Sendable {
    public static let metadataKey = "loam.expectations"
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    /// The expectations file of a dataset at `ref` (nil when it has none).
    public func expectationsText(of dataset: String, at ref: String = "HEAD") async throws -> String? {
        try await repository.dataset(dataset, at: ref).manifest.schema.metadata?[Self.metadataKey]
    }

    /// Checks `text` (its syntax, its columns against the dataset) and commits it as the dataset's
    /// expectations; nil or empty removes them.
    @discardableResult
    public func setExpectations(_ text: String?, of dataset: String) async throws -> ObjectID {
        let ds = try await repository.dataset(dataset)
        if let text, !text.isEmpty {
            for e in try Expectation.parse(text) {
                for column in e.columns where !ds.manifest.schema.names.contains(column) {
                    throw QualityError.invalid("line \(e.line): '\(dataset)' has no column '\(column)' (columns: \(ds.manifest.schema.names.joined(separator: ", ")))")
                }
            }
        }
        let empty = text?.isEmpty ?? true
        return try await repository.setSchemaMetadata(Self.metadataKey, empty ? nil : text, of: dataset,
                                                      message: empty ? "Remove the expectations of \(dataset)" : "Set the expectations of \(dataset)")
    }

    /// Every expectation of the dataset at `ref`, with up to `samples` breaking row ids each.
    public func check(_ dataset: String, at ref: String = "HEAD", samples: Int = 10) async throws -> CheckReport {
        try await check(dataset, at: ref, samples: samples, expectations: nil, scope: nil)
    }

    /// What a gate checks: the rows a commit added to a dataset whose parent met the same expectations.
    struct Scope {
        /// The fragments holding them.
        var added: [FragmentEntry]
        var fragments: Set<ObjectID> { Set(added.map(\.object)) }
        /// A condition on `_rowid` that keeps the added rows only.
        var rows: String { Checker.rows(of: added) }
    }

    /// A condition on `_rowid` that keeps the rows of `fragments` (by their row-id bounds, which prune every other
    /// fragment); FALSE for none.
    static func rows(of fragments: [FragmentEntry]) -> String {
        fragments.isEmpty ? "FALSE" : fragments.map { "_rowid BETWEEN \($0.minRowID) AND \($0.maxRowID)" }.joined(separator: " OR ")
    }

    /// `expectations` (default: the dataset's at `ref`); with `scope`, the row-by-row kinds look at its rows only.
    func check(_ dataset: String, at ref: String, samples: Int = 10, expectations given: [Expectation]?, scope: Scope?) async throws -> CheckReport {
        let commit = try await repository.resolve(ref).hex
        let ds = try await repository.dataset(dataset, at: commit)
        let expectations: [Expectation]
        if let given {
            expectations = given
        } else {
            guard let text = ds.manifest.schema.metadata?[Self.metadataKey] else {
                throw QualityError.notFound("'\(dataset)' has no expectations at \(ref): declare them in a file and run `loam expect \(dataset) --file FILE`")
            }
            expectations = try Expectation.parse(text)
        }
        var profile: DatasetProfile?
        var results: [ExpectationResult] = []
        for e in expectations {
            let run = Run(repository: repository, table: SQLText.identifier(dataset), commit: commit, samples: samples, scope: scope?.rows)
            var result = ExpectationResult(name: e.name, kind: e.kind.rawValue, gate: e.gate, passed: true, failing: 0, observed: nil, sampleRowIDs: [], line: e.line)
            let c = SQLText.identifier(e.column)
            func bounded(_ x: Double?) -> Bool { x.map { v in (e.min.map { v >= $0 } ?? true) && (e.max.map { v <= $0 } ?? true) } ?? false }
            // A column the expectation names is gone (a rename or a drop): it cannot hold, and says why.
            let names = Set(ds.schema.fields.map(\.name))
            let missing = e.columns.filter { !names.contains($0) }
            if !missing.isEmpty {
                result.problem = "\(dataset) has no column \(missing.joined(separator: ", ")) (columns: \(ds.schema.fields.map(\.name).joined(separator: ", ")))"
                result.failing = ds.rowCount
                result.passed = false
                results.append(result)
                continue
            }
            switch e.kind {
            case .notNull:
                (result.failing, result.sampleRowIDs) = try await run.breaking("\(c) IS NULL")
            case .range:
                let sides = [e.min.map { "\(c) < \($0)" }, e.max.map { "\(c) > \($0)" }].compactMap { $0 }.joined(separator: " OR ")
                (result.failing, result.sampleRowIDs) = try await run.breaking(sides)
            case .in:
                (result.failing, result.sampleRowIDs) = try await run.breaking("\(c) IS NOT NULL AND \(c) NOT IN (\(e.allowed.joined(separator: ", ")))")
            case .regex:
                (result.failing, result.sampleRowIDs) = try await run.breaking("\(c) IS NOT NULL AND NOT regexp_matches(\(c), \(SQLText.literal(e.pattern!)))")
            case .length:
                let sides = [e.min.map { "length(\(c)) < \($0)" }, e.max.map { "length(\(c)) > \($0)" }].compactMap { $0 }.joined(separator: " OR ")
                (result.failing, result.sampleRowIDs) = try await run.breaking("\(c) IS NOT NULL AND (\(sides))")
            case .sql:
                (result.failing, result.sampleRowIDs) = try await run.breaking("NOT coalesce((\(e.condition!)), FALSE)")
            case .foreignKey:
                let parts = e.references!.split(separator: ".").map(String.init)
                let (other, key) = (SQLText.identifier(parts[0]), SQLText.identifier(parts[1]))
                let target = try await repository.datasetSummaries(at: commit) { $0 == parts[0] }.first
                if let target, target.columns.contains(parts[1]) {
                    (result.failing, result.sampleRowIDs) = try await run.breaking("\(c) IS NOT NULL AND \(c) NOT IN (SELECT \(key) FROM \(other) WHERE \(key) IS NOT NULL)")
                } else {
                    // Nothing to point at: every key breaks it.
                    result.problem = target == nil ? "there is no dataset \(parts[0])" : "\(parts[0]) has no column \(parts[1]) (columns: \(target!.columns.joined(separator: ", ")))"
                    (result.failing, result.sampleRowIDs) = try await run.breaking("\(c) IS NOT NULL")
                }
            case .unique:
                let keys = e.columns.map(SQLText.identifier).joined(separator: ", ")
                var present = e.columns.map { "\(SQLText.identifier($0)) IS NOT NULL" }.joined(separator: " AND ")
                // Only rows in fragments that share a key hash can repeat a key (none: the key is unique, no SQL at all). In a
                // gate the parent held it, so a repeat involves a new row: the new fragments and those the index finds their
                // keys in. A key of lists or structs has no index: there a repeat's first key lies between the new rows'
                // least and greatest, a range that prunes the fragments outside it by their zone maps.
                let index = KeyIndex(repository: repository, store: RepositoryQualityStore(repository: repository))
                let suspects = if let scope { try await index.mayRepeat(e.columns, in: ds.manifest, added: scope.fragments) }
                    else { try await index.repeats(e.columns, in: ds.manifest) }
                if let suspects {
                    guard !suspects.isEmpty else { break }
                    present += " AND (" + Self.rows(of: suspects) + ")"
                } else if let scope {
                    guard let filter = try await run.keyRange(of: e.columns[0], where: "(\(scope.rows)) AND \(present)") else { break }  // no new keys
                    present += filter
                }
                result.failing = try await run.number("SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM \(run.table) WHERE \(present) GROUP BY \(keys) HAVING count(*) > 1) d")
                if result.failing > 0 {
                    result.sampleRowIDs = try await run.rowIDs("SELECT _rowid FROM \(run.table) WHERE \(present) QUALIFY count(*) OVER (PARTITION BY \(keys)) > 1 ORDER BY _rowid LIMIT \(samples)")
                }
            case .rows:
                result.observed = Double(ds.rowCount)
                result.failing = bounded(result.observed) ? 0 : 1
            case .noRows:
                let found = try await repository.query(e.query!, at: commit)
                result.failing = found.batches.reduce(0) { $0 + $1.length }
                if let column = found.schema.index(of: RowID.name) {
                    for batch in found.batches where result.sampleRowIDs.count < samples {
                        for i in 0..<batch.length where result.sampleRowIDs.count < samples {
                            if case .uint(let id) = batch.columns[column].value(at: i) { result.sampleRowIDs.append(id) }
                        }
                    }
                }
            case .mean, .quantile:
                // A gate needs the named columns only, and keeps nothing: a write is not slowed by sketches it does not use.
                let only = scope == nil ? nil : Set(expectations.filter { [.mean, .quantile].contains($0.kind) }.map(\.column))
                if profile == nil { profile = try await Profiler(repository: repository).profile(dataset, at: commit, only: only) }
                guard let column = profile!.columns.first(where: { $0.name == e.column }) else {
                    throw QualityError.invalid("line \(e.line): '\(dataset)' has no column '\(e.column)'")
                }
                result.observed = e.kind == .mean ? column.profile.values.flatMap { $0.count > 0 ? $0.mean : nil }
                    : column.profile.quantiles?.quantile(e.q!)
                result.failing = bounded(result.observed) ? 0 : 1
            case .drift:
                let drift = try await Drift(repository: repository).compare(dataset, from: e.against!, to: commit, columns: [e.column])
                result.observed = drift.columns.first?.value(e.metric!)
                result.failing = bounded(result.observed) ? 0 : 1
            case .share:
                let present = try await run.number("SELECT count(*) FROM \(run.table) WHERE \(c) IS NOT NULL")
                let matching = try await run.number("SELECT count(*) FROM \(run.table) WHERE CAST(\(c) AS VARCHAR) = \(SQLText.literal(e.value!))")
                result.observed = present == 0 ? nil : Double(matching) / Double(present)
                result.failing = bounded(result.observed) ? 0 : 1
            }
            result.passed = result.failing == 0
            results.append(result)
        }
        return CheckReport(dataset: dataset, commit: commit, rows: ds.rowCount, passed: results.allSatisfy(\.passed), results: results)
    }

    /// SQL against one commit.
    struct Run {
        let repository: Repository
        let table: String
        let commit: String
        let samples: Int
        /// Row-by-row checks look only at the rows this condition keeps.
        var scope: String?

        func number(_ sql: String) async throws -> Int {
            let result = try await repository.query(sql, at: commit)
            guard let batch = result.batches.first(where: { $0.length > 0 }) else { return 0 }
            switch batch.columns[0].value(at: 0) {
            case .int(let n): return Int(n)
            case .uint(let n): return Int(n)
            case .float(let x): return Int(x)
            default: return 0
            }
        }

        func rowIDs(_ sql: String) async throws -> [UInt64] {
            try await repository.query(sql, at: commit).batches.flatMap { batch in
                (0..<batch.length).compactMap { i -> UInt64? in
                    if case .uint(let id) = batch.columns[0].value(at: i) { return id }
                    return nil
                }
            }
        }

        /// " AND column BETWEEN least AND greatest" of `column` where `condition` holds; nil when no row does;
        /// "" for a type without a plain literal (dates, timestamps, NaN…), where `unique` reads every row.
        func keyRange(of column: String, where condition: String) async throws -> String? {
            let c = SQLText.identifier(column)
            let result = try await repository.query("SELECT min(\(c)), max(\(c)) FROM \(table) WHERE \(condition)", at: commit)
            guard let batch = result.batches.first(where: { $0.length > 0 }), !batch.columns[0].isNull(0) else { return nil }
            func literal(_ v: Value) -> String? {
                switch v {
                case .int(let n): return String(n)
                case .uint(let n) where n <= UInt64(Int64.max): return String(n)
                case .float(let x) where x.isFinite: return "\(x)"
                case .string(let text): return SQLText.literal(text)
                default: return nil
                }
            }
            guard let low = literal(batch.columns[0].value(at: 0)), let high = literal(batch.columns[1].value(at: 0)) else { return "" }
            return " AND \(c) BETWEEN \(low) AND \(high)"
        }

        /// How many rows meet `condition` (they break the expectation), and the first few of their ids.
        func breaking(_ condition: String) async throws -> (Int, [UInt64]) {
            let condition = scope.map { "(\($0)) AND (\(condition))" } ?? condition
            let count = try await number("SELECT count(*) FROM \(table) WHERE \(condition)")
            guard count > 0 else { return (0, []) }
            return (count, try await rowIDs("SELECT _rowid FROM \(table) WHERE \(condition) ORDER BY _rowid LIMIT \(samples)"))
        }
    }
}
