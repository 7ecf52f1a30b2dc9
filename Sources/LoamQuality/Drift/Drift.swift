import Foundation
import Loam
import LoamFormat

/// How one column's values moved between two versions (or two datasets).
public struct ColumnDrift: Codable, Sendable, Equatable {
    public var column: String
    /// "numeric", "categorical" or "vector".
    public var kind: String
    /// Values compared on each side (nulls and NaNs left out).
    public var countFrom: Int
    public var countTo: Int
    /// Two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value (numbers).
    public var ks: Double?
    public var ksPValue: Double?
    /// Population stability index over the first side's deciles (numbers).
    public var psi: Double?
    /// χ² test of homogeneity over the categories (strings, booleans, integers with at most 50 values).
    public var chiSquare: Double?
    public var chiSquareDOF: Int?
    public var chiSquarePValue: Double?
    /// 1 − cosine of the two sides' mean vectors (vectors).
    public var meanCosineShift: Double?
    /// MMD² (unbiased) with a Gaussian kernel exp(−‖x − y‖² / h), h the median squared distance of the pooled
    /// sample, over at most 500 evenly spaced rows per side (vectors).
    public var mmd: Double?

    /// The value of `metric` (ks, ks_p, psi, chi_square, chi_square_p, cosine, mmd), nil when not computed.
    public func value(_ metric: String) -> Double? {
        switch metric {
        case "ks": return ks
        case "ks_p": return ksPValue
        case "psi": return psi
        case "chi_square": return chiSquare
        case "chi_square_p": return chiSquarePValue
        case "cosine": return meanCosineShift
        case "mmd": return mmd
        default: return nil
        }
    }

    static let metrics = ["ks", "ks_p", "psi", "chi_square", "chi_square_p", "cosine", "mmd"]
}

public struct DriftReport: Codable, Sendable {
    public struct Side: Codable, Sendable { public var dataset: String; public var commit: String; public var rows: Int }
    public var from: Side
    public var to: Side
    public var columns: [ColumnDrift]

    public var text: String {
        var out = "\(from.dataset) at \(from.commit.prefix(12)) (\(from.rows) rows) → \(to.dataset) at \(to.commit.prefix(12)) (\(to.rows) rows)\n"
        for c in columns {
            var parts: [String] = []
            if let ks = c.ks { parts.append("KS \(ProfileReport.number(ks)) (p \(ProfileReport.number(c.ksPValue ?? 1)))") }
            if let psi = c.psi { parts.append("PSI \(ProfileReport.number(psi))\(psi >= 0.25 ? " — large shift" : psi >= 0.1 ? " — moderate shift" : "")") }
            if let chi = c.chiSquare { parts.append("χ² \(ProfileReport.number(chi)), \(c.chiSquareDOF ?? 0) dof (p \(ProfileReport.number(c.chiSquarePValue ?? 1)))") }
            if let cos = c.meanCosineShift { parts.append("mean cosine shift \(ProfileReport.number(cos))") }
            if let mmd = c.mmd { parts.append("MMD² \(ProfileReport.number(mmd))") }
            out += "  \(c.column)  \(c.kind): " + (parts.isEmpty ? "no values to compare" : parts.joined(separator: "   ")) + "\n"
        }
        return out
    }
}

/// Drift between a dataset at two refs, or between two datasets: per column, KS and PSI for numbers, χ² for
/// categories, mean cosine shift and MMD for embedding vectors.
///
/// ```swift
/// let report = try await Drift(repository: repo).compare("reviews", from: "v1", to: "HEAD")
/// ```
public struct Drift: Sendable {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    public func compare(_ dataset: String, from: String, to: String = "HEAD", against other: String? = nil, columns wanted: [String]? = nil) async throws -> DriftReport {
        let (a, b) = (try await repository.dataset(dataset, at: from), try await repository.dataset(other ?? dataset, at: to))
        let shared = a.schema.fields.filter { field in b.schema.fields.contains { $0.name == field.name && $0.type == field.type } }
        if let wanted, let missing = wanted.first(where: { name in !shared.contains { $0.name == name } }) {
            throw QualityError.invalid("column '\(missing)' is not in both sides with one type (shared: \(shared.map(\.name).joined(separator: ", ")))")
        }
        var columns: [ColumnDrift] = []
        for field in shared where wanted?.contains(field.name) ?? true {
            let (x, y) = (try await Self.values(a, field), try await Self.values(b, field))
            var drift = ColumnDrift(column: field.name, kind: "numeric", countFrom: 0, countTo: 0)
            switch (x, y) {
            case (.numbers(let p), .numbers(let q)):
                (drift.countFrom, drift.countTo) = (p.count, q.count)
                let (sp, sq) = (p.sorted(), q.sorted())
                drift.ks = DriftStatistics.ksStatistic(sp, sq)
                drift.ksPValue = DriftStatistics.ksPValue(drift.ks!, p.count, q.count)
                drift.psi = DriftStatistics.psi(reference: sp, q)
                if field.type.isInteger {
                    let categories = Set(p).union(q)
                    if categories.count <= 50 { Self.chiSquare(&drift, p.map { String($0) }, q.map { String($0) }) }
                }
            case (.categories(let p), .categories(let q)):
                drift.kind = "categorical"
                (drift.countFrom, drift.countTo) = (p.count, q.count)
                Self.chiSquare(&drift, p, q)
            case (.vectors(let p, let width), .vectors(let q, _)):
                drift.kind = "vector"
                (drift.countFrom, drift.countTo) = (p.count / max(width, 1), q.count / max(width, 1))
                drift.meanCosineShift = Self.cosineShift(p, q, width)
                drift.mmd = Self.mmd(p, q, width)
            default:
                continue
            }
            columns.append(drift)
        }
        return DriftReport(from: .init(dataset: a.name, commit: try await repository.resolve(from).hex, rows: a.rowCount),
                           to: .init(dataset: b.name, commit: try await repository.resolve(to).hex, rows: b.rowCount), columns: columns)
    }

    enum Values { case numbers([Double]), categories([String]), vectors([Double], Int), none }

    /// A column's non-null values (NaNs left out) in row order.
    static func values(_ ds: Dataset, _ field: Field) async throws -> Values {
        switch field.type {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .float32, .float64, .date32, .timestamp:
            var out: [Double] = []
            try await ds.scan(columns: [field.name]) { batch in
                let column = batch.columns[0]
                for i in 0..<batch.length where !column.isNull(i) {
                    let v: Double
                    switch column.value(at: i) {
                    case .int(let n): v = Double(n)
                    case .uint(let n): v = Double(n)
                    case .float(let x): v = x
                    default: continue
                    }
                    if !v.isNaN { out.append(v) }
                }
            }
            return .numbers(out)
        case .utf8, .largeUtf8, .bool:
            var out: [String] = []
            try await ds.scan(columns: [field.name]) { batch in
                let column = batch.columns[0]
                for i in 0..<batch.length where !column.isNull(i) {
                    switch column.value(at: i) {
                    case .string(let s): out.append(s)
                    case .bool(let b): out.append(b ? "true" : "false")
                    default: break
                    }
                }
            }
            return .categories(out)
        case .fixedSizeList(let item, let width) where item.type == .float32 || item.type == .float64:
            var out: [Double] = []
            try await ds.scan(columns: [field.name]) { batch in
                let column = batch.columns[0], child = column.children[0], wide = item.type == .float64
                for i in 0..<batch.length where !column.isNull(i) {
                    for j in (i * width)..<((i + 1) * width) { out.append(wide ? child.buffers[1].loadDouble(j) : Double(child.buffers[1].loadFloat(j))) }
                }
            }
            return .vectors(out, width)
        default:
            return .none
        }
    }

    static func chiSquare(_ drift: inout ColumnDrift, _ p: [String], _ q: [String]) {
        var counts: [String: (Int, Int)] = [:]
        for v in p { counts[v, default: (0, 0)].0 += 1 }
        for v in q { counts[v, default: (0, 0)].1 += 1 }
        let keys = counts.keys.sorted()
        let result = DriftStatistics.chiSquare(keys.map { counts[$0]!.0 }, keys.map { counts[$0]!.1 })
        (drift.chiSquare, drift.chiSquareDOF, drift.chiSquarePValue) = (result.statistic, result.dof, result.p)
    }

    static func cosineShift(_ p: [Double], _ q: [Double], _ width: Int) -> Double? {
        guard width > 0, !p.isEmpty, !q.isEmpty else { return nil }
        func mean(_ v: [Double]) -> [Double] {
            var m = [Double](repeating: 0, count: width)
            for i in 0..<v.count { m[i % width] += v[i] }
            let n = Double(v.count / width)
            return m.map { $0 / n }
        }
        let (a, b) = (mean(p), mean(q))
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let norms = (a.reduce(0) { $0 + $1 * $1 }).squareRoot() * (b.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return norms == 0 ? nil : 1 - dot / norms
    }

    /// The rows kept for MMD: every ⌈n/500⌉th, at most 500.
    static func sample(_ v: [Double], _ width: Int) -> [[Double]] {
        let rows = v.count / width
        let stride = max(1, (rows + 499) / 500)
        return Swift.stride(from: 0, to: rows, by: stride).prefix(500).map { Array(v[($0 * width)..<(($0 + 1) * width)]) }
    }

    static func mmd(_ p: [Double], _ q: [Double], _ width: Int) -> Double? {
        guard width > 0 else { return nil }
        let (x, y) = (sample(p, width), sample(q, width))
        guard x.count > 1, y.count > 1 else { return nil }
        func distance(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        let pooled = x + y
        var squared: [Double] = []
        for i in 0..<pooled.count { for j in (i + 1)..<pooled.count { squared.append(distance(pooled[i], pooled[j])) } }
        squared.sort()
        let h = squared.count % 2 == 1 ? squared[squared.count / 2] : (squared[squared.count / 2 - 1] + squared[squared.count / 2]) / 2
        guard h > 0 else { return 0 }
        func kernel(_ a: [Double], _ b: [Double]) -> Double { exp(-distance(a, b) / h) }
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0..<x.count { for j in 0..<x.count where i != j { xx += kernel(x[i], x[j]) } }
        for i in 0..<y.count { for j in 0..<y.count where i != j { yy += kernel(y[i], y[j]) } }
        for i in 0..<x.count { for j in 0..<y.count { xy += kernel(x[i], y[j]) } }
        let (n, m) = (Double(x.count), Double(y.count))
        return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2 * xy / (n * m)
    }
}
