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

struct Expect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sets, shows or removes a dataset's expectations (a versioned file: each change is a commit).",
        discussion: """
            The file holds [[expect]] tables (TOML). Kinds and their keys:
              not_null column · unique column or columns = [...] · range column min/max · in column values = [...]
              regex column pattern · length column min/max · rows min/max · foreign_key column references = "ds.col"
              sql where = "condition every row meets" · no_rows query = "SELECT … that must return nothing"
              mean column min/max · quantile column q min/max · share column value min/max
              drift column against = "REF" metric = ks|ks_p|psi|chi_square|chi_square_p|cosine|mmd min/max
            Each may have name = "…" and gate = true (a write that breaks it fails and changes nothing).
              loam expect reviews --file reviews.expect.toml
              loam expect reviews            # prints the file
              loam expect reviews --clear
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "The expectations file to set.") var file: String?
    @Flag(help: "Remove the dataset's expectations.") var clear = false

    func run() async throws {
        try await reportingErrors {
            let checker = Checker(repository: try repository.open())
            if clear {
                let commit = try await checker.setExpectations(nil, of: dataset)
                print("removed the expectations of \(dataset) (commit \(commit.short))")
            } else if let file {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                let commit = try await checker.setExpectations(text, of: dataset)
                print("\(try Expectation.parse(text).count) expectations set on \(dataset) (commit \(commit.short))")
            } else {
                guard let text = try await checker.expectationsText(of: dataset) else { throw QualityError.notFound("'\(dataset)' has no expectations: set them with `loam expect \(dataset) --file FILE`") }
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks a dataset's expectations at a ref: each with the rows that break it; exits 1 when any fails.",
        discussion: """
              loam check reviews
              loam check reviews --ref v1 --json --samples 50
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Option(help: "At most this many breaking _rowids per expectation.") var samples = 10
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var passed = true
        try await reportingErrors {
            let report = try await Checker(repository: try repository.open()).check(dataset, at: ref, samples: samples)
            passed = report.passed
            print(json ? try JSONOutput.text(report) : report.text, terminator: json ? "\n" : "")
        }
        if !passed { throw ExitCode(1) }
    }
}

struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "How a dataset's columns moved between two refs (or against another dataset): KS and PSI, χ², mean cosine shift and MMD.",
        discussion: """
            Numbers: the two-sample Kolmogorov–Smirnov statistic (asymptotic p-value) and the population stability index
            over the first side's deciles (0.1: moderate, 0.25: large). Strings, booleans and integers with at most 50
            values: the χ² test of homogeneity. Float vectors: 1 − cosine of the mean vectors, and MMD² with a Gaussian
            kernel on up to 500 rows per side.
              loam drift reviews --from v1
              loam drift train --from HEAD --against test --columns score,emb --json
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "The ref to compare from.") var from: String
    @Option(help: "The ref to compare to (default: HEAD).") var to = "HEAD"
    @Option(help: "Compare with this dataset (at --to) instead of the same one.") var against: String?
    @Option(help: "Only these columns (comma-separated).") var columns: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let wanted = columns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let report = try await Drift(repository: try repository.open()).compare(dataset, from: from, to: to, against: against, columns: wanted)
            print(json ? try JSONOutput.text(report) : report.text, terminator: json ? "\n" : "")
        }
    }
}
