@testable import LoamLabels
import Testing

/// The agreement measures on the published examples (python/tests/test_agreement.py compares them with
/// scikit-learn, statsmodels and the `krippendorff` package on generated data).
@Suite struct AgreementTests {
    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units, missing values.
    static let krippendorff: [[Double?]] = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nil, nil, nil],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nil, 3],
        [nil, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nil],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nil],
    ]

    static func ratings(_ matrix: [[Double?]]) -> Ratings {
        Ratings(matrix.enumerated().flatMap { coder, row in
            row.enumerated().compactMap { unit, value in value.map { (item: "u\(unit)", annotator: "c\(coder)", value: String(Int($0))) } }
        })
    }

    @Test func krippendorffsPublishedExample() throws {
        let r = Self.ratings(Self.krippendorff)
        let expected: [(Ratings.Level, Double)] = [(.nominal, 0.743), (.ordinal, 0.815), (.interval, 0.849), (.ratio, 0.797)]
        for (level, value) in expected {
            let alpha = try #require(try r.krippendorffAlpha(level: level))
            #expect(abs(alpha - value) < 0.0005, "\(level): \(alpha)")
        }
    }

    /// Fleiss (1971) as Wikipedia tabulates it: 10 subjects, 14 raters, 5 categories; kappa 0.210.
    @Test func fleissPublishedExample() {
        let table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                     [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
        var triples: [(item: String, annotator: String, value: String)] = []
        for (subject, row) in table.enumerated() {
            var rater = 0
            for (category, count) in row.enumerated() {
                for _ in 0..<count { triples.append(("s\(subject)", "r\(rater)", "c\(category + 1)")); rater += 1 }
            }
        }
        let r = Ratings(triples)
        #expect(abs((r.fleissKappa().kappa ?? 0) - 0.2099) < 0.0005)
        #expect(abs((r.percentAgreement ?? 0) - 0.3780) < 0.0005)  // P̄ in the same example
    }

    @Test func cohenKappaOnATextbookTable() throws {
        // 50 items: both yes 20, a yes b no 5, a no b yes 10, both no 15 → kappa 0.4.
        var triples: [(item: String, annotator: String, value: String)] = []
        for (i, pair) in (Array(repeating: ("yes", "yes"), count: 20) + Array(repeating: ("yes", "no"), count: 5)
                          + Array(repeating: ("no", "yes"), count: 10) + Array(repeating: ("no", "no"), count: 15)).enumerated() {
            triples += [("i\(i)", "a", pair.0), ("i\(i)", "b", pair.1)]
        }
        let r = Ratings(triples)
        #expect(abs((try r.cohenKappa("a", "b") ?? 0) - 0.4) < 1e-12)
        #expect(try r.confusion("a", "b") == [[15, 10], [5, 20]])  // rows a, columns b; values sorted: no, yes
        #expect(throws: AgreementError.unknownAnnotator("zed", ["a", "b"])) { try r.cohenKappa("a", "zed") }
        #expect(throws: (any Error).self) { try r.krippendorffAlpha(level: .interval) }  // text values have no distances
    }
}
