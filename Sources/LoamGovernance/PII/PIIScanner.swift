import Foundation
import Loam
import LoamFormat

/// What `loam pii scan` reports: per column, the kinds of personal data found, how many rows hold each, and a
/// few row ids to look at — never the values themselves.
public struct PIIReport: Encodable, Sendable {
    public struct Kind: Encodable, Sendable {
        public let kind: String
        /// Rows holding at least one value of this kind.
        public let rows: Int
        public let sampleRowIDs: [UInt64]

        enum CodingKeys: String, CodingKey { case kind, rows, sampleRowIDs = "sample_row_ids" }
    }

    public struct Column: Encodable, Sendable {
        public let column: String
        public let kinds: [Kind]
    }

    public let dataset: String
    public let commit: String
    public let rows: Int
    /// UTF-8 bytes of text scanned.
    public let bytes: Int
    public let seconds: Double
    public let columns: [Column]
}

/// Scans a dataset version's text columns (and date columns named for birth) with `PIIDetector`,
/// fragment by fragment in parallel.
public struct PIIScanner: Sendable {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    public func scan(_ dataset: String, at ref: String = "HEAD", columns wanted: [String]? = nil, samples: Int = 5) async throws -> PIIReport {
        let start = Date()
        let ds = try await repository.dataset(dataset, at: ref)
        let fields = ds.schema.fields
        if let wanted {
            for name in wanted where !fields.contains(where: { $0.name == name }) {
                throw LoamError.invalidArgument("no column '\(name)' in '\(dataset)' (columns: \(fields.map(\.name).joined(separator: ", ")))")
            }
        }
        // Text columns hold PII; a date column named for birth is dates of birth whatever its values.
        let scanned = fields.filter { field in
            (wanted?.contains(field.name) ?? true) && (field.type == .utf8 || field.type == .largeUtf8
                || (Names.isBirthColumn(field.name) && (field.type == .date32 || { if case .timestamp = field.type { return true }; return false }())))
        }
        let contexts = scanned.map { PIIDetector.Column(name: $0.name) }
        struct Tally: Sendable {
            var rows: [[PIIKind: Int]]
            var samples: [[PIIKind: [UInt64]]]
            var bytes = 0
            var count = 0
        }
        var total = Tally(rows: Array(repeating: [:], count: scanned.count), samples: Array(repeating: [:], count: scanned.count))
        let names = scanned.map(\.name)
        try await ds.scanFragments(columns: names, includeRowID: true, pruning: nil, transform: { batch in
            var tally = Tally(rows: Array(repeating: [:], count: names.count), samples: Array(repeating: [:], count: names.count))
            tally.count = batch.length
            let ids = batch.columns[0]
            for (c, context) in contexts.enumerated() {
                let array = batch.columns[c + 1]
                let isText = array.type == .utf8 || array.type == .largeUtf8
                for r in 0..<batch.length where !array.isNull(r) {
                    let kinds: Set<PIIKind>
                    if isText {
                        let bytes = array.bytes(at: r)
                        tally.bytes += bytes.count
                        kinds = Set(PIIDetector.findings(in: bytes, column: context).map(\.kind))
                    } else {
                        kinds = [.dateOfBirth]
                    }
                    for kind in kinds {
                        tally.rows[c][kind, default: 0] += 1
                        if tally.samples[c][kind, default: []].count < samples { tally.samples[c][kind, default: []].append(ids.buffers[1].load(r, as: UInt64.self)) }
                    }
                }
            }
            return tally
        }, consume: { part in
            total.count += part.count
            total.bytes += part.bytes
            for c in 0..<names.count {
                total.rows[c].merge(part.rows[c], uniquingKeysWith: +)
                for (kind, ids) in part.samples[c] where total.samples[c][kind, default: []].count < samples {
                    total.samples[c][kind, default: []] += ids.prefix(samples - total.samples[c][kind, default: []].count)
                }
            }
            return true
        })
        let columns = names.enumerated().compactMap { c, name -> PIIReport.Column? in
            let kinds = total.rows[c].keys.sorted().map { PIIReport.Kind(kind: $0.rawValue, rows: total.rows[c][$0]!, sampleRowIDs: total.samples[c][$0] ?? []) }
            return kinds.isEmpty ? nil : PIIReport.Column(column: name, kinds: kinds)
        }
        return PIIReport(dataset: dataset, commit: ds.commit.hex, rows: total.count, bytes: total.bytes, seconds: Date().timeIntervalSince(start), columns: columns)
    }
}
