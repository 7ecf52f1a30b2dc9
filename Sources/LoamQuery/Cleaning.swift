import Loam
import LoamFormat
import LoamStorage
import LoamTable

/// A data-cleaning operation, run as one commit built on the SQL engine.
///
/// ```swift
/// let summary = try await repo.clean("reviews", .fillNulls(column: "score", with: .mean))
/// summary.rows   // how many rows changed
/// ```
public enum CleaningOperation: Sendable {
    public enum Fill: Sendable { case value(String), mean, median, mode }
    public enum Scaling: String, Sendable, CaseIterable { case minmax, zscore }
    public enum Outliers: Sendable { case zscore(Double), iqr(Double) }

    /// Drops rows equal on `columns` (all columns when empty), keeping the first (lowest `_rowid`).
    case dropDuplicates(columns: [String])
    case dropNulls(columns: [String])
    case fillNulls(column: String, with: Fill)
    case normalize(column: String, Scaling)
    case trim(column: String)
    case lowercase(column: String)
    case cast(column: String, to: ArrowType)
    case dropOutliers(column: String, Outliers)
}

public struct CleaningSummary: Sendable {
    public let description: String
    public let rows: Int
    public let commit: ObjectID?
}

extension Repository {
    public func clean(_ dataset: String, _ operation: CleaningOperation) async throws -> CleaningSummary {
        let ds = try await self.dataset(dataset)
        let name = Self.quoted(dataset)
        func column(_ c: String) throws -> String {
            guard ds.schema.index(of: c) != nil else { throw TableError.unknownColumn(c, dataset: dataset, available: ds.schema.fields.map(\.name)) }
            return Self.quoted(c)
        }
        func numeric(_ c: String) throws -> String {
            let q = try column(c)
            let type = ds.schema.fields[ds.schema.index(of: c)!].type
            guard type.isFloatingPoint else {
                throw LoamError.invalidArgument("'\(c)' is \(type.name); this operation writes fractions, so cast it first: loam clean \(dataset) cast \(c) float64")
            }
            return q
        }
        /// The first row of a query's result (one scan for several aggregates).
        func firstRow(_ sql: String) async throws -> [Value] {
            let result = try await query(sql)
            guard let batch = result.batches.first, batch.length > 0 else { return Array(repeating: .null, count: result.schema.fields.count) }
            return batch.row(0)
        }
        func scalar(_ sql: String) async throws -> Value { try await firstRow(sql)[0] }
        func literal(_ v: Value) -> String {
            switch v {
            case .string(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
            case .float(let d): return String(d)
            default: return v.displayText
            }
        }
        func run(_ sql: String, _ what: String) async throws -> CleaningSummary {
            let done = try await execute(sql)
            return CleaningSummary(description: what, rows: done.affected, commit: done.affected > 0 ? done.commit : nil)
        }
        switch operation {
        case .dropNulls(let columns):
            let names = columns.isEmpty ? ds.schema.fields.map(\.name) : columns
            let condition = try names.map { "\(try column($0)) IS NULL" }.joined(separator: " OR ")
            return try await run("DELETE FROM \(name) WHERE \(condition)", "dropped rows with a null in \(names.joined(separator: ", "))")
        case .fillNulls(let c, let fill):
            let q = try column(c)
            let value: Value
            switch fill {
            case .value(let text): value = try Evaluator(sql: text).cast(.string(text), to: ds.schema.fields[ds.schema.index(of: c)!].type, at: 0)
            case .mean: value = try await scalar("SELECT avg(\(try numeric(c))) FROM \(name)")
            case .mode: value = try await scalar("SELECT \(q) FROM \(name) WHERE \(q) IS NOT NULL GROUP BY \(q) ORDER BY count(*) DESC, \(q) LIMIT 1")
            case .median:
                let values = try await query("SELECT \(try numeric(c)) FROM \(name) WHERE \(q) IS NOT NULL ORDER BY \(q)").batches.flatMap { $0.columns[0].values }
                guard !values.isEmpty else { value = .null; break }
                let mid = values.count / 2
                value = values.count % 2 == 1 ? values[mid] : .float(((values[mid - 1].asDouble ?? 0) + (values[mid].asDouble ?? 0)) / 2)
            }
            guard !value.isNull else { return CleaningSummary(description: "'\(c)' has no values to fill from", rows: 0, commit: nil) }
            return try await run("UPDATE \(name) SET \(q) = \(literal(value)) WHERE \(q) IS NULL", "filled nulls in \(c) with \(value.displayText)")
        case .normalize(let c, let scaling):
            let q = try numeric(c)
            switch scaling {
            case .minmax:
                let bounds = try await firstRow("SELECT min(\(q)), max(\(q)) FROM \(name)")
                let lo = bounds[0].asDouble, hi = bounds[1].asDouble
                guard let lo, let hi, hi > lo else { return CleaningSummary(description: "'\(c)' is constant or empty; nothing to scale", rows: 0, commit: nil) }
                return try await run("UPDATE \(name) SET \(q) = (\(q) - \(lo)) / \(hi - lo) WHERE \(q) IS NOT NULL", "scaled \(c) from [\(lo), \(hi)] to [0, 1]")
            case .zscore:
                let moments = try await firstRow("SELECT avg(\(q)), stddev(\(q)) FROM \(name)")
                let mean = moments[0].asDouble, sd = moments[1].asDouble
                guard let mean, let sd, sd > 0 else { return CleaningSummary(description: "'\(c)' has no spread; nothing to scale", rows: 0, commit: nil) }
                return try await run("UPDATE \(name) SET \(q) = (\(q) - \(mean)) / \(sd) WHERE \(q) IS NOT NULL", "standardized \(c) (mean \(mean), sd \(sd))")
            }
        case .trim(let c):
            let q = try column(c)
            return try await run("UPDATE \(name) SET \(q) = trim(\(q)) WHERE \(q) != trim(\(q))", "trimmed \(c)")
        case .lowercase(let c):
            let q = try column(c)
            return try await run("UPDATE \(name) SET \(q) = lower(\(q)) WHERE \(q) != lower(\(q))", "lowercased \(c)")
        case .dropOutliers(let c, let rule):
            let q = try column(c)
            let lo: Double, hi: Double
            switch rule {
            case .zscore(let k):
                let moments = try await firstRow("SELECT avg(\(q)), stddev(\(q)) FROM \(name)")
                guard let mean = moments[0].asDouble, let sd = moments[1].asDouble else {
                    return CleaningSummary(description: "'\(c)' has too few values", rows: 0, commit: nil)
                }
                (lo, hi) = (mean - k * sd, mean + k * sd)
            case .iqr(let k):
                let values = try await query("SELECT \(q) FROM \(name) WHERE \(q) IS NOT NULL ORDER BY \(q)").batches.flatMap { $0.columns[0].values }.compactMap(\.asDouble)
                guard values.count >= 4 else { return CleaningSummary(description: "'\(c)' has too few values", rows: 0, commit: nil) }
                func quantile(_ p: Double) -> Double {  // linear interpolation, as numpy's default
                    let position = p * Double(values.count - 1), below = Int(position)
                    return values[below] + (values[min(below + 1, values.count - 1)] - values[below]) * (position - Double(below))
                }
                let q1 = quantile(0.25), q3 = quantile(0.75)
                (lo, hi) = (q1 - k * (q3 - q1), q3 + k * (q3 - q1))
            }
            return try await run("DELETE FROM \(name) WHERE \(q) < \(lo) OR \(q) > \(hi)", "dropped rows with \(c) outside [\(lo), \(hi)]")
        case .cast(let c, let type):
            _ = try column(c)
            let evaluator = Evaluator(sql: "CAST")
            let commit = try await changeColumnType(dataset, column: c, to: type, message: "Clean \(dataset): cast \(c) to \(type.name)") { array in
                let builder = ArrayBuilder(type: type)
                for value in array.values { try builder.append(try evaluator.coerce(value, to: type, at: 0)) }
                return builder.finish()
            }
            return CleaningSummary(description: "cast \(c) to \(type.name)", rows: ds.rowCount, commit: commit)
        case .dropDuplicates(let columns):
            let names = columns.isEmpty ? ds.schema.fields.map(\.name) : columns
            let list = try names.map(column).joined(separator: ", ")
            // Every row but the first of each group of equal rows.
            let result = try await query("SELECT _rowid, \(list) FROM \(name) ORDER BY _rowid")
            var seen = Set<[Value]>()
            var duplicates = Set<UInt64>()
            for batch in result.batches {
                for r in 0..<batch.length {
                    if !seen.insert(batch.columns.dropFirst().map { $0.value(at: r) }).inserted {
                        if case .uint(let id) = batch.columns[0].value(at: r) { duplicates.insert(id) }
                    }
                }
            }
            guard !duplicates.isEmpty else { return CleaningSummary(description: "no duplicates on \(names.joined(separator: ", "))", rows: 0, commit: nil) }
            let reader = FragmentReader(objects: objects)
            let victims = duplicates
            let (commit, rows) = try await delete(from: dataset, message: "Clean \(dataset): drop duplicates on \(names.joined(separator: ", "))") { entry, manifest in
                guard let lo = victims.min(), let hi = victims.max(), entry.maxRowID >= lo, entry.minRowID <= hi else { return [] }
                let data = try await reader.read(entry, schema: manifest.schema, columnIDs: [])
                return (data.live ?? Array(0..<entry.rows)).filter { victims.contains(data.rowIDs.buffers[1].load($0, as: UInt64.self)) }
            }
            return CleaningSummary(description: "dropped duplicates on \(names.joined(separator: ", "))", rows: rows, commit: commit)
        }
    }

    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
