import Foundation
import Loam
import LoamFormat

/// Re-identification risk over quasi-identifiers: k-anonymity (the smallest group of rows sharing one
/// combination of quasi-identifier values) and, with a sensitive column, l-diversity (the fewest distinct
/// sensitive values in a group). Groups smaller than `k` are the rows at risk.
public struct RiskReport: Encodable, Sendable {
    public let dataset: String
    public let commit: String
    public let quasiIdentifiers: [String]
    public let sensitive: String?
    public let rows: Int
    public let groups: Int
    /// The dataset's k: its smallest group's size.
    public let k: Int
    /// The threshold rows are checked against.
    public let threshold: Int
    public let groupsBelowThreshold: Int
    public let rowsAtRisk: Int
    /// The fewest distinct sensitive values in a group (nil without a sensitive column).
    public let l: Int?

    enum CodingKeys: String, CodingKey {
        case dataset, commit, sensitive, rows, groups, k, threshold, l
        case quasiIdentifiers = "quasi_identifiers", groupsBelowThreshold = "groups_below_threshold", rowsAtRisk = "rows_at_risk"
    }

    public static func compute(_ repository: Repository, dataset: String, quasiIdentifiers: [String], sensitive: String? = nil,
                               threshold: Int = 5, at ref: String = "HEAD") async throws -> RiskReport {
        guard !quasiIdentifiers.isEmpty else { throw LoamError.invalidArgument("name the quasi-identifiers: --quasi age,zip,gender") }
        guard threshold >= 1 else { throw LoamError.invalidArgument("--k must be at least 1") }
        let ds = try await repository.dataset(dataset, at: ref)
        let names = quasiIdentifiers + (sensitive.map { [$0] } ?? [])
        for name in names where !ds.schema.fields.contains(where: { $0.name == name }) {
            throw LoamError.invalidArgument("no column '\(name)' in '\(dataset)' (columns: \(ds.schema.fields.map(\.name).joined(separator: ", ")))")
        }
        var counts: [[Value]: Int] = [:]
        var values: [[Value]: Set<Value>] = [:]
        var rows = 0
        try await ds.scan(columns: names) { batch in
            for r in 0..<batch.length {
                let key = (0..<quasiIdentifiers.count).map { batch.columns[$0].value(at: r) }
                counts[key, default: 0] += 1
                if sensitive != nil { values[key, default: []].insert(batch.columns[quasiIdentifiers.count].value(at: r)) }
                rows += 1
            }
        }
        let small = counts.values.filter { $0 < threshold }
        return RiskReport(dataset: dataset, commit: ds.commit.hex, quasiIdentifiers: quasiIdentifiers, sensitive: sensitive, rows: rows,
                          groups: counts.count, k: counts.values.min() ?? 0, threshold: threshold, groupsBelowThreshold: small.count,
                          rowsAtRisk: small.reduce(0, +), l: sensitive == nil ? nil : (values.values.map(\.count).min() ?? 0))
    }
}
