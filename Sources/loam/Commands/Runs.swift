import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamServer
import LoamStorage

struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Experiment runs logged through `loam serve` (the MLflow API or the Python client), with their data lineage.",
        subcommands: [List.self, Show.self, Compare.self, Reproduce.self])

    /// A run by id or unique id prefix.
    static func find(_ id: String, in repo: Repository) async throws -> TrackedRun {
        if let run = try await repo.meta.run(id: id) { return run }
        let experiments = try await repo.meta.experiments().map(\.id)
        let matches = try await repo.meta.runs(experimentIDs: experiments).filter { $0.info.id.hasPrefix(id.lowercased()) }
        guard matches.count == 1 else {
            throw LoamError.invalidArgument(matches.isEmpty ? "no run '\(id)' (see `loam runs list`)" : "'\(id)' matches \(matches.count) runs; give more digits")
        }
        return matches[0]
    }

    /// The dataset reads a run recorded (the Python client's lineage), as JSON objects.
    static func reads(_ run: TrackedRun) -> [[String: Any]] {
        run.inputs.compactMap { input in
            guard let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any],
                  let dataset = object["dataset"] as? [String: Any], dataset["source_type"] as? String == "loam",
                  let source = dataset["source"] as? String else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(source.utf8)) as? [String: Any]
        }
    }

    static func describe(_ read: [String: Any]) -> String {
        let commit = (read["commit"] as? String).map { String($0.prefix(12)) } ?? "?"
        var parts = ["\(read["dataset"] ?? "?") @ \(commit)"]
        if let columns = read["columns"] as? [String] { parts.append("columns \(columns.joined(separator: ","))") }
        let shuffled = (read["shuffle"] as? Bool) ?? true
        parts.append(shuffled ? "shuffle seed \(read["seed"] ?? 0) epoch \(read["epoch"] ?? 0)" : "in order")
        parts.append("batch \(read["batch_size"] ?? "?")")
        if let world = read["world_size"] as? Int, world > 1 { parts.append("rank \(read["rank"] ?? 0) of \(world)") }
        if let start = read["start_batch"] as? Int, start > 0 { parts.append("from batch \(start)") }
        return parts.joined(separator: ", ")
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @OptionGroup var repository: RepositoryOptions
        @Option(help: "Only this experiment (by name).") var experiment: String?
        @Option(help: "MLflow's filter grammar, e.g. \"metrics.loss < 0.5 and params.lr = '0.1'\".") var filter: String?

        func run() async throws {
            try await reportingErrors {
                let repo = try repository.open()
                let experiments = try await repo.meta.experiments()
                var chosen = experiments.filter { $0.lifecycleStage == "active" }
                if let experiment {
                    chosen = experiments.filter { $0.name == experiment }
                    guard !chosen.isEmpty else { throw LoamError.invalidArgument("no experiment '\(experiment)' (experiments: \(experiments.map(\.name).joined(separator: ", ")))") }
                }
                let names = Dictionary(uniqueKeysWithValues: experiments.map { ($0.id, $0.name) })
                var runs = try await repo.meta.runs(experimentIDs: chosen.map(\.id)).filter { $0.info.lifecycleStage == "active" }
                if let filter { runs = try RunSearch.filter(runs, filter) }
                runs.sort { $0.info.startTime > $1.info.startTime }
                let rows = runs.map { r in
                    [String(r.info.id.prefix(12)), r.info.name, names[r.info.experimentID] ?? r.info.experimentID, r.info.status,
                     ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(r.info.startTime) / 1000)),
                     r.metrics.map { "\($0.key)=\(Self.number($0.value))" }.joined(separator: " ")]
                }
                print(formatTable(header: ["run", "name", "experiment", "status", "started", "metrics"], rows: rows), terminator: "")
            }
        }

        static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.6g", v) }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run: status, params, final metrics, tags, and exactly which data trained it.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The run id (or a unique prefix).") var run: String

        func run() async throws {
            try await reportingErrors {
                let repo = try repository.open()
                let r = try await Runs.find(run, in: repo)
                let experiment = try await repo.meta.experiment(id: r.info.experimentID)?.name ?? r.info.experimentID
                print("run \(r.info.id)  \(r.info.name)  (\(experiment))")
                print("status \(r.info.status)" + (r.info.endTime.map { ", \(Double($0 - r.info.startTime) / 1000) s" } ?? ""))
                if !r.params.isEmpty { print("params  " + r.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
                if !r.metrics.isEmpty { print("metrics " + r.metrics.map { "\($0.key)=\(List.number($0.value)) (step \($0.step))" }.joined(separator: "  ")) }
                let tags = r.tags.filter { !$0.key.hasPrefix("mlflow.") }.sorted { $0.key < $1.key }
                if !tags.isEmpty { print("tags    " + tags.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
                let reads = Runs.reads(r)
                print(reads.isEmpty ? "data    (no Loam dataset read recorded)" : "data")
                for (i, read) in reads.enumerated() { print("  [\(i)] " + Runs.describe(read)) }
            }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Runs side by side: params, final metrics, and the data each one read.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "Two or more run ids (or unique prefixes).") var runs: [String]

        func validate() throws { guard runs.count >= 2 else { throw ValidationError("compare needs two runs or more") } }

        func run() async throws {
            try await reportingErrors {
                let repo = try repository.open()
                var found: [TrackedRun] = []
                for id in runs { found.append(try await Runs.find(id, in: repo)) }
                var rows: [[String]] = []
                func row(_ label: String, _ values: [String]) { rows.append([label] + values + [Set(values).count > 1 ? "≠" : ""]) }
                row("name", found.map(\.info.name))
                row("status", found.map(\.info.status))
                for key in Set(found.flatMap(\.params.keys)).sorted() { row("params.\(key)", found.map { $0.params[key] ?? "—" }) }
                for key in Set(found.flatMap { $0.metrics.map(\.key) }).sorted() {
                    row("metrics.\(key)", found.map { r in r.metrics.first { $0.key == key }.map { List.number($0.value) } ?? "—" })
                }
                print(formatTable(header: [""] + found.map { String($0.info.id.prefix(12)) } + ["diff"], rows: rows), terminator: "")
                // Lineage in full (too wide for table cells): each read of each run, marked where the runs differ.
                let reads = found.map(Runs.reads)
                for i in 0..<(reads.map(\.count).max() ?? 0) {
                    let described = reads.map { i < $0.count ? Runs.describe($0[i]) : "(none)" }
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
                let repo = try repository.open()
                let r = try await Runs.find(run, in: repo)
                let reads = Runs.reads(r)
                guard input >= 0 && input < reads.count else {
                    throw LoamError.invalidArgument(reads.isEmpty ? "run \(r.info.id.prefix(12)) recorded no Loam dataset read" : "--input must be 0…\(reads.count - 1)")
                }
                let read = reads[input]
                guard let name = read["dataset"] as? String, let commit = read["commit"] as? String else { throw LoamError.invalidArgument("the recorded read names no dataset and commit") }
                let ds = try await repo.dataset(name, at: commit)
                let columns = (read["columns"] as? [String]) ?? ds.schema.fields.map(\.name)
                func int(_ key: String, _ value: Int) -> Int { (read[key] as? Int) ?? value }
                let plan = ShufflePlan(rows: ds.rowCount, seed: UInt64(int("seed", 0)), epoch: UInt64(int("epoch", 0)), shuffle: (read["shuffle"] as? Bool) ?? true,
                                       blockRows: int("block_rows", 1024), windowBlocks: int("window_blocks", 64))
                let batches = ShufflePlan.shardBatches(rows: ds.rowCount, batchSize: int("batch_size", 256), rank: int("rank", 0), worldSize: int("world_size", 1),
                                                       dropLast: (read["drop_last"] as? Bool) ?? false).filter { $0.index >= int("start_batch", 0) && !$0.places.isEmpty }
                var window: (window: Int, rows: [Int])?
                let writer = try output.map { try BatchWriter(format: .arrow, path: $0) }
                var first: [UInt64] = []
                for batch in batches {
                    let rows = try await ds.take(plan.positions(batch.places, cache: &window), columns: columns, includeRowID: true)
                    if first.isEmpty { first = (0..<min(rows.length, 8)).compactMap { if case .uint(let v) = rows.columns[0].value(at: $0) { return v } else { return nil } } }
                    guard let writer else { continue }
                    let index = try ArrowArray.fromValues(Array(repeating: .int(Int64(batch.index)), count: rows.length), type: .int64)
                    var fields = rows.schema.fields
                    fields.insert(Field(name: "batch", type: .int64, nullable: false), at: 0)
                    try writer.write(RecordBatch(schema: LoamFormat.Schema(fields: fields), columns: [index] + rows.columns, length: rows.length))
                }
                if let writer, let output {
                    let schemaFields = [Field(name: "batch", type: .int64, nullable: false), Field(name: "_rowid", type: .uint64, nullable: false)]
                        + (try columns.map { c in ds.schema.fields[try ds.schema.index(of: c).orThrow("no column \(c)")] })
                    let rows = try writer.finish(schema: LoamFormat.Schema(fields: schemaFields))
                    print("Wrote \(batches.count) batches (\(rows) rows) of \(Runs.describe(read)) to \(output)")
                } else {
                    print("\(batches.count) batches of \(Runs.describe(read)); the first starts with _rowid \(first.map(String.init).joined(separator: ", "))")
                }
            }
        }
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw LoamError.invalidArgument(message) }
        return self
    }
}
