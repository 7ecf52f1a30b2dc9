import ArgumentParser
import Foundation
import Loam
import LoamQuery

extension CleaningOperation.Scaling: ExpressibleByArgument {}

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
    @Argument(help: "The operation.") var operation: Operation
    @Argument(help: "The column (and type for cast).") var operands: [String] = []
    @Option(help: "Comma-separated columns (dedupe, drop-nulls).") var columns: String?
    @Option(help: "Fill value.") var value: String?
    @Option(help: "Fill from a statistic of the column.") var with: FillStatistic?
    @Option(help: "How to scale.") var method = CleaningOperation.Scaling.zscore
    @Option(help: "Drop values more than K standard deviations from the mean.") var zscore: Double?
    @Option(help: "Drop values more than K interquartile ranges outside the quartiles.") var iqr: Double?

    enum Operation: String, CaseIterable, ExpressibleByArgument {
        case dedupe, dropNulls = "drop-nulls", fillNulls = "fill-nulls", normalize, trim, lowercase, cast, dropOutliers = "drop-outliers"
    }

    enum FillStatistic: String, CaseIterable, ExpressibleByArgument { case mean, median, mode }

    func run() async throws {
        try await reportingErrors {
            let list = columns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []
            func column() throws -> String {
                guard let first = operands.first else {
                    throw LoamError.invalidArgument("\(operation.rawValue) needs a column: loam clean \(dataset) \(operation.rawValue) COLUMN")
                }
                return first
            }
            let op: CleaningOperation
            switch operation {
            case .dedupe: op = .dropDuplicates(columns: list)
            case .dropNulls: op = .dropNulls(columns: list)
            case .fillNulls:
                guard value != nil || with != nil else { throw LoamError.invalidArgument("fill-nulls needs --value V or --with mean|median|mode") }
                let fill: CleaningOperation.Fill = value.map { .value($0) } ?? (with == .mean ? .mean : with == .median ? .median : .mode)
                op = .fillNulls(column: try column(), with: fill)
            case .normalize: op = .normalize(column: try column(), method)
            case .trim: op = .trim(column: try column())
            case .lowercase: op = .lowercase(column: try column())
            case .cast:
                guard operands.count == 2 else { throw LoamError.invalidArgument("use: loam clean \(dataset) cast COLUMN TYPE") }
                op = .cast(column: operands[0], to: try SchemaSpec.parseType(operands[1]))
            case .dropOutliers: op = .dropOutliers(column: try column(), iqr.map { .iqr($0) } ?? .zscore(zscore ?? 3))
            }
            let summary = try await repository.open().clean(dataset, op)
            print("\(summary.description): \(summary.rows) row\(summary.rows == 1 ? "" : "s")" + (summary.commit.map { " (commit \($0.short))" } ?? " (nothing committed)"))
        }
    }
}
