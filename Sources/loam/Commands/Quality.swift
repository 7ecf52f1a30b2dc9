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

struct Dedupe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Near-duplicate rows of a text column (MinHash + LSH) or a vector column (--cosine, random hyperplanes): clusters; --apply keeps one row per cluster as one commit.",
        discussion: """
            For text, similarity is the Jaccard similarity of the texts' shingle sets — character 5-grams of the
            lowercased text, or words (--words) —, estimated from 128 MinHash permutations. For a vector column
            (a fixed-size list of floats), it is the cosine similarity, exact for every pair LSH proposes.
              loam dedupe reviews --near text --threshold 0.8
              loam dedupe reviews --near text --words --apply
              loam dedupe images --near emb --cosine 0.95
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "The text or vector column.") var near: String
    @Option(help: "Least Jaccard similarity of a pair of texts (0…1).") var threshold = 0.8
    @Option(help: "Least cosine similarity of a pair of vectors (0…1), for a vector column.") var cosine: Double?
    @Flag(help: "Shingle by words, not character 5-grams.") var words = false
    @Option(help: "Shingle size (characters, or words with --words).") var size: Int?
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Flag(help: "Delete all but the first row of each cluster, as one commit on the current branch.") var apply = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let finder = NearDuplicates(repository: try repository.open())
            let report = try await finder.clusters(dataset, column: near, at: ref,
                                                   options: .init(threshold: threshold, shingles: words ? .words : .characters, size: size, cosine: cosine))
            let commit = apply ? try await finder.dropDuplicates(report) : nil
            if json { print(try JSONOutput.text(report)); return }
            print("\(report.rows) rows, \(report.clusters.count) clusters of near-duplicates (\(report.measure) ≥ \(report.threshold)), "
                  + "\(report.duplicates) rows beyond the first of each (\(report.bands) bands of \(report.rowsPerBand))")
            for cluster in report.clusters.prefix(20) { print("  _rowid " + cluster.prefix(12).map(String.init).joined(separator: ", ") + (cluster.count > 12 ? ", …" : "")) }
            if report.clusters.count > 20 { print("  … \(report.clusters.count - 20) more (--json lists them all)") }
            if let commit { print("dropped \(report.duplicates) rows (commit \(commit.short))") }
        }
    }
}

struct Leakage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rows of a test set whose text equals or nearly equals a row of a training set (MinHash + LSH).",
        discussion: "  loam leakage --train train --test test --column text --threshold 0.8")
    @OptionGroup var repository: RepositoryOptions
    @Option(help: "The training dataset.") var train: String
    @Option(help: "The test dataset.") var test: String
    @Option(help: "The text column both hold.") var column: String
    @Option(help: "Least Jaccard similarity of a pair (0…1).") var threshold = 0.8
    @Flag(help: "Shingle by words, not character 5-grams.") var words = false
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let report = try await NearDuplicates(repository: try repository.open())
                .leakage(train: train, test: test, column: column, at: ref, options: .init(threshold: threshold, shingles: words ? .words : .characters))
            if json { print(try JSONOutput.text(report)); return }
            print("\(report.leakedTestRows) rows of \(test) match \(train): \(report.exact) exact and \(report.near) near pairs")
            for pair in report.pairs.prefix(20) {
                print("  \(test) _rowid \(pair.test) ~ \(train) _rowid \(pair.train)  \(pair.exact ? "exact" : String(format: "%.2f", pair.similarity))")
            }
        }
    }
}

struct LabelIssuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label-issues",
        abstract: "Rows whose label is likely wrong, from a model's predicted probabilities (confident learning, as cleanlab).",
        discussion: """
            --label: an integer column of classes 0…k−1; --probabilities: a fixed-size list of k floats per row
            (out-of-sample predictions). Ranked by the probability the model gave the row's label, least first.
              loam label-issues reviews --label label --probabilities probs --top 20
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "The label column.") var label: String
    @Option(help: "The predicted-probabilities column.") var probabilities: String
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Option(help: "Print at most this many (JSON lists all).") var top = 20
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let report = try await LabelIssues(repository: try repository.open()).find(dataset, label: label, probabilities: probabilities, at: ref)
            if json { print(try JSONOutput.text(report)); return }
            print("\(report.issues.count) of \(report.rows) rows are likely mislabelled (class thresholds "
                  + report.thresholds.map { String(format: "%.3f", $0) }.joined(separator: ", ") + ")")
            for issue in report.issues.prefix(top) {
                print("  _rowid \(issue.rowID): labelled \(issue.label), likely \(issue.likely) (p(label) = \(String(format: "%.4f", issue.selfConfidence)))")
            }
        }
    }
}
