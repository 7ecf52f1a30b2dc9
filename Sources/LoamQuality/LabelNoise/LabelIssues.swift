import Foundation
import Loam
import LoamFormat

/// Rows whose label is likely wrong, by confident learning (Northcutt et al. 2021) as cleanlab computes its
/// confident joint: each class's threshold is the mean predicted probability of that class over the rows
/// labelled with it; a row's likely class is the one class whose probability reaches its threshold (less
/// 1e-6), or, when several do, the most probable class overall; rows with none are left out. A row whose
/// likely class differs from its label is an issue; issues are ranked by self-confidence (the probability
/// of the given label), least first.
///
/// ```swift
/// let report = try await LabelIssues(repository: repo).find("reviews", label: "label", probabilities: "probs")
/// ```
public struct LabelIssues: Sendable {
    public struct Issue: Codable, Sendable, Equatable {
        public var rowID: UInt64
        public var label: Int
        public var likely: Int
        public var selfConfidence: Double
    }

    public struct Report: Codable, Sendable {
        public var dataset: String
        public var commit: String
        public var rows: Int
        public var classes: Int
        public var thresholds: [Double]
        public var issues: [Issue]
    }

    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    public func find(_ dataset: String, label: String, probabilities: String, at ref: String = "HEAD") async throws -> Report {
        let commit = try await repository.resolve(ref).hex
        let ds = try await repository.dataset(dataset, at: commit)
        guard let labelField = ds.schema.fields.first(where: { $0.name == label }), labelField.type.isInteger else {
            throw QualityError.invalid("--label names an integer column of class indexes 0…k−1 (\(dataset) has \(ds.schema.fields.map { "\($0.name): \($0.type.name)" }.joined(separator: ", ")))")
        }
        guard let probField = ds.schema.fields.first(where: { $0.name == probabilities }),
              case .fixedSizeList(let item, let k) = probField.type, item.type == .float32 || item.type == .float64 else {
            throw QualityError.invalid("--probabilities names a fixed-size list of floats: one predicted probability per class")
        }
        var ids: [UInt64] = [], labels: [Int] = [], probs: [Double] = []
        try await ds.scan(columns: [label, probabilities], includeRowID: true) { batch in
            let (rowIDs, y, p) = (batch.columns[0], batch.columns[1], batch.columns[2])
            let wide = item.type == .float64
            for i in 0..<batch.length where !y.isNull(i) && !p.isNull(i) {
                guard case .int(let value) = y.value(at: i) else { continue }
                guard value >= 0 && value < Int64(k) else {
                    throw QualityError.invalid("row \(rowIDs.buffers[1].load(i, as: UInt64.self)) has label \(value), outside the \(k) classes of \(probabilities)")
                }
                ids.append(rowIDs.buffers[1].load(i, as: UInt64.self))
                labels.append(Int(value))
                let child = p.children[0]
                for j in (i * k)..<((i + 1) * k) { probs.append(wide ? child.buffers[1].loadDouble(j) : Double(child.buffers[1].loadFloat(j))) }
            }
        }
        // Per-class thresholds: the mean probability of class c over the rows labelled c.
        var sums = [Double](repeating: 0, count: k), counts = [Int](repeating: 0, count: k)
        for (i, y) in labels.enumerated() {
            sums[y] += probs[i * k + y]
            counts[y] += 1
        }
        let thresholds = (0..<k).map { counts[$0] > 0 ? sums[$0] / Double(counts[$0]) : 1.0 }
        var issues: [Issue] = []
        for (i, y) in labels.enumerated() {
            let row = Array(probs[(i * k)..<((i + 1) * k)])
            let confident = (0..<k).filter { row[$0] >= thresholds[$0] - 1e-6 }
            guard let first = confident.first else { continue }
            let likely = confident.count > 1 ? row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! : first
            if likely != y { issues.append(Issue(rowID: ids[i], label: y, likely: likely, selfConfidence: row[y])) }
        }
        issues.sort { $0.selfConfidence < $1.selfConfidence || ($0.selfConfidence == $1.selfConfidence && $0.rowID < $1.rowID) }
        return Report(dataset: dataset, commit: commit, rows: labels.count, classes: k, thresholds: thresholds, issues: issues)
    }
}
