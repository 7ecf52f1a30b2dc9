import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamLabels
import LoamQuery

struct Label: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Labels: schemas, annotations versioned with the rows, agreement between annotators, COCO/YOLO/JSONL/CSV files.",
        discussion: """
            A dataset's labels are the dataset <name>__labels (one row per annotation, row_id = the labelled row's _rowid),
            so they branch, merge, diff and time-travel with the rows, and SQL joins them:
              SELECT r.text, l.value FROM reviews r JOIN reviews__labels l ON l.row_id = r._rowid WHERE l.schema = 'sentiment'
            """,
        subcommands: [SchemaCommand.self, Add.self, List.self, Import.self, Export.self, Agreement.self, TaskCommand.self])

    struct Agreement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Agreement between annotators: percent agreement, Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha.",
            discussion: """
                The query's first three columns are the item, the annotator and the value (NULL values are missing ratings), e.g.
                  loam label agreement "SELECT review_id, annotator, label FROM votes"
                Krippendorff's alpha is given at the nominal level, and at the ordinal, interval and ratio levels when every value is a number.
                """)
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "A query whose first three columns are item, annotator and value (or give --dataset and --schema).") var query: String?
        @Option(name: .shortAndLong, help: "The labelled dataset (with --schema: the agreement of its stored labels).") var dataset: String?
        @Option(help: "The label schema.") var schema: String?
        @Option(help: "The ref to read (default HEAD).") var ref = "HEAD"
        @Option(help: "Weights for Cohen's kappa: none, linear or quadratic.") var weights = "none"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                guard let weights = Ratings.Weights(rawValue: weights) else { throw ValidationError("--weights takes none, linear or quadratic") }
                if let dataset {
                    guard let schema else { throw ValidationError("--dataset needs --schema: the label schema whose agreement to compute") }
                    let agreement = try await Labeler(repository: try repository.open()).agreement(schema, of: dataset, at: ref, weights: weights)
                    if json { print(try JSONOutput.text(agreement)); return }
                    if let report = agreement.ratings { printReport(report) }
                    if let overlap = agreement.overlap { printOverlap(overlap) }
                    return
                }
                guard let query else { throw ValidationError("give a query, or --dataset and --schema") }
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
                printReport(report)
            }
        }

        func printReport(_ report: AgreementReport) {
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

        func printOverlap(_ o: OverlapAgreement) {
            func number(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "—" }
            print("\(o.comparisons) comparisons over \(o.items) items (parts matched at IoU ≥ \(o.threshold))")
            print("agreement (F1)      \(number(o.agreement))")
            if o.meanIoU != nil { print("mean IoU, matched   \(number(o.meanIoU))") }
            print(formatTable(header: ["class", "agreement"], rows: o.perClass.keys.sorted().map { [$0, number(o.perClass[$0]!)] }), terminator: "")
            print(formatTable(header: ["annotator", "agreement"], rows: o.perAnnotator.keys.sorted().map { [$0, number(o.perAnnotator[$0]!)] }), terminator: "")
        }
    }
}
