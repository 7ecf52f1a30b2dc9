import ArgumentParser
import Foundation
import Loam
import LoamQuality

struct Profile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per column: counts, nulls, distinct values, min/max/mean/std, quantiles, a histogram or the top values, lengths, vector norms.",
        discussion: """
            Each fragment is sketched once (mergeable sketches, kept in the repository), so profiling after an append
            reads only the new fragments. Distinct counts are exact up to 4,096 values, then HyperLogLog (±1.6%);
            quantiles come from a KLL sketch (rank error about 1%).
              loam profile reviews
              loam profile reviews --ref v1 --json
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let report = try await Profiler(repository: try repository.open()).profile(dataset, at: ref).report
            if json { print(try JSONOutput.text(report)); return }
            print(report.text, terminator: "")
        }
    }
}
