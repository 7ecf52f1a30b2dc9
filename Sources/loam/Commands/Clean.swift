import ArgumentParser
import Foundation
import Loam
import LoamQuery

struct Clean: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Clean a dataset, one commit per operation.",
        discussion: """
            loam clean DATASET dedupe [--columns a,b]           drop repeated rows (keeps the first)
            loam clean DATASET drop-nulls [--columns a,b]       drop rows with a null
            loam clean DATASET fill-nulls COL (--value V | --with mean|median|mode)
            loam clean DATASET normalize COL [--method minmax|zscore]
            loam clean DATASET trim COL | lowercase COL
            loam clean DATASET cast COL TYPE
            loam clean DATASET drop-outliers COL [--zscore K | --iqr K]
            """)

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Argument(help: "The operation.") var operation: String
    @Argument(help: "The column (and type for cast).") var operands: [String] = []
    @Option(help: "Comma-separated columns (dedupe, drop-nulls).") var columns: String?
    @Option(help: "Fill value.") var value: String?
    @Option(help: "Fill from mean, median or mode.") var with: String?
    @Option(help: "minmax or zscore.") var method = "zscore"
    @Option(help: "Drop values more than K standard deviations from the mean.") var zscore: Double?
    @Option(help: "Drop values more than K interquartile ranges outside the quartiles.") var iqr: Double?

    func run() async throws {
        try await reportingErrors {
            let list = columns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []
            func column() throws -> String {
                guard let first = operands.first else { throw LoamError.invalidArgument("\(operation) needs a column: loam clean \(dataset) \(operation) COLUMN") }
                return first
            }
            let op: CleaningOperation
            switch operation {
            case "dedupe": op = .dropDuplicates(columns: list)
            case "drop-nulls": op = .dropNulls(columns: list)
            case "fill-nulls":
                if let value { op = .fillNulls(column: try column(), with: .value(value)) }
                else {
                    switch with {
                    case "mean": op = .fillNulls(column: try column(), with: .mean)
                    case "median": op = .fillNulls(column: try column(), with: .median)
                    case "mode": op = .fillNulls(column: try column(), with: .mode)
                    default: throw LoamError.invalidArgument("fill-nulls needs --value V or --with mean|median|mode")
                    }
                }
            case "normalize":
                guard let scaling = CleaningOperation.Scaling(rawValue: method) else { throw LoamError.invalidArgument("--method must be minmax or zscore") }
                op = .normalize(column: try column(), scaling)
            case "trim": op = .trim(column: try column())
            case "lowercase": op = .lowercase(column: try column())
            case "cast":
                guard operands.count == 2 else { throw LoamError.invalidArgument("use: loam clean \(dataset) cast COLUMN TYPE") }
                op = .cast(column: operands[0], to: try SchemaSpec.parseType(operands[1]))
            case "drop-outliers": op = .dropOutliers(column: try column(), iqr.map { .iqr($0) } ?? .zscore(zscore ?? 3))
            default:
                throw LoamError.invalidArgument("unknown operation '\(operation)' (dedupe, drop-nulls, fill-nulls, normalize, trim, lowercase, cast, drop-outliers)")
            }
            let summary = try await repository.open().clean(dataset, op)
            print("\(summary.description): \(summary.rows) row\(summary.rows == 1 ? "" : "s")" + (summary.commit.map { " (commit \($0.short))" } ?? " (nothing committed)"))
        }
    }
}
