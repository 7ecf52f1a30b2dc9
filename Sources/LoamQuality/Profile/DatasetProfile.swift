import Foundation

/// A dataset's profile at one commit: each column's merged sketches, and how much was read to make it.
public struct DatasetProfile: Codable, Sendable {
    public struct Column: Codable, Sendable {
        public var name: String
        public var id: Int
        public var profile: ColumnProfile
    }

    public var dataset: String
    public var commit: String
    /// Live rows.
    public var rows: Int
    /// Fragments with live rows, and how many of them were read now (the others' sketches were kept).
    public var fragments: Int
    public var computed: Int
    public var columns: [Column]

    /// What `loam profile --json`, the REST route and `ds.profile()` return.
    public var report: ProfileReport {
        ProfileReport(dataset: dataset, commit: commit, rows: rows, fragments: fragments, fragmentsRead: computed,
                      columns: columns.map { ProfileReport.Column($0.name, $0.profile) })
    }
}

/// A profile as numbers a person or a program reads: no sketches, their answers.
public struct ProfileReport: Codable, Sendable {
    public var dataset: String
    public var commit: String
    public var rows: Int
    public var fragments: Int
    public var fragmentsRead: Int
    public var columns: [Column]

    /// The report with the named columns cut to their counts (rows, nulls): no value, extreme or quantile
    /// of a column masked for the reader.
    public func counting(only names: Set<String>) -> ProfileReport {
        var copy = self
        for i in copy.columns.indices where names.contains(copy.columns[i].name) {
            let c = copy.columns[i]
            var bare = Column(c.name, ColumnProfile(type: c.type))
            (bare.rows, bare.nulls) = (c.rows, c.nulls)
            copy.columns[i] = bare
        }
        return copy
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var min: Double?
        public var max: Double?
        public var mean: Double?
        /// Population standard deviation (ddof 0).
        public var std: Double?
    }

    public struct Bin: Codable, Sendable, Equatable {
        public var low: Double
        public var high: Double
        public var count: Int
    }

    public struct Column: Codable, Sendable {
        public var name: String
        public var type: String
        public var rows: Int
        public var nulls: Int
        public var nans: Int
        public var distinct: Int?
        public var distinctExact: Bool?
        public var values: Summary?
        /// p0, p1, p5, p25, p50, p75, p95, p99, p100 (`"p50"` …), from the quantile sketch (p0 and p100: the exact extremes).
        public var quantiles: [String: Double]?
        public var histogram: [Bin]?
        public var top: [TopValues.Entry]?
        public var topExact: Bool?
        public var minText: String?
        public var maxText: String?
        public var lengths: Summary?
        public var norms: Summary?

        static let levels: [(String, Double)] = [("p0", 0), ("p1", 0.01), ("p5", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75),
                                                ("p95", 0.95), ("p99", 0.99), ("p100", 1)]

        init(_ name: String, _ p: ColumnProfile) {
            self.name = name
            type = p.type
            rows = p.rows
            nulls = p.nulls
            nans = p.nans
            distinct = p.distinct?.estimate
            distinctExact = p.distinct?.isExact
            values = p.values.flatMap(Self.summary)
            if let q = p.quantiles, q.count > 0 {
                quantiles = Dictionary(uniqueKeysWithValues: zip(Self.levels.map(\.0), q.quantiles(Self.levels.map(\.1))).compactMap { k, v in v.map { (k, $0) } })
                // The ends are known exactly.
                if let m = p.values, m.count > 0 { (quantiles!["p0"], quantiles!["p100"]) = (m.min, m.max) }
                histogram = Self.histogram(q, p.values)
            }
            top = p.top?.top(10)
            topExact = p.top?.isExact
            minText = p.minText
            maxText = p.maxText
            lengths = p.lengths.flatMap(Self.summary)
            norms = p.norms.flatMap(Self.summary)
        }

        static func summary(_ m: Moments) -> Summary? {
            m.count == 0 ? nil : Summary(min: m.min, max: m.max, mean: m.mean, std: m.standardDeviation)
        }

        /// Ten bins of equal width from the minimum to the maximum (one for a single value), counted from the sketch's ranks.
        static func histogram(_ q: QuantileSketch, _ m: Moments?) -> [Bin]? {
            guard let m, m.count > 0, m.min.isFinite, m.max.isFinite else { return nil }
            guard m.max > m.min else { return [Bin(low: m.min, high: m.max, count: q.count)] }
            let width = (m.max - m.min) / 10
            var bins: [Bin] = [], below = 0
            for i in 0..<10 {
                let high = i == 9 ? m.max : m.min + width * Double(i + 1)
                let upTo = i == 9 ? q.count : q.rank(high)
                bins.append(Bin(low: m.min + width * Double(i), high: high, count: upTo - below))
                below = upTo
            }
            return bins
        }
    }
}
