import ArgumentParser
import Foundation
import LoamTracking

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The model registry (as MLflow clients fill it through `loam serve`), with each version's lineage.",
        subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Registered models: versions, aliases and latest version.")
        @OptionGroup var repository: RepositoryOptions

        func run() async throws {
            try await reportingErrors {
                let tracker = try Tracker(repository: try repository.open())
                let models = try await tracker.searchRegisteredModels(ModelSearch(maxResults: 1000)).items
                var rows: [[String]] = []
                for model in models {
                    let versions = try await tracker.searchModelVersions(ModelSearch(filter: "name = '\(model.name.replacingOccurrences(of: "'", with: "\\'"))'")).items
                    rows.append([model.name, String(versions.count), versions.map(\.version).max().map { "v\($0)" } ?? "—",
                                 model.aliases.sorted { $0.key < $1.key }.map { "\($0.key)→v\($0.value)" }.joined(separator: " ")])
                }
                print(formatTable(header: ["model", "versions", "latest", "aliases"], rows: rows), terminator: "")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A model version and its lineage: the run that logged it and exactly which data that run read.",
            discussion: "NAME@ALIAS, NAME/VERSION, or NAME (its latest version).")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "NAME@ALIAS, NAME/VERSION or NAME.") var model: String

        func run() async throws {
            try await reportingErrors {
                let tracker = try Tracker(repository: try repository.open())
                let version: ModelVersion
                if let at = model.lastIndex(of: "@") {
                    version = try await tracker.modelVersion(name: String(model[..<at]), alias: String(model[model.index(after: at)...]))
                } else if let slash = model.lastIndex(of: "/"), let number = Int64(model[model.index(after: slash)...]) {
                    version = try await tracker.modelVersion(name: String(model[..<slash]), version: number)
                } else {
                    guard let latest = try await tracker.latestVersions(name: model).max(by: { $0.version < $1.version }) else {
                        throw TrackingError.notFound("registered model '\(model)' has no versions")
                    }
                    version = latest
                }
                let aliases = try await tracker.registeredModel(name: version.name).aliases.filter { $0.value == version.version }.keys.sorted()
                print("\(version.name) v\(version.version)" + (aliases.isEmpty ? "" : "  @" + aliases.joined(separator: " @")) + "  stage \(version.stage)")
                print("source  \(version.source)" + (version.source == version.storageLocation ? "" : "  (\(version.storageLocation))"))
                if let id = version.modelID {
                    let logged = try await tracker.loggedModel(id: id, allowDeleted: true)
                    print("model   \(logged.id)  \(logged.name)  \(logged.status.rawValue)")
                    let metrics = logged.metrics.map { "\($0.point.key)=\(Runs.number($0.point.value))" }
                    if !metrics.isEmpty { print("metrics " + metrics.joined(separator: "  ")) }
                }
                guard let runID = version.runID else { print("run     (none recorded)"); return }
                let run = try await tracker.run(id: runID)
                print("run     \(run.info.id)  \(run.info.name)  \(run.info.status.rawValue)")
                let reads = run.reads
                print(reads.isEmpty ? "data    (the run recorded no Loam dataset read)" : "data")
                for (i, read) in reads.enumerated() { print("  [\(i)] \(read)") }
            }
        }
    }
}
