/// Every agreement measure over one set of ratings, as `loam label agreement --json` prints it.
public struct AgreementReport: Encodable, Sendable {
    public struct Pair: Encodable, Sendable {
        public let a: String
        public let b: String
        public let items: Int
        public let kappa: Double?
        /// Rows: `a`'s values, columns: `b`'s, in the report's `values` order.
        public let confusion: [[Int]]
    }

    public let items: Int
    public let annotators: [String]
    public let values: [String]
    public let ratings: Int
    public let percentAgreement: Double?
    public let fleissKappa: Double?
    public let fleissKappaPerClass: [String: Double?]
    public let krippendorffAlpha: [String: Double?]
    public let cohenKappa: [Pair]
    /// Each annotator's mean Cohen's kappa with the others.
    public let annotatorKappa: [String: Double?]

    enum CodingKeys: String, CodingKey {
        case items, annotators, values, ratings
        case percentAgreement = "percent_agreement", fleissKappa = "fleiss_kappa", fleissKappaPerClass = "fleiss_kappa_per_class"
        case krippendorffAlpha = "krippendorff_alpha", cohenKappa = "cohen_kappa", annotatorKappa = "annotator_kappa"
    }

    /// `weights` applies to Cohen's kappa; Krippendorff's alpha is computed at every level the values allow.
    public init(_ r: Ratings, weights: Ratings.Weights = .none) throws {
        items = r.items.count
        annotators = r.annotators
        values = r.values
        ratings = r.byItem.reduce(0) { $0 + $1.count }
        percentAgreement = r.percentAgreement
        (fleissKappa, fleissKappaPerClass) = r.fleissKappa()
        var alpha: [String: Double?] = [:]
        for level in Ratings.Level.allCases where level == .nominal || r.numbers != nil {
            alpha[level.rawValue] = try r.krippendorffAlpha(level: level)
        }
        krippendorffAlpha = alpha
        let pairs = try r.pairwiseKappa(weights: weights)
        cohenKappa = try pairs.map { Pair(a: $0.a, b: $0.b, items: $0.items, kappa: $0.kappa, confusion: try r.confusion($0.a, $0.b)) }
        var perAnnotator: [String: Double?] = [:]
        for name in r.annotators {
            let mine = pairs.filter { $0.a == name || $0.b == name }.compactMap(\.kappa)
            perAnnotator[name] = mine.isEmpty ? nil : mine.reduce(0, +) / Double(mine.count)
        }
        annotatorKappa = perAnnotator
    }
}
