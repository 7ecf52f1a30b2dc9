import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamLabels
import LoamQuery

struct Label: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Labels and annotation: agreement between annotators (label schemas, tasks and the annotation page come next).",
        subcommands: [Agreement.self])

    struct Agreement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Agreement between annotators: percent agreement, Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha.",
            discussion: """
                The query's first three columns are the item, the annotator and the value (NULL values are missing ratings), e.g.
                  loam label agreement "SELECT review_id, annotator, label FROM votes"
                Krippendorff's alpha is given at the nominal level, and at the ordinal, interval and ratio levels when every value is a number.
                """)
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "A query whose first three columns are item, annotator and value.") var query: String
        @Option(help: "The ref to read when FROM has no AT (default HEAD).") var ref = "HEAD"
        @Option(help: "Weights for Cohen's kappa: none, linear or quadratic.") var weights = "none"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                guard let weights = Ratings.Weights(rawValue: weights) else { throw ValidationError("--weights takes none, linear or quadratic") }
                let outcome = try await repository.open().execute(query, at: ref)
                guard let result = outcome.query else { throw ValidationError("give a query (SELECT …), not a write") }
                guard result.schema.fields.count >= 3 else {
                    throw ValidationError("the query returns \(result.schema.fields.count) columns; it needs item, annotator and value")
                }
                var triples: [(item: String, annotator: String, value: String)] = []
                for batch in result.batches {
                    for row in 0..<batch.length {
                        let cells = (0..<3).map { ValueText.text(batch.columns[$0].value(at: row), result.schema.fields[$0].type) }
                        guard let item = cells[0], let annotator = cells[1] else {
                            throw ValidationError("row \(triples.count + 1) has no item or no annotator (NULL); filter such rows out")
                        }
                        guard let value = cells[2] else { continue }  // a missing rating
                        triples.append((item, annotator, value))
                    }
                }
                let report = try AgreementReport(Ratings(triples), weights: weights)
                if json { print(try JSONOutput.text(report)); return }
                func number(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "—" }
                print("\(report.ratings) ratings of \(report.items) items by \(report.annotators.count) annotators; values: \(report.values.prefix(12).joined(separator: ", "))")
                print("percent agreement   \(number(report.percentAgreement))")
                print("Fleiss' kappa       \(number(report.fleissKappa))")
                for level in Ratings.Level.allCases {
                    if let alpha = report.krippendorffAlpha[level.rawValue] { print("Krippendorff's alpha, \(level.rawValue): \(number(alpha))") }
                }
                if !report.cohenKappa.isEmpty {
                    print(formatTable(header: ["annotator", "annotator", "items", "Cohen's kappa"],
                                      rows: report.cohenKappa.map { [$0.a, $0.b, String($0.items), number($0.kappa)] }), terminator: "")
                }
            }
        }
    }
}
