import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamTracking

struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Experiment runs logged through `loam serve` (the MLflow API or the Python client), with their data lineage.",
        subcommands: [List.self, Show.self, Compare.self, Reproduce.self])

    static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.6g", v) }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @OptionGroup var repository: RepositoryOptions
        @Option(help: "Only this experiment (by name).") var experiment: String?
        @Option(help: "MLflow's filter grammar, e.g. \"metrics.loss < 0.5 and params.lr = '0.1'\".") var filter: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let tracker = try Tracker(repository: try repository.open())
                let experiments = try await tracker.searchExperiments(ExperimentSearch(view: .all)).items
                var chosen = experiments.filter { $0.lifecycleStage == .active }
                if let experiment { chosen = [try await tracker.experiment(named: experiment)] }
                let names = Dictionary(uniqueKeysWithValues: experiments.map { ($0.id, $0.name) })
                let runs = try await tracker.searchRuns(RunSearch(experimentIDs: chosen.map(\.id), filter: filter ?? "", maxResults: tracker.limits.runsPerPage)).items
                if json { print(try JSONOutput.text(runs.map { RunView($0, experiment: names[$0.info.experimentID]) })); return }
                let rows = runs.map { r in
                    [String(r.info.id.prefix(12)), r.info.name, names[r.info.experimentID] ?? r.info.experimentID, r.info.status.rawValue,
                     ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(r.info.startTime) / 1000)),
                     r.metrics.map { "\($0.key)=\(Runs.number($0.value))" }.joined(separator: " ")]
                }
                print(formatTable(header: ["run", "name", "experiment", "status", "started", "metrics"], rows: rows), terminator: "")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run: status, params, final metrics, tags, and exactly which data trained it.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The run id (or a unique prefix).") var run: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let tracker = try Tracker(repository: try repository.open())
                let r = try await tracker.findRun(run)
                let experiment = try await tracker.experiment(id: r.info.experimentID).name
                if json { print(try JSONOutput.text(RunView(r, experiment: experiment))); return }
                print("run \(r.info.id)  \(r.info.name)  (\(experiment))")
                print("status \(r.info.status.rawValue)" + (r.info.endTime.map { ", \(Double($0 - r.info.startTime) / 1000) s" } ?? ""))
                if !r.params.isEmpty { print("params  " + r.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
                if !r.metrics.isEmpty { print("metrics " + r.metrics.map { "\($0.key)=\(Runs.number($0.value)) (step \($0.step))" }.joined(separator: "  ")) }
                let tags = r.tags.filter { !$0.key.hasPrefix("mlflow.") }.sorted { $0.key < $1.key }
                if !tags.isEmpty { print("tags    " + tags.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
                let reads = r.reads
                print(reads.isEmpty ? "data    (no Loam dataset read recorded)" : "data")
                for (i, read) in reads.enumerated() { print("  [\(i)] \(read)") }
                let outputs = try await tracker.outputs(runID: r.info.id)
                if !outputs.isEmpty { print("models") }
                for output in outputs {
                    let model = try await tracker.loggedModel(id: output.modelID, allowDeleted: true)
                    let registered = try await tracker.registrations(modelID: model.id).map { "\($0.name) v\($0.version)" }
                    print("  \(model.id)  \(model.name)  \(model.status.rawValue)" + (registered.isEmpty ? "" : "  registered as " + registered.joined(separator: ", ")))
                }
            }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Runs side by side: params, final metrics, and the data each one read.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "Two or more run ids (or unique prefixes).") var runs: [String]
        @Flag(help: "Print JSON: the runs, in the order given.") var json = false

        func validate() throws { guard runs.count >= 2 else { throw ValidationError("compare needs two runs or more") } }

        func run() async throws {
            try await reportingErrors {
                let tracker = try Tracker(repository: try repository.open())
                var found: [TrackedRun] = []
                for id in runs { found.append(try await tracker.findRun(id)) }
                if json { print(try JSONOutput.text(found.map { RunView($0) })); return }
                var rows: [[String]] = []
                func row(_ label: String, _ values: [String]) { rows.append([label] + values + [Set(values).count > 1 ? "≠" : ""]) }
                row("name", found.map(\.info.name))
                row("status", found.map(\.info.status.rawValue))
                for key in Set(found.flatMap(\.params.keys)).sorted() { row("params.\(key)", found.map { $0.params[key] ?? "—" }) }
                for key in Set(found.flatMap { $0.metrics.map(\.key) }).sorted() {
                    row("metrics.\(key)", found.map { r in r.metrics.first { $0.key == key }.map { Runs.number($0.value) } ?? "—" })
                }
                print(formatTable(header: [""] + found.map { String($0.info.id.prefix(12)) } + ["diff"], rows: rows), terminator: "")
                // Lineage in full (too wide for table cells): each read of each run, marked where the runs differ.
                let reads = found.map(\.reads)
                for i in 0..<(reads.map(\.count).max() ?? 0) {
                    let described = reads.map { i < $0.count ? $0[i].description : "(none)" }
                    print("data[\(i)]" + (Set(described).count > 1 ? "  ≠" : ""))
                    for (run, text) in zip(found, described) { print("  \(run.info.id.prefix(12))  \(text)") }
                }
            }
        }
    }

    struct Reproduce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give back the batches a run trained on, in order: the recorded dataset, commit, columns, seed, epoch and shard.",
            discussion: "Writes an Arrow file with the columns batch and _rowid, then the recorded columns; without -o, prints a summary.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The run id (or a unique prefix).") var run: String
        @Option(help: "Which recorded read, when the run read several (see `loam runs show`).") var input = 0
        @Option(name: .short, help: "Write the batches to this Arrow file.") var output: String?

        func run() async throws {
            try await reportingErrors {
                let tracker = try Tracker(repository: try repository.open())
                let writer = try output.map { try BatchWriter(format: .arrow, path: $0) }
                var batches = 0, first: [UInt64] = []
                let (read, schema) = try await tracker.reproduce(try await tracker.findRun(run), input: input) { index, rows in
                    batches += 1
                    if first.isEmpty { first = (0..<min(rows.length, 8)).compactMap { if case .uint(let v) = rows.columns[0].value(at: $0) { v } else { nil } } }
                    guard let writer else { return }
                    let number = try ArrowArray.fromValues(Array(repeating: .int(Int64(index)), count: rows.length), type: .int64)
                    try writer.write(RecordBatch(schema: LoamFormat.Schema(fields: [Self.batchField] + rows.schema.fields), columns: [number] + rows.columns, length: rows.length))
                }
                if let writer, let output {
                    let rows = try writer.finish(schema: LoamFormat.Schema(fields: [Self.batchField, Field(name: "_rowid", type: .uint64, nullable: false)] + schema.fields))
                    print("Wrote \(batches) batches (\(rows) rows) of \(read) to \(output)")
                } else {
                    print("\(batches) batches of \(read); the first starts with _rowid \(first.map(String.init).joined(separator: ", "))")
                }
            }
        }

        static let batchField = Field(name: "batch", type: .int64, nullable: false)
    }
}
